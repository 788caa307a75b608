/**
 * Internal varint fast paths shared by the storage codec.
 *
 * @module
 */

import { LevinError } from "./errors.ts";

/**
 * Writes the minimal varint for `value` at `offset` (no checks: internal).
 *
 * @param view The target.
 * @param offset Where to write.
 * @param value A checked value below 2^62.
 * @returns The offset after the varint.
 */
export function writeVarint(
  view: DataView,
  offset: number,
  value: number,
): number {
  if (value <= 63) {
    view.setUint8(offset, value << 2);
    return offset + 1;
  }
  if (value <= 16383) {
    view.setUint16(offset, (value << 2) | 1, true);
    return offset + 2;
  }
  if (value <= 1073741823) {
    view.setUint32(offset, ((value * 4) | 2) >>> 0, true);
    return offset + 4;
  }
  view.setBigUint64(offset, (BigInt(value) << 2n) | 3n, true);
  return offset + 8;
}

/**
 * Reads a varint at `offset` as a `number` (internal fast path). Values
 * above `Number.MAX_SAFE_INTEGER` come back as `Infinity`, which every caller
 * treats as "larger than the remaining input".
 *
 * @param bytes The input.
 * @param offset Where the varint starts.
 * @param view A DataView over `bytes`.
 * @returns `[value, nextOffset]`.
 * @throws {LevinError} `varint_truncated`.
 */
export function readVarint(
  bytes: Uint8Array,
  offset: number,
  view: DataView,
): [number, number] {
  if (offset >= bytes.length) {
    throw new LevinError(
      "varint_truncated",
      "Cannot decode varint: no bytes left",
      { offset },
    );
  }
  const first = bytes[offset]!;
  switch (first & 3) {
    case 0:
      return [first >>> 2, offset + 1];
    case 1:
      if (offset + 2 > bytes.length) break;
      return [view.getUint16(offset, true) >>> 2, offset + 2];
    case 2:
      if (offset + 4 > bytes.length) break;
      return [view.getUint32(offset, true) >>> 2, offset + 4];
    default: {
      if (offset + 8 > bytes.length) break;
      const v = view.getBigUint64(offset, true) >> 2n;
      return [
        v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v),
        offset + 8,
      ];
    }
  }
  throw new LevinError(
    "varint_truncated",
    `Cannot decode varint: need ${1 << (first & 3)} bytes, ${
      bytes.length - offset
    } left`,
    { offset },
  );
}
