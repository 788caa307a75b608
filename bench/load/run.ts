/**
 * Two-process load benchmark of the encrypted transport, beside a raw,
 * unencrypted Deno WebSocket run on the same machine in the same command.
 *
 * The parent is the dialling node (our no-delay WebSocket client); the child
 * (`bench/load/peer.ts`) is the listening node (`Deno.serve`). Reported:
 * messages/s, MB/s, p50/p99 round-trip latency, peak RSS of both processes,
 * and the encrypted/raw ratio.
 *
 * Usage: `deno run -A bench/load/run.ts [--quick] [--json]`
 *
 * @module
 */

import { startHarness } from "./_harness.ts";
import { parseArgs } from "node:util";
import { type Message, newMessage } from "../../node/message.ts";
import type { PeerConnection } from "../../node/transport/mod.ts";
import {
  dialWebSocket,
  type WebSocketClient,
} from "../../node/transport/_ws_client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean" }, json: { type: "boolean" } },
  strict: true,
});
const scale = flags.quick ? 0.2 : 1;
const n = (x: number) => Math.max(100, Math.round(x * scale));

interface Row {
  name: string;
  messages: number;
  seconds: number;
  msgsPerSec: number;
  mbPerSec: number;
  p50us?: number;
  p99us?: number;
}
const rows: Row[] = [];
let parentRssPeak = 0;
const sampler = setInterval(() => {
  parentRssPeak = Math.max(parentRssPeak, Deno.memoryUsage().rss);
}, 20);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function row(
  name: string,
  messages: number,
  ms: number,
  bytesEach: number,
  lat?: number[],
): void {
  const r: Row = {
    name,
    messages,
    seconds: ms / 1000,
    msgsPerSec: messages / (ms / 1000),
    mbPerSec: (messages * bytesEach) / (ms / 1000) / 1e6,
  };
  if (lat) {
    lat.sort((a, b) => a - b);
    r.p50us = pct(lat, 0.5) * 1000;
    r.p99us = pct(lat, 0.99) * 1000;
  }
  rows.push(r);
  if (!flags.json) {
    console.error(
      `${name.padEnd(52)} ${r.msgsPerSec.toFixed(0).padStart(8)} msg/s ${
        r.mbPerSec.toFixed(1).padStart(7)
      } MB/s` + (lat
        ? `  p50 ${r.p50us!.toFixed(0)} µs  p99 ${r.p99us!.toFixed(0)} µs`
        : ""),
    );
  }
}

function blob(size: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(size * 3 / 4)));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).slice(0, size);
}

// ---------------------------------------------------------------- child

const { peer, transport, myId, close } = await startHarness();
const conn: PeerConnection = await transport.connect({
  address: peer.addr,
  id: peer.id,
  publicKey: peer.publicKey,
});

function msg(type: string, payload: Message["payload"]): Message {
  return newMessage(type, { from: myId, to: peer.id, payload });
}

async function report(): Promise<
  { count: number; first: number; last: number; rssPeak: number }
> {
  const r = await transport.request(peer.id, msg("bench_report", null), {
    timeout: 60_000,
  });
  return r.payload as {
    count: number;
    first: number;
    last: number;
    rssPeak: number;
  };
}

async function encReqResp(
  size: number,
  count: number,
  inFlight: number,
): Promise<void> {
  const data = blob(size);
  const lat: number[] = [];
  const one = async () => {
    // The clock covers request() to reply, as latency.ts measures it.
    const m = msg("bench_echo", { data });
    const t = performance.now();
    await transport.request(peer.id, m, { timeout: 30_000 });
    lat.push(performance.now() - t);
  };
  for (let i = 0; i < 3000; i++) await one(); // warm-up (JIT, tier-up)
  lat.length = 0;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < count) await one();
  }));
  const ms = performance.now() - t0;
  row(
    `encrypted request/response ${size / 1024} KB, ${inFlight} in flight`,
    count,
    ms,
    size,
    lat,
  );
}

async function encStream(size: number, count: number): Promise<void> {
  const data = blob(size);
  // Warm up both ends (JIT, WebAssembly tier-up, socket buffers) first.
  const warm = size <= 4096 ? 3000 : 200;
  for (let i = 0; i < warm; i++) {
    await conn.send(msg("bench_stream", { n: i, data }));
  }
  await report();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    await conn.send(msg("bench_stream", { n: i, data }));
  }
  const r = await report();
  const sendMs = performance.now() - t0;
  if (r.count !== count) console.error(`  (delivered ${r.count} of ${count})`);
  row(
    `encrypted one-way ${size / 1024} KB (receiver clock)`,
    r.count,
    r.last - r.first,
    size,
  );
  void sendMs;
}

// ---------------------------------------------------------------- raw

interface RawSock {
  send(b: Uint8Array): void;
  buffered(): number;
  next(): Promise<Uint8Array>;
  close(): Promise<void>;
  drain(limit: number): Promise<void>;
}

async function ourRaw(): Promise<RawSock> {
  const ws: WebSocketClient = await dialWebSocket(
    new URL(`ws://${peer.rawAddr}/raw`),
    {
      maxMessageSize: 64 << 20,
    },
  );
  const q: Uint8Array[] = [];
  const waiters: ((b: Uint8Array) => void)[] = [];
  ws.setHandlers({
    onText: () => {},
    onBinary: (b) => {
      const c = b.slice();
      const w = waiters.shift();
      if (w) w(c);
      else q.push(c);
    },
    onClose: () => {},
  });
  return {
    send: (b) => ws.sendBinary(b),
    buffered: () => ws.bufferedAmount,
    next: () =>
      q.length
        ? Promise.resolve(q.shift()!)
        : new Promise((r) => waiters.push(r)),
    drain: (limit) => ws.waitForDrain(limit),
    close: async () => {
      ws.close();
      await ws.done;
    },
  };
}

async function denoRaw(): Promise<RawSock> {
  const ws = new WebSocket(`ws://${peer.rawAddr}/raw`);
  ws.binaryType = "arraybuffer";
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  const q: Uint8Array[] = [];
  const waiters: ((b: Uint8Array) => void)[] = [];
  ws.onmessage = (ev) => {
    const c = new Uint8Array(ev.data as ArrayBuffer);
    const w = waiters.shift();
    if (w) w(c);
    else q.push(c);
  };
  const closed = new Promise((r) => (ws.onclose = r));
  return {
    send: (b) => ws.send(b as Uint8Array<ArrayBuffer>),
    buffered: () => ws.bufferedAmount,
    next: () =>
      q.length
        ? Promise.resolve(q.shift()!)
        : new Promise((r) => waiters.push(r)),
    drain: async (limit) => {
      while (ws.bufferedAmount > limit) {
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

async function rawStream(
  label: string,
  s: RawSock,
  size: number,
  count: number,
): Promise<void> {
  const frame = new Uint8Array(size).fill(0x61);
  frame[0] = 2;
  const run = async (k: number) => {
    for (let i = 0; i < k; i++) {
      s.send(frame);
      if (s.buffered() > 4 << 20) await s.drain(2 << 20);
    }
    s.send(Uint8Array.of(3));
    return JSON.parse(new TextDecoder().decode(await s.next()));
  };
  await run(200);
  const r = await run(count);
  row(
    `raw WebSocket one-way ${size / 1024} KB, ${label}`,
    r.count,
    r.last - r.first,
    size,
  );
}

async function rawReqResp(
  label: string,
  s: RawSock,
  size: number,
  count: number,
): Promise<void> {
  const frame = new Uint8Array(size).fill(0x62);
  frame[0] = 1;
  const lat: number[] = [];
  for (let i = 0; i < 500; i++) {
    s.send(frame);
    await s.next();
  }
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    s.send(frame);
    await s.next();
    lat.push(performance.now() - t);
  }
  row(
    `raw WebSocket request/response ${size / 1024} KB, ${label}`,
    count,
    performance.now() - t0,
    size,
    lat,
  );
}

/**
 * A small notification and a small request written back to back; only the
 * request is answered. With Nagle's algorithm on, the request waits in the
 * sender's kernel until the notification is ACKed, and the receiver delays
 * that ACK because it has nothing to send (about 40 ms on Linux).
 */
async function backToBack(
  label: string,
  s: RawSock,
  rounds: number,
): Promise<void> {
  const note = new Uint8Array(64).fill(0x63);
  note[0] = 4;
  const req = new Uint8Array(64).fill(0x63);
  req[0] = 1;
  const lat: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    s.send(note);
    s.send(req);
    await s.next();
    lat.push(performance.now() - t);
  }
  row(
    `notification + request back to back, ${label}`,
    rounds,
    lat.reduce((a, b) => a + b, 0),
    64,
    lat,
  );
}

async function encBackToBack(rounds: number): Promise<void> {
  const lat: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await conn.send(msg("bench_stream", { i }));
    await transport.request(peer.id, msg("bench_echo", { i }));
    lat.push(performance.now() - t);
  }
  await report();
  row(
    `notification + request back to back, encrypted, our client`,
    rounds,
    lat.reduce((a, b) => a + b, 0),
    64,
    lat,
  );
}

// ---------------------------------------------------------------- run

try {
  const cpu = Deno.build.target;
  if (!flags.json) {
    console.error(
      `lthn-p2p transport load benchmark — Deno ${Deno.version.deno}, ${cpu}, ${navigator.hardwareConcurrency} CPUs`,
    );
  }
  await encReqResp(1024, n(10_000), 1);
  await encReqResp(1024, n(40_000), 32);
  await encStream(1024, n(150_000));
  await encStream(64 * 1024, n(4_000));
  await encBackToBack(n(300));

  const ours = await ourRaw();
  await rawReqResp("our client", ours, 1024, n(10_000));
  await rawStream("our client", ours, 1024, n(400_000));
  await rawStream("our client", ours, 64 * 1024, n(8_000));
  await backToBack("our client (TCP_NODELAY)", ours, n(300));
  await ours.close();

  const builtin = await denoRaw();
  await rawReqResp("Deno WebSocket", builtin, 1024, n(10_000));
  await rawStream("Deno WebSocket", builtin, 1024, n(400_000));
  await rawStream("Deno WebSocket", builtin, 64 * 1024, n(8_000));
  await backToBack("Deno WebSocket (Nagle on)", builtin, n(50));
  await builtin.close();

  const childRss = (await report()).rssPeak;
  const byName = (s: string) => rows.find((r) => r.name.startsWith(s))!;
  const ratio1 = byName("encrypted one-way 1 KB").msgsPerSec /
    byName("raw WebSocket one-way 1 KB, Deno WebSocket").msgsPerSec;
  const ratio64 = byName("encrypted one-way 64 KB").msgsPerSec /
    byName("raw WebSocket one-way 64 KB, Deno WebSocket").msgsPerSec;
  const summary = {
    deno: Deno.version.deno,
    target: cpu,
    cpus: navigator.hardwareConcurrency,
    rows,
    ratioEncryptedToRaw1k: ratio1,
    ratioEncryptedToRaw64k: ratio64,
    peakRssDialerMiB: parentRssPeak / 2 ** 20,
    peakRssListenerMiB: childRss / 2 ** 20,
  };
  if (flags.json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.error(
      `encrypted/raw (Deno WebSocket) one-way: 1 KB ${
        (ratio1 * 100).toFixed(1)
      } %, 64 KB ${(ratio64 * 100).toFixed(1)} %`,
    );
    console.error(
      `peak RSS: dialler ${summary.peakRssDialerMiB.toFixed(0)} MiB, listener ${
        summary.peakRssListenerMiB.toFixed(0)
      } MiB`,
    );
  }
} finally {
  clearInterval(sampler);
  await close();
}
