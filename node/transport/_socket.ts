/**
 * The frame-level socket the transport talks to: one interface over both the
 * server side (Deno's `WebSocket` from `Deno.upgradeWebSocket`) and the
 * dialling side (our RFC 6455 client with `TCP_NODELAY`, see `_ws_client.ts`).
 *
 * @module
 */

type Timer = ReturnType<typeof setTimeout>;

/** What a socket reports to its owner. */
export interface FrameHandlers {
  /** A complete text message. */
  onText(text: string): void;
  /**
   * A complete binary message. The bytes are only valid during the call
   * (the client reuses its read buffer); copy what you keep.
   */
  onBinary(data: Uint8Array): void;
  /** The socket is closed (called once). 1006 means no close frame. */
  onClose(code: number, reason: string): void;
  /** A message above the size limit arrived; the socket closes with 1009. */
  onTooLarge?(): void;
  /**
   * Queued frames were just handed to the kernel and the socket is waiting:
   * idle time for work the next send can use. Only sockets that write
   * synchronously call it (the dialling client); it must not throw.
   */
  onWritten?(): void;
}

/** A message-oriented WebSocket with back-pressure. */
export interface FrameSocket {
  /** `host:port` of the remote end, for logs. */
  readonly remoteAddress: string;
  /** Bytes queued for writing and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Whether the socket is closed or closing. */
  readonly closed: boolean;
  /** Resolves once the socket is fully torn down (no pending I/O). */
  readonly done: Promise<void>;
  /**
   * Installs the handlers; messages received earlier are delivered now.
   *
   * @param handlers The handlers.
   */
  setHandlers(handlers: FrameHandlers): void;
  /**
   * Queues one text message.
   *
   * @param text The text.
   */
  sendText(text: string): void;
  /**
   * Queues one binary message. The socket copies or consumes the bytes
   * before returning control to the event loop; the caller may not reuse
   * them afterwards.
   *
   * @param data The bytes.
   */
  sendBinary(data: Uint8Array): void;
  /**
   * Resolves once at most `limit` bytes are queued, or the socket closed.
   *
   * @param limit The low-water mark in bytes.
   * @returns Resolves when drained.
   */
  waitForDrain(limit: number): Promise<void>;
  /**
   * Changes the largest accepted message (the limit before a handshake is
   * smaller than after it).
   *
   * @param bytes The new limit.
   */
  setMaxMessageSize(bytes: number): void;
  /**
   * Closes the socket with a close frame (or abruptly when `code` is 1006).
   *
   * @param code WebSocket close code.
   * @param reason Close reason.
   */
  close(code?: number, reason?: string): void;
}

/** Options of {@linkcode ServerSocket}. */
export interface ServerSocketOptions {
  /** Largest accepted message in bytes; bigger ones close with 1009. */
  maxMessageSize: number;
  /** `host:port` of the client. */
  remoteAddress: string;
}

/**
 * Adapts a server-side Deno `WebSocket` (the `Transport.handleRequest`
 * path, mounted in a `Deno.serve` application) to {@linkcode FrameSocket}.
 * Back-pressure uses `bufferedAmount`; Deno offers no drain event, so a
 * waiter polls on a short timer, only while above its low-water mark. Deno
 * buffers a whole message before `onmessage`, so the size limit here bounds
 * what we process, not what Deno reads; and Deno cannot drop the TCP
 * connection of an upgraded socket, so every close is a close handshake.
 */
export class ServerSocket implements FrameSocket {
  readonly remoteAddress: string;
  readonly done: Promise<void>;
  readonly #ws: WebSocket;
  #max: number;
  #handlers: FrameHandlers | undefined;
  #early: (string | Uint8Array)[] = [];
  #closed = false;
  #closeInfo: [number, string] | undefined;
  #resolveDone!: () => void;
  #drainTimer: Timer | undefined;
  #drainWaiters: { limit: number; resolve: () => void }[] = [];

  /**
   * Wraps a WebSocket returned by `Deno.upgradeWebSocket`.
   *
   * @param ws The socket (not yet open is fine).
   * @param options Limits and the remote address.
   */
  constructor(ws: WebSocket, options: ServerSocketOptions) {
    this.#ws = ws;
    this.#max = options.maxMessageSize;
    this.remoteAddress = options.remoteAddress;
    this.done = new Promise((r) => (this.#resolveDone = r));
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev: MessageEvent) => this.#onMessage(ev.data);
    ws.onclose = (ev: CloseEvent) => this.#onClose(ev.code, ev.reason);
    ws.onerror = () => {/* a close event follows */};
  }

  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#ws.bufferedAmount;
  }

  get closed(): boolean {
    return this.#closed;
  }

  setHandlers(handlers: FrameHandlers): void {
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    for (const m of early) {
      if (typeof m === "string") handlers.onText(m);
      else handlers.onBinary(m);
    }
    if (this.#closeInfo !== undefined) {
      handlers.onClose(this.#closeInfo[0], this.#closeInfo[1]);
    }
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    const size = typeof data === "string"
      ? data.length // UTF-16 units <= UTF-8 bytes * 1; checked again below
      : (data as ArrayBuffer).byteLength;
    if (size > this.#max) {
      this.#handlers?.onTooLarge?.();
      this.close(1009, "message too big");
      return;
    }
    const h = this.#handlers;
    if (typeof data === "string") {
      if (h) h.onText(data);
      else this.#early.push(data);
    } else {
      const bytes = new Uint8Array(data as ArrayBuffer);
      if (h) h.onBinary(bytes);
      else this.#early.push(bytes);
    }
  }

  #onClose(code: number, reason: string): void {
    if (this.#closeInfo !== undefined) return;
    this.#closeInfo = [code, reason];
    this.#closed = true;
    this.#releaseDrain();
    this.#resolveDone();
    this.#handlers?.onClose(code, reason);
  }

  setMaxMessageSize(bytes: number): void {
    this.#max = bytes;
  }

  sendText(text: string): void {
    if (!this.#closed) this.#ws.send(text);
  }

  sendBinary(data: Uint8Array): void {
    if (!this.#closed) this.#ws.send(data as Uint8Array<ArrayBuffer>);
  }

  waitForDrain(limit: number): Promise<void> {
    if (this.#closed || this.#ws.bufferedAmount <= limit) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#drainWaiters.push({ limit, resolve });
      this.#schedulePoll();
    });
  }

  #schedulePoll(): void {
    if (this.#drainTimer !== undefined) return;
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      const buffered = this.#ws.bufferedAmount;
      this.#drainWaiters = this.#drainWaiters.filter((w) => {
        if (buffered > w.limit) return true;
        w.resolve();
        return false;
      });
      if (this.#drainWaiters.length > 0 && !this.#closed) this.#schedulePoll();
    }, 1);
  }

  #releaseDrain(): void {
    if (this.#drainTimer !== undefined) {
      clearTimeout(this.#drainTimer);
      this.#drainTimer = undefined;
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#releaseDrain();
    try {
      // Deno cannot drop the TCP connection of an upgraded socket without a
      // close frame; 1006 is not sendable, so use 1000 for "abrupt" closes.
      this.#ws.close(code === 1006 ? 1000 : code, reason);
    } catch {
      // already closing
    }
  }
}
