/**
 * The 33-byte Levin frame header, its constants and frame classification.
 *
 * | offset | size | endianness | field |
 * |---:|---:|---|---|
 * | 0 | 8 | little | signature `0x0101010101012101` |
 * | 8 | 8 | little | payload size (bytes after the header) |
 * | 16 | 1 | – | expect response (`1` = request wants a reply) |
 * | 17 | 4 | little | command id |
 * | 21 | 4 | little, signed | return code |
 * | 25 | 4 | little | flags (Q `1`, S `2`, B `4`, E `8`) |
 * | 29 | 4 | little | protocol version (`1`) |
 *
 * Spec: `shared/spec/levin.md` §1 and §4.
 *
 * @module
 */

import { LevinError } from "./errors.ts";

/** The header signature as a 64-bit value (`01 21 01 01 01 01 01 01` on the wire). */
export const LEVIN_SIGNATURE: bigint = 0x0101010101012101n;
/** Size of a Levin header in bytes. */
export const HEADER_SIZE = 33;
/** The protocol version every frame is written with. */
export const PROTOCOL_VERSION = 1;

/** Flag: request or notification (Q). */
export const FLAG_REQUEST = 0x01;
/** Flag: response (S). */
export const FLAG_RESPONSE = 0x02;
/** Flag: first fragment of a fragmented message (B). */
export const FLAG_BEGIN = 0x04;
/** Flag: last fragment of a fragmented message (E). */
export const FLAG_END = 0x08;

/** Return code 0 (`LEVIN_OK`; go-p2p's `ReturnOK`). Daemons treat it as failure in a response. */
export const RETURN_OK = 0;
/** Return code 1: what every Monero handler returns on success. Responses must use it. */
export const RETURN_SUCCESS = 1;
/** Return code −1 (`LEVIN_ERROR_CONNECTION`); monerod's answer to an unparsable request. */
export const RETURN_ERR_CONNECTION: number = -1;
/** Return code −2 (`LEVIN_ERROR_CONNECTION_NOT_FOUND`). */
export const RETURN_ERR_CONNECTION_NOT_FOUND: number = -2;
/** Return code −3 (`LEVIN_ERROR_CONNECTION_DESTROYED`). */
export const RETURN_ERR_CONNECTION_DESTROYED: number = -3;
/** Return code −4 (`LEVIN_ERROR_CONNECTION_TIMEDOUT`). */
export const RETURN_ERR_CONNECTION_TIMEDOUT: number = -4;
/** Return code −5 (`LEVIN_ERROR_CONNECTION_NO_DUPLEX_PROTOCOL`). */
export const RETURN_ERR_NO_DUPLEX_PROTOCOL: number = -5;
/** Return code −6 (`LEVIN_ERROR_CONNECTION_HANDLER_NOT_DEFINED`): unknown command. */
export const RETURN_ERR_HANDLER_NOT_DEFINED: number = -6;
/** Return code −7 (`LEVIN_ERROR_FORMAT`). */
export const RETURN_ERR_FORMAT: number = -7;
/** Return code −13: go-p2p's `ReturnErrSignature` (not a Monero code). */
export const RETURN_ERR_SIGNATURE: number = -13;

/** P2P command 1001: handshake (request/response). */
export const COMMAND_HANDSHAKE = 1001;
/** P2P command 1002: timed sync (request/response). */
export const COMMAND_TIMED_SYNC = 1002;
/** P2P command 1003: ping (request/response). */
export const COMMAND_PING = 1003;
/** P2P command 1007: request support flags (request/response). */
export const COMMAND_REQUEST_SUPPORT_FLAGS = 1007;
/** Notification 2001: new block. */
export const COMMAND_NEW_BLOCK = 2001;
/** Notification 2002: new transactions. */
export const COMMAND_NEW_TRANSACTIONS = 2002;
/** Notification 2003: request objects. */
export const COMMAND_REQUEST_GET_OBJECTS = 2003;
/** Notification 2004: response to a get-objects request. */
export const COMMAND_RESPONSE_GET_OBJECTS = 2004;
/** Notification 2006: request chain. */
export const COMMAND_REQUEST_CHAIN = 2006;
/** Notification 2007: chain entry response. */
export const COMMAND_RESPONSE_CHAIN_ENTRY = 2007;
/** Notification 2008: new fluffy block (Monero's default block relay). */
export const COMMAND_NEW_FLUFFY_BLOCK = 2008;
/** Notification 2009: request missing transactions of a fluffy block. */
export const COMMAND_REQUEST_FLUFFY_MISSING_TX = 2009;
/** Notification 2010: get transaction-pool complement (monerod sends it after each handshake). */
export const COMMAND_GET_TXPOOL_COMPLEMENT = 2010;

/** monerod's receive cap for any frame after the handshake: 100 000 000 bytes. */
export const MAX_PAYLOAD_SIZE = 100_000_000;
/** go-p2p's cap (100 MiB), 4.8 % above monerod's; for reference only. */
export const GO_MAX_PAYLOAD_SIZE = 104_857_600;
/** monerod's receive cap for any frame before the handshake completes: 256 KiB. */
export const PRE_HANDSHAKE_MAX_PAYLOAD_SIZE = 262_144;

/** monerod 0.18's per-command receive caps (frames of other commands get only the general cap). */
export const MONERO_COMMAND_PAYLOAD_LIMITS: ReadonlyMap<number, number> =
  new Map([
    [COMMAND_HANDSHAKE, 65_536],
    [COMMAND_TIMED_SYNC, 65_536],
    [COMMAND_PING, 4_096],
    [COMMAND_REQUEST_SUPPORT_FLAGS, 4_096],
    [COMMAND_REQUEST_GET_OBJECTS, 2 * 1024 * 1024],
    [COMMAND_REQUEST_CHAIN, 512 * 1024],
    [COMMAND_RESPONSE_CHAIN_ENTRY, 4 * 1024 * 1024],
    [COMMAND_NEW_FLUFFY_BLOCK, 4 * 1024 * 1024],
    [COMMAND_GET_TXPOOL_COMPLEMENT, 4 * 1024 * 1024],
    [COMMAND_REQUEST_FLUFFY_MISSING_TX, 1024 * 1024],
  ]);

/** A decoded Levin header (the signature is implied). */
export interface LevinHeader {
  /** Number of payload bytes after the header. */
  payloadSize: number;
  /** Whether the sender wants a reply (any non-zero byte reads as `true`). */
  expectResponse: boolean;
  /** Command id (u32). */
  command: number;
  /** Return code (i32): 0 in requests, the handler's result in responses. */
  returnCode: number;
  /** Flag bits (u32); see `FLAG_*`. */
  flags: number;
  /** Protocol version (u32); written as 1, any value read. */
  protocolVersion: number;
}

/** Options for {@linkcode decodeHeader}. */
export interface DecodeHeaderOptions {
  /** Largest acceptable `payloadSize` (default {@linkcode MAX_PAYLOAD_SIZE}). */
  maxPayloadSize?: number;
}

/** What kind of frame a header announces (spec §1.3, in monerod's order). */
export type FrameKind =
  | "request"
  | "response"
  | "notification"
  | "fragment"
  | "noise";

const SIGNATURE_BYTES = new Uint8Array([1, 0x21, 1, 1, 1, 1, 1, 1]);

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `Cannot encode Levin header: ${name} must be an integer from 0 to ${max}, got ${value}`,
    );
  }
}

function writeHeader(view: DataView, header: LevinHeader): void {
  checkUint("payloadSize", header.payloadSize, Number.MAX_SAFE_INTEGER);
  checkUint("command", header.command, 0xffff_ffff);
  checkUint("flags", header.flags, 0xffff_ffff);
  checkUint("protocolVersion", header.protocolVersion, 0xffff_ffff);
  if (
    !Number.isInteger(header.returnCode) || header.returnCode < -0x8000_0000 ||
    header.returnCode > 0x7fff_ffff
  ) {
    throw new RangeError(
      `Cannot encode Levin header: returnCode must be a 32-bit signed integer, got ${header.returnCode}`,
    );
  }
  view.setBigUint64(0, LEVIN_SIGNATURE, true);
  view.setBigUint64(8, BigInt(header.payloadSize), true);
  view.setUint8(16, header.expectResponse ? 1 : 0);
  view.setUint32(17, header.command, true);
  view.setInt32(21, header.returnCode, true);
  view.setUint32(25, header.flags, true);
  view.setUint32(29, header.protocolVersion, true);
}

/**
 * Encodes a Levin header (33 bytes).
 *
 * @param header The fields; `expectResponse` is written as `01` or `00`.
 * @returns A new 33-byte buffer.
 * @throws {RangeError} When a field is out of its wire range.
 *
 * @example A ping request header
 * ```ts
 * import { COMMAND_PING, encodeHeader, FLAG_REQUEST } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeHeader({
 *   payloadSize: 10, expectResponse: true, command: COMMAND_PING,
 *   returnCode: 0, flags: FLAG_REQUEST, protocolVersion: 1,
 * });
 * assert.equal(bytes.length, 33);
 * assert.equal(bytes[17], 0xeb); // 1003 = 0x03eb, little-endian
 * ```
 */
export function encodeHeader(header: LevinHeader): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_SIZE);
  writeHeader(new DataView(out.buffer), header);
  return out;
}

/** Header fields for {@linkcode encodeFrame}; the payload size is implied. */
export interface FrameFields {
  /** Command id. */
  command: number;
  /** Whether a reply is wanted (default `false`). */
  expectResponse?: boolean;
  /** Return code (default 0). */
  returnCode?: number;
  /** Flags (default {@linkcode FLAG_REQUEST}). */
  flags?: number;
  /** Protocol version (default 1). */
  protocolVersion?: number;
}

/**
 * Encodes a whole frame (header followed by `payload`) into one buffer.
 *
 * @param fields The header fields other than the payload size.
 * @param payload The payload bytes (copied).
 * @returns A new buffer of 33 + `payload.length` bytes.
 * @throws {RangeError} When a field is out of its wire range.
 *
 * @example A response frame
 * ```ts
 * import { decodeHeader, encodeFrame, FLAG_RESPONSE } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const frame = encodeFrame({ command: 1003, flags: FLAG_RESPONSE, returnCode: 1 }, new Uint8Array(3));
 * assert.equal(frame.length, 36);
 * assert.equal(decodeHeader(frame).returnCode, 1);
 * ```
 */
export function encodeFrame(
  fields: FrameFields,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (!(payload instanceof Uint8Array)) {
    throw new TypeError(
      "Cannot encode Levin frame: payload must be a Uint8Array",
    );
  }
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  writeHeader(new DataView(out.buffer), {
    payloadSize: payload.length,
    expectResponse: fields.expectResponse ?? false,
    command: fields.command,
    returnCode: fields.returnCode ?? RETURN_OK,
    flags: fields.flags ?? FLAG_REQUEST,
    protocolVersion: fields.protocolVersion ?? PROTOCOL_VERSION,
  });
  out.set(payload, HEADER_SIZE);
  return out;
}

/**
 * Decodes the first 33 bytes of `bytes` as a Levin header. The signature is
 * checked first, as soon as its bytes are present, so a wrong stream fails
 * fast; then the payload size is checked against the limit.
 *
 * @param bytes At least 33 bytes (further bytes are ignored).
 * @param options The payload-size limit.
 * @returns The header fields.
 * @throws {LevinError} `bad_signature`, `header_truncated` (fewer than 33
 *   bytes, signature so far correct) or `payload_too_big` (above
 *   `maxPayloadSize`; a size beyond 2^53 is always too big).
 * @throws {TypeError} When `bytes` is not a Uint8Array.
 *
 * @example Decoding a ping request header
 * ```ts
 * import { decodeHeader } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const hex = "0121010101010101" + "0a00000000000000" + "01" + "eb030000" +
 *   "00000000" + "01000000" + "01000000";
 * const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
 * const header = decodeHeader(bytes);
 * assert.equal(header.command, 1003);
 * assert.equal(header.payloadSize, 10);
 * assert.equal(header.expectResponse, true);
 * ```
 */
export function decodeHeader(
  bytes: Uint8Array,
  options: DecodeHeaderOptions = {},
): LevinHeader {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      "Cannot decode Levin header: input must be a Uint8Array",
    );
  }
  const max = options.maxPayloadSize ?? MAX_PAYLOAD_SIZE;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new RangeError(
      `Cannot decode Levin header: maxPayloadSize must be a non-negative safe integer, got ${max}`,
    );
  }
  const sigLen = Math.min(bytes.length, 8);
  for (let i = 0; i < sigLen; i++) {
    if (bytes[i] !== SIGNATURE_BYTES[i]) {
      throw new LevinError(
        "bad_signature",
        `Cannot decode Levin header: expected signature 0x0101010101012101, got byte 0x${
          bytes[i]!.toString(16).padStart(2, "0")
        } at offset ${i}`,
        { offset: i },
      );
    }
  }
  if (bytes.length < HEADER_SIZE) {
    throw new LevinError(
      "header_truncated",
      `Cannot decode Levin header: need ${HEADER_SIZE} bytes, got ${bytes.length}`,
      { offset: bytes.length },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const size = view.getBigUint64(8, true);
  if (size > BigInt(max)) {
    throw new LevinError(
      "payload_too_big",
      `Cannot decode Levin header: payload of ${size} bytes exceeds the limit of ${max}`,
      { offset: 8 },
    );
  }
  return {
    payloadSize: Number(size),
    expectResponse: view.getUint8(16) !== 0,
    command: view.getUint32(17, true),
    returnCode: view.getInt32(21, true),
    flags: view.getUint32(25, true),
    protocolVersion: view.getUint32(29, true),
  };
}

/**
 * Classifies a frame the way monerod does: neither Q nor S → fragment (B and
 * E both set → noise); version 1 with S → response; expect-response set →
 * request; otherwise a notification.
 *
 * @param header A decoded header.
 * @returns The frame kind.
 *
 * @example Kinds
 * ```ts
 * import { classifyFrame, FLAG_BEGIN, FLAG_END, FLAG_REQUEST } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const base = { payloadSize: 0, command: 0, returnCode: 0, protocolVersion: 1 };
 * assert.equal(classifyFrame({ ...base, expectResponse: true, flags: FLAG_REQUEST }), "request");
 * assert.equal(classifyFrame({ ...base, expectResponse: false, flags: FLAG_REQUEST }), "notification");
 * assert.equal(classifyFrame({ ...base, expectResponse: false, flags: FLAG_BEGIN | FLAG_END }), "noise");
 * ```
 */
export function classifyFrame(header: LevinHeader): FrameKind {
  const f = header.flags;
  if ((f & (FLAG_REQUEST | FLAG_RESPONSE)) === 0) {
    return (f & (FLAG_BEGIN | FLAG_END)) === (FLAG_BEGIN | FLAG_END)
      ? "noise"
      : "fragment";
  }
  if (
    header.protocolVersion === PROTOCOL_VERSION && (f & FLAG_RESPONSE) !== 0
  ) {
    return "response";
  }
  return header.expectResponse ? "request" : "notification";
}
