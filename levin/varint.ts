/**
 * Portable-storage varints: the size integers of the epee format (entry
 * counts, array counts, string lengths).
 *
 * The two lowest bits of the first byte give the width; the value is the
 * whole little-endian word shifted right by two:
 *
 * | low bits | width | values |
 * |---|---:|---|
 * | `00` | 1 | 0 … 63 |
 * | `01` | 2 | 64 … 16 383 |
 * | `10` | 4 | 16 384 … 1 073 741 823 |
 * | `11` | 8 | 1 073 741 824 … 2^62 − 1 |
 *
 * Spec: `shared/spec/levin.md` §2.
 *
 * @module
 */

import { LevinError } from "./errors.ts";
import { writeVarint } from "./_varint.ts";

/** The largest value a varint can hold: 2^62 − 1. */
export const MAX_VARINT: bigint = (1n << 62n) - 1n;

/** A decoded varint. */
export interface DecodedVarint {
  /** The value (always a `bigint`: 8-byte varints exceed 2^53). */
  value: bigint;
  /** How many bytes it occupied (1, 2, 4 or 8). */
  size: number;
}

function checkValue(value: number | bigint): bigint {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot encode varint: value must be a non-negative safe integer, got ${value}`,
      );
    }
    return BigInt(value);
  }
  if (typeof value !== "bigint") {
    throw new TypeError(
      `Cannot encode varint: value must be a number or bigint, got ${typeof value}`,
    );
  }
  if (value < 0n) {
    throw new RangeError(
      `Cannot encode varint: value must not be negative, got ${value}`,
    );
  }
  if (value > MAX_VARINT) {
    throw new LevinError(
      "varint_overflow",
      `Cannot encode varint: ${value} exceeds the maximum 2^62 - 1`,
    );
  }
  return value;
}

/**
 * Returns how many bytes the minimal varint encoding of `value` takes.
 *
 * @param value A value from 0 to 2^62 − 1.
 * @returns 1, 2, 4 or 8.
 * @throws {RangeError} When `value` is negative or not a safe integer.
 * @throws {LevinError} `varint_overflow` when `value` ≥ 2^62.
 *
 * @example Widths
 * ```ts
 * import { varintSize } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.equal(varintSize(63), 1);
 * assert.equal(varintSize(64), 2);
 * assert.equal(varintSize(2n ** 62n - 1n), 8);
 * ```
 */
export function varintSize(value: number | bigint): number {
  const v = checkValue(value);
  if (v <= 63n) return 1;
  if (v <= 16383n) return 2;
  if (v <= 1073741823n) return 4;
  return 8;
}

/**
 * Encodes `value` as a minimal-width portable-storage varint.
 *
 * @param value A value from 0 to 2^62 − 1.
 * @returns A new buffer of 1, 2, 4 or 8 bytes.
 * @throws {RangeError} When `value` is negative or an unsafe number.
 * @throws {TypeError} When `value` is not a number or bigint.
 * @throws {LevinError} `varint_overflow` when `value` ≥ 2^62.
 *
 * @example Encoding
 * ```ts
 * import { encodeVarint } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(encodeVarint(100), new Uint8Array([0x91, 0x01]));
 * ```
 */
export function encodeVarint(value: number | bigint): Uint8Array<ArrayBuffer> {
  const v = checkValue(value);
  const size = varintSize(v);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (size === 8) {
    view.setBigUint64(0, (v << 2n) | 3n, true);
  } else {
    writeVarint(view, 0, Number(v));
  }
  return out;
}

/**
 * Decodes the varint starting at `offset`. Non-minimal widths are accepted
 * (as monerod does); bytes after the varint are not consumed.
 *
 * @param bytes The input.
 * @param offset Where the varint starts (default 0).
 * @returns The value and the number of bytes it took.
 * @throws {LevinError} `varint_truncated` when fewer bytes remain than the
 *   width announced by the first byte.
 * @throws {RangeError} When `offset` is not an index into `bytes`.
 *
 * @example Decoding
 * ```ts
 * import { decodeVarint } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeVarint(new Uint8Array([0x06, 0, 0, 0])), { value: 1n, size: 4 });
 * ```
 */
export function decodeVarint(
  bytes: Uint8Array,
  offset = 0,
): DecodedVarint {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot decode varint: input must be a Uint8Array");
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(
      `Cannot decode varint: offset must be a non-negative integer, got ${offset}`,
    );
  }
  if (offset >= bytes.length) {
    throw new LevinError(
      "varint_truncated",
      "Cannot decode varint: no bytes left",
      { offset },
    );
  }
  const size = 1 << (bytes[offset]! & 3);
  if (offset + size > bytes.length) {
    throw new LevinError(
      "varint_truncated",
      `Cannot decode varint: need ${size} bytes, ${bytes.length - offset} left`,
      { offset },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let word: bigint;
  switch (size) {
    case 1:
      word = BigInt(bytes[offset]!);
      break;
    case 2:
      word = BigInt(view.getUint16(offset, true));
      break;
    case 4:
      word = BigInt(view.getUint32(offset, true));
      break;
    default:
      word = view.getBigUint64(offset, true);
  }
  return { value: word >> 2n, size };
}
