/**
 * Request/response latency of the encrypted transport against raw
 * WebSockets, measured in interleaved blocks so that all three see the same
 * machine state (the wake-up cost of an idle VM drifts by minutes).
 *
 * Each round runs, back to back: encrypted req/resp (our transport, 1 in
 * flight), raw req/resp with our no-delay client, raw req/resp with Deno's
 * `WebSocket`. Per round it prints the p50 of each and the encrypted − raw
 * difference (our added cost per round trip); at the end the median of each
 * column over the rounds.
 *
 * Usage: `deno run -A bench/load/latency.ts [--rounds 5] [--count 2000]
 * [--size 1024] [--only enc|ours|deno] [--json]`
 *
 * The far end is `bench/load/peer.ts`; extra Deno flags for it (for example
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`) go in `LATENCY_PEER_FLAGS`.
 *
 * @module
 */

import { startHarness } from "./_harness.ts";
import { parseArgs } from "node:util";
import { type Message, newMessage } from "../../node/message.ts";
import { dialWebSocket } from "../../node/transport/_ws_client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    count: { type: "string", default: "2000" },
    size: { type: "string", default: "1024" },
    only: { type: "string" },
    json: { type: "boolean" },
  },
  strict: true,
});
const rounds = Number(flags.rounds);
const count = Number(flags.count);
const size = Number(flags.size);
const only = flags.only;

function p50(lat: number[]): number {
  lat.sort((a, b) => a - b);
  return lat[Math.floor(lat.length / 2)]! * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const peerFlags = (Deno.env.get("LATENCY_PEER_FLAGS") ?? "").split(" ")
  .filter((s) => s !== "");
const { peer, transport, myId, close } = await startHarness(peerFlags);
await transport.connect({
  address: peer.addr,
  id: peer.id,
  publicKey: peer.publicKey,
});

let b64 = "";
for (const b of crypto.getRandomValues(new Uint8Array(size))) {
  b64 += String.fromCharCode(b);
}
const data = btoa(b64).slice(0, size);

async function encBlock(n: number): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const msg: Message = newMessage("bench_echo", {
      from: myId,
      to: peer.id,
      payload: { data },
    });
    const t = performance.now();
    await transport.request(peer.id, msg, { timeout: 30_000 });
    lat.push(performance.now() - t);
  }
  return lat;
}

interface Raw {
  send(b: Uint8Array): void;
  next(): Promise<void>;
  close(): Promise<void>;
}

async function ourRaw(): Promise<Raw> {
  const ws = await dialWebSocket(new URL(`ws://${peer.rawAddr}/raw`), {
    maxMessageSize: 64 << 20,
  });
  let waiter: (() => void) | undefined;
  ws.setHandlers({
    onText: () => {},
    onBinary: () => {
      const w = waiter;
      waiter = undefined;
      w?.();
    },
    onClose: () => {},
  });
  return {
    send: (b) => ws.sendBinary(b),
    next: () => new Promise<void>((r) => (waiter = r)),
    close: async () => {
      ws.close();
      await ws.done;
    },
  };
}

async function denoRaw(): Promise<Raw> {
  const ws = new WebSocket(`ws://${peer.rawAddr}/raw`);
  ws.binaryType = "arraybuffer";
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  let waiter: (() => void) | undefined;
  ws.onmessage = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  const closed = new Promise((r) => (ws.onclose = r));
  return {
    send: (b) => ws.send(b as Uint8Array<ArrayBuffer>),
    next: () => new Promise<void>((r) => (waiter = r)),
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

async function rawBlock(s: Raw, n: number): Promise<number[]> {
  const frame = new Uint8Array(size).fill(0x62);
  frame[0] = 1;
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const got = s.next();
    s.send(frame.slice());
    await got;
    lat.push(performance.now() - t);
  }
  return lat;
}

const ours = await ourRaw();
const deno = await denoRaw();
const runEnc = only === undefined || only === "enc";
const runOurs = only === undefined || only === "ours";
const runDeno = only === undefined || only === "deno";

// Warm-up: JIT and WebAssembly tier-up on both ends.
if (runEnc) await encBlock(3000);
if (runOurs) await rawBlock(ours, 1000);
if (runDeno) await rawBlock(deno, 1000);

const cols = {
  enc: [] as number[],
  ours: [] as number[],
  deno: [] as number[],
};
const log = (s: string) => flags.json || console.error(s);
log(
  `latency, ${size} B req/resp, 1 in flight, ${count} per block — Deno ${Deno.version.deno}`,
);
log("round   encrypted   raw ours   raw Deno   enc−ours   enc−Deno  (p50 µs)");
for (let r = 0; r < rounds; r++) {
  const e = runEnc ? p50(await encBlock(count)) : NaN;
  const o = runOurs ? p50(await rawBlock(ours, count)) : NaN;
  const d = runDeno ? p50(await rawBlock(deno, count)) : NaN;
  cols.enc.push(e);
  cols.ours.push(o);
  cols.deno.push(d);
  const f = (x: number) => x.toFixed(0).padStart(9);
  log(
    `${String(r + 1).padStart(5)} ${f(e)}  ${f(o)}  ${f(d)}  ${f(e - o)}  ${
      f(e - d)
    }`,
  );
}
const diffs = cols.enc.map((e, i) => e - cols.ours[i]!);
const diffsD = cols.enc.map((e, i) => e - cols.deno[i]!);
const summary = {
  size,
  count,
  rounds,
  p50Encrypted: median(cols.enc),
  p50RawOurs: median(cols.ours),
  p50RawDeno: median(cols.deno),
  addedVsOurs: median(diffs),
  addedVsDeno: median(diffsD),
};
if (flags.json) console.log(JSON.stringify(summary));
else {
  const f = (x: number) => x.toFixed(0).padStart(9);
  log(
    `median${f(summary.p50Encrypted).slice(1)}  ${f(summary.p50RawOurs)}  ${
      f(summary.p50RawDeno)
    }  ${f(summary.addedVsOurs)}  ${f(summary.addedVsDeno)}`,
  );
}

await ours.close();
await deno.close();
await close();
