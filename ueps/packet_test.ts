import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { UepsError, type UepsErrorCode } from "./errors.ts";
import { HmacKey } from "./key.ts";
import {
  DEFAULT_MAX_TLVS,
  DEFAULT_MAX_UNKNOWN_TLVS,
  PacketBuilder,
  readAndVerify,
  readAndVerifySync,
  readPackets,
  type UepsPacket,
} from "./packet.ts";
import { encodeTlv } from "./tlv.ts";
import vectorFile from "../testdata/ueps/vectors.json" with { type: "json" };

const enc = new TextEncoder();
const KEY = enc.encode("test-shared-secret-32-bytes!!!!!");

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A default (non-byte) stream delivering `bytes` in chunks of `size`. */
function chunkedStream(
  bytes: Uint8Array,
  size: number,
): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.byteLength; i += size) {
    chunks.push(bytes.slice(i, i + size));
  }
  return ReadableStream.from(chunks);
}

/** A byte stream (`type: "bytes"`) delivering `bytes` in chunks of `size`. */
function byteStream(
  bytes: Uint8Array,
  size: number,
): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (at >= bytes.byteLength) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/** Signs arbitrary TLVs as Go's reader expects: HMAC over `signed ‖ payload`. */
function signRaw(
  signedTlvs: Uint8Array,
  payload: Uint8Array,
  key = KEY,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    createHmac("sha256", key).update(signedTlvs).update(payload).digest(),
  );
}

function isCode(code: UepsErrorCode): (e: unknown) => boolean {
  return (e) => e instanceof UepsError && e.code === code;
}

function assertRejectsCode(bytes: Uint8Array, code: UepsErrorCode): void {
  assert.throws(() => readAndVerifySync(bytes, KEY), isCode(code));
}

const STANDARD_HEADER = fromHex("010001090200010503000105040001200500020000");

interface Vector {
  name: string;
  keyAscii: string;
  intentId: number;
  threatScore: number;
  payloadHex: string;
  headerHex: string;
  hmacHex: string;
  frameHex: string;
}

const VECTORS: Vector[] = vectorFile.vectors;

Deno.test("PacketBuilder.marshalAndSign() reproduces the spec §8 vectors", () => {
  assert.equal(VECTORS.length, 2);
  for (const v of VECTORS) {
    const builder = new PacketBuilder(v.intentId, fromHex(v.payloadHex));
    builder.header.threatScore = v.threatScore;
    const key = enc.encode(v.keyAscii);
    const frame = builder.marshalAndSign(key);
    assert.equal(toHex(frame), v.frameHex, v.name);
    assert.equal(toHex(frame.subarray(0, 21)), v.headerHex);
    assert.equal(toHex(frame.subarray(24, 56)), v.hmacHex);
    assert.equal(toHex(builder.marshalAndSign(new HmacKey(key))), v.frameHex);
  }
});

Deno.test("readers verify the spec §8 vectors, also at odd offsets", async () => {
  for (const v of VECTORS) {
    const key = enc.encode(v.keyAscii);
    const frame = fromHex(v.frameHex);
    for (const offset of [0, 1, 3, 7, 13]) {
      const big = new Uint8Array(offset + frame.byteLength + 5).fill(0xee);
      big.set(frame, offset);
      const view = big.subarray(offset, offset + frame.byteLength);
      const packets: UepsPacket[] = [
        readAndVerifySync(view, key),
        await readAndVerify(view, key),
        await readAndVerify(view, new HmacKey(key)),
        await readAndVerify(chunkedStream(view, 5), key),
        await readAndVerify(byteStream(view, 3), key),
      ];
      for await (const p of readPackets(view, key)) packets.push(p);
      assert.equal(packets.length, 6);
      for (const p of packets) {
        assert.deepEqual(p.header, {
          version: 9,
          currentLayer: 5,
          targetLayer: 5,
          intentId: v.intentId,
          threatScore: v.threatScore,
        });
        assert.equal(toHex(p.payload), v.payloadHex);
      }
      // Trailing bytes after the payload are left alone, as in Go.
      const trailing = big.subarray(offset, offset + frame.byteLength + 5);
      assert.equal(
        toHex(readAndVerifySync(trailing, key).payload),
        v.payloadHex,
      );
    }
  }
});

Deno.test("readAndVerifySync() returns the payload as a view into the input", () => {
  const frame = fromHex(VECTORS[0]!.frameHex);
  const { payload } = readAndVerifySync(frame, KEY);
  assert.equal(payload.buffer, frame.buffer);
  assert.equal(payload.byteOffset, 59);
});

Deno.test("round trips preserve header and payload (Go test cases)", async () => {
  const bin = new Uint8Array(256);
  for (let i = 0; i < 256; i++) bin[i] = i;
  const cases: [number, Uint8Array, number][] = [
    [0x20, enc.encode("compute this"), 0],
    [0x01, bin, 0],
    [0x30, enc.encode("rehab"), 42],
    [0xff, new Uint8Array(4096).fill(0x5a), 0],
  ];
  for (const [intent, payload, threat] of cases) {
    const b = new PacketBuilder(intent, payload);
    b.header.threatScore = threat;
    const p = await readAndVerify(b.marshalAndSign(KEY), KEY);
    assert.deepEqual(p.header, {
      version: 9,
      currentLayer: 5,
      targetLayer: 5,
      intentId: intent,
      threatScore: threat,
    });
    assert.deepEqual(p.payload, payload);
  }
});

Deno.test("PacketBuilder uses Go's header defaults", () => {
  const b = new PacketBuilder(0x42, enc.encode("x"));
  assert.deepEqual(b.header, {
    version: 0x09,
    currentLayer: 5,
    targetLayer: 5,
    intentId: 0x42,
    threatScore: 0,
  });
  assert.deepEqual(b.payload, enc.encode("x"));
  assert.equal(new PacketBuilder(1).payload, null);
});

Deno.test("threat scores 0, 1, 32768, 50001 and 65535 round-trip", async () => {
  for (const threat of [0, 1, 32_768, 50_001, 65_535]) {
    const b = new PacketBuilder(0x20);
    b.header.threatScore = threat;
    const p = await readAndVerify(b.marshalAndSign(KEY), KEY);
    assert.equal(p.header.threatScore, threat);
  }
});

Deno.test("null and empty payloads round-trip as empty payloads", async () => {
  for (const payload of [null, undefined, new Uint8Array(0)]) {
    const frame = new PacketBuilder(0x30, payload).marshalAndSign(KEY);
    assert.equal(frame.byteLength, 59);
    const p = await readAndVerify(frame, KEY);
    assert.equal(p.payload.byteLength, 0);
    assert.equal(p.header.intentId, 0x30);
  }
});

Deno.test("readAndVerify() reports an integrity violation for a changed payload, version or key", async () => {
  const frame = new PacketBuilder(0x20, enc.encode("hello")).marshalAndSign(
    KEY,
  );
  const lastFlipped = frame.slice();
  lastFlipped[lastFlipped.length - 1]! ^= 0x01;
  const versionChanged = frame.slice();
  assert.equal(versionChanged[3], 0x09);
  versionChanged[3] = 0x01;
  const attempts = [
    readAndVerify(lastFlipped, KEY),
    readAndVerify(versionChanged, KEY),
    readAndVerify(frame, enc.encode("another-secret-of-32-bytes!!!!!!")),
  ];
  for (const attempt of attempts) {
    await assert.rejects(
      attempt,
      (e) =>
        isCode("hmac_mismatch")(e) &&
        (e as Error).message.includes("integrity violation"),
    );
  }
});

Deno.test("every single-byte change of a valid frame is rejected", async () => {
  const frame = new PacketBuilder(0x20, enc.encode("hello UEPS"))
    .marshalAndSign(KEY);
  let rejected = 0;
  for (let i = 0; i < frame.byteLength; i++) {
    for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
      const bad = frame.slice();
      bad[i]! ^= mask;
      assert.throws(
        () => readAndVerifySync(bad, KEY),
        UepsError,
        `byte ${i} mask ${mask}`,
      );
      await assert.rejects(
        readAndVerify(chunkedStream(bad, 7), KEY),
        UepsError,
      );
      rejected++;
    }
  }
  assert.equal(rejected, 69 * 9);
});

Deno.test("a frame without an HMAC TLV is rejected as missing HMAC", () => {
  const payload = enc.encode("p");
  const noHmac = concat(STANDARD_HEADER, encodeTlv(0xff, payload));
  assert.throws(
    () => readAndVerifySync(noHmac, KEY),
    (e) =>
      isCode("missing_hmac")(e) &&
      (e as Error).message.includes("missing HMAC"),
  );
  // An HMAC TLV after the payload is never read.
  const after = concat(noHmac, encodeTlv(6, signRaw(STANDARD_HEADER, payload)));
  assertRejectsCode(after, "missing_hmac");
});

Deno.test("empty input fails with end_of_stream", async () => {
  assertRejectsCode(new Uint8Array(0), "end_of_stream");
  await assert.rejects(
    readAndVerify(new Uint8Array(0), KEY),
    isCode("end_of_stream"),
  );
  await assert.rejects(
    readAndVerify(chunkedStream(new Uint8Array(0), 1), KEY),
    isCode("end_of_stream"),
  );
  await assert.rejects(
    readAndVerify(byteStream(new Uint8Array(0), 1), KEY),
    isCode("end_of_stream"),
  );
});

Deno.test("every truncation of a valid frame is reported as truncated", async () => {
  const frame = new PacketBuilder(0x20, enc.encode("hello UEPS"))
    .marshalAndSign(KEY);
  for (let n = 1; n < frame.byteLength; n++) {
    const cut = frame.slice(0, n);
    assertRejectsCode(cut, "truncated");
    await assert.rejects(
      readAndVerify(chunkedStream(cut, 4), KEY),
      isCode("truncated"),
    );
    await assert.rejects(
      readAndVerify(byteStream(cut, 4), KEY),
      isCode("truncated"),
    );
  }
  // The Go test's cases: 1, 2 and 20 bytes; right after the payload tag; after
  // the payload tag and its length.
  for (const n of [1, 2, 20, 57, 59]) {
    assertRejectsCode(frame.slice(0, n), "truncated");
  }
});

Deno.test("short header values are malformed, not a crash", () => {
  const hmacTlv = encodeTlv(6, new Uint8Array(32));
  for (
    const [tag, length] of [[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [5, 1]]
  ) {
    const bad = concat(
      encodeTlv(tag!, new Uint8Array(length!)),
      hmacTlv,
      encodeTlv(0xff, new Uint8Array(0)),
    );
    assertRejectsCode(bad, "malformed");
  }
});

Deno.test("an unknown tag between header and HMAC is signed and otherwise ignored", async () => {
  const payload = enc.encode("forward compatible");
  const unknown = encodeTlv(0xaa, new Uint8Array([0x12, 0x34]));
  const signed = concat(STANDARD_HEADER, unknown);
  const frame = concat(
    signed,
    encodeTlv(6, signRaw(signed, payload)),
    encodeTlv(0xff, payload),
  );
  const p = await readAndVerify(frame, KEY);
  assert.deepEqual(p.header, {
    version: 9,
    currentLayer: 5,
    targetLayer: 5,
    intentId: 0x20,
    threatScore: 0,
  });
  assert.deepEqual(p.payload, payload);
  // Signed without the unknown TLV, it fails: the TLV is covered by the HMAC.
  const unsignedUnknown = concat(
    signed,
    encodeTlv(6, signRaw(STANDARD_HEADER, payload)),
    encodeTlv(0xff, payload),
  );
  assertRejectsCode(unsignedUnknown, "hmac_mismatch");
});

Deno.test("the HMAC TLV may come first; repeated tags are all signed and the last wins", () => {
  const payload = enc.encode("x");
  const signed = concat(
    encodeTlv(4, new Uint8Array([0x01])),
    encodeTlv(4, new Uint8Array([0x30])),
    encodeTlv(5, new Uint8Array([0x01, 0x02, 0x03])),
  );
  const frame = concat(
    encodeTlv(6, signRaw(signed, payload)),
    signed,
    encodeTlv(0xff, payload),
  );
  const p = readAndVerifySync(frame, KEY);
  // Missing tags read 0; the last intent wins; extra value bytes are ignored.
  assert.deepEqual(p.header, {
    version: 0,
    currentLayer: 0,
    targetLayer: 0,
    intentId: 0x30,
    threatScore: 0x0102,
  });
  // The last HMAC TLV wins.
  const twoHmacs = concat(encodeTlv(6, new Uint8Array(32)), frame);
  assert.equal(readAndVerifySync(twoHmacs, KEY).header.intentId, 0x30);
  const lastWrong = concat(
    frame.subarray(0, 35),
    encodeTlv(6, new Uint8Array(32)),
    frame.subarray(35),
  );
  assertRejectsCode(lastWrong, "hmac_mismatch");
});

Deno.test("a signature of the wrong length is an HMAC mismatch", () => {
  const payload = enc.encode("x");
  const tag = signRaw(STANDARD_HEADER, payload);
  for (
    const sig of [
      tag.subarray(0, 31),
      concat(tag, new Uint8Array(1)),
      new Uint8Array(0),
    ]
  ) {
    const frame = concat(
      STANDARD_HEADER,
      encodeTlv(6, sig),
      encodeTlv(0xff, payload),
    );
    assertRejectsCode(frame, "hmac_mismatch");
  }
});

Deno.test("readers cap unknown TLVs, all TLVs, header bytes and payload size", async () => {
  const hmacTlv = encodeTlv(6, new Uint8Array(32));
  const payloadTlv = encodeTlv(0xff, new Uint8Array(10));
  const unknowns = (n: number, size = 0) =>
    concat(
      ...Array.from({ length: n }, () => encodeTlv(0x77, new Uint8Array(size))),
    );
  const tooManyUnknown = concat(
    unknowns(DEFAULT_MAX_UNKNOWN_TLVS + 1),
    hmacTlv,
    payloadTlv,
  );
  assertRejectsCode(tooManyUnknown, "too_many_tlvs");
  await assert.rejects(
    readAndVerify(chunkedStream(tooManyUnknown, 2), KEY),
    isCode("too_many_tlvs"),
  );
  // At the limit the frame is read through to the HMAC check.
  assertRejectsCode(
    concat(unknowns(DEFAULT_MAX_UNKNOWN_TLVS), hmacTlv, payloadTlv),
    "hmac_mismatch",
  );
  const manyHeaders = concat(
    ...Array.from(
      { length: DEFAULT_MAX_TLVS + 1 },
      () => encodeTlv(1, new Uint8Array([9])),
    ),
    hmacTlv,
    payloadTlv,
  );
  assertRejectsCode(manyHeaders, "too_many_tlvs");
  // Endless HMAC TLVs count too.
  const manyHmacs = concat(
    ...Array.from({ length: DEFAULT_MAX_TLVS + 1 }, () => hmacTlv),
    payloadTlv,
  );
  assertRejectsCode(manyHmacs, "too_many_tlvs");
  const bigUnknowns = concat(unknowns(2, 65_535), hmacTlv, payloadTlv);
  assertRejectsCode(bigUnknowns, "header_too_large");
  // Caps apply before the value is read: a declared length is enough.
  const declaredOnly = concat(
    encodeTlv(0x77, new Uint8Array(65_535)),
    new Uint8Array([0x77, 0xff, 0xff]),
  );
  assertRejectsCode(declaredOnly, "header_too_large");
  await assert.rejects(
    readAndVerify(byteStream(declaredOnly, 1000), KEY),
    isCode("header_too_large"),
  );

  const frame = new PacketBuilder(1, new Uint8Array(100)).marshalAndSign(KEY);
  assert.throws(
    () => readAndVerifySync(frame, KEY, { maxPayloadBytes: 99 }),
    isCode("value_too_large"),
  );
  assert.equal(
    readAndVerifySync(frame, KEY, { maxPayloadBytes: 100 }).payload.byteLength,
    100,
  );
  assert.throws(
    () => readAndVerifySync(frame, KEY, { maxTlvs: 5 }),
    isCode("too_many_tlvs"),
  );
  assert.throws(
    () => readAndVerifySync(frame, KEY, { maxHeaderBytes: 55 }),
    isCode("header_too_large"),
  );
  assert.equal(
    readAndVerifySync(frame, KEY, { maxHeaderBytes: 56 }).header.intentId,
    1,
  );
  assertRejectsCode(
    concat(encodeTlv(0x77, new Uint8Array(0)), frame),
    "hmac_mismatch",
  );
  assert.throws(
    () =>
      readAndVerifySync(
        concat(encodeTlv(0x77, new Uint8Array(0)), frame),
        KEY,
        { maxUnknownTlvs: 0 },
      ),
    isCode("too_many_tlvs"),
  );
});

Deno.test("readers reject bad options and wrong-typed arguments", async () => {
  const frame = new PacketBuilder(1).marshalAndSign(KEY);
  for (
    const options of [{ maxPayloadBytes: 65_536 }, { maxTlvs: -1 }, {
      maxHeaderBytes: 1.5,
    }, { maxUnknownTlvs: NaN }]
  ) {
    assert.throws(() => readAndVerifySync(frame, KEY, options), RangeError);
    await assert.rejects(readAndVerify(frame, KEY, options), RangeError);
    assert.throws(() => readPackets(frame, KEY, options), RangeError);
  }
  for (
    const input of [
      null,
      undefined,
      "frame",
      42,
      [1, 2],
      frame.buffer,
      new DataView(frame.buffer),
    ]
  ) {
    // @ts-expect-error: wrong type on purpose
    assert.throws(() => readAndVerifySync(input, KEY), TypeError);
    // @ts-expect-error: wrong type on purpose
    await assert.rejects(readAndVerify(input, KEY), TypeError);
    // @ts-expect-error: wrong type on purpose
    assert.throws(() => readPackets(input, KEY), TypeError);
  }
  for (const key of [null, "secret", 1, [1]]) {
    // @ts-expect-error: wrong type on purpose
    assert.throws(() => readAndVerifySync(frame, key), TypeError);
    // @ts-expect-error: wrong type on purpose
    await assert.rejects(readAndVerify(frame, key), TypeError);
    // @ts-expect-error: wrong type on purpose
    assert.throws(() => new PacketBuilder(1).marshalAndSign(key), TypeError);
  }
  // @ts-expect-error: wrong type on purpose
  await assert.rejects(readAndVerify(frame, KEY, "strict"), TypeError);
  // A stream of strings is a caller mistake.
  const strings = ReadableStream.from(["abc"]) as unknown as ReadableStream<
    Uint8Array
  >;
  await assert.rejects(
    readAndVerify(strings, KEY),
    TypeError,
  );
});

Deno.test("PacketBuilder rejects out-of-range fields and oversize payloads", () => {
  assert.throws(() => new PacketBuilder(256), RangeError);
  assert.throws(() => new PacketBuilder(-1), RangeError);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new PacketBuilder(1, "text"), TypeError);
  for (
    const [field, value] of [
      ["version", 256],
      ["currentLayer", -1],
      ["targetLayer", 1.5],
      ["intentId", NaN],
      ["threatScore", 65_536],
      ["threatScore", -1],
    ] as const
  ) {
    const b = new PacketBuilder(1);
    b.header[field] = value;
    assert.throws(() => b.marshalAndSign(KEY), RangeError, field);
  }
  assert.throws(
    () => new PacketBuilder(1, new Uint8Array(65_536)).marshalAndSign(KEY),
    (e) =>
      isCode("value_too_large")(e) &&
      (e as Error).message.includes("TLV value too large"),
  );
  const max = new PacketBuilder(1, new Uint8Array(65_535)).marshalAndSign(KEY);
  assert.equal(max.byteLength, 59 + 65_535);
  assert.equal(readAndVerifySync(max, KEY).payload.byteLength, 65_535);
});

Deno.test("prepared keys, empty keys and long keys sign as a plain HMAC does", () => {
  for (
    const key of [
      new Uint8Array(0),
      new Uint8Array(64).fill(3),
      new Uint8Array(65).fill(4),
      new Uint8Array(200).fill(5),
    ]
  ) {
    const b = new PacketBuilder(0x20, enc.encode("k"));
    const frame = b.marshalAndSign(key);
    assert.deepEqual(b.marshalAndSign(new HmacKey(key)), frame);
    const expected = hmac(
      sha256,
      key,
      concat(frame.subarray(0, 21), enc.encode("k")),
    );
    assert.deepEqual(frame.subarray(24, 56), expected);
    assert.equal(
      readAndVerifySync(frame, new HmacKey(key)).header.intentId,
      0x20,
    );
  }
});

Deno.test("readPackets() reads concatenated frames from bytes and from streams", async () => {
  const frames = [0x01, 0x20, 0x30, 0xff].map((intent, i) => {
    const b = new PacketBuilder(intent, new Uint8Array(i * 100).fill(i));
    b.header.threatScore = i;
    return b.marshalAndSign(KEY);
  });
  const all = concat(...frames);
  const sources = () => [
    all,
    chunkedStream(all, 1),
    chunkedStream(all, 61),
    byteStream(all, 17),
    byteStream(all, all.byteLength),
  ];
  for (const source of sources()) {
    const seen: number[] = [];
    for await (const p of readPackets(source, KEY)) {
      seen.push(p.header.intentId);
      assert.equal(p.payload.byteLength, p.header.threatScore * 100);
    }
    assert.deepEqual(seen, [0x01, 0x20, 0x30, 0xff]);
  }
  // A bad packet ends the iteration with its error, after the good ones.
  const broken = concat(frames[0]!, frames[1]!.subarray(0, 30));
  for (
    const source of [broken, chunkedStream(broken, 9), byteStream(broken, 9)]
  ) {
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const p of readPackets(source, KEY)) {
        seen.push(p.header.intentId);
      }
    }, isCode("truncated"));
    assert.deepEqual(seen, [0x01]);
  }
  // Breaking out releases the stream's lock.
  const stream = chunkedStream(all, 50);
  for await (const _ of readPackets(stream, KEY)) break;
  assert.equal(stream.locked, false);
  await stream.cancel();
});

Deno.test("readAndVerify() on a byte stream reads exactly one frame, leaving the next", async () => {
  const frames = [1, 2, 3].map((i) =>
    new PacketBuilder(i, new Uint8Array(i)).marshalAndSign(KEY)
  );
  const stream = byteStream(concat(...frames), 1000);
  for (const i of [1, 2, 3]) {
    const p = await readAndVerify(stream, KEY);
    assert.equal(p.header.intentId, i);
    assert.equal(stream.locked, false);
  }
  await assert.rejects(readAndVerify(stream, KEY), isCode("end_of_stream"));
});

Deno.test("readers read frames from a real file", async () => {
  const path = await Deno.makeTempFile({ prefix: "ueps_test_" });
  try {
    const frames = [0x20, 0x30].map((i) =>
      new PacketBuilder(i, new Uint8Array(3000).fill(i)).marshalAndSign(KEY)
    );
    await Deno.writeFile(path, concat(...frames));
    {
      using file = await Deno.open(path);
      const first = await readAndVerify(file.readable, KEY);
      assert.equal(first.header.intentId, 0x20);
      const second = await readAndVerify(file.readable, KEY);
      assert.equal(second.header.intentId, 0x30);
      assert.deepEqual(second.payload, new Uint8Array(3000).fill(0x30));
    }
    {
      using file = await Deno.open(path);
      const seen: number[] = [];
      for await (const p of readPackets(file.readable, new HmacKey(KEY))) {
        seen.push(p.header.intentId);
      }
      assert.deepEqual(seen, [0x20, 0x30]);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("errors from the stream pass through unchanged", async () => {
  const frame = new PacketBuilder(0x20, enc.encode("hello")).marshalAndSign(
    KEY,
  );
  const reset = new Error("connection reset");
  for (
    const make of [
      () =>
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(frame.slice(0, 57));
            c.error(reset);
          },
        }),
      () =>
        new ReadableStream<Uint8Array>({
          type: "bytes",
          start(c) {
            c.enqueue(frame.slice(0, 57));
          },
          pull(c) {
            c.error(reset);
          },
        }),
    ]
  ) {
    await assert.rejects(readAndVerify(make(), KEY), (e) => e === reset);
  }
});

// --- Property tests ------------------------------------------------------

const headerArb = fc.record({
  version: fc.integer({ min: 0, max: 255 }),
  currentLayer: fc.integer({ min: 0, max: 255 }),
  targetLayer: fc.integer({ min: 0, max: 255 }),
  intentId: fc.integer({ min: 0, max: 255 }),
  threatScore: fc.integer({ min: 0, max: 65_535 }),
});

const payloadArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 60_000, maxLength: 65_535 }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(65_535, 0).map((n) =>
      new Uint8Array(n).fill(0xff)
    ),
  },
);

Deno.test("property: arbitrary headers and payloads up to 65535 bytes round-trip", async () => {
  await fc.assert(
    fc.asyncProperty(
      headerArb,
      payloadArb,
      fc.uint8Array({ maxLength: 80 }),
      fc.integer({ min: 1, max: 70_000 }),
      async (header, payload, key, chunk) => {
        const b = new PacketBuilder(header.intentId, payload);
        b.header = { ...header };
        const frame = b.marshalAndSign(key);
        assert.equal(frame.byteLength, 59 + payload.byteLength);
        // Reference HMAC from @noble/hashes.
        assert.deepEqual(
          frame.subarray(24, 56),
          hmac(sha256, key, concat(frame.subarray(0, 21), payload)),
        );
        for (
          const p of [
            readAndVerifySync(frame, key),
            await readAndVerify(chunkedStream(frame, chunk), new HmacKey(key)),
          ]
        ) {
          assert.deepEqual(p.header, { ...header });
          assert.deepEqual(p.payload, payload);
        }
      },
    ),
    { numRuns: 150 },
  );
});

async function onlyPacketOrUepsError(
  run: () => Promise<unknown> | unknown,
): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!(e instanceof UepsError)) throw e;
  }
}

Deno.test("property: arbitrary bytes only ever yield a packet or a UepsError", async () => {
  // Mostly well-formed TLV runs with random tags and lengths, plus pure noise.
  const tlvArb = fc.tuple(
    fc.constantFrom(
      0x00,
      0x01,
      0x02,
      0x03,
      0x04,
      0x05,
      0x06,
      0x07,
      0xaa,
      0xfe,
      0xff,
    ),
    fc.uint8Array({ maxLength: 40 }),
  ).map(([tag, value]) => encodeTlv(tag, value));
  const inputArb = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tlvArb, { maxLength: 12 }).map((tlvs) => concat(...tlvs)),
  );
  await fc.assert(
    fc.asyncProperty(
      inputArb,
      fc.integer({ min: 1, max: 64 }),
      async (input, chunk) => {
        await onlyPacketOrUepsError(() => readAndVerifySync(input, KEY));
        await onlyPacketOrUepsError(() =>
          readAndVerify(chunkedStream(input, chunk), KEY)
        );
        await onlyPacketOrUepsError(() =>
          readAndVerify(byteStream(input, chunk), KEY)
        );
        await onlyPacketOrUepsError(async () => {
          for await (const _ of readPackets(input, KEY));
        });
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("property: a frame signed over arbitrary TLVs verifies, and any change breaks it", async () => {
  const tlvArb = fc.tuple(
    fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x80, 0xfe),
    fc.uint8Array({ minLength: 2, maxLength: 20 }),
  ).map(([tag, value]) => encodeTlv(tag, value));
  await fc.assert(
    fc.asyncProperty(
      fc.array(tlvArb, { maxLength: 8 }),
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      async (tlvs, payload, where, mask) => {
        const signed = concat(...tlvs);
        const frame = concat(
          signed,
          encodeTlv(6, signRaw(signed, payload)),
          encodeTlv(0xff, payload),
        );
        const p = await readAndVerify(frame, KEY);
        assert.deepEqual(p.payload, payload);
        const bad = frame.slice();
        bad[where % bad.byteLength]! ^= mask;
        assert.throws(() => readAndVerifySync(bad, KEY), UepsError);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("payloads read from a stream are copies the caller owns", async () => {
  const frame = new PacketBuilder(0x20, enc.encode("mine")).marshalAndSign(KEY);
  const chunk = frame.slice();
  const p = await readAndVerify(ReadableStream.from([chunk]), KEY);
  chunk.fill(0);
  assert.equal(new TextDecoder().decode(p.payload), "mine");
  const q = await readAndVerify(byteStream(frame, 8), KEY);
  assert.equal(new TextDecoder().decode(q.payload), "mine");
});
