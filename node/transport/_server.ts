/**
 * The transport's own listener: HTTP/1.1 upgrade and WebSocket frames over
 * `Deno.listen`/`Deno.listenTls`, built so that nothing an unauthenticated
 * party sends is unbounded in time or memory.
 *
 * `Deno.serve` has no header or read timeout (a socket that sends half a
 * request head is held forever) and its accept loop ends the process with
 * an uncaught error when descriptors run out; neither can be fixed from a
 * handler. Here:
 *
 * - every accepted connection takes a place in the unproven quota
 *   (`_admission.ts`) before anything is read, so displaced and timed-out
 *   connections bound the descriptors we hold;
 * - the TLS handshake and the request head must complete within
 *   `upgradeTimeout`, and the head is capped at `maxHeadBytes` (431);
 * - admission is Go's (404 off the path, 503 at capacity, the upgrade
 *   checks and origin rule) with Go's response bytes;
 * - after the 101 the socket is a {@linkcode WebSocketConn} whose frame
 *   limit is 64 KiB, checked at each frame header, until the transport
 *   raises it after a successful handshake;
 * - accept failures (EMFILE, ENFILE, …) are counted, logged and survived:
 *   out of descriptors, the least advanced unproven connection is given up
 *   and the accept retried at once; otherwise the loop backs off (10 ms
 *   doubling to 1 s).
 *
 * @module
 */

import type { Logger } from "../../logging/mod.ts";
import {
  type Admission,
  type AdmissionTicket,
  PHASE_HANDSHAKE,
} from "./_admission.ts";
import type { TransportCounters } from "./_counters.ts";
import {
  checkUpgrade,
  goErrorResponse,
  HttpHeadError,
  readRequestHead,
  switchingProtocols,
} from "./_http.ts";
import { WebSocketConn } from "./_ws_frames.ts";

type Timer = ReturnType<typeof setTimeout>;

/** What the listener learns about an upgraded connection. */
export interface UpgradedRequest {
  /** `host:port` of the remote end. */
  remote: string;
  /** The request headers. */
  headers: Headers;
  /** Its place in the unproven quota (now in the handshake phase). */
  ticket: AdmissionTicket;
}

/** What the listener asks its owner. */
export interface ListenerHost {
  /**
   * After a head on the WebSocket path: `capacity` or `stopped` answers
   * 503 (Go's `MaxConns` rule), `ok` goes on with the upgrade checks.
   */
  admit(): "ok" | "capacity" | "stopped";
  /** A connection was upgraded; the owner runs the handshake on it. */
  upgraded(socket: WebSocketConn, request: UpgradedRequest): void;
}

/** Options of {@linkcode PeerListener.listen}. */
export interface PeerListenerOptions {
  /** Address to bind (`""`: every address, IPv6 and IPv4). */
  hostname: string;
  /** Port (0 picks one). */
  port: number;
  /** PEM certificate and key for TLS. */
  tls?: { cert: string; key: string };
  /** The WebSocket path. */
  wsPath: string;
  /** Budget from accept to the 101 (TLS handshake and request head). */
  upgradeTimeout: number;
  /** Largest request head in bytes. */
  maxHeadBytes: number;
  /** Frame limit until the handshake succeeds. */
  handshakeMaxBytes: number;
  /** Wait for the peer's answer to our close frame. */
  closeTimeout: number;
  /** Extra headers on the 101 response. */
  responseHeaders: [string, string][];
  /** The unproven quota. */
  admission: Admission;
  /** The transport's counters. */
  counters: TransportCounters;
  /** Logger. */
  logger: Logger;
  /** The owner. */
  host: ListenerHost;
}

function formatAddr(a: Deno.NetAddr): string {
  return a.hostname.includes(":")
    ? `[${a.hostname}]:${a.port}`
    : `${a.hostname}:${a.port}`;
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

let prepared = false;

/**
 * Deno 2.9 sets up its signal machinery (a socket pair) lazily, the first
 * time a signal handler is registered, and panics if no descriptor is free
 * at that moment; under a descriptor-exhaustion attack that moment can come
 * from inside the runtime while the accept loop is at the limit (reproduced:
 * a listener cycling through EMFILE panics the process in
 * `ext/signals/lib.rs`). Registering and removing a no-op handler once,
 * while descriptors are free, sets the machinery up ahead of time.
 */
function prepareForDescriptorExhaustion(): void {
  if (prepared || Deno.build.os === "windows") return;
  prepared = true;
  try {
    const noop = () => {};
    Deno.addSignalListener("SIGWINCH", noop);
    Deno.removeSignalListener("SIGWINCH", noop);
  } catch {
    // not available here; nothing to prepare
  }
}

/** Accept back-off bounds in milliseconds. */
const BACKOFF_MIN = 10;
const BACKOFF_MAX = 1_000;
/** At most one accept-error log line per this many milliseconds. */
const ACCEPT_LOG_INTERVAL = 10_000;
/** How long a refused request's connection lingers for the peer to read. */
const LINGER_MS = 500;

/** The listening socket and its accept loop. */
export class PeerListener {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.Listener;
  readonly #o: PeerListenerOptions;
  readonly #log: Logger;
  readonly #tls: boolean;
  /** Connections still reading their head (closed by `close`). */
  readonly #heads = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #closed = false;
  #wake: (() => void) | undefined;
  #acceptErrors = 0;
  #lastAcceptLog = -Infinity;

  private constructor(listener: Deno.Listener, options: PeerListenerOptions) {
    this.#listener = listener;
    this.#o = options;
    this.#log = options.logger;
    this.#tls = options.tls !== undefined;
    this.addr = listener.addr as Deno.NetAddr;
    this.#loop = this.#acceptLoop();
  }

  /**
   * Binds and starts accepting.
   *
   * @param options Address, limits, quota and owner.
   * @returns The listener.
   * @throws {Deno.errors.AddrInUse} And other bind errors.
   */
  static listen(options: PeerListenerOptions): PeerListener {
    prepareForDescriptorExhaustion();
    const bind = (hostname: string): Deno.Listener =>
      options.tls !== undefined
        ? Deno.listenTls({
          hostname,
          port: options.port,
          cert: options.tls.cert,
          key: options.tls.key,
        })
        : Deno.listen({ hostname, port: options.port });
    let listener: Deno.Listener;
    if (options.hostname !== "") listener = bind(options.hostname);
    else {
      // No host, as Go's ":9091": every address, IPv6 and IPv4 (a "::"
      // socket takes both on Linux and macOS); IPv4 only where the
      // machine has no IPv6.
      try {
        listener = bind("::");
      } catch (err) {
        if (err instanceof Deno.errors.AddrInUse) throw err;
        listener = bind("0.0.0.0");
      }
    }
    return new PeerListener(listener, options);
  }

  /**
   * Stops accepting, drops connections still in their request head and
   * waits for their handlers. Upgraded sockets belong to the owner.
   *
   * @returns Resolves once the listener is closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#listener);
    this.#wake?.();
    for (const c of this.#heads) closeQuietly(c);
    await this.#loop;
    await Promise.allSettled([...this.#tasks]);
  }

  async #acceptLoop(): Promise<void> {
    let backoff = 0;
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed) break;
        this.#acceptFailed(err);
        // Out of descriptors: the unproven connections are the ones an
        // attacker can make us hold, so give one up and accept again at
        // once, instead of leaving every newcomer queued behind them.
        const code = (err as { code?: unknown })?.code;
        if (
          (code === "EMFILE" || code === "ENFILE") && this.#o.admission.shed()
        ) {
          backoff = 0;
          await new Promise((r) => setTimeout(r, 0));
          continue;
        }
        backoff = Math.min(Math.max(backoff * 2, BACKOFF_MIN), BACKOFF_MAX);
        await new Promise<void>((r) => {
          const t = setTimeout(r, backoff);
          this.#wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.#wake = undefined;
        continue;
      }
      backoff = 0;
      if (this.#closed) {
        closeQuietly(conn);
        break;
      }
      const task = this.#serve(conn);
      this.#tasks.add(task);
      void task.finally(() => this.#tasks.delete(task));
    }
  }

  #acceptFailed(err: unknown): void {
    this.#o.counters.guard.accept_error++;
    this.#acceptErrors++;
    const now = performance.now();
    if (now - this.#lastAcceptLog >= ACCEPT_LOG_INTERVAL) {
      this.#lastAcceptLog = now;
      this.#log.error("accepting a connection failed; backing off", {
        error: String((err as Error)?.message ?? err).slice(0, 200),
        code: String((err as { code?: unknown })?.code ?? ""),
        failures: this.#acceptErrors,
      });
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const o = this.#o;
    const counters = o.counters;
    const ra = conn.remoteAddr as Deno.NetAddr;
    const remote = formatAddr(ra);
    const ticket = o.admission.admit(ra.hostname, () => closeQuietly(conn));
    this.#heads.add(conn);
    let timedOut = false;
    let upgraded = false;
    let timer: Timer | undefined = setTimeout(() => {
      timer = undefined;
      timedOut = true;
      closeQuietly(conn);
    }, o.upgradeTimeout);
    try {
      if (!this.#tls) {
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          // closed already
        }
      }
      let read;
      try {
        read = await readRequestHead(conn, o.maxHeadBytes);
      } catch (err) {
        if (err instanceof HttpHeadError) {
          counters.handshakeFailed("inbound", "bad_request");
          if (err.response !== undefined) {
            await this.#refuse(conn, err.response);
          }
        } else if (timedOut) {
          counters.handshakeFailed("inbound", "upgrade_timeout");
        }
        return;
      }
      if (read === null) {
        if (timedOut) counters.handshakeFailed("inbound", "upgrade_timeout");
        return;
      }
      const { head, rest } = read;
      if (head.path !== o.wsPath) {
        counters.handshakeFailed("inbound", "bad_request");
        await this.#refuse(
          conn,
          goErrorResponse({ status: 404, text: "404 page not found" }, false),
        );
        return;
      }
      const admitted = o.host.admit();
      if (admitted !== "ok") {
        counters.handshakeFailed("inbound", admitted);
        await this.#refuse(
          conn,
          goErrorResponse({ status: 503, text: "Too many connections" }, false),
        );
        return;
      }
      const refusal = checkUpgrade(head.method, head.headers);
      if (refusal !== undefined) {
        counters.handshakeFailed("inbound", "bad_request");
        await this.#refuse(conn, goErrorResponse(refusal, true));
        return;
      }
      await writeAll(
        conn,
        switchingProtocols(
          head.headers.get("sec-websocket-key")!,
          o.responseHeaders,
        ),
      );
      if (!ticket.held || timedOut || this.#closed) return;
      clearTimeout(timer);
      timer = undefined;
      ticket.advance(PHASE_HANDSHAKE);
      const socket = new WebSocketConn(conn, rest, {
        role: "server",
        maxMessageSize: o.handshakeMaxBytes,
        remoteAddress: remote,
        closeTimeout: o.closeTimeout,
        // Enough for a handshake frame; grows when a frame needs more.
        initialBufferBytes: 4 * 1024,
        onCloseTimeout: () => counters.guard.close_timeout++,
      });
      ticket.onEvict(() => socket.close(1006, "displaced"));
      void socket.done.then(() => ticket.release());
      upgraded = true;
      this.#heads.delete(conn);
      o.host.upgraded(socket, { remote, headers: head.headers, ticket });
    } catch {
      // reset, closed by the deadline, displaced or shut down
    } finally {
      clearTimeout(timer);
      this.#heads.delete(conn);
      if (!upgraded) {
        ticket.release();
        closeQuietly(conn);
      }
    }
  }

  /**
   * Writes a refusal, half-closes, and lets the peer read it before the
   * socket is closed (closing with unread input would reset the
   * connection and could destroy the answer). Bounded by the upgrade
   * deadline and a short linger.
   */
  async #refuse(conn: Deno.Conn, response: Uint8Array): Promise<void> {
    await writeAll(conn, response);
    try {
      await conn.closeWrite();
    } catch {
      return;
    }
    const sink = new Uint8Array(4096);
    const linger = setTimeout(() => closeQuietly(conn), LINGER_MS);
    try {
      for (let i = 0; i < 16; i++) {
        if (await conn.read(sink) === null) break;
      }
    } catch {
      // closed by the linger timer
    } finally {
      clearTimeout(linger);
    }
  }
}
