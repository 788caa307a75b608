/**
 * Borg SMSG secure messages (crypto-formats.md §4): the container every
 * go-p2p frame travels in after the handshake.
 *
 * v1 container (what go-p2p sends):
 *
 * | Offset | Size | Content                                                     |
 * | ------ | ---- | ----------------------------------------------------------- |
 * | 0      | 4    | `SMSG`                                                      |
 * | 4      | 1    | `0x02`                                                      |
 * | 5      | 4    | u32be header length (48 for plain `Encrypt`)                |
 * | 9      | N    | `{"algorithm":"chacha20poly1305","version":"1.0"}` (+ keys) |
 * | 9 + N  | 24   | nonce                                                       |
 * | 33 + N | m    | ciphertext of XOR(message JSON, keystream(nonce))           |
 * | end-16 | 16   | Poly1305 tag                                                |
 *
 * The key is SHA-256 of the UTF-8 password, with no salt.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  gunzipSync,
  gzipSync,
  zstdCompressSync,
  zstdDecompressSync,
} from "node:zlib";
import { GoMap, marshalGo, quoteGoFast } from "../_go_json.ts";
import { Buffer } from "node:buffer";
import { encodeBase64 } from "../_base64.ts";
import { BorgError } from "./errors.ts";
import {
  ChaChaPolySigil,
  type SigilRandomSource,
  type SigilSealOptions,
} from "./sigil.ts";
import { trixDecode, trixEncodeRaw } from "./trix.ts";

/** Default cap on the decompressed size of a v2 payload (64 MiB). */
export const SMSG_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** An SMSG attachment (Go `smsg.Attachment`). */
export interface SmsgAttachment {
  /** File name (always written). */
  name: string;
  /** Base64 (padded, standard) of the content, as Go stores it. */
  content?: string;
  /** MIME type. */
  mime?: string;
  /** v1: length of the base64 text (Go `AddAttachment`); v2: binary length. */
  size?: number;
}

/** A public-key record (Go `smsg.PKIInfo`, JSON `reply_key`). */
export interface SmsgPkiInfo {
  /** Base64 public key (JSON `public_key`, always written). */
  publicKey: string;
  /** JSON `key_id`. */
  keyId?: string;
  /** e.g. `"x25519"`. */
  algorithm?: string;
  /** Key fingerprint. */
  fingerprint?: string;
}

/** An SMSG message (Go `smsg.Message`). */
export interface SmsgMessage {
  /** Subject line. */
  subject?: string;
  /** Body text (always written; go-p2p puts its whole Message JSON here). */
  body: string;
  /** Attachments. */
  attachments?: SmsgAttachment[];
  /** Key for replies (JSON `reply_key`). */
  replyKey?: SmsgPkiInfo;
  /** Sender label. */
  from?: string;
  /** Unix seconds; encryption fills in "now" when absent or zero. */
  timestamp?: number;
  /** String metadata (written with sorted keys). */
  meta?: Record<string, string>;
}

/** A track in an {@linkcode SmsgManifest}. */
export interface SmsgTrack {
  /** Title (always written). */
  title: string;
  /** Start in seconds (always written). */
  start: number;
  /** End in seconds. */
  end?: number;
  /** Track type. */
  type?: string;
  /** JSON `track_num`. */
  trackNum?: number;
}

/** The public manifest carried in the SMSG header (Go `smsg.Manifest`). */
export interface SmsgManifest {
  /** Title. */
  title?: string;
  /** Artist. */
  artist?: string;
  /** Album. */
  album?: string;
  /** Genre. */
  genre?: string;
  /** Year. */
  year?: number;
  /** JSON `release_type`. */
  releaseType?: string;
  /** Duration in seconds. */
  duration?: number;
  /** Format label. */
  format?: string;
  /** JSON `expires_at` (Unix seconds). */
  expiresAt?: number;
  /** JSON `issued_at` (Unix seconds). */
  issuedAt?: number;
  /** JSON `license_type`. */
  licenseType?: string;
  /** Tracks. */
  tracks?: SmsgTrack[];
  /** Links by name (sorted keys). */
  links?: Record<string, string>;
  /** Tags. */
  tags?: string[];
  /** Extra strings (sorted keys). */
  extra?: Record<string, string>;
}

/** Payload compression for v2 containers. */
export type SmsgCompression = "none" | "gzip" | "zstd";

/** Options for {@linkcode smsgEncrypt}. */
export interface SmsgEncryptOptions {
  /** A fixed 24-byte nonce (tests and vectors only). */
  nonce?: Uint8Array;
  /** Timestamp to write when the message has none (default: now). */
  timestamp?: number;
  /** Header `hint` (Go `EncryptWithHint`), written when non-empty. */
  hint?: string;
  /** Header `manifest` (Go `EncryptWithManifest` / `EncryptV2`). */
  manifest?: SmsgManifest;
  /** `"v1"` (default, what go-p2p sends) or `"v2"` (binary attachments). */
  format?: "v1" | "v2";
  /** v2 only: payload compression (default `"zstd"`, as Go's `EncryptV2`). */
  compression?: SmsgCompression;
}

/** Options for {@linkcode smsgDecrypt}. */
export interface SmsgDecryptOptions {
  /** Cap on a decompressed v2 payload (default 64 MiB). */
  maxDecompressedBytes?: number;
}

/** Options for {@linkcode SmsgKey.fromPassword}. */
export interface SmsgKeyOptions {
  /** Nonce source (tests only). */
  random?: SigilRandomSource;
}

/** Options for {@linkcode smsgSealBody}. */
export interface SmsgSealBodyOptions {
  /** A fixed 24-byte nonce (tests and vectors only). */
  nonce?: Uint8Array;
  /** Unix seconds to write (default: now). */
  timestamp?: number;
  /**
   * Where the frame is built: called once with its size, it must return a
   * buffer of exactly that many bytes, which the frame then fills entirely
   * (see {@linkcode SigilSealOptions.allocate}). Default: a new buffer.
   */
  allocate?: (size: number) => Uint8Array<ArrayBuffer>;
}

/** The public header of an SMSG container (Go `GetInfo`). */
export interface SmsgHeader {
  /** `"chacha20poly1305"` (a label only). */
  algorithm?: string;
  /** `"1.0"`. */
  version?: string;
  /** `"v2"` for v2 containers. */
  format?: string;
  /** `"gzip"` or `"zstd"` when compressed. */
  compression?: string;
  /** Password hint. */
  hint?: string;
  /** Public manifest. */
  manifest?: SmsgManifest;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAGIC = encoder.encode("SMSG");
const V1_HEADER = encoder.encode(
  '{"algorithm":"chacha20poly1305","version":"1.0"}',
);
const V1_PREFIX = trixEncodeRaw(MAGIC, V1_HEADER, new Uint8Array());

/**
 * A derived SMSG key: SHA-256 of the UTF-8 password, with the sigil state
 * built once. Derive it once per connection and reuse it for every frame.
 *
 * @example Deriving a key once
 * ```ts
 * import { SmsgKey, smsgOpenBody, smsgSealBody } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = SmsgKey.fromPassword("uL2eovqajg4HUim6Pc6Zq6eRoKv18AZYHECR5/HP94M=");
 * const frame = smsgSealBody('{"type":"ping"}', key);
 * assert.equal(smsgOpenBody(frame, key), '{"type":"ping"}');
 * ```
 */
export class SmsgKey {
  /** The sigil keyed with SHA-256(password). */
  readonly sigil: ChaChaPolySigil;

  private constructor(sigil: ChaChaPolySigil) {
    this.sigil = sigil;
  }

  /**
   * Derives the key from a password: SHA-256 of its UTF-8 bytes.
   *
   * @param password The password (go-p2p: base64 of the shared secret).
   * @param options The nonce source (tests only).
   * @returns The key.
   * @throws {RangeError} When the password is empty.
   * @throws {TypeError} When the password is not a string.
   */
  static fromPassword(password: string, options: SmsgKeyOptions = {}): SmsgKey {
    if (typeof password !== "string") {
      throw new TypeError("Cannot derive SMSG key: password must be a string");
    }
    if (password.length === 0) {
      throw new RangeError("Cannot derive SMSG key: password is empty");
    }
    const key = smsgDeriveKey(password);
    const sigil = new ChaChaPolySigil(
      key,
      options.random === undefined ? {} : { random: options.random },
    );
    key.fill(0);
    return new SmsgKey(sigil);
  }

  /**
   * Wraps an already derived 32-byte key.
   *
   * @param key The 32-byte key (copied).
   * @param options The nonce source (tests only).
   * @returns The key.
   * @throws {RangeError} When the key is not 32 bytes.
   */
  static fromKey(key: Uint8Array, options: SmsgKeyOptions = {}): SmsgKey {
    return new SmsgKey(
      new ChaChaPolySigil(
        key,
        options.random === undefined ? {} : { random: options.random },
      ),
    );
  }
}

/**
 * SHA-256 of the UTF-8 password (Borg `smsg.DeriveKey` and `trix.DeriveKey`).
 *
 * @param password The password.
 * @returns The 32-byte key.
 * @example Deriving the go-p2p channel key
 * ```ts
 * import { smsgDeriveKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = smsgDeriveKey("uL2eovqajg4HUim6Pc6Zq6eRoKv18AZYHECR5/HP94M=");
 * assert.equal(key[0], 0xb2);
 * assert.equal(key.length, 32);
 * ```
 */
export function smsgDeriveKey(password: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(32);
  out.set(createHash("sha256").update(encoder.encode(password)).digest());
  return out;
}

function toKey(password: string | SmsgKey): SmsgKey {
  return password instanceof SmsgKey
    ? password
    : SmsgKey.fromPassword(password);
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

function checkTimestamp(ts: number): number {
  if (!Number.isSafeInteger(ts)) {
    throw new RangeError(
      `Cannot encrypt SMSG message: invalid timestamp ${ts}`,
    );
  }
  return ts;
}

/**
 * Seals a go-p2p frame body exactly as go-p2p `Transport.encryptMessage`
 * does: the plaintext is `{"body":<body>,"timestamp":<unix s>}` in Go
 * escaping (HTML escaping on), sealed in a v1 container.
 *
 * @param body The p2p Message JSON text.
 * @param key The connection key.
 * @param options A fixed nonce and timestamp (tests only).
 * @returns The frame bytes.
 * @throws {RangeError} When the body is empty, or a nonce/timestamp is invalid.
 * @example Sealing a frame
 * ```ts
 * import { SmsgKey, smsgDecrypt, smsgSealBody } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = SmsgKey.fromPassword("secret");
 * const frame = smsgSealBody("<hi>", key, { timestamp: 1700000000 });
 * assert.equal(frame.length, 97 + '{"body":"\\u003chi\\u003e","timestamp":1700000000}'.length);
 * assert.deepEqual(smsgDecrypt(frame, key), { body: "<hi>", timestamp: 1700000000 });
 * ```
 */
export function smsgSealBody(
  body: string,
  key: SmsgKey,
  options: SmsgSealBodyOptions = {},
): Uint8Array<ArrayBuffer> {
  if (typeof body !== "string" || body.length === 0) {
    throw new RangeError("Cannot encrypt SMSG message: body is empty");
  }
  const ts = checkTimestamp(options.timestamp ?? unixNow());
  // `{"body":<quoted body>[,"timestamp":N]}` written part by part into the
  // scratch buffer (no concatenated copy of the body).
  const quoted = quoteGoFast(body, true);
  const tail = ts !== 0 ? ',"timestamp":' + ts + "}" : "}";
  const max = BODY_KEY.length + quoted.length * 3 + tail.length;
  let plaintext: Uint8Array;
  if (max > 4 * 1024 * 1024) {
    plaintext = encoder.encode(BODY_KEY + quoted + tail);
  } else {
    if (max > scratch.length) {
      scratch = new Uint8Array(Math.max(max, scratch.length * 2));
    }
    let n = encoder.encodeInto(BODY_KEY, scratch).written;
    n += encoder.encodeInto(quoted, scratch.subarray(n)).written;
    n += encoder.encodeInto(tail, scratch.subarray(n)).written;
    plaintext = scratch.subarray(0, n);
  }
  return sealV1(plaintext, V1_PREFIX, key, options.nonce, options.allocate);
}

const BODY_KEY = '{"body":';

/** Reused UTF-8 buffer for frame plaintexts (the seal copies out of it). */
let scratch = new Uint8Array(16 * 1024);

function sealV1(
  plaintext: Uint8Array,
  prefix: Uint8Array,
  key: SmsgKey,
  nonce: Uint8Array | undefined,
  allocate?: (size: number) => Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  const options: SigilSealOptions = { headroom: prefix.length };
  if (nonce !== undefined) options.nonce = nonce;
  if (allocate !== undefined) options.allocate = allocate;
  const out = key.sigil.seal(plaintext, options);
  out.set(prefix, 0);
  return out;
}

/**
 * Tells whether `frame` is an SMSG container of the only kind go-p2p sends
 * (`smsg.Encrypt`): the 48-byte v1 header
 * `{"algorithm":"chacha20poly1305","version":"1.0"}` exactly (no `format`,
 * no `compression`, no hint or manifest) and room for a nonce and a tag.
 * Reads 57 bytes and nothing else, so a transport can refuse every other
 * container before any decryption or decompression.
 *
 * @param frame The frame bytes.
 * @returns `true` for a go-p2p v1 frame.
 * @example Refusing compressed containers on the wire
 * ```ts
 * import { SmsgKey, smsgEncrypt, smsgIsV1Frame, smsgSealBody } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = SmsgKey.fromPassword("secret");
 * assert.equal(smsgIsV1Frame(smsgSealBody("hello", key)), true);
 * const v2 = smsgEncrypt({ body: "hello" }, key, { format: "v2", compression: "gzip" });
 * assert.equal(smsgIsV1Frame(v2), false);
 * ```
 */
export function smsgIsV1Frame(frame: Uint8Array): boolean {
  return frame.length >= V1_PREFIX.length + 40 && startsWithV1Prefix(frame);
}

/**
 * Opens a go-p2p frame exactly as go-p2p `decryptMessage` does: full
 * `smsg.Decrypt` (v1 or v2), then the message `body`.
 *
 * @param frame The frame bytes.
 * @param key The connection key.
 * @returns The body text.
 * @throws {BorgError} On any decode, authentication or parse failure.
 * @example Opening a frame
 * ```ts
 * import { SmsgKey, smsgOpenBody, smsgSealBody } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = SmsgKey.fromPassword("secret");
 * assert.equal(smsgOpenBody(smsgSealBody("hello", key), key), "hello");
 * ```
 */
export function smsgOpenBody(frame: Uint8Array, key: SmsgKey): string {
  const fixed = V1_PREFIX.length;
  if (frame.length < fixed || !startsWithV1Prefix(frame)) {
    return smsgDecrypt(frame, key).body;
  }
  // Fast path for the container go-p2p sends: the fixed v1 header, so
  // trixDecode would yield {algorithm, version} and the payload after it.
  const text = openPayloadText(key, frame.subarray(fixed));
  const body = fastBody(text);
  return body !== undefined
    ? body
    : parseMessage(parseJsonText(text, "invalid_message")).body;
}

function startsWithV1Prefix(frame: Uint8Array): boolean {
  const p = V1_PREFIX;
  for (let i = 0; i < p.length; i++) if (frame[i] !== p[i]) return false;
  return true;
}

const BODY_HEAD = '{"body":"';
const TS_KEY = '","timestamp":';

/**
 * The body of a `{"body":"…","timestamp":N}` plaintext (the exact shape Go
 * writes: no whitespace, N plain decimal digits of a safe integer), or
 * undefined when the text has any other shape, so the general parser
 * decides. Only the string literal is parsed, with `JSON.parse`, so every
 * escape and every error is exactly as in the general path.
 */
function fastBody(text: string): string | undefined {
  if (!text.startsWith(BODY_HEAD) || text.charCodeAt(text.length - 1) !== 125) {
    return undefined;
  }
  let i = text.length - 2;
  while (i >= 0) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i--;
  }
  const digits = text.length - 2 - i;
  if (
    digits < 1 || digits > 15 ||
    (digits > 1 && text.charCodeAt(i + 1) === 48)
  ) {
    return undefined;
  }
  const q = i + 1 - TS_KEY.length;
  if (q < BODY_HEAD.length - 1 || !text.startsWith(TS_KEY, q)) return undefined;
  // text[8 .. q] is `"…"` when it is one JSON string literal.
  try {
    const body: unknown = JSON.parse(text.slice(BODY_HEAD.length - 1, q + 1));
    return typeof body === "string" ? body : undefined;
  } catch {
    return undefined;
  }
}

function messageToGo(message: SmsgMessage, v2Sizes?: number[]): unknown {
  const atts = message.attachments;
  const meta = message.meta;
  const rk = message.replyKey;
  return {
    subject: message.subject || undefined,
    body: message.body ?? "",
    attachments: atts !== undefined && atts.length > 0
      ? atts.map((a, i) => ({
        name: a.name ?? "",
        content: v2Sizes !== undefined ? undefined : a.content || undefined,
        mime: a.mime || undefined,
        size: (v2Sizes !== undefined ? v2Sizes[i] : a.size) || undefined,
      }))
      : undefined,
    reply_key: rk === undefined ? undefined : {
      public_key: rk.publicKey ?? "",
      key_id: rk.keyId || undefined,
      algorithm: rk.algorithm || undefined,
      fingerprint: rk.fingerprint || undefined,
    },
    from: message.from || undefined,
    timestamp: message.timestamp || undefined,
    meta: meta !== undefined && Object.keys(meta).length > 0
      ? new GoMap(meta)
      : undefined,
  };
}

function mapOrUndefined(
  m: Record<string, string> | undefined,
): GoMap | undefined {
  return m !== undefined && Object.keys(m).length > 0
    ? new GoMap(m)
    : undefined;
}

function manifestToGo(m: SmsgManifest): unknown {
  return {
    title: m.title || undefined,
    artist: m.artist || undefined,
    album: m.album || undefined,
    genre: m.genre || undefined,
    year: m.year || undefined,
    release_type: m.releaseType || undefined,
    duration: m.duration || undefined,
    format: m.format || undefined,
    expires_at: m.expiresAt || undefined,
    issued_at: m.issuedAt || undefined,
    license_type: m.licenseType || undefined,
    tracks: m.tracks !== undefined && m.tracks.length > 0
      ? m.tracks.map((t) => ({
        title: t.title ?? "",
        start: t.start ?? 0,
        end: t.end || undefined,
        type: t.type || undefined,
        track_num: t.trackNum || undefined,
      }))
      : undefined,
    links: mapOrUndefined(m.links),
    tags: m.tags !== undefined && m.tags.length > 0 ? m.tags : undefined,
    extra: mapOrUndefined(m.extra),
  };
}

function decodeAttachment(a: SmsgAttachment): Uint8Array {
  const text = a.content ?? "";
  // Go's EncryptV2 decodes with StdEncoding and fails on bad input.
  const bytes = Buffer.from(text, "base64");
  if (encodeBase64(bytes) !== text) {
    throw new TypeError(
      `Cannot encrypt SMSG message: attachment "${a.name}" content is not base64`,
    );
  }
  return bytes;
}

/**
 * Encrypts an SMSG message (Go `smsg.Encrypt`, `EncryptWithHint`,
 * `EncryptWithManifest`, `EncryptV2WithOptions`). With default options this
 * is the v1 container go-p2p sends.
 *
 * @param message The message; `timestamp` defaults to now.
 * @param password The password, or a key derived once with
 *   {@linkcode SmsgKey.fromPassword}.
 * @param options Nonce, timestamp, hint, manifest, v2 and compression.
 * @returns The container bytes.
 * @throws {RangeError} When the password is empty, the message has neither
 *   body nor attachments, or the nonce/timestamp is invalid.
 * @throws {TypeError} When a v2 attachment's content is not base64.
 * @example Round trip with an attachment
 * ```ts
 * import { smsgDecrypt, smsgEncrypt } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bytes = smsgEncrypt({
 *   body: "see attached",
 *   attachments: [{ name: "a.txt", content: "aGk=", mime: "text/plain", size: 4 }],
 *   timestamp: 1700000000,
 * }, "pw", { format: "v2", compression: "gzip" });
 * const msg = smsgDecrypt(bytes, "pw");
 * assert.equal(msg.body, "see attached");
 * assert.equal(msg.attachments?.[0]?.content, "aGk=");
 * assert.equal(msg.attachments?.[0]?.size, 2);
 * ```
 */
export function smsgEncrypt(
  message: SmsgMessage,
  password: string | SmsgKey,
  options: SmsgEncryptOptions = {},
): Uint8Array<ArrayBuffer> {
  const key = toKey(password);
  if (
    (message.body ?? "") === "" &&
    (message.attachments === undefined || message.attachments.length === 0)
  ) {
    throw new RangeError(
      "Cannot encrypt SMSG message: body and attachments are empty",
    );
  }
  const msg: SmsgMessage = {
    ...message,
    timestamp: checkTimestamp(
      message.timestamp || (options.timestamp ?? unixNow()),
    ),
  };
  const header: Record<string, unknown> = {
    algorithm: "chacha20poly1305",
    version: "1.0",
  };
  if (options.hint) header.hint = options.hint;
  if (options.manifest !== undefined) {
    header.manifest = manifestToGo(options.manifest);
  }
  let plaintext: Uint8Array;
  if ((options.format ?? "v1") === "v2") {
    const compression = options.compression ?? "zstd";
    header.format = "v2";
    if (compression !== "none") header.compression = compression;
    const blobs = (msg.attachments ?? []).map((a) =>
      a.content ? decodeAttachment(a) : new Uint8Array()
    );
    // Go rewrites size only for attachments that have content.
    const sizes = (msg.attachments ?? []).map((a, i) =>
      a.content ? blobs[i]!.length : (a.size ?? 0)
    );
    const json = encoder.encode(marshalGo(messageToGo(msg, sizes)));
    const total = 4 + json.length + blobs.reduce((s, b) => s + b.length, 0);
    const raw = new Uint8Array(total);
    new DataView(raw.buffer).setUint32(0, json.length, false);
    raw.set(json, 4);
    let off = 4 + json.length;
    for (const b of blobs) {
      raw.set(b, off);
      off += b.length;
    }
    plaintext = compression === "gzip"
      ? gzipSync(raw)
      : compression === "zstd"
      ? zstdCompressSync(raw)
      : raw;
  } else {
    plaintext = encoder.encode(marshalGo(messageToGo(msg)));
  }
  const headerBytes = encoder.encode(marshalGo(new GoMap(header)));
  const prefix = trixEncodeRaw(MAGIC, headerBytes, new Uint8Array());
  return sealV1(plaintext, prefix, key, options.nonce);
}

function stringField(h: Record<string, unknown>, k: string): string {
  const v = Object.hasOwn(h, k) ? h[k] : undefined;
  return typeof v === "string" ? v : "";
}

function decompress(
  data: Uint8Array,
  kind: "gzip" | "zstd",
  max: number,
): Uint8Array {
  try {
    const out = kind === "gzip"
      ? gunzipSync(data, { maxOutputLength: max })
      : zstdDecompressSync(data, { maxOutputLength: max });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (cause) {
    if ((cause as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new BorgError(
        "decompressed_too_large",
        `Cannot decrypt SMSG message: ${kind} payload exceeds ${max} bytes`,
        { cause },
      );
    }
    throw new BorgError(
      "decompression_failed",
      `Cannot decrypt SMSG message: invalid ${kind} payload`,
      { cause },
    );
  }
}

/**
 * Decrypts an SMSG container exactly as Go's `smsg.Decrypt`: v1 (JSON
 * message) and v2 (length-prefixed JSON + binary attachments, optionally
 * gzip/zstd). Only the header's `format` and `compression` are read.
 *
 * @param bytes The container.
 * @param password The password or a derived {@linkcode SmsgKey}.
 * @param options The decompression cap.
 * @returns The message; v2 attachments come back with base64 `content` and
 *   their binary `size`.
 * @throws {BorgError} `truncated`, `invalid_magic`, `invalid_version`,
 *   `header_too_large`, `invalid_header`, `ciphertext_too_short`,
 *   `decryption_failed`, `decompression_failed`, `decompressed_too_large`,
 *   `invalid_payload` or `invalid_message`.
 * @throws {RangeError} When the password is empty.
 * @example Decrypting
 * ```ts
 * import { smsgDecrypt, smsgEncrypt } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bytes = smsgEncrypt({ body: "hi", subject: "s" }, "pw", { timestamp: 5 });
 * assert.deepEqual(smsgDecrypt(bytes, "pw"), { subject: "s", body: "hi", timestamp: 5 });
 * ```
 */
export function smsgDecrypt(
  bytes: Uint8Array,
  password: string | SmsgKey,
  options: SmsgDecryptOptions = {},
): SmsgMessage {
  const key = toKey(password);
  const container = trixDecode(bytes, "SMSG");
  const format = stringField(container.header, "format");
  const compression = stringField(container.header, "compression");
  let plain = openPayload(key, container.payload);
  const max = options.maxDecompressedBytes ?? SMSG_MAX_DECOMPRESSED_BYTES;
  if (compression === "gzip" || compression === "zstd") {
    plain = decompress(plain, compression, max);
  }
  if (format === "v2") return parseV2(plain);
  return parseMessage(parseJson(plain, "invalid_message"));
}

function openPayload(key: SmsgKey, payload: Uint8Array): Uint8Array {
  return asDecryptError(() => key.sigil.open(payload));
}

/** As {@linkcode openPayload}, decoded as UTF-8 (no plaintext buffer). */
function openPayloadText(key: SmsgKey, payload: Uint8Array): string {
  return asDecryptError(() => key.sigil.openText(payload));
}

/** Runs a sigil open, reporting its failure as an SMSG decryption error. */
function asDecryptError<T>(open: () => T): T {
  try {
    return open();
  } catch (cause) {
    if (cause instanceof BorgError) {
      throw new BorgError(
        cause.code,
        "Cannot decrypt SMSG message: decryption failed (wrong password?)",
        { cause },
      );
    }
    throw cause;
  }
}

function parseJson(bytes: Uint8Array, code: "invalid_message"): unknown {
  return parseJsonText(decoder.decode(bytes), code);
}

function parseJsonText(text: string, code: "invalid_message"): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new BorgError(
      code,
      "Cannot decrypt SMSG message: invalid message format",
      { cause },
    );
  }
}

function parseV2(plain: Uint8Array): SmsgMessage {
  if (plain.length < 4) {
    throw new BorgError(
      "invalid_payload",
      "Cannot decrypt SMSG message: v2 payload shorter than 4 bytes",
    );
  }
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  const j = view.getUint32(0, false);
  if (j > plain.length - 4) {
    throw new BorgError(
      "invalid_payload",
      `Cannot decrypt SMSG message: v2 JSON length ${j} exceeds payload`,
    );
  }
  const msg = parseMessage(
    parseJson(plain.subarray(4, 4 + j), "invalid_message"),
  );
  let off = 4 + j;
  for (const a of msg.attachments ?? []) {
    const size = a.size ?? 0;
    if (size <= 0) continue;
    if (size > plain.length - off) {
      throw new BorgError(
        "invalid_payload",
        "Cannot decrypt SMSG message: v2 attachment data truncated",
      );
    }
    a.content = encodeBase64(plain.subarray(off, off + size));
    off += size;
  }
  return msg;
}

function invalid(what: string): BorgError {
  return new BorgError(
    "invalid_message",
    `Cannot decrypt SMSG message: invalid message format (${what})`,
  );
}

/**
 * Iterates an object's entries with Go's key matching: exact name first,
 * else case-insensitive; null values leave the field unset.
 */
function goFields(
  value: unknown,
  names: readonly string[],
  what: string,
  visit: (field: string, v: unknown) => void,
): void {
  if (value === null) return;
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(what);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    let field = names.find((n) => n === k);
    if (field === undefined) {
      const lk = k.toLowerCase();
      field = names.find((n) => n.toLowerCase() === lk);
    }
    if (field === undefined || v === null) continue;
    visit(field, v);
  }
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw invalid(what);
  return v;
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) throw invalid(what);
  return v;
}

function strMap(v: unknown, what: string): Record<string, string> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw invalid(what);
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === null) continue;
    Object.defineProperty(out, k, {
      value: str(x, what),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const MESSAGE_FIELDS = [
  "subject",
  "body",
  "attachments",
  "reply_key",
  "from",
  "timestamp",
  "meta",
] as const;
const ATTACHMENT_FIELDS = ["name", "content", "mime", "size"] as const;
const PKI_FIELDS = [
  "public_key",
  "key_id",
  "algorithm",
  "fingerprint",
] as const;

function parseMessage(value: unknown): SmsgMessage {
  const msg: SmsgMessage = { body: "" };
  goFields(value, MESSAGE_FIELDS, "message", (f, v) => {
    switch (f) {
      case "subject":
        msg.subject = str(v, f);
        break;
      case "body":
        msg.body = str(v, f);
        break;
      case "from":
        msg.from = str(v, f);
        break;
      case "timestamp":
        msg.timestamp = int(v, f);
        break;
      case "meta":
        msg.meta = strMap(v, f);
        break;
      case "attachments":
        if (!Array.isArray(v)) throw invalid(f);
        msg.attachments = v.map(parseAttachment);
        break;
      case "reply_key": {
        const pki: SmsgPkiInfo = { publicKey: "" };
        goFields(v, PKI_FIELDS, f, (g, x) => {
          const s = str(x, g);
          if (g === "public_key") pki.publicKey = s;
          else if (g === "key_id") pki.keyId = s;
          else if (g === "algorithm") pki.algorithm = s;
          else pki.fingerprint = s;
        });
        msg.replyKey = pki;
        break;
      }
    }
  });
  return msg;
}

function parseAttachment(v: unknown): SmsgAttachment {
  const a: SmsgAttachment = { name: "" };
  goFields(v, ATTACHMENT_FIELDS, "attachment", (f, x) => {
    if (f === "size") a.size = int(x, f);
    else if (f === "name") a.name = str(x, f);
    else if (f === "content") a.content = str(x, f);
    else a.mime = str(x, f);
  });
  return a;
}

/**
 * Reads the public header of an SMSG container without decrypting it (Go
 * `GetInfo`): algorithm, version, format, compression, hint and manifest.
 * Values of the wrong type are left out.
 *
 * @param bytes The container.
 * @returns The header fields.
 * @throws {BorgError} When the Trix container does not decode.
 * @example Reading a hint
 * ```ts
 * import { smsgEncrypt, smsgReadHeader } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bytes = smsgEncrypt({ body: "x" }, "pw", { hint: "usual" });
 * assert.equal(smsgReadHeader(bytes).hint, "usual");
 * ```
 */
export function smsgReadHeader(bytes: Uint8Array): SmsgHeader {
  const h = trixDecode(bytes, "SMSG").header;
  const out: SmsgHeader = {};
  for (
    const k of [
      "algorithm",
      "version",
      "format",
      "compression",
      "hint",
    ] as const
  ) {
    const v = stringField(h, k);
    if (v !== "") out[k] = v;
  }
  const m = Object.hasOwn(h, "manifest") ? h.manifest : undefined;
  if (typeof m === "object" && m !== null && !Array.isArray(m)) {
    out.manifest = parseManifest(m as Record<string, unknown>);
  }
  return out;
}

function parseManifest(m: Record<string, unknown>): SmsgManifest {
  const out: SmsgManifest = {};
  const s = (k: string): string | undefined =>
    typeof m[k] === "string" && Object.hasOwn(m, k)
      ? m[k] as string
      : undefined;
  const n = (k: string): number | undefined =>
    typeof m[k] === "number" && Object.hasOwn(m, k)
      ? m[k] as number
      : undefined;
  const set = <K extends keyof SmsgManifest>(
    k: K,
    v: SmsgManifest[K] | undefined,
  ) => {
    if (v !== undefined) out[k] = v;
  };
  set("title", s("title"));
  set("artist", s("artist"));
  set("album", s("album"));
  set("genre", s("genre"));
  set("year", n("year"));
  set("releaseType", s("release_type"));
  set("duration", n("duration"));
  set("format", s("format"));
  set("expiresAt", n("expires_at"));
  set("issuedAt", n("issued_at"));
  set("licenseType", s("license_type"));
  if (Array.isArray(m.tracks)) {
    out.tracks = m.tracks.filter((t) => typeof t === "object" && t !== null)
      .map((t: Record<string, unknown>) => {
        const tr: SmsgTrack = {
          title: typeof t.title === "string" ? t.title : "",
          start: typeof t.start === "number" ? t.start : 0,
        };
        if (typeof t.end === "number") tr.end = t.end;
        if (typeof t.type === "string") tr.type = t.type;
        if (typeof t.track_num === "number") tr.trackNum = t.track_num;
        return tr;
      });
  }
  for (const k of ["links", "extra"] as const) {
    const v = m[k];
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const r: Record<string, string> = {};
      for (const [a, b] of Object.entries(v)) {
        if (typeof b === "string") {
          Object.defineProperty(r, a, {
            value: b,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
      out[k] = r;
    }
  }
  if (Array.isArray(m.tags)) {
    out.tags = m.tags.filter((t): t is string => typeof t === "string");
  }
  return out;
}
