/**
 * Portable storage (epee binary key/value format): the payload encoding of
 * every Levin P2P message.
 *
 * | offset | size | endianness | meaning |
 * |---:|---:|---|---|
 * | 0 | 4 | little | signature A `0x01011101` |
 * | 4 | 4 | little | signature B `0x01020101` |
 * | 8 | 1 | – | format version `1` |
 * | 9 | … | – | root section: varint count, then per entry a name length (u8, 1…255), the name bytes, a type tag (u8) and the value |
 *
 * Type tags: 1 int64, 2 int32, 3 int16, 4 int8, 5 uint64, 6 uint32, 7 uint16,
 * 8 uint8, 9 double, 10 string (varint length + raw bytes), 11 bool, 12 object
 * (nested section); `tag | 0x80` is a typed array (varint count + bare
 * elements); tag 13 is an "array entry" whose next byte is a flagged tag.
 *
 * The value model is tagged with explicit widths (`{ type: "uint32", value: 5 }`),
 * sections are `Map`s keyed by names with one char per byte (so any byte
 * sequence, `__proto__` included, is just a key), and the writer emits
 * entries sorted by name with minimal varints, as Monero's writer does.
 * Re-encoding a canonical document therefore reproduces it byte for byte.
 *
 * Spec: `shared/spec/levin.md` §3.
 *
 * @module
 */

import { LevinError } from "./errors.ts";
import { readVarint, writeVarint } from "./_varint.ts";

/** The eight integer types of portable storage. */
export type IntegerType =
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint64"
  | "uint32"
  | "uint16"
  | "uint8";

/** The twelve element types of portable storage. */
export type StorageType = IntegerType | "double" | "string" | "bool" | "object";

/** The JavaScript representation of each storage type. */
export interface StorageTypeMap {
  /** Two's-complement 64-bit integer. */
  int64: bigint;
  /** 32-bit signed integer. */
  int32: number;
  /** 16-bit signed integer. */
  int16: number;
  /** 8-bit signed integer. */
  int8: number;
  /** 64-bit unsigned integer. */
  uint64: bigint;
  /** 32-bit unsigned integer. */
  uint32: number;
  /** 16-bit unsigned integer. */
  uint16: number;
  /** 8-bit unsigned integer. */
  uint8: number;
  /** IEEE-754 binary64. */
  double: number;
  /** Raw bytes (binary-safe; hashes, keys and blobs are strings). */
  string: Uint8Array;
  /** A boolean (wire byte `00`/`01`). */
  bool: boolean;
  /** A nested section. */
  object: Section;
}

/** A single value of one storage type, e.g. `{ type: "uint32", value: 5 }`. */
export type StorageScalar = {
  [T in StorageType]: { readonly type: T; readonly value: StorageTypeMap[T] };
}[StorageType];

/** A typed array, e.g. `{ type: "array", of: "uint64", value: [1n, 2n] }`. */
export type StorageArray = {
  [T in StorageType]: {
    readonly type: "array";
    readonly of: T;
    readonly value: readonly StorageTypeMap[T][];
  };
}[StorageType];

/** Any value an entry can hold. */
export type StorageValue = StorageScalar | StorageArray;

/**
 * A section (object): entry name → value. Names hold one char per byte
 * (U+0000–U+00FF), so every byte sequence round-trips.
 */
export type Section = Map<string, StorageValue>;

/** Decoder caps, all enforced before allocating. */
export interface StorageLimits {
  /** Nested sections (object values + object-array elements; root not counted). Default 8 192. */
  maxObjects?: number;
  /** Entries over all sections, root included. Default 16 384. */
  maxFields?: number;
  /** String values + string-array elements. Default 16 384. */
  maxStrings?: number;
  /** Section levels below the root (at most 1 000). Default 31, as monerod accepts. */
  maxDepth?: number;
}

/** monerod's decoder caps (spec §3.5). */
export const DEFAULT_STORAGE_LIMITS: Readonly<Required<StorageLimits>> = Object
  .freeze({
    maxObjects: 8192,
    maxFields: 16384,
    maxStrings: 16384,
    maxDepth: 31,
  });

/** Largest depth that may be configured (the decoder recurses per level). */
const DEPTH_CEILING = 1000;
/** monerod refuses strings of this many bytes or more. */
const MAX_STRING_LENGTH = 2_000_000_000;

/** Size of the storage header (two signatures and the version). */
export const STORAGE_HEADER_SIZE = 9;
/** First signature word, `01 11 01 01` on the wire. */
export const STORAGE_SIGNATURE_A = 0x01011101;
/** Second signature word, `01 01 02 01` on the wire. */
export const STORAGE_SIGNATURE_B = 0x01020101;
/** The only storage format version. */
export const STORAGE_FORMAT_VERSION = 1;

const TAG: Readonly<Record<StorageType, number>> = {
  int64: 1,
  int32: 2,
  int16: 3,
  int8: 4,
  uint64: 5,
  uint32: 6,
  uint16: 7,
  uint8: 8,
  double: 9,
  string: 10,
  bool: 11,
  object: 12,
};
const TYPE_BY_TAG: readonly (StorageType | undefined)[] = [
  undefined,
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
/** Smallest encoded element size per tag, for array-count checks. */
const MIN_SIZE = [0, 8, 4, 2, 1, 8, 4, 2, 1, 8, 1, 1, 1];
const TAG_ARRAY_ENTRY = 13;
const ARRAY_FLAG = 0x80;

/** Options for {@linkcode decodeStorage} and {@linkcode decodeStorageDocument}. */
export interface DecodeStorageOptions extends StorageLimits {}

/** A decoded document with what is needed to judge a byte-exact re-encode. */
export interface StorageDocument {
  /** The root section. */
  root: Section;
  /** Bytes after the root section (ignored, as monerod does). */
  trailingBytes: number;
  /**
   * `true` when {@linkcode encodeStorage} of `root` reproduces the input
   * exactly: keys sorted, minimal varints, no bare tag-13 entries, no
   * trailing bytes, no non-standard NaN bits.
   */
  canonical: boolean;
}

function resolveLimits(options: StorageLimits): Required<StorageLimits> {
  const out = { ...DEFAULT_STORAGE_LIMITS };
  for (const key of Object.keys(out) as (keyof StorageLimits)[]) {
    const v = options[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(
        `Cannot decode storage: ${key} must be a non-negative integer, got ${v}`,
      );
    }
    out[key] = v;
  }
  if (out.maxDepth > DEPTH_CEILING) {
    throw new RangeError(
      `Cannot decode storage: maxDepth must be at most ${DEPTH_CEILING}, got ${out.maxDepth}`,
    );
  }
  return out;
}

function minimalVarintSize(v: number): number {
  return v <= 63 ? 1 : v <= 16383 ? 2 : v <= 1073741823 ? 4 : 8;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  objects = 0;
  fields = 0;
  strings = 0;
  canonical = true;
  readonly limits: Required<StorageLimits>;

  constructor(bytes: Uint8Array, pos: number, limits: Required<StorageLimits>) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.limits = limits;
  }

  truncated(what: string, need: number | string): never {
    throw new LevinError(
      "storage_truncated",
      `Cannot decode storage: ${what} needs ${need} bytes, ${
        this.bytes.length - this.pos
      } left`,
      { offset: this.pos },
    );
  }

  limit(what: string, max: number): never {
    throw new LevinError(
      "storage_limit_exceeded",
      `Cannot decode storage: more than ${max} ${what}`,
      { offset: this.pos },
    );
  }

  varint(what: string): number {
    let v: number;
    let next: number;
    try {
      [v, next] = readVarint(this.bytes, this.pos, this.view);
    } catch (e) {
      throw new LevinError(
        "storage_truncated",
        `Cannot decode storage: ${what} is cut short`,
        { offset: this.pos, cause: e },
      );
    }
    if (next - this.pos !== minimalVarintSize(v)) this.canonical = false;
    this.pos = next;
    return v;
  }

  u8(what: string): number {
    if (this.pos >= this.bytes.length) this.truncated(what, 1);
    return this.bytes[this.pos++]!;
  }

  section(depth: number): Section {
    // No allocation depends on `count`: every entry consumes at least three
    // bytes or throws, so the loop is bounded by the input length.
    const count = this.varint("entry count");
    this.fields += count;
    if (this.fields > this.limits.maxFields) {
      this.limit("fields", this.limits.maxFields);
    }
    const out: Section = new Map();
    let prev: string | undefined;
    for (let i = 0; i < count; i++) {
      const nameStart = this.pos;
      const len = this.u8("entry name length");
      if (len === 0) {
        throw new LevinError(
          "storage_name_too_long",
          "Cannot decode storage: entry name is empty",
          { offset: nameStart },
        );
      }
      if (this.pos + len > this.bytes.length) this.truncated("entry name", len);
      const name = latin1(this.bytes, this.pos, this.pos + len);
      this.pos += len;
      if (out.has(name)) {
        throw new LevinError(
          "storage_duplicate_name",
          `Cannot decode storage: duplicate entry name of ${len} bytes`,
          { offset: nameStart },
        );
      }
      if (prev !== undefined && !(prev < name)) this.canonical = false;
      prev = name;
      const tag = this.u8("type tag");
      out.set(name, this.value(tag, depth));
    }
    return out;
  }

  value(tag: number, depth: number): StorageValue {
    if (tag === TAG_ARRAY_ENTRY) {
      const inner = this.u8("array type tag");
      const t = inner & ~ARRAY_FLAG;
      if ((inner & ARRAY_FLAG) === 0 || t < 1 || t > 12) {
        this.unknown(inner);
      }
      this.canonical = false;
      return this.array(t, depth);
    }
    if ((tag & ARRAY_FLAG) !== 0) {
      const t = tag & ~ARRAY_FLAG;
      if (t < 1 || t > 12) this.unknown(tag);
      return this.array(t, depth);
    }
    if (tag < 1 || tag > 12) this.unknown(tag);
    return {
      type: TYPE_BY_TAG[tag]!,
      value: this.element(tag, depth),
    } as StorageValue;
  }

  unknown(tag: number): never {
    throw new LevinError(
      "storage_unknown_type",
      `Cannot decode storage: unknown type tag 0x${
        tag.toString(16).padStart(2, "0")
      }`,
      { offset: this.pos - 1 },
    );
  }

  array(t: number, depth: number): StorageArray {
    const count = this.varint("array count");
    const left = this.bytes.length - this.pos;
    if (count * MIN_SIZE[t]! > left) {
      this.truncated(
        `an array of ${count} elements`,
        "at least " + count * MIN_SIZE[t]!,
      );
    }
    const items = new Array(count);
    for (let i = 0; i < count; i++) items[i] = this.element(t, depth);
    return { type: "array", of: TYPE_BY_TAG[t]!, value: items } as StorageArray;
  }

  element(t: number, depth: number): StorageTypeMap[StorageType] {
    const p = this.pos;
    const need = MIN_SIZE[t]!;
    if (t !== 10 && t !== 12 && p + need > this.bytes.length) {
      this.truncated(TYPE_BY_TAG[t]!, need);
    }
    const v = this.view;
    switch (t) {
      case 1:
        this.pos += 8;
        return v.getBigInt64(p, true);
      case 2:
        this.pos += 4;
        return v.getInt32(p, true);
      case 3:
        this.pos += 2;
        return v.getInt16(p, true);
      case 4:
        this.pos += 1;
        return v.getInt8(p);
      case 5:
        this.pos += 8;
        return v.getBigUint64(p, true);
      case 6:
        this.pos += 4;
        return v.getUint32(p, true);
      case 7:
        this.pos += 2;
        return v.getUint16(p, true);
      case 8:
        this.pos += 1;
        return v.getUint8(p);
      case 9: {
        this.pos += 8;
        const d = v.getFloat64(p, true);
        if (Number.isNaN(d)) this.checkNaN(p, d);
        return d;
      }
      case 10: {
        if (++this.strings > this.limits.maxStrings) {
          this.limit("strings", this.limits.maxStrings);
        }
        const len = this.varint("string length");
        if (len >= MAX_STRING_LENGTH) {
          throw new LevinError(
            "storage_limit_exceeded",
            `Cannot decode storage: string of ${len} bytes exceeds the limit`,
            { offset: p },
          );
        }
        if (this.pos + len > this.bytes.length) this.truncated("string", len);
        const s = this.bytes.subarray(this.pos, this.pos + len);
        this.pos += len;
        return s;
      }
      case 11: {
        this.pos += 1;
        const b = this.bytes[p]!;
        if (b > 1) {
          throw new LevinError(
            "storage_bad_bool",
            `Cannot decode storage: bool byte must be 0x00 or 0x01, got 0x${
              b.toString(16).padStart(2, "0")
            }`,
            { offset: p },
          );
        }
        return b === 1;
      }
      default: {
        if (depth + 1 > this.limits.maxDepth) {
          throw new LevinError(
            "storage_limit_exceeded",
            `Cannot decode storage: nesting deeper than ${this.limits.maxDepth} levels`,
            { offset: p },
          );
        }
        if (++this.objects > this.limits.maxObjects) {
          this.limit("objects", this.limits.maxObjects);
        }
        return this.section(depth + 1);
      }
    }
  }

  checkNaN(p: number, d: number): void {
    const probe = new DataView(new ArrayBuffer(8));
    probe.setFloat64(0, d, true);
    if (probe.getBigUint64(0, true) !== this.view.getBigUint64(p, true)) {
      this.canonical = false;
    }
  }
}

/**
 * Decodes a portable-storage document and reports whether re-encoding it
 * reproduces the input exactly.
 *
 * String values are `subarray` views into `bytes`: `slice()` what you keep
 * if the input buffer will be reused.
 *
 * @param bytes The document.
 * @param options Decoder caps (defaults: monerod's).
 * @returns The root section, the number of trailing bytes and the
 *   canonical flag.
 * @throws {LevinError} `storage_truncated` (more bytes could complete it),
 *   `storage_bad_signature`, `storage_bad_version`, `storage_name_too_long` (empty
 *   name), `storage_duplicate_name`, `storage_bad_bool`, `storage_unknown_type`,
 *   `storage_limit_exceeded`.
 * @throws {TypeError} When `bytes` is not a Uint8Array.
 * @throws {RangeError} When a limit is negative or `maxDepth` exceeds 1 000.
 *
 * @example Unsorted keys decode but are not canonical
 * ```ts
 * import { decodeStorageDocument } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const doc = decodeStorageDocument(new Uint8Array([
 *   0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01,
 *   0x08, 0x01, 0x62, 0x08, 0x02, 0x01, 0x61, 0x08, 0x01,
 * ]));
 * assert.deepEqual([...doc.root.keys()], ["b", "a"]);
 * assert.equal(doc.canonical, false);
 * ```
 */
export function decodeStorageDocument(
  bytes: Uint8Array,
  options: DecodeStorageOptions = {},
): StorageDocument {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot decode storage: input must be a Uint8Array");
  }
  const limits = resolveLimits(options);
  if (bytes.length < STORAGE_HEADER_SIZE) {
    // Check what is there first, so garbage is reported as such.
    const sig = [0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01];
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== sig[i]) {
        throw new LevinError(
          i < 8 ? "storage_bad_signature" : "storage_bad_version",
          "Cannot decode storage: bad signature or version",
          { offset: i },
        );
      }
    }
    throw new LevinError(
      "storage_truncated",
      `Cannot decode storage: need at least ${
        STORAGE_HEADER_SIZE + 1
      } bytes, got ${bytes.length}`,
      { offset: bytes.length },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const a = view.getUint32(0, true);
  const b = view.getUint32(4, true);
  if (a !== STORAGE_SIGNATURE_A || b !== STORAGE_SIGNATURE_B) {
    throw new LevinError(
      "storage_bad_signature",
      `Cannot decode storage: expected signatures 0x01011101 0x01020101, got 0x${
        a.toString(16).padStart(8, "0")
      } 0x${b.toString(16).padStart(8, "0")}`,
      { offset: 0 },
    );
  }
  if (bytes[8] !== STORAGE_FORMAT_VERSION) {
    throw new LevinError(
      "storage_bad_version",
      `Cannot decode storage: expected format version 1, got ${bytes[8]}`,
      { offset: 8 },
    );
  }
  const reader = new Reader(bytes, STORAGE_HEADER_SIZE, limits);
  const root = reader.section(0);
  const trailingBytes = bytes.length - reader.pos;
  return {
    root,
    trailingBytes,
    canonical: reader.canonical && trailingBytes === 0,
  };
}

/**
 * Decodes a portable-storage document into its root section. Trailing bytes
 * after the root are ignored (as monerod does).
 *
 * String values are `subarray` views into `bytes`: `slice()` what you keep.
 *
 * @param bytes The document.
 * @param options Decoder caps (defaults: monerod's).
 * @returns The root section.
 * @throws {LevinError} As {@linkcode decodeStorageDocument}.
 * @throws {TypeError} When `bytes` is not a Uint8Array.
 * @throws {RangeError} When a limit is invalid.
 *
 * @example The support-flags response payload
 * ```ts
 * import { decodeStorage, encodeStorage } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([
 *   0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x04,
 *   0x0d, ...new TextEncoder().encode("support_flags"), 0x06, 0x01, 0x00, 0x00, 0x00,
 * ]);
 * const root = decodeStorage(bytes);
 * assert.deepEqual(root.get("support_flags"), { type: "uint32", value: 1 });
 * assert.deepEqual(encodeStorage(root), bytes);
 * ```
 */
export function decodeStorage(
  bytes: Uint8Array,
  options: DecodeStorageOptions = {},
): Section {
  return decodeStorageDocument(bytes, options).root;
}

/** Options for {@linkcode encodeStorage}. */
export interface EncodeStorageOptions {
  /** Section levels below the root the writer accepts (default 31; guards against cycles). */
  maxDepth?: number;
}

class Writer {
  buf: Uint8Array<ArrayBuffer>;
  view: DataView;
  pos = 0;
  readonly maxDepth: number;

  constructor(maxDepth: number) {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.maxDepth = maxDepth;
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(v: number): void {
    this.ensure(8);
    this.pos = writeVarint(this.view, this.pos, v);
  }

  section(section: Section, depth: number, path: string): void {
    if (!(section instanceof Map)) {
      throw new TypeError(`Cannot encode storage: ${path} must be a Map`);
    }
    const names = [...section.keys()].sort();
    this.varint(names.length);
    for (const name of names) {
      if (typeof name !== "string") {
        throw new TypeError(
          `Cannot encode storage: entry names in ${path} must be strings`,
        );
      }
      const len = name.length;
      if (len === 0 || len > 255) {
        throw new LevinError(
          "storage_name_too_long",
          `Cannot encode storage: entry name in ${path} must be 1 to 255 bytes, got ${len}`,
        );
      }
      this.ensure(len + 2);
      this.buf[this.pos++] = len;
      for (let i = 0; i < len; i++) {
        const c = name.charCodeAt(i);
        if (c > 0xff) {
          throw new RangeError(
            `Cannot encode storage: entry name in ${path} must hold one char per byte (U+0000 to U+00FF)`,
          );
        }
        this.buf[this.pos++] = c;
      }
      this.entry(section.get(name)!, depth, `${path}.${name}`);
    }
  }

  entry(value: StorageValue, depth: number, path: string): void {
    if (value === null || typeof value !== "object") {
      throw new TypeError(
        `Cannot encode storage: ${path} must be a storage value`,
      );
    }
    if (value.type === "array") {
      const t = TAG[value.of];
      if (t === undefined || !Object.hasOwn(TAG, value.of)) {
        throw new TypeError(
          `Cannot encode storage: ${path} has unknown element type ${
            String(value.of)
          }`,
        );
      }
      if (!Array.isArray(value.value)) {
        throw new TypeError(
          `Cannot encode storage: ${path} array value must be an Array`,
        );
      }
      this.ensure(1);
      this.buf[this.pos++] = t | ARRAY_FLAG;
      const items = value.value as readonly unknown[];
      this.varint(items.length);
      for (let i = 0; i < items.length; i++) {
        this.element(t, items[i], depth, path);
      }
      return;
    }
    const t = Object.hasOwn(TAG, value.type) ? TAG[value.type] : undefined;
    if (t === undefined) {
      throw new TypeError(
        `Cannot encode storage: ${path} has unknown type ${String(value.type)}`,
      );
    }
    this.ensure(1);
    this.buf[this.pos++] = t;
    this.element(t, value.value, depth, path);
  }

  element(t: number, x: unknown, depth: number, path: string): void {
    this.ensure(8);
    const v = this.view;
    const p = this.pos;
    switch (t) {
      case 1:
        v.setBigInt64(p, bigintIn(x, 64, true, path), true);
        this.pos += 8;
        return;
      case 2:
        v.setInt32(p, intIn(x, -0x8000_0000, 0x7fff_ffff, path), true);
        this.pos += 4;
        return;
      case 3:
        v.setInt16(p, intIn(x, -0x8000, 0x7fff, path), true);
        this.pos += 2;
        return;
      case 4:
        v.setInt8(p, intIn(x, -0x80, 0x7f, path));
        this.pos += 1;
        return;
      case 5:
        v.setBigUint64(p, bigintIn(x, 64, false, path), true);
        this.pos += 8;
        return;
      case 6:
        v.setUint32(p, intIn(x, 0, 0xffff_ffff, path), true);
        this.pos += 4;
        return;
      case 7:
        v.setUint16(p, intIn(x, 0, 0xffff, path), true);
        this.pos += 2;
        return;
      case 8:
        v.setUint8(p, intIn(x, 0, 0xff, path));
        this.pos += 1;
        return;
      case 9:
        if (typeof x !== "number") {
          throw new TypeError(
            `Cannot encode storage: ${path} must be a number`,
          );
        }
        v.setFloat64(p, x, true);
        this.pos += 8;
        return;
      case 10: {
        if (!(x instanceof Uint8Array)) {
          throw new TypeError(
            `Cannot encode storage: ${path} must be a Uint8Array`,
          );
        }
        if (x.length >= MAX_STRING_LENGTH) {
          throw new RangeError(
            `Cannot encode storage: ${path} is ${x.length} bytes, at most 1999999999 allowed`,
          );
        }
        this.varint(x.length);
        this.ensure(x.length);
        this.buf.set(x, this.pos);
        this.pos += x.length;
        return;
      }
      case 11:
        if (typeof x !== "boolean") {
          throw new TypeError(
            `Cannot encode storage: ${path} must be a boolean`,
          );
        }
        this.buf[this.pos++] = x ? 1 : 0;
        return;
      default:
        if (depth + 1 > this.maxDepth) {
          throw new LevinError(
            "storage_limit_exceeded",
            `Cannot encode storage: ${path} nests deeper than ${this.maxDepth} levels`,
          );
        }
        this.section(x as Section, depth + 1, path);
    }
  }
}

function intIn(x: unknown, min: number, max: number, path: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) {
    throw new RangeError(
      `Cannot encode storage: ${path} must be an integer from ${min} to ${max}, got ${
        String(x)
      }`,
    );
  }
  return x;
}

function bigintIn(
  x: unknown,
  bits: number,
  signed: boolean,
  path: string,
): bigint {
  if (typeof x !== "bigint") {
    throw new TypeError(`Cannot encode storage: ${path} must be a bigint`);
  }
  if ((signed ? BigInt.asIntN(bits, x) : BigInt.asUintN(bits, x)) !== x) {
    throw new RangeError(
      `Cannot encode storage: ${path} is out of the ${
        signed ? "int" : "uint"
      }${bits} range`,
    );
  }
  return x;
}

/**
 * Encodes a section as a portable-storage document: the 9-byte header, then
 * the entries of every section sorted by name (unsigned byte order), minimal
 * varints and flagged typed arrays (never bare tag 13), exactly as Monero's
 * writer does.
 *
 * @param root The root section.
 * @param options The depth guard.
 * @returns A new buffer the caller owns.
 * @throws {TypeError} When a value has the wrong JavaScript type.
 * @throws {RangeError} When an integer is out of its type's range or a name
 *   holds a char above U+00FF.
 * @throws {LevinError} `storage_name_too_long` for an empty name or one over 255
 *   bytes; `storage_limit_exceeded` when nesting exceeds `maxDepth`.
 *
 * @example The empty document (a ping request payload)
 * ```ts
 * import { encodeStorage } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   encodeStorage(new Map()),
 *   new Uint8Array([0x01, 0x11, 0x01, 0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]),
 * );
 * ```
 */
export function encodeStorage(
  root: Section,
  options: EncodeStorageOptions = {},
): Uint8Array<ArrayBuffer> {
  const maxDepth = options.maxDepth ?? DEFAULT_STORAGE_LIMITS.maxDepth;
  if (
    !Number.isSafeInteger(maxDepth) || maxDepth < 0 || maxDepth > DEPTH_CEILING
  ) {
    throw new RangeError(
      `Cannot encode storage: maxDepth must be an integer from 0 to ${DEPTH_CEILING}, got ${maxDepth}`,
    );
  }
  const w = new Writer(maxDepth);
  w.view.setUint32(0, STORAGE_SIGNATURE_A, true);
  w.view.setUint32(4, STORAGE_SIGNATURE_B, true);
  w.buf[8] = STORAGE_FORMAT_VERSION;
  w.pos = STORAGE_HEADER_SIZE;
  w.section(root, 0, "root");
  return w.buf.slice(0, w.pos);
}

/**
 * Builds a scalar value with an explicit type.
 *
 * @param type The storage type.
 * @param value Its value (`bigint` for 64-bit integers, `Uint8Array` for strings, a `Map` for objects).
 * @returns The tagged value.
 *
 * @example A uint16 port
 * ```ts
 * import { storageScalar } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(storageScalar("uint16", 18080), { type: "uint16", value: 18080 });
 * ```
 */
export function storageScalar<T extends StorageType>(
  type: T,
  value: StorageTypeMap[T],
): Extract<StorageScalar, { type: T }> {
  return { type, value } as Extract<StorageScalar, { type: T }>;
}

/**
 * Builds a typed array value.
 *
 * @param of The element type.
 * @param items The elements.
 * @returns The tagged array.
 *
 * @example An array of uint64
 * ```ts
 * import { storageArray } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(storageArray("uint64", [1n]), { type: "array", of: "uint64", value: [1n] });
 * ```
 */
export function storageArray<T extends StorageType>(
  of: T,
  items: readonly StorageTypeMap[T][],
): Extract<StorageArray, { of: T }> {
  return { type: "array", of, value: items } as unknown as Extract<
    StorageArray,
    { of: T }
  >;
}

/**
 * Builds a section from a record or an iterable of entries. Prefer the
 * iterable form for names such as `__proto__`.
 *
 * @param entries Name → value pairs.
 * @returns A new section.
 *
 * @example A nested section
 * ```ts
 * import { encodeStorage, storageScalar, storageSection } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const root = storageSection({
 *   node_data: storageScalar("object", storageSection({ my_port: storageScalar("uint32", 0) })),
 * });
 * assert.equal(encodeStorage(root).length, 35);
 * ```
 */
export function storageSection(
  entries:
    | Readonly<Record<string, StorageValue>>
    | Iterable<
      readonly [string, StorageValue]
    >,
): Section {
  const out: Section = new Map();
  if (Symbol.iterator in entries) {
    for (const [k, v] of entries as Iterable<readonly [string, StorageValue]>) {
      out.set(k, v);
    }
  } else {
    for (const k of Object.keys(entries)) {
      out.set(k, (entries as Record<string, StorageValue>)[k]!);
    }
  }
  return out;
}

function typeName(value: StorageValue | undefined): string {
  if (value === undefined) return "nothing";
  return value.type === "array" ? `array of ${value.of}` : value.type;
}

/**
 * Returns the value of a scalar of exactly `type` (strict accessor, like
 * go-p2p's `AsUint64`, `AsString`, …).
 *
 * @param value The stored value (or `undefined` for a missing entry).
 * @param type The type required.
 * @returns The JavaScript value.
 * @throws {LevinError} `storage_type_mismatch` when the value is missing or of
 *   another type.
 *
 * @example Strict access
 * ```ts
 * import { expectScalar, LevinError, storageScalar } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.equal(expectScalar(storageScalar("uint32", 7), "uint32"), 7);
 * assert.throws(() => expectScalar(storageScalar("uint64", 7n), "uint32"), LevinError);
 * ```
 */
export function expectScalar<T extends StorageType>(
  value: StorageValue | undefined,
  type: T,
): StorageTypeMap[T] {
  if (value === undefined || value.type !== type) {
    throw new LevinError(
      "storage_type_mismatch",
      `Cannot read storage value: expected ${type}, got ${typeName(value)}`,
    );
  }
  return value.value as StorageTypeMap[T];
}

/**
 * Returns the elements of a typed array of exactly `of`.
 *
 * @param value The stored value (or `undefined` for a missing entry).
 * @param of The element type required.
 * @returns The elements.
 * @throws {LevinError} `storage_type_mismatch` when the value is missing, not
 *   an array or has another element type.
 *
 * @example Strict array access
 * ```ts
 * import { expectArray, storageArray } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(expectArray(storageArray("uint8", [1, 2]), "uint8"), [1, 2]);
 * ```
 */
export function expectArray<T extends StorageType>(
  value: StorageValue | undefined,
  of: T,
): readonly StorageTypeMap[T][] {
  if (value === undefined || value.type !== "array" || value.of !== of) {
    throw new LevinError(
      "storage_type_mismatch",
      `Cannot read storage value: expected array of ${of}, got ${
        typeName(value)
      }`,
    );
  }
  return value.value as readonly StorageTypeMap[T][];
}

const INT_RANGE: Readonly<Record<IntegerType, readonly [bigint, bigint]>> = {
  int64: [-(1n << 63n), (1n << 63n) - 1n],
  int32: [-(1n << 31n), (1n << 31n) - 1n],
  int16: [-(1n << 15n), (1n << 15n) - 1n],
  int8: [-128n, 127n],
  uint64: [0n, (1n << 64n) - 1n],
  uint32: [0n, (1n << 32n) - 1n],
  uint16: [0n, 65535n],
  uint8: [0n, 255n],
};

/** The JavaScript type {@linkcode convertInteger} returns for each target. */
export type IntegerResult<T extends IntegerType> = T extends "int64" | "uint64"
  ? bigint
  : number;

/**
 * Reads any stored integer into `target` when the value fits (lenient
 * accessor, as monerod does when loading a field into a struct): a uint64
 * holding 5 is fine for a uint32 field; negative values for unsigned
 * targets and out-of-range values fail. Bool and double are not converted.
 *
 * @param value The stored value (or `undefined` for a missing entry).
 * @param target The integer type wanted.
 * @returns A `bigint` for 64-bit targets, otherwise a `number`.
 * @throws {LevinError} `storage_type_mismatch` when the value is missing or
 *   not an integer; `storage_value_out_of_range` when it does not fit.
 *
 * @example Lenient reads
 * ```ts
 * import { convertInteger, LevinError, storageScalar } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.equal(convertInteger(storageScalar("uint64", 5n), "uint32"), 5);
 * assert.equal(convertInteger(storageScalar("uint8", 5), "uint64"), 5n);
 * assert.throws(
 *   () => convertInteger(storageScalar("int8", -1), "uint16"),
 *   (e) => e instanceof LevinError && e.code === "storage_value_out_of_range",
 * );
 * ```
 */
export function convertInteger<T extends IntegerType>(
  value: StorageValue | undefined,
  target: T,
): IntegerResult<T> {
  if (
    value === undefined || value.type === "array" ||
    !Object.hasOwn(INT_RANGE, value.type)
  ) {
    throw new LevinError(
      "storage_type_mismatch",
      `Cannot read storage value: expected an integer, got ${typeName(value)}`,
    );
  }
  const range = INT_RANGE[target];
  if (range === undefined) {
    throw new TypeError(
      `Cannot convert integer: unknown target ${String(target)}`,
    );
  }
  const v = BigInt(value.value as number | bigint);
  if (v < range[0] || v > range[1]) {
    throw new LevinError(
      "storage_value_out_of_range",
      `Cannot read storage value: ${value.type} ${v} does not fit ${target}`,
    );
  }
  return (target === "int64" || target === "uint64"
    ? v
    : Number(v)) as IntegerResult<T>;
}
