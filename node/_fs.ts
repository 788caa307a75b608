/**
 * File helpers shared by the identity store, the registry and the managers.
 *
 * @module
 */

import { dirname } from "node:path";

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** Mode of the new file, applied when it is created (default 0o644). */
  mode?: number;
  /** Mode of parent directories created on the way (default 0o755). */
  dirMode?: number;
}

let tempCounter = 0;

/**
 * Writes a file atomically: the bytes go to a temporary file in the same
 * directory, created with its final mode, are fsync-ed, and the temporary
 * file is renamed over the target; the directory is fsync-ed after the
 * rename where the platform allows. On failure the temporary file is removed
 * and the old file is untouched.
 *
 * @param path The target path.
 * @param data The bytes or text to write.
 * @param options File and directory modes.
 * @returns Resolves when the data is durable.
 * @throws {Deno.errors.PermissionDenied} And other file-system errors.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data;
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o755 });
  const tmp = `${path}.${Deno.pid}.${++tempCounter}.tmp`;
  const mode = options.mode ?? 0o644;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, {
      write: true,
      createNew: true,
      mode,
    });
    // The umask may have narrowed the mode; never widen beyond what was asked.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, mode);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (err) {
    try {
      file?.close();
    } catch {
      // already closed
    }
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}

/**
 * Reads a file, telling "absent" apart from every other failure.
 *
 * @param path The path.
 * @returns The bytes, or `undefined` when the file does not exist.
 * @throws {Error} Any error other than not-found.
 */
export async function readFileIfExists(
  path: string,
): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  if (Deno.build.os !== "linux") return true; // cannot tell: keep the file
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes temporary files that {@linkcode writeFileAtomic} left beside
 * `path` when a process died mid-write (their writer is no longer running).
 * Where liveness cannot be checked, nothing is removed.
 *
 * @param path The target path whose leftovers to remove.
 * @returns The names removed.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  const pattern = new RegExp(
    "^" + base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") +
      "\\.(\\d+)\\.\\d+\\.tmp$",
  );
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const m = entry.isFile ? pattern.exec(entry.name) : null;
      if (!m || processAlive(Number(m[1]))) continue;
      try {
        await Deno.remove(`${dir}/${entry.name}`);
        removed.push(entry.name);
      } catch {
        // another process may have removed it
      }
    }
  } catch {
    // a missing or unreadable directory has nothing to clean
  }
  return removed;
}

/**
 * Removes every temporary file that {@linkcode writeFileAtomic} left in a
 * directory (any target) whose writer is no longer running. Where liveness
 * cannot be checked, nothing is removed.
 *
 * @param dir The directory (absent or unreadable: nothing to do).
 * @returns The names removed.
 */
export async function removeStaleTempsIn(dir: string): Promise<string[]> {
  const pattern = /^.+\.(\d+)\.\d+\.tmp$/;
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const m = entry.isFile ? pattern.exec(entry.name) : null;
      if (!m || processAlive(Number(m[1]))) continue;
      try {
        await Deno.remove(`${dir}/${entry.name}`);
        removed.push(entry.name);
      } catch {
        // another process may have removed it
      }
    }
  } catch {
    // a missing or unreadable directory has nothing to clean
  }
  return removed;
}
