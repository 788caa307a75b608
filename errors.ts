/**
 * The one error shape of the package. Every error family of every layer
 * (`UepsError`, `LevinError`, `TransportError`, `BorgError`,
 * `ControllerError`, …) derives from {@linkcode CodedError}: a fixed `name`,
 * a `readonly code` from the family's string-literal union (snake_case), and
 * the standard `cause`. Callers test with `instanceof`, then
 * `switch (err.code)`.
 *
 * Each layer's `mod.ts` re-exports it (`@lthn/p2p/node`, `@lthn/p2p/ueps`,
 * `@lthn/p2p/levin`); this file imports nothing, so `ueps/` and `levin/`
 * still import nothing from `node/`.
 *
 * @module
 */

/**
 * An error with a machine-readable `code`. Families extend it with their own
 * code union and a fixed `name`; some add fields (Levin's `returnCode`, a
 * transport's HTTP `status`).
 *
 * @typeParam C The family's codes.
 *
 * @example A family of one's own
 * ```ts
 * import { CodedError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * class ParseError extends CodedError<"empty" | "too_long"> {
 *   override readonly name = "ParseError";
 * }
 * const err = new ParseError("empty", "Cannot parse name: it is empty");
 * assert.ok(err instanceof CodedError);
 * assert.equal(err.code, "empty");
 * assert.equal(err.name, "ParseError");
 * ```
 */
export class CodedError<C extends string = string> extends Error {
  /** The failure family (snake_case). */
  readonly code: C;
  /** The class name; each family fixes its own. */
  override readonly name: string = "CodedError";

  /**
   * Creates a coded error.
   *
   * @param code The failure family.
   * @param message The attempted action, a colon, the detail (no secrets).
   * @param options The cause.
   */
  constructor(code: C, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
