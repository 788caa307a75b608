/**
 * UEPS TLV tags, sizes and the single-TLV encoder.
 *
 * Every field is `tag (1 byte) | length (2 bytes, big-endian) | value`.
 *
 * @module
 */

import { checkByte, checkValueLength } from "./_check.ts";

/** Tag of the protocol version field (1 byte). */
export const TAG_VERSION = 0x01;
/** Tag of the current layer field (1 byte). */
export const TAG_CURRENT_LAYER = 0x02;
/** Tag of the target layer field (1 byte). */
export const TAG_TARGET_LAYER = 0x03;
/** Tag of the intent field (1 byte). */
export const TAG_INTENT = 0x04;
/** Tag of the threat score field (2 bytes, big-endian). */
export const TAG_THREAT_SCORE = 0x05;
/** Tag of the HMAC-SHA256 field (32 bytes, not itself signed). */
export const TAG_HMAC = 0x06;
/** Tag of the payload; it ends the packet. */
export const TAG_PAYLOAD = 0xff;

/** Largest TLV value: the length field has 2 bytes. */
export const MAX_TLV_VALUE_BYTES = 65_535;
/** Size of a TLV's tag and length. */
export const TLV_HEADER_BYTES = 3;
/** Size of an HMAC-SHA256 tag. */
export const HMAC_BYTES = 32;
/** Size of the five header TLVs the builder writes. */
export const HEADER_BYTES = 21;
/** Frame size of a builder-made packet minus its payload: 21 + 35 + 3. */
export const FRAME_OVERHEAD_BYTES = 59;

/** Protocol version the builder writes by default. */
export const DEFAULT_VERSION = 0x09;
/** Current and target layer the builder writes by default. */
export const DEFAULT_LAYER = 5;

/**
 * Encodes one TLV: `tag | length (uint16 big-endian) | value`.
 *
 * @param tag The tag byte (0–255).
 * @param value The value, at most 65 535 bytes.
 * @returns A new buffer holding the TLV.
 * @throws {TypeError} When `value` is not a `Uint8Array`.
 * @throws {RangeError} When `tag` is not an integer in 0–255.
 * @throws {UepsError} With code `value_too_large` when the value is longer
 * than 65 535 bytes.
 *
 * @example Encoding the version field
 * ```ts
 * import { encodeTlv, TAG_VERSION } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   encodeTlv(TAG_VERSION, new Uint8Array([0x09])),
 *   new Uint8Array([0x01, 0x00, 0x01, 0x09]),
 * );
 * ```
 */
export function encodeTlv(
  tag: number,
  value: Uint8Array,
): Uint8Array<ArrayBuffer> {
  checkByte("tag", tag);
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot encode TLV: value must be a Uint8Array, got ${typeof value}`,
    );
  }
  checkValueLength(value.byteLength);
  const out = new Uint8Array(TLV_HEADER_BYTES + value.byteLength);
  out[0] = tag;
  out[1] = value.byteLength >>> 8;
  out[2] = value.byteLength & 0xff;
  out.set(value, TLV_HEADER_BYTES);
  return out;
}
