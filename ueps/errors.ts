/**
 * The error family of the UEPS codec.
 *
 * @module
 */

import { CodedError } from "../errors.ts";

/**
 * Why a UEPS operation failed.
 *
 * - `end_of_stream`: the input ended before the first byte of a packet (Go's
 *   `io.EOF` on an empty reader). "Need more bytes", not malformed.
 * - `truncated`: the input ended inside a packet (in a tag, a length or a
 *   value). "Need more bytes", not malformed.
 * - `malformed`: a header TLV is too short for its field (Go panics here).
 * - `value_too_large`: a TLV value exceeds 65 535 bytes when writing, or the
 *   payload exceeds the reader's `maxPayloadBytes`.
 * - `too_many_tlvs`: more TLVs (or unknown TLVs) before the payload than the
 *   reader allows.
 * - `header_too_large`: the TLVs before the payload add up to more bytes than
 *   the reader allows.
 * - `missing_hmac`: the packet has no HMAC TLV before its payload.
 * - `hmac_mismatch`: the HMAC does not verify (integrity violation).
 */
export type UepsErrorCode =
  | "end_of_stream"
  | "truncated"
  | "malformed"
  | "value_too_large"
  | "too_many_tlvs"
  | "header_too_large"
  | "missing_hmac"
  | "hmac_mismatch";

/** Options for {@linkcode UepsError}. */
export interface UepsErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Offset in the frame where the problem was found, when known. */
  offset?: number;
}

/**
 * A UEPS packet could not be written, read or verified.
 *
 * Callers test with `instanceof UepsError`, then `switch (err.code)`.
 * Messages never contain keys, tags or payload bytes.
 *
 * @example Telling a truncated frame from a forged one
 * ```ts
 * import { readAndVerify, UepsError } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const key = new TextEncoder().encode("k");
 * await assert.rejects(
 *   readAndVerify(new Uint8Array([0x01, 0x00]), key),
 *   (err) => err instanceof UepsError && err.code === "truncated",
 * );
 * ```
 */
export class UepsError extends CodedError<UepsErrorCode> {
  /** Always `"UepsError"`. */
  override readonly name = "UepsError";
  /** Offset in the frame where the problem was found, when known. */
  readonly offset: number | undefined;

  /**
   * Creates a UEPS error.
   *
   * @param code What went wrong.
   * @param message A sentence-case message without secrets.
   * @param options The cause and frame offset.
   */
  constructor(
    code: UepsErrorCode,
    message: string,
    options: UepsErrorOptions = {},
  ) {
    super(
      code,
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.offset = options.offset;
  }
}
