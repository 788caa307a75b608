import assert from "node:assert/strict";
import { decodeBase64Strict, encodeBase64, fromHex, toHex } from "./_base64.ts";
import fc from "fast-check";

Deno.test("decodeBase64Strict() accepts exactly Go's padded standard base64", () => {
  assert.deepEqual(decodeBase64Strict(""), new Uint8Array(0));
  assert.deepEqual(decodeBase64Strict("AA=="), new Uint8Array([0]));
  assert.deepEqual(decodeBase64Strict("AAA="), new Uint8Array([0, 0]));
  assert.deepEqual(
    decodeBase64Strict("+/+/"),
    new Uint8Array([0xfb, 0xff, 0xbf]),
  );
  for (
    const bad of [
      "A",
      "AA",
      "AAA",
      "AA=",
      "A===",
      "====",
      "AA==AA==",
      "-_-_",
      "AB==",
      "AAB=",
      " AAA",
      "AA\n==",
      "é===",
    ]
  ) {
    assert.equal(decodeBase64Strict(bad), undefined, bad);
  }
});

Deno.test("decodeBase64Strict() handles multi-megabyte input", () => {
  const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i * 31);
  const text = encodeBase64(big);
  assert.deepEqual(decodeBase64Strict(text), big);
  assert.equal(decodeBase64Strict(text.slice(0, -1)), undefined);
});

Deno.test("property: encode then strict decode round-trips", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.deepEqual(decodeBase64Strict(encodeBase64(bytes)), bytes);
  }));
});

Deno.test("hex round trip and rejection", () => {
  assert.equal(toHex(fromHex("00ff10")), "00ff10");
  assert.throws(() => fromHex("0"), RangeError);
  assert.throws(() => fromHex("zz"), RangeError);
});
