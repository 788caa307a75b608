import assert from "node:assert/strict";
import fc from "fast-check";
import { atOddOffset, fromHex, readSidecar, readVector } from "./_test_util.ts";
import { BorgError } from "./errors.ts";
import { trixChecksum, trixDecode, trixEncode } from "./trix.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof BorgError && e.code === code);
}

for (const name of ["trix-plain", "trix-checksum"]) {
  Deno.test(`trixDecode() and trixEncode() reproduce ${name}`, () => {
    const side: Json = readSidecar(`trix/${name}.trix.json`);
    const bytes = readVector(`trix/${name}.trix`);
    assert.deepEqual(bytes, fromHex(side.file_hex));
    const c = trixDecode(atOddOffset(bytes), "TRIX");
    assert.deepEqual(c.header, JSON.parse(side.header_json));
    assert.equal(new TextDecoder().decode(c.payload), side.payload_utf8);
    assert.deepEqual(trixEncode(c), bytes);
  });
}

Deno.test("trixEncode() adds checksum keys like Go", () => {
  const side: Json = readSidecar("trix/trix-checksum.trix.json");
  const bytes = readVector("trix/trix-checksum.trix");
  const payload = new TextEncoder().encode(side.payload_utf8);
  const out = trixEncode(
    { magic: "TRIX", header: { content_type: "text/plain" }, payload },
    { checksumAlgo: "sha256" },
  );
  assert.deepEqual(out, bytes);
  for (const algo of ["sha512", "sha1", "md5", "lthn"] as const) {
    const c = trixEncode({ magic: "TRIX", header: {}, payload }, {
      checksumAlgo: algo,
    });
    assert.equal(trixDecode(c, "TRIX").header.checksum_algo, algo);
  }
});

Deno.test("trixEncode() writes the smallest container", () => {
  const side: Json = readSidecar("primitives.json");
  assert.deepEqual(
    trixEncode({ magic: "TRIX", header: {}, payload: new Uint8Array() }),
    fromHex(side.trix_empty.hex),
  );
});

Deno.test("trixChecksum() lthn salts with the reversed, substituted payload", () => {
  // sha256("ab" + "b4") computed independently.
  assert.equal(
    trixChecksum("lthn", new TextEncoder().encode("ab")),
    trixChecksum("sha256", new TextEncoder().encode("abb4")),
  );
  // Invalid UTF-8 bytes each become U+FFFD in the salt.
  assert.equal(
    trixChecksum("lthn", new Uint8Array([0xe2, 0x82, 0x61])),
    trixChecksum(
      "sha256",
      new Uint8Array([
        0xe2,
        0x82,
        0x61,
        0x34,
        0xef,
        0xbf,
        0xbd,
        0xef,
        0xbf,
        0xbd,
      ]),
    ),
  );
  assert.equal(
    trixChecksum("unknown", new Uint8Array()),
    trixChecksum("sha256", new Uint8Array()),
  );
});

Deno.test("trixDecode() rejects the upstream malformed containers", () => {
  const enc = new TextEncoder();
  const ugly = (version: number, len: number) => {
    const b = new Uint8Array([
      ...enc.encode("UGLY"),
      version,
      0,
      0,
      0,
      0,
      ...enc.encode("{}payload"),
    ]);
    new DataView(b.buffer).setUint32(5, len);
    return b;
  };
  expectCode(() => trixDecode(ugly(2, 1000), "UGLY"), "truncated");
  expectCode(() => trixDecode(ugly(99, 2), "UGLY"), "invalid_version");
  expectCode(
    () =>
      trixDecode(
        new Uint8Array([0x46, 0x55, 0x5a, 0x5a, 0x02, 0x69, 0x6e, 0x22, 0x22]),
        "FUZZ",
      ),
    "header_too_large",
  );
  expectCode(() => trixDecode(ugly(2, 2), "TRIX"), "invalid_magic");
  expectCode(() => trixDecode(ugly(2, 0), "UGLY"), "invalid_header");
  expectCode(() => trixDecode(ugly(2, 4), "UGLY"), "invalid_header");
  const arr = trixEncode({
    magic: "TRIX",
    header: {},
    payload: new Uint8Array(),
  });
  arr.set(enc.encode("[]"), 9);
  expectCode(() => trixDecode(arr, "TRIX"), "invalid_header");
  assert.throws(() => trixDecode(arr, "TOOLONG"), RangeError);
  assert.throws(
    () => trixEncode({ magic: "AB", header: {}, payload: arr }),
    RangeError,
  );
});

Deno.test("trixDecode() verifies the checksum", () => {
  const bytes = readVector("trix/trix-checksum.trix").slice();
  bytes[bytes.length - 1]! ^= 1;
  expectCode(() => trixDecode(bytes, "TRIX"), "checksum_mismatch");
  const noAlgo = trixEncode({
    magic: "TRIX",
    header: { checksum: "00" },
    payload: new Uint8Array(),
  });
  expectCode(() => trixDecode(noAlgo, "TRIX"), "invalid_header");
});

Deno.test("trixDecode() rejects every truncation", () => {
  const bytes = readVector("trix/trix-plain.trix");
  for (let n = 0; n < 9 + 63; n++) {
    assert.throws(() => trixDecode(bytes.subarray(0, n), "TRIX"), BorgError);
  }
});

Deno.test("trixDecode() fuzz: arbitrary bytes end in BorgError or decode", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
      const b = new Uint8Array([0x54, 0x52, 0x49, 0x58, ...tail]);
      try {
        const c = trixDecode(b, "TRIX");
        return typeof c.header === "object";
      } catch (e) {
        return e instanceof BorgError;
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), fc.jsonValue()),
      fc.uint8Array(),
      (header, payload) => {
        const c = trixDecode(
          trixEncode({ magic: "TRIX", header, payload }),
          "TRIX",
        );
        assert.deepEqual(c.payload, payload);
        assert.deepEqual(c.header, JSON.parse(JSON.stringify(header)));
      },
    ),
    { numRuns: 300 },
  );
});
