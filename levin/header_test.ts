import assert from "node:assert/strict";
import fc from "fast-check";
import { LevinError } from "./errors.ts";
import {
  classifyFrame,
  decodeHeader,
  encodeFrame,
  encodeHeader,
  FLAG_BEGIN,
  FLAG_END,
  FLAG_REQUEST,
  FLAG_RESPONSE,
  HEADER_SIZE,
  type LevinHeader,
  MAX_PAYLOAD_SIZE,
} from "./header.ts";

const HANDSHAKE_HEADER = "0121010101010101" + "3e01000000000000" + "01" +
  "e9030000" + "00000000" +
  "01000000" + "01000000";

function unhex(h: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
}
function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const header: LevinHeader = {
  payloadSize: 318,
  expectResponse: true,
  command: 1001,
  returnCode: 0,
  flags: FLAG_REQUEST,
  protocolVersion: 1,
};

Deno.test("encodeHeader() writes the spec's handshake header", () => {
  assert.equal(hex(encodeHeader(header)), HANDSHAKE_HEADER);
  assert.equal(encodeHeader(header).length, HEADER_SIZE);
});

Deno.test("decodeHeader() reads the fields at their offsets", () => {
  assert.deepEqual(decodeHeader(unhex(HANDSHAKE_HEADER)), header);
  const neg = encodeHeader({
    ...header,
    returnCode: -7,
    expectResponse: false,
  });
  assert.equal(hex(neg.subarray(21, 25)), "f9ffffff");
  assert.equal(decodeHeader(neg).returnCode, -7);
});

Deno.test("decodeHeader() treats any non-zero expect byte as true and reads any version", () => {
  const b = unhex(HANDSHAKE_HEADER);
  b[16] = 2;
  b[29] = 0;
  const h = decodeHeader(b);
  assert.equal(h.expectResponse, true);
  assert.equal(h.protocolVersion, 0);
  assert.equal(encodeHeader(h)[16], 1);
});

Deno.test("decodeHeader() rejects a bad signature as soon as it is visible", () => {
  for (let i = 0; i < 8; i++) {
    const b = unhex(HANDSHAKE_HEADER);
    b[i]! ^= 0x40;
    assert.throws(
      () => decodeHeader(b),
      (e) =>
        e instanceof LevinError && e.code === "bad_signature" && e.offset === i,
    );
    assert.throws(
      () => decodeHeader(b.subarray(0, i + 1)),
      (e) => e instanceof LevinError && e.code === "bad_signature",
    );
  }
});

Deno.test("decodeHeader() reports each short length as header_truncated", () => {
  const b = unhex(HANDSHAKE_HEADER);
  for (let n = 0; n < HEADER_SIZE; n++) {
    assert.throws(
      () => decodeHeader(b.subarray(0, n)),
      (e) =>
        e instanceof LevinError && e.code === "header_truncated" &&
        e.needMoreBytes,
    );
  }
});

Deno.test("decodeHeader() enforces the payload limit, exactly the limit accepted", () => {
  const at = encodeHeader({ ...header, payloadSize: MAX_PAYLOAD_SIZE });
  assert.equal(decodeHeader(at).payloadSize, MAX_PAYLOAD_SIZE);
  const over = encodeHeader({ ...header, payloadSize: MAX_PAYLOAD_SIZE + 1 });
  assert.throws(
    () => decodeHeader(over),
    (e) => e instanceof LevinError && e.code === "payload_too_big",
  );
  assert.equal(
    decodeHeader(over, { maxPayloadSize: MAX_PAYLOAD_SIZE + 1 }).payloadSize,
    MAX_PAYLOAD_SIZE + 1,
  );
  const huge = unhex(HANDSHAKE_HEADER);
  huge.fill(0xff, 8, 16);
  assert.throws(
    () => decodeHeader(huge, { maxPayloadSize: Number.MAX_SAFE_INTEGER }),
    (e) => e instanceof LevinError && e.code === "payload_too_big",
  );
});

Deno.test("encodeHeader() refuses out-of-range fields; decoders refuse wrong types", () => {
  assert.throws(() => encodeHeader({ ...header, command: -1 }), RangeError);
  assert.throws(
    () => encodeHeader({ ...header, command: 2 ** 32 }),
    RangeError,
  );
  assert.throws(
    () => encodeHeader({ ...header, returnCode: 2 ** 31 }),
    RangeError,
  );
  assert.throws(
    () => encodeHeader({ ...header, payloadSize: 1.5 }),
    RangeError,
  );
  assert.throws(() => decodeHeader("x" as unknown as Uint8Array), TypeError);
  assert.throws(
    () => decodeHeader(new Uint8Array(33), { maxPayloadSize: -1 }),
    RangeError,
  );
});

Deno.test("encodeFrame() prefixes the payload with a matching header", () => {
  const f = encodeFrame({ command: 1003, expectResponse: true }, unhex("0102"));
  assert.equal(f.length, 35);
  assert.deepEqual(decodeHeader(f), {
    payloadSize: 2,
    expectResponse: true,
    command: 1003,
    returnCode: 0,
    flags: FLAG_REQUEST,
    protocolVersion: 1,
  });
  assert.deepEqual(f.subarray(33), unhex("0102"));
});

Deno.test("classifyFrame() follows monerod's order", () => {
  const base = { ...header, expectResponse: false };
  assert.equal(classifyFrame({ ...base, flags: FLAG_RESPONSE }), "response");
  assert.equal(
    classifyFrame({ ...base, flags: FLAG_RESPONSE, protocolVersion: 0 }),
    "notification",
  );
  assert.equal(
    classifyFrame({
      ...base,
      flags: FLAG_RESPONSE,
      protocolVersion: 0,
      expectResponse: true,
    }),
    "request",
  );
  assert.equal(
    classifyFrame({ ...base, flags: FLAG_REQUEST | FLAG_RESPONSE }),
    "response",
  );
  assert.equal(classifyFrame({ ...base, flags: 0 }), "fragment");
  assert.equal(classifyFrame({ ...base, flags: FLAG_BEGIN }), "fragment");
  assert.equal(classifyFrame({ ...base, flags: FLAG_END }), "fragment");
  assert.equal(
    classifyFrame({ ...base, flags: FLAG_BEGIN | FLAG_END }),
    "noise",
  );
  assert.equal(
    classifyFrame({ ...base, flags: FLAG_REQUEST | 0x100 }),
    "notification",
  );
});

Deno.test("decodeHeader() on arbitrary bytes yields a header or a typed LevinError (fuzz)", () => {
  const sig = unhex("0121010101010101");
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ maxLength: 40 }),
      (withSig, tail) => {
        const bytes = withSig ? new Uint8Array([...sig, ...tail]) : tail;
        try {
          const h = decodeHeader(bytes);
          assert.ok(h.payloadSize <= MAX_PAYLOAD_SIZE);
          assert.deepEqual(decodeHeader(encodeHeader(h)), h);
        } catch (e) {
          assert.ok(e instanceof LevinError);
          assert.ok(
            ["bad_signature", "header_truncated", "payload_too_big"].includes(
              e.code,
            ),
          );
        }
      },
    ),
    { numRuns: 3000 },
  );
});
