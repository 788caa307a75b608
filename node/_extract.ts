/**
 * Safe tar extraction for miner bundles: go-p2p's `extractTarball`
 * defences (node.md §9.4) plus limits of our own. Tar parsing uses the npm
 * `tar-stream` library; the policy here decides what reaches the disk.
 *
 * - every entry name is checked (even of skipped types): no NUL, not
 *   absolute, no `..` escape, contained in the destination after cleaning;
 * - the destination is resolved with `realPath`, and each parent directory is
 *   resolved again before a file is created in it, so symlinked parents
 *   cannot lead outside;
 * - symlinks, hard links, devices and FIFOs are skipped;
 * - sparse files (the GNU PAX formats 0.0, 0.1 and 1.0) are refused: their
 *   content is a sparse map, not the file, and expanding it would let a
 *   small archive declare a huge file; no bundle Go or we create has one;
 * - files are written to a temporary name in their directory and renamed
 *   into place only when complete (a rename replaces a planted symlink
 *   instead of following it);
 * - caps: bytes per file (100 MiB, as Go), total bytes, entry count;
 * - on any failure everything this extraction created is removed.
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import { tar } from "./borg/_tar.ts";
import { Buffer } from "node:buffer";
import {
  dirname,
  isAbsolute,
  join,
  normalize,
  posix,
  resolve,
} from "node:path";

/**
 * What went wrong with a bundle.
 *
 * - `invalid_bundle`: the bundle JSON or its data is malformed.
 * - `checksum_mismatch`: `checksum` is not the SHA-256 of `data`.
 * - `decryption_failed`: the STIM does not open (wrong password, tampering).
 * - `invalid_name`: the bundle name is not a safe single path component.
 * - `invalid_tar`: the archive is malformed.
 * - `absolute_path`, `path_traversal`, `path_escape`: hostile entry names.
 * - `file_too_large`, `total_too_large`, `too_many_entries`: caps exceeded.
 * - `unsupported_entry`: an entry kind we refuse to extract (sparse files).
 * - `io_failed`: reading or writing the file system failed.
 */
export type BundleErrorCode =
  | "invalid_bundle"
  | "checksum_mismatch"
  | "decryption_failed"
  | "invalid_name"
  | "invalid_tar"
  | "absolute_path"
  | "path_traversal"
  | "path_escape"
  | "file_too_large"
  | "total_too_large"
  | "too_many_entries"
  | "unsupported_entry"
  | "io_failed";

/**
 * A bundle creation, verification or extraction failure.
 *
 * @example Checking the code
 * ```ts
 * import { BundleError, extractProfileBundle } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bundle = { type: "profile" as const, name: "p", data: new Uint8Array([123]), checksum: "00" };
 * await assert.rejects(extractProfileBundle(bundle, "pw"), (e) => e instanceof BundleError && e.code === "checksum_mismatch");
 * ```
 */
export class BundleError extends CodedError<BundleErrorCode> {
  /** Always `"BundleError"`. */
  override readonly name = "BundleError";
}

/** Go's per-file cap (100 MiB). */
export const EXTRACT_MAX_FILE_BYTES = 100 * 1024 * 1024;
/** Default cap on all extracted bytes (1 GiB). */
export const EXTRACT_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Default cap on tar entries (10 000). */
export const EXTRACT_MAX_ENTRIES = 10_000;

/** Options for {@linkcode extractTarball}. */
export interface ExtractOptions {
  /** Bytes per file (default 100 MiB, as Go). */
  maxFileBytes?: number;
  /** Bytes in total (default 1 GiB). */
  maxTotalBytes?: number;
  /** Tar entries (default 10 000). */
  maxEntries?: number;
  /**
   * When no entry has an execute bit, give the owner execute bit to the
   * first regular file whose content starts with an executable signature
   * (ELF, Mach-O, PE `MZ`, `#!`) and report it (default true).
   */
  restoreExecutable?: boolean;
}

/** Result of {@linkcode extractTarball}. */
export interface ExtractResult {
  /** Absolute path of the miner (first executable file), or "" if none. */
  executable: string;
  /** Absolute paths of the regular files written, in archive order. */
  files: string[];
}

function fail(
  code: BundleErrorCode,
  message: string,
  cause?: unknown,
): BundleError {
  return new BundleError(
    code,
    `Cannot extract tarball: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function looksExecutable(head: Uint8Array): boolean {
  const b = (i: number) => head[i] ?? -1;
  if (b(0) === 0x7f && b(1) === 0x45 && b(2) === 0x4c && b(3) === 0x46) {
    return true; // ELF
  }
  if (b(0) === 0x23 && b(1) === 0x21) return true; // #!
  if (b(0) === 0x4d && b(1) === 0x5a) return true; // MZ
  const w = ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
  return [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(
    w,
  );
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith("/") ? root : root + "/");
}

/** An entry name for an error message: quoted, at most 128 characters. */
function quoteName(name: string): string {
  return JSON.stringify(name.length > 128 ? name.slice(0, 128) + "…" : name);
}

/** Whether PAX records describe a GNU sparse file (formats 0.0, 0.1, 1.0). */
function isSparse(pax: Record<string, string> | null | undefined): boolean {
  if (pax === null || pax === undefined) return false;
  return Object.keys(pax).some((k) => k.startsWith("GNU.sparse."));
}

/** Checks an entry name as Go does and returns the cleaned relative path. */
function checkName(name: string): string {
  if (name.includes("\0")) {
    throw fail("path_escape", `invalid tar entry: NUL in name`);
  }
  const clean = posix.normalize(name);
  if (posix.isAbsolute(clean) || isAbsolute(name)) {
    throw fail(
      "absolute_path",
      `invalid tar entry: absolute path not allowed: ${quoteName(name)}`,
    );
  }
  if (clean === ".." || clean.startsWith("../")) {
    throw fail(
      "path_traversal",
      `invalid tar entry: path traversal attempt: ${quoteName(name)}`,
    );
  }
  return clean;
}

async function lstatOrUndefined(p: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

let tempCounter = 0;

/**
 * Extracts a tar archive into `destDir` under the policy described in the
 * module docs.
 *
 * @param archive The tar bytes.
 * @param destDir The destination directory (created if missing).
 * @param options Caps and the executable-bit policy.
 * @returns The executable path (or "") and the files written.
 * @throws {BundleError} `absolute_path`, `path_traversal`, `path_escape`,
 *   `file_too_large`, `total_too_large`, `too_many_entries`,
 *   `unsupported_entry`, `invalid_tar` or `io_failed`; nothing created by
 *   this call remains afterwards.
 */
export async function extractTarball(
  archive: Uint8Array,
  destDir: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const maxFile = options.maxFileBytes ?? EXTRACT_MAX_FILE_BYTES;
  const maxTotal = options.maxTotalBytes ?? EXTRACT_MAX_TOTAL_BYTES;
  const maxEntries = options.maxEntries ?? EXTRACT_MAX_ENTRIES;
  const restore = options.restoreExecutable ?? true;

  const created: string[] = []; // files and directories, in creation order
  const files: string[] = [];
  let executable = "";
  let candidate = "";
  const dest = resolve(destDir);
  try {
    await mkdirTracked(dest, created);
    const root = await Deno.realPath(dest);
    const extract = tar.extract({ allowUnknownFormat: true });
    extract.end(
      Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength),
    );
    let entries = 0;
    let total = 0;
    try {
      for await (const entry of extract) {
        const h = entry.header;
        if (++entries > maxEntries) {
          throw fail("too_many_entries", `more than ${maxEntries} entries`);
        }
        const clean = checkName(h.name);
        if (isSparse(h.pax)) {
          throw fail(
            "unsupported_entry",
            `sparse file ${quoteName(h.name)} is not supported`,
          );
        }
        const full = normalize(join(root, clean));
        if (!inside(root, full)) {
          throw fail(
            "path_escape",
            `invalid tar entry: path escape attempt: ${quoteName(h.name)}`,
          );
        }
        if (h.type === "directory") {
          await drain(entry);
          await mkdirSafe(root, full, created);
          continue;
        }
        if (h.type !== "file" && h.type !== "contiguous-file") {
          await drain(entry); // links, devices, FIFOs: skipped
          continue;
        }
        if (full === root) {
          throw fail(
            "path_escape",
            `invalid tar entry: ${quoteName(h.name)}`,
          );
        }
        const parent = await mkdirSafe(root, dirname(full), created);
        const target = join(parent, posix.basename(full));
        const tmp = join(
          parent,
          `.${posix.basename(full)}.${Deno.pid}.${++tempCounter}.part`,
        );
        const mode = (h.mode ?? 0o644) & 0o755;
        let head = new Uint8Array();
        let file: Deno.FsFile | undefined;
        let existing: Deno.FileInfo | undefined;
        try {
          file = await Deno.open(tmp, {
            write: true,
            createNew: true,
            mode: 0o600,
          });
          let size = 0;
          for await (const chunk of entry as AsyncIterable<Uint8Array>) {
            size += chunk.length;
            total += chunk.length;
            if (size > maxFile) {
              throw fail(
                "file_too_large",
                `file ${quoteName(h.name)} exceeds maximum size`,
              );
            }
            if (total > maxTotal) {
              throw fail(
                "total_too_large",
                `archive exceeds ${maxTotal} bytes`,
              );
            }
            if (head.length < 4) {
              const n = new Uint8Array(Math.min(4, head.length + chunk.length));
              n.set(head);
              n.set(chunk.subarray(0, n.length - head.length), head.length);
              head = n;
            }
            let off = 0;
            while (off < chunk.length) {
              off += await file.write(chunk.subarray(off));
            }
          }
          file.close();
          file = undefined;
          await Deno.chmod(tmp, mode);
          existing = await lstatOrUndefined(target);
          if (existing?.isDirectory) {
            throw fail(
              "io_failed",
              `cannot replace directory with file ${quoteName(h.name)}`,
            );
          }
          await Deno.rename(tmp, target);
        } catch (e) {
          file?.close();
          await Deno.remove(tmp).catch(() => {});
          throw e;
        }
        if (existing === undefined && !created.includes(target)) {
          created.push(target);
        }
        files.push(target);
        if (executable === "" && (mode & 0o111) !== 0) executable = target;
        if (candidate === "" && looksExecutable(head)) candidate = target;
      }
    } catch (e) {
      extract.destroy();
      throw e;
    }
    if (executable === "" && restore && candidate !== "") {
      const info = await Deno.stat(candidate);
      await Deno.chmod(candidate, ((info.mode ?? 0o600) & 0o777) | 0o100);
      executable = candidate;
    }
    return { executable, files };
  } catch (e) {
    for (const p of created.reverse()) await Deno.remove(p).catch(() => {});
    if (e instanceof BundleError) throw e;
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.PermissionDenied ||
      e instanceof Deno.errors.AlreadyExists ||
      e instanceof Deno.errors.NotADirectory ||
      e instanceof Deno.errors.IsADirectory
    ) {
      throw fail("io_failed", (e as Error).message, e);
    }
    throw fail("invalid_tar", "malformed archive", e);
  }
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) { /* discard */ }
}

/** Creates `dir` (and parents) if missing, recording what was created. */
async function mkdirTracked(dir: string, created: string[]): Promise<void> {
  const missing: string[] = [];
  let p = dir;
  while (!(await lstatOrUndefined(p))) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing.reverse()) {
    await Deno.mkdir(m, { mode: 0o755 });
    created.push(m);
  }
}

/**
 * Creates directory `dir` inside `root` one component at a time, refusing
 * to go through anything that resolves outside `root` (symlinked parents).
 * Returns the real path of `dir`.
 */
async function mkdirSafe(
  root: string,
  dir: string,
  created: string[],
): Promise<string> {
  const rel = posix.relative(root, dir);
  let cur = root;
  if (rel !== "") {
    for (const part of rel.split("/")) {
      const next = join(cur, part);
      const info = await lstatOrUndefined(next);
      if (info === undefined) {
        await Deno.mkdir(next, { mode: 0o755 });
        created.push(next);
      } else if (!info.isDirectory) {
        if (!info.isSymlink) {
          throw fail("io_failed", `${JSON.stringify(rel)} is not a directory`);
        }
      }
      const real = await Deno.realPath(next);
      if (!inside(root, real)) {
        throw fail(
          "path_escape",
          `invalid tar entry: directory resolves outside the destination`,
        );
      }
      if (!(await Deno.stat(real)).isDirectory) {
        throw fail("io_failed", `${JSON.stringify(rel)} is not a directory`);
      }
      cur = real;
    }
  }
  return cur;
}
