import assert from "node:assert/strict";
import fc from "fast-check";
import { LevinError } from "./errors.ts";
import {
  decodeVarint,
  encodeVarint,
  MAX_VARINT,
  varintSize,
} from "./varint.ts";

const EXAMPLES: [bigint, string][] = [
  [0n, "00"],
  [5n, "14"],
  [63n, "fc"],
  [64n, "0101"],
  [100n, "9101"],
  [16383n, "fdff"],
  [16384n, "02000100"],
  [65536n, "02000400"],
  [1073741823n, "feffffff"],
  [1073741824n, "0300000001000000"],
  [2000000000n, "0350d6dc01000000"],
  [MAX_VARINT, "ffffffffffffffff"],
];

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
function unhex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
}

Deno.test("encodeVarint() writes every spec example", () => {
  for (const [v, h] of EXAMPLES) {
    assert.equal(hex(encodeVarint(v)), h, String(v));
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
      assert.equal(hex(encodeVarint(Number(v))), h);
    }
    assert.equal(varintSize(v), h.length / 2);
  }
});

Deno.test("decodeVarint() reads every spec example and leaves trailing bytes", () => {
  for (const [v, h] of EXAMPLES) {
    const bytes = unhex(h + "aabb");
    assert.deepEqual(decodeVarint(bytes), { value: v, size: h.length / 2 });
    assert.deepEqual(decodeVarint(unhex("77" + h), 1), {
      value: v,
      size: h.length / 2,
    });
  }
});

Deno.test("decodeVarint() accepts non-minimal widths", () => {
  assert.equal(decodeVarint(unhex("06000000")).value, 1n);
  assert.equal(decodeVarint(unhex("0500")).value, 1n);
  assert.equal(decodeVarint(unhex("0300000000000000")).value, 0n);
});

Deno.test("decodeVarint() reports every truncation as varint_truncated", () => {
  for (const [, h] of EXAMPLES) {
    const full = unhex(h);
    for (let n = 0; n < full.length; n++) {
      assert.throws(
        () => decodeVarint(full.subarray(0, n)),
        (e) =>
          e instanceof LevinError && e.code === "varint_truncated" &&
          e.needMoreBytes,
      );
    }
  }
});

Deno.test("encodeVarint() refuses 2^62 and bad input", () => {
  assert.throws(
    () => encodeVarint(1n << 62n),
    (e) =>
      e instanceof LevinError && e.code === "varint_overflow" &&
      !e.needMoreBytes,
  );
  assert.throws(() => encodeVarint(-1), RangeError);
  assert.throws(() => encodeVarint(-1n), RangeError);
  assert.throws(() => encodeVarint(1.5), RangeError);
  assert.throws(() => encodeVarint(2 ** 60), RangeError);
  assert.throws(() => encodeVarint("1" as unknown as number), TypeError);
  assert.throws(() => decodeVarint([1] as unknown as Uint8Array), TypeError);
  assert.throws(() => decodeVarint(new Uint8Array(1), -1), RangeError);
});

Deno.test("varints round-trip over the full 62-bit range (property)", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: MAX_VARINT }), (v) => {
      const bytes = encodeVarint(v);
      assert.deepEqual(decodeVarint(bytes), { value: v, size: bytes.length });
    }),
  );
});

Deno.test("decodeVarint() on arbitrary bytes yields a value or varint_truncated (fuzz)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      try {
        const { value, size } = decodeVarint(bytes);
        assert.ok(value >= 0n && value <= MAX_VARINT && size <= bytes.length);
      } catch (e) {
        assert.ok(e instanceof LevinError && e.code === "varint_truncated");
      }
    }),
    { numRuns: 2000 },
  );
});
