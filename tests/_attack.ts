/**
 * Attack clients and the harness around them, shared by the hostile-network
 * tests (`tests/hostile_*_test.ts`) and the hostile-load benchmark
 * (`bench/hostile/run.ts`):
 *
 * - {@linkcode Target}: the node under attack as a child process (optionally
 *   under a descriptor limit), sampled for stats, RSS and descriptors;
 * - {@linkcode LegitPeer}: a well-behaved peer that connects and pings;
 * - {@linkcode HalfSentUpgrades}: sockets that send part of an HTTP upgrade
 *   and stop;
 * - {@linkcode SilentHandshakes}: sockets that upgrade, send a valid
 *   handshake under a throwaway key, then never send or answer anything;
 * - {@linkcode OversizedFrames}: sockets that upgrade and stream one frame
 *   declared far above the pre-handshake limit;
 * - {@linkcode HandshakedPeer}: a peer that completes the handshake with
 *   its own key and then sends whatever frames the attack needs (compressed
 *   containers, garbage).
 *
 * Everything talks to the target over real loopback sockets.
 *
 * @module
 */

import { Logger, LogLevel } from "../logging/mod.ts";
import { generateKeyPair, secretToPassword } from "../node/identity.ts";
import { NodeManager } from "../node/identity_store.ts";
import { encodeMessage, type Message, newMessage } from "../node/message.ts";
import { PeerRegistry } from "../node/peer_registry.ts";
import { SmsgKey, smsgSealBody } from "../node/borg/smsg.ts";
import {
  createHandshake,
  verifyHandshakeAck,
} from "../node/transport/handshake.ts";
import type { TransportConfig } from "../node/transport/config.ts";
import type { TransportStats } from "../node/transport/stats.ts";
import { Transport } from "../node/transport/transport.ts";
import { maskInPlace } from "../node/transport/_ws_frames.ts";
import { RawClient } from "./transport_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const quiet = new Logger({ level: LogLevel.Error, sink: { write: () => {} } });

/** What the target prints when it is listening. */
export interface TargetInfo {
  addr: string;
  id: string;
  publicKey: string;
  pid: number;
  control: string;
  controlFile: string;
}

/** One sample of the target. */
export interface TargetSample {
  stats: TransportStats;
  connections: number;
  /** Resident set size in bytes. */
  rss: number;
  /** Open file descriptors. */
  fds: number;
  /** Worst event-loop lag since the previous sample, in ms. */
  lagMaxMs: number;
}

/** Options of {@linkcode Target.spawn}. */
export interface TargetOptions {
  /** Transport settings of the target. */
  config?: Partial<TransportConfig>;
  /** `ulimit -n` for the target process. */
  nofile?: number;
}

/** The node under attack, as a child process. */
export class Target {
  readonly info: TargetInfo;
  readonly #child: Deno.ChildProcess;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #queue: Promise<unknown> = Promise.resolve();
  #exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  /** Everything the target wrote to standard error. */
  stderr = "";
  readonly #stderrDone: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    lines: ReadableStreamDefaultReader<string>,
    info: TargetInfo,
    buffer: string,
    stderrDone: (t: Target) => Promise<void>,
  ) {
    this.#child = child;
    this.#lines = lines;
    this.info = info;
    this.#buffer = buffer;
    this.status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    this.#stderrDone = stderrDone(this);
  }

  /**
   * Starts `tests/_hostile_node.ts` (under `ulimit -n` when asked) and
   * waits until it listens.
   */
  static async spawn(options: TargetOptions = {}): Promise<Target> {
    const script = new URL("./_hostile_node.ts", import.meta.url).pathname;
    const config = JSON.stringify(options.config ?? {});
    const deno = Deno.execPath();
    const cmd = options.nofile !== undefined
      ? new Deno.Command("sh", {
        args: [
          "-c",
          `ulimit -n ${options.nofile} && exec "$0" run -A "$1" "$2"`,
          deno,
          script,
          config,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      })
      : new Deno.Command(deno, {
        args: ["run", "-A", script, config],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      });
    const child = cmd.spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) {
        const err = await new Response(child.stderr).text();
        throw new Error(`target exited before listening: ${err}`);
      }
      buf += value;
    }
    const nl = buf.indexOf("\n");
    const info = JSON.parse(buf.slice(0, nl)) as TargetInfo;
    return new Target(child, lines, info, buf.slice(nl + 1), async (t) => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        if (t.stderr.length < 1_000_000) t.stderr += chunk;
      }
    });
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return !this.#exited;
  }

  /** Stats, RSS and descriptors of the target, right now. */
  sample(): Promise<TargetSample> {
    const next = this.#queue.then(() => this.#sample());
    this.#queue = next.catch(() => {});
    return next;
  }

  async #sample(): Promise<TargetSample> {
    if (this.#exited) throw new Error("target exited: " + this.stderr);
    const w = this.#child.stdin.getWriter();
    try {
      await w.write(encoder.encode("stats\n"));
    } finally {
      w.releaseLock();
    }
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("target exited: " + this.stderr);
      this.#buffer += value;
    }
    const nl = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, nl);
    this.#buffer = this.#buffer.slice(nl + 1);
    return JSON.parse(line) as TargetSample;
  }

  /** Stops the target (closes its stdin) and waits for it. */
  async close(): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      await this.#child.stdin.close().catch(() => {});
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 15_000);
    const status = await this.status;
    clearTimeout(timer);
    await this.#lines.cancel().catch(() => {});
    await this.#stderrDone.catch(() => {});
    return status;
  }
}

/** A well-behaved peer: its own key, connects, pings. */
export class LegitPeer {
  readonly transport: Transport;
  readonly id: string;
  readonly #registry: PeerRegistry;
  readonly #dir: string;

  private constructor(
    transport: Transport,
    registry: PeerRegistry,
    dir: string,
    id: string,
  ) {
    this.transport = transport;
    this.#registry = registry;
    this.#dir = dir;
    this.id = id;
  }

  /** A peer with a fresh key and a registry in a temp directory. */
  static async create(
    config: Partial<TransportConfig> = {},
  ): Promise<LegitPeer> {
    const dir = await Deno.makeTempDir({ prefix: "p2p-legit-" });
    const registry = await PeerRegistry.open(`${dir}/peers.json`, {
      logger: quiet,
      saveDelayMs: 60_000,
    });
    const node = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
      name: "legit",
      role: "controller",
    });
    const transport = new Transport({
      node,
      registry,
      logger: quiet,
      config: { reconnect: false, ...config },
    });
    return new LegitPeer(transport, registry, dir, node.getIdentity()!.id);
  }

  /**
   * Connects, retrying refused or failed attempts, until `deadline`
   * (`performance.now()` ms).
   *
   * @returns Attempts made.
   */
  async connect(target: TargetInfo, deadline: number): Promise<number> {
    let attempts = 0;
    while (true) {
      attempts++;
      try {
        await this.transport.connect({
          address: target.addr,
          id: target.id,
          publicKey: target.publicKey,
        });
        return attempts;
      } catch (err) {
        if (performance.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** One ping to the target; the round trip in milliseconds. */
  async ping(target: TargetInfo, timeout = 10_000): Promise<number> {
    const t0 = performance.now();
    const msg: Message = newMessage("ping", {
      from: this.id,
      to: target.id,
      payload: { sentAt: Date.now() },
    });
    const reply = await this.transport.request(target.id, msg, { timeout });
    if (reply.type !== "pong") {
      throw new Error(`expected pong, got ${reply.type}`);
    }
    return performance.now() - t0;
  }

  async close(): Promise<void> {
    await this.transport.stop();
    await this.#registry.close();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

function splitAddr(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  return {
    hostname: addr.slice(0, i).replace(/^\[|\]$/g, ""),
    port: Number(addr.slice(i + 1)),
  };
}

/** A masked client frame (FIN set). */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setUint32(6, len, false);
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, head);
  out.set(payload, head + 4);
  maskInPlace(out, head + 4, len, mask);
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Sends an upgrade request and reads the response head. */
async function upgrade(conn: Deno.Conn, host: string): Promise<number> {
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  await writeAll(
    conn,
    encoder.encode(
      `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  const buf = new Uint8Array(1024);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed during upgrade");
    head += decoder.decode(buf.subarray(0, n));
    if (head.length > 8192) throw new Error("head too long");
  }
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
}

/** Counts of an attack. */
export interface AttackCounts {
  /** Sockets opened. */
  opened: number;
  /** Sockets the target closed (EOF or reset seen). */
  closedByTarget: number;
  /** Connects that failed. */
  connectFailed: number;
}

/** Runs `n` workers that each loop `step` until `more()` is false. */
async function workers(
  n: number,
  more: () => boolean,
  step: () => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (more()) await step();
    }),
  );
}

/**
 * Base of the socket-holding attacks: opens sockets with a few workers,
 * holds each one (reading and discarding, never answering) until the target
 * drops it or the attack stops.
 */
abstract class SocketAttack {
  readonly counts: AttackCounts = {
    opened: 0,
    closedByTarget: 0,
    connectFailed: 0,
  };
  /** `performance.now()` when the target closed each socket, in order. */
  readonly closedAt: number[] = [];
  readonly #open = new Set<Deno.Conn>();
  readonly #watchers = new Set<Promise<void>>();
  readonly #target: TargetInfo;
  #stopped = false;

  constructor(target: TargetInfo) {
    this.#target = target;
  }

  /** Sockets held open right now. */
  get open(): number {
    return this.#open.size;
  }

  /** Whether `stop` was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** What one socket does after connecting (then it is held). */
  protected abstract prepare(conn: Deno.Conn, host: string): Promise<void>;

  /**
   * Opens sockets until `total` are opened or `until` (`performance.now()`
   * ms) passes, with `concurrency` connects in flight.
   */
  async run(
    options: { total?: number; until?: number; concurrency?: number },
  ): Promise<void> {
    const total = options.total ?? Infinity;
    const until = options.until ?? Infinity;
    let started = 0;
    const { hostname, port } = splitAddr(this.#target.addr);
    await workers(
      options.concurrency ?? 50,
      () => !this.#stopped && started < total && performance.now() < until,
      async () => {
        started++;
        let conn: Deno.Conn;
        try {
          conn = await Deno.connect({ hostname, port });
        } catch {
          this.counts.connectFailed++;
          await new Promise((r) => setTimeout(r, 5));
          return;
        }
        this.counts.opened++;
        this.#open.add(conn);
        try {
          await this.prepare(conn, this.#target.addr);
        } catch {
          // the target may close us at any point
        }
        const w = this.#watch(conn);
        this.#watchers.add(w);
        void w.finally(() => this.#watchers.delete(w));
      },
    );
  }

  async #watch(conn: Deno.Conn): Promise<void> {
    const sink = new Uint8Array(64 * 1024);
    try {
      while ((await conn.read(sink)) !== null) { /* discard */ }
    } catch {
      // reset, or closed by stop()
    }
    if (this.#open.delete(conn)) {
      this.counts.closedByTarget++;
      this.closedAt.push(performance.now());
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }

  /** Closes every held socket. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const open = [...this.#open];
    this.#open.clear();
    for (const c of open) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await Promise.allSettled([...this.#watchers]);
  }
}

/** Sockets that send `GET /ws HTTP/1.1\r\nHost: x\r\n` and stop. */
export class HalfSentUpgrades extends SocketAttack {
  protected override async prepare(conn: Deno.Conn): Promise<void> {
    await writeAll(conn, encoder.encode("GET /ws HTTP/1.1\r\nHost: x\r\n"));
  }
}

/**
 * Sockets that upgrade, send a valid handshake under a fresh throwaway key,
 * and then stay silent: they never send a frame and never answer pings or
 * close frames.
 */
export class SilentHandshakes extends SocketAttack {
  protected override async prepare(
    conn: Deno.Conn,
    host: string,
  ): Promise<void> {
    if (await upgrade(conn, host) !== 101) return;
    const me = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
      name: "silent",
      role: "controller",
    });
    const hs = createHandshake(me.getIdentity()!, {
      to: "",
      challenge: crypto.getRandomValues(new Uint8Array(32)),
    });
    await writeAll(conn, clientFrame(0x1, encoder.encode(encodeMessage(hs))));
  }
}

/**
 * Sockets that upgrade and then stream one binary frame whose header
 * declares `declared` bytes (default 15 MiB), as fast as the target takes
 * it, before any handshake.
 */
export class OversizedFrames extends SocketAttack {
  readonly #declared: number;
  /** Payload bytes the target's kernel accepted, over all sockets. */
  bytesSent = 0;

  constructor(target: TargetInfo, declared = 15 * 1024 * 1024) {
    super(target);
    this.#declared = declared;
  }

  protected override async prepare(
    conn: Deno.Conn,
    host: string,
  ): Promise<void> {
    if (await upgrade(conn, host) !== 101) return;
    const head = new Uint8Array(14);
    head[0] = 0x82;
    head[1] = 0x80 | 127;
    new DataView(head.buffer).setUint32(6, this.#declared, false);
    crypto.getRandomValues(head.subarray(10));
    await writeAll(conn, head);
    const chunk = new Uint8Array(64 * 1024).fill(0x41);
    let sent = 0;
    while (sent < this.#declared && !this.stopped) {
      const n = await conn.write(
        chunk.subarray(0, Math.min(chunk.length, this.#declared - sent)),
      );
      sent += n;
      this.bytesSent += n;
    }
  }
}

/**
 * A peer that completes the handshake with its own (throwaway) key and
 * then sends raw frames: what an attacker holding a valid key can do.
 */
export class HandshakedPeer {
  readonly raw: RawClient;
  readonly key: SmsgKey;
  readonly id: string;
  readonly to: string;

  private constructor(raw: RawClient, key: SmsgKey, id: string, to: string) {
    this.raw = raw;
    this.key = key;
    this.id = id;
    this.to = to;
  }

  /**
   * Upgrades, sends the handshake and verifies the ack, under the identity
   * `as` (default: a fresh throwaway key).
   */
  static async open(
    target: Pick<TargetInfo, "addr" | "id">,
    as?: NodeManager,
  ): Promise<HandshakedPeer> {
    const me = as ??
      NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
        name: "attacker",
        role: "controller",
      });
    const raw = await RawClient.open(`ws://${target.addr}/ws`);
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const identity = me.getIdentity()!;
    raw.ws.sendText(
      encodeMessage(createHandshake(identity, { to: target.id, challenge })),
    );
    const ack = await raw.next();
    if (typeof ack !== "string") throw new Error("no handshake ack");
    const { peer, secret } = verifyHandshakeAck(ack, {
      challenge,
      deriveSecret: (k) => me.deriveSharedSecret(k),
    });
    const key = SmsgKey.fromPassword(secretToPassword(secret));
    secret.fill(0);
    return new HandshakedPeer(raw, key, identity.id, peer.id);
  }

  /** A fresh message from this peer to the target. */
  message(type: string, payload: Message["payload"] = null): Message {
    return newMessage(type, { from: this.id, to: this.to, payload });
  }

  /** Sends one good (sealed, fresh) message. */
  sendGood(type = "hello"): void {
    this.raw.ws.sendBinary(
      smsgSealBody(encodeMessage(this.message(type)), this.key),
    );
  }

  /** Resolves once the target has closed the connection. */
  async closedByTarget(timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      try {
        const m = await this.raw.next(Math.max(1, end - performance.now()));
        if (m === null) return true;
      } catch {
        return false;
      }
    }
    return false;
  }

  async close(): Promise<void> {
    await this.raw.close().catch(() => {});
  }
}

/** The `p`-quantile of a sorted array. */
export function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
