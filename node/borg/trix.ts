/**
 * The Enchantrix Trix container (crypto-formats.md §2).
 *
 * | Offset | Size | Field         | Notes                                  |
 * | ------ | ---- | ------------- | -------------------------------------- |
 * | 0      | 4    | magic         | ASCII, e.g. `SMSG`, `STIM`, `TRIX`     |
 * | 4      | 1    | version       | always `0x02`                          |
 * | 5      | 4    | header length | u32 big-endian                         |
 * | 9      | N    | header        | JSON object, Go `json.Marshal`, sorted |
 * | 9 + N  | rest | payload       | to the end of the buffer               |
 *
 * @module
 */

import { createHash } from "node:crypto";
import { GoMap, marshalGo } from "../_go_json.ts";
import { BorgError } from "./errors.ts";

/** The Trix version byte. */
export const TRIX_VERSION = 2;
/** Size of magic + version + header length. */
export const TRIX_PREAMBLE_SIZE = 9;
/** Largest header Go's decoder accepts (16 MiB). */
export const TRIX_MAX_HEADER_BYTES = 16 * 1024 * 1024;

/** Checksum algorithms the Trix encoder can add to a header. */
export type TrixChecksumAlgo = "sha256" | "sha512" | "sha1" | "md5" | "lthn";

/** A decoded Trix container. */
export interface TrixContainer {
  /** The 4-character magic. */
  magic: string;
  /** The header object (Go map at the top level). */
  header: Record<string, unknown>;
  /** The payload (a view into the decoded input). */
  payload: Uint8Array;
}

/** Options for {@linkcode trixEncode}. */
export interface TrixEncodeOptions {
  /**
   * Add `checksum` and `checksum_algo` keys for the payload (Go
   * `ChecksumAlgo`); unknown names fall back to sha256, as in Go.
   */
  checksumAlgo?: TrixChecksumAlgo;
}

/** Options for {@linkcode trixDecode}. */
export interface TrixDecodeOptions {
  /** Cap on the header length (default and maximum 16 MiB). */
  maxHeaderBytes?: number;
}

const encoder = new TextEncoder();
// Go replaces invalid UTF-8 inside JSON strings with U+FFFD.
const decoder = new TextDecoder("utf-8");

function checkMagic(magic: string, action: string): Uint8Array {
  const bytes = encoder.encode(magic);
  if (typeof magic !== "string" || bytes.length !== 4) {
    throw new RangeError(
      `Cannot ${action}: magic must be 4 bytes, got "${magic}"`,
    );
  }
  return bytes;
}

/**
 * Hex digest of a payload with a Trix checksum algorithm.
 *
 * @param algo The algorithm name (unknown names mean sha256, as in Go).
 * @param payload The payload bytes.
 * @returns The lowercase hex digest.
 * @example Checksum of a payload
 * ```ts
 * import { trixChecksum } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   trixChecksum("sha256", new Uint8Array()),
 *   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 * );
 * ```
 */
export function trixChecksum(algo: string, payload: Uint8Array): string {
  switch (algo) {
    case "sha512":
    case "sha1":
    case "md5":
      return createHash(algo).update(payload).digest("hex");
    case "lthn":
      return lthnHash(payload);
    default:
      return createHash("sha256").update(payload).digest("hex");
  }
}

// Go's []rune(string): invalid UTF-8 yields U+FFFD per bad byte.
function goRunes(b: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out.push(c);
      i++;
      continue;
    }
    let need = 0, min = 0, cp = 0;
    if (c >= 0xc2 && c <= 0xdf) (need = 1, min = 0x80, cp = c & 0x1f);
    else if (c >= 0xe0 && c <= 0xef) (need = 2, min = 0x800, cp = c & 0x0f);
    else if (c >= 0xf0 && c <= 0xf4) (need = 3, min = 0x10000, cp = c & 0x07);
    let ok = need > 0;
    if (ok) {
      for (let k = 1; k <= need; k++) {
        const cc = b[i + k];
        if (cc === undefined || (cc & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3f);
      }
    }
    if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
      out.push(cp);
      i += need + 1;
    } else {
      out.push(0xfffd);
      i++;
    }
  }
  return out;
}

const LTHN_MAP: Record<number, number> = {
  0x6f: 0x30, // o -> 0
  0x6c: 0x31, // l -> 1
  0x65: 0x33, // e -> 3
  0x61: 0x34, // a -> 4
  0x73: 0x7a, // s -> z
  0x74: 0x37, // t -> 7
  0x30: 0x6f, // 0 -> o
  0x31: 0x6c, // 1 -> l
  0x33: 0x65, // 3 -> e
  0x34: 0x61, // 4 -> a
  0x37: 0x74, // 7 -> t
};

function lthnHash(payload: Uint8Array): string {
  const runes = goRunes(payload).reverse().map((r) => LTHN_MAP[r] ?? r);
  const salt = encoder.encode(String.fromCodePoint(...runes));
  return createHash("sha256").update(payload).update(salt).digest("hex");
}

/**
 * Encodes a Trix container: magic, version 2, u32be header length, the
 * header as Go `json.Marshal` of a map (top-level keys sorted, HTML escaping
 * on; nested plain objects keep their key order like Go structs), payload.
 *
 * @param container The magic, header and payload.
 * @param options Optional checksum keys.
 * @returns The encoded container.
 * @throws {RangeError} When the magic is not 4 bytes.
 * @example The smallest container
 * ```ts
 * import { trixEncode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bytes = trixEncode({ magic: "TRIX", header: {}, payload: new Uint8Array() });
 * assert.deepEqual([...bytes], [0x54, 0x52, 0x49, 0x58, 2, 0, 0, 0, 2, 0x7b, 0x7d]);
 * ```
 */
export function trixEncode(
  container: TrixContainer,
  options: TrixEncodeOptions = {},
): Uint8Array<ArrayBuffer> {
  const magic = checkMagic(container.magic, "encode Trix container");
  const header: Record<string, unknown> = { ...container.header };
  if (options.checksumAlgo !== undefined) {
    const known = ["sha256", "sha512", "sha1", "md5", "lthn"];
    const algo = known.includes(options.checksumAlgo)
      ? options.checksumAlgo
      : "sha256";
    header.checksum = trixChecksum(algo, container.payload);
    header.checksum_algo = algo;
  }
  const headerBytes = encoder.encode(marshalGo(new GoMap(header)));
  return trixEncodeRaw(magic, headerBytes, container.payload);
}

/**
 * Encodes a container from an already-serialised header.
 *
 * @param magic The 4 magic bytes.
 * @param header The header JSON bytes.
 * @param payload The payload.
 * @returns The container.
 * @example Encoding with a prepared header
 * ```ts
 * import { trixEncodeRaw } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const enc = new TextEncoder();
 * const bytes = trixEncodeRaw(enc.encode("TRIX"), enc.encode("{}"), new Uint8Array([1]));
 * assert.deepEqual([...bytes], [0x54, 0x52, 0x49, 0x58, 2, 0, 0, 0, 2, 0x7b, 0x7d, 1]);
 * ```
 */
export function trixEncodeRaw(
  magic: Uint8Array,
  header: Uint8Array,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(
    TRIX_PREAMBLE_SIZE + header.length + payload.length,
  );
  out.set(magic, 0);
  out[4] = TRIX_VERSION;
  new DataView(out.buffer).setUint32(5, header.length, false);
  out.set(header, TRIX_PREAMBLE_SIZE);
  out.set(payload, TRIX_PREAMBLE_SIZE + header.length);
  return out;
}

/**
 * Decodes a Trix container as Go's `trix.Decode` does, plus a typed
 * distinction between truncated and malformed input. The header must be a
 * JSON object; a `checksum` key is verified against the payload.
 *
 * @param bytes The container.
 * @param magic The expected 4-character magic.
 * @param options The header length cap.
 * @returns The container; `payload` is a view into `bytes`.
 * @throws {BorgError} `truncated`, `invalid_magic`, `invalid_version`,
 *   `header_too_large`, `invalid_header` or `checksum_mismatch`.
 * @throws {RangeError} When `magic` is not 4 bytes.
 * @example Decoding
 * ```ts
 * import { trixDecode, trixEncode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bytes = trixEncode({ magic: "TRIX", header: { b: 1, a: "x" }, payload: new Uint8Array([9]) });
 * const c = trixDecode(bytes, "TRIX");
 * assert.deepEqual(c.header, { a: "x", b: 1 });
 * assert.deepEqual([...c.payload], [9]);
 * ```
 */
export function trixDecode(
  bytes: Uint8Array,
  magic: string,
  options: TrixDecodeOptions = {},
): TrixContainer {
  const want = checkMagic(magic, "decode Trix container");
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      "Cannot decode Trix container: input must be a Uint8Array",
    );
  }
  const max = Math.min(
    options.maxHeaderBytes ?? TRIX_MAX_HEADER_BYTES,
    TRIX_MAX_HEADER_BYTES,
  );
  const head = Math.min(bytes.length, 4);
  for (let i = 0; i < head; i++) {
    if (bytes[i] !== want[i]) {
      throw new BorgError(
        "invalid_magic",
        `Cannot decode Trix container: invalid magic number, expected "${magic}"`,
      );
    }
  }
  if (bytes.length < 5) {
    throw new BorgError(
      "truncated",
      `Cannot decode Trix container: need at least 9 bytes, got ${bytes.length}`,
    );
  }
  if (bytes[4] !== TRIX_VERSION) {
    throw new BorgError(
      "invalid_version",
      `Cannot decode Trix container: invalid version ${bytes[4]}, expected 2`,
    );
  }
  if (bytes.length < TRIX_PREAMBLE_SIZE) {
    throw new BorgError(
      "truncated",
      `Cannot decode Trix container: need at least 9 bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(5, false);
  if (n > max) {
    throw new BorgError(
      "header_too_large",
      `Cannot decode Trix container: header length ${n} exceeds ${max}`,
    );
  }
  if (bytes.length - TRIX_PREAMBLE_SIZE < n) {
    throw new BorgError(
      "truncated",
      `Cannot decode Trix container: header needs ${n} bytes, got ${
        bytes.length - TRIX_PREAMBLE_SIZE
      }`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      decoder.decode(
        bytes.subarray(TRIX_PREAMBLE_SIZE, TRIX_PREAMBLE_SIZE + n),
      ),
    );
  } catch (cause) {
    throw new BorgError(
      "invalid_header",
      "Cannot decode Trix container: header is not valid JSON",
      { cause },
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new BorgError(
      "invalid_header",
      "Cannot decode Trix container: header is not a JSON object",
    );
  }
  const h = header as Record<string, unknown>;
  const payload = bytes.subarray(TRIX_PREAMBLE_SIZE + n);
  const checksum = Object.hasOwn(h, "checksum") ? h.checksum : undefined;
  if (typeof checksum === "string") {
    const algo = Object.hasOwn(h, "checksum_algo")
      ? h.checksum_algo
      : undefined;
    if (typeof algo !== "string") {
      throw new BorgError(
        "invalid_header",
        "Cannot decode Trix container: checksum without checksum_algo",
      );
    }
    if (trixChecksum(algo, payload) !== checksum) {
      throw new BorgError(
        "checksum_mismatch",
        "Cannot decode Trix container: payload checksum mismatch",
      );
    }
  }
  return { magic, header: h, payload };
}
