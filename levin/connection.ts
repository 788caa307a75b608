/**
 * A Levin connection over TCP: framed writes through one queue, a read loop
 * that matches responses to requests in FIFO order, answers requests,
 * delivers notifications, reassembles fragments and drops noise, with read,
 * write and invoke timeouts and monerod's size limits.
 *
 * Spec: `shared/spec/levin.md` §5 and §6.
 *
 * @module
 */

import { getGlobalLogger } from "../logging/mod.ts";
import { LevinError } from "./errors.ts";
import {
  classifyFrame,
  COMMAND_HANDSHAKE,
  decodeHeader,
  encodeFrame,
  FLAG_BEGIN,
  FLAG_END,
  FLAG_REQUEST,
  FLAG_RESPONSE,
  HEADER_SIZE,
  type LevinHeader,
  MAX_PAYLOAD_SIZE,
  MONERO_COMMAND_PAYLOAD_LIMITS,
  PRE_HANDSHAKE_MAX_PAYLOAD_SIZE,
  PROTOCOL_VERSION,
  RETURN_ERR_CONNECTION,
  RETURN_ERR_HANDLER_NOT_DEFINED,
  RETURN_OK,
  RETURN_SUCCESS,
} from "./header.ts";
import { ByteReader, EndOfStream } from "./_reader.ts";
import { dialTcp } from "./_dial.ts";

/**
 * The logging surface the connection uses; `Logger` from
 * `@lthn/p2p/logging` satisfies it.
 */
export interface LevinLogger {
  /** Logs at DEBUG with structured fields. */
  debug(message: string, ...fields: Record<string, unknown>[]): void;
  /** Returns a logger scoped to a component. */
  child(component: string): LevinLogger;
}

/** A received frame. */
export interface LevinFrame {
  /** The decoded header. */
  header: LevinHeader;
  /** The payload (a buffer the receiver owns). */
  payload: Uint8Array<ArrayBuffer>;
}

/** What a request handler answers. */
export interface LevinReply {
  /** Return code; default {@linkcode RETURN_SUCCESS} (1), which daemons require for success. */
  returnCode?: number;
  /** Payload; default empty. */
  payload?: Uint8Array;
}

/**
 * Answers an incoming request. Returning `undefined` answers
 * {@linkcode RETURN_ERR_HANDLER_NOT_DEFINED} (−6) with an empty payload, as
 * monerod does for unknown commands; throwing answers −1 (monerod's reply to
 * an unparsable request), or the error's `returnCode` when it is a
 * {@linkcode LevinError} that has one.
 */
export type LevinRequestHandler = (
  frame: LevinFrame,
  connection: LevinConnection,
) => LevinReply | undefined | Promise<LevinReply | undefined>;

/** Receives a notification (errors it throws are logged and ignored). */
export type LevinNotificationHandler = (
  frame: LevinFrame,
  connection: LevinConnection,
) => void | Promise<void>;

/** Options for {@linkcode LevinConnection}. All times are milliseconds. */
export interface LevinConnectionOptions {
  /** Receive and send cap for any frame after the handshake (default 100 000 000). */
  maxPayloadSize?: number;
  /** Receive cap before the handshake completes (default 262 144, monerod's). */
  preHandshakeMaxPayloadSize?: number;
  /** Per-command caps applied to frames in both directions (default monerod's; pass an empty map to disable). */
  commandPayloadLimits?: ReadonlyMap<number, number>;
  /** Deadline for each received frame, waiting included (default 120 000). */
  readTimeout?: number;
  /** Deadline for writing one frame (default 30 000). */
  writeTimeout?: number;
  /** Default deadline of {@linkcode LevinConnection.invoke} (default 120 000). */
  invokeTimeout?: number;
  /** Cap on our requests awaiting a response (default 64). */
  maxPendingInvokes?: number;
  /** Cap on the peer's requests we have not answered yet (default 64). */
  maxPendingRequests?: number;
  /** Answers the peer's requests (default: every request gets −6). */
  onRequest?: LevinRequestHandler;
  /** Receives the peer's notifications (default: ignored). */
  onNotification?: LevinNotificationHandler;
  /** Logger (default: the global logger); the component is `levin`. */
  logger?: LevinLogger;
}

/** Options for {@linkcode LevinConnection.connect}. */
export interface LevinConnectOptions extends LevinConnectionOptions {
  /** TCP connect deadline in milliseconds (default 5 000, monerod's). */
  connectTimeout?: number;
  /** Aborts the connect attempt. */
  signal?: AbortSignal;
}

/** Options for {@linkcode LevinConnection.invoke}. */
export interface InvokeOptions {
  /** Deadline in milliseconds (default: the connection's `invokeTimeout`). */
  timeout?: number;
  /** Aborts waiting (the request stays sent; its late answer is discarded). */
  signal?: AbortSignal;
}

interface Pending {
  command: number;
  settled: boolean;
  resolve: (frame: LevinFrame) => void;
  reject: (err: LevinError) => void;
  cleanup: () => void;
}

function positive(
  name: string,
  value: number | undefined,
  dflt: number,
): number {
  if (value === undefined || value === 0) return dflt;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot create Levin connection: ${name} must be a positive integer, got ${value}`,
    );
  }
  return value;
}

/**
 * Runs `promise` against a deadline; on expiry calls `onTimeout` (which
 * should close the resource so the promise settles) and rejects.
 */
async function deadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => LevinError,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One Levin connection over a TCP stream.
 *
 * Use it either low-level, with {@linkcode LevinConnection.readFrame} and
 * {@linkcode LevinConnection.writeFrame} (go-p2p's `ReadPacket` /
 * `WritePacket` / `WriteResponse`), or through the dispatcher started by
 * {@linkcode LevinConnection.start} (or the first
 * {@linkcode LevinConnection.invoke}): it answers every request (success is
 * return code 1), delivers notifications, matches responses to our requests
 * in order (a response to another command is a protocol error), and copes
 * with frames the daemon sends unprompted (2010 before the handshake reply, a
 * timed sync every minute).
 *
 * Receive limits: before the handshake completes (a 1001 request answered
 * with a positive code, or a positive 1001 response received, or
 * {@linkcode LevinConnection.markHandshaked}) every frame is capped at 256 KiB,
 * afterwards at `maxPayloadSize`; per-command caps apply on top.
 *
 * @example Ping over loopback
 * ```ts
 * import { COMMAND_PING, encodeStorage, LevinConnection } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const served = (async () => {
 *   const server = new LevinConnection(await listener.accept(), {
 *     onRequest: (frame) => ({ payload: frame.payload }),
 *   });
 *   server.start();
 *   return server;
 * })();
 * const client = await LevinConnection.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const reply = await client.invoke(COMMAND_PING, encodeStorage(new Map()));
 * assert.equal(reply.header.returnCode, 1);
 * await client.close();
 * await (await served).close();
 * listener.close();
 * ```
 */
export class LevinConnection {
  #conn: Deno.Conn;
  #reader: ByteReader;
  #log: LevinLogger;
  #maxPayload: number;
  #preHandshakeMax: number;
  #commandLimits: ReadonlyMap<number, number>;
  #readTimeout: number;
  #writeTimeout: number;
  #invokeTimeout: number;
  #maxPendingInvokes: number;
  #maxPendingRequests: number;
  #onRequest: LevinRequestHandler | undefined;
  #onNotification: LevinNotificationHandler | undefined;

  #handshaked = false;
  #started = false;
  #loop: Promise<void> = Promise.resolve();
  #reading = false;
  #writeChain: Promise<void> = Promise.resolve();
  #inflightWrite: Promise<unknown> = Promise.resolve();
  #responseChain: Promise<void> = Promise.resolve();
  #pending: Pending[] = [];
  #unanswered = 0;
  #fragments: Uint8Array[] | undefined;
  #fragmentBytes = 0;
  #closeReason: LevinError | undefined;
  #closedResolve!: (reason: LevinError) => void;
  #closed: Promise<LevinError>;

  /**
   * Wraps an open TCP connection.
   *
   * @param conn The connection (owned from now on; closed by {@linkcode LevinConnection.close}).
   * @param options Limits, timeouts and handlers.
   * @throws {RangeError} When a limit or timeout is not a positive integer.
   */
  constructor(conn: Deno.Conn, options: LevinConnectionOptions = {}) {
    this.#conn = conn;
    this.#reader = new ByteReader(conn);
    this.#log = (options.logger ?? getGlobalLogger()).child("levin");
    this.#maxPayload = positive(
      "maxPayloadSize",
      options.maxPayloadSize,
      MAX_PAYLOAD_SIZE,
    );
    this.#preHandshakeMax = positive(
      "preHandshakeMaxPayloadSize",
      options.preHandshakeMaxPayloadSize,
      PRE_HANDSHAKE_MAX_PAYLOAD_SIZE,
    );
    this.#commandLimits = options.commandPayloadLimits ??
      MONERO_COMMAND_PAYLOAD_LIMITS;
    this.#readTimeout = positive("readTimeout", options.readTimeout, 120_000);
    this.#writeTimeout = positive("writeTimeout", options.writeTimeout, 30_000);
    this.#invokeTimeout = positive(
      "invokeTimeout",
      options.invokeTimeout,
      120_000,
    );
    this.#maxPendingInvokes = positive(
      "maxPendingInvokes",
      options.maxPendingInvokes,
      64,
    );
    this.#maxPendingRequests = positive(
      "maxPendingRequests",
      options.maxPendingRequests,
      64,
    );
    this.#onRequest = options.onRequest;
    this.#onNotification = options.onNotification;
    this.#closed = new Promise((resolve) => {
      this.#closedResolve = resolve;
    });
  }

  /**
   * Opens a TCP connection and wraps it.
   *
   * @param address Host and port of the peer.
   * @param options Connect deadline, abort signal and connection options.
   * @returns The connection (dispatcher not started yet).
   * @throws {LevinError} `timeout` after `connectTimeout`, `aborted` when the signal fires.
   * @throws {Deno.errors.ConnectionRefused} And other connect errors, unchanged.
   *
   * @example Connecting to a closed port fails
   * ```ts
   * import { LevinConnection } from "@lthn/p2p/levin";
   * import assert from "node:assert/strict";
   *
   * const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const port = l.addr.port;
   * l.close();
   * await assert.rejects(LevinConnection.connect({ hostname: "127.0.0.1", port }));
   * ```
   */
  static async connect(
    address: { hostname: string; port: number },
    options: LevinConnectOptions = {},
  ): Promise<LevinConnection> {
    const timeout = positive("connectTimeout", options.connectTimeout, 5_000);
    const conn = await dialTcp(address, { timeout, signal: options.signal });
    return new LevinConnection(conn, options);
  }

  /** The peer's address. */
  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  /** Whether the handshake has completed (raises the receive cap). */
  get handshaked(): boolean {
    return this.#handshaked;
  }

  /** Whether the connection is closing or closed. */
  get isClosed(): boolean {
    return this.#closeReason !== undefined;
  }

  /** Resolves (never rejects) with the reason once the connection closes. */
  get closed(): Promise<LevinError> {
    return this.#closed;
  }

  /** Marks the handshake as complete (done automatically for command 1001). */
  markHandshaked(): void {
    this.#handshaked = true;
  }

  #limitFor(command: number, general: number): number {
    const c = this.#commandLimits.get(command);
    return c !== undefined && c < general ? c : general;
  }

  /**
   * Writes one frame (header and payload in one write, never interleaved
   * with another frame).
   *
   * @param fields Header fields other than the payload size.
   * @param payload The payload.
   * @returns Resolves once written.
   * @throws {LevinError} `payload_too_big` above the send cap, `timeout`
   *   after `writeTimeout` (the connection is then closed),
   *   `connection_closed`.
   * @throws {RangeError} When a header field is out of range.
   */
  writeFrame(
    fields: {
      command: number;
      expectResponse?: boolean;
      returnCode?: number;
      flags?: number;
    },
    payload: Uint8Array,
  ): Promise<void> {
    const limit = this.#limitFor(fields.command, this.#maxPayload);
    if (payload.length > limit) {
      return Promise.reject(
        new LevinError(
          "payload_too_big",
          `Cannot send Levin frame: payload of ${payload.length} bytes exceeds the limit of ${limit} for command ${fields.command}`,
        ),
      );
    }
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = encodeFrame(
        { ...fields, protocolVersion: PROTOCOL_VERSION },
        payload,
      );
    } catch (e) {
      return Promise.reject(e);
    }
    const p = this.#writeChain.then(() => this.#writeAll(bytes));
    this.#writeChain = p.catch(() => {});
    return p;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    if (this.#closeReason) throw this.#closeReason;
    const write = async () => {
      let off = 0;
      while (off < bytes.length) {
        const w = this.#conn.write(bytes.subarray(off));
        this.#inflightWrite = w.catch(() => 0);
        off += await w;
      }
    };
    try {
      await deadline(write(), this.#writeTimeout, () => {
        const err = new LevinError(
          "timeout",
          `Cannot send Levin frame: not written within ${this.#writeTimeout} ms`,
        );
        this.#shutdown(err);
        return err;
      });
    } catch (e) {
      if (e instanceof LevinError) throw e;
      const err = this.#closeReason ??
        new LevinError(
          "connection_closed",
          "Cannot send Levin frame: the connection failed",
          {
            cause: e,
          },
        );
      this.#shutdown(err);
      throw err;
    }
  }

  /**
   * Sends a notification (expect-response 0, flags Q).
   *
   * @param command The command id.
   * @param payload The payload.
   * @returns Resolves once written.
   * @throws {LevinError} As {@linkcode LevinConnection.writeFrame}.
   */
  notify(command: number, payload: Uint8Array): Promise<void> {
    return this.writeFrame({ command, flags: FLAG_REQUEST }, payload);
  }

  /**
   * Reads one frame (low-level; not available once the dispatcher runs).
   * The whole frame must arrive within `readTimeout`; the announced size is
   * checked against the limits before the payload is read.
   *
   * @returns The frame.
   * @throws {LevinError} `bad_signature`, `payload_too_big`, `timeout` or
   *   `connection_closed` (the connection is closed on each of these).
   * @throws {TypeError} When the dispatcher owns the connection or another read is pending.
   */
  readFrame(): Promise<LevinFrame> {
    if (this.#started) {
      throw new TypeError(
        "Cannot read Levin frame: the dispatcher owns the connection",
      );
    }
    return this.#readOne();
  }

  async #readOne(): Promise<LevinFrame> {
    if (this.#reading) {
      throw new TypeError("Cannot read Levin frame: another read is pending");
    }
    if (this.#closeReason) throw this.#closeReason;
    this.#reading = true;
    try {
      return await deadline(this.#readFrameBytes(), this.#readTimeout, () => {
        const err = new LevinError(
          "timeout",
          `Cannot read Levin frame: nothing complete within ${this.#readTimeout} ms`,
        );
        this.#shutdown(err);
        return err;
      });
    } catch (e) {
      const err = e instanceof LevinError
        ? e
        : this.#closeReason ?? new LevinError(
          "connection_closed",
          "Cannot read Levin frame: the connection failed",
          { cause: e },
        );
      this.#shutdown(err);
      throw err;
    } finally {
      this.#reading = false;
    }
  }

  async #readFrameBytes(): Promise<LevinFrame> {
    let head: Uint8Array;
    try {
      head = await this.#reader.readExact(HEADER_SIZE);
    } catch (e) {
      throw this.#eof(e, "header");
    }
    const header = decodeHeader(head, {
      maxPayloadSize: Number.MAX_SAFE_INTEGER,
    });
    const general = this.#handshaked ? this.#maxPayload : this.#preHandshakeMax;
    const limit = this.#limitFor(header.command, general);
    if (header.payloadSize > limit) {
      throw new LevinError(
        "payload_too_big",
        `Cannot read Levin frame: payload of ${header.payloadSize} bytes exceeds the limit of ${limit} for command ${header.command}`,
        { offset: 8 },
      );
    }
    let payload: Uint8Array<ArrayBuffer>;
    try {
      payload = await this.#reader.readExact(header.payloadSize);
    } catch (e) {
      throw this.#eof(e, "payload");
    }
    return { header, payload };
  }

  #eof(e: unknown, where: string): LevinError {
    if (this.#closeReason) return this.#closeReason;
    if (e instanceof EndOfStream) {
      return new LevinError(
        "connection_closed",
        e.received === 0 && where === "header"
          ? "Cannot read Levin frame: the peer closed the connection"
          : `Cannot read Levin frame: the peer closed the connection inside a frame ${where}`,
      );
    }
    return new LevinError(
      "connection_closed",
      "Cannot read Levin frame: the connection failed",
      {
        cause: e,
      },
    );
  }

  /**
   * Starts the dispatcher (idempotent): from now on every frame is handled
   * by the connection until it closes.
   *
   * @throws {TypeError} When a low-level read is pending.
   */
  start(): void {
    if (this.#started) return;
    if (this.#reading) {
      throw new TypeError(
        "Cannot start the Levin dispatcher: a read is pending",
      );
    }
    this.#started = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#closeReason) {
      let frame: LevinFrame;
      try {
        frame = await this.#readOne();
      } catch {
        return; // #readOne has shut the connection down
      }
      try {
        this.#dispatch(frame, false);
      } catch (e) {
        this.#shutdown(
          e instanceof LevinError
            ? e
            : new LevinError("protocol_error", "Cannot handle Levin frame", {
              cause: e,
            }),
        );
        return;
      }
    }
  }

  #dispatch(frame: LevinFrame, reassembled: boolean): void {
    const { header } = frame;
    const kind = classifyFrame(header);
    switch (kind) {
      case "noise":
        return;
      case "fragment":
        if (reassembled) {
          throw new LevinError(
            "protocol_error",
            "Cannot handle Levin frame: a fragment inside a fragment",
          );
        }
        this.#fragment(frame);
        return;
      case "response":
        this.#response(frame);
        return;
      case "request":
        this.#request(frame);
        return;
      default:
        this.#notification(frame);
    }
  }

  #fragment(frame: LevinFrame): void {
    const { flags } = frame.header;
    if ((flags & FLAG_BEGIN) !== 0 || this.#fragments === undefined) {
      this.#fragments = [];
      this.#fragmentBytes = 0;
    }
    this.#fragmentBytes += frame.payload.length;
    const general = this.#handshaked ? this.#maxPayload : this.#preHandshakeMax;
    if (this.#fragmentBytes > general + HEADER_SIZE) {
      throw new LevinError(
        "payload_too_big",
        `Cannot reassemble Levin fragments: more than ${general} bytes`,
      );
    }
    this.#fragments.push(frame.payload);
    if ((flags & FLAG_END) === 0) return;
    const whole = new Uint8Array(this.#fragmentBytes);
    let at = 0;
    for (const part of this.#fragments) {
      whole.set(part, at);
      at += part.length;
    }
    this.#fragments = undefined;
    this.#fragmentBytes = 0;
    let header: LevinHeader;
    try {
      header = decodeHeader(whole, { maxPayloadSize: general });
    } catch (e) {
      throw new LevinError(
        "protocol_error",
        "Cannot reassemble Levin fragments: bad inner frame",
        {
          cause: e,
        },
      );
    }
    if (header.payloadSize !== whole.length - HEADER_SIZE) {
      throw new LevinError(
        "protocol_error",
        `Cannot reassemble Levin fragments: inner frame announces ${header.payloadSize} bytes, ${
          whole.length - HEADER_SIZE
        } present`,
      );
    }
    const limit = this.#limitFor(header.command, general);
    if (header.payloadSize > limit) {
      throw new LevinError(
        "payload_too_big",
        `Cannot reassemble Levin fragments: payload exceeds the limit of ${limit} for command ${header.command}`,
      );
    }
    this.#dispatch({ header, payload: whole.slice(HEADER_SIZE) }, true);
  }

  #response(frame: LevinFrame): void {
    const pending = this.#pending.shift();
    if (pending === undefined) {
      this.#log.debug("unexpected levin response dropped", {
        command: frame.header.command,
      });
      return;
    }
    if (pending.command !== frame.header.command) {
      const err = new LevinError(
        "protocol_error",
        `Cannot match Levin response: command ${frame.header.command} answers a ${pending.command} request`,
      );
      if (!pending.settled) pending.reject(err);
      throw err;
    }
    if (pending.settled) return;
    const rc = frame.header.returnCode;
    if (rc > 0) {
      if (frame.header.command === COMMAND_HANDSHAKE) this.#handshaked = true;
      pending.resolve(frame);
    } else {
      pending.reject(
        new LevinError(
          "request_failed",
          `Cannot complete Levin request ${pending.command}: the peer answered return code ${rc}`,
          { returnCode: rc },
        ),
      );
    }
  }

  #request(frame: LevinFrame): void {
    if (this.#unanswered >= this.#maxPendingRequests) {
      throw new LevinError(
        "protocol_error",
        `Cannot accept Levin request: more than ${this.#maxPendingRequests} unanswered requests`,
      );
    }
    this.#unanswered++;
    const command = frame.header.command;
    const handler = this.#onRequest;
    const result: Promise<LevinReply | undefined> = Promise.resolve().then(() =>
      handler === undefined ? undefined : handler(frame, this)
    );
    result.catch(() => {});
    // Responses leave in the order the requests arrived.
    this.#responseChain = this.#responseChain.then(async () => {
      let reply: LevinReply;
      try {
        reply = (await result) ?? {
          returnCode: RETURN_ERR_HANDLER_NOT_DEFINED,
        };
      } catch (e) {
        this.#log.debug("levin request handler failed", {
          command,
          error: e instanceof Error ? e.message : String(e),
        });
        reply = {
          returnCode: e instanceof LevinError && e.returnCode !== undefined
            ? e.returnCode
            : RETURN_ERR_CONNECTION,
        };
      }
      const returnCode = reply.returnCode ?? RETURN_SUCCESS;
      try {
        await this.writeFrame(
          { command, flags: FLAG_RESPONSE, returnCode, expectResponse: false },
          reply.payload ?? new Uint8Array(0),
        );
        if (command === COMMAND_HANDSHAKE && returnCode > 0) {
          this.#handshaked = true;
        }
      } catch (e) {
        this.#log.debug("levin response not sent", {
          command,
          error: e instanceof Error ? e.message : String(e),
        });
      } finally {
        this.#unanswered--;
      }
    });
  }

  #notification(frame: LevinFrame): void {
    const handler = this.#onNotification;
    if (handler === undefined) return;
    Promise.resolve().then(() => handler(frame, this)).catch((e) => {
      this.#log.debug("levin notification handler failed", {
        command: frame.header.command,
        error: e instanceof Error ? e.message : String(e),
      });
    });
  }

  /**
   * Sends a request and resolves with its response. Starts the dispatcher
   * if needed. Responses are matched in FIFO order; a request that timed out
   * or was aborted keeps its place so its late answer is discarded.
   *
   * @param command The command id.
   * @param payload The request payload.
   * @param options Deadline and abort signal.
   * @returns The response frame (return code > 0).
   * @throws {LevinError} `request_failed` (with `returnCode`) when the peer
   *   answers ≤ 0, `timeout`, `aborted`, `connection_closed`, `protocol_error`
   *   (too many pending requests, or a response to another command),
   *   `payload_too_big`.
   */
  invoke(
    command: number,
    payload: Uint8Array,
    options: InvokeOptions = {},
  ): Promise<LevinFrame> {
    if (this.#closeReason) return Promise.reject(this.#closeReason);
    if (this.#pending.length >= this.#maxPendingInvokes) {
      return Promise.reject(
        new LevinError(
          "protocol_error",
          `Cannot send Levin request: ${this.#pending.length} requests still await a response`,
        ),
      );
    }
    const timeout = positive("timeout", options.timeout, this.#invokeTimeout);
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(
        new LevinError(
          "aborted",
          `Cannot send Levin request ${command}: aborted`,
        ),
      );
    }
    this.start();
    return new Promise<LevinFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle(() =>
          reject(
            new LevinError(
              "timeout",
              `Levin request ${command} got no response within ${timeout} ms`,
            ),
          )
        );
      }, timeout);
      const onAbort = () => {
        settle(() =>
          reject(new LevinError("aborted", `Levin request ${command} aborted`))
        );
      };
      const entry: Pending = {
        command,
        settled: false,
        resolve: (f) => settle(() => resolve(f)),
        reject: (e) => settle(() => reject(e)),
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      const settle = (fn: () => void) => {
        if (entry.settled) return;
        entry.settled = true;
        entry.cleanup();
        fn();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.push(entry);
      this.writeFrame(
        {
          command,
          flags: FLAG_REQUEST,
          expectResponse: true,
          returnCode: RETURN_OK,
        },
        payload,
      ).catch((e) => {
        const i = this.#pending.indexOf(entry);
        if (i >= 0) this.#pending.splice(i, 1);
        entry.reject(
          e instanceof LevinError
            ? e
            : new LevinError("connection_closed", String(e)),
        );
      });
    });
  }

  #shutdown(reason: LevinError): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.reject(reason);
    this.#closedResolve(reason);
  }

  /**
   * Closes the connection: pending requests reject with `connection_closed`,
   * the dispatcher stops, and the promise resolves once no socket operation
   * is left running. Idempotent.
   *
   * @returns Resolves when closed.
   */
  async close(): Promise<void> {
    this.#shutdown(
      new LevinError("connection_closed", "Levin connection closed locally"),
    );
    await this.#loop;
    await this.#reader.idle;
    await this.#writeChain;
    await this.#inflightWrite;
  }
}
