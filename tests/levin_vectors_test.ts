// Every frame and storage blob captured from monerod (testdata/levin/, see its
// README) decodes to the structure recorded in manifest.json and re-encodes to
// the same bytes; every blob monerod rejected, we reject.
import assert from "node:assert/strict";
import {
  decodeHeader,
  decodeStorage,
  decodeStorageDocument,
  decodeVarint,
  encodeFrame,
  encodeHeader,
  encodeStorage,
  encodeVarint,
  HEADER_SIZE,
  LevinError,
  type Section,
  type StorageType,
  type StorageValue,
} from "@lthn/p2p/levin";
import manifest from "../testdata/levin/manifest.json" with { type: "json" };

const DIR = new URL("../testdata/levin/", import.meta.url);

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function read(file: string): Uint8Array<ArrayBuffer> {
  return Deno.readFileSync(new URL(file, DIR));
}

type Json = unknown;

function toElement(of: StorageType, x: Json): unknown {
  switch (of) {
    case "int64":
    case "uint64":
      return BigInt(x as string);
    case "string":
      return fromHex((x as { hex: string }).hex);
    case "object":
      return toSection(x as Record<string, Json>);
    default:
      return x;
  }
}

function toValue(v: Json): StorageValue {
  const t = v as { type: string; value?: Json; of?: StorageType; hex?: string };
  if (t.type === "array-entry") return toValue(t.value);
  if (t.type === "array") {
    return {
      type: "array",
      of: t.of!,
      value: (t.value as Json[]).map((x) => toElement(t.of!, x)),
    } as StorageValue;
  }
  const type = t.type as StorageType;
  return {
    type,
    value: toElement(type, type === "string" ? t : t.value),
  } as StorageValue;
}

function toSection(obj: Record<string, Json>): Section {
  const out: Section = new Map();
  for (const [k, v] of Object.entries(obj)) out.set(k, toValue(v));
  return out;
}

/** Sections compare as sets of entries: wire order is checked by re-encoding. */
function sorted(section: Section): Section {
  const out: Section = new Map();
  for (const k of [...section.keys()].sort()) {
    const v = section.get(k)!;
    if (v.type === "object") {
      out.set(k, { type: "object", value: sorted(v.value) });
    } else if (v.type === "array" && v.of === "object") {
      out.set(k, { type: "array", of: "object", value: v.value.map(sorted) });
    } else {
      out.set(k, v);
    }
  }
  return out;
}

function plain(section: Section): Section {
  // Turn string views into standalone arrays so deepEqual compares contents.
  const out: Section = new Map();
  for (const [k, v] of sorted(section)) {
    if (v.type === "string") {
      out.set(k, { type: "string", value: v.value.slice() });
    } else if (v.type === "object") {
      out.set(k, { type: "object", value: plain(v.value) });
    } else if (v.type === "array" && v.of === "string") {
      out.set(k, {
        type: "array",
        of: "string",
        value: v.value.map((s) => s.slice()),
      });
    } else if (v.type === "array" && v.of === "object") {
      out.set(k, { type: "array", of: "object", value: v.value.map(plain) });
    } else out.set(k, v);
  }
  return out;
}

Deno.test("levin vectors: every frame decodes to its manifest structure and re-encodes byte for byte", () => {
  assert.equal(manifest.frames.length, 15);
  for (const f of manifest.frames) {
    const bytes = read(f.file);
    assert.equal(bytes.length, f.bytes, f.file);
    const h = decodeHeader(bytes);
    assert.deepEqual(
      {
        payload_size: h.payloadSize,
        expect_response: h.expectResponse ? 1 : 0,
        command: h.command,
        return_code: h.returnCode,
        flags: h.flags,
        protocol_version: h.protocolVersion,
      },
      {
        payload_size: f.header.payload_size,
        expect_response: f.header.expect_response,
        command: f.header.command,
        return_code: f.header.return_code,
        flags: f.header.flags,
        protocol_version: f.header.protocol_version,
      },
      f.file,
    );
    assert.equal(f.header.signature, "0x0101010101012101");
    assert.equal(HEADER_SIZE + h.payloadSize, bytes.length, f.file);
    assert.deepEqual(encodeHeader(h), bytes.subarray(0, HEADER_SIZE), f.file);

    const payload = bytes.subarray(HEADER_SIZE);
    const doc = decodeStorageDocument(payload);
    assert.equal(doc.trailingBytes, f.payload.trailing_bytes, f.file);
    assert.deepEqual(
      plain(doc.root),
      plain(toSection(f.payload.root as Record<string, Json>)),
      f.file,
    );
    assert.equal(doc.canonical, true, f.file);
    const again = encodeFrame(
      {
        command: h.command,
        expectResponse: h.expectResponse,
        returnCode: h.returnCode,
        flags: h.flags,
        protocolVersion: h.protocolVersion,
      },
      encodeStorage(doc.root),
    );
    assert.deepEqual(again, bytes, f.file);
  }
});

/** The canonical form of the four accepted blobs monerod's writer would not produce. */
const CANONICAL_FORMS: Record<string, string> = {
  // keys sorted: a before b
  "storage/unsorted-keys.bin": "011101010101020101080161080201620801",
  // entry count 1 as a 1-byte varint
  "storage/non-minimal-varint.bin": "0111010101010201010401610801",
  // tag 13 + 0x85 written as 0x85
  "storage/bare-array-entry.bin": "0111010101010201010401618504" +
    "0700000000000000",
  // the 16 trailing zero bytes dropped
  "storage/trailing-bytes.bin": "0111010101010201010401610801",
};

Deno.test("levin vectors: every storage blob is accepted or rejected as monerod did", () => {
  assert.equal(manifest.storage.length, 27);
  let accepted = 0;
  let rejected = 0;
  for (const s of manifest.storage) {
    const bytes = read(s.file);
    assert.equal(bytes.length, s.bytes, s.file);
    if (s.hex !== undefined) assert.deepEqual(bytes, fromHex(s.hex), s.file);
    // nest-objarrays-19: the spec lets the port accept it (depth counts section levels).
    const expectAccept = s.monerod_accepts ||
      s.file === "storage/nest-objarrays-19.bin";
    if (!expectAccept) {
      assert.throws(
        () => decodeStorage(bytes),
        (e) => e instanceof LevinError && e.code.startsWith("storage_"),
        s.file,
      );
      rejected++;
      continue;
    }
    const doc = decodeStorageDocument(bytes);
    accepted++;
    if ("decoded" in s && s.decoded !== undefined) {
      const d = s.decoded as {
        root: Record<string, Json>;
        trailing_bytes: number;
      };
      assert.deepEqual(plain(doc.root), plain(toSection(d.root)), s.file);
      assert.equal(doc.trailingBytes, d.trailing_bytes, s.file);
    }
    const canonicalHex = CANONICAL_FORMS[s.file];
    if (canonicalHex === undefined) {
      assert.equal(doc.canonical, true, s.file);
      assert.deepEqual(encodeStorage(doc.root), bytes, s.file);
    } else {
      assert.equal(doc.canonical, false, s.file);
      const canonical = fromHex(canonicalHex);
      assert.deepEqual(encodeStorage(doc.root), canonical, s.file);
      assert.equal(decodeStorageDocument(canonical).canonical, true, s.file);
    }
  }
  assert.equal(accepted, 13);
  assert.equal(rejected, 14);
});

Deno.test("levin vectors: rejected storage blobs fail with the expected codes", () => {
  const expected: Record<string, string> = {
    "storage/monero-duplicate-key.bin": "storage_duplicate_name",
    "storage/array-of-arrays.bin": "storage_unknown_type",
    "storage/bool-2.bin": "storage_bad_bool",
    "storage/empty-name.bin": "storage_name_too_long",
    "storage/unknown-type-0.bin": "storage_unknown_type",
    "storage/unknown-type-14.bin": "storage_unknown_type",
    "storage/array-count-too-big.bin": "storage_truncated",
    "storage/string-too-long.bin": "storage_truncated",
    "storage/string-max-varint.bin": "storage_limit_exceeded",
    "storage/section-count-too-big.bin": "storage_truncated",
    "storage/header-only.bin": "storage_truncated",
    "storage/bad-signature.bin": "storage_bad_signature",
    "storage/bad-version.bin": "storage_bad_version",
    "storage/nest-objects-32.bin": "storage_limit_exceeded",
  };
  for (const [file, code] of Object.entries(expected)) {
    assert.throws(
      () => decodeStorage(read(file)),
      (e) => e instanceof LevinError && e.code === code,
      file,
    );
  }
  // monerod counts reader calls; the port counts section levels (spec §3.5).
  assert.throws(
    () =>
      decodeStorage(read("storage/nest-objarrays-19.bin"), { maxDepth: 18 }),
    (e) => e instanceof LevinError && e.code === "storage_limit_exceeded",
  );
});

Deno.test("levin vectors: the varints encode and decode as recorded", () => {
  for (const v of manifest.varints.canonical) {
    assert.deepEqual(encodeVarint(BigInt(v.value)), fromHex(v.hex), v.value);
    assert.deepEqual(decodeVarint(fromHex(v.hex)), {
      value: BigInt(v.value),
      size: v.hex.length / 2,
    });
  }
  for (const v of manifest.varints.decode_only) {
    assert.equal(decodeVarint(fromHex(v.hex)).value, BigInt(v.value), v.hex);
  }
  for (const v of manifest.varints.unencodable) {
    assert.throws(
      () => encodeVarint(BigInt(v.value)),
      (e) => e instanceof LevinError && e.code === "varint_overflow",
    );
  }
});

Deno.test("levin vectors: frames decode at odd offsets inside a larger buffer", () => {
  for (const f of manifest.frames) {
    const bytes = read(f.file);
    const big = new Uint8Array(bytes.length + 7);
    big.set(bytes, 3);
    const view = big.subarray(3, 3 + bytes.length);
    const h = decodeHeader(view);
    assert.equal(h.command, f.header.command);
    const root = decodeStorage(view.subarray(HEADER_SIZE));
    assert.deepEqual(encodeStorage(root), bytes.subarray(HEADER_SIZE), f.file);
  }
});
