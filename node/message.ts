/**
 * The go-p2p message envelope, every payload type, error and disconnect
 * codes, protocol version negotiation and the response validation helpers
 * (node.md §3).
 *
 * A {@linkcode Message} keeps its payload in the JSON data model
 * ({@linkcode JsonValue}): exactly what `JSON.parse` yields for a received
 * frame, and what {@linkcode newMessage} builds from a typed payload (byte
 * fields as padded standard base64, Go field order, Go `omitempty`). Typed
 * payloads come back out through {@linkcode parsePayload}, which checks every
 * field the way Go's `encoding/json` would.
 *
 * Wire form (no trailing newline, HTML escaping off):
 *
 * ```text
 * {"id":"<uuid v4>","type":"ping","from":"<node id>","to":"<node id>","ts":"<RFC 3339>","payload":{"sentAt":1767323045123}[,"replyTo":"<id>"]}
 * ```
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import {
  assertFiniteNumbers,
  differsFromGo,
  marshalJson,
  quoteGoFast,
} from "./_go_json.ts";
import { formatGoTime, parseGoTimeFast, ZERO_TIME } from "./_go_time.ts";
import { decodeBase64Strict, encodeBase64 } from "./_base64.ts";
import type { NodeIdentity, NodeRole } from "./identity.ts";

// ---------------------------------------------------------------------------
// Constants

/** The protocol version this implementation speaks (node.md §3.7). */
export const PROTOCOL_VERSION = "1.0";

/** The oldest protocol version accepted. */
export const MIN_PROTOCOL_VERSION = "1.0";

/** Every protocol version a responder accepts (exact string match). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = Object.freeze([
  "1.0",
]);

/**
 * Tells whether a handshake's `version` is accepted. Like Go, this is an
 * exact membership test.
 *
 * @param version The version string from a handshake.
 * @returns `true` when supported.
 *
 * @example Checking versions
 * ```ts
 * import { isProtocolVersionSupported } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isProtocolVersionSupported("1.0"), true);
 * assert.equal(isProtocolVersionSupported("99.99"), false);
 * ```
 */
export function isProtocolVersionSupported(version: string): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

/** Message type strings (node.md §3.3). */
export const MessageType = {
  Handshake: "handshake",
  HandshakeAck: "handshake_ack",
  Ping: "ping",
  Pong: "pong",
  Disconnect: "disconnect",
  GetStats: "get_stats",
  Stats: "stats",
  StartMiner: "start_miner",
  StopMiner: "stop_miner",
  MinerAck: "miner_ack",
  Deploy: "deploy",
  DeployAck: "deploy_ack",
  GetLogs: "get_logs",
  Logs: "logs",
  Error: "error",
} as const;

/** One of the 15 known message types. */
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** The 15 known message types, in the order of node.md §3.3. */
export const MESSAGE_TYPES: readonly MessageType[] = Object.freeze(
  Object.values(MessageType),
);

/** Error payload codes (node.md §3.5). Go only ever sends 1004. */
export const ErrorCode = {
  Unknown: 1000,
  InvalidMessage: 1001,
  Unauthorized: 1002,
  NotFound: 1003,
  OperationFailed: 1004,
  Timeout: 1005,
} as const;

/** One of the error payload codes. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** Disconnect payload codes (payload values, not WebSocket close codes). */
export const DisconnectCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  Timeout: 1003,
  Shutdown: 1004,
} as const;

/** One of the disconnect payload codes. */
export type DisconnectCode = typeof DisconnectCode[keyof typeof DisconnectCode];

// ---------------------------------------------------------------------------
// Types

/** A value of the JSON data model (what `JSON.parse` returns). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/**
 * The go-p2p message envelope. Keys are written in this order; `replyTo` is
 * omitted when absent or empty.
 */
export interface Message {
  /** Message ID, a lowercase UUID v4 for messages we create. */
  id: string;
  /** Message type (one of {@linkcode MessageType}, or any other string). */
  type: string;
  /** Sender node ID. */
  from: string;
  /** Recipient node ID; `""` for broadcast or unknown. */
  to: string;
  /** RFC 3339 creation time exactly as written on the wire. */
  ts: string;
  /** The payload in the JSON data model; `null` when there is none. */
  payload: JsonValue;
  /** ID of the message this one answers. */
  replyTo?: string;
}

/** Payload of `handshake` (plaintext, initiator to responder). */
export interface HandshakePayload {
  /** The initiator's identity. */
  identity: NodeIdentity;
  /** The challenge the responder must answer (32 bytes from Go initiators). */
  challenge?: Uint8Array;
  /** The initiator's protocol version. */
  version: string;
}

/** Payload of `handshake_ack` (plaintext, responder to initiator). */
export interface HandshakeAckPayload {
  /** The responder's identity. */
  identity: NodeIdentity;
  /** HMAC-SHA256(secret, challenge). */
  challengeResponse?: Uint8Array;
  /** Whether the responder accepted the connection. */
  accepted: boolean;
  /** Why the connection was rejected. */
  reason?: string;
}

/** Payload of `ping`. */
export interface PingPayload {
  /** Unix milliseconds when the ping was sent. */
  sentAt: number;
}

/** Payload of `pong`. */
export interface PongPayload {
  /** Echo of the ping's `sentAt` (0 when it had none). */
  sentAt: number;
  /** Unix milliseconds when the ping was handled. */
  receivedAt: number;
}

/** Payload of `disconnect`. */
export interface DisconnectPayload {
  /** Human-readable reason. */
  reason: string;
  /** One of {@linkcode DisconnectCode}. */
  code: number;
}

/** Payload of `start_miner`. */
export interface StartMinerPayload {
  /** Miner type, e.g. `"xmrig"`. */
  minerType: string;
  /** Profile to apply. */
  profileId?: string;
  /**
   * Override configuration as a JSON value. `undefined` means absent; `null`
   * means the JSON literal `null` was present (Go keeps it, node.md §1.7).
   */
  config?: JsonValue;
}

/** Payload of `stop_miner`. */
export interface StopMinerPayload {
  /** The miner to stop. */
  minerName: string;
}

/** Payload of `miner_ack`. */
export interface MinerAckPayload {
  /** Whether the operation succeeded. */
  success: boolean;
  /** The miner's name. */
  minerName?: string;
  /** Failure text. */
  error?: string;
}

/** One miner in a `stats` payload. */
export interface MinerStatsItem {
  /** Miner instance name. */
  name: string;
  /** Miner type. */
  type: string;
  /** Hashes per second. */
  hashrate: number;
  /** Accepted shares. */
  shares: number;
  /** Rejected shares. */
  rejected: number;
  /** Uptime in seconds. */
  uptime: number;
  /** Pool address. */
  pool: string;
  /** Mining algorithm. */
  algorithm: string;
  /** CPU threads (never set by Go). */
  cpuThreads?: number;
}

/** Payload of `stats`. */
export interface StatsPayload {
  /** The worker's node ID. */
  nodeId: string;
  /** The worker's name. */
  nodeName: string;
  /** Running miners (always an array on the wire). */
  miners: MinerStatsItem[];
  /** Worker uptime in seconds. */
  uptime: number;
}

/** Payload of `get_logs`. */
export interface GetLogsPayload {
  /** The miner whose logs are wanted. */
  minerName: string;
  /** Maximum number of lines. */
  lines: number;
  /** Unix milliseconds lower bound (0 or absent: none). */
  since?: number;
}

/** Payload of `logs`. */
export interface LogsPayload {
  /** The miner's name. */
  minerName: string;
  /** Log lines; `null` when Go had none. */
  lines: string[] | null;
  /** Whether more lines exist. */
  hasMore: boolean;
}

/** Payload of `deploy`. */
export interface DeployPayload {
  /** `"profile"`, `"miner"` or `"full"`. */
  type: string;
  /** STIM container or raw profile JSON; `null` when empty. */
  data: Uint8Array | null;
  /** Lowercase hex SHA-256 of `data`. */
  checksum: string;
  /** Profile or miner name. */
  name: string;
}

/** Payload of `deploy_ack`. */
export interface DeployAckPayload {
  /** Whether the deployment succeeded. */
  success: boolean;
  /** The deployed name. */
  name?: string;
  /** Failure text. */
  error?: string;
}

/** Payload of `error`. */
export interface ErrorPayload {
  /** One of {@linkcode ErrorCode}. */
  code: number;
  /** Failure text. */
  message: string;
  /** Extra detail (never set by Go). */
  details?: string;
}

/** The payload type of every known message type. */
export interface PayloadMap {
  /** Handshake. */
  handshake: HandshakePayload;
  /** Handshake answer. */
  handshake_ack: HandshakeAckPayload;
  /** Keepalive or RTT probe. */
  ping: PingPayload;
  /** Answer to a ping. */
  pong: PongPayload;
  /** Sent before a graceful close. */
  disconnect: DisconnectPayload;
  /** Stats request (no payload). */
  get_stats: null;
  /** Stats answer. */
  stats: StatsPayload;
  /** Start a miner. */
  start_miner: StartMinerPayload;
  /** Stop a miner. */
  stop_miner: StopMinerPayload;
  /** Miner operation answer. */
  miner_ack: MinerAckPayload;
  /** Deploy a bundle. */
  deploy: DeployPayload;
  /** Deploy answer. */
  deploy_ack: DeployAckPayload;
  /** Logs request. */
  get_logs: GetLogsPayload;
  /** Logs answer. */
  logs: LogsPayload;
  /** Failure answer. */
  error: ErrorPayload;
}

// ---------------------------------------------------------------------------
// Errors

/**
 * What went wrong decoding or checking a message.
 *
 * - `invalid_json`: the text is not JSON.
 * - `invalid_message`: the envelope is not an object or a field has the wrong type.
 * - `invalid_payload`: the payload does not decode as the expected type.
 * - `missing_response`: a response helper got no message.
 * - `unexpected_type`: a response has a different type than expected.
 */
export type MessageErrorCode =
  | "invalid_json"
  | "invalid_message"
  | "invalid_payload"
  | "missing_response"
  | "unexpected_type";

/**
 * A message or payload could not be decoded or is not the expected one.
 * Messages name the field, never its contents.
 *
 * @example Catching a malformed message
 * ```ts
 * import { decodeMessage, MessageError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => decodeMessage('{"id":7}'),
 *   (err) => err instanceof MessageError && err.code === "invalid_message",
 * );
 * ```
 */
export class MessageError extends CodedError<MessageErrorCode> {
  /** Always `"MessageError"`. */
  override readonly name = "MessageError";
}

/**
 * An `error` message received from a peer (Go's `ProtocolError`). Its text is
 * `remote error (<code>): <message>` as in Go.
 *
 * @example Reading the remote code
 * ```ts
 * import { getProtocolErrorCode, ProtocolError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = new ProtocolError(1001, "test error");
 * assert.equal(err.message, "remote error (1001): test error");
 * assert.equal(getProtocolErrorCode(err), 1001);
 * assert.equal(getProtocolErrorCode(new Error("x")), 0);
 * ```
 */
export class ProtocolError extends CodedError<"remote_error"> {
  /** The peer's error payload code (see {@linkcode ErrorCode}). */
  readonly remoteCode: number;
  /** The peer's error text. */
  readonly remoteMessage: string;
  /** Always `"ProtocolError"`. */
  override readonly name = "ProtocolError";

  /**
   * Creates a protocol error.
   *
   * @param remoteCode The peer's code.
   * @param remoteMessage The peer's text.
   */
  constructor(remoteCode: number, remoteMessage: string) {
    super("remote_error", `remote error (${remoteCode}): ${remoteMessage}`);
    this.remoteCode = remoteCode;
    this.remoteMessage = remoteMessage;
  }
}

/**
 * Tells whether an error is a {@linkcode ProtocolError}.
 *
 * @param err Any value.
 * @returns `true` for a protocol error.
 *
 * @example Telling errors apart
 * ```ts
 * import { isProtocolError, ProtocolError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isProtocolError(new ProtocolError(1004, "failed")), true);
 * assert.equal(isProtocolError(new Error("x")), false);
 * ```
 */
export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}

/**
 * Returns the remote code of a {@linkcode ProtocolError}, or 0 for any other
 * value.
 *
 * @param err Any value.
 * @returns The code or 0.
 *
 * @example Getting a code
 * ```ts
 * import { getProtocolErrorCode, ProtocolError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(getProtocolErrorCode(new ProtocolError(1004, "x")), 1004);
 * ```
 */
export function getProtocolErrorCode(err: unknown): number {
  return err instanceof ProtocolError ? err.remoteCode : 0;
}

/**
 * Returns a message's `ts` as Unix milliseconds.
 *
 * @param message The message.
 * @returns Unix milliseconds, or `undefined` when `ts` is not valid RFC 3339.
 *
 * @example Reading a timestamp
 * ```ts
 * import { messageTime, newMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const msg = newMessage("ping", { from: "a", to: "b", payload: { sentAt: 1 }, now: 1_000 });
 * assert.equal(messageTime(msg), 1_000);
 * ```
 */
export function messageTime(message: Message): number | undefined {
  return parseGoTimeFast(message.ts);
}

// ---------------------------------------------------------------------------
// Go-style field access (exact keys first, then case-insensitive, last wins)

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether every key of `obj` is one of the struct's exact field names. */
function onlyKnownKeys(obj: Obj, known: ReadonlySet<string>): boolean {
  for (const k in obj) {
    if (!known.has(k)) return false;
  }
  return true;
}

/**
 * Looks a struct field up as Go's decoder matches keys. `exactOnly` is
 * {@linkcode onlyKnownKeys} of `obj`, when the caller already knows it.
 */
function field(
  obj: Obj,
  name: string,
  known: ReadonlySet<string>,
  exactOnly?: boolean,
): unknown {
  if (Object.hasOwn(obj, name)) {
    if (exactOnly ?? onlyKnownKeys(obj, known)) return obj[name];
  }
  const lower = name.toLowerCase();
  let found: unknown = undefined;
  for (const k in obj) {
    if (k === name || k.toLowerCase() === lower) found = obj[k];
  }
  return found;
}

class Reader {
  readonly #obj: Obj;
  readonly #known: ReadonlySet<string>;
  readonly #what: string;
  readonly #code: MessageErrorCode;
  #exactOnly: boolean | undefined;

  constructor(
    obj: Obj,
    known: ReadonlySet<string>,
    what: string,
    code: MessageErrorCode,
  ) {
    this.#obj = obj;
    this.#known = known;
    this.#what = what;
    this.#code = code;
  }

  fail(name: string, expected: string): never {
    throw new MessageError(
      this.#code,
      `Cannot decode ${this.#what}: field "${name}" is not ${expected}`,
    );
  }

  raw(name: string): unknown {
    // The key check is the same for every field of the object: do it once.
    this.#exactOnly ??= onlyKnownKeys(this.#obj, this.#known);
    return field(this.#obj, name, this.#known, this.#exactOnly);
  }

  string(name: string): string {
    const v = this.raw(name);
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") this.fail(name, "a string");
    return v;
  }

  bool(name: string): boolean {
    const v = this.raw(name);
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") this.fail(name, "a boolean");
    return v;
  }

  /** A Go `int`/`int64`: an integer literal within int64 (safe range here). */
  int(name: string): number {
    const v = this.raw(name);
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      this.fail(name, "an integer");
    }
    return v;
  }

  float(name: string): number {
    const v = this.raw(name);
    if (v === undefined || v === null) return 0;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      this.fail(name, "a number");
    }
    return v;
  }

  /** A Go `[]byte`: strict padded standard base64; `null` stays `null`. */
  bytes(name: string): Uint8Array | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    if (v instanceof Uint8Array) return v;
    if (typeof v !== "string") this.fail(name, "base64 text");
    const out = decodeBase64Strict(v);
    if (out === undefined) this.fail(name, "padded standard base64");
    return out;
  }

  /** A Go `time.Time`: valid RFC 3339; `null`/absent is the zero time. */
  time(name: string): string {
    const v = this.raw(name);
    if (v === undefined || v === null) return ZERO_TIME;
    if (typeof v !== "string" || parseGoTimeFast(v) === undefined) {
      this.fail(name, "an RFC 3339 time");
    }
    return v;
  }

  object(name: string): Obj | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    if (!isObject(v)) this.fail(name, "an object");
    return v;
  }

  array(name: string): unknown[] | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) this.fail(name, "an array");
    return v;
  }
}

function reader(
  value: unknown,
  known: readonly string[],
  what: string,
  code: MessageErrorCode = "invalid_payload",
): Reader | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) {
    throw new MessageError(code, `Cannot decode ${what}: not a JSON object`);
  }
  return new Reader(value, keySet(known), what, code);
}

const keySets = new Map<readonly string[], ReadonlySet<string>>();
function keySet(keys: readonly string[]): ReadonlySet<string> {
  let s = keySets.get(keys);
  if (s === undefined) {
    s = new Set(keys);
    keySets.set(keys, s);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Envelope

const ENVELOPE_KEYS = ["id", "type", "from", "to", "ts", "payload", "replyTo"];
const ENVELOPE_SET = keySet(ENVELOPE_KEYS);

/**
 * Decodes a message from its wire JSON, checking field types as Go does
 * (strings must be strings, `ts` must be RFC 3339 or `null`; unknown keys
 * are ignored; keys match case-insensitively like Go).
 *
 * @param text The JSON text.
 * @returns The message; an absent payload becomes `null`.
 * @throws {MessageError} `invalid_json` or `invalid_message`.
 *
 * @example Decoding a frame body
 * ```ts
 * import { decodeMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const msg = decodeMessage(
 *   '{"id":"x","type":"get_stats","from":"a","to":"b","ts":"2026-02-20T10:00:00Z","payload":null}',
 * );
 * assert.equal(msg.type, "get_stats");
 * assert.equal(msg.payload, null);
 * ```
 */
export function decodeMessage(text: string): Message {
  if (typeof text !== "string") {
    throw new TypeError(
      `Cannot decode message: expected a string, got ${typeof text}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MessageError(
      "invalid_json",
      "Cannot decode message: not valid JSON",
      {
        cause: err,
      },
    );
  }
  return messageFromJson(value);
}

/**
 * Builds a message from an already parsed JSON value (see
 * {@linkcode decodeMessage}).
 *
 * @param value The parsed JSON.
 * @returns The message.
 * @throws {MessageError} `invalid_message`.
 */
export function messageFromJson(value: unknown): Message {
  // Fast path: exactly Go's keys (no folding to do) and well-typed fields.
  // It builds the same message the general reader below would.
  if (isObject(value) && onlyKnownKeys(value, ENVELOPE_SET)) {
    const { id, type, from, to, ts, payload, replyTo } = value;
    if (
      typeof id === "string" && typeof type === "string" &&
      typeof from === "string" && typeof to === "string" &&
      typeof ts === "string" && parseGoTimeFast(ts) !== undefined &&
      (replyTo === undefined || typeof replyTo === "string")
    ) {
      const msg: Message = {
        id,
        type,
        from,
        to,
        ts,
        payload: payload === undefined ? null : payload as JsonValue,
      };
      if (replyTo) msg.replyTo = replyTo;
      return msg;
    }
  }
  const r = reader(value, ENVELOPE_KEYS, "message", "invalid_message");
  if (r === null) {
    throw new MessageError(
      "invalid_message",
      "Cannot decode message: not a JSON object",
    );
  }
  const payload = r.raw("payload");
  const msg: Message = {
    id: r.string("id"),
    type: r.string("type"),
    from: r.string("from"),
    to: r.string("to"),
    ts: r.time("ts"),
    payload: payload === undefined ? null : payload as JsonValue,
  };
  const replyTo = r.string("replyTo");
  if (replyTo !== "") msg.replyTo = replyTo;
  return msg;
}

/**
 * Encodes a message as Go's wire encoder does: keys in struct order, `replyTo`
 * omitted when empty, HTML escaping off, U+2028/U+2029 escaped, no trailing
 * newline. The payload must be in the JSON data model (as
 * {@linkcode newMessage} builds it).
 *
 * @param message The message.
 * @returns The JSON text.
 *
 * @example Encoding a message
 * ```ts
 * import { encodeMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   encodeMessage({ id: "1", type: "ping", from: "a", to: "b", ts: "2026-01-01T00:00:00Z", payload: { sentAt: 5 } }),
 *   '{"id":"1","type":"ping","from":"a","to":"b","ts":"2026-01-01T00:00:00Z","payload":{"sentAt":5}}',
 * );
 * ```
 */
export function encodeMessage(message: Message): string {
  const { id, type, from, to, ts, replyTo } = message;
  const payload = message.payload ?? null;
  // Fast path: one native pass over the whole envelope, in Go's field order.
  // It equals the field-by-field path below whenever the output holds
  // nothing JSON.stringify writes differently from Go.
  if (
    typeof id === "string" && typeof type === "string" &&
    typeof from === "string" && typeof to === "string" &&
    typeof ts === "string" && typeof payload !== "function" &&
    typeof payload !== "symbol" && typeof payload !== "undefined" &&
    (replyTo === undefined || typeof replyTo === "string")
  ) {
    const json = JSON.stringify(
      replyTo
        ? { id, type, from, to, ts, payload, replyTo }
        : { id, type, from, to, ts, payload },
    );
    if (json.includes("null")) assertFiniteNumbers(payload);
    if (!differsFromGo(json)) return json;
  }
  let out = '{"id":' + quote(message.id) + ',"type":' + quote(message.type) +
    ',"from":' + quote(message.from) + ',"to":' + quote(message.to) +
    ',"ts":' + quote(message.ts) + ',"payload":' +
    marshalJson(message.payload ?? null);
  if (message.replyTo) out += ',"replyTo":' + quote(message.replyTo);
  return out + "}";
}

function quote(s: string): string {
  return quoteGoFast(s, false);
}

// ---------------------------------------------------------------------------
// Payload encoders (typed payload -> JSON data model, Go order, omitempty)

function identityJson(i: NodeIdentity): JsonObject {
  return {
    id: i.id,
    name: i.name,
    publicKey: i.publicKey,
    createdAt: i.createdAt,
    role: i.role,
  };
}

function intOf(what: string, v: number): number {
  if (!Number.isSafeInteger(v)) {
    throw new RangeError(
      `Cannot encode payload: ${what} must be an integer, got ${v}`,
    );
  }
  return v;
}

function floatOf(what: string, v: number): number {
  if (!Number.isFinite(v)) {
    throw new RangeError(
      `Cannot encode payload: ${what} must be finite, got ${v}`,
    );
  }
  return v;
}

function bytesJson(v: Uint8Array | null | undefined): string | null {
  return v === null || v === undefined ? null : encodeBase64(v);
}

/** Sets `key` on `obj` unless `value` is Go's empty value. */
function omitEmpty(
  obj: JsonObject,
  key: string,
  value: JsonValue | undefined,
): void {
  if (value === undefined || value === "" || value === 0 || value === false) {
    return;
  }
  obj[key] = value;
}

type Encoder = (p: never) => JsonValue;

const ENCODERS: { [K in keyof PayloadMap]: (p: PayloadMap[K]) => JsonValue } = {
  handshake(p) {
    const o: JsonObject = { identity: identityJson(p.identity) };
    if (p.challenge !== undefined && p.challenge.length > 0) {
      o.challenge = encodeBase64(p.challenge);
    }
    o.version = p.version;
    return o;
  },
  handshake_ack(p) {
    const o: JsonObject = { identity: identityJson(p.identity) };
    if (p.challengeResponse !== undefined && p.challengeResponse.length > 0) {
      o.challengeResponse = encodeBase64(p.challengeResponse);
    }
    o.accepted = p.accepted;
    omitEmpty(o, "reason", p.reason);
    return o;
  },
  ping: (p) => ({ sentAt: intOf("sentAt", p.sentAt) }),
  pong: (p) => ({
    sentAt: intOf("sentAt", p.sentAt),
    receivedAt: intOf("receivedAt", p.receivedAt),
  }),
  disconnect: (p) => ({ reason: p.reason, code: intOf("code", p.code) }),
  get_stats: () => null,
  stats: (p) => ({
    nodeId: p.nodeId,
    nodeName: p.nodeName,
    miners: p.miners.map((m) => {
      const o: JsonObject = {
        name: m.name,
        type: m.type,
        hashrate: floatOf("hashrate", m.hashrate),
        shares: intOf("shares", m.shares),
        rejected: intOf("rejected", m.rejected),
        uptime: intOf("uptime", m.uptime),
        pool: m.pool,
        algorithm: m.algorithm,
      };
      if (m.cpuThreads !== undefined) {
        omitEmpty(o, "cpuThreads", intOf("cpuThreads", m.cpuThreads));
      }
      return o;
    }),
    uptime: intOf("uptime", p.uptime),
  }),
  start_miner(p) {
    const o: JsonObject = { minerType: p.minerType };
    omitEmpty(o, "profileId", p.profileId);
    if (p.config !== undefined) o.config = p.config;
    return o;
  },
  stop_miner: (p) => ({ minerName: p.minerName }),
  miner_ack(p) {
    const o: JsonObject = { success: p.success };
    omitEmpty(o, "minerName", p.minerName);
    omitEmpty(o, "error", p.error);
    return o;
  },
  deploy: (p) => ({
    type: p.type,
    data: bytesJson(p.data),
    checksum: p.checksum,
    name: p.name,
  }),
  deploy_ack(p) {
    const o: JsonObject = { success: p.success };
    omitEmpty(o, "name", p.name);
    omitEmpty(o, "error", p.error);
    return o;
  },
  get_logs(p) {
    const o: JsonObject = {
      minerName: p.minerName,
      lines: intOf("lines", p.lines),
    };
    if (p.since !== undefined) omitEmpty(o, "since", intOf("since", p.since));
    return o;
  },
  logs: (p) => ({
    minerName: p.minerName,
    lines: p.lines === null ? null : [...p.lines],
    hasMore: p.hasMore,
  }),
  error(p) {
    const o: JsonObject = { code: intOf("code", p.code), message: p.message };
    omitEmpty(o, "details", p.details);
    return o;
  },
};

function isKnownType(type: string): type is keyof PayloadMap {
  return Object.hasOwn(ENCODERS, type);
}

/**
 * Converts a typed payload into the JSON data model exactly as Go would
 * serialise it (field order, `omitempty`, base64 bytes).
 *
 * @param type A known message type.
 * @param payload The typed payload.
 * @returns The JSON value for {@linkcode Message.payload}.
 * @throws {RangeError} When an integer field is not an integer.
 *
 * @example Converting a pong payload
 * ```ts
 * import { payloadToJson } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(payloadToJson("pong", { receivedAt: 2, sentAt: 1 }), { sentAt: 1, receivedAt: 2 });
 * ```
 */
export function payloadToJson<T extends keyof PayloadMap>(
  type: T,
  payload: PayloadMap[T],
): JsonValue {
  if (payload === null || payload === undefined) return null;
  return (ENCODERS[type] as Encoder)(payload as never);
}

// ---------------------------------------------------------------------------
// Payload decoders (JSON data model -> typed payload, checked as Go does)

const IDENTITY_KEYS = ["id", "name", "publicKey", "createdAt", "role"];

function decodeIdentity(v: unknown, what: string): NodeIdentity {
  const r = reader(v, IDENTITY_KEYS, what);
  if (r === null) {
    return {
      id: "",
      name: "",
      publicKey: "",
      createdAt: ZERO_TIME,
      role: "" as NodeRole,
    };
  }
  return {
    id: r.string("id"),
    name: r.string("name"),
    publicKey: r.string("publicKey"),
    createdAt: r.time("createdAt"),
    role: r.string("role") as NodeRole,
  };
}

function stringArray(r: Reader, name: string): string[] | null {
  const a = r.array(name);
  if (a === null) return null;
  const out: string[] = [];
  for (const s of a) {
    if (s === null) out.push("");
    else if (typeof s !== "string") r.fail(name, "an array of strings");
    else out.push(s);
  }
  return out;
}

const K = {
  handshake: ["identity", "challenge", "version"],
  handshake_ack: ["identity", "challengeResponse", "accepted", "reason"],
  ping: ["sentAt"],
  pong: ["sentAt", "receivedAt"],
  disconnect: ["reason", "code"],
  stats: ["nodeId", "nodeName", "miners", "uptime"],
  miner: [
    "name",
    "type",
    "hashrate",
    "shares",
    "rejected",
    "uptime",
    "pool",
    "algorithm",
    "cpuThreads",
  ],
  start_miner: ["minerType", "profileId", "config"],
  stop_miner: ["minerName"],
  miner_ack: ["success", "minerName", "error"],
  deploy: ["type", "data", "checksum", "name"],
  deploy_ack: ["success", "name", "error"],
  get_logs: ["minerName", "lines", "since"],
  logs: ["minerName", "lines", "hasMore"],
  error: ["code", "message", "details"],
} as const;

function optional<T>(
  obj: T,
  key: keyof T,
  value: unknown,
  empty: unknown,
): void {
  if (value !== empty) (obj as Record<string, unknown>)[key as string] = value;
}

const DECODERS: { [K in keyof PayloadMap]: (v: unknown) => PayloadMap[K] } = {
  handshake(v) {
    const r = reader(v, K.handshake, "handshake payload");
    const p: HandshakePayload = {
      identity: decodeIdentity(r?.raw("identity"), "handshake identity"),
      version: r?.string("version") ?? "",
    };
    const c = r?.bytes("challenge");
    if (c) p.challenge = c;
    return p;
  },
  handshake_ack(v) {
    const r = reader(v, K.handshake_ack, "handshake_ack payload");
    const p: HandshakeAckPayload = {
      identity: decodeIdentity(r?.raw("identity"), "handshake_ack identity"),
      accepted: r?.bool("accepted") ?? false,
    };
    const c = r?.bytes("challengeResponse");
    if (c) p.challengeResponse = c;
    optional(p, "reason", r?.string("reason") ?? "", "");
    return p;
  },
  ping(v) {
    const r = reader(v, K.ping, "ping payload");
    return { sentAt: r?.int("sentAt") ?? 0 };
  },
  pong(v) {
    const r = reader(v, K.pong, "pong payload");
    return {
      sentAt: r?.int("sentAt") ?? 0,
      receivedAt: r?.int("receivedAt") ?? 0,
    };
  },
  disconnect(v) {
    const r = reader(v, K.disconnect, "disconnect payload");
    return { reason: r?.string("reason") ?? "", code: r?.int("code") ?? 0 };
  },
  get_stats: () => null,
  stats(v) {
    const r = reader(v, K.stats, "stats payload");
    const miners: MinerStatsItem[] = [];
    for (const m of r?.array("miners") ?? []) {
      const mr = reader(m, K.miner, "stats miner");
      const item: MinerStatsItem = {
        name: mr?.string("name") ?? "",
        type: mr?.string("type") ?? "",
        hashrate: mr?.float("hashrate") ?? 0,
        shares: mr?.int("shares") ?? 0,
        rejected: mr?.int("rejected") ?? 0,
        uptime: mr?.int("uptime") ?? 0,
        pool: mr?.string("pool") ?? "",
        algorithm: mr?.string("algorithm") ?? "",
      };
      optional(item, "cpuThreads", mr?.int("cpuThreads") ?? 0, 0);
      miners.push(item);
    }
    return {
      nodeId: r?.string("nodeId") ?? "",
      nodeName: r?.string("nodeName") ?? "",
      miners,
      uptime: r?.int("uptime") ?? 0,
    };
  },
  start_miner(v) {
    const r = reader(v, K.start_miner, "start_miner payload");
    const p: StartMinerPayload = { minerType: r?.string("minerType") ?? "" };
    optional(p, "profileId", r?.string("profileId") ?? "", "");
    const config = r?.raw("config");
    if (config !== undefined) p.config = config as JsonValue;
    return p;
  },
  stop_miner(v) {
    const r = reader(v, K.stop_miner, "stop_miner payload");
    return { minerName: r?.string("minerName") ?? "" };
  },
  miner_ack(v) {
    const r = reader(v, K.miner_ack, "miner_ack payload");
    const p: MinerAckPayload = { success: r?.bool("success") ?? false };
    optional(p, "minerName", r?.string("minerName") ?? "", "");
    optional(p, "error", r?.string("error") ?? "", "");
    return p;
  },
  deploy(v) {
    const r = reader(v, K.deploy, "deploy payload");
    return {
      type: r?.string("type") ?? "",
      data: r?.bytes("data") ?? null,
      checksum: r?.string("checksum") ?? "",
      name: r?.string("name") ?? "",
    };
  },
  deploy_ack(v) {
    const r = reader(v, K.deploy_ack, "deploy_ack payload");
    const p: DeployAckPayload = { success: r?.bool("success") ?? false };
    optional(p, "name", r?.string("name") ?? "", "");
    optional(p, "error", r?.string("error") ?? "", "");
    return p;
  },
  get_logs(v) {
    const r = reader(v, K.get_logs, "get_logs payload");
    const p: GetLogsPayload = {
      minerName: r?.string("minerName") ?? "",
      lines: r?.int("lines") ?? 0,
    };
    optional(p, "since", r?.int("since") ?? 0, 0);
    return p;
  },
  logs(v) {
    const r = reader(v, K.logs, "logs payload");
    return {
      minerName: r?.string("minerName") ?? "",
      lines: r === null ? null : stringArray(r, "lines"),
      hasMore: r?.bool("hasMore") ?? false,
    };
  },
  error(v) {
    const r = reader(v, K.error, "error payload");
    const p: ErrorPayload = {
      code: r?.int("code") ?? 0,
      message: r?.string("message") ?? "",
    };
    optional(p, "details", r?.string("details") ?? "", "");
    return p;
  },
};

/**
 * Decodes a message's payload as the given type, checking every field the
 * way Go's decoder does (integers must be integer literals, byte fields
 * strict padded base64, times RFC 3339; unknown keys ignored). A `null`
 * payload gives the type's zero value, as Go's `ParsePayload` leaves its
 * target untouched.
 *
 * @param message The message (its payload is read; its type is not checked).
 * @param type The payload type to decode as.
 * @returns The typed payload. Byte fields are fresh arrays.
 * @throws {MessageError} `invalid_payload`.
 *
 * @example Reading a ping
 * ```ts
 * import { newMessage, parsePayload } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const msg = newMessage("ping", { from: "a", to: "b", payload: { sentAt: 42 } });
 * assert.deepEqual(parsePayload(msg, "ping"), { sentAt: 42 });
 * ```
 */
export function parsePayload<T extends keyof PayloadMap>(
  message: Pick<Message, "payload">,
  type: T,
): PayloadMap[T] {
  if (!isKnownType(type)) {
    throw new TypeError(
      `Cannot parse payload: unknown message type "${String(type)}"`,
    );
  }
  return DECODERS[type](message.payload) as PayloadMap[T];
}

// ---------------------------------------------------------------------------
// Constructors

/** Options of {@linkcode newMessage}. */
export interface NewMessageOptions<P> {
  /** Sender node ID. */
  from: string;
  /** Recipient node ID (default `""`). */
  to?: string;
  /** The payload (default `null`). */
  payload?: P;
  /** ID of the message being answered. */
  replyTo?: string;
  /** Message ID (default: a fresh UUID v4). */
  id?: string;
  /** Creation time (default: now). */
  now?: Date | number;
}

/**
 * Creates a message with a fresh UUID v4 `id` and `ts = now`. For the 15
 * known types the payload is typed and converted with Go's field order and
 * `omitempty`; for other types it must already be a {@linkcode JsonValue}.
 *
 * @param type The message type.
 * @param options Sender, recipient, payload and overrides.
 * @returns The message.
 * @throws {RangeError} When an integer payload field is not an integer.
 *
 * @example Creating and encoding a ping
 * ```ts
 * import { encodeMessage, newMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const msg = newMessage("ping", {
 *   from: "aaa8fff703b50b2297f4f6e13508f724",
 *   to: "4457134794559182226754e9dd2f1083",
 *   payload: { sentAt: 1771581600123 },
 *   now: new Date("2026-02-20T10:00:00.123Z"),
 * });
 * assert.equal(msg.id.length, 36);
 * assert.ok(encodeMessage(msg).endsWith(
 *   '"ts":"2026-02-20T10:00:00.123Z","payload":{"sentAt":1771581600123}}',
 * ));
 * ```
 */
export function newMessage<T extends keyof PayloadMap>(
  type: T,
  options: NewMessageOptions<PayloadMap[T] | null>,
): Message;
/**
 * Creates a message of a type outside the 15 known ones; the payload must
 * already be in the JSON data model.
 *
 * @param type The message type.
 * @param options Sender, recipient, payload and overrides.
 * @returns The message.
 */
export function newMessage(
  type: string,
  options: NewMessageOptions<JsonValue>,
): Message;
export function newMessage(
  type: string,
  options: NewMessageOptions<unknown>,
): Message {
  if (typeof type !== "string") {
    throw new TypeError(
      `Cannot create message: type must be a string, got ${typeof type}`,
    );
  }
  const p = options.payload;
  let payload: JsonValue;
  if (p === undefined || p === null) payload = null;
  else if (isKnownType(type)) payload = payloadToJson(type, p as never);
  else payload = p as JsonValue;
  const now = options.now ?? Date.now();
  const ms = typeof now === "number" ? now : now.getTime();
  if (!Number.isFinite(ms)) {
    throw new RangeError(`Cannot create message: invalid time ${ms}`);
  }
  const msg: Message = {
    id: options.id ?? crypto.randomUUID(),
    type,
    from: options.from,
    to: options.to ?? "",
    ts: formatGoTime(ms),
    payload,
  };
  if (options.replyTo) msg.replyTo = options.replyTo;
  return msg;
}

/** Options of {@linkcode reply}. */
export type ReplyOptions<P> = Omit<
  NewMessageOptions<P>,
  "from" | "to" | "replyTo"
>;

/**
 * Creates the answer to a message, as Go's `Reply`: `from` = the request's
 * `to` (Go echoes it even when it was empty), `to` = the request's `from`,
 * `replyTo` = the request's `id`.
 *
 * @param request The message being answered.
 * @param type The reply type.
 * @param options Payload and overrides.
 * @returns The reply.
 *
 * @example Answering a ping
 * ```ts
 * import { newMessage, reply } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const ping = newMessage("ping", { from: "a", to: "b", payload: { sentAt: 1 } });
 * const pong = reply(ping, "pong", { payload: { sentAt: 1, receivedAt: 2 } });
 * assert.equal(pong.replyTo, ping.id);
 * assert.equal(pong.from, "b");
 * assert.equal(pong.to, "a");
 * ```
 */
export function reply<T extends keyof PayloadMap>(
  request: Message,
  type: T,
  options?: ReplyOptions<PayloadMap[T] | null>,
): Message;
/**
 * Creates an answer of a type outside the 15 known ones.
 *
 * @param request The message being answered.
 * @param type The reply type.
 * @param options Payload (JSON data model) and overrides.
 * @returns The reply.
 */
export function reply(
  request: Message,
  type: string,
  options?: ReplyOptions<JsonValue>,
): Message;
export function reply(
  request: Message,
  type: string,
  options: ReplyOptions<unknown> = {},
): Message {
  return newMessage(type as keyof PayloadMap, {
    ...(options as ReplyOptions<never>),
    from: request.to,
    to: request.from,
    replyTo: request.id,
  });
}

/** Options of {@linkcode newErrorMessage}. */
export interface ErrorMessageOptions {
  /** Sender node ID. */
  from: string;
  /** Recipient node ID. */
  to: string;
  /** Error code (see {@linkcode ErrorCode}). */
  code: number;
  /** Error text. */
  message: string;
  /** ID of the failed request (omitted when empty). */
  replyTo?: string;
  /** Creation time (default: now). */
  now?: Date | number;
}

/**
 * Creates an `error` message with payload `{code, message}` (Go's
 * `NewErrorMessage`).
 *
 * @param options Sender, recipient, code, text and the request's ID.
 * @returns The message.
 *
 * @example Reporting a failure
 * ```ts
 * import { ErrorCode, newErrorMessage, parsePayload } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const msg = newErrorMessage({ from: "b", to: "a", code: ErrorCode.OperationFailed, message: "no such miner", replyTo: "r1" });
 * assert.equal(msg.type, "error");
 * assert.equal(msg.replyTo, "r1");
 * assert.deepEqual(parsePayload(msg, "error"), { code: 1004, message: "no such miner" });
 * ```
 */
export function newErrorMessage(options: ErrorMessageOptions): Message {
  const init: NewMessageOptions<ErrorPayload> = {
    from: options.from,
    to: options.to,
    payload: { code: options.code, message: options.message },
  };
  if (options.replyTo !== undefined) init.replyTo = options.replyTo;
  if (options.now !== undefined) init.now = options.now;
  return newMessage("error", init);
}

// ---------------------------------------------------------------------------
// Response helpers

/**
 * Checks a response as Go's `ValidateResponse` does: a missing response
 * fails, an `error` message becomes a {@linkcode ProtocolError} (code 1000
 * when its payload is malformed), another type than expected fails.
 *
 * @param response The response, or `undefined`.
 * @param expectedType The type the request expects.
 * @throws {MessageError} `missing_response` or `unexpected_type`.
 * @throws {ProtocolError} When the response is an `error` message.
 *
 * @example Validating responses
 * ```ts
 * import { newErrorMessage, ProtocolError, validateResponse } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = newErrorMessage({ from: "b", to: "a", code: 1004, message: "failed" });
 * assert.throws(() => validateResponse(err, "stats"), ProtocolError);
 * ```
 */
export function validateResponse(
  response: Message | undefined | null,
  expectedType: string,
): void {
  if (response === undefined || response === null) {
    throw new MessageError(
      "missing_response",
      "Cannot validate response: no response",
    );
  }
  if (response.type === MessageType.Error) {
    let payload: ErrorPayload;
    try {
      payload = DECODERS.error(response.payload);
    } catch {
      throw new ProtocolError(
        ErrorCode.Unknown,
        "unable to parse error response",
      );
    }
    throw new ProtocolError(payload.code, payload.message);
  }
  if (response.type !== expectedType) {
    throw new MessageError(
      "unexpected_type",
      `Cannot validate response: unexpected response type: expected ${expectedType}, got ${response.type}`,
    );
  }
}

/**
 * Validates a response (see {@linkcode validateResponse}) and decodes its
 * payload as the expected type.
 *
 * @param response The response, or `undefined`.
 * @param expectedType The type the request expects.
 * @returns The typed payload.
 * @throws {MessageError} `missing_response`, `unexpected_type` or `invalid_payload`.
 * @throws {ProtocolError} When the response is an `error` message.
 *
 * @example Parsing a stats response
 * ```ts
 * import { newMessage, parseResponse } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const resp = newMessage("stats", {
 *   from: "b",
 *   payload: { nodeId: "b", nodeName: "w", miners: [], uptime: 42 },
 * });
 * assert.equal(parseResponse(resp, "stats").uptime, 42);
 * ```
 */
export function parseResponse<T extends keyof PayloadMap>(
  response: Message | undefined | null,
  expectedType: T,
): PayloadMap[T] {
  validateResponse(response, expectedType);
  return parsePayload(response!, expectedType);
}
