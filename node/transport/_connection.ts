/**
 * The connection object behind {@linkcode PeerConnection}: the inbound
 * pipeline (rate limit → SMSG open → parse → timestamp window and dedup →
 * liveness → hand-off), the bounded handler queue, back-pressured sending
 * and the keepalive.
 *
 * @module
 */

import type { Logger } from "../../logging/mod.ts";
import type { NodeIdentity } from "../identity.ts";
import {
  smsgIsV1Frame,
  type SmsgKey,
  smsgOpenBody,
  smsgSealBody,
} from "../borg/smsg.ts";
import {
  decodeMessage,
  DisconnectCode,
  encodeMessage,
  type Message,
  messageTime,
  MessageType,
  newMessage,
} from "../message.ts";
import type { TransportConfig } from "./config.ts";
import type {
  ConnectionCloseInfo,
  ConnectionDirection,
  ConnectionState,
  PeerConnection,
  SendOptions,
} from "./connection.ts";
import type { DedupCache } from "./dedup.ts";
import { FramePool } from "./_frame_pool.ts";
import { TransportError } from "./errors.ts";
import { RateLimiter } from "./rate_limiter.ts";
import type { FrameSocket } from "./_socket.ts";
import type { TransportCounters } from "./_counters.ts";
import { type StrikeReason, Strikes } from "./_strikes.ts";
import { clip } from "../_text.ts";

type Timer = ReturnType<typeof setTimeout>;

/** What `send` returns when the message was written at once. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** Outgoing frames of every connection of the process are carved from it. */
const framePool = new FramePool();

/** Most `send` calls allowed to wait for buffer space at once. */
const MAX_SEND_WAITERS = 1024;

const encoder = new TextEncoder();

/** What a connection needs from its transport. */
export interface ConnectionHost {
  /** The resolved configuration. */
  readonly config: TransportConfig;
  /** The shared replay cache. */
  readonly dedup: DedupCache;
  /** The transport's logger. */
  readonly logger: Logger;
  /** The transport's counters. */
  readonly counters: TransportCounters;
  /** The transport clock (Unix ms). */
  now(): number;
  /** Our node ID. */
  localId(): string;
  /** A good message arrived (called on the read path; must not block). */
  accept(conn: Connection, message: Message): void;
  /** Runs the message handlers for one queued message. */
  dispatch(conn: Connection, message: Message): void | Promise<void>;
  /** The connection closed. */
  closed(conn: Connection, info: ConnectionCloseInfo): void;
  /** The connection turned healthy or unhealthy. */
  healthChanged(conn: Connection): void;
}

/** Everything a connection starts with. */
export interface ConnectionInit {
  /** The socket, after the handshake. */
  socket: FrameSocket;
  /** The peer's proven identity. */
  peer: NodeIdentity;
  /** Who dialled. */
  direction: ConnectionDirection;
  /** The SMSG key derived from the pairwise secret. */
  key: SmsgKey;
  /** The transport. */
  host: ConnectionHost;
  /** Initial state. */
  state: "provisional" | "established";
  /** The peer's frame limit (advertised, or assumed for Go peers). */
  peerMaxMessageSize: number;
  /**
   * Whether the peer advertised its frame limit in the upgrade: our nodes
   * do (and run the crossing-dial tie-break); Go nodes do not.
   */
  peerAdvertised?: boolean;
}

/** How many of our keepalive pings are remembered to recognise their pongs. */
const PROBE_MEMORY = 4;

/**
 * How often a connection checks its keepalive, heartbeat and health: a
 * quarter of the shortest of those periods, between 10 ms and 500 ms.
 */
function tickInterval(c: TransportConfig): number {
  const shortest = Math.min(
    c.heartbeatInterval,
    c.pingInterval,
    c.unhealthyAfter,
    c.pingInterval + c.pongTimeout,
  );
  return Math.min(500, Math.max(10, Math.floor(shortest / 4)));
}

/** The transport's connection object. */
export class Connection implements PeerConnection {
  readonly peer: Readonly<NodeIdentity>;
  readonly peerId: string;
  readonly direction: ConnectionDirection;
  readonly remoteAddress: string;
  readonly connectedAt: number;
  readonly closed: Promise<ConnectionCloseInfo>;
  readonly peerMaxMessageSize: number;
  /** Whether the peer advertised its frame limit (one of our nodes). */
  readonly peerAdvertised: boolean;
  /** Settles when the socket has no pending I/O left. */
  readonly done: Promise<void>;
  /** Why we closed it, when we did (for the close info and logs). */
  localReason: string | undefined;
  /** The peer's `disconnect` message, once received. */
  peerDisconnect: { reason: string; code: number } | undefined;

  readonly #socket: FrameSocket;
  readonly #key: SmsgKey;
  readonly #host: ConnectionHost;
  readonly #limiter: RateLimiter | undefined;
  #state: ConnectionState;
  #lastActivity: number;
  #resolveClosed!: (info: ConnectionCloseInfo) => void;
  #keepalive: Timer | undefined;
  #sendWaiters = 0;
  #inbox: (Message | undefined)[] = [];
  #inboxSizes: number[] = [];
  #inboxHead = 0;
  /** Frame bytes of the messages waiting in the inbox. */
  #inboxBytes = 0;
  /** Size of the frame being processed (charged to the inbox if queued). */
  #frameBytes = 0;
  /** Size of the last frame sent (sizes the next prepared seal). */
  #lastFrameBytes = 0;
  #pumping = false;
  #gracefulStarted = false;
  #lastRateWarn = 0;
  readonly #strikes = new Strikes();
  /** When the last frame was written (transport clock). */
  #lastSent: number;
  #healthy = true;
  #misses = 0;
  /** IDs of our latest keepalive pings, to take their replies. */
  readonly #probes: string[] = [];

  /**
   * Wraps a socket whose handshake succeeded.
   *
   * @param init Socket, peer, key, transport and backlog.
   */
  constructor(init: ConnectionInit) {
    this.#socket = init.socket;
    this.#key = init.key;
    this.#host = init.host;
    this.peer = Object.freeze({ ...init.peer });
    this.peerId = init.peer.id;
    this.direction = init.direction;
    this.remoteAddress = init.socket.remoteAddress;
    this.#state = init.state;
    this.peerMaxMessageSize = init.peerMaxMessageSize;
    this.peerAdvertised = init.peerAdvertised ?? false;
    this.connectedAt = init.host.now();
    this.#lastActivity = this.connectedAt;
    this.#lastSent = this.connectedAt;
    const c = init.host.config;
    this.#limiter = c.rateLimitDisabled ? undefined : new RateLimiter(
      c.rateLimitBurst,
      c.rateLimitPerSecond,
      { now: () => init.host.now() },
    );
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.done = init.socket.done;
  }

  /**
   * Takes over the socket: installs the frame handlers, processes the frames
   * that arrived after the handshake frame, and starts the keepalive.
   *
   * @param backlog Frames received before this object existed.
   */
  start(backlog: (string | Uint8Array)[]): void {
    if (this.#state !== "closed") {
      this.#keepalive = setInterval(
        () => this.#tick(),
        tickInterval(this.#host.config),
      );
    }
    this.#socket.setHandlers({
      onText: (t) => this.#onFrame(encoder.encode(t)),
      onBinary: (b) => this.#onFrame(b),
      onClose: (code, reason) => this.#finish(code, reason),
      // The socket closes itself with 1009; nothing more to count.
      onTooLarge: () => this.#host.counters.drops.too_large++,
      onWritten: () => this.#prepareNextSeal(),
    });
    for (const f of backlog) {
      this.#onFrame(typeof f === "string" ? encoder.encode(f) : f);
    }
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get lastActivity(): number {
    return this.#lastActivity;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  get missedRequests(): number {
    return this.#misses;
  }

  /** A request sent on this connection timed out. */
  noteMiss(): void {
    this.#misses++;
    this.#updateHealth(this.#host.now());
  }

  /** The peer answered a request or a keepalive ping. */
  noteAnswer(): void {
    this.#misses = 0;
    this.#updateHealth(this.#host.now());
  }

  /**
   * Whether a `replyTo` answers one of our keepalive pings.
   *
   * @param replyTo The reply's `replyTo`.
   * @returns `true` for a keepalive reply.
   */
  isKeepaliveReply(replyTo: string): boolean {
    return this.#probes.includes(replyTo);
  }

  #updateHealth(now: number): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    const c = this.#host.config;
    const healthy = now - this.#lastActivity <= c.unhealthyAfter &&
      this.#misses < c.unhealthyAfterMisses;
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    this.#host.healthChanged(this);
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /** Marks a provisional connection as established. */
  promote(): void {
    if (this.#state === "provisional") this.#state = "established";
  }

  // ---- inbound

  #onFrame(data: Uint8Array): void {
    if (this.#state === "closed" || this.#state === "closing") return;
    const host = this.#host;
    const log = host.logger;
    const counters = host.counters;
    counters.framesIn++;
    counters.bytesIn += data.length;
    this.#frameBytes = data.length;
    if (this.#limiter !== undefined && !this.#limiter.allow()) {
      counters.drops.rate_limit++;
      const now = host.now();
      if (now - this.#lastRateWarn >= 1000) {
        this.#lastRateWarn = now;
        log.warn("peer rate limited, dropping message", {
          peer_id: this.peerId,
        });
      }
      this.#strike("rate_limit");
      return;
    }
    // Only what Go peers send: SMSG v1 without compression. Anything else
    // is refused here, before any decryption or decompression.
    if (!smsgIsV1Frame(data)) {
      counters.drops.unsupported_format++;
      log.debug("dropping frame: not an SMSG v1 container", {
        peer_id: this.peerId,
      });
      this.#strike("unsupported_format");
      return;
    }
    let body: string;
    try {
      body = smsgOpenBody(data, this.#key);
    } catch (err) {
      counters.drops.decrypt_failed++;
      log.debug("failed to decrypt message from peer", {
        peer_id: this.peerId,
        error: (err as Error).name,
      });
      this.#strike("decrypt_failed");
      return;
    }
    let message: Message;
    try {
      message = decodeMessage(body);
    } catch (err) {
      counters.drops.parse_failed++;
      log.debug("failed to parse message from peer", {
        peer_id: this.peerId,
        error: (err as Error).name,
      });
      this.#strike("parse_failed");
      return;
    }
    const now = host.now();
    let ts: number | undefined;
    if (host.config.checkTimestamps) {
      ts = messageTime(message);
      if (ts === undefined || Math.abs(now - ts) > host.config.dedupTtl) {
        counters.drops.stale_timestamp++;
        log.warn("message outside the timestamp window, dropping", {
          peer_id: this.peerId,
          msg_id: clip(message.id),
          type: clip(message.type),
        });
        this.#strike("stale_timestamp");
        return;
      }
    }
    if (!host.dedup.check(this.peerId, message.id, ts)) {
      counters.drops.duplicate++;
      log.debug("dropping duplicate message", {
        peer_id: this.peerId,
        msg_id: clip(message.id),
      });
      this.#strike("duplicate");
      return;
    }
    this.#strikes.clear();
    this.#lastActivity = now;
    if (!this.#healthy) this.#updateHealth(now);
    host.accept(this, message);
  }

  /**
   * Counts a failed frame; too many in a row (one, while provisional)
   * disconnect the peer.
   */
  #strike(reason: StrikeReason): void {
    const provisional = this.#state === "provisional";
    const limit = provisional ? 1 : this.#host.config.maxFailedFrames;
    if (!this.#strikes.fail(limit)) return;
    this.#host.counters.guard.failed_frames++;
    this.#host.logger.warn("disconnecting peer: too many failed frames", {
      peer_id: this.peerId,
      reason,
      failed_frames: this.#strikes.count,
      provisional,
      remote: this.remoteAddress,
    });
    this.terminate("too many failed frames");
  }

  /**
   * Queues a message for the handlers (bounded; drops when full).
   *
   * @param message The message.
   * @returns Whether it was queued.
   */
  enqueue(message: Message): boolean {
    const queued = this.#inbox.length - this.#inboxHead;
    const bytes = this.#frameBytes;
    if (
      queued >= this.#host.config.handlerQueueSize ||
      // Bytes are capped too, but one message always fits an empty queue.
      (queued > 0 &&
        this.#inboxBytes + bytes > this.#host.config.handlerQueueBytes)
    ) {
      this.#host.counters.drops.queue_overflow++;
      this.#host.logger.warn("handler queue full, dropping message", {
        peer_id: this.peerId,
        msg_id: clip(message.id),
        type: clip(message.type),
      });
      return false;
    }
    if (!this.#pumping && queued === 0) {
      // Nothing queued and no handler running: dispatch at once. Only a
      // handler that returns a pending promise makes the next ones queue.
      const r = this.#host.dispatch(this, message);
      if (r !== undefined) {
        this.#pumping = true;
        void this.#pump(r);
      }
      return true;
    }
    this.#inbox.push(message);
    this.#inboxSizes.push(bytes);
    this.#inboxBytes += bytes;
    if (!this.#pumping) {
      this.#pumping = true;
      void this.#pump();
    }
    return true;
  }

  /** Runs the queued messages in order, after `first` (a running dispatch). */
  async #pump(first?: Promise<void>): Promise<void> {
    try {
      if (first !== undefined) await first;
      while (this.#inboxHead < this.#inbox.length) {
        const message = this.#inbox[this.#inboxHead]!;
        this.#inboxBytes -= this.#inboxSizes[this.#inboxHead]!;
        this.#inbox[this.#inboxHead++] = undefined;
        if (this.#inboxHead === this.#inbox.length) {
          this.#inbox = [];
          this.#inboxSizes = [];
          this.#inboxHead = 0;
        } else if (this.#inboxHead >= 1024) {
          this.#inbox = this.#inbox.slice(this.#inboxHead);
          this.#inboxSizes = this.#inboxSizes.slice(this.#inboxHead);
          this.#inboxHead = 0;
        }
        const r = this.#host.dispatch(this, message);
        if (r !== undefined) await r;
      }
    } finally {
      this.#pumping = false;
    }
  }

  // ---- outbound

  send(message: Message, options: SendOptions = {}): Promise<void> {
    // Fast path (no back-pressure): write now, no async function frame.
    if (this.#socket.bufferedAmount <= this.#host.config.sendHighWaterMark) {
      try {
        this.#checkOpen();
        this.#write(message);
      } catch (err) {
        return Promise.reject(err);
      }
      return RESOLVED;
    }
    return this.#sendSlow(message, options);
  }

  async #sendSlow(message: Message, options: SendOptions): Promise<void> {
    const hwm = this.#host.config.sendHighWaterMark;
    while (this.#socket.bufferedAmount > hwm) {
      this.#checkOpen();
      if (this.#sendWaiters >= MAX_SEND_WAITERS) {
        throw new TransportError(
          "queue_full",
          `Cannot send to peer ${this.peerId}: too many sends waiting for buffer space`,
        );
      }
      this.#sendWaiters++;
      try {
        await this.#waitDrain(hwm, options.signal);
      } finally {
        this.#sendWaiters--;
      }
    }
    this.#checkOpen();
    this.#write(message);
  }

  #checkOpen(): void {
    if (
      this.#state === "closing" || this.#state === "closed" ||
      this.#socket.closed
    ) {
      throw new TransportError(
        "connection_closed",
        `Cannot send to peer ${this.peerId}: connection closed`,
      );
    }
  }

  #write(message: Message): void {
    const now = this.#host.now();
    const frame = smsgSealBody(encodeMessage(message), this.#key, {
      timestamp: Math.floor(now / 1000),
      allocate: framePool.allocate,
    });
    const limit = Math.min(
      this.#host.config.maxMessageSize,
      this.peerMaxMessageSize,
    );
    if (frame.length > limit) {
      throw new TransportError(
        "message_too_large",
        `Cannot send to peer ${this.peerId}: frame of ${frame.length} bytes exceeds the limit of ${limit}`,
      );
    }
    this.#socket.sendBinary(frame);
    this.#host.counters.messageOut(message.type, frame.length);
    this.#lastFrameBytes = frame.length;
    this.#lastSent = now;
  }

  /**
   * Idle time after a write (dialling side): computes the keystreams of the
   * next frame ahead, sized for one a little larger than the last, so that
   * sealing it on the request path is only an XOR and a MAC.
   */
  #prepareNextSeal(): void {
    const last = this.#lastFrameBytes;
    if (last === 0 || this.#state === "closing" || this.#state === "closed") {
      return;
    }
    // Any frame is longer than its plaintext; round up to a whole 256 bytes.
    this.#key.sigil.prepare(((last >> 8) + 1) << 8);
  }

  async #waitDrain(
    limit: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    signal?.throwIfAborted();
    let timer: Timer | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = this.#host.config.writeTimeout;
    try {
      await Promise.race([
        this.#socket.waitForDrain(limit),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.terminate("write timeout");
            reject(
              new TransportError(
                "timeout",
                `Cannot send to peer ${this.peerId}: no buffer space within ${timeout} ms`,
              ),
            );
          }, timeout);
          if (signal !== undefined) {
            onAbort = () =>
              reject(
                new TransportError(
                  "aborted",
                  `Cannot send to peer ${this.peerId}: aborted`,
                  {
                    cause: signal.reason,
                  },
                ),
              );
            signal.addEventListener("abort", onAbort, { once: true });
          }
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
  }

  // ---- keepalive

  #tick(): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    const c = this.#host.config;
    const now = this.#host.now();
    if (now - this.#lastActivity > c.pingInterval + c.pongTimeout) {
      this.#host.logger.debug("peer keepalive timeout", {
        peer_id: this.peerId,
      });
      this.terminate("keepalive timeout");
      return;
    }
    this.#updateHealth(now);
    if (now - this.#lastSent < Math.min(c.heartbeatInterval, c.pingInterval)) {
      return;
    }
    if (this.#socket.bufferedAmount > c.sendHighWaterMark) return; // data is flowing
    try {
      const ping = newMessage(MessageType.Ping, {
        from: this.#host.localId(),
        to: this.peerId,
        payload: { sentAt: now },
        now,
      });
      this.#write(ping);
      this.#probes.push(ping.id);
      if (this.#probes.length > PROBE_MEMORY) this.#probes.shift();
    } catch {
      this.terminate("keepalive send failed");
    }
  }

  // ---- closing

  /**
   * Closes now (abruptly where the socket allows) and records why.
   *
   * @param reason Why, for logs.
   */
  terminate(reason: string): void {
    if (this.#state === "closed") return;
    this.localReason ??= reason;
    this.#state = "closing";
    this.#socket.close(1006, reason);
  }

  close(): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    this.localReason ??= "closed";
    this.#state = "closing";
    this.#socket.close(1000, "");
  }

  async gracefulClose(
    reason = "",
    code: number = DisconnectCode.Normal,
  ): Promise<void> {
    if (
      !this.#gracefulStarted && this.#state !== "closing" &&
      this.#state !== "closed"
    ) {
      this.#gracefulStarted = true;
      this.localReason ??= reason || "graceful close";
      try {
        this.#write(newMessage(MessageType.Disconnect, {
          from: this.#host.localId(),
          to: this.peerId,
          payload: { reason, code },
          now: this.#host.now(),
        }));
      } catch {
        // best effort, as Go
      }
      this.#state = "closing";
      this.#socket.close(1000, "");
    }
    await this.closed;
  }

  /**
   * Records the peer's `disconnect` message (read path): its reason and
   * code are reported when the connection closes.
   *
   * @param message The `disconnect` message.
   */
  notePeerDisconnect(message: Message): void {
    const p = message.payload as { reason?: unknown; code?: unknown } | null;
    const reason = typeof p?.reason === "string" ? p.reason : "";
    this.peerDisconnect = {
      // deno-lint-ignore no-control-regex
      reason: reason.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 200),
      code: typeof p?.code === "number" && Number.isSafeInteger(p.code)
        ? p.code
        : 0,
    };
  }

  #finish(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearInterval(this.#keepalive);
    this.#keepalive = undefined;
    this.#key.sigil.dropPrepared();
    const local = this.localReason !== undefined;
    const said = this.peerDisconnect;
    const info: ConnectionCloseInfo = {
      // A TCP close without a close frame is 1006 on both socket kinds (the
      // server side reported 0).
      code: code === 0 ? 1006 : code,
      reason: local ? this.localReason! : said?.reason || reason,
      local,
    };
    if (said !== undefined) info.disconnect = { ...said };
    this.#resolveClosed(info);
    this.#host.closed(this, info);
  }
}
