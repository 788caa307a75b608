/**
 * Internal argument checks shared by the UEPS writer.
 *
 * @module
 */

import { UepsError } from "./errors.ts";

/** Largest TLV value (mirrors `MAX_TLV_VALUE_BYTES`, kept here to avoid an import cycle). */
const MAX_TLV_VALUE_BYTES = 0xffff;

/** Throws the Go-compatible "too large" error for an oversize TLV value. */
export function checkValueLength(length: number): void {
  if (length > MAX_TLV_VALUE_BYTES) {
    throw new UepsError(
      "value_too_large",
      `Cannot encode TLV: TLV value too large for 2-byte length header (${length} bytes, max ${MAX_TLV_VALUE_BYTES})`,
    );
  }
}

/** Throws a RangeError unless `value` is an integer in 0–255. */
export function checkByte(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new RangeError(
      `Cannot encode UEPS ${field}: expected an integer in 0-255, got ${
        String(value)
      }`,
    );
  }
}
