/**
 * File helpers shared by the identity store, the registry and the managers
 * (the public {@linkcode writeFileAtomic} is in `files.ts`).
 *
 * @module
 */

import { dirname } from "node:path";
import { formatGoTime } from "./_go_time.ts";

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
export function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  return removeStale(
    dir,
    new RegExp(
      "^" + base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") +
        "\\.(\\d+)\\.\\d+\\.tmp$",
    ),
  );
}

/**
 * Removes every temporary file that {@linkcode writeFileAtomic} left in a
 * directory (any target) whose writer is no longer running. Where liveness
 * cannot be checked, nothing is removed.
 *
 * @param dir The directory (absent or unreadable: nothing to do).
 * @returns The names removed.
 */
export function removeStaleTempsIn(dir: string): Promise<string[]> {
  return removeStale(dir, /^.+\.(\d+)\.\d+\.tmp$/);
}

/** Removes the files of `dir` matching `pattern` whose writer (group 1) is gone. */
async function removeStale(dir: string, pattern: RegExp): Promise<string[]> {
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
 * Keeps a damaged file aside for the operator: renames it (or copies it,
 * when some of its entries were still usable) to `<path>.corrupt-<time>`,
 * with a `-<n>` suffix when that name is taken.
 *
 * @param path The damaged file.
 * @param now The time in the new name.
 * @param rename Rename (`true`) or copy (`false`).
 * @returns Where it was kept.
 * @throws {Error} The file-system error when it cannot be renamed or copied.
 */
export async function keepAside(
  path: string,
  now: Date,
  rename: boolean,
): Promise<string> {
  const stamp = formatGoTime(now).replace(/[-:.]/g, "");
  let target = `${path}.corrupt-${stamp}`;
  for (let i = 1;; i++) {
    try {
      await Deno.lstat(target);
      target = `${path}.corrupt-${stamp}-${i}`;
    } catch {
      break;
    }
  }
  if (rename) await Deno.rename(path, target);
  else await Deno.copyFile(path, target);
  return target;
}
