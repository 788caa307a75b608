/**
 * The encrypted WebSocket transport (node.md §4): an HTTP server that
 * upgrades on `wsPath`, a dialler, the handshake, the connection table,
 * request/response correlation, broadcast, keepalive and reconnection.
 *
 * @module
 */

import { getGlobalLogger, type Logger } from "../../logging/mod.ts";
import {
  deriveNodeId,
  generateChallenge,
  type NodeIdentity,
  secretToPassword,
} from "../identity.ts";
import { SmsgKey } from "../borg/smsg.ts";
import { encodeMessage, type Message } from "../message.ts";
import {
  parseListenAddr,
  resolveTransportConfig,
  type TransportConfig,
} from "./config.ts";
import type {
  ConnectionCloseInfo,
  PeerConnection,
  SendOptions,
} from "./connection.ts";
import { DedupCache } from "./dedup.ts";
import { TransportError } from "./errors.ts";
import {
  createHandshake,
  respondToHandshake,
  verifyHandshakeAck,
} from "./handshake.ts";
import { Connection, type ConnectionHost, RESOLVED } from "./_connection.ts";
import { RequestTable } from "./_requests.ts";
import { type FrameSocket, ServerSocket } from "./_socket.ts";
import { dialWebSocket } from "./_ws_client.ts";
import { TransportCounters } from "./_counters.ts";
import { SpareConnections } from "./_spares.ts";
import type { HandshakeFailureReason, TransportStats } from "./stats.ts";
import {
  Admission,
  type AdmissionTicket,
  PHASE_HANDSHAKE,
  PHASE_PROVISIONAL,
} from "./_admission.ts";
import { checkUpgrade } from "./_http.ts";
import { PeerListener } from "./_server.ts";
import { clip } from "../_text.ts";

/**
 * The upgrade header both ends use to tell their `maxMessageSize` (request
 * from the dialler, 101 response from the server). Go ignores it.
 */
export const MAX_MESSAGE_SIZE_HEADER = "x-lthn-max-message-size";

/** Largest handshake frame accepted before the handshake completes. */
const HANDSHAKE_MAX_BYTES = 64 * 1024;

/** Why a handshake read failed, for the counters. */
const readFailure = new WeakMap<object, HandshakeFailureReason>();

type Timer = ReturnType<typeof setTimeout>;

/** The part of `NodeManager` the transport uses. */
export interface TransportNode {
  /** Our identity, or `undefined` when there is none. */
  getIdentity(): NodeIdentity | undefined;
  /** The pairwise secret with a peer's base64 public key (throws for bad keys). */
  deriveSharedSecret(peerPublicKey: string): Uint8Array;
}

/** What the transport records about a peer it connected to. */
export interface SeenPeer {
  /** Node ID. */
  id: string;
  /** Display name. */
  name: string;
  /** Base64 public key. */
  publicKey: string;
  /** Advertised role. */
  role: string;
  /** `host:port` we dialled (outbound only). */
  address?: string;
}

/** The part of `PeerRegistry` the transport uses. */
export interface TransportRegistry {
  /** The registered peer, if any. */
  getPeer(id: string): { publicKey: string; address: string } | undefined;
  /** The allowlist decision (node.md §7.4). */
  isPeerAllowed(id: string, publicKey: string): boolean;
  /** Registers or refreshes a peer that proved itself; returns whether it was added. */
  registerSeenPeer(peer: SeenPeer): unknown;
  /** Marks a peer connected or not. */
  setConnected(id: string, connected: boolean): unknown;
}

/** Receives every accepted message that is not a reply to a pending request. */
export type MessageHandler = (
  connection: PeerConnection,
  message: Message,
) => void | Promise<void>;

/** A peer to dial. A registry `Peer` fits. */
export interface ConnectTarget {
  /** `host:port` (IPv6 in brackets), or a full `ws://` / `wss://` URL. */
  address: string;
  /** Expected node ID; the responder must have it (pinning). */
  id?: string;
  /** Expected base64 public key; the responder must have it (pinning). */
  publicKey?: string;
}

/** Options of {@linkcode Transport.connect}. */
export interface ConnectOptions {
  /** Aborts the dial and handshake. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Transport.request}. */
export interface RequestOptions extends SendOptions {
  /** Milliseconds to wait for the reply (default `config.requestTimeout`). */
  timeout?: number;
}

/** A change in the connection table. */
export interface ConnectionEvent {
  /**
   * `connected`: a connection became established; `disconnected`: it left
   * the table; `health`: the table's connection turned healthy or
   * unhealthy (see {@linkcode PeerConnection.healthy}).
   */
  type: "connected" | "disconnected" | "health";
  /** The connection. */
  connection: PeerConnection;
  /** How it closed (for `disconnected`). */
  info?: ConnectionCloseInfo;
}

/** Outcome of {@linkcode Transport.broadcast}. */
export interface BroadcastResult {
  /** Peers the message was queued for. */
  sent: string[];
  /** Peers it could not be sent to. */
  failed: { peerId: string; error: unknown }[];
}

/** Options of {@linkcode Transport}. */
export interface TransportOptions {
  /** Our identity and key agreement (a `NodeManager`). */
  node: TransportNode;
  /** The peer registry (a `PeerRegistry`). */
  registry: TransportRegistry;
  /** Settings; missing or zero values take the defaults. */
  config?: Partial<TransportConfig>;
  /** Logger (default: the global logger's `transport` child). */
  logger?: Logger;
  /** Clock in Unix ms (default `Date.now`), used for timestamps, windows and limits. */
  now?: () => number;
  /** Challenge source (default: 32 CSPRNG bytes); tests reproduce captures with it. */
  challenge?: () => Uint8Array;
}

interface FirstFrame {
  first: string;
  backlog: (string | Uint8Array)[];
}

const MAX_BACKLOG = 64;
const decoder = new TextDecoder();

function fail(
  reason: HandshakeFailureReason,
  err: TransportError,
): TransportError {
  readFailure.set(err, reason);
  return err;
}

/** Parses an advertised frame limit; `undefined` when absent or invalid. */
function parseAdvertisedLimit(
  v: string | null | undefined,
): number | undefined {
  if (v === null || v === undefined || !/^[0-9]{1,12}$/.test(v.trim())) {
    return undefined;
  }
  const n = Number(v.trim());
  return n >= 1024 ? n : undefined;
}

/** Reads the first message of a socket (the handshake or its ack). */
function readFirst(
  sock: FrameSocket,
  timeoutMs: number,
  signal: AbortSignal,
  counters: TransportCounters,
  maxBacklogBytes: number,
): Promise<FirstFrame> {
  return new Promise((resolve, reject) => {
    const backlog: (string | Uint8Array)[] = [];
    let backlogBytes = 0;
    let done = false;
    const finish = (err?: unknown, first?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (err !== undefined) reject(err);
      else resolve({ first: first!, backlog });
    };
    const onAbort = () =>
      finish(
        fail(
          "aborted",
          new TransportError("aborted", "Cannot complete handshake: aborted", {
            cause: signal.reason,
          }),
        ),
      );
    const timer = setTimeout(
      () =>
        finish(
          fail(
            "timeout",
            new TransportError(
              "timeout",
              `Cannot complete handshake: no answer within ${timeoutMs} ms`,
            ),
          ),
        ),
      timeoutMs,
    );
    const tooLarge = () =>
      finish(
        fail(
          "too_large",
          new TransportError(
            "handshake_failed",
            "Cannot complete handshake: handshake frame too large",
          ),
        ),
      );
    signal.addEventListener("abort", onAbort, { once: true });
    const push = (m: string | Uint8Array) => {
      if (!done) {
        if (m.length > HANDSHAKE_MAX_BYTES) {
          tooLarge();
          sock.close(1009, "message too big");
          return;
        }
        return finish(undefined, typeof m === "string" ? m : decoder.decode(m));
      }
      backlogBytes += m.length;
      if (backlog.length >= MAX_BACKLOG || backlogBytes > maxBacklogBytes) {
        counters.drops.backlog_overflow++;
        sock.close(1008, "too many early frames");
      } else backlog.push(typeof m === "string" ? m : m.slice());
    };
    sock.setHandlers({
      onText: push,
      onBinary: push,
      onTooLarge: () => {
        if (done) counters.drops.too_large++;
        else tooLarge();
      },
      onClose: () =>
        finish(
          fail(
            "closed",
            new TransportError(
              "connection_closed",
              "Cannot complete handshake: connection closed",
            ),
          ),
        ),
    });
  });
}

function plain(status: number, text: string): Response {
  return new Response(text, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
    },
  });
}

function upgradeError(status: number, text: string): Response {
  return new Response(text + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      "sec-websocket-version": "13",
    },
  });
}

function keyPrefix(key: string): string {
  if (key === "") return "(empty)";
  return key.length >= 16 ? key.slice(0, 16) + "..." : key;
}

/**
 * The go-p2p transport. One instance serves inbound connections (after
 * {@linkcode Transport.start}) and dials peers ({@linkcode Transport.connect});
 * both kinds share one connection table keyed by peer ID.
 *
 * Differences from the Go reference, all invisible to a Go peer: several
 * message handlers; handlers run off the read path on a bounded per-connection
 * queue; replies to {@linkcode Transport.request} are matched on the read
 * path and only from the peer that was asked; claimed IDs are bound to keys;
 * inbound connections are provisional until their first good frame and never
 * evict a live connection; dialled keys can be pinned; only 32-byte
 * challenges are answered; messages outside the timestamp window are dropped;
 * dedup is keyed by peer and ID with a cap; keepalive counts only good
 * frames; connects are serialised per peer; dropped peers with an address
 * are redialled with exponential back-off; zero config values take defaults;
 * `start` reports bind failures; frames may be up to 16 MiB (Go: 1 MiB) and
 * each side advertises its limit in an upgrade header Go ignores (peers
 * that advertise none are held to 1 MiB); exact counters are kept
 * ({@linkcode Transport.stats}).
 *
 * @example Two nodes on loopback
 * ```ts
 * import { newMessage, NodeManager, PeerRegistry, Transport } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const regA = await PeerRegistry.open(`${dir}/a.json`);
 * const regB = await PeerRegistry.open(`${dir}/b.json`);
 * const nodeA = NodeManager.fromPrivateKey(new Uint8Array(32).fill(1), { name: "a", role: "controller" });
 * const nodeB = NodeManager.fromPrivateKey(new Uint8Array(32).fill(2), { name: "b", role: "worker" });
 * const a = new Transport({ node: nodeA, registry: regA, config: { listenAddr: "127.0.0.1:0" } });
 * const b = new Transport({ node: nodeB, registry: regB, config: { listenAddr: "127.0.0.1:0" } });
 * await b.start();
 * b.onMessage(async (conn, msg) => {
 *   if (msg.type === "ping") {
 *     await conn.send(newMessage("pong", {
 *       from: nodeB.getIdentity()!.id,
 *       to: msg.from,
 *       replyTo: msg.id,
 *       payload: { sentAt: 1, receivedAt: 2 },
 *     }));
 *   }
 * });
 * const conn = await a.connect({ address: b.addr });
 * const pong = await a.request(conn.peerId, newMessage("ping", {
 *   from: nodeA.getIdentity()!.id,
 *   to: conn.peerId,
 *   payload: { sentAt: 1 },
 * }));
 * assert.equal(pong.type, "pong");
 * await a.stop();
 * await b.stop();
 * await regA.close();
 * await regB.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Transport {
  readonly #node: TransportNode;
  readonly #registry: TransportRegistry;
  readonly #config: TransportConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #challenge: () => Uint8Array;
  readonly #dedup: DedupCache;
  readonly #counters = new TransportCounters();
  readonly #host: ConnectionHost;
  readonly #established = new Map<string, Connection>();
  readonly #provisional = new Set<Connection>();
  readonly #all = new Set<Connection>();
  readonly #handshaking = new Set<FrameSocket>();
  readonly #dialing = new Map<string, Promise<Connection>>();
  readonly #dialAddress = new WeakMap<Connection, string>();
  readonly #deliberate = new WeakSet<Connection>();
  readonly #reconnects = new Map<string, Timer>();
  /** Connections to Go peers kept open beside the table's (see `#establish`). */
  readonly #spares = new SpareConnections((c) => {
    this.#deliberate.add(c);
    c.localReason = "too many connections from one peer";
    c.close();
  });
  readonly #requests: RequestTable;
  readonly #handlers: MessageHandler[] = [];
  readonly #listeners: ((e: ConnectionEvent) => void)[] = [];
  readonly #stopCtrl = new AbortController();
  #listener: PeerListener | undefined;
  readonly #admission: Admission;
  readonly #tickets = new WeakMap<Connection, AdmissionTicket>();
  #sweeper: Timer | undefined;
  #addr = "";
  #started = false;
  #stopped = false;

  /**
   * Creates a transport (nothing is opened until `start` or `connect`).
   *
   * @param options Node, registry, configuration, logger and clock.
   * @throws {RangeError} For an invalid configuration.
   * @throws {TypeError} When `node` or `registry` is missing.
   */
  constructor(options: TransportOptions) {
    if (!options?.node || !options.registry) {
      throw new TypeError(
        "Cannot create transport: node and registry are required",
      );
    }
    this.#node = options.node;
    this.#registry = options.registry;
    this.#config = Object.freeze(resolveTransportConfig(options.config ?? {}));
    this.#log = options.logger ?? getGlobalLogger().child("transport");
    this.#now = options.now ?? Date.now;
    this.#challenge = options.challenge ?? generateChallenge;
    this.#dedup = new DedupCache({
      ttl: this.#config.dedupTtl,
      maxEntries: this.#config.dedupMaxEntries,
      now: this.#now,
    });
    this.#admission = new Admission({
      maxUnproven: this.#config.maxUnproven,
      maxPerAddress: this.#config.maxUnprovenPerAddress,
      onEvict: () => this.#counters.guard.unproven_evicted++,
    });
    this.#requests = new RequestTable({
      maxPending: this.#config.maxPendingRequests,
      onTimeout: (peerId) => this.#established.get(peerId)?.noteMiss(),
    });
    this.#host = {
      config: this.#config,
      dedup: this.#dedup,
      logger: this.#log,
      counters: this.#counters,
      now: this.#now,
      localId: () => this.#node.getIdentity()?.id ?? "",
      accept: (conn, msg) => this.#accept(conn, msg),
      dispatch: (conn, msg) => this.#dispatch(conn, msg),
      closed: (conn, info) => this.#closed(conn, info),
      healthChanged: (conn) => this.#healthChanged(conn),
    };
  }

  /** The resolved configuration. */
  get config(): Readonly<TransportConfig> {
    return this.#config;
  }

  /** The bound `host:port` after `start` (`""` before). */
  get addr(): string {
    return this.#addr;
  }

  /** Whether the server is running. */
  get running(): boolean {
    return this.#started && !this.#stopped;
  }

  /**
   * A snapshot of the exact counters: connections opened and closed,
   * frames, bytes and messages in and out (messages by type), drops by
   * reason and handshake failures by direction and reason. Counting costs
   * a few integer increments per frame; the snapshot is a copy.
   *
   * @returns The counters since construction.
   */
  stats(): TransportStats {
    return this.#counters.snapshot();
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts our listener on `listenAddr` (TLS when both TLS paths are set):
   * HTTP/1.1 upgrade and WebSocket frames over `Deno.listen`, with the
   * deadlines and quotas of `TransportConfig`; and the dedup sweeper.
   *
   * @returns Resolves once listening; {@linkcode Transport.addr} is then set.
   * @throws {TransportError} `bind_failed` when the address cannot be bound
   * or the TLS files cannot be read; `stopped` after `stop`.
   */
  async start(): Promise<void> {
    if (this.#stopped) {
      throw new TransportError(
        "stopped",
        "Cannot start transport: it was stopped",
      );
    }
    if (this.#started) return;
    const c = this.#config;
    const { hostname, port } = parseListenAddr(c.listenAddr);
    let tls: { cert: string; key: string } | undefined;
    if (c.tlsCertPath !== "") {
      try {
        tls = {
          cert: await Deno.readTextFile(c.tlsCertPath),
          key: await Deno.readTextFile(c.tlsKeyPath),
        };
      } catch (err) {
        throw new TransportError(
          "bind_failed",
          "Cannot start transport: failed to read TLS files",
          {
            cause: err,
          },
        );
      }
    }
    try {
      this.#listener = PeerListener.listen({
        hostname,
        port,
        ...(tls !== undefined ? { tls } : {}),
        wsPath: c.wsPath,
        upgradeTimeout: c.upgradeTimeout,
        maxHeadBytes: c.maxHeadBytes,
        handshakeMaxBytes: HANDSHAKE_MAX_BYTES,
        closeTimeout: c.closeTimeout,
        responseHeaders: c.advertiseMaxMessageSize
          ? [["X-Lthn-Max-Message-Size", String(c.maxMessageSize)]]
          : [],
        admission: this.#admission,
        counters: this.#counters,
        logger: this.#log,
        host: {
          admit: () => this.#admitInbound(),
          upgraded: (sock, r) => {
            const advertised = parseAdvertisedLimit(
              r.headers.get(MAX_MESSAGE_SIZE_HEADER),
            );
            this.#startInbound(
              sock,
              advertised ?? c.unadvertisedPeerMaxMessageSize,
              r.ticket,
              advertised !== undefined,
            );
          },
        },
      });
    } catch (err) {
      throw new TransportError(
        "bind_failed",
        `Cannot start transport: failed to listen on ${c.listenAddr}`,
        { cause: err },
      );
    }
    const addr = this.#listener.addr;
    this.#addr = addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
    this.#sweeper = setInterval(
      () => this.#dedup.sweep(),
      c.dedupSweepInterval,
    );
    this.#started = true;
    this.#log.debug("transport listening", {
      addr: this.#addr,
      tls: tls !== undefined,
    });
  }

  /**
   * Stops everything: cancels dials and reconnections, fails pending
   * requests, sends `disconnect` `{reason: "server shutdown", code: 1004}` on
   * every connection, closes them and the server (with `shutdownGrace`).
   * A stopped transport cannot be restarted.
   *
   * @returns Resolves once every socket and timer is gone.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopCtrl.abort(new TransportError("stopped", "Transport stopped"));
    clearInterval(this.#sweeper);
    for (const t of this.#reconnects.values()) clearTimeout(t);
    this.#reconnects.clear();
    this.#requests.failAll();
    await Promise.allSettled([...this.#dialing.values()]);
    const listenerClosed = this.#listener?.close();
    for (const s of this.#handshaking) s.close(1001, "server shutdown");
    const conns = [...this.#all];
    const grace = this.#config.shutdownGrace;
    let graceTimer: Timer | undefined;
    const graceOver = new Promise<void>((
      r,
    ) => (graceTimer = setTimeout(r, grace)));
    await Promise.race([
      Promise.allSettled(conns.map((c) => {
        this.#deliberate.add(c);
        return c.gracefulClose("server shutdown", 1004);
      })),
      graceOver,
    ]);
    for (const c of conns) c.terminate("server shutdown");
    await Promise.race([
      Promise.allSettled([
        ...conns.map((c) => c.done),
        ...[...this.#handshaking].map((s) => s.done),
      ]),
      graceOver,
    ]);
    clearTimeout(graceTimer);
    await listenerClosed;
    this.#dedup.clear();
  }

  // ---------------------------------------------------------------- handlers

  /**
   * Adds a message handler. Every handler sees every accepted message that
   * is not a reply to a pending {@linkcode Transport.request}, in order per
   * connection; a handler's promise is awaited before the next message of
   * that connection is handed out, but reading never waits for handlers.
   * Errors thrown by handlers are logged and ignored.
   *
   * @param handler The handler.
   * @returns A function that removes the handler.
   */
  onMessage(handler: MessageHandler): () => void {
    if (typeof handler !== "function") {
      throw new TypeError("Cannot add message handler: not a function");
    }
    this.#handlers.push(handler);
    return () => {
      const i = this.#handlers.indexOf(handler);
      if (i >= 0) this.#handlers.splice(i, 1);
    };
  }

  /**
   * Adds a listener for connections entering (`connected`) and leaving
   * (`disconnected`) the table.
   *
   * @param listener The listener.
   * @returns A function that removes it.
   */
  onConnection(listener: (event: ConnectionEvent) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  #emit(event: ConnectionEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch (err) {
        this.#log.error("connection listener failed", { error: String(err) });
      }
    }
  }

  #dispatch(conn: Connection, msg: Message): void | Promise<void> {
    const hs = this.#handlers;
    for (let i = 0; i < hs.length; i++) {
      let r: void | Promise<void>;
      try {
        r = hs[i]!(conn, msg);
      } catch (err) {
        this.#handlerFailed(err, msg);
        continue;
      }
      // `send()` returns the shared RESOLVED promise when the frame went out
      // at once: nothing to wait for, so stay synchronous.
      if (
        r !== undefined && r !== RESOLVED &&
        typeof (r as Promise<void>).then === "function"
      ) {
        return this.#dispatchAsync(r, i + 1, conn, msg);
      }
    }
  }

  async #dispatchAsync(
    first: Promise<void>,
    next: number,
    conn: Connection,
    msg: Message,
  ): Promise<void> {
    try {
      await first;
    } catch (err) {
      this.#handlerFailed(err, msg);
    }
    const hs = [...this.#handlers];
    for (let i = next; i < hs.length; i++) {
      try {
        await hs[i]!(conn, msg);
      } catch (err) {
        this.#handlerFailed(err, msg);
      }
    }
  }

  #handlerFailed(err: unknown, msg: Message): void {
    this.#log.error("message handler failed", {
      type: clip(msg.type),
      msg_id: clip(msg.id),
      error: err instanceof Error ? err.name + ": " + err.message : String(err),
    });
  }

  // ---------------------------------------------------------------- table

  /**
   * Returns the connection to a peer: the established one, else the newest
   * provisional one.
   *
   * @param peerId The peer's node ID.
   * @returns The connection, or `undefined`.
   */
  getConnection(peerId: string): PeerConnection | undefined {
    return this.#lookup(peerId);
  }

  #lookup(peerId: string): Connection | undefined {
    const c = this.#established.get(peerId);
    if (c !== undefined) return c;
    let newest: Connection | undefined;
    for (const p of this.#provisional) {
      if (p.peerId === peerId && p.state === "provisional") newest = p;
    }
    return newest;
  }

  /**
   * Lists the IDs of peers with an established connection.
   *
   * @returns Peer IDs.
   */
  connectedPeers(): string[] {
    return [...this.#established.keys()];
  }

  /**
   * Lists every open connection (established and provisional).
   *
   * @returns The connections.
   */
  connections(): PeerConnection[] {
    return [...this.#all].filter((c) => c.state !== "closed");
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends a message to a connected peer.
   *
   * @param peerId The peer's node ID.
   * @param message The message.
   * @param options An abort signal.
   * @returns Resolves once queued on the socket.
   * @throws {TransportError} `not_connected`, or any error of
   * {@linkcode PeerConnection.send}.
   */
  send(peerId: string, message: Message, options?: SendOptions): Promise<void> {
    const conn = this.#lookup(peerId);
    if (conn === undefined) {
      return Promise.reject(
        new TransportError(
          "not_connected",
          `Cannot send: peer ${peerId} not connected`,
        ),
      );
    }
    return conn.send(message, options);
  }

  /**
   * Sends a request and waits for the message whose `replyTo` is its `id`,
   * arriving from the same peer. The reply goes only to the caller, not to
   * the message handlers.
   *
   * @param peerId The peer's node ID.
   * @param message The request (its `id` identifies the reply).
   * @param options Timeout and abort signal.
   * @returns The reply (possibly an `error` message; see `validateResponse`).
   * @throws {TransportError} `not_connected`, `timeout`, `aborted`,
   * `queue_full`, `connection_closed` or `stopped`.
   */
  request(
    peerId: string,
    message: Message,
    options: RequestOptions = {},
  ): Promise<Message> {
    return this.#requests.add(
      peerId,
      message,
      options.timeout ?? this.#config.requestTimeout,
      options.signal,
      this.#lookup(peerId),
    );
  }

  /**
   * Offers a message to the request table as the read path does: when it
   * answers a pending {@linkcode Transport.request} (its `replyTo` is the
   * request's `id`) and comes from the peer that was asked, it settles that
   * request. Anything else (no `replyTo`, an unknown or finished request,
   * another peer) is left alone.
   *
   * @param peerId The peer the message came from.
   * @param message The message.
   * @returns `true` when it settled a request.
   */
  handleReply(peerId: string, message: Message): boolean {
    if (!this.#requests.settle(peerId, message)) return false;
    this.#established.get(peerId)?.noteAnswer();
    return true;
  }

  /**
   * Sends the same message (same `id`) to every established peer except the
   * one whose ID equals `message.from`, as Go's `Broadcast`.
   *
   * @param message The message.
   * @returns Which peers it was sent to and which failed.
   */
  async broadcast(message: Message): Promise<BroadcastResult> {
    const targets = [...this.#established.values()].filter((c) =>
      c.peerId !== message.from
    );
    const results = await Promise.allSettled(
      targets.map((c) => c.send(message)),
    );
    const out: BroadcastResult = { sent: [], failed: [] };
    results.forEach((r, i) => {
      const peerId = targets[i]!.peerId;
      if (r.status === "fulfilled") out.sent.push(peerId);
      else out.failed.push({ peerId, error: r.reason });
    });
    return out;
  }

  /**
   * Gracefully closes the connection to a peer (sending `disconnect`) and
   * cancels its reconnection.
   *
   * @param peerId The peer's node ID.
   * @param reason Reason text for the `disconnect` payload.
   * @param code Disconnect code (default 1000).
   * @returns Resolves once closed (immediately when not connected).
   */
  async disconnect(peerId: string, reason = "", code = 1000): Promise<void> {
    this.#cancelReconnect(peerId);
    const conns = [...this.#all].filter((c) => c.peerId === peerId);
    for (const c of conns) this.#deliberate.add(c);
    await Promise.all(conns.map((c) => c.gracefulClose(reason, code)));
  }

  // ---------------------------------------------------------------- inbound

  /**
   * The HTTP handler for mounting the node in a `Deno.serve` application
   * (`start` uses our own listener instead): 404 off `wsPath`, 503 at
   * capacity, Go's upgrade checks and origin rule, then
   * `Deno.upgradeWebSocket` and the responder handshake. The unproven quota,
   * handshake and provisional deadlines, SMSG v1 check and strikes apply;
   * a request-head deadline, descriptor-exhaustion survival, the frame
   * limit at the header and a close that drops TCP do not (`Deno.serve`
   * exposes none of them; see the README, "Hostile networks").
   *
   * @param req The request.
   * @param info Connection info (for the remote address).
   * @returns The response.
   */
  handleRequest(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.Addr>,
  ): Response {
    const url = new URL(req.url);
    if (url.pathname !== this.#config.wsPath) {
      this.#counters.handshakeFailed("inbound", "bad_request");
      return plain(404, "404 page not found\n");
    }
    const admitted = this.#admitInbound();
    if (admitted !== "ok") {
      this.#counters.handshakeFailed("inbound", admitted);
      return plain(503, "Too many connections\n");
    }
    const refusal = checkUpgrade(req.method, req.headers);
    if (refusal !== undefined) {
      this.#counters.handshakeFailed("inbound", "bad_request");
      return upgradeError(refusal.status, refusal.text);
    }
    // remoteAddr is unavailable once the request is upgraded.
    const ra = info.remoteAddr as Deno.NetAddr;
    const remote = ra.hostname?.includes(":")
      ? `[${ra.hostname}]:${ra.port}`
      : `${ra.hostname}:${ra.port}`;
    // Request headers are unreadable once the request is upgraded.
    const advertised = parseAdvertisedLimit(
      req.headers.get(MAX_MESSAGE_SIZE_HEADER),
    );
    const peerLimit = advertised ??
      this.#config.unadvertisedPeerMaxMessageSize;
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    } catch {
      return upgradeError(400, "Bad Request");
    }
    const sock = new ServerSocket(upgraded.socket, {
      maxMessageSize: HANDSHAKE_MAX_BYTES,
      remoteAddress: remote,
    });
    if (this.#config.advertiseMaxMessageSize) {
      upgraded.response.headers.set(
        MAX_MESSAGE_SIZE_HEADER,
        String(this.#config.maxMessageSize),
      );
    }
    const ticket = this.#admission.admit(
      ra.hostname ?? "",
      () => sock.close(1006, "displaced"),
      PHASE_HANDSHAKE,
    );
    this.#startInbound(sock, peerLimit, ticket, advertised !== undefined);
    return upgraded.response;
  }

  /** Go's capacity rule for a new inbound upgrade (node.md §4.3). */
  #admitInbound(): "ok" | "capacity" | "stopped" {
    if (this.#stopped) return "stopped";
    const inUse = this.#established.size + this.#provisional.size +
      this.#handshaking.size + this.#spares.size;
    return inUse >= this.#config.maxConns ? "capacity" : "ok";
  }

  #startInbound(
    sock: FrameSocket,
    peerMaxMessageSize: number,
    ticket: AdmissionTicket,
    peerAdvertised: boolean,
  ): void {
    this.#handshaking.add(sock);
    void sock.done.then(() => ticket.release());
    void this.#acceptInbound(sock, peerMaxMessageSize, ticket, peerAdvertised);
  }

  async #acceptInbound(
    sock: FrameSocket,
    peerMaxMessageSize: number,
    ticket: AdmissionTicket,
    peerAdvertised: boolean,
  ): Promise<void> {
    const log = this.#log;
    const counters = this.#counters;
    let provisional = false;
    try {
      const { first, backlog } = await readFirst(
        sock,
        this.#config.handshakeTimeout,
        this.#stopCtrl.signal,
        counters,
        // Nothing but the handshake is due before the ack.
        HANDSHAKE_MAX_BYTES,
      );
      const identity = this.#node.getIdentity();
      const now = this.#now();
      const d = respondToHandshake(first, {
        identity,
        now,
        deriveSecret: (k) => this.#node.deriveSharedSecret(k),
        isAllowed: (id, k) => this.#registry.isPeerAllowed(id, k),
        registeredKey: (id) => this.#registry.getPeer(id)?.publicKey,
      });
      if (d.action === "close") {
        counters.handshakeFailed(
          "inbound",
          d.why === "no local identity" ? "no_identity" : "malformed",
        );
        log.debug("closing inbound connection", {
          remote: sock.remoteAddress,
          why: d.why,
        });
        sock.close(1006);
        return;
      }
      if (d.action === "reject") {
        counters.handshakeFailed(
          "inbound",
          d.reason.startsWith("incompatible protocol version")
            ? "version"
            : d.reason === "invalid challenge"
            ? "malformed"
            : "not_allowed",
        );
        if (d.reason.startsWith("incompatible protocol version")) {
          log.warn("peer connection rejected: incompatible protocol version", {
            peer_version: clip(d.version, 32),
            supported_versions: "[1.0]",
            peer_id: clip(d.peer.id),
          });
        } else {
          log.warn("peer connection rejected: not in allowlist", {
            peer_id: clip(d.peer.id),
            peer_name: clip(d.peer.name),
            public_key: keyPrefix(String(d.peer.publicKey)),
            reason: clip(d.reason),
          });
        }
        sock.sendText(encodeMessage(d.ack));
        sock.close(1000);
        return;
      }
      if (this.#stopped) {
        counters.handshakeFailed("inbound", "stopped");
        d.secret.fill(0);
        sock.close(1001);
        return;
      }
      // From here on the peer may send anything up to the configured limit.
      sock.setMaxMessageSize(this.#config.maxMessageSize);
      sock.sendText(encodeMessage(d.ack));
      const key = SmsgKey.fromPassword(secretToPassword(d.secret));
      d.secret.fill(0);
      const conn = new Connection({
        socket: sock,
        peer: d.peer,
        direction: "inbound",
        key,
        host: this.#host,
        state: "provisional",
        peerMaxMessageSize,
        peerAdvertised,
      });
      counters.connectionsOpened++;
      this.#all.add(conn);
      this.#provisional.add(conn);
      provisional = true;
      this.#tickets.set(conn, ticket);
      ticket.advance(PHASE_PROVISIONAL);
      ticket.deadline(this.#config.provisionalTimeout, () => {
        if (conn.state !== "provisional") return;
        counters.guard.first_frame_timeout++;
        log.debug("provisional connection sent no good frame in time", {
          peer_id: conn.peerId,
          remote: sock.remoteAddress,
        });
        conn.terminate("no good frame in time");
      });
      log.debug("inbound handshake complete, provisional", {
        peer_id: d.peer.id,
        remote: sock.remoteAddress,
      });
      conn.start(backlog);
    } catch (err) {
      const why = err !== null && typeof err === "object"
        ? readFailure.get(err)
        : undefined;
      counters.handshakeFailed(
        "inbound",
        why === "aborted" ? "stopped" : why ?? "malformed",
      );
      log.debug("inbound handshake failed", {
        remote: sock.remoteAddress,
        error: err instanceof Error ? err.message : String(err),
      });
      // A socket already closing (1009, 1002) sends its close frame and
      // drops TCP itself; anything else (timeout, stop) is dropped now.
      if (!sock.closed) sock.close(1006);
    } finally {
      this.#handshaking.delete(sock);
      if (!provisional) ticket.release();
    }
  }

  /** A good message arrived on `conn` (read path). */
  #accept(conn: Connection, msg: Message): void {
    if (conn.state === "provisional") this.#establish(conn);
    if (msg.type === "disconnect") conn.notePeerDisconnect(msg);
    if (msg.replyTo) {
      if (this.#requests.settle(conn.peerId, msg)) {
        this.#counters.messageIn(msg.type);
        conn.noteAnswer();
        return;
      }
      if (conn.isKeepaliveReply(msg.replyTo)) {
        // The answer to our own keepalive ping: liveness only.
        this.#counters.messageIn(msg.type);
        conn.noteAnswer();
        return;
      }
    }
    if (conn.enqueue(msg)) this.#counters.messageIn(msg.type);
  }

  /**
   * Puts a proven connection in the table. Between two of our nodes, an
   * existing live connection of the other direction wins when its dialler
   * has the lower node ID (both ends decide alike); otherwise the newer
   * connection replaces the older, which is closed. Towards a peer that does
   * not run that tie-break (it advertises no frame limit: a Go node),
   * nothing is closed: Go forgets a peer whenever any of its connections to
   * it closes (node.md §13.3 item 17), so the older connection stays open as
   * a spare and the newer takes the slot, as in Go's table.
   *
   * @returns The connection that holds the slot.
   */
  #establish(conn: Connection): Connection {
    this.#provisional.delete(conn);
    this.#tickets.get(conn)?.release();
    const existing = this.#established.get(conn.peerId);
    if (
      existing !== undefined && existing !== conn && existing.state !== "closed"
    ) {
      if (!conn.peerAdvertised || !existing.peerAdvertised) {
        this.#spares.keep(existing);
      } else if (!this.#newWins(existing, conn)) {
        this.#deliberate.add(conn);
        conn.localReason = "duplicate connection";
        conn.close();
        return existing;
      } else {
        this.#deliberate.add(existing);
        existing.localReason = "replaced by a newer connection";
        existing.close();
      }
    }
    conn.promote();
    this.#established.set(conn.peerId, conn);
    this.#cancelReconnect(conn.peerId);
    const seen: SeenPeer = {
      id: conn.peer.id,
      name: conn.peer.name,
      publicKey: conn.peer.publicKey,
      role: conn.peer.role,
    };
    const addr = this.#dialAddress.get(conn);
    if (addr !== undefined) seen.address = addr;
    try {
      this.#registry.registerSeenPeer(seen);
      this.#registry.setConnected(conn.peerId, true);
    } catch (err) {
      this.#log.warn("failed to update the peer registry", {
        peer_id: conn.peerId,
        error: String(err),
      });
    }
    this.#log.debug("connection established", {
      peer_id: conn.peerId,
      direction: conn.direction,
    });
    this.#emit({ type: "connected", connection: conn });
    return conn;
  }

  #newWins(existing: Connection, fresh: Connection): boolean {
    if (existing.direction === fresh.direction) return true;
    const c = this.#config;
    if (this.#now() - existing.lastActivity > c.pingInterval + c.pongTimeout) {
      return true;
    }
    const localId = this.#host.localId();
    const freshDialer = fresh.direction === "outbound" ? localId : fresh.peerId;
    const existingDialer = existing.direction === "outbound"
      ? localId
      : existing.peerId;
    return freshDialer < existingDialer;
  }

  #healthChanged(conn: Connection): void {
    if (this.#established.get(conn.peerId) !== conn) return;
    const silentMs = this.#now() - conn.lastActivity;
    if (conn.healthy) {
      this.#log.info("peer answering again", { peer_id: conn.peerId });
    } else {
      this.#log.warn("peer not answering", {
        peer_id: conn.peerId,
        silent_ms: silentMs,
        missed_requests: conn.missedRequests,
      });
    }
    this.#emit({ type: "health", connection: conn });
  }

  #closed(conn: Connection, info: ConnectionCloseInfo): void {
    this.#counters.connectionsClosed++;
    // Requests sent on it can only be answered on it.
    this.#requests.failConnection(conn);
    this.#all.delete(conn);
    this.#provisional.delete(conn);
    this.#tickets.get(conn)?.release();
    this.#spares.delete(conn);
    if (this.#established.get(conn.peerId) !== conn) {
      this.#log.debug("connection closed", {
        peer_id: conn.peerId,
        reason: info.reason,
      });
      return;
    }
    this.#established.delete(conn.peerId);
    const spare = this.#spares.take(conn.peerId);
    if (spare !== undefined) {
      // A Go peer's other connection carries on; requests sent on this one
      // can only be answered on it, so they fail now.
      this.#established.set(conn.peerId, spare);
      this.#log.debug("connection closed, its spare takes over", {
        peer_id: conn.peerId,
        code: info.code,
        reason: info.reason,
      });
      this.#requests.failPeer(conn.peerId);
      return;
    }
    try {
      this.#registry.setConnected(conn.peerId, false);
    } catch {
      // registry closed
    }
    this.#log[this.#stopped ? "debug" : "info"]("peer disconnected", {
      peer_id: conn.peerId,
      direction: conn.direction,
      code: info.code,
      reason: info.reason,
      by: info.local ? "us" : "peer",
      ...(info.disconnect
        ? {
          peer_reason: info.disconnect.reason,
          peer_code: info.disconnect.code,
        }
        : {}),
    });
    this.#requests.failPeer(conn.peerId);
    this.#emit({ type: "disconnected", connection: conn, info });
    if (
      !this.#stopped && this.#config.reconnect && !this.#deliberate.has(conn)
    ) {
      const address = this.#dialAddress.get(conn) ||
        this.#registry.getPeer(conn.peerId)?.address || "";
      if (address !== "") {
        this.#scheduleReconnect(
          { address, id: conn.peerId, publicKey: conn.peer.publicKey },
          0,
        );
      }
    }
  }

  // ---------------------------------------------------------------- dialling

  /**
   * Dials a peer and performs the initiator handshake. Returns the existing
   * connection when one is established; concurrent connects to the same
   * peer share one dial. When the target has an `id` or `publicKey`, the
   * responder must present exactly that identity.
   *
   * @param target Address and optional pins (a registry `Peer` fits).
   * @param options Abort signal.
   * @returns The established connection.
   * @throws {TransportError} `no_identity`, `connect_failed`, `upgrade_failed`
   * (`status` 503 when the peer is full), `timeout`, `handshake_rejected`,
   * `handshake_failed`, `peer_mismatch`, `aborted` or `stopped`.
   * @throws {RangeError} When the address is not `host:port` or a ws URL.
   */
  connect(
    target: ConnectTarget,
    options: ConnectOptions = {},
  ): Promise<PeerConnection> {
    if (this.#stopped) {
      return Promise.reject(
        new TransportError("stopped", "Cannot connect: transport stopped"),
      );
    }
    let url: URL;
    try {
      url = this.#dialUrl(target.address);
    } catch (err) {
      return Promise.reject(err);
    }
    let pinnedId = target.id ?? "";
    if (pinnedId === "" && target.publicKey) {
      try {
        pinnedId = deriveNodeId(target.publicKey);
      } catch {
        return Promise.reject(
          new RangeError(
            "Cannot connect: publicKey is not a valid base64 X25519 key",
          ),
        );
      }
    }
    if (pinnedId !== "") {
      const ex = this.#established.get(pinnedId);
      if (ex !== undefined && ex.state === "established") {
        return Promise.resolve(ex);
      }
    }
    const dialKey = pinnedId !== "" ? pinnedId : "addr:" + url.href;
    const inflight = this.#dialing.get(dialKey);
    if (inflight !== undefined) return inflight;
    const p = this.#dial(url, target, options).finally(() => {
      if (this.#dialing.get(dialKey) === p) this.#dialing.delete(dialKey);
    });
    this.#dialing.set(dialKey, p);
    return p;
  }

  #dialUrl(address: string): URL {
    if (typeof address !== "string" || address === "") {
      throw new RangeError("Cannot connect: peer address is empty");
    }
    if (/^wss?:\/\//i.test(address)) {
      const u = new URL(address);
      if (u.pathname === "/" || u.pathname === "") {
        u.pathname = this.#config.wsPath;
      }
      return u;
    }
    const { port } = parseListenAddr(address);
    if (port === 0) {
      throw new RangeError(`Cannot connect: address ${address} has no port`);
    }
    const scheme = this.#config.tlsCertPath !== "" ? "wss" : "ws";
    return new URL(`${scheme}://${address}${this.#config.wsPath}`);
  }

  async #dial(
    url: URL,
    target: ConnectTarget,
    options: ConnectOptions,
  ): Promise<Connection> {
    const identity = this.#node.getIdentity();
    if (identity === undefined) {
      throw new TransportError(
        "no_identity",
        "Cannot connect: node identity not initialized",
      );
    }
    const c = this.#config;
    const dialCtrl = new AbortController();
    const dialTimer = setTimeout(
      () => dialCtrl.abort(new TransportError("timeout", "dial timeout")),
      c.dialTimeout,
    );
    const signals = [this.#stopCtrl.signal, dialCtrl.signal];
    if (options.signal) signals.push(options.signal);
    let sock: FrameSocket;
    let peerLimit = c.unadvertisedPeerMaxMessageSize;
    let peerAdvertised = false;
    try {
      sock = await dialWebSocket(url, {
        maxMessageSize: c.maxMessageSize,
        signal: AbortSignal.any(signals),
        ...(c.tlsCaCerts.length > 0 ? { caCerts: [...c.tlsCaCerts] } : {}),
        ...(c.advertiseMaxMessageSize
          ? {
            headers: {
              "X-Lthn-Max-Message-Size": String(c.maxMessageSize),
            },
          }
          : {}),
        onResponseHeaders: (h) => {
          const advertised = parseAdvertisedLimit(
            h.get(MAX_MESSAGE_SIZE_HEADER),
          );
          peerAdvertised = advertised !== undefined;
          peerLimit = advertised ?? peerLimit;
        },
      });
    } catch (err) {
      clearTimeout(dialTimer);
      const e = err as TransportError;
      const code = options.signal?.aborted
        ? "aborted"
        : this.#stopped
        ? "stopped"
        : e.code ?? "connect_failed";
      this.#counters.handshakeFailed(
        "outbound",
        code === "upgrade_failed" || code === "timeout" ||
          code === "aborted" || code === "stopped"
          ? code
          : "connect_failed",
      );
      throw new TransportError(
        code,
        `Cannot connect to peer at ${target.address}: ${e.message}`,
        e.status !== undefined
          ? { cause: err, status: e.status }
          : { cause: err },
      );
    }
    clearTimeout(dialTimer);
    try {
      const challenge = this.#challenge();
      const hs = createHandshake(identity, {
        to: target.id ?? "",
        challenge,
        now: this.#now(),
      });
      const handshakeSignals = [this.#stopCtrl.signal];
      if (options.signal) handshakeSignals.push(options.signal);
      const reading = readFirst(
        sock,
        c.handshakeTimeout,
        AbortSignal.any(handshakeSignals),
        this.#counters,
        2 * c.maxMessageSize,
      );
      sock.sendText(encodeMessage(hs));
      const { first, backlog } = await reading;
      const ackCtx: Parameters<typeof verifyHandshakeAck>[1] = {
        challenge,
        deriveSecret: (k) => this.#node.deriveSharedSecret(k),
      };
      if (target.publicKey) ackCtx.expectedPublicKey = target.publicKey;
      if (target.id) ackCtx.expectedId = target.id;
      const { peer, secret } = verifyHandshakeAck(first, ackCtx);
      if (peer.id === identity.id) {
        secret.fill(0);
        throw new TransportError(
          "self_connection",
          "the address leads back to this node",
        );
      }
      if (this.#stopped) {
        secret.fill(0);
        throw new TransportError(
          "stopped",
          "Cannot connect: transport stopped",
        );
      }
      const key = SmsgKey.fromPassword(secretToPassword(secret));
      secret.fill(0);
      const conn = new Connection({
        socket: sock,
        peer,
        direction: "outbound",
        key,
        host: this.#host,
        state: "established",
        peerMaxMessageSize: peerLimit,
        peerAdvertised,
      });
      this.#counters.connectionsOpened++;
      this.#dialAddress.set(conn, target.address);
      this.#all.add(conn);
      const holder = this.#establish(conn);
      this.#log.debug("connected to peer", {
        peer_id: peer.id,
        address: target.address,
      });
      conn.start(backlog);
      return holder;
    } catch (err) {
      sock.close(1006);
      const why = readFailure.get(err as object);
      this.#counters.handshakeFailed(
        "outbound",
        why === "aborted" ? (this.#stopped ? "stopped" : "aborted") : why ??
          (err instanceof TransportError &&
              (err.code === "handshake_rejected" ||
                err.code === "peer_mismatch" || err.code === "stopped")
            ? err.code
            : err instanceof TransportError && err.code === "self_connection"
            ? "peer_mismatch"
            : "handshake_failed"),
      );
      await sock.done;
      if (err instanceof TransportError) {
        throw new TransportError(
          err.code,
          `Cannot connect to peer at ${target.address}: ${err.message}`,
          { cause: err },
        );
      }
      throw new TransportError(
        "handshake_failed",
        `Cannot connect to peer at ${target.address}: handshake failed`,
        { cause: err },
      );
    }
  }

  #scheduleReconnect(target: Required<ConnectTarget>, attempt: number): void {
    const id = target.id;
    if (this.#reconnects.has(id) || this.#stopped) return;
    const c = this.#config;
    const base = Math.min(
      c.reconnectInitialDelay * 2 ** attempt,
      c.reconnectMaxDelay,
    );
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#log.debug("scheduling reconnection", {
      peer_id: id,
      attempt,
      delay_ms: delay,
    });
    const timer = setTimeout(() => {
      this.#reconnects.delete(id);
      if (this.#stopped || this.#established.has(id)) return;
      this.connect(target).then(
        () => this.#log.info("reconnected to peer", { peer_id: id }),
        (err) => {
          const next = attempt + 1;
          if (c.reconnectMaxAttempts !== 0 && next >= c.reconnectMaxAttempts) {
            this.#log.warn("giving up reconnecting to peer", {
              peer_id: id,
              attempts: next,
              error: err instanceof Error ? err.message : String(err),
            });
            return;
          }
          if (!this.#established.has(id)) this.#scheduleReconnect(target, next);
        },
      );
    }, delay);
    this.#reconnects.set(id, timer);
  }

  #cancelReconnect(peerId: string): void {
    const t = this.#reconnects.get(peerId);
    if (t !== undefined) {
      clearTimeout(t);
      this.#reconnects.delete(peerId);
    }
  }
}
