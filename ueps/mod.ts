/**
 * UEPS: the signed TLV packet format of go-p2p (Lethean mesh), byte for byte
 * as Go nodes write and read it (go-p2p node spec §8).
 *
 * A packet is a run of TLVs. Every TLV, the payload included, is a 1-byte
 * tag, a 2-byte big-endian length and that many value bytes; the payload TLV
 * (tag `0xFF`) ends the packet, so packets can be concatenated on a stream.
 * The HMAC TLV carries `HMAC-SHA256(secret, signed TLVs ‖ payload value)`,
 * where the signed TLVs are every TLV before the payload except the HMAC
 * itself, whole (tag, length and value), in the order they appear. A builder
 * frame is 59 bytes plus the payload:
 *
 * | Offset | Size | Endianness | Meaning |
 * |---:|---:|---|---|
 * | 0 | 1 | – | tag `0x01` version |
 * | 1 | 2 | big | length = 1 |
 * | 3 | 1 | – | version (default `0x09`) |
 * | 4 | 4 | big (length) | tag `0x02`, length 1, current layer (default 5) |
 * | 8 | 4 | big (length) | tag `0x03`, length 1, target layer (default 5) |
 * | 12 | 4 | big (length) | tag `0x04`, length 1, intent ID |
 * | 16 | 1 | – | tag `0x05` threat score |
 * | 17 | 2 | big | length = 2 |
 * | 19 | 2 | big | threat score, 0–65 535 (default 0) |
 * | 21 | 1 | – | tag `0x06` HMAC (not signed) |
 * | 22 | 2 | big | length = 32 |
 * | 24 | 32 | – | HMAC-SHA256 over bytes 0–20 ‖ payload value |
 * | 56 | 1 | – | tag `0xFF` payload (not signed) |
 * | 57 | 2 | big | payload length n, 0–65 535 (not signed) |
 * | 59 | n | – | payload value (signed) |
 *
 * Readers accept unknown tags before the payload (signed, otherwise
 * ignored), header tags in any order (the last repeat wins) and the HMAC TLV
 * anywhere before the payload, as Go does. Unlike Go they never crash on a
 * short field and cap how much they read before the payload
 * ({@linkcode ReadOptions}). Every failure is a {@linkcode UepsError} with a
 * `code`.
 *
 * Spec: go-p2p node specification §8 (`shared/spec/node.md`).
 *
 * @example Sign, then read and verify
 * ```ts
 * import { PacketBuilder, readAndVerify, UepsError } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const secret = new TextEncoder().encode("test-shared-secret-32-bytes!!!!!");
 * const builder = new PacketBuilder(0x20, new TextEncoder().encode("hello UEPS"));
 * const frame = builder.marshalAndSign(secret);
 * assert.equal(frame.byteLength, 69);
 *
 * const { header, payload } = await readAndVerify(frame, secret);
 * assert.equal(header.intentId, 0x20);
 * assert.equal(new TextDecoder().decode(payload), "hello UEPS");
 *
 * frame[frame.byteLength - 1]! ^= 1;
 * await assert.rejects(
 *   readAndVerify(frame, secret),
 *   (e) => e instanceof UepsError && e.code === "hmac_mismatch",
 * );
 * ```
 *
 * @module
 */

export { CodedError } from "../errors.ts";
export * from "./errors.ts";
export * from "./key.ts";
export * from "./packet.ts";
export * from "./tlv.ts";
