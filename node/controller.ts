/**
 * {@linkcode Controller}: drives remote workers (node.md §5) — typed
 * operations (stats, ping, miner start and stop, logs, bundle deployment)
 * over the transport's requests, with auto-connect and one error
 * translation.
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import { getGlobalLogger, type Logger } from "../logging/mod.ts";
import type { Bundle } from "./bundle.ts";
import { secretToPassword } from "./identity.ts";
import type { NodeManager } from "./identity_store.ts";
import {
  type DeployAckPayload,
  type JsonValue,
  type Message,
  newMessage,
  type NewMessageOptions,
  parseResponse,
  type PayloadMap,
  type StartMinerPayload,
  type StatsPayload,
} from "./message.ts";
import type { Peer } from "./peer.ts";
import { type RequestOutcome, scoreOutcome } from "./registry/_scoring.ts";
import type { PeerConnection } from "./transport/connection.ts";

/** Request timeouts in milliseconds. */
export interface ControllerTimeouts {
  /** `ping` (Go: 5 s). */
  ping: number;
  /** `get_stats` (Go: 10 s). */
  stats: number;
  /** `get_logs` (Go: 10 s). */
  logs: number;
  /** `start_miner` and `stop_miner` (Go: 30 s). */
  miner: number;
  /** `deploy` (Go has no deploy call; 120 s). */
  deploy: number;
}

/** The Go timeouts, plus one for deploys. */
export const DEFAULT_CONTROLLER_TIMEOUTS: Readonly<ControllerTimeouts> = Object
  .freeze({
    ping: 5_000,
    stats: 10_000,
    logs: 10_000,
    miner: 30_000,
    deploy: 120_000,
  });

/** Default cap on this controller's requests awaiting a reply. */
export const DEFAULT_MAX_PENDING = 10_000;

/**
 * Bytes an SMSG frame adds to the JSON it carries, rounded up generously
 * (nonce, tag, header, the escaped body wrapper).
 */
const SMSG_OVERHEAD_BOUND = 512;

/**
 * What the controller needs from a transport (a `Transport` fits). Requests
 * and their replies live in the transport's request table; the controller
 * keeps none of its own.
 */
export interface ControllerTransport {
  /**
   * Sends a request and resolves with the reply from that peer, matched on
   * the transport's read path (so replies never wait behind message
   * handlers: on a dual node, a slow worker handler on the same
   * connection).
   *
   * @param peerId The peer asked.
   * @param message The request.
   * @param options Timeout (milliseconds) and signal.
   * @returns The reply.
   * @throws {TransportError} `not_connected`, `timeout`, `aborted`,
   * `queue_full`, `connection_closed` or `stopped`; or a send failure.
   */
  request(
    peerId: string,
    message: Message,
    options: { timeout?: number; signal?: AbortSignal },
  ): Promise<Message>;
  /**
   * The established connection to a peer.
   *
   * @param peerId The peer ID.
   * @returns The connection, or `undefined`.
   */
  getConnection(peerId: string): PeerConnection | undefined;
  /**
   * Dials a peer and completes the handshake.
   *
   * @param peer The peer (its `address`; its `id`/`publicKey` when known).
   * @returns The connection.
   */
  connect(peer: Peer): Promise<PeerConnection>;
  /**
   * Every established connection.
   *
   * @returns The connections.
   */
  connections?(): Iterable<PeerConnection>;
  /**
   * Listens for connection and health changes (a `Transport` has it); fleet
   * operations use it to stop waiting on peers that turn unhealthy.
   *
   * @param listener The listener.
   * @returns Removes it.
   */
  onConnection?(
    listener: (
      event: { type: string; connection: PeerConnection },
    ) => void,
  ): () => void;
  /**
   * Offers a message to the request table as the read path does (a
   * `Transport` has it); see {@linkcode Controller.handleResponse}.
   *
   * @param peerId The peer the message came from.
   * @param message The message.
   * @returns Whether it settled a request.
   */
  handleReply?(peerId: string, message: Message): boolean;
}

/** Why a peer is missing from {@linkcode FleetStats}. */
export interface FleetMiss {
  /** The peer. */
  peerId: string;
  /**
   * `unhealthy` (not answering, not waited for), `timeout`, `disconnected`
   * or `failed` (an error reply or a send failure).
   */
  reason: "unhealthy" | "timeout" | "disconnected" | "failed";
  /** In words. */
  error: string;
}

/** What {@linkcode Controller.getFleetStats} returns. */
export interface FleetStats {
  /** Stats by peer ID. */
  stats: Map<string, StatsPayload>;
  /** The connected workers that gave none, and why. */
  missing: FleetMiss[];
}

function unhealthyText(conn: PeerConnection): string {
  const silent = Math.max(0, Date.now() - conn.lastActivity);
  return conn.missedRequests > 0 && silent < 1_000
    ? `${conn.missedRequests} requests in a row unanswered`
    : `silent for ${(silent / 1000).toFixed(1)} s`;
}

/** The parts of a peer registry the controller uses. */
export interface ControllerRegistry {
  /**
   * Looks a peer up.
   *
   * @param id The peer ID.
   * @returns A copy of the record, or `undefined`.
   */
  getPeer(id: string): Peer | undefined;
  /**
   * Peers marked connected.
   *
   * @returns Copies of the records.
   */
  getConnectedPeers(): Peer[];
  /**
   * Stores new metrics.
   *
   * @param id The peer ID.
   * @param pingMs Latency.
   * @param geoKm Distance.
   * @param hops Hop count.
   */
  updateMetrics(id: string, pingMs: number, geoKm: number, hops: number): void;
  /**
   * Score +1.
   *
   * @param id The peer ID.
   */
  recordSuccess(id: string): void;
  /**
   * Score −5.
   *
   * @param id The peer ID.
   */
  recordFailure(id: string): void;
  /**
   * Score −3.
   *
   * @param id The peer ID.
   */
  recordTimeout(id: string): void;
}

/** Options of {@linkcode Controller}. */
export interface ControllerOptions {
  /** Where unconnected peers are looked up and metrics are stored. */
  registry?: ControllerRegistry;
  /** Request timeouts (each missing or 0 field takes its default). */
  timeouts?: Partial<ControllerTimeouts>;
  /** Most requests awaiting a reply at once (default 10 000). */
  maxPending?: number;
  /** Logger (default: the global logger, component `node:controller`). */
  logger?: Logger;
}

/** Options of one request. */
export interface ControllerRequestOptions {
  /** Overrides the operation's timeout (milliseconds). */
  timeoutMs?: number;
  /** Cancels the wait. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Controller.startRemoteMiner}. */
export interface StartRemoteMinerOptions extends ControllerRequestOptions {
  /** The miner type, e.g. `"xmrig"` (required). */
  minerType: string;
  /** A profile stored on the worker. */
  profileId?: string;
  /** An override config (any JSON value; `null` is sent as `null`). */
  config?: JsonValue;
}

/** Options of {@linkcode Controller.getRemoteLogs}. */
export interface GetRemoteLogsOptions extends ControllerRequestOptions {
  /** The miner instance. */
  minerName: string;
  /** Most lines wanted (the worker caps at 10 000; 0 means 10 000). */
  lines: number;
  /** Only lines at or after this time (Unix ms or a Date). */
  since?: number | Date;
}

/** Options of {@linkcode Controller.deployBundle}. */
export interface DeployOptions extends ControllerRequestOptions {
  /**
   * The receiving node's frame limit, checked before sending. Default: the
   * connection's `peerMaxMessageSize` — what the peer advertised in the
   * WebSocket upgrade, or 1 MiB (Go's default) for peers that advertise
   * nothing, such as Go workers; there, bundles above roughly 760 KiB are
   * refused with `frame_too_large` before anything is sent.
   */
  peerMaxMessageSize?: number;
}

/**
 * What went wrong in a controller operation.
 *
 * - `no_identity`: the local node has no identity.
 * - `peer_not_found`: the peer is neither connected nor registered.
 * - `connect_failed`: auto-connecting failed.
 * - `send_failed`: the request could not be sent.
 * - `timeout`: no reply in time.
 * - `disconnected`: the connection closed before the reply.
 * - `not_connected`: no connection to close.
 * - `queue_full`: too many requests pending (here or in the transport).
 * - `miner_failed`: the worker acknowledged a miner command with `success: false`.
 * - `deploy_failed`: the worker acknowledged a deploy with `success: false`.
 * - `frame_too_large`: a deploy would exceed the receiver's frame limit.
 * - `aborted`: the caller's signal fired.
 * - `closed`: the controller was closed.
 */
export type ControllerErrorCode =
  | "no_identity"
  | "peer_not_found"
  | "connect_failed"
  | "send_failed"
  | "timeout"
  | "disconnected"
  | "not_connected"
  | "queue_full"
  | "miner_failed"
  | "deploy_failed"
  | "frame_too_large"
  | "aborted"
  | "closed";

/**
 * A controller failure. Messages name the attempted action, then the
 * detail (`Cannot send request: request timeout`); Go's texts go only to
 * peers, never into these messages. Errors the worker sent back are
 * {@linkcode ProtocolError}s, not this class.
 *
 * @example Telling a timeout apart
 * ```ts
 * import { ControllerError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = new ControllerError("timeout", "Cannot send request: request timeout");
 * assert.equal(err.code, "timeout");
 * assert.equal(err.name, "ControllerError");
 * ```
 */
export class ControllerError extends CodedError<ControllerErrorCode> {
  /** Always `"ControllerError"`. */
  override readonly name = "ControllerError";
}

/**
 * Upper bound of the frame size of a `deploy` message carrying a bundle:
 * the envelope JSON (with base64 data), its escaping inside the SMSG body,
 * and the SMSG overhead.
 *
 * @param bundle The bundle.
 * @returns Bytes (an upper bound).
 *
 * @example Why Go workers cannot take a 1 MiB bundle
 * ```ts
 * import { deployFrameSize } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const size = deployFrameSize({ type: "miner", name: "xmrig", data: new Uint8Array(1 << 20), checksum: "0".repeat(64) });
 * assert.ok(size > 1_048_576);
 * ```
 */
export function deployFrameSize(bundle: Bundle): number {
  const n = bundle.data?.byteLength ?? 0;
  const base64 = 4 * Math.ceil(n / 3);
  const fields = JSON.stringify({
    name: bundle.name,
    type: bundle.type,
    checksum: bundle.checksum,
  })
    .length;
  // Envelope: id (36), type, from/to (32 each), ts (~35), keys and quotes.
  const envelope = 300 + fields + base64;
  // Inside the SMSG body every `"` and `\` is escaped once more.
  return envelope + 2 * (fields + 64) + SMSG_OVERHEAD_BOUND;
}

/**
 * Sends commands to workers and waits for their answers.
 *
 * Each operation is one request through the transport's request table
 * (`Transport.request`): a fresh message ID, and the reply whose `replyTo`
 * is that ID, arriving **from the peer that was asked**, settles it exactly
 * once, on the transport's read path (so on a dual node a slow worker
 * handler on the same connection, a big deploy, does not delay it). A reply
 * after the timeout, a reply from another peer and a reply to an unknown ID
 * are not matched. When the connection closes while a request waits, it
 * fails at once with `disconnected` instead of waiting for the timeout.
 * Transport failures become {@linkcode ControllerError}s in one place, and
 * every outcome is reported to one observer, the registry's scoring (only
 * pings move scores).
 *
 * Differences from the Go reference: replies are tied to the asked peer
 * (§13 item 8a); delivery and timeout are mutually exclusive (§13 item
 * 24); `pingPeer` measures the round trip after the connection exists (an
 * auto-connect is not counted, §13 item 35) and also records the exchange
 * in the peer's score; concurrent auto-connects to one peer share one dial;
 * a disconnect fails pending requests at once; there is a `deployBundle`
 * call; every wait takes an `AbortSignal`.
 *
 * @example Pinging and querying a worker over loopback
 * ```ts
 * import { Controller, NodeManager, PeerRegistry, Transport, Worker } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * async function makeNode(name: string, role: "controller" | "worker", seed: number) {
 *   const node = NodeManager.fromPrivateKey(new Uint8Array(32).fill(seed), { name, role });
 *   const registry = await PeerRegistry.open(`${dir}/${name}.json`);
 *   const transport = new Transport({ node, registry, config: { listenAddr: "127.0.0.1:0" } });
 *   await transport.start();
 *   return { node, registry, transport };
 * }
 * const ctl = await makeNode("ctl", "controller", 1);
 * const wrk = await makeNode("wrk", "worker", 2);
 * // The worker obeys only the controllers it trusts.
 * const worker = new Worker(wrk.node, { trust: [ctl.node.getIdentity()!.publicKey] });
 * worker.register(wrk.transport);
 * const controller = new Controller(ctl.node, ctl.transport, { registry: ctl.registry });
 * const id = wrk.node.getIdentity()!.id;
 * ctl.registry.addPeer({ id, name: "wrk", publicKey: wrk.node.getIdentity()!.publicKey, address: wrk.transport.addr });
 *
 * assert.ok((await controller.pingPeer(id)) > 0); // connects on first use
 * const stats = await controller.getRemoteStats(id);
 * assert.equal(stats.nodeName, "wrk");
 *
 * controller.close();
 * worker.close();
 * await ctl.transport.stop();
 * await wrk.transport.stop();
 * await ctl.registry.close();
 * await wrk.registry.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Controller {
  readonly #node: NodeManager;
  readonly #transport: ControllerTransport;
  readonly #registry: ControllerRegistry | undefined;
  readonly #timeouts: ControllerTimeouts;
  readonly #maxPending: number;
  readonly #log: Logger;
  /** Cancels this controller's waiting requests on `close` (not a table: no replies are matched here). */
  readonly #inflight = new Set<AbortController>();
  readonly #connecting = new Map<string, Promise<PeerConnection>>();
  #closed = false;

  /**
   * Creates the controller over a transport.
   *
   * @param node The local identity.
   * @param transport The transport.
   * @param options Registry, timeouts, limits and logger.
   * @throws {RangeError} For a negative or non-integer timeout or limit.
   */
  constructor(
    node: NodeManager,
    transport: ControllerTransport,
    options: ControllerOptions = {},
  ) {
    this.#node = node;
    this.#transport = transport;
    this.#registry = options.registry;
    const t = { ...DEFAULT_CONTROLLER_TIMEOUTS };
    for (const [k, v] of Object.entries(options.timeouts ?? {})) {
      if (v === undefined || v === 0) continue;
      if (!Number.isFinite(v) || v < 0) {
        throw new RangeError(
          `Invalid timeouts.${k}: expected milliseconds > 0, got ${v}`,
        );
      }
      t[k as keyof ControllerTimeouts] = v;
    }
    this.#timeouts = t;
    const max = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(
        `Invalid maxPending: expected an integer >= 1, got ${max}`,
      );
    }
    this.#maxPending = max;
    this.#log = options.logger ?? getGlobalLogger().child("node:controller");
  }

  /** Number of this controller's requests awaiting a reply. */
  get pendingCount(): number {
    return this.#inflight.size;
  }

  /** The timeouts in force. */
  get timeouts(): Readonly<ControllerTimeouts> {
    return this.#timeouts;
  }

  /**
   * Offers a message that arrived from a peer as a reply, as the
   * transport's read path does for every frame: it settles the pending
   * request whose ID is its `replyTo`, only when it came from the peer that
   * was asked. Messages without `replyTo`, replies to unknown or finished
   * requests and replies from other peers are dropped.
   *
   * @param conn The connection the message arrived on.
   * @param message The message.
   */
  handleResponse(conn: Pick<PeerConnection, "peerId">, message: Message): void {
    if (!message.replyTo) return;
    if (this.#transport.handleReply?.(conn.peerId, message) !== true) {
      this.#log.debug("dropping reply to an unknown or finished request", {
        peer_id: conn.peerId,
        reply_to: message.replyTo,
      });
    }
  }

  #ownId(action: string): string {
    const identity = this.#node.getIdentity();
    if (!identity) {
      throw new ControllerError(
        "no_identity",
        `Cannot ${action}: node identity not initialized`,
      );
    }
    return identity.id;
  }

  #build<T extends keyof PayloadMap>(
    type: T,
    peerId: string,
    payload: PayloadMap[T] | null,
  ): Message {
    const init: NewMessageOptions<PayloadMap[T] | null> = {
      from: this.#ownId("send request"),
      to: peerId,
      payload,
    };
    return newMessage(type, init);
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new ControllerError(
        "closed",
        "Cannot send request: controller closed",
      );
    }
  }

  /**
   * Returns the connection to a peer, dialling it (via the registry's
   * address) when there is none. Concurrent calls share one dial.
   *
   * @param peerId The peer ID.
   * @param action What is attempted, for the error message.
   * @returns The connection.
   * @throws {ControllerError} `peer_not_found` or `connect_failed`.
   */
  async #ensureConnection(
    peerId: string,
    action: string,
  ): Promise<PeerConnection> {
    const existing = this.#transport.getConnection(peerId);
    if (existing) return existing;
    const inflight = this.#connecting.get(peerId);
    if (inflight) return await inflight;
    const peer = this.#registry?.getPeer(peerId);
    if (!peer) {
      throw new ControllerError(
        "peer_not_found",
        `Cannot ${action}: peer not found: ${peerId}`,
      );
    }
    const dial = this.#transport.connect(peer).catch((err) => {
      throw new ControllerError(
        "connect_failed",
        `Cannot ${action}: failed to connect to peer: ${causeText(err)}`,
        { cause: err },
      );
    });
    this.#connecting.set(peerId, dial);
    try {
      return await dial;
    } finally {
      this.#connecting.delete(peerId);
    }
  }

  /**
   * Sends a request and waits for its reply (Go's `sendRequest`): connects
   * first when needed (then `message.to` becomes the connected peer's ID),
   * and waits through the transport's request table for the reply, the
   * timeout, a disconnect or the signal, whichever comes first.
   *
   * @param peerId The peer to ask.
   * @param message The request (its `id` must be fresh).
   * @param options Timeout (default 30 s) and signal.
   * @returns The reply (any type, `error` included; see `parseResponse`).
   * @throws {ControllerError} `peer_not_found`, `connect_failed`,
   * `send_failed`, `timeout`, `disconnected`, `queue_full`, `aborted` or `closed`.
   */
  async sendRequest(
    peerId: string,
    message: Message,
    options: ControllerRequestOptions = {},
  ): Promise<Message> {
    this.#checkOpen();
    const timeoutMs = options.timeoutMs ?? this.#timeouts.miner;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(
        `Invalid timeoutMs: expected milliseconds > 0, got ${timeoutMs}`,
      );
    }
    options.signal?.throwIfAborted();
    const conn = await this.#connect(peerId, message.type, "send request");
    if (conn.peerId !== peerId) message.to = conn.peerId;
    return (await this.#exchange(conn, message, timeoutMs, options.signal))
      .reply;
  }

  /** `#ensureConnection`, reporting a failed dial as the request's outcome. */
  async #connect(
    peerId: string,
    type: string,
    action: string,
  ): Promise<PeerConnection> {
    try {
      return await this.#ensureConnection(peerId, action);
    } catch (err) {
      if (err instanceof ControllerError && err.code === "connect_failed") {
        this.#observe({ peerId, type, result: "connect_failed" });
      }
      throw err;
    }
  }

  /**
   * The one request path: sends `message` on the transport's request table,
   * translates its failures into {@linkcode ControllerError}s and reports
   * the outcome (after `check` accepted the reply) to the scoring observer.
   */
  async #exchange(
    conn: PeerConnection,
    message: Message,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    check: (reply: Message) => void = () => {},
  ): Promise<{ reply: Message; rttMs: number }> {
    this.#checkOpen();
    const outcome: RequestOutcome = {
      peerId: conn.peerId,
      type: message.type,
      result: "failed",
    };
    const start = performance.now();
    try {
      const reply = await this.#request(conn, message, timeoutMs, signal);
      check(reply);
      outcome.result = "reply";
      outcome.rttMs = Math.max(performance.now() - start, Number.MIN_VALUE);
      return { reply, rttMs: outcome.rttMs };
    } catch (err) {
      if (err instanceof ControllerError) {
        if (err.code === "timeout") outcome.result = "timeout";
        else if (err.code === "aborted") outcome.result = "aborted";
      }
      throw err;
    } finally {
      this.#observe(outcome);
    }
  }

  async #request(
    conn: PeerConnection,
    message: Message,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Message> {
    if (this.#inflight.size >= this.#maxPending) {
      throw new ControllerError(
        "queue_full",
        "Cannot send request: too many pending requests",
      );
    }
    if (conn.state === "closed") {
      // Closed between lookup and sending: fail now rather than at the timeout.
      throw disconnected(conn.peerId);
    }
    const cancel = new AbortController();
    const onAbort = () => cancel.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    this.#inflight.add(cancel);
    try {
      return await this.#transport.request(conn.peerId, message, {
        timeout: timeoutMs,
        signal: cancel.signal,
      });
    } catch (err) {
      throw this.#translate(err, conn.peerId);
    } finally {
      this.#inflight.delete(cancel);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The one error translation: transport failures to controller codes. */
  #translate(err: unknown, peerId: string): unknown {
    if (err instanceof TypeError || err instanceof RangeError) return err;
    const code = (err as { code?: unknown })?.code;
    const options = { cause: err };
    switch (code) {
      case "connection_closed":
      case "not_connected":
      case "stopped":
        return disconnected(peerId, options);
      case "timeout":
        return new ControllerError(
          "timeout",
          "Cannot send request: request timeout",
          options,
        );
      case "queue_full":
        return new ControllerError(
          "queue_full",
          "Cannot send request: too many pending requests",
          options,
        );
      case "aborted":
        return this.#closed
          ? new ControllerError(
            "closed",
            "Cannot send request: controller closed",
            options,
          )
          : new ControllerError(
            "aborted",
            "Cannot send request: aborted",
            options,
          );
      default:
        return new ControllerError(
          "send_failed",
          `Cannot send request: failed to send message: ${causeText(err)}`,
          options,
        );
    }
  }

  #observe(outcome: RequestOutcome): void {
    if (this.#registry) scoreOutcome(this.#registry, outcome, this.#log);
  }

  /** Builds, sends and parses one typed request (connecting when needed). */
  async #call<T extends keyof PayloadMap, R extends keyof PayloadMap>(
    peerId: string,
    type: T,
    payload: PayloadMap[T] | null,
    expect: R,
    timeoutMs: number,
    options: ControllerRequestOptions,
    conn?: PeerConnection,
  ): Promise<{ payload: PayloadMap[R]; rttMs: number }> {
    const message = this.#build(type, peerId, payload);
    this.#checkOpen();
    const timeout = options.timeoutMs ?? timeoutMs;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(
        `Invalid timeoutMs: expected milliseconds > 0, got ${timeout}`,
      );
    }
    options.signal?.throwIfAborted();
    conn ??= await this.#connect(peerId, type, "send request");
    if (conn.peerId !== peerId) message.to = conn.peerId;
    let parsed!: PayloadMap[R];
    const { rttMs } = await this.#exchange(
      conn,
      message,
      timeout,
      options.signal,
      (reply) => parsed = parseResponse(reply, expect),
    );
    return { payload: parsed, rttMs };
  }

  /**
   * Asks a worker for its stats (`get_stats`, 10 s).
   *
   * @param peerId The worker.
   * @param options Timeout and signal.
   * @returns The stats.
   * @throws {ControllerError} See {@linkcode Controller.sendRequest}; `no_identity`.
   * @throws {ProtocolError} When the worker answers with an error.
   * @throws {MessageError} When the answer has the wrong type or payload.
   */
  async getRemoteStats(
    peerId: string,
    options: ControllerRequestOptions = {},
  ): Promise<StatsPayload> {
    return (await this.#call(
      peerId,
      "get_stats",
      null,
      "stats",
      this.#timeouts.stats,
      options,
    )).payload;
  }

  /**
   * Asks every connected worker for its stats, in parallel. Peers that fail,
   * time out or are unhealthy are left out (see
   * {@linkcode Controller.getFleetStats} for why each one is missing).
   *
   * @param options Timeout (per peer) and signal.
   * @returns Stats by peer ID.
   * @throws {ControllerError} `no_identity`.
   */
  async getAllStats(
    options: ControllerRequestOptions = {},
  ): Promise<Map<string, StatsPayload>> {
    return (await this.getFleetStats(options)).stats;
  }

  /**
   * Asks every connected worker for its stats, in parallel, without waiting
   * on peers that do not answer: a peer whose connection is unhealthy (see
   * `PeerConnection.healthy`) is not asked, and the wait for one that turns
   * unhealthy meanwhile ends then. Peers that advertise the `controller`
   * role run no worker and are not asked. Each peer missing from `stats` is
   * listed in `missing` with the reason.
   *
   * @param options Timeout (per peer) and signal.
   * @returns The stats, and the peers that gave none.
   * @throws {ControllerError} `no_identity`.
   */
  async getFleetStats(
    options: ControllerRequestOptions = {},
  ): Promise<FleetStats> {
    this.#ownId("send request");
    const ids = new Set<string>();
    for (const p of this.#registry?.getConnectedPeers() ?? []) ids.add(p.id);
    for (const c of this.#transport.connections?.() ?? []) ids.add(c.peerId);
    const result: FleetStats = { stats: new Map(), missing: [] };
    const waiting = new Map<string, AbortController>();
    const off = this.#transport.onConnection?.((e) => {
      if (e.type === "disconnected" || e.connection.healthy === false) {
        waiting.get(e.connection.peerId)?.abort("unhealthy");
      }
    });
    try {
      await Promise.all([...ids].map(async (id) => {
        const conn = this.#transport.getConnection(id);
        if (conn?.peer.role === "controller") return;
        if (conn?.healthy === false) {
          result.missing.push({
            peerId: id,
            reason: "unhealthy",
            error: unhealthyText(conn),
          });
          return;
        }
        const ctrl = new AbortController();
        waiting.set(id, ctrl);
        const signal = options.signal
          ? AbortSignal.any([options.signal, ctrl.signal])
          : ctrl.signal;
        try {
          result.stats.set(
            id,
            await this.getRemoteStats(id, { ...options, signal }),
          );
        } catch (err) {
          const c = this.#transport.getConnection(id);
          const miss: FleetMiss = ctrl.signal.aborted
            ? {
              peerId: id,
              reason: c === undefined ? "disconnected" : "unhealthy",
              error: c === undefined
                ? "disconnected while asked"
                : unhealthyText(c),
            }
            : {
              peerId: id,
              reason: err instanceof ControllerError && err.code === "timeout"
                ? "timeout"
                : err instanceof ControllerError &&
                    err.code === "disconnected"
                ? "disconnected"
                : "failed",
              error: causeText(err),
            };
          result.missing.push(miss);
          this.#log.debug("failed to get stats from peer", {
            peer_id: id,
            reason: miss.reason,
            error: miss.error,
          });
        } finally {
          waiting.delete(id);
        }
      }));
    } finally {
      off?.();
    }
    return result;
  }

  /**
   * Measures the round trip to a peer with `ping`/`pong` (5 s). The clock
   * starts after the connection exists, so an auto-connect is not counted.
   * When the registry knows the peer, its `pingMs` is set (keeping `geoKm`
   * and `hops`) and its score records the success, failure or timeout.
   *
   * @param peerId The peer.
   * @param options Timeout and signal.
   * @returns The round trip in milliseconds (fractional).
   * @throws {ControllerError} See {@linkcode Controller.sendRequest}; `no_identity`.
   * @throws {ProtocolError} When the peer answers with an error.
   */
  async pingPeer(
    peerId: string,
    options: ControllerRequestOptions = {},
  ): Promise<number> {
    return (await this.#call(
      peerId,
      "ping",
      { sentAt: Date.now() },
      "pong",
      this.#timeouts.ping,
      options,
    )).rttMs;
  }

  /**
   * Starts a miner on a worker (`start_miner`, 30 s).
   *
   * @param peerId The worker.
   * @param options Miner type, profile or config override, timeout, signal.
   * @returns The miner instance name the worker reported.
   * @throws {TypeError} `Cannot start miner: miner type is required`
   * (before anything is sent).
   * @throws {ControllerError} `miner_failed` when the worker could not start
   * it; see {@linkcode Controller.sendRequest}.
   * @throws {ProtocolError} When the worker answers with an error.
   */
  async startRemoteMiner(
    peerId: string,
    options: StartRemoteMinerOptions,
  ): Promise<string> {
    this.#ownId("start miner");
    if (!options.minerType) {
      throw new TypeError("Cannot start miner: miner type is required");
    }
    const payload: StartMinerPayload = { minerType: options.minerType };
    if (options.profileId) payload.profileId = options.profileId;
    if (options.config !== undefined) payload.config = options.config;
    const ack = await this.#miner(peerId, "start_miner", payload, options);
    return ack.minerName ?? "";
  }

  /** A miner command; a `miner_ack` with `success: false` is `miner_failed`. */
  async #miner<T extends "start_miner" | "stop_miner">(
    peerId: string,
    type: T,
    payload: PayloadMap[T],
    options: ControllerRequestOptions,
  ): Promise<PayloadMap["miner_ack"]> {
    const { payload: ack } = await this.#call(
      peerId,
      type,
      payload,
      "miner_ack",
      this.#timeouts.miner,
      options,
    );
    if (!ack.success) {
      const [action, what] = type === "start_miner"
        ? ["start miner", "miner start failed"]
        : ["stop miner", "miner stop failed"];
      throw new ControllerError(
        "miner_failed",
        `Cannot ${action}: ${what}: ${ack.error ?? ""}`,
      );
    }
    return ack;
  }

  /**
   * Stops a miner on a worker (`stop_miner`, 30 s).
   *
   * @param peerId The worker.
   * @param minerName The instance name.
   * @param options Timeout and signal.
   * @returns Resolves when the worker confirmed.
   * @throws {ControllerError} `miner_failed` when the worker could not stop
   * it; see {@linkcode Controller.sendRequest}.
   * @throws {ProtocolError} When the worker answers with an error.
   */
  async stopRemoteMiner(
    peerId: string,
    minerName: string,
    options: ControllerRequestOptions = {},
  ): Promise<void> {
    await this.#miner(peerId, "stop_miner", { minerName }, options);
  }

  /**
   * Reads a miner's console lines from a worker (`get_logs`, 10 s); Go's
   * `GetRemoteLogs` and `GetRemoteLogsSince` in one call.
   *
   * @param peerId The worker.
   * @param options Miner, line count, optional `since`, timeout and signal.
   * @returns The lines, oldest first (`null` when a Go worker sent none).
   * @throws {ControllerError} See {@linkcode Controller.sendRequest}.
   * @throws {ProtocolError} When the worker answers with an error (unknown miner…).
   */
  async getRemoteLogs(
    peerId: string,
    options: GetRemoteLogsOptions,
  ): Promise<string[] | null> {
    if (!Number.isSafeInteger(options.lines)) {
      throw new RangeError(
        `Invalid lines: expected an integer, got ${options.lines}`,
      );
    }
    const payload: PayloadMap["get_logs"] = {
      minerName: options.minerName,
      lines: options.lines,
    };
    if (options.since !== undefined) {
      const ms = typeof options.since === "number"
        ? options.since
        : options.since.getTime();
      if (!Number.isSafeInteger(ms)) {
        throw new RangeError(
          `Invalid since: expected Unix milliseconds, got ${ms}`,
        );
      }
      if (ms > 0) payload.since = ms;
    }
    return (await this.#call(
      peerId,
      "get_logs",
      payload,
      "logs",
      this.#timeouts.logs,
      options,
    )).payload.lines;
  }

  /**
   * The password a bundle for this peer must be encrypted with:
   * base64(shared secret), the same 44 characters as the SMSG password
   * (node.md §6.7).
   *
   * @param peerId The worker (connected, or registered with its key).
   * @returns The password.
   * @throws {ControllerError} `no_identity` or `peer_not_found`.
   */
  bundlePassword(peerId: string): string {
    this.#ownId("derive bundle password");
    const key = this.#transport.getConnection(peerId)?.peer.publicKey ||
      this.#registry?.getPeer(peerId)?.publicKey;
    if (!key) {
      throw new ControllerError(
        "peer_not_found",
        `Cannot derive bundle password: peer not found: ${peerId}`,
      );
    }
    const secret = this.#node.deriveSharedSecret(key);
    try {
      return secretToPassword(secret);
    } finally {
      secret.fill(0);
    }
  }

  /**
   * Deploys a bundle to a worker (`deploy`, 120 s). Build it with the
   * bundle functions and {@linkcode Controller.bundlePassword}.
   *
   * @param peerId The worker.
   * @param bundle The bundle (`profile`, `miner` or `full`).
   * @param options Receiver's frame limit, timeout and signal.
   * @returns The worker's acknowledgement (`success: true`).
   * @throws {ControllerError} `frame_too_large` (before sending: above
   * `options.peerMaxMessageSize`, by default the limit the connection
   * learned from the peer), `deploy_failed` when the worker acknowledged a failure; see
   * {@linkcode Controller.sendRequest}.
   * @throws {ProtocolError} When the worker answers with an error (bad
   * checksum, wrong password, unsafe name…).
   */
  async deployBundle(
    peerId: string,
    bundle: Bundle,
    options: DeployOptions = {},
  ): Promise<DeployAckPayload> {
    this.#checkOpen();
    this.#ownId("deploy bundle");
    const conn = await this.#connect(peerId, "deploy", "deploy bundle");
    const limit = options.peerMaxMessageSize ?? conn.peerMaxMessageSize;
    if (limit !== undefined) {
      const size = deployFrameSize(bundle);
      if (size > limit) {
        throw new ControllerError(
          "frame_too_large",
          `Cannot deploy bundle: bundle ${bundle.name} needs a frame of about ${size} bytes, ` +
            `above the peer's limit of ${limit} bytes`,
        );
      }
    }
    const { payload: ack } = await this.#call(
      peerId,
      "deploy",
      {
        type: bundle.type,
        data: bundle.data,
        checksum: bundle.checksum,
        name: bundle.name,
      },
      "deploy_ack",
      this.#timeouts.deploy,
      options,
      conn,
    );
    if (!ack.success) {
      throw new ControllerError(
        "deploy_failed",
        `Cannot deploy bundle: deploy failed: ${ack.error ?? ""}`,
      );
    }
    return ack;
  }

  /**
   * Connects to a registered peer.
   *
   * @param peerId The peer.
   * @returns The connection.
   * @throws {ControllerError} `peer_not_found` or `connect_failed`.
   */
  async connectToPeer(peerId: string): Promise<PeerConnection> {
    return await this.#ensureConnection(peerId, "connect to peer");
  }

  /**
   * Closes the connection to a peer (no `disconnect` message, as Go).
   *
   * @param peerId The peer.
   * @throws {ControllerError} `not_connected`.
   */
  disconnectFromPeer(peerId: string): void {
    const conn = this.#transport.getConnection(peerId);
    if (!conn) {
      throw new ControllerError(
        "not_connected",
        `Cannot disconnect from peer: peer not connected: ${peerId}`,
      );
    }
    conn.close();
  }

  /**
   * Fails every request of this controller that waits for a reply with
   * `closed`; later operations fail with `closed` too. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cancel of this.#inflight) cancel.abort();
  }
}

function disconnected(peerId: string, options?: ErrorOptions): ControllerError {
  return new ControllerError(
    "disconnected",
    `Cannot send request: peer ${peerId} disconnected before replying`,
    options,
  );
}

function causeText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
