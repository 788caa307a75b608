/**
 * Error classes for the Borg formats (Trix, sigil, SMSG, STIM, DataNode tar).
 *
 * @module
 */

import { CodedError } from "../../errors.ts";

/**
 * What went wrong in a Borg operation.
 *
 * - `truncated`: the input ends before a declared length (need more bytes).
 * - `invalid_magic`, `invalid_version`: the Trix preamble is wrong.
 * - `header_too_large`: the Trix header length is above the cap.
 * - `invalid_header`: the Trix header is not a JSON object.
 * - `checksum_mismatch`: the Trix `checksum` key does not match the payload.
 * - `ciphertext_too_short`: a sealed blob is shorter than nonce + tag.
 * - `decryption_failed`: authentication failed (wrong key or tampered data).
 * - `decompression_failed`: a gzip/zstd payload is corrupt.
 * - `decompressed_too_large`: a payload inflates beyond the output cap.
 * - `invalid_message`: the decrypted SMSG message JSON is malformed.
 * - `invalid_payload`: an SMSG v2 or STIM payload layout is malformed.
 * - `invalid_tar`: a DataNode tar archive is malformed or over its limits.
 */
export type BorgErrorCode =
  | "truncated"
  | "invalid_magic"
  | "invalid_version"
  | "header_too_large"
  | "invalid_header"
  | "checksum_mismatch"
  | "ciphertext_too_short"
  | "decryption_failed"
  | "decompression_failed"
  | "decompressed_too_large"
  | "invalid_message"
  | "invalid_payload"
  | "invalid_tar";

/**
 * A failure to decode, decrypt or parse a Borg container. Messages never
 * contain keys, passwords or plaintext.
 *
 * @example Telling failures apart
 * ```ts
 * import { BorgError, smsgDecrypt } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * try {
 *   smsgDecrypt(new Uint8Array([0x53, 0x4d]), "password");
 *   assert.fail("expected an error");
 * } catch (err) {
 *   assert.ok(err instanceof BorgError);
 *   assert.equal(err.code, "truncated");
 * }
 * ```
 */
export class BorgError extends CodedError<BorgErrorCode> {
  /** Always `"BorgError"`. */
  override readonly name = "BorgError";
}
