import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync, zstdCompressSync } from "node:zlib";
import fc from "fast-check";
import { toHex } from "../_base64.ts";
import { atOddOffset, fromHex, readSidecar, readVector } from "./_test_util.ts";
import { BorgError } from "./errors.ts";
import { ChaChaPolySigil } from "./sigil.ts";
import {
  smsgDecrypt,
  smsgDeriveKey,
  smsgEncrypt,
  SmsgKey,
  type SmsgMessage,
  smsgOpenBody,
  smsgReadHeader,
  smsgSealBody,
} from "./smsg.ts";
import { trixDecode, trixEncode } from "./trix.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const utf8 = new TextEncoder();

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BorgError, `expected BorgError, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

Deno.test("smsgOpenBody() opens the go-p2p disconnect frame", () => {
  const side: Json = readSidecar("smsg/p2p-disconnect.smsg.json");
  const bytes = readVector("smsg/p2p-disconnect.smsg");
  assert.equal(sha256(bytes), side.file_sha256);
  const key = SmsgKey.fromPassword(side.password);
  assert.equal(smsgOpenBody(bytes, key), side.p2p_message_json);
  assert.equal(smsgOpenBody(atOddOffset(bytes), key), side.p2p_message_json);
  assert.equal(toHex(smsgDeriveKey(side.password)), side.key_hex);
});

Deno.test("smsgSealBody() rebuilds the go-p2p frame byte for byte", () => {
  const side: Json = readSidecar("smsg/p2p-disconnect.smsg.json");
  const bytes = readVector("smsg/p2p-disconnect.smsg");
  const key = SmsgKey.fromPassword(side.password);
  const plain = JSON.parse(side.smsg_plaintext_json);
  const frame = smsgSealBody(side.p2p_message_json, key, {
    nonce: fromHex(side.nonce_hex),
    timestamp: plain.timestamp,
  });
  assert.deepEqual(frame, bytes);
  // The general API gives the same bytes.
  const general = smsgEncrypt({ body: side.p2p_message_json }, side.password, {
    nonce: fromHex(side.nonce_hex),
    timestamp: plain.timestamp,
  });
  assert.deepEqual(general, bytes);
  assert.equal(frame.length, 97 + side.smsg_plaintext_json.length);
});

Deno.test("smsgSealBody() uses a fresh nonce and the current time", () => {
  const key = SmsgKey.fromPassword("pw");
  const before = Math.floor(Date.now() / 1000);
  const a = smsgSealBody("x", key);
  const b = smsgSealBody("x", key);
  assert.notDeepEqual(a.subarray(57, 81), b.subarray(57, 81));
  const ts = smsgDecrypt(a, key).timestamp!;
  assert.ok(ts >= before && ts <= before + 2);
});

Deno.test("smsgSealBody() refuses an empty body", () => {
  assert.throws(() => smsgSealBody("", SmsgKey.fromPassword("pw")), RangeError);
});

Deno.test("SmsgKey.fromPassword() refuses an empty password", () => {
  assert.throws(() => SmsgKey.fromPassword(""), RangeError);
  assert.throws(() => smsgDecrypt(new Uint8Array(100), ""), RangeError);
  assert.throws(() => smsgEncrypt({ body: "x" }, ""), RangeError);
});

Deno.test("SmsgKey uses an injected nonce source", () => {
  const key = SmsgKey.fromPassword("pw", { random: (b) => b.fill(0x42) });
  const frame = smsgSealBody("x", key, { timestamp: 1 });
  assert.deepEqual(frame.subarray(57, 81), new Uint8Array(24).fill(0x42));
});

Deno.test("smsgEncrypt() rebuilds smsg-v1-full byte for byte", () => {
  const side: Json = readSidecar("smsg/smsg-v1-full.smsg.json");
  const bytes = readVector("smsg/smsg-v1-full.smsg");
  const msg = smsgDecrypt(atOddOffset(bytes), side.password);
  const p = JSON.parse(side.smsg_plaintext_json);
  assert.deepEqual(msg, {
    subject: p.subject,
    body: p.body,
    attachments: p.attachments,
    replyKey: {
      publicKey: p.reply_key.public_key,
      algorithm: p.reply_key.algorithm,
    },
    from: p.from,
    timestamp: p.timestamp,
    meta: p.meta,
  });
  const content = msg.attachments![0]!.content!;
  assert.equal(
    new TextDecoder().decode(fromBase64(content)),
    side.expected_attachment.decoded_content_utf8,
  );
  assert.equal(smsgReadHeader(bytes).hint, "the usual");
  const again = smsgEncrypt(msg, side.password, {
    nonce: fromHex(side.nonce_hex),
    hint: "the usual",
  });
  assert.deepEqual(again, bytes);
});

function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function checkV2(msg: SmsgMessage, side: Json): void {
  assert.equal(msg.body, side.expected.body);
  assert.equal(msg.timestamp, side.expected.timestamp);
  const atts = msg.attachments!;
  assert.equal(atts.length, 2);
  for (let i = 0; i < 2; i++) {
    const want = side.expected.attachments[i];
    const got = atts[i]!;
    assert.equal(got.name, want.name);
    assert.equal(got.mime, want.mime);
    assert.equal(got.size, want.size);
    const data = fromBase64(got.content!);
    if (want.hex) assert.equal(toHex(data), want.hex);
    else assert.equal(new TextDecoder().decode(data), want.utf8);
  }
}

for (const name of ["smsg-v2-none", "smsg-v2-gzip", "smsg-v2-zstd"]) {
  Deno.test(`smsgDecrypt() decodes ${name}`, () => {
    const side: Json = readSidecar(`smsg/${name}.smsg.json`);
    const bytes = readVector(`smsg/${name}.smsg`);
    assert.equal(sha256(bytes), side.file_sha256);
    checkV2(smsgDecrypt(atOddOffset(bytes), side.password), side);
    const header = smsgReadHeader(bytes);
    assert.equal(header.format, "v2");
    assert.equal(header.manifest?.artist, "Artist & Co <x>");
    // Re-sealing the decrypted payload with the recorded nonce is exact.
    const c = trixDecode(bytes, "SMSG");
    const sigil = new ChaChaPolySigil(fromHex(side.key_hex));
    const plain = sigil.open(c.payload);
    const again = trixEncode({
      magic: "SMSG",
      header: c.header,
      payload: sigil.seal(plain, { nonce: fromHex(side.nonce_hex) }),
    });
    assert.deepEqual(again, bytes);
  });
}

Deno.test("smsgEncrypt() rebuilds smsg-v2-none from message and attachments", () => {
  const side: Json = readSidecar("smsg/smsg-v2-none.smsg.json");
  const bytes = readVector("smsg/smsg-v2-none.smsg");
  const msg = smsgDecrypt(bytes, side.password);
  const header = smsgReadHeader(bytes);
  const again = smsgEncrypt(msg, side.password, {
    nonce: fromHex(side.nonce_hex),
    format: "v2",
    compression: "none",
    manifest: header.manifest!,
  });
  assert.deepEqual(again, bytes);
});

Deno.test("smsgEncrypt() v2 round trips with gzip and zstd", () => {
  const msg: SmsgMessage = {
    body: "b",
    attachments: [
      { name: "x", content: "AAECAw==" },
      { name: "empty" },
      { name: "y", content: "/w==", mime: "m" },
    ],
    timestamp: 7,
  };
  for (const compression of ["gzip", "zstd", "none"] as const) {
    const out = smsgDecrypt(
      smsgEncrypt(msg, "pw", { format: "v2", compression }),
      "pw",
    );
    assert.deepEqual(out.attachments, [
      { name: "x", content: "AAECAw==", size: 4 },
      { name: "empty" },
      { name: "y", content: "/w==", mime: "m", size: 1 },
    ]);
    assert.equal(
      smsgReadHeader(smsgEncrypt(msg, "pw", { format: "v2", compression }))
        .compression,
      compression === "none" ? undefined : compression,
    );
  }
});

Deno.test("smsgDecrypt() opens the real 1 MB demo file", () => {
  const side: Json = readSidecar("smsg/demo-sample.smsg.json");
  const bytes = readVector("smsg/demo-sample.smsg");
  assert.equal(sha256(bytes), side.file_sha256);
  const msg = smsgDecrypt(bytes, side.password);
  assert.equal(msg.subject, side.message.subject);
  assert.equal(msg.body, side.message.body);
  assert.equal(msg.from, side.message.from);
  assert.equal(msg.timestamp, side.message.timestamp);
  const att = msg.attachments![0]!;
  assert.equal(att.name, side.attachments[0].name);
  assert.equal(att.size, side.attachments[0].size);
  assert.equal(sha256(fromBase64(att.content!)), side.attachments[0].sha256);
  // Re-seal the decrypted (still compressed) payload with the recorded nonce.
  const c = trixDecode(bytes, "SMSG");
  const sigil = new ChaChaPolySigil(fromHex(side.key_hex));
  const plain = sigil.open(c.payload);
  assert.equal(sha256(plain), side.decrypted.sha256);
  const again = trixEncode({
    magic: "SMSG",
    header: c.header,
    payload: sigil.seal(plain, { nonce: fromHex(side.nonce_hex) }),
  });
  assert.deepEqual(again, bytes);
  // A cap below the decompressed size is a typed error.
  expectCode(
    () =>
      smsgDecrypt(bytes, side.password, { maxDecompressedBytes: 1_000_000 }),
    "decompressed_too_large",
  );
});

Deno.test("smsgDecrypt() rejects a wrong password", () => {
  const side: Json = readSidecar("smsg/p2p-disconnect.smsg.json");
  const bytes = readVector("smsg/p2p-disconnect.smsg");
  expectCode(
    () => smsgDecrypt(bytes, side.password + "x"),
    "decryption_failed",
  );
});

Deno.test("smsgDecrypt() rejects every flipped ciphertext, nonce and tag byte", () => {
  const side: Json = readSidecar("smsg/p2p-disconnect.smsg.json");
  const bytes = readVector("smsg/p2p-disconnect.smsg");
  const key = SmsgKey.fromPassword(side.password);
  for (let i = 57; i < bytes.length; i++) {
    const t = bytes.slice();
    t[i]! ^= 0x01;
    expectCode(() => smsgOpenBody(t, key), "decryption_failed");
  }
});

Deno.test("smsgDecrypt() rejects every truncation", () => {
  const side: Json = readSidecar("smsg/p2p-disconnect.smsg.json");
  const bytes = readVector("smsg/p2p-disconnect.smsg");
  const key = SmsgKey.fromPassword(side.password);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(
      () => smsgOpenBody(bytes.subarray(0, n), key),
      (e: unknown) => {
        assert.ok(e instanceof BorgError);
        const want = n < 57
          ? ["truncated", "invalid_header"]
          : n < 97
          ? ["ciphertext_too_short"]
          : ["decryption_failed"];
        assert.ok(want.includes(e.code), `length ${n}: ${e.code}`);
        return true;
      },
    );
  }
});

Deno.test("smsgDecrypt() treats the header as Go does", () => {
  const side: Json = readSidecar("smsg/p2p-disconnect.smsg.json");
  const bytes = readVector("smsg/p2p-disconnect.smsg");
  const c = trixDecode(bytes, "SMSG");
  const payload = c.payload.slice();
  const reheader = (header: Record<string, unknown>) =>
    trixEncode({ magic: "SMSG", header, payload });
  // The header is not authenticated: a changed version still decrypts.
  assert.equal(
    smsgDecrypt(reheader({ version: "9", junk: [1] }), side.password).body,
    side.p2p_message_json,
  );
  // Non-string format/compression are ignored.
  assert.equal(
    smsgDecrypt(reheader({ format: 2, compression: true }), side.password).body,
    side.p2p_message_json,
  );
  // A forged format selects the v2 parser, which fails on v1 JSON.
  expectCode(
    () => smsgDecrypt(reheader({ format: "v2" }), side.password),
    "invalid_payload",
  );
  expectCode(
    () => smsgDecrypt(reheader({ compression: "gzip" }), side.password),
    "decompression_failed",
  );
  expectCode(
    () => smsgDecrypt(reheader({ compression: "zstd" }), side.password),
    "decompression_failed",
  );
  // Tampered preamble.
  const t = bytes.slice();
  t[0] = 0x58;
  expectCode(() => smsgDecrypt(t, side.password), "invalid_magic");
  const v = bytes.slice();
  v[4] = 1;
  expectCode(() => smsgDecrypt(v, side.password), "invalid_version");
  const l = bytes.slice();
  l[8] = 0x31;
  expectCode(() => smsgDecrypt(l, side.password), "invalid_header");
  const big = bytes.slice();
  big[5] = 0x7f;
  expectCode(() => smsgDecrypt(big, side.password), "header_too_large");
});

function sealRaw(
  plain: Uint8Array,
  header: Record<string, unknown>,
): Uint8Array {
  const sigil = new ChaChaPolySigil(smsgDeriveKey("pw"));
  return trixEncode({ magic: "SMSG", header, payload: sigil.seal(plain) });
}

Deno.test("smsgDecrypt() rejects malformed v1 and v2 plaintexts", () => {
  const bad = [
    "not json",
    "[1]",
    '"s"',
    '{"body":5}',
    '{"timestamp":1.5}',
    '{"attachments":{}}',
    '{"attachments":[{"size":"1"}]}',
    '{"meta":{"a":1}}',
    '{"reply_key":[]}',
  ];
  for (const text of bad) {
    expectCode(
      () => smsgDecrypt(sealRaw(utf8.encode(text), {}), "pw"),
      "invalid_message",
    );
  }
  // Go's decoder: null leaves the zero value; keys match case-insensitively.
  assert.deepEqual(smsgDecrypt(sealRaw(utf8.encode("null"), {}), "pw"), {
    body: "",
  });
  assert.deepEqual(
    smsgDecrypt(
      sealRaw(utf8.encode('{"BODY":"b","Subject":null,"x":1}'), {}),
      "pw",
    ),
    { body: "b" },
  );
  const v2 = { format: "v2" };
  expectCode(
    () => smsgDecrypt(sealRaw(new Uint8Array(3), v2), "pw"),
    "invalid_payload",
  );
  expectCode(
    () =>
      smsgDecrypt(sealRaw(new Uint8Array([0, 0, 0, 9, 0x7b, 0x7d]), v2), "pw"),
    "invalid_payload",
  );
  const json = utf8.encode(
    '{"body":"b","attachments":[{"name":"a","size":5}]}',
  );
  const p = new Uint8Array(4 + json.length + 4);
  new DataView(p.buffer).setUint32(0, json.length);
  p.set(json, 4);
  expectCode(() => smsgDecrypt(sealRaw(p, v2), "pw"), "invalid_payload");
  // One more byte and it parses; trailing bytes are ignored.
  const ok = new Uint8Array(p.length + 3);
  ok.set(p);
  assert.equal(
    smsgDecrypt(sealRaw(ok, v2), "pw").attachments![0]!.content,
    "AAAAAAA=",
  );
});

Deno.test("smsgDecrypt() stops decompression bombs", () => {
  const bomb = new Uint8Array(8 * 1024 * 1024);
  for (
    const [kind, data] of [["gzip", gzipSync(bomb)], [
      "zstd",
      zstdCompressSync(bomb),
    ]] as const
  ) {
    expectCode(
      () =>
        smsgDecrypt(sealRaw(data, { format: "v2", compression: kind }), "pw", {
          maxDecompressedBytes: 1024 * 1024,
        }),
      "decompressed_too_large",
    );
  }
});

Deno.test("smsgDecrypt() fuzz: random bytes and mutations end in BorgError", () => {
  const key = SmsgKey.fromPassword("pw");
  const good = smsgEncrypt({ body: "hello", timestamp: 3 }, key, {
    format: "v2",
  });
  const headerLen = new DataView(good.buffer).getUint32(5);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        smsgDecrypt(bytes, key);
      } catch (e) {
        return e instanceof BorgError;
      }
      return false;
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: good.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      (i, x) => {
        const t = good.slice();
        t[i]! ^= x;
        try {
          const m = smsgDecrypt(t, key);
          // Only header edits that keep format/compression may pass.
          return m.body === "hello" && i >= 9 && i < 9 + headerLen;
        } catch (e) {
          return e instanceof BorgError;
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("smsgEncrypt() and smsgDecrypt() round trip arbitrary messages", () => {
  const key = SmsgKey.fromPassword("pw");
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme", minLength: 1 }),
      fc.option(fc.string(), { nil: undefined }),
      fc.dictionary(fc.string(), fc.string()),
      fc.integer({ min: 1, max: 2 ** 40 }),
      (body, subject, meta, timestamp) => {
        const msg: SmsgMessage = { body, timestamp };
        if (subject) msg.subject = subject;
        if (Object.keys(meta).length > 0) msg.meta = { ...meta };
        const out = smsgDecrypt(smsgEncrypt(msg, key), key);
        assert.deepEqual(out, msg);
        assert.equal(smsgOpenBody(smsgSealBody(body, key), key), body);
      },
    ),
    { numRuns: 200 },
  );
});

/** A v1 frame (go-p2p's fixed header) around an arbitrary plaintext. */
function v1Frame(key: SmsgKey, plain: Uint8Array): Uint8Array {
  const header = utf8.encode(
    '{"algorithm":"chacha20poly1305","version":"1.0"}',
  );
  const sealed = key.sigil.seal(plain, { headroom: 9 + header.length });
  sealed.set(utf8.encode("SMSG"), 0);
  sealed[4] = 2;
  new DataView(sealed.buffer).setUint32(5, header.length, false);
  sealed.set(header, 9);
  return sealed;
}

/** smsgOpenBody (fast path) and the general smsgDecrypt agree, result or error code. */
function assertSameAsGeneral(key: SmsgKey, frame: Uint8Array): void {
  let general: { body?: string; code?: string };
  try {
    general = { body: smsgDecrypt(frame, key).body };
  } catch (e) {
    assert.ok(e instanceof BorgError);
    general = { code: e.code };
  }
  let fast: { body?: string; code?: string };
  try {
    fast = { body: smsgOpenBody(frame, key) };
  } catch (e) {
    assert.ok(e instanceof BorgError, `expected BorgError, got ${e}`);
    fast = { code: e.code };
  }
  assert.deepEqual(fast, general);
}

Deno.test("smsgOpenBody() fast path agrees with the general parser on near-miss shapes", () => {
  const key = SmsgKey.fromPassword("pw");
  const cases = [
    '{"body":"hi","timestamp":5}',
    '{"body":"","timestamp":5}',
    '{"body":"a\\"b\\\\","timestamp":1700000000}',
    '{"body":"\\u003cx\\u003e \\ud83d\\ude00 \\ud800","timestamp":0}',
    '{"body":"hi","timestamp":05}',
    '{"body":"hi","timestamp":-5}',
    '{"body":"hi","timestamp":1.5}',
    '{"body":"hi","timestamp":1e3}',
    '{"body":"hi","timestamp":}',
    '{"body":"hi","timestamp":123456789012345}',
    '{"body":"hi","timestamp":1234567890123456789012}',
    '{"body":"hi" ,"timestamp":5}',
    '{"body":"hi","timestamp":5} ',
    '{"body":"h"i","timestamp":5}',
    '{"body":"hi\\","timestamp":5}',
    '{"body":"a","timestamp":1,"body":"b","timestamp":5}',
    '{"body":"a","x":"","timestamp":5}',
    '{"body":"a\\",\\"timestamp\\":5}',
    '{"body":"\u0001","timestamp":5}',
    '{"body":"\\x","timestamp":5}',
    '{"BODY":"hi","timestamp":5}',
    '{"body":"hi"}',
    '{"body":"hi","timestamp":5}}',
    '{"body":"","timestamp":5',
    '{"body":"',
    "",
  ];
  for (const c of cases) assertSameAsGeneral(key, v1Frame(key, utf8.encode(c)));
  // Invalid UTF-8 inside the string is replaced the same way.
  const bad = utf8.encode('{"body":"xx","timestamp":5}');
  bad[10] = 0xff;
  assertSameAsGeneral(key, v1Frame(key, bad));
});

Deno.test("smsgOpenBody() fast path fuzz: agrees with smsgDecrypt", () => {
  const key = SmsgKey.fromPassword("pw");
  const pieces = [
    '{"body":',
    '"',
    "\\",
    '\\"',
    ',"timestamp":',
    "}",
    "0",
    "7",
    "-",
    " ",
    "a",
    "<",
    "\\u003c",
    "\u00e9",
    "{",
    ",",
  ];
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme" }),
      fc.nat({ max: 2 ** 53 - 1 }),
      (body, ts) => {
        const text = '{"body":' + JSON.stringify(body) + ',"timestamp":' + ts +
          "}";
        assertSameAsGeneral(key, v1Frame(key, utf8.encode(text)));
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...pieces), { maxLength: 12 }),
      (parts) =>
        assertSameAsGeneral(
          key,
          v1Frame(key, utf8.encode('{"body":"' + parts.join(""))),
        ),
    ),
    { numRuns: 500 },
  );
  const good = utf8.encode('{"body":"a\\"b","timestamp":42}');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: good.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      (i, x) => {
        const t = good.slice();
        t[i]! ^= x;
        assertSameAsGeneral(key, v1Frame(key, t));
      },
    ),
    { numRuns: 500 },
  );
});
