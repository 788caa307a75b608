/**
 * go-p2p deployment bundles (node.md §9, crypto-formats.md §7.4): profile
 * and miner bundles sealed as STIM, the `Bundle` JSON with its SHA-256
 * checksum, and safe extraction.
 *
 * Bundle JSON (Go `json.Encoder`, HTML escaping on, no omitempty):
 * `{"type":"profile"|"miner"|"full","name":…,"data":<base64 STIM or JSON>,"checksum":<hex SHA-256 of data>}`
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { basename } from "node:path";
import { marshalGo } from "./_go_json.ts";
import { decodeBase64Strict } from "./_base64.ts";
import { BorgError } from "./borg/errors.ts";
import { DataNode } from "./borg/datanode.ts";
import type { SmsgKey } from "./borg/smsg.ts";
import {
  newTim,
  stimEncrypt,
  type StimEncryptOptions,
  stimOpen,
} from "./borg/stim.ts";
import {
  BundleError,
  type ExtractOptions,
  extractTarball,
} from "./_extract.ts";

export {
  BundleError,
  type BundleErrorCode,
  type ExtractOptions,
} from "./_extract.ts";

/** Bundle kinds; `"full"` is handled like `"miner"`. */
export type BundleType = "profile" | "miner" | "full";

/** A go-p2p deployment bundle. */
export interface Bundle {
  /** The bundle kind. */
  type: BundleType;
  /** The bundle name (a single safe path component when created here). */
  name: string;
  /** STIM bytes, or plain profile JSON for unencrypted profile bundles. */
  data: Uint8Array;
  /** Lowercase hex SHA-256 of `data`. */
  checksum: string;
}

/** Options for the bundle creators. */
export interface BundleCreateOptions {
  /** Fixed STIM nonces (tests and vectors only). */
  nonces?: StimEncryptOptions["nonces"];
}

/** Result of {@linkcode extractMinerBundle}. */
export interface MinerBundleContents {
  /** Absolute path of the miner executable, or "" when none was found. */
  minerPath: string;
  /** The TIM config (profile JSON, or Borg's default config). */
  config: Uint8Array;
}

/** Options for {@linkcode readBundle}. */
export interface ReadBundleOptions {
  /** Cap on the bundle JSON text (default 256 MiB). */
  maxBytes?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Lowercase hex SHA-256 of bundle data.
 *
 * @param data The bundle data.
 * @returns 64 hex characters.
 * @example Checksum
 * ```ts
 * import { bundleChecksum } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(bundleChecksum(new Uint8Array()).length, 64);
 * ```
 */
export function bundleChecksum(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Checks that a bundle name is one safe path component: non-empty, at most
 * 255 UTF-8 bytes, not starting with `.` (hidden entries, `.` and `..`) or
 * `-` (read as an option by tools the name reaches, e.g. `-rf`), without
 * `/`, `\`, NUL or other control characters. Go uses the name verbatim in
 * the install path (node.md §13 item 7); we refuse such names.
 *
 * @param name The name.
 * @returns The name.
 * @throws {BundleError} `invalid_name`.
 * @example Rejecting traversal
 * ```ts
 * import { BundleError, checkBundleName } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkBundleName("xmrig-6.21"), "xmrig-6.21");
 * assert.throws(() => checkBundleName("../etc"), BundleError);
 * assert.throws(() => checkBundleName("-rf"), BundleError);
 * assert.throws(() => checkBundleName(".hidden"), BundleError);
 * ```
 */
export function checkBundleName(name: string): string {
  if (
    typeof name !== "string" || name === "" || name.startsWith(".") ||
    name.startsWith("-") || encoder.encode(name).length > 255 ||
    hasUnsafeChar(name)
  ) {
    throw new BundleError(
      "invalid_name",
      `Cannot use bundle name ${
        JSON.stringify(String(name)).slice(0, 80)
      }: not a single safe path component`,
    );
  }
  return name;
}

function hasUnsafeChar(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f || c === 0x5c) return true;
  }
  return false;
}

function toBytes(json: Uint8Array | string): Uint8Array {
  return typeof json === "string" ? encoder.encode(json) : json;
}

/**
 * Creates an encrypted profile bundle (Go `CreateProfileBundle`): a TIM with
 * the profile as config and an empty rootfs, sealed as STIM.
 *
 * @param profileJson The profile JSON.
 * @param name The bundle name.
 * @param password The STIM password (go-p2p: the connection's SMSG password) or key.
 * @param options Fixed nonces (tests only).
 * @returns The bundle.
 * @throws {BundleError} `invalid_name`.
 * @throws {RangeError} When the password is empty.
 * @example Profile bundle round trip
 * ```ts
 * import { createProfileBundle, extractProfileBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const b = await createProfileBundle('{"threads":2}', "p1", "pw");
 * assert.equal(b.type, "profile");
 * assert.equal(new TextDecoder().decode(await extractProfileBundle(b, "pw")), '{"threads":2}');
 * ```
 */
export async function createProfileBundle(
  profileJson: Uint8Array | string,
  name: string,
  password: string | SmsgKey,
  options: BundleCreateOptions = {},
): Promise<Bundle> {
  checkBundleName(name);
  const tim = newTim();
  tim.config = toBytes(profileJson);
  const data = await stimEncrypt(
    tim,
    password,
    options.nonces ? { nonces: options.nonces } : {},
  );
  return { type: "profile", name, data, checksum: bundleChecksum(data) };
}

/**
 * Creates an unencrypted profile bundle (Go `CreateProfileBundleUnencrypted`):
 * `data` is the JSON as given.
 *
 * @param profileJson The profile JSON.
 * @param name The bundle name.
 * @returns The bundle.
 * @throws {BundleError} `invalid_name`.
 * @example Plain profile
 * ```ts
 * import { createProfileBundleUnencrypted, verifyBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.ok(verifyBundle(createProfileBundleUnencrypted("{}", "p")));
 * ```
 */
export function createProfileBundleUnencrypted(
  profileJson: Uint8Array | string,
  name: string,
): Bundle {
  checkBundleName(name);
  const data = toBytes(profileJson).slice();
  return { type: "profile", name, data, checksum: bundleChecksum(data) };
}

/**
 * Creates a miner bundle (Go `CreateMinerBundle`): the file at `minerPath`
 * stored under its base name in a DataNode rootfs, the profile (or Borg's
 * default config when none) as config, sealed as STIM. As in Go, the
 * DataNode does not keep file modes; {@linkcode extractMinerBundle} restores
 * the execute bit.
 *
 * @param minerPath Path of the miner binary.
 * @param profileJson The profile JSON, or undefined/null for Borg's default config.
 * @param name The bundle name.
 * @param password The STIM password or key.
 * @param options Fixed nonces (tests only).
 * @returns The bundle.
 * @throws {BundleError} `io_failed` when the file cannot be read, `invalid_name`.
 * @throws {RangeError} When the password is empty.
 * @example Miner bundle
 * ```ts
 * import { createMinerBundle, extractMinerBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/miner`, "#!/bin/sh\necho hi\n");
 * const b = await createMinerBundle(`${dir}/miner`, undefined, "m1", "pw");
 * const out = await extractMinerBundle(b, "pw", `${dir}/out`);
 * assert.equal(out.minerPath, `${await Deno.realPath(`${dir}/out`)}/miner`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createMinerBundle(
  minerPath: string,
  profileJson: Uint8Array | string | undefined | null,
  name: string,
  password: string | SmsgKey,
  options: BundleCreateOptions = {},
): Promise<Bundle> {
  checkBundleName(name);
  let binary: Uint8Array;
  try {
    binary = await Deno.readFile(minerPath);
  } catch (cause) {
    throw new BundleError(
      "io_failed",
      "Cannot create miner bundle: failed to read miner binary",
      { cause },
    );
  }
  const tim = newTim();
  const rootfs = new DataNode();
  rootfs.addFile(basename(minerPath), binary);
  tim.rootfs = rootfs;
  if (profileJson !== undefined && profileJson !== null) {
    tim.config = toBytes(profileJson);
  }
  const data = await stimEncrypt(
    tim,
    password,
    options.nonces ? { nonces: options.nonces } : {},
  );
  return { type: "miner", name, data, checksum: bundleChecksum(data) };
}

/**
 * Checks the bundle checksum (exact, case-sensitive, constant time).
 *
 * @param bundle The bundle.
 * @returns Whether `checksum` is the hex SHA-256 of `data`.
 * @example Verifying
 * ```ts
 * import { createProfileBundleUnencrypted, verifyBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const b = createProfileBundleUnencrypted("{}", "p");
 * assert.ok(verifyBundle(b));
 * assert.ok(!verifyBundle({ ...b, checksum: b.checksum.toUpperCase() }));
 * ```
 */
export function verifyBundle(bundle: Bundle): boolean {
  const want = encoder.encode(bundleChecksum(bundle.data));
  const got = encoder.encode(String(bundle.checksum));
  return want.length === got.length && timingSafeEqual(want, got);
}

function openStim(bundle: Bundle, password: string | SmsgKey, what: string) {
  try {
    return stimOpen(bundle.data, password);
  } catch (cause) {
    if (cause instanceof BorgError) {
      throw new BundleError(
        "decryption_failed",
        `Cannot extract ${what} bundle: failed to decrypt bundle`,
        {
          cause,
        },
      );
    }
    throw cause;
  }
}

/**
 * Extracts a profile bundle (Go `ExtractProfileBundle`): verifies the
 * checksum; data starting with `{` or `[` is returned as plain JSON without
 * decryption (as in Go); otherwise the STIM is opened and its config returned.
 *
 * @param bundle The bundle.
 * @param password The STIM password or key.
 * @returns The profile JSON bytes.
 * @throws {BundleError} `checksum_mismatch`, `decryption_failed`.
 * @example Extracting
 * ```ts
 * import { createProfileBundleUnencrypted, extractProfileBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const out = await extractProfileBundle(createProfileBundleUnencrypted("[1]", "p"), "unused");
 * assert.equal(new TextDecoder().decode(out), "[1]");
 * ```
 */
export function extractProfileBundle(
  bundle: Bundle,
  password: string | SmsgKey,
): Promise<Uint8Array> {
  return Promise.resolve().then(() => {
    if (!verifyBundle(bundle)) {
      throw new BundleError(
        "checksum_mismatch",
        "Cannot extract profile bundle: checksum mismatch - bundle may be corrupted",
      );
    }
    const first = bundle.data[0];
    if (first === 0x7b || first === 0x5b) return bundle.data.slice();
    return openStim(bundle, password, "profile").config;
  });
}

/**
 * Extracts a miner bundle (Go `ExtractMinerBundle`): verifies the checksum,
 * opens the STIM, normalises the rootfs through a DataNode as Go does, and
 * extracts it into `destDir` under the safe-extraction policy (see
 * `ExtractOptions`). Beyond Go: the bundle name must pass
 * {@linkcode checkBundleName}, total size and entry count are capped,
 * nothing stays behind on failure, and the miner's execute bit (lost by the
 * DataNode round trip) is restored on the first file that looks executable.
 *
 * @param bundle The bundle.
 * @param password The STIM password or key.
 * @param destDir The install directory.
 * @param options Extraction caps and the execute-bit policy.
 * @returns The miner path ("" if none) and the config bytes.
 * @throws {BundleError} `checksum_mismatch`, `invalid_name`,
 *   `decryption_failed`, `invalid_tar` or any extraction code.
 * @example Extracting a miner bundle
 * ```ts
 * import { createMinerBundle, extractMinerBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/xmrig`, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2]));
 * const b = await createMinerBundle(`${dir}/xmrig`, '{"pool":"p"}', "xmrig", "pw");
 * const { minerPath, config } = await extractMinerBundle(b, "pw", `${dir}/install`);
 * assert.ok(minerPath.endsWith("/install/xmrig"));
 * assert.equal(new TextDecoder().decode(config), '{"pool":"p"}');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function extractMinerBundle(
  bundle: Bundle,
  password: string | SmsgKey,
  destDir: string,
  options: ExtractOptions = {},
): Promise<MinerBundleContents> {
  if (!verifyBundle(bundle)) {
    throw new BundleError(
      "checksum_mismatch",
      "Cannot extract miner bundle: checksum mismatch - bundle may be corrupted",
    );
  }
  checkBundleName(bundle.name);
  const { config, rootfsTar } = openStim(bundle, password, "miner");
  let tarBytes: Uint8Array;
  try {
    const dn = await DataNode.fromTar(rootfsTar, {
      maxEntries: options.maxEntries ?? 10_000,
      maxTotalBytes: options.maxTotalBytes ?? 1024 * 1024 * 1024,
    });
    tarBytes = await dn.toTar();
  } catch (cause) {
    throw new BundleError(
      "invalid_tar",
      "Cannot extract miner bundle: failed to convert rootfs to tar",
      { cause },
    );
  }
  const result = await extractTarball(tarBytes, destDir, options);
  return { minerPath: result.executable, config };
}

/**
 * Encodes a bundle as Go's `json.Marshal` does (HTML escaping on, no
 * trailing newline).
 *
 * @param bundle The bundle.
 * @returns The JSON text.
 * @example Encoding
 * ```ts
 * import { createProfileBundleUnencrypted, encodeBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.ok(encodeBundle(createProfileBundleUnencrypted("{}", "p")).startsWith('{"type":"profile","name":"p","data":"e30=",'));
 * ```
 */
export function encodeBundle(bundle: Bundle): string {
  return marshalGo({
    type: bundle.type,
    name: bundle.name,
    data: bundle.data,
    checksum: bundle.checksum,
  });
}

function invalid(message: string, cause?: unknown): BundleError {
  return new BundleError(
    "invalid_bundle",
    `Cannot read bundle: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Length of the first JSON value in `text` (objects only), or -1. */
function firstValueEnd(text: string): number {
  let i = 0;
  while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  if (text[i] !== "{") return -1;
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Decodes bundle JSON as Go's `ReadBundle` does: the first JSON value is
 * read and trailing data ignored; keys match case-insensitively; `data` is
 * strict base64 or null.
 *
 * @param text The JSON text.
 * @returns The bundle.
 * @throws {BundleError} `invalid_bundle`.
 * @example Decoding
 * ```ts
 * import { createProfileBundleUnencrypted, decodeBundle, encodeBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const b = createProfileBundleUnencrypted("{}", "p");
 * assert.deepEqual(decodeBundle(encodeBundle(b) + "\n"), b);
 * ```
 */
export function decodeBundle(text: string): Bundle {
  const end = firstValueEnd(text);
  if (end < 0) throw invalid("not a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text.slice(0, end));
  } catch (cause) {
    throw invalid("invalid JSON", cause);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("not a JSON object");
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const lk = k.toLowerCase();
    if (["type", "name", "data", "checksum"].includes(lk) && v !== null) {
      if (k === lk || !(lk in fields)) fields[lk] = v;
    }
  }
  const str = (k: string): string => {
    const v = fields[k];
    if (v === undefined) return "";
    if (typeof v !== "string") throw invalid(`field ${k} is not a string`);
    return v;
  };
  const type = str("type");
  if (type !== "profile" && type !== "miner" && type !== "full") {
    throw invalid(`unknown bundle type ${JSON.stringify(type).slice(0, 40)}`);
  }
  const dataText = str("data");
  const data = decodeBase64Strict(dataText);
  if (data === undefined) throw invalid("data is not base64");
  return { type, name: str("name"), data, checksum: str("checksum") };
}

/**
 * Writes a bundle as Go's `StreamBundle`: JSON (HTML escaping on) and a
 * newline.
 *
 * @param bundle The bundle.
 * @param writable Where to write (the stream is left open).
 * @returns Resolves when written.
 * @example Streaming to a buffer
 * ```ts
 * import { createProfileBundleUnencrypted, readBundle, streamBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const b = createProfileBundleUnencrypted("{}", "p");
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const reading = readBundle(readable);
 * await streamBundle(b, writable);
 * await writable.close();
 * assert.deepEqual(await reading, b);
 * ```
 */
export async function streamBundle(
  bundle: Bundle,
  writable: WritableStream<Uint8Array>,
): Promise<void> {
  const writer = writable.getWriter();
  try {
    await writer.write(encoder.encode(encodeBundle(bundle) + "\n"));
  } finally {
    writer.releaseLock();
  }
}

/**
 * Reads a bundle as Go's `ReadBundle` (see {@linkcode decodeBundle}).
 *
 * @param source A byte stream, bytes or text.
 * @param options Size cap.
 * @returns The bundle.
 * @throws {BundleError} `invalid_bundle`, also when the input exceeds the cap.
 * @example Reading bytes
 * ```ts
 * import { readBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const b = await readBundle('{"type":"profile","name":"p","data":"e30=","checksum":"x"}');
 * assert.equal(b.name, "p");
 * ```
 */
export async function readBundle(
  source: ReadableStream<Uint8Array> | Uint8Array | string,
  options: ReadBundleOptions = {},
): Promise<Bundle> {
  const max = options.maxBytes ?? 256 * 1024 * 1024;
  if (typeof source === "string") return decodeBundle(source);
  if (source instanceof Uint8Array) return decodeBundle(decoder.decode(source));
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = source.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        await reader.cancel();
        throw invalid(`input exceeds ${max} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return decodeBundle(decoder.decode(all));
}
