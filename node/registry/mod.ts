/**
 * The controller trust list and pairing codes.
 *
 * @example A pairing code names a key
 * ```ts
 * import { pairingCode, parseControllerKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * assert.equal(parseControllerKey(pairingCode({ publicKey: key, name: "alpha" })).publicKey, key);
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./pairing.ts";
export * from "./trust.ts";
