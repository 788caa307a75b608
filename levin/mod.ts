/**
 * Levin: the framed P2P protocol of CryptoNote daemons (Monero, Lethean) —
 * the 33-byte header, portable storage ("epee") with its varints, and a
 * connection over TCP that matches responses, answers requests and copes
 * with what real daemons send unprompted.
 *
 * Spec: `shared/spec/levin.md`.
 *
 * @example Encode a ping request and decode it again
 * ```ts
 * import {
 *   COMMAND_PING, decodeHeader, decodeStorage, encodeFrame, encodeStorage, HEADER_SIZE,
 * } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const frame = encodeFrame({ command: COMMAND_PING, expectResponse: true }, encodeStorage(new Map()));
 * assert.equal(frame.length, 43);
 * const header = decodeHeader(frame);
 * assert.equal(header.command, COMMAND_PING);
 * assert.equal(decodeStorage(frame.subarray(HEADER_SIZE)).size, 0);
 * ```
 *
 * @module
 */

export { CodedError } from "../errors.ts";
export * from "./errors.ts";
export * from "./varint.ts";
export * from "./header.ts";
export * from "./storage.ts";
export * from "./connection.ts";
export * from "./monero.ts";
