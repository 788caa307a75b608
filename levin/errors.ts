/**
 * The error family of the Levin codec and connection.
 *
 * @module
 */

/**
 * Why a Levin operation failed.
 *
 * "Need more bytes" (the input ended early; more bytes could complete it):
 * - `HeaderTruncated`: fewer than 33 bytes for a Levin header.
 * - `VarintTruncated`: a varint is cut short.
 * - `StorageTruncated`: a portable-storage document ends early (or a count
 *   or length claims more bytes than remain).
 *
 * Malformed input:
 * - `BadSignature`: the Levin header does not start with `0x0101010101012101`.
 * - `PayloadTooBig`: a frame announces (or a caller tries to send) more bytes
 *   than the applicable limit.
 * - `VarintOverflow`: a value of 2^62 or more cannot be written as a varint.
 * - `StorageBadSignature`: the storage document's two signature words differ.
 * - `StorageBadVersion`: the storage format version is not 1.
 * - `StorageNameTooLong`: an entry name is empty or longer than 255 bytes.
 * - `StorageDuplicateName`: one section holds the same name twice.
 * - `StorageBadBool`: a bool byte other than `00` or `01`.
 * - `StorageUnknownType`: an invalid type tag (0, 14…127, `0x8d`…).
 * - `StorageLimitExceeded`: more objects, fields or strings than allowed, a
 *   string of 2 000 000 000 bytes or more, or nesting deeper than allowed.
 * - `StorageTypeMismatch`: an accessor found another type than it needs.
 * - `StorageValueOutOfRange`: a stored integer does not fit the target type.
 *
 * Connection:
 * - `Timeout`: a read, write or invoke did not finish in time.
 * - `ConnectionClosed`: the connection closed (by either side) first.
 * - `Aborted`: the caller's `AbortSignal` fired.
 * - `ProtocolError`: the peer broke the message flow (a response to a
 *   different command than the oldest pending request, a bad fragment, too
 *   many unanswered requests).
 * - `RequestFailed`: the peer answered with a return code ≤ 0 (see
 *   {@linkcode LevinError.returnCode}).
 */
export type LevinErrorCode =
  | "HeaderTruncated"
  | "VarintTruncated"
  | "StorageTruncated"
  | "BadSignature"
  | "PayloadTooBig"
  | "VarintOverflow"
  | "StorageBadSignature"
  | "StorageBadVersion"
  | "StorageNameTooLong"
  | "StorageDuplicateName"
  | "StorageBadBool"
  | "StorageUnknownType"
  | "StorageLimitExceeded"
  | "StorageTypeMismatch"
  | "StorageValueOutOfRange"
  | "Timeout"
  | "ConnectionClosed"
  | "Aborted"
  | "ProtocolError"
  | "RequestFailed";

const NEED_MORE_BYTES: ReadonlySet<LevinErrorCode> = new Set<LevinErrorCode>([
  "HeaderTruncated",
  "VarintTruncated",
  "StorageTruncated",
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
 *   (e) => e instanceof LevinError && e.code === "StorageTruncated" && e.needMoreBytes,
 * );
 * assert.throws(
 *   () => decodeStorage(new Uint8Array(10)),
 *   (e) => e instanceof LevinError && e.code === "StorageBadSignature" && !e.needMoreBytes,
 * );
 * ```
 */
export class LevinError extends Error {
  /** Always `"LevinError"`. */
  override readonly name = "LevinError";
  /** What went wrong. */
  readonly code: LevinErrorCode;
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
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.returnCode = options.returnCode;
    this.offset = options.offset;
  }

  /** `true` when more input bytes could complete what was being decoded. */
  get needMoreBytes(): boolean {
    return NEED_MORE_BYTES.has(this.code);
  }
}
