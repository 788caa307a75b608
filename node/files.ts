/**
 * Durable file writes: what an operator's change goes through before it is
 * acknowledged.
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
 *
 * @example Writing a file durably
 * ```ts
 * import { writeFileAtomic } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/sub/settings.json`, "{}\n", { mode: 0o600 });
 * assert.equal(await Deno.readTextFile(`${dir}/sub/settings.json`), "{}\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
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
