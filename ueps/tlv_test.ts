import assert from "node:assert/strict";
import { UepsError } from "./errors.ts";
import {
  encodeTlv,
  FRAME_OVERHEAD_BYTES,
  HEADER_BYTES,
  HMAC_BYTES,
  MAX_TLV_VALUE_BYTES,
  TAG_HMAC,
  TAG_PAYLOAD,
  TAG_VERSION,
  TLV_HEADER_BYTES,
} from "./tlv.ts";

Deno.test("encodeTlv() writes tag 0x01 with value 0x09 as 01 00 01 09", () => {
  assert.deepEqual(
    encodeTlv(TAG_VERSION, new Uint8Array([0x09])),
    new Uint8Array([0x01, 0x00, 0x01, 0x09]),
  );
});

Deno.test("encodeTlv() accepts value lengths 0, 1, 255 and 65535", () => {
  for (const n of [0, 1, 255, 65_535]) {
    const value = new Uint8Array(n).fill(0xab);
    const out = encodeTlv(TAG_PAYLOAD, value);
    assert.equal(out.byteLength, TLV_HEADER_BYTES + n);
    assert.equal(out[0], 0xff);
    assert.equal((out[1]! << 8) | out[2]!, n);
    assert.deepEqual(out.subarray(3), value);
  }
});

Deno.test("encodeTlv() rejects values of 65536 and 100000 bytes", () => {
  for (const n of [65_536, 100_000]) {
    assert.throws(
      () => encodeTlv(TAG_HMAC, new Uint8Array(n)),
      (e) =>
        e instanceof UepsError && e.code === "value_too_large" &&
        e.message.includes("TLV value too large"),
    );
  }
});

Deno.test("encodeTlv() rejects a bad tag or a value that is not bytes", () => {
  assert.throws(() => encodeTlv(256, new Uint8Array(1)), RangeError);
  assert.throws(() => encodeTlv(-1, new Uint8Array(1)), RangeError);
  assert.throws(() => encodeTlv(1.5, new Uint8Array(1)), RangeError);
  assert.throws(
    // @ts-expect-error: wrong type on purpose
    () => encodeTlv(1, [1, 2]),
    TypeError,
  );
});

Deno.test("encodeTlv() returns a buffer the caller owns", () => {
  const value = new Uint8Array([1, 2, 3]);
  const out = encodeTlv(7, value);
  value[0] = 9;
  assert.equal(out[3], 1);
  assert.equal(out.byteOffset, 0);
  assert.equal(out.buffer.byteLength, 6);
});

Deno.test("frame size constants match the layout", () => {
  assert.equal(HEADER_BYTES, 5 * TLV_HEADER_BYTES + 4 + 2);
  assert.equal(
    FRAME_OVERHEAD_BYTES,
    HEADER_BYTES + TLV_HEADER_BYTES + HMAC_BYTES + TLV_HEADER_BYTES,
  );
  assert.equal(MAX_TLV_VALUE_BYTES, 0xffff);
});
