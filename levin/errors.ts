/**
 * The error family of the Levin codec and connection.
 *
 * @module
 */

import { CodedError } from "../errors.ts";

/**
 * Why a Levin operation failed.
 *
 * "Need more bytes" (the input ended early; more bytes could complete it):
 * - `header_truncated`: fewer than 33 bytes for a Levin header.
 * - `varint_truncated`: a varint is cut short.
 * - `storage_truncated`: a portable-storage document ends early (or a count
 *   or length claims more bytes than remain).
 *
 * Malformed input:
 * - `bad_signature`: the Levin header does not start with `0x0101010101012101`.
 * - `payload_too_big`: a frame announces (or a caller tries to send) more bytes
 *   than the applicable limit.
 * - `varint_overflow`: a value of 2^62 or more cannot be written as a varint.
 * - `storage_bad_signature`: the storage document's two signature words differ.
 * - `storage_bad_version`: the storage format version is not 1.
 * - `storage_name_too_long`: an entry name is empty or longer than 255 bytes.
 * - `storage_duplicate_name`: one section holds the same name twice.
 * - `storage_bad_bool`: a bool byte other than `00` or `01`.
 * - `storage_unknown_type`: an invalid type tag (0, 14…127, `0x8d`…).
 * - `storage_limit_exceeded`: more objects, fields or strings than allowed, a
 *   string of 2 000 000 000 bytes or more, or nesting deeper than allowed.
 * - `storage_type_mismatch`: an accessor found another type than it needs.
 * - `storage_value_out_of_range`: a stored integer does not fit the target type.
 *
 * Connection:
 * - `timeout`: a read, write or invoke did not finish in time.
 * - `connection_closed`: the connection closed (by either side) first.
 * - `aborted`: the caller's `AbortSignal` fired.
 * - `protocol_error`: the peer broke the message flow (a response to a
 *   different command than the oldest pending request, a bad fragment, too
 *   many unanswered requests).
 * - `request_failed`: the peer answered with a return code ≤ 0 (see
 *   {@linkcode LevinError.returnCode}).
 */
export type LevinErrorCode =
  | "header_truncated"
  | "varint_truncated"
  | "storage_truncated"
  | "bad_signature"
  | "payload_too_big"
  | "varint_overflow"
  | "storage_bad_signature"
  | "storage_bad_version"
  | "storage_name_too_long"
  | "storage_duplicate_name"
  | "storage_bad_bool"
  | "storage_unknown_type"
  | "storage_limit_exceeded"
  | "storage_type_mismatch"
  | "storage_value_out_of_range"
  | "timeout"
  | "connection_closed"
  | "aborted"
  | "protocol_error"
  | "request_failed";

const NEED_MORE_BYTES: ReadonlySet<LevinErrorCode> = new Set<LevinErrorCode>([
  "header_truncated",
  "varint_truncated",
  "storage_truncated",
]);

/** Options for {@linkcode LevinError}. */
export interface LevinErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** The Levin return code involved (e.g. a peer's negative answer). */
  returnCode?: number;
  /** Byte offset in the input where the problem was found, when known. */
  offset?: number;
}

/**
 * A Levin frame, portable-storage document or connection operation failed.
 *
 * Callers test with `instanceof LevinError`, then `switch (err.code)`.
 * {@linkcode LevinError.needMoreBytes} tells "the input ended early" apart
 * from "the input is malformed".
 *
 * @example Telling truncated input from malformed input
 * ```ts
 * import { decodeStorage, LevinError } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => decodeStorage(new Uint8Array([0x01, 0x11, 0x01])),
 *   (e) => e instanceof LevinError && e.code === "storage_truncated" && e.needMoreBytes,
 * );
 * assert.throws(
 *   () => decodeStorage(new Uint8Array(10)),
 *   (e) => e instanceof LevinError && e.code === "storage_bad_signature" && !e.needMoreBytes,
 * );
 * ```
 */
export class LevinError extends CodedError<LevinErrorCode> {
  /** Always `"LevinError"`. */
  override readonly name = "LevinError";
  /** The Levin return code involved, when there is one. */
  readonly returnCode: number | undefined;
  /** Byte offset in the input where the problem was found, when known. */
  readonly offset: number | undefined;

  /**
   * Creates a Levin error.
   *
   * @param code What went wrong.
   * @param message A sentence-case message without secrets.
   * @param options The cause, return code and offset.
   */
  constructor(
    code: LevinErrorCode,
    message: string,
    options: LevinErrorOptions = {},
  ) {
    super(
      code,
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.returnCode = options.returnCode;
    this.offset = options.offset;
  }

  /** `true` when more input bytes could complete what was being decoded. */
  get needMoreBytes(): boolean {
    return NEED_MORE_BYTES.has(this.code);
  }
}
