/**
 * Borg / Enchantrix formats used by go-p2p: the Trix container, the
 * `ChaChaPolySigil` (XChaCha20-Poly1305 with XOR pre-obfuscation), SMSG
 * secure messages, STIM encrypted TIM bundles and the DataNode tar.
 * See `crypto-formats.md` for the byte layouts.
 *
 * @example Sealing a go-p2p frame
 * ```ts
 * import { SmsgKey, smsgOpenBody, smsgSealBody } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = SmsgKey.fromPassword("uL2eovqajg4HUim6Pc6Zq6eRoKv18AZYHECR5/HP94M=");
 * const frame = smsgSealBody('{"type":"ping"}', key);
 * assert.equal(new TextDecoder().decode(frame.subarray(0, 4)), "SMSG");
 * assert.equal(smsgOpenBody(frame, key), '{"type":"ping"}');
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./trix.ts";
export * from "./sigil.ts";
export * from "./smsg.ts";
export * from "./datanode.ts";
export * from "./stim.ts";
