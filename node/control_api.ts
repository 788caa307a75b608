/**
 * The local control API of a running node: a small HTTP server bound to the
 * loopback interface, guarded by a bearer token that is stored, with the
 * server's URL, in a control file readable only by its owner (mode 0600).
 * Operator tools read the file to find the node and authenticate.
 *
 * | route | auth | answer |
 * |---|---|---|
 * | `GET /healthz` | none | `ok` |
 * | `GET /status` | token | JSON status |
 * | `GET /metrics` | token | Prometheus text format |
 * | `POST /api/<op>` | token | JSON result, or NDJSON progress then the result |
 *
 * Requests carrying an `Origin` header (browsers) are refused, so a web page
 * cannot drive the node even by guessing the port.
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import { createHash, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomic } from "./files.ts";
import { defaultPaths } from "./_paths.ts";
import {
  type ControlCallContext,
  type ControlHandlerTable,
  type ControlMethod,
  type ControlParams,
  type ControlProgress,
  type ControlResult,
  isControlMethod,
  parseControlParams,
} from "./control/methods.ts";

/** Name of the control file inside the node's config directory. */
export const CONTROL_FILE_NAME = "control.json";

/** Default TCP port of the control API (0 lets the OS choose). */
export const DEFAULT_CONTROL_PORT = 9092;

/**
 * Default cap on a control API request body: 96 MiB, room for a deploy at
 * the largest `maxMessageSize` (64 MiB of frame, sent base64 in JSON).
 * A `Node` sets the cap from its own `maxMessageSize` instead.
 */
export const MAX_CONTROL_BODY_BYTES = 96 * 1024 * 1024;

/**
 * Largest request head (header names and values) the control API accepts;
 * bigger ones get 431. (Deno's HTTP server has already read the head, up to
 * its own limit of about 400 KB, when this is checked.)
 */
export const MAX_CONTROL_HEAD_BYTES = 16 * 1024;

/** Milliseconds a request body may take to arrive (408 after). */
export const CONTROL_BODY_TIMEOUT = 60_000;

/** Contents of the control file. */
export interface ControlFile {
  /** Base URL of the control API, e.g. `http://127.0.0.1:9092`. */
  url: string;
  /** Bearer token (64 hex characters). */
  token: string;
  /** Process ID of the node. */
  pid: number;
}

/**
 * What went wrong talking to (or inside) the control API.
 *
 * - `not_running`: there is no control file (no node is running there).
 * - `invalid_file`: the control file cannot be parsed.
 * - `unreachable`: nothing answers at the URL in the control file.
 * - `unauthorized`: the token was refused.
 * - `bad_request`: the request was malformed or named a bad value.
 * - `not_found`: unknown route or operation, or an unknown peer.
 * - `failed`: the operation failed on the node.
 * - `timeout`: a peer did not answer in time.
 * - `too_large`: the request body or head is above the server's cap.
 * - `request_timeout`: the request body did not arrive in time.
 * - `refused`: the worker refused the command (error 1002: it does not
 *   trust this node as a controller).
 */
export type ControlApiErrorCode =
  | "not_running"
  | "invalid_file"
  | "unreachable"
  | "unauthorized"
  | "bad_request"
  | "not_found"
  | "failed"
  | "timeout"
  | "too_large"
  | "refused"
  | "request_timeout";

const STATUS_OF: Record<ControlApiErrorCode, number> = {
  not_running: 503,
  invalid_file: 500,
  unreachable: 503,
  unauthorized: 401,
  bad_request: 400,
  not_found: 404,
  failed: 500,
  timeout: 504,
  too_large: 413,
  refused: 403,
  request_timeout: 408,
};

/**
 * A control API failure, on either side.
 *
 * @example Telling failures apart
 * ```ts
 * import { ControlApiError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = new ControlApiError("timeout", "Cannot ping peer: request timeout");
 * assert.equal(err.status, 504);
 * assert.equal(err.name, "ControlApiError");
 * ```
 */
export class ControlApiError extends CodedError<ControlApiErrorCode> {
  /** Always `"ControlApiError"`. */
  override readonly name = "ControlApiError";

  /** The HTTP status the server answers with. */
  get status(): number {
    return STATUS_OF[this.code];
  }
}

/**
 * The default control file path: `<XDG config>/lethean-desktop/control.json`,
 * or `<configDir>/control.json` for a given config directory.
 *
 * @param configDir The node's config directory (default: the XDG one).
 * @returns The path.
 *
 * @example Inside a config directory
 * ```ts
 * import { controlFilePath } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(controlFilePath("/tmp/n1"), "/tmp/n1/control.json");
 * ```
 */
export function controlFilePath(configDir?: string): string {
  return join(configDir ?? defaultPaths().configDir, CONTROL_FILE_NAME);
}

/**
 * Reads and validates a control file.
 *
 * @param path The file.
 * @returns Its contents.
 * @throws {ControlApiError} `not_running` when the file does not exist,
 * `invalid_file` when it cannot be read or parsed.
 *
 * @example A missing file means no node
 * ```ts
 * import { ControlApiError, readControlFile } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(
 *   readControlFile("/nonexistent/control.json"),
 *   (e) => e instanceof ControlApiError && e.code === "not_running",
 * );
 * ```
 */
export async function readControlFile(path: string): Promise<ControlFile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ControlApiError(
        "not_running",
        `Cannot find a running node: no control file at ${path}`,
      );
    }
    throw new ControlApiError(
      "invalid_file",
      `Cannot read control file ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ControlApiError(
      "invalid_file",
      `Cannot read control file ${path}: not JSON`,
      { cause: err },
    );
  }
  const o = v as Partial<ControlFile> | null;
  if (
    o === null || typeof o !== "object" || typeof o.url !== "string" ||
    !/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d{1,5}$/.test(o.url) ||
    typeof o.token !== "string" || !/^[0-9a-f]{64}$/.test(o.token)
  ) {
    throw new ControlApiError(
      "invalid_file",
      `Cannot read control file ${path}: expected {url, token, pid} with a loopback URL`,
    );
  }
  return {
    url: o.url,
    token: o.token,
    pid: typeof o.pid === "number" ? o.pid : 0,
  };
}

/** What the control server serves. */
export interface ControlHandlers {
  /**
   * The node's status.
   *
   * @returns A JSON-serialisable object.
   */
  status(): unknown | Promise<unknown>;
  /**
   * The node's metrics.
   *
   * @returns Prometheus text.
   */
  metrics(): string | Promise<string>;
  /**
   * The methods of the control contract ({@linkcode ControlMethods}), one
   * handler each (what a node serves). The server checks a request's
   * parameters against the contract before its handler runs.
   */
  methods?: ControlHandlerTable;
  /**
   * Runs an operation that is not in `methods` (a server of something
   * other than a node).
   *
   * @param op The operation name (the path after `/api/`).
   * @param body The parsed JSON body (`null` when empty).
   * @param progress Reports progress to clients that asked for it.
   * @param signal Fires when the client goes away or the server stops.
   * @returns A JSON-serialisable result.
   * @throws {ControlApiError} To choose the status; `TypeError` and
   * `RangeError` are answered as `bad_request`, anything else as `failed`.
   */
  call?(
    op: string,
    body: unknown,
    progress: (event: ControlProgress) => void,
    signal: AbortSignal,
  ): Promise<unknown>;
}

/** Options of {@linkcode ControlServer.start}. */
export interface ControlServerOptions {
  /** What to serve. */
  handlers: ControlHandlers;
  /** TCP port (default {@linkcode DEFAULT_CONTROL_PORT}; 0 picks one). */
  port?: number;
  /** Loopback address to bind (default `127.0.0.1`). */
  hostname?: "127.0.0.1" | "::1" | "localhost";
  /** Where to write the control file; no file is written when omitted. */
  file?: string;
  /** The token (default: 32 random bytes as hex). */
  token?: string;
  /** Content type of `/metrics`. */
  metricsContentType?: string;
  /** Cap on request bodies (default {@linkcode MAX_CONTROL_BODY_BYTES}). */
  maxBodyBytes?: number;
  /** Milliseconds a body may take (default {@linkcode CONTROL_BODY_TIMEOUT}). */
  bodyTimeout?: number;
}

function digest(s: string): Uint8Array {
  return createHash("sha256").update(s).digest();
}

/**
 * Compares a presented token with the expected one in constant time.
 *
 * @param presented The token from the request.
 * @param expected The real token.
 * @returns Whether they are equal.
 */
function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value) + "\n", {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

function errorBody(err: unknown): { status: number; body: unknown } {
  let e: ControlApiError;
  if (err instanceof ControlApiError) e = err;
  else if (err instanceof TypeError || err instanceof RangeError) {
    e = new ControlApiError("bad_request", err.message);
  } else {
    e = new ControlApiError(
      "failed",
      err instanceof Error ? err.message : String(err),
    );
  }
  return {
    status: e.status,
    body: { error: { code: e.code, message: e.message } },
  };
}

async function readBody(
  req: Request,
  max: number,
  timeout: number,
): Promise<unknown> {
  if (req.body === null) return null;
  const tooLarge = () =>
    new ControlApiError(
      "too_large",
      `Cannot read request: body above ${max} bytes`,
    );
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > max) {
    await req.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ControlApiError(
            "request_timeout",
            `Cannot read request: body not received within ${timeout} ms`,
          ),
        ),
      timeout,
    );
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), late]);
      if (done) break;
      size += value.byteLength;
      if (size > max) throw tooLarge();
      chunks.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (size === 0) return null;
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  chunks.length = 0;
  try {
    return JSON.parse(new TextDecoder().decode(all));
  } catch {
    throw new ControlApiError("bad_request", "Cannot read request: not JSON");
  }
}

/**
 * The control API server. Start it with {@linkcode ControlServer.start};
 * {@linkcode ControlServer.stop} closes it and removes the control file.
 *
 * @example Serving and calling over loopback
 * ```ts
 * import { ControlClient, ControlServer } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const server = await ControlServer.start({
 *   port: 0,
 *   handlers: {
 *     status: () => ({ ok: true }),
 *     metrics: () => "up 1\n",
 *     call: (op, body) => Promise.resolve({ op, body }),
 *   },
 * });
 * const client = new ControlClient(server.info);
 * assert.deepEqual(await client.status(), { ok: true });
 * assert.deepEqual(await client.call("echo", { a: 1 }), { op: "echo", body: { a: 1 } });
 * await server.stop();
 * ```
 */
export class ControlServer {
  readonly #handlers: ControlHandlers;
  readonly #token: string;
  readonly #file: string | undefined;
  readonly #metricsType: string;
  readonly #maxBody: number;
  readonly #bodyTimeout: number;
  readonly #abort = new AbortController();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #url = "";
  #stopped = false;

  private constructor(options: ControlServerOptions, token: string) {
    this.#handlers = options.handlers;
    this.#token = token;
    this.#file = options.file;
    this.#metricsType = options.metricsContentType ??
      "text/plain; version=0.0.4; charset=utf-8";
    this.#maxBody = options.maxBodyBytes ?? MAX_CONTROL_BODY_BYTES;
    this.#bodyTimeout = options.bodyTimeout ?? CONTROL_BODY_TIMEOUT;
  }

  /**
   * Binds the server on loopback and writes the control file (mode 0600
   * from its first byte, written atomically).
   *
   * @param options Handlers, port, file and token.
   * @returns The running server.
   * @throws {RangeError} For a port outside 0–65535 or a bad token.
   * @throws {Deno.errors.AddrInUse} When the port is taken.
   */
  static async start(options: ControlServerOptions): Promise<ControlServer> {
    const port = options.port ?? DEFAULT_CONTROL_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(
        `Invalid control port: expected 0-65535, got ${port}`,
      );
    }
    let token = options.token;
    if (token === undefined) {
      const raw = crypto.getRandomValues(new Uint8Array(32));
      token = [...raw].map((b) => b.toString(16).padStart(2, "0")).join("");
    } else if (!/^[0-9a-f]{64}$/.test(token)) {
      throw new RangeError("Invalid control token: expected 64 hex characters");
    }
    const s = new ControlServer(options, token);
    const hostname = options.hostname ?? "127.0.0.1";
    const { promise: bound, resolve } = Promise.withResolvers<Deno.NetAddr>();
    s.#server = Deno.serve({
      hostname,
      port,
      signal: s.#abort.signal,
      onListen: (addr) => resolve(addr),
      onError: (err) => json(500, errorBody(err).body),
    }, (req) => s.#handle(req));
    const addr = await bound;
    const host = addr.hostname.includes(":")
      ? `[${addr.hostname}]`
      : addr.hostname;
    s.#url = `http://${host}:${addr.port}`;
    if (s.#file !== undefined) {
      try {
        await writeFileAtomic(
          s.#file,
          JSON.stringify(s.info, null, 2) + "\n",
          { mode: 0o600, dirMode: 0o700 },
        );
      } catch (err) {
        await s.stop();
        throw err;
      }
    }
    return s;
  }

  /** The URL, token and process ID (what the control file holds). */
  get info(): ControlFile {
    return { url: this.#url, token: this.#token, pid: Deno.pid };
  }

  /** The base URL. */
  get url(): string {
    return this.#url;
  }

  /** The control file path, when one was written. */
  get file(): string | undefined {
    return this.#file;
  }

  async #handle(req: Request): Promise<Response> {
    let head = req.url.length + req.method.length;
    for (const [k, v] of req.headers) head += k.length + v.length + 4;
    if (head > MAX_CONTROL_HEAD_BYTES) {
      await req.body?.cancel().catch(() => {});
      return json(431, {
        error: {
          code: "too_large",
          message:
            `Cannot read request: head above ${MAX_CONTROL_HEAD_BYTES} bytes`,
        },
      });
    }
    if (req.headers.has("origin")) {
      return json(403, {
        error: {
          code: "unauthorized",
          message: "Browsers may not call the control API",
        },
      });
    }
    const url = new URL(req.url);
    if (url.pathname === "/healthz" && req.method === "GET") {
      return new Response("ok\n", {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    const auth = req.headers.get("authorization") ?? "";
    const presented = auth.startsWith("Bearer ") ? auth.slice(7).trim() : "";
    if (!tokenMatches(presented, this.#token)) {
      return json(401, {
        error: {
          code: "unauthorized",
          message: "Cannot use the control API: missing or wrong token",
        },
      });
    }
    try {
      if (url.pathname === "/status" && req.method === "GET") {
        return json(200, await this.#handlers.status());
      }
      if (url.pathname === "/metrics" && req.method === "GET") {
        return new Response(await this.#handlers.metrics(), {
          headers: { "content-type": this.#metricsType },
        });
      }
      const m = /^\/api\/([a-z][a-z0-9_.-]{0,63})$/.exec(url.pathname);
      if (m && req.method === "POST") {
        return await this.#call(m[1]!, req);
      }
      throw new ControlApiError(
        "not_found",
        `No such control API route: ${req.method} ${url.pathname}`,
      );
    } catch (err) {
      const { status, body } = errorBody(err);
      return json(status, body);
    }
  }

  /** Runs a method of the contract, else the generic `call`. */
  async #run(
    op: string,
    body: unknown,
    progress: (event: ControlProgress) => void,
  ): Promise<unknown> {
    const signal = this.#abort.signal;
    const methods = this.#handlers.methods;
    if (methods !== undefined && isControlMethod(op)) {
      const handler = methods[op] as (
        params: unknown,
        context: ControlCallContext,
      ) => unknown;
      return await handler(parseControlParams(op, body), { progress, signal });
    }
    if (this.#handlers.call === undefined) {
      throw new ControlApiError("not_found", `Unknown operation "${op}"`);
    }
    return await this.#handlers.call(op, body, progress, signal);
  }

  async #call(op: string, req: Request): Promise<Response> {
    const body = await readBody(req, this.#maxBody, this.#bodyTimeout);
    const streaming = (req.headers.get("accept") ?? "").includes(
      "application/x-ndjson",
    );
    if (!streaming) {
      const result = await this.#run(op, body, () => {});
      return json(200, { result: result ?? null });
    }
    const enc = new TextEncoder();
    const { readable, writable } = new TransformStream<Uint8Array>();
    const writer = writable.getWriter();
    const write = (v: unknown) => {
      writer.write(enc.encode(JSON.stringify(v) + "\n")).catch(() => {});
    };
    (async () => {
      try {
        const result = await this.#run(
          op,
          body,
          (p) => write({ progress: p }),
        );
        write({ result: result ?? null });
      } catch (err) {
        write(errorBody(err).body);
      } finally {
        await writer.close().catch(() => {});
      }
    })();
    return new Response(readable, {
      headers: {
        "content-type": "application/x-ndjson",
        "cache-control": "no-store",
      },
    });
  }

  /**
   * Stops the server and removes the control file if it still names this
   * server. Idempotent.
   *
   * @returns Resolves once the server is closed.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#file !== undefined) {
      try {
        const cur = await readControlFile(this.#file);
        if (cur.token === this.#token) await Deno.remove(this.#file);
      } catch {
        // Already gone or replaced by another node.
      }
    }
    this.#abort.abort();
    await this.#server?.finished.catch(() => {});
  }
}

/** Options of {@linkcode ControlClient} calls. */
export interface ControlCallOptions {
  /** Receives progress events (the request then asks for NDJSON). */
  onProgress?: (event: ControlProgress) => void;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/**
 * A client of a node's control API.
 *
 * @example Reading a node's status
 * ```ts ignore
 * import { ControlClient } from "@lthn/p2p/node";
 *
 * const client = await ControlClient.fromFile();
 * console.log(await client.status());
 * ```
 */
export class ControlClient {
  readonly #info: ControlFile;

  /**
   * Creates a client.
   *
   * @param info URL and token (a {@linkcode ControlFile}).
   */
  constructor(info: Pick<ControlFile, "url" | "token">) {
    this.#info = { ...info, pid: 0 };
  }

  /**
   * Creates a client from a control file.
   *
   * @param path The file (default {@linkcode controlFilePath}`()`).
   * @returns The client.
   * @throws {ControlApiError} `not_running` or `invalid_file`.
   */
  static async fromFile(path?: string): Promise<ControlClient> {
    return new ControlClient(await readControlFile(path ?? controlFilePath()));
  }

  /** The base URL. */
  get url(): string {
    return this.#info.url;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${this.#info.token}`);
    let res: Response;
    try {
      res = await fetch(this.#info.url + path, { ...init, headers });
    } catch (err) {
      if ((init.signal as AbortSignal | undefined)?.aborted) throw err;
      throw new ControlApiError(
        "unreachable",
        `Cannot reach the node at ${this.#info.url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (!res.ok && !(res.headers.get("content-type") ?? "").includes("json")) {
      await res.body?.cancel();
      throw new ControlApiError(
        res.status === 401 ? "unauthorized" : "failed",
        `Control API answered HTTP ${res.status}`,
      );
    }
    return res;
  }

  static #fail(body: unknown, status: number): never {
    const e = (body as { error?: { code?: string; message?: string } })?.error;
    const code =
      (e?.code && e.code in STATUS_OF
        ? e.code
        : "failed") as ControlApiErrorCode;
    throw new ControlApiError(
      code,
      e?.message ?? `Control API answered HTTP ${status}`,
    );
  }

  /**
   * Checks that the node answers.
   *
   * @returns `true` when `/healthz` says ok.
   * @throws {ControlApiError} `unreachable`.
   */
  async health(): Promise<boolean> {
    const res = await this.#fetch("/healthz", {});
    const text = await res.text();
    return res.ok && text.trim() === "ok";
  }

  /**
   * Reads `/status`.
   *
   * @returns The status object.
   * @throws {ControlApiError} On any failure.
   */
  async status(): Promise<unknown> {
    const res = await this.#fetch("/status", {});
    const body = await res.json();
    if (!res.ok) ControlClient.#fail(body, res.status);
    return body;
  }

  /**
   * Reads `/metrics`.
   *
   * @returns Prometheus text.
   * @throws {ControlApiError} On any failure.
   */
  async metrics(): Promise<string> {
    const res = await this.#fetch("/metrics", {});
    if (!res.ok) ControlClient.#fail(await res.json(), res.status);
    return await res.text();
  }

  /**
   * Runs a method of the control contract ({@linkcode ControlMethods}) on
   * the node, with typed parameters and result.
   *
   * @param op The method, e.g. `"peers.list"`.
   * @param params Its parameters.
   * @param options Progress callback and signal.
   * @returns The method's result.
   * @throws {ControlApiError} With the node's error code and message.
   */
  call<M extends ControlMethod>(
    op: M,
    params: ControlParams<M>,
    options?: ControlCallOptions,
  ): Promise<ControlResult<M>>;
  /**
   * Runs any operation on the node (a server other than a node's may serve
   * others).
   *
   * @param op The operation, e.g. `"peers.list"`.
   * @param body Its JSON arguments.
   * @param options Progress callback and signal.
   * @returns The operation's result.
   * @throws {ControlApiError} With the node's error code and message.
   */
  call(
    op: string,
    body?: unknown,
    options?: ControlCallOptions,
  ): Promise<unknown>;
  async call(
    op: string,
    body: unknown = null,
    options: ControlCallOptions = {},
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
    };
    if (options.onProgress) headers.accept = "application/x-ndjson";
    const init: RequestInit = {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    };
    if (options.signal) init.signal = options.signal;
    const res = await this.#fetch(`/api/${op}`, init);
    if (!options.onProgress || !res.ok) {
      const parsed = await res.json();
      if (!res.ok) ControlClient.#fail(parsed, res.status);
      return (parsed as { result?: unknown }).result ?? null;
    }
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let last: unknown = undefined;
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (value) buf += value;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim() === "") continue;
          const ev = JSON.parse(line) as {
            progress?: ControlProgress;
            result?: unknown;
            error?: unknown;
          };
          if (ev.progress) options.onProgress(ev.progress);
          else last = ev;
        }
        if (done) break;
      }
      finished = true;
    } finally {
      if (!finished) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
    if (last === undefined) {
      throw new ControlApiError(
        "failed",
        "Control API closed the stream without a result",
      );
    }
    if ((last as { error?: unknown }).error) ControlClient.#fail(last, 500);
    return (last as { result?: unknown }).result ?? null;
  }
}
