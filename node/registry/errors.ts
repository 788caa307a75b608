/**
 * Errors of the controller trust list.
 *
 * @module
 */

import { CodedError } from "../../errors.ts";

/** What went wrong with the trust list. */
export type TrustErrorCode =
  /** The text is not a public key (padded standard base64 of 32 bytes). */
  | "invalid_key"
  /** The text looks like a pairing code but is not a valid one. */
  | "invalid_code"
  /** The key is not on the trust list. */
  | "not_trusted"
  /** The key comes from the start options and cannot be removed at run time. */
  | "pinned"
  /** The trust file exists but cannot be read. */
  | "load_failed"
  /** The trust file is damaged (and `onCorruptFile` is `"throw"`). */
  | "corrupt_file"
  /** The trust file could not be written; the change is not durable. */
  | "save_failed";

/**
 * A failure of the controller trust list ({@linkcode TrustStore}) or of a
 * pairing code.
 *
 * @example Telling failures apart
 * ```ts
 * import { parseControllerKey, TrustError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => parseControllerKey("not a key"),
 *   (e) => e instanceof TrustError && e.code === "invalid_key",
 * );
 * ```
 */
export class TrustError extends CodedError<TrustErrorCode> {
  /** Always `"TrustError"`. */
  override readonly name = "TrustError";
}
