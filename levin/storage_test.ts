import assert from "node:assert/strict";
import fc from "fast-check";
import { LevinError } from "./errors.ts";
import {
  convertInteger,
  decodeStorage,
  decodeStorageDocument,
  encodeStorage,
  expectArray,
  expectScalar,
  type Section,
  storageArray,
  storageScalar,
  storageSection,
  type StorageType,
  type StorageValue,
} from "./storage.ts";

const HEAD = [0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01];
const EMPTY = new Uint8Array([...HEAD, 0x00]);

function doc(...body: number[]): Uint8Array<ArrayBuffer> {
  return new Uint8Array([...HEAD, ...body]);
}
function name(s: string): number[] {
  return [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
}
function code(c: string): (e: unknown) => boolean {
  return (e) => e instanceof LevinError && e.code === c;
}

function everyType(): Section {
  return storageSection({
    i64: storageScalar("int64", -(1n << 63n)),
    i32: storageScalar("int32", -(2 ** 31)),
    i16: storageScalar("int16", -32768),
    i8: storageScalar("int8", -128),
    u64: storageScalar("uint64", (1n << 64n) - 1n),
    u32: storageScalar("uint32", 2 ** 32 - 1),
    u16: storageScalar("uint16", 65535),
    u8: storageScalar("uint8", 255),
    d: storageScalar("double", Math.PI),
    s: storageScalar("string", new Uint8Array([0, 1, 255])),
    b: storageScalar("bool", true),
    o: storageScalar(
      "object",
      storageSection({ x: storageScalar("uint8", 1) }),
    ),
    ai64: storageArray("int64", [-1n, 2n]),
    ai32: storageArray("int32", [-1, 2]),
    ai16: storageArray("int16", [-1, 2]),
    ai8: storageArray("int8", [-1, 2]),
    au64: storageArray("uint64", [1n, 2n]),
    au32: storageArray("uint32", [1, 2]),
    au16: storageArray("uint16", [1, 2]),
    au8: storageArray("uint8", [1, 2]),
    ad: storageArray("double", [0.5, -0]),
    as: storageArray("string", [new Uint8Array([97]), new Uint8Array()]),
    ab: storageArray("bool", [true, false]),
    ao: storageArray("object", [
      new Map(),
      storageSection({ k: storageScalar("bool", false) }),
    ]),
    empty: storageArray("uint32", []),
  });
}

Deno.test("encodeStorage() writes the empty document as the 10-byte ping payload", () => {
  assert.deepEqual(encodeStorage(new Map()), EMPTY);
  assert.equal(decodeStorage(EMPTY).size, 0);
});

Deno.test("every scalar and typed array round-trips byte for byte", () => {
  const bytes = encodeStorage(everyType());
  const back = decodeStorageDocument(bytes);
  assert.equal(back.canonical, true);
  assert.equal(back.trailingBytes, 0);
  assert.deepEqual(encodeStorage(back.root), bytes);
  assert.deepEqual(back.root.get("u64"), {
    type: "uint64",
    value: (1n << 64n) - 1n,
  });
  assert.deepEqual(back.root.get("ab"), {
    type: "array",
    of: "bool",
    value: [true, false],
  });
  assert.ok(Object.is(expectArray(back.root.get("ad"), "double")[1], -0));
});

Deno.test("encodeStorage() sorts names byte-wise, shorter prefix first", () => {
  const s = storageSection([
    ["b", storageScalar("uint8", 1)],
    ["ab", storageScalar("uint8", 2)],
    ["a", storageScalar("uint8", 3)],
    ["\u00ff", storageScalar("uint8", 4)],
    ["B", storageScalar("uint8", 5)],
  ]);
  const root = decodeStorage(encodeStorage(s));
  assert.deepEqual([...root.keys()], ["B", "a", "ab", "b", "\u00ff"]);
});

Deno.test("names such as __proto__ are ordinary Map keys", () => {
  const s = storageSection([
    ["__proto__", storageScalar("uint8", 1)],
    ["constructor", storageScalar("uint8", 2)],
    ["prototype", storageScalar("uint8", 3)],
  ]);
  const root = decodeStorage(encodeStorage(s));
  assert.deepEqual(root.get("__proto__"), { type: "uint8", value: 1 });
  assert.equal(Object.getPrototypeOf(root), Map.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("decodeStorage() reports every truncation as storage_truncated", () => {
  const bytes = encodeStorage(everyType());
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(
      () => decodeStorage(bytes.subarray(0, n)),
      (e) =>
        e instanceof LevinError && e.code === "storage_truncated" &&
        e.needMoreBytes,
      `length ${n}`,
    );
  }
});

Deno.test("decodeStorage() rejects what monerod rejects", () => {
  assert.throws(
    () => decodeStorage(doc(0x04, 0x00, 0x08, 0x01)),
    code("storage_name_too_long"),
  );
  assert.throws(
    () =>
      decodeStorage(doc(0x08, ...name("a"), 0x08, 1, ...name("a"), 0x08, 2)),
    code("storage_duplicate_name"),
  );
  assert.throws(
    () => decodeStorage(doc(0x04, ...name("b"), 0x0b, 0x02)),
    code("storage_bad_bool"),
  );
  for (const tag of [0, 14, 127, 0x80, 0x8d, 0xff]) {
    assert.throws(
      () => decodeStorage(doc(0x04, ...name("a"), tag, 0, 0, 0)),
      code("storage_unknown_type"),
    );
  }
  // tag 13 must be followed by a flagged tag
  assert.throws(
    () => decodeStorage(doc(0x04, ...name("a"), 0x0d, 0x05, 0)),
    code("storage_unknown_type"),
  );
  assert.throws(
    () => decodeStorage(new Uint8Array([...HEAD.slice(0, 8), 2, 0])),
    code("storage_bad_version"),
  );
  assert.throws(
    () => decodeStorage(new Uint8Array([0x01, 0x11, 0x02])),
    code("storage_bad_signature"),
  );
  assert.throws(
    () => decodeStorage(new Uint8Array(HEAD)),
    code("storage_truncated"),
  );
  assert.throws(
    () => decodeStorage(new Uint8Array()),
    code("storage_truncated"),
  );
  assert.throws(
    () => decodeStorage([1, 2] as unknown as Uint8Array),
    TypeError,
  );
});

Deno.test("decodeStorage() checks counts against the input before allocating", () => {
  // uint64 array claiming 2^62-1 elements, a string claiming 2^30, a section claiming 2^40 entries
  const huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const t0 = performance.now();
  assert.throws(
    () => decodeStorage(doc(0x04, ...name("a"), 0x85, ...huge)),
    code("storage_truncated"),
  );
  assert.throws(
    () => decodeStorage(doc(0x04, ...name("a"), 0x8c, 0xfe, 0xff, 0xff, 0xff)),
    code("storage_truncated"),
  );
  assert.throws(
    () =>
      decodeStorage(doc(0x04, ...name("a"), 0x0a, 0xfe, 0xff, 0xff, 0x00, 1)),
    code("storage_truncated"),
  );
  assert.throws(
    () => decodeStorage(doc(0x04, ...name("a"), 0x0a, ...huge)),
    code("storage_limit_exceeded"),
  );
  assert.throws(
    () => decodeStorage(doc(0x03, 0, 0, 0, 0x10, 0, 0, 0)),
    code("storage_limit_exceeded"),
  );
  assert.ok(performance.now() - t0 < 1000);
});

Deno.test("decodeStorage() enforces the object, field, string and depth caps", () => {
  const objs = storageSection({
    a: storageArray("object", [new Map(), new Map(), new Map()]),
  });
  assert.equal(decodeStorage(encodeStorage(objs), { maxObjects: 3 }).size, 1);
  assert.throws(
    () => decodeStorage(encodeStorage(objs), { maxObjects: 2 }),
    code("storage_limit_exceeded"),
  );
  const strs = storageSection({
    a: storageArray("string", [new Uint8Array(), new Uint8Array()]),
    b: storageScalar("string", new Uint8Array()),
  });
  assert.equal(decodeStorage(encodeStorage(strs), { maxStrings: 3 }).size, 2);
  assert.throws(
    () => decodeStorage(encodeStorage(strs), { maxStrings: 2 }),
    code("storage_limit_exceeded"),
  );
  assert.equal(decodeStorage(encodeStorage(strs), { maxFields: 2 }).size, 2);
  assert.throws(
    () => decodeStorage(encodeStorage(strs), { maxFields: 1 }),
    code("storage_limit_exceeded"),
  );
  let nested: Section = storageSection({ leaf: storageScalar("uint8", 1) });
  for (let i = 0; i < 31; i++) {
    nested = storageSection({ o: storageScalar("object", nested) });
  }
  const deep = encodeStorage(nested);
  assert.equal(decodeStorage(deep).size, 1);
  assert.throws(
    () => decodeStorage(deep, { maxDepth: 30 }),
    code("storage_limit_exceeded"),
  );
  assert.throws(
    () => encodeStorage(storageSection({ o: storageScalar("object", nested) })),
    code("storage_limit_exceeded"),
  );
  assert.throws(() => decodeStorage(deep, { maxDepth: 1001 }), RangeError);
  assert.throws(() => decodeStorage(deep, { maxObjects: -1 }), RangeError);
});

Deno.test("hostile nesting cannot exhaust the stack", () => {
  // 100 000 levels of one-entry objects: stops at the depth cap.
  const level = [0x04, ...name("o"), 0x0c];
  const bytes = new Uint8Array(HEAD.length + level.length * 100_000 + 1);
  bytes.set(HEAD);
  for (let i = 0; i < 100_000; i++) {
    bytes.set(level, HEAD.length + i * level.length);
  }
  assert.throws(() => decodeStorage(bytes), code("storage_limit_exceeded"));
  assert.throws(
    () => decodeStorage(bytes, { maxDepth: 1000 }),
    code("storage_limit_exceeded"),
  );
});

Deno.test("encodeStorage() refuses values outside their types and cycles", () => {
  const one = (v: StorageValue) => () => encodeStorage(new Map([["a", v]]));
  assert.throws(one({ type: "uint8", value: 256 }), RangeError);
  assert.throws(one({ type: "int8", value: -129 }), RangeError);
  assert.throws(one({ type: "uint32", value: 1.5 }), RangeError);
  assert.throws(one({ type: "uint64", value: -1n }), RangeError);
  assert.throws(one({ type: "int64", value: 1n << 63n }), RangeError);
  assert.throws(
    one({ type: "uint64", value: 1 as unknown as bigint }),
    TypeError,
  );
  assert.throws(
    one({ type: "string", value: "x" as unknown as Uint8Array }),
    TypeError,
  );
  assert.throws(
    one({ type: "bool", value: 1 as unknown as boolean }),
    TypeError,
  );
  assert.throws(one({ type: "nope" } as unknown as StorageValue), TypeError);
  assert.throws(
    one(
      { type: "array", of: "toString", value: [] } as unknown as StorageValue,
    ),
    TypeError,
  );
  assert.throws(
    () => encodeStorage(new Map([["", storageScalar("uint8", 1)]])),
    code("storage_name_too_long"),
  );
  assert.throws(
    () =>
      encodeStorage(new Map([["x".repeat(256), storageScalar("uint8", 1)]])),
    code("storage_name_too_long"),
  );
  assert.equal(
    decodeStorage(
      encodeStorage(new Map([["x".repeat(255), storageScalar("uint8", 1)]])),
    ).size,
    1,
  );
  assert.throws(
    () => encodeStorage(new Map([["\u0100", storageScalar("uint8", 1)]])),
    RangeError,
  );
  const cyclic: Section = new Map();
  cyclic.set("me", { type: "object", value: cyclic });
  assert.throws(() => encodeStorage(cyclic), code("storage_limit_exceeded"));
});

Deno.test("strict and lenient accessors", () => {
  assert.equal(expectScalar(storageScalar("bool", true), "bool"), true);
  assert.throws(
    () => expectScalar(undefined, "bool"),
    code("storage_type_mismatch"),
  );
  assert.throws(
    () => expectArray(storageScalar("uint8", 1), "uint8"),
    code("storage_type_mismatch"),
  );
  assert.equal(
    convertInteger(storageScalar("uint64", 65535n), "uint16"),
    65535,
  );
  assert.equal(convertInteger(storageScalar("int32", -5), "int64"), -5n);
  assert.throws(
    () => convertInteger(storageScalar("uint64", 65536n), "uint16"),
    code("storage_value_out_of_range"),
  );
  assert.throws(
    () => convertInteger(storageScalar("int64", -1n), "uint64"),
    code("storage_value_out_of_range"),
  );
  assert.throws(
    () => convertInteger(storageScalar("double", 1), "uint8"),
    code("storage_type_mismatch"),
  );
  assert.throws(
    () => convertInteger(storageScalar("bool", true), "uint8"),
    code("storage_type_mismatch"),
  );
  assert.throws(
    () => convertInteger(storageArray("uint8", [1]), "uint8"),
    code("storage_type_mismatch"),
  );
});

Deno.test("decoded strings are views into the input", () => {
  const bytes = encodeStorage(
    storageSection({ s: storageScalar("string", new Uint8Array([7, 8])) }),
  );
  const s = expectScalar(decodeStorage(bytes).get("s"), "string");
  assert.equal(s.buffer, bytes.buffer);
});

// ---- property and fuzz tests ----

const TYPES: StorageType[] = [
  "int64",
  "int32",
  "int16",
  "int8",
  "uint64",
  "uint32",
  "uint16",
  "uint8",
  "double",
  "string",
  "bool",
  "object",
];

function element(t: StorageType, depth: number): fc.Arbitrary<unknown> {
  switch (t) {
    case "int64":
      return fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    case "uint64":
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case "int32":
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case "uint32":
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case "int16":
      return fc.integer({ min: -32768, max: 32767 });
    case "uint16":
      return fc.integer({ min: 0, max: 65535 });
    case "int8":
      return fc.integer({ min: -128, max: 127 });
    case "uint8":
      return fc.integer({ min: 0, max: 255 });
    case "double":
      return fc.double({ noNaN: true });
    case "string":
      return fc.uint8Array({ maxLength: 70 });
    case "bool":
      return fc.boolean();
    default:
      return depth > 2 ? fc.constant(new Map()) : section(depth + 1);
  }
}

function value(depth: number): fc.Arbitrary<StorageValue> {
  return fc.constantFrom(...TYPES).chain((t) =>
    fc.oneof(
      element(t, depth).map((v) => ({ type: t, value: v }) as StorageValue),
      fc.array(element(t, depth), { maxLength: 4 }).map((v) =>
        ({ type: "array", of: t, value: v }) as StorageValue
      ),
    )
  );
}

function section(depth: number): fc.Arbitrary<Section> {
  return fc.uniqueArray(
    fc.tuple(
      fc.string({
        minLength: 1,
        maxLength: 8,
        unit: fc.integer({ min: 0, max: 255 }).map((c) =>
          String.fromCharCode(c)
        ),
      }),
      value(depth),
    ),
    { maxLength: 5, selector: (e) => e[0] },
  ).map((entries) => new Map(entries));
}

Deno.test("random documents round-trip byte for byte and are canonical (property)", () => {
  fc.assert(
    fc.property(section(0), (root) => {
      const bytes = encodeStorage(root);
      const back = decodeStorageDocument(bytes);
      assert.equal(back.canonical, true);
      assert.deepEqual(encodeStorage(back.root), bytes);
    }),
    { numRuns: 300 },
  );
});

function checkDecode(bytes: Uint8Array): void {
  let d;
  try {
    d = decodeStorageDocument(bytes, {
      maxObjects: 64,
      maxFields: 128,
      maxStrings: 64,
    });
  } catch (e) {
    assert.ok(e instanceof LevinError, String(e));
    assert.ok(e.code.startsWith("storage_"), e.code);
    return;
  }
  const again = encodeStorage(d.root);
  if (d.canonical) assert.deepEqual(again, bytes);
  else assert.deepEqual(encodeStorage(decodeStorage(again)), again);
}

Deno.test("decodeStorage() on arbitrary bytes yields a value or a typed LevinError (fuzz)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
      checkDecode(new Uint8Array([...HEAD, ...tail]));
      checkDecode(tail);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("decodeStorage() on mutated valid documents yields a value or a typed LevinError (fuzz)", () => {
  const base = encodeStorage(everyType());
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })),
        { minLength: 1, maxLength: 4 },
      ),
      fc.nat(base.length),
      (flips, cut) => {
        const b = base.slice(0, Math.max(cut, 9));
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        checkDecode(b);
      },
    ),
    { numRuns: 5000 },
  );
});
