/**
 * A small RFC 6455 WebSocket client over `Deno.connect` with `TCP_NODELAY`.
 *
 * Deno's built-in `WebSocket` client leaves Nagle's algorithm on, so two
 * small frames written back to back wait for the peer's delayed ACK (about
 * 40 ms per round trip). This client sets no-delay, writes every queued frame
 * of one event-loop turn in a single `write` (one WebSocket frame per
 * message, as Go requires; several frames per TCP write), masks as a client
 * must, answers pings, and offers event-driven back-pressure. The frame
 * codec is shared with our server (`_ws_frames.ts`).
 *
 * @module
 */

import { TransportError } from "./errors.ts";
import { maskInPlace, websocketAccept, WebSocketConn } from "./_ws_frames.ts";

export { maskInPlace, websocketAccept };

/** The client side of an open WebSocket (see {@linkcode dialWebSocket}). */
export type WebSocketClient = WebSocketConn;

const MAX_HEAD_BYTES = 16 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options of {@linkcode dialWebSocket}. */
export interface DialWebSocketOptions {
  /** Largest accepted message in bytes; bigger ones close with 1009. */
  maxMessageSize: number;
  /** Aborts the dial (connect, TLS and upgrade). */
  signal?: AbortSignal;
  /** Extra PEM root certificates for `wss://`. */
  caCerts?: string[];
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Receives the headers of the 101 response (lower-case names). */
  onResponseHeaders?: (headers: ReadonlyMap<string, string>) => void;
}

interface ParsedHead {
  status: number;
  headers: Map<string, string>;
  rest: Uint8Array;
}

async function readHead(conn: Deno.Conn): Promise<ParsedHead> {
  let buf = new Uint8Array(4096);
  let len = 0;
  while (true) {
    if (len === buf.length) {
      if (buf.length >= MAX_HEAD_BYTES) {
        throw new TransportError(
          "upgrade_failed",
          "Cannot open WebSocket: response head is too large",
        );
      }
      const next = new Uint8Array(buf.length * 2);
      next.set(buf);
      buf = next;
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) {
      throw new TransportError(
        "upgrade_failed",
        "Cannot open WebSocket: connection closed during the upgrade",
      );
    }
    const from = Math.max(0, len - 3);
    len += n;
    for (let i = from; i + 3 < len; i++) {
      if (
        buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
        buf[i + 3] === 10
      ) {
        const text = decoder.decode(buf.subarray(0, i));
        const lines = text.split("\r\n");
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
        if (m === null) {
          throw new TransportError(
            "upgrade_failed",
            "Cannot open WebSocket: malformed HTTP status line",
          );
        }
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const c = line.indexOf(":");
          if (c <= 0) continue;
          headers.set(
            line.slice(0, c).trim().toLowerCase(),
            line.slice(c + 1).trim(),
          );
        }
        return {
          status: Number(m[1]),
          headers,
          rest: buf.slice(i + 4, len),
        };
      }
    }
  }
}

function splitHostPort(url: URL): { hostname: string; port: number } {
  const hostname = url.hostname.startsWith("[")
    ? url.hostname.slice(1, -1)
    : url.hostname;
  const port = url.port !== ""
    ? Number(url.port)
    : url.protocol === "wss:"
    ? 443
    : 80;
  return { hostname, port };
}

/**
 * Opens a WebSocket to `url` (`ws://` or `wss://`) with `TCP_NODELAY` and no
 * `Origin`, subprotocol or extension, like Go's dialer.
 *
 * @param url The endpoint.
 * @param options Limits, TLS roots and an abort signal.
 * @returns The open socket.
 * @throws {TransportError} `upgrade_failed` (with `status` for HTTP errors)
 * or `connect_failed`.
 */
export async function dialWebSocket(
  url: URL,
  options: DialWebSocketOptions,
): Promise<WebSocketClient> {
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(
      `Cannot open WebSocket: unsupported scheme ${url.protocol}`,
    );
  }
  const { hostname, port } = splitHostPort(url);
  const signal = options.signal;
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect(
      signal ? { hostname, port, signal } : { hostname, port },
    );
  } catch (err) {
    throw new TransportError(
      "connect_failed",
      `Cannot open WebSocket: failed to connect to ${url.host}`,
      { cause: err },
    );
  }
  let conn: Deno.Conn = tcp;
  const onAbort = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    tcp.setNoDelay(true);
    if (url.protocol === "wss:") {
      conn = await Deno.startTls(
        tcp,
        options.caCerts ? { hostname, caCerts: options.caCerts } : { hostname },
      );
    }
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    let req =
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
      `Sec-WebSocket-Version: 13\r\n`;
    for (const [k, v] of Object.entries(options.headers ?? {})) {
      req += `${k}: ${v}\r\n`;
    }
    await writeAll(conn, encoder.encode(req + "\r\n"));
    const head = await readHead(conn);
    if (head.status !== 101) {
      throw new TransportError(
        "upgrade_failed",
        `Cannot open WebSocket: bad handshake (HTTP ${head.status})`,
        { status: head.status },
      );
    }
    const h = head.headers;
    if (
      h.get("upgrade")?.toLowerCase() !== "websocket" ||
      !(h.get("connection") ?? "").toLowerCase().split(/\s*,\s*/).includes(
        "upgrade",
      ) ||
      h.get("sec-websocket-accept") !== websocketAccept(key) ||
      (h.get("sec-websocket-extensions") ?? "") !== "" ||
      (h.get("sec-websocket-protocol") ?? "") !== ""
    ) {
      throw new TransportError(
        "upgrade_failed",
        "Cannot open WebSocket: bad handshake (invalid upgrade response)",
      );
    }
    signal?.removeEventListener("abort", onAbort);
    signal?.throwIfAborted();
    options.onResponseHeaders?.(h);
    return new WebSocketConn(conn, head.rest, {
      role: "client",
      maxMessageSize: options.maxMessageSize,
      remoteAddress: url.host,
    });
  } catch (err) {
    signal?.removeEventListener("abort", onAbort);
    try {
      conn.close();
    } catch {
      // already closed
    }
    if (err instanceof TransportError) throw err;
    throw new TransportError(
      signal?.aborted ? "timeout" : "upgrade_failed",
      signal?.aborted
        ? `Cannot open WebSocket: timed out connecting to ${url.host}`
        : `Cannot open WebSocket: upgrade with ${url.host} failed`,
      { cause: err },
    );
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
