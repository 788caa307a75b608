/**
 * The one request table of a node: requests waiting for their reply, keyed
 * by message ID, each bound to the peer that was asked. The transport's
 * read path settles them ({@linkcode RequestTable.settle}); the
 * controller's typed operations are built on top and keep no table of
 * their own.
 *
 * Deadlines are kept by one shared timer, not a timer per request: it is
 * armed for the earliest deadline, stays armed when requests complete
 * (clearing and re-arming a timer per request costs more than the
 * request's own bookkeeping) and is disarmed by {@linkcode RequestTable.failAll}.
 *
 * @module
 */

import type { Message } from "../message.ts";
import type { SendOptions } from "./connection.ts";
import { TransportError } from "./errors.ts";
import { RESOLVED } from "./_connection.ts";

type Timer = ReturnType<typeof setTimeout>;

/** A request waiting for its reply. */
class Pending {
  /** Removes the abort listener, when one was added. */
  onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly id: string,
    readonly peerId: string,
    readonly type: string,
    readonly timeout: number,
    /** `performance.now()` milliseconds after which the request times out. */
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    /** The connection it was sent on. */
    readonly sender: RequestSender,
    readonly resolve: (m: Message) => void,
    readonly reject: (e: unknown) => void,
  ) {}
}

/** Where a request is sent: the peer's connection. */
export interface RequestSender {
  /**
   * Queues a message on the connection.
   *
   * @param message The message.
   * @param options An abort signal.
   * @returns Resolves once queued.
   */
  send(message: Message, options?: SendOptions): Promise<void>;
}

/** What a {@linkcode RequestTable} needs from its owner. */
export interface RequestTableOptions {
  /** Most requests waiting at once; more are refused with `queue_full`. */
  maxPending: number;
  /** Called when a request to `peerId` times out (liveness accounting). */
  onTimeout(peerId: string): void;
}

/** Requests waiting for replies, matched by ID and asked peer. */
export class RequestTable {
  readonly #pending = new Map<string, Pending>();
  readonly #options: RequestTableOptions;
  /** The shared deadline timer and when it fires (`performance.now()`). */
  #timer: Timer | undefined;
  #timerAt = Infinity;
  #closed = false;

  /**
   * Creates an empty table.
   *
   * @param options Cap and timeout callback.
   */
  constructor(options: RequestTableOptions) {
    this.#options = options;
  }

  /** Requests waiting now. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Registers a request, then sends it on `conn`; resolves with the reply
   * from `peerId` whose `replyTo` is the message's ID.
   *
   * @param peerId The peer asked.
   * @param message The request.
   * @param timeout Milliseconds to wait.
   * @param signal Cancels the wait.
   * @param conn The peer's connection (`undefined`: not connected).
   * @returns The reply.
   */
  add(
    peerId: string,
    message: Message,
    timeout: number,
    signal: AbortSignal | undefined,
    conn: RequestSender | undefined,
  ): Promise<Message> {
    if (this.#pending.size >= this.#options.maxPending) {
      return Promise.reject(
        new TransportError(
          "queue_full",
          "Cannot send request: too many pending requests",
        ),
      );
    }
    if (this.#pending.has(message.id)) {
      return Promise.reject(
        new TypeError(
          `Cannot send request: a request with id ${message.id} is pending`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(aborted(message, signal));
    if (conn === undefined) {
      return Promise.reject(
        new TransportError(
          "not_connected",
          `Cannot send: peer ${peerId} not connected`,
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<Message>();
    const deadline = performance.now() + timeout;
    const entry = new Pending(
      message.id,
      peerId,
      message.type,
      timeout,
      deadline,
      signal,
      conn,
      resolve,
      reject,
    );
    if (signal !== undefined) {
      entry.onAbort = () => this.#reject(entry, aborted(message, signal));
      signal.addEventListener("abort", entry.onAbort, { once: true });
    }
    this.#pending.set(message.id, entry);
    if (deadline < this.#timerAt) this.#arm(deadline);
    const sent = conn.send(message, signal ? { signal } : {});
    if (sent !== RESOLVED) sent.catch((err) => this.#reject(entry, err));
    return promise;
  }

  /**
   * Settles the request a reply answers, when it came from the peer that
   * was asked.
   *
   * @param peerId The peer the message came from.
   * @param message The message (its `replyTo` names the request).
   * @returns `true` when it settled a request.
   */
  settle(peerId: string, message: Message): boolean {
    const id = message.replyTo;
    if (!id) return false;
    const p = this.#pending.get(id);
    if (p === undefined || p.peerId !== peerId) return false;
    this.#remove(p);
    p.resolve(message);
    return true;
  }

  /**
   * Fails every request to a peer (its connection closed).
   *
   * @param peerId The peer.
   */
  failPeer(peerId: string): void {
    for (const [id, p] of this.#pending) {
      if (p.peerId === peerId) {
        this.#reject(
          p,
          new TransportError(
            "connection_closed",
            `Cannot complete request ${id}: connection to peer ${peerId} closed`,
          ),
        );
      }
    }
  }

  /**
   * Fails every request sent on a connection that closed: the answer could
   * only have come on it.
   *
   * @param conn The connection.
   */
  failConnection(conn: RequestSender): void {
    for (const [id, p] of this.#pending) {
      if (p.sender === conn) {
        this.#reject(
          p,
          new TransportError(
            "connection_closed",
            `Cannot complete request ${id}: connection to peer ${p.peerId} closed`,
          ),
        );
      }
    }
  }

  /** Fails every request (the transport stopped) and disarms the timer. */
  failAll(): void {
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      this.#reject(
        p,
        new TransportError(
          "stopped",
          `Cannot complete request ${id}: transport stopped`,
        ),
      );
    }
    this.#pending.clear();
    this.#disarm();
  }

  /** Removes a pending request; false when it was already settled. */
  #remove(p: Pending): boolean {
    if (this.#pending.get(p.id) !== p) return false;
    this.#pending.delete(p.id);
    if (p.onAbort !== undefined) {
      p.signal!.removeEventListener("abort", p.onAbort);
    }
    if (this.#closed && this.#pending.size === 0) this.#disarm();
    return true;
  }

  #reject(p: Pending, err: unknown): void {
    if (this.#remove(p)) p.reject(err);
  }

  /** Arms the shared timer for `deadline` (earlier than the armed one). */
  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(
      () => this.#sweep(),
      Math.max(0, Math.ceil(deadline - performance.now())),
    );
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Times out every overdue request and re-arms for the next deadline. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const p of this.#pending.values()) {
      if (p.deadline <= now) {
        this.#options.onTimeout(p.peerId);
        this.#reject(
          p,
          new TransportError(
            "timeout",
            `Cannot complete request ${p.type} to peer ${p.peerId}: timeout after ${p.timeout} ms`,
          ),
        );
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Infinity && !this.#closed) this.#arm(next);
  }
}

function aborted(message: Message, signal: AbortSignal): TransportError {
  return new TransportError(
    "aborted",
    `Cannot complete request ${message.type}: aborted`,
    { cause: signal.reason },
  );
}
