/**
 * The HTTP/1.1 our listener speaks: reading one request head under a size
 * cap, the WebSocket upgrade checks of Go's server (gorilla/websocket as
 * go-p2p configures it, node.md §4.3), and responses with the bytes Go's
 * `net/http` writes (`http.Error`, the 101 of gorilla's `Upgrade`, and the
 * plain answers to malformed requests).
 *
 * @module
 */

import { CodedError } from "../../errors.ts";
import { isOriginAllowed } from "./handshake.ts";
import { websocketAccept } from "./_ws_frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A parsed request head. */
export interface RequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target as sent (path and query). */
  target: string;
  /** The path part of the target (before `?`). */
  path: string;
  /** The headers (names case-insensitive; repeated ones joined with `, `). */
  headers: Headers;
}

/** Why a head could not be read. */
export class HttpHeadError extends CodedError<"too_large" | "malformed"> {
  /** The response to send (Go's bytes), or `undefined` to just close. */
  readonly response: Uint8Array | undefined;
  override readonly name = "HttpHeadError";

  /**
   * Creates the error.
   *
   * @param code What was wrong.
   * @param message Description.
   * @param response Bytes to answer with.
   */
  constructor(
    code: "too_large" | "malformed",
    message: string,
    response: Uint8Array | undefined,
  ) {
    super(code, message);
    this.response = response;
  }
}

/** Go's answer to a request it cannot parse (`net/http` server.go). */
function goParseError(publicErr: string): Uint8Array {
  return encoder.encode(
    `HTTP/1.1 ${publicErr}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${publicErr}`,
  );
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses the bytes of a request head (without the final blank line).
 *
 * @param bytes The head.
 * @returns The request.
 * @throws {HttpHeadError} `malformed`, with Go's 400 answer.
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead {
  const bad = (publicErr = "400 Bad Request") =>
    new HttpHeadError(
      "malformed",
      "Cannot read request: malformed head",
      goParseError(publicErr),
    );
  const text = decoder.decode(bytes);
  const lines = text.split("\r\n");
  const m = /^(\S+) (\S+) HTTP\/1\.([01])$/.exec(lines[0] ?? "");
  if (m === null || !TOKEN.test(m[1]!)) throw bad();
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const c = line.indexOf(":");
    if (c <= 0) throw bad();
    const name = line.slice(0, c);
    if (!TOKEN.test(name)) throw bad();
    try {
      headers.append(name, line.slice(c + 1).trim());
    } catch {
      throw bad();
    }
  }
  if (m[3] === "1" && !headers.has("host")) {
    throw bad("400 Bad Request: missing required Host header");
  }
  const target = m[2]!;
  const q = target.indexOf("?");
  return {
    method: m[1]!,
    target,
    path: q >= 0 ? target.slice(0, q) : target,
    headers,
  };
}

/**
 * Reads one request head from `conn`, never holding more than `maxBytes`.
 *
 * @param conn The connection.
 * @param maxBytes The head cap (request line, headers and the blank line).
 * @returns The request and the bytes read past it, or `null` when the peer
 * closed before sending a whole head.
 * @throws {HttpHeadError} `too_large` (Go's 431 answer) or `malformed` (400).
 */
export async function readRequestHead(
  conn: Deno.Conn,
  maxBytes: number,
): Promise<{ head: RequestHead; rest: Uint8Array } | null> {
  let buf = new Uint8Array(Math.min(1024, maxBytes));
  let len = 0;
  while (true) {
    if (len === buf.length) {
      if (buf.length >= maxBytes) {
        throw new HttpHeadError(
          "too_large",
          `Cannot read request: head above ${maxBytes} bytes`,
          goParseError("431 Request Header Fields Too Large"),
        );
      }
      const next = new Uint8Array(Math.min(buf.length * 2, maxBytes));
      next.set(buf);
      buf = next;
    }
    const n = await conn.read(buf.subarray(len));
    if (n === null) return null;
    const from = Math.max(0, len - 3);
    len += n;
    for (let i = from; i + 3 < len; i++) {
      if (
        buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
        buf[i + 3] === 10
      ) {
        return {
          head: parseRequestHead(buf.subarray(0, i)),
          rest: buf.slice(i + 4, len),
        };
      }
    }
  }
}

function headerHasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  return value.toLowerCase().split(",").some((t) => t.trim() === token);
}

/** An HTTP refusal: status and the text of Go's body (without newline). */
export interface Refusal {
  /** HTTP status. */
  status: 400 | 403 | 404 | 405 | 503;
  /** Body text (Go's `http.Error` adds the newline). */
  text: string;
}

/**
 * The WebSocket upgrade checks of go-p2p's server, in its order (node.md
 * §4.3): `Connection: upgrade` and `Upgrade: websocket` tokens (400), GET
 * (405), `Sec-WebSocket-Version: 13` (400), a well-formed
 * `Sec-WebSocket-Key` (400), then the origin rule (403).
 *
 * @param method The request method.
 * @param headers The request headers.
 * @returns The refusal, or `undefined` when the upgrade may proceed.
 */
export function checkUpgrade(
  method: string,
  headers: Headers,
): Refusal | undefined {
  if (
    !headerHasToken(headers.get("connection"), "upgrade") ||
    !headerHasToken(headers.get("upgrade"), "websocket")
  ) {
    return { status: 400, text: "Bad Request" };
  }
  if (method !== "GET") return { status: 405, text: "Method Not Allowed" };
  if (headers.get("sec-websocket-version") !== "13") {
    return { status: 400, text: "Bad Request" };
  }
  const key = headers.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return { status: 400, text: "Bad Request" };
  }
  if (!isOriginAllowed(headers.get("origin"))) {
    return { status: 403, text: "Forbidden" };
  }
  return undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  503: "Service Unavailable",
};

/**
 * The bytes Go's `http.Error(w, text, status)` writes: the status line, the
 * handler's headers sorted by name, then `Date` and `Content-Length`.
 * Upgrade refusals carry `Sec-Websocket-Version: 13` (gorilla sets it
 * before calling `http.Error`).
 *
 * @param refusal Status and body text.
 * @param upgrade Whether to add `Sec-Websocket-Version: 13`.
 * @param now The time for the `Date` header.
 * @returns The response bytes.
 */
export function goErrorResponse(
  refusal: Refusal,
  upgrade: boolean,
  now: Date = new Date(),
): Uint8Array {
  const body = refusal.text + "\n";
  const headers = [
    "Content-Type: text/plain; charset=utf-8",
    ...(upgrade ? ["Sec-Websocket-Version: 13"] : []),
    "X-Content-Type-Options: nosniff",
    `Date: ${now.toUTCString()}`,
    `Content-Length: ${encoder.encode(body).length}`,
  ];
  return encoder.encode(
    `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\n` +
      headers.join("\r\n") + "\r\n\r\n" + body,
  );
}

/**
 * The 101 response of gorilla's `Upgrade` (no subprotocol, no extension),
 * plus extra headers after `Sec-WebSocket-Accept`, as gorilla writes a
 * handler's response headers.
 *
 * @param key The request's `Sec-WebSocket-Key`.
 * @param extra Extra header lines.
 * @returns The response bytes.
 */
export function switchingProtocols(
  key: string,
  extra: [string, string][] = [],
): Uint8Array {
  let s =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
    websocketAccept(key) + "\r\n";
  for (const [k, v] of extra) s += `${k}: ${v}\r\n`;
  return encoder.encode(s + "\r\n");
}
