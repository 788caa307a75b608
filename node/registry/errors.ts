/**
 * Errors of the controller trust list.
 *
 * @module
 */

/** What went wrong with the trust list. */
export type TrustErrorCode =
  /** The text is not a public key (padded standard base64 of 32 bytes). */
  | "invalid-key"
  /** The text looks like a pairing code but is not a valid one. */
  | "invalid-code"
  /** The key is not on the trust list. */
  | "not-trusted"
  /** The key comes from the start options and cannot be removed at run time. */
  | "pinned"
  /** The trust file exists but cannot be read. */
  | "load-failed"
  /** The trust file is damaged (and `onCorruptFile` is `"throw"`). */
  | "corrupt-file"
  /** The trust file could not be written; the change is not durable. */
  | "save-failed";

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
 *   (e) => e instanceof TrustError && e.code === "invalid-key",
 * );
 * ```
 */
export class TrustError extends Error {
  /** What went wrong. */
  readonly code: TrustErrorCode;
  /** Always `"TrustError"`. */
  override readonly name = "TrustError";

  /**
   * Creates a trust error.
   *
   * @param code What went wrong.
   * @param message The attempted action, a colon, the detail.
   * @param options The cause.
   */
  constructor(code: TrustErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
