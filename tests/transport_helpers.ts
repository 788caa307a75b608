/**
 * Helpers for the transport tests: in-memory identities, registries in temp
 * directories, transports on 127.0.0.1:0, a raw WebSocket client, waiting.
 *
 * @module
 */

import {
  NodeManager,
  type NodeRole,
  PeerRegistry,
  Transport,
  type TransportConfig,
  type TransportOptions,
} from "../node/mod.ts";
import { Logger, LogLevel } from "../logging/mod.ts";
import {
  dialWebSocket,
  type WebSocketClient,
} from "../node/transport/_ws_client.ts";

/** A logger that keeps lines in memory (tests assert on some). */
export function memoryLogger(level: LogLevel = LogLevel.Debug): {
  logger: Logger;
  lines: string[];
} {
  const lines: string[] = [];
  const logger = new Logger({ sink: { write: (l) => lines.push(l) }, level });
  return { logger, lines };
}

/** A node with a deterministic key derived from `seed`. */
export function makeNode(
  seed: number,
  name: string,
  role: NodeRole = "dual",
): NodeManager {
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return NodeManager.fromPrivateKey(key, { name, role });
}

/** Resources a test must release. */
export class Stack {
  #cleanups: (() => Promise<void> | void)[] = [];

  /** Registers a cleanup (run in reverse order). */
  defer(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  /** A registry in a fresh temp directory. */
  async registry(): Promise<PeerRegistry> {
    const dir = await Deno.makeTempDir({ prefix: "p2p-transport-test-" });
    const reg = await PeerRegistry.open(`${dir}/peers.json`, {
      saveDelayMs: 60_000,
      logger: memoryLogger(LogLevel.Error).logger,
    });
    this.defer(async () => {
      await reg.close();
      await Deno.remove(dir, { recursive: true });
    });
    return reg;
  }

  /** A transport (not started) with a fresh registry, stopped at cleanup. */
  async transport(
    node: NodeManager,
    config: Partial<TransportConfig> = {},
    extra: Partial<Omit<TransportOptions, "node" | "config">> = {},
  ): Promise<{ transport: Transport; registry: PeerRegistry }> {
    const registry = (extra.registry as PeerRegistry | undefined) ??
      await this.registry();
    const transport = new Transport({
      node,
      registry,
      logger: extra.logger ?? memoryLogger(LogLevel.Error).logger,
      config: { listenAddr: "127.0.0.1:0", ...config },
      ...(extra.now ? { now: extra.now } : {}),
      ...(extra.challenge ? { challenge: extra.challenge } : {}),
    });
    this.defer(() => transport.stop());
    return { transport, registry };
  }

  /** A started transport. */
  async server(
    node: NodeManager,
    config: Partial<TransportConfig> = {},
    extra: Partial<Omit<TransportOptions, "node" | "config">> = {},
  ): Promise<{ transport: Transport; registry: PeerRegistry }> {
    const r = await this.transport(node, config, extra);
    await r.transport.start();
    return r;
  }

  /** A raw WebSocket client whose messages queue up for `next()`. */
  async raw(url: string, headers?: Record<string, string>): Promise<RawClient> {
    const c = await RawClient.open(url, headers);
    this.defer(() => c.close());
    return c;
  }

  /** Runs every cleanup. */
  async close(): Promise<void> {
    for (const fn of this.#cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error("cleanup failed", err);
      }
    }
    this.#cleanups = [];
  }
}

/** A raw client that records every message and the close. */
export class RawClient {
  readonly ws: WebSocketClient;
  readonly #queue: (string | Uint8Array)[] = [];
  #waiters: ((m: string | Uint8Array | null) => void)[] = [];
  closeCode: number | undefined;

  private constructor(ws: WebSocketClient) {
    this.ws = ws;
    ws.setHandlers({
      onText: (t) => this.#push(t),
      onBinary: (b) => this.#push(b.slice()),
      onClose: (code) => {
        this.closeCode = code;
        for (const w of this.#waiters) w(null);
        this.#waiters = [];
      },
    });
  }

  static async open(
    url: string,
    headers?: Record<string, string>,
  ): Promise<RawClient> {
    const ws = await dialWebSocket(new URL(url), {
      maxMessageSize: 64 * 1024 * 1024,
      ...(headers ? { headers } : {}),
    });
    return new RawClient(ws);
  }

  #push(m: string | Uint8Array): void {
    const w = this.#waiters.shift();
    if (w) w(m);
    else this.#queue.push(m);
  }

  /** The next message, or `null` once closed; rejects after `timeoutMs`. */
  next(timeoutMs = 5_000): Promise<string | Uint8Array | null> {
    const m = this.#queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.closeCode !== undefined) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (v: string | Uint8Array | null) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves `true` when nothing arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    try {
      const m = await this.next(ms);
      if (m !== null) this.#queue.unshift(m);
      return m === null;
    } catch {
      return true;
    }
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.ws.done;
  }
}

/** Polls `cond` until it holds or `timeoutMs` passes. */
export async function waitFor(
  cond: () => boolean,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
