/**
 * {@linkcode Dialler}: keeps the peers a node knows connected. Every
 * registered peer with an address that is not marked "do not dial" is
 * dialled when the dialler starts and redialled whenever it has no
 * established connection, with capped exponential back-off and jitter. An
 * inbound connection from the peer counts: it is not dialled while one is
 * established. The dialling policy lives here, above the transport; the
 * transport only dials when asked.
 *
 * @module
 */

import { getGlobalLogger, type Logger } from "../../logging/mod.ts";
import type { PeerConnection } from "./connection.ts";
import type {
  ConnectionEvent,
  ConnectOptions,
  ConnectTarget,
} from "./transport.ts";

/** What the dialler needs from a transport (a `Transport` fits). */
export interface DiallerTransport {
  /**
   * Dials a peer.
   *
   * @param target Address and pins.
   * @param options Abort signal.
   * @returns The established connection.
   */
  connect(
    target: ConnectTarget,
    options?: ConnectOptions,
  ): Promise<PeerConnection>;
  /**
   * The connection to a peer, if any.
   *
   * @param peerId The peer.
   * @returns The connection.
   */
  getConnection(peerId: string): PeerConnection | undefined;
  /**
   * Listens for connections entering and leaving the table.
   *
   * @param listener The listener.
   * @returns Removes it.
   */
  onConnection(listener: (event: ConnectionEvent) => void): () => void;
}

/** The peer fields the dialler reads (a registry `Peer` fits). */
export interface DialPeer {
  /** Node ID. */
  id: string;
  /** `host:port` to dial; `""` for none. */
  address: string;
  /** Base64 public key, pinned when dialling (`""` when unknown). */
  publicKey: string;
}

/** What the dialler needs from a registry (a `PeerRegistry` fits). */
export interface DiallerRegistry {
  /**
   * Every known peer.
   *
   * @returns The peers.
   */
  listPeers(): DialPeer[];
  /**
   * One peer.
   *
   * @param id The peer ID.
   * @returns The peer, or `undefined`.
   */
  getPeer(id: string): DialPeer | undefined;
}

/** Dialling settings. Times in milliseconds. */
export interface DiallerConfig {
  /** Delay before the first redial after a failure or a drop (default 1 s). */
  initialDelay: number;
  /** Largest delay; doubling stops here (default 60 s). */
  maxDelay: number;
  /** Each delay is multiplied by a random factor in [1 − jitter, 1 + jitter] (default 0.2). */
  jitter: number;
  /** Give up on a peer after this many failed dials in a row; 0 never (default). */
  maxAttempts: number;
  /** Most dials in flight at once (default 16). */
  concurrency: number;
  /** How often every peer is checked for a missing connection (default 5 s). */
  sweepInterval: number;
}

/** The defaults of {@linkcode DiallerConfig}. */
export const DEFAULT_DIALLER_CONFIG: Readonly<DiallerConfig> = Object.freeze({
  initialDelay: 1_000,
  maxDelay: 60_000,
  jitter: 0.2,
  maxAttempts: 0,
  concurrency: 16,
  sweepInterval: 5_000,
});

/** Options of {@linkcode Dialler}. */
export interface DiallerOptions {
  /** The transport that dials. */
  transport: DiallerTransport;
  /** Where the peers and their addresses come from. */
  registry: DiallerRegistry;
  /** Peers the operator marked not to be dialled (default: none). */
  isDisabled?: (peerId: string) => boolean;
  /** Settings; missing or zero values take the defaults. */
  config?: Partial<DiallerConfig>;
  /** Logger (default: the global logger's `transport:dialler` child). */
  logger?: Logger;
  /** Randomness in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
  /** Clock in Unix ms (default `Date.now`). */
  now?: () => number;
}

/**
 * Where a peer stands:
 *
 * - `connected`: an established connection (either direction);
 * - `dialling`: a dial is in flight or queued;
 * - `waiting`: the next dial is scheduled (`nextAttemptAt`);
 * - `disabled`: marked not to be dialled;
 * - `gave_up`: `maxAttempts` dials failed in a row;
 * - `no_address`: nothing to dial (peers that only dial us);
 * - `stopped`: the dialler is not running.
 */
export type DialState =
  | "connected"
  | "dialling"
  | "waiting"
  | "disabled"
  | "gave_up"
  | "no_address"
  | "stopped";

/** What {@linkcode Dialler.status} reports about one peer. */
export interface PeerDialStatus {
  /** Where the peer stands. */
  state: DialState;
  /** Failed dials since the last success. */
  failures: number;
  /** The last dial error (one line), if the last dial failed. */
  lastError?: string;
  /** When the last dial started (Unix ms). */
  lastAttemptAt?: number;
  /** When the next dial is due (Unix ms), in `waiting`. */
  nextAttemptAt?: number;
}

interface Entry {
  failures: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  queued: boolean;
  dialling: boolean;
  gaveUp: boolean;
  lastError: string | undefined;
  lastAttemptAt: number | undefined;
  nextAttemptAt: number | undefined;
}

function resolveConfig(c: Partial<DiallerConfig>): DiallerConfig {
  const out = { ...DEFAULT_DIALLER_CONFIG };
  for (const [k, v] of Object.entries(c)) {
    if (!(k in DEFAULT_DIALLER_CONFIG)) {
      throw new TypeError(`Invalid dialler config: unknown field "${k}"`);
    }
    if (v === undefined || v === 0) continue;
    const ok = k === "jitter"
      ? typeof v === "number" && v >= 0 && v < 1
      : Number.isSafeInteger(v) && (v as number) > 0;
    if (!ok) {
      throw new RangeError(
        `Invalid dialler config: ${k} out of range, got ${String(v)}`,
      );
    }
    (out as Record<string, number>)[k] = v as number;
  }
  if (out.maxDelay < out.initialDelay) out.maxDelay = out.initialDelay;
  return out;
}

function oneLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split("\n")[0]!.slice(0, 300);
}

/**
 * Keeps registered peers with an address connected (see the module doc).
 *
 * @example Reconnecting a known peer on start
 * ```ts
 * import { Dialler, NodeManager, PeerRegistry, Transport } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const regA = await PeerRegistry.open(`${dir}/a.json`);
 * const regB = await PeerRegistry.open(`${dir}/b.json`);
 * const a = new Transport({ node: NodeManager.fromPrivateKey(new Uint8Array(32).fill(5), { name: "a", role: "controller" }), registry: regA, config: { listenAddr: "127.0.0.1:0", reconnect: false } });
 * const nb = NodeManager.fromPrivateKey(new Uint8Array(32).fill(6), { name: "b", role: "worker" });
 * const b = new Transport({ node: nb, registry: regB, config: { listenAddr: "127.0.0.1:0" } });
 * await b.start();
 * const idB = nb.getIdentity()!.id;
 * regA.addPeer({ id: idB, publicKey: nb.getIdentity()!.publicKey, address: b.addr });
 * const dialler = new Dialler({ transport: a, registry: regA });
 * dialler.start();
 * while (dialler.status(idB).state !== "connected") {
 *   await new Promise((r) => setTimeout(r, 10));
 * }
 * dialler.stop();
 * await a.stop();
 * await b.stop();
 * await regA.close();
 * await regB.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Dialler {
  readonly #transport: DiallerTransport;
  readonly #registry: DiallerRegistry;
  readonly #isDisabled: (id: string) => boolean;
  readonly #config: DiallerConfig;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #queue: string[] = [];
  #active = 0;
  #running = false;
  #stopCtrl = new AbortController();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;

  /**
   * Creates a dialler (nothing happens until {@linkcode Dialler.start}).
   *
   * @param options Transport, registry, policy and settings.
   * @throws {RangeError} {TypeError} For invalid settings.
   */
  constructor(options: DiallerOptions) {
    this.#transport = options.transport;
    this.#registry = options.registry;
    this.#isDisabled = options.isDisabled ?? (() => false);
    this.#config = resolveConfig(options.config ?? {});
    this.#log = options.logger ??
      getGlobalLogger().child("transport:dialler");
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /** The settings in force. */
  get config(): Readonly<DiallerConfig> {
    return this.#config;
  }

  /** Whether the dialler runs. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Starts: dials every eligible peer now (at most `concurrency` at once)
   * and keeps them connected until {@linkcode Dialler.stop}. Idempotent.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopCtrl = new AbortController();
    this.#unsubscribe = this.#transport.onConnection((e) => this.#onEvent(e));
    this.#sweeper = setInterval(
      () => this.#sweep(),
      this.#config.sweepInterval,
    );
    this.#sweep();
  }

  /** Stops dialling; dials in flight are aborted. Idempotent. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#stopCtrl.abort();
    clearInterval(this.#sweeper);
    this.#unsubscribe?.();
    for (const e of this.#entries.values()) {
      clearTimeout(e.timer);
      e.timer = undefined;
      e.queued = false;
    }
    this.#queue.length = 0;
  }

  /**
   * Re-evaluates one peer (or all) after a change the dialler cannot see
   * (added, removed, marked or unmarked): an eligible peer without a
   * connection is dialled now, a peer that is no longer eligible stops
   * being dialled. A peer that gave up is tried again.
   *
   * @param peerId The peer, or every peer when omitted.
   */
  refresh(peerId?: string): void {
    if (!this.#running) return;
    if (peerId === undefined) {
      for (const e of this.#entries.values()) e.gaveUp = false;
      this.#sweep();
      return;
    }
    const e = this.#entries.get(peerId);
    if (e !== undefined) {
      e.gaveUp = false;
      e.failures = 0;
    }
    this.#consider(peerId, 0, true);
  }

  /**
   * Where a peer stands.
   *
   * @param peerId The peer.
   * @returns Its state, failures, last error and next attempt.
   */
  status(peerId: string): PeerDialStatus {
    const e = this.#entries.get(peerId);
    const out: PeerDialStatus = {
      state: this.#state(peerId, e),
      failures: e?.failures ?? 0,
    };
    if (e?.lastError !== undefined) out.lastError = e.lastError;
    if (e?.lastAttemptAt !== undefined) out.lastAttemptAt = e.lastAttemptAt;
    if (out.state === "waiting" && e?.nextAttemptAt !== undefined) {
      out.nextAttemptAt = e.nextAttemptAt;
    }
    return out;
  }

  #state(id: string, e: Entry | undefined): DialState {
    if (this.#connected(id)) return "connected";
    const peer = this.#registry.getPeer(id);
    if (peer === undefined || peer.address === "") return "no_address";
    if (this.#isDisabled(id)) return "disabled";
    if (!this.#running) return "stopped";
    if (e?.dialling || e?.queued) return "dialling";
    if (e?.gaveUp) return "gave_up";
    if (e?.timer !== undefined) return "waiting";
    return "dialling"; // due at the next sweep
  }

  #connected(id: string): boolean {
    return this.#transport.getConnection(id)?.state === "established";
  }

  #entry(id: string): Entry {
    let e = this.#entries.get(id);
    if (e === undefined) {
      e = {
        failures: 0,
        timer: undefined,
        queued: false,
        dialling: false,
        gaveUp: false,
        lastError: undefined,
        lastAttemptAt: undefined,
        nextAttemptAt: undefined,
      };
      this.#entries.set(id, e);
    }
    return e;
  }

  #eligible(id: string): DialPeer | undefined {
    const peer = this.#registry.getPeer(id);
    if (
      peer === undefined || peer.address === "" || this.#isDisabled(id) ||
      this.#connected(id)
    ) return undefined;
    return peer;
  }

  /** Checks every peer; forgets entries of peers that left the registry. */
  #sweep(): void {
    if (!this.#running) return;
    const ids = new Set<string>();
    for (const p of this.#registry.listPeers()) {
      ids.add(p.id);
      if (p.address !== "") this.#consider(p.id, 0);
    }
    for (const [id, e] of this.#entries) {
      if (ids.has(id)) continue;
      clearTimeout(e.timer);
      this.#entries.delete(id);
    }
  }

  /**
   * Schedules a dial in `delay` ms when the peer is eligible and nothing is
   * pending for it (`now`: also cut a pending back-off short); cancels what
   * is pending when it is not eligible.
   */
  #consider(id: string, delay: number, now = false): void {
    if (!this.#running) return;
    const peer = this.#eligible(id);
    const e = this.#entries.get(id);
    if (peer === undefined) {
      if (e !== undefined) {
        clearTimeout(e.timer);
        e.timer = undefined;
        e.nextAttemptAt = undefined;
      }
      return;
    }
    const entry = e ?? this.#entry(id);
    if (entry.gaveUp || entry.dialling || entry.queued) return;
    if (entry.timer !== undefined) {
      if (!now) return;
      clearTimeout(entry.timer); // dial now instead of later
      entry.timer = undefined;
      entry.nextAttemptAt = undefined;
    }
    if (delay <= 0) {
      this.#enqueue(id, entry);
      return;
    }
    entry.nextAttemptAt = this.#now() + delay;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.nextAttemptAt = undefined;
      if (this.#eligible(id) !== undefined) this.#enqueue(id, entry);
    }, delay);
  }

  #enqueue(id: string, e: Entry): void {
    e.queued = true;
    this.#queue.push(id);
    this.#pump();
  }

  #pump(): void {
    while (
      this.#running && this.#active < this.#config.concurrency &&
      this.#queue.length > 0
    ) {
      const id = this.#queue.shift()!;
      const e = this.#entries.get(id);
      if (e === undefined) continue;
      e.queued = false;
      const peer = this.#eligible(id);
      if (peer === undefined) continue;
      this.#active++;
      e.dialling = true;
      void this.#dial(peer, e).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }

  async #dial(peer: DialPeer, e: Entry): Promise<void> {
    e.lastAttemptAt = this.#now();
    const target: ConnectTarget = { address: peer.address, id: peer.id };
    if (peer.publicKey !== "") target.publicKey = peer.publicKey;
    try {
      await this.#transport.connect(target, { signal: this.#stopCtrl.signal });
      e.dialling = false;
      e.failures = 0;
      e.lastError = undefined;
      this.#log.debug("dialled peer", {
        peer_id: peer.id,
        address: peer.address,
      });
    } catch (err) {
      e.dialling = false;
      if (!this.#running) return;
      e.failures++;
      e.lastError = oneLine(err);
      const max = this.#config.maxAttempts;
      if (max > 0 && e.failures >= max) {
        e.gaveUp = true;
        this.#log.warn("giving up dialling peer", {
          peer_id: peer.id,
          address: peer.address,
          attempts: e.failures,
          error: e.lastError,
        });
        return;
      }
      const delay = this.#backoff(e.failures);
      this.#log[e.failures === 1 ? "info" : "debug"]("cannot reach peer", {
        peer_id: peer.id,
        address: peer.address,
        failures: e.failures,
        retry_ms: delay,
        error: e.lastError,
      });
      this.#consider(peer.id, delay);
    }
  }

  /** The delay before attempt `n + 1` after `n` failures (n ≥ 1). */
  #backoff(n: number): number {
    const c = this.#config;
    const base = Math.min(
      c.initialDelay * 2 ** Math.min(n - 1, 40),
      c.maxDelay,
    );
    const f = 1 - c.jitter + 2 * c.jitter * this.#random();
    return Math.max(1, Math.round(base * f));
  }

  #onEvent(ev: ConnectionEvent): void {
    const id = ev.connection.peerId;
    if (ev.type === "connected") {
      const e = this.#entries.get(id);
      if (e !== undefined) {
        clearTimeout(e.timer);
        e.timer = undefined;
        e.nextAttemptAt = undefined;
        e.failures = 0;
        e.gaveUp = false;
        e.lastError = undefined;
      }
    } else if (ev.type === "disconnected") {
      // Not at once: the peer may be restarting, or dialling us back.
      this.#consider(id, this.#backoff(1));
    }
  }
}
