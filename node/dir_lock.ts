/**
 * {@linkcode DirectoryLock}: one running node per data and config
 * directory. Each directory gets a `node.lock` file held with an exclusive
 * advisory lock (`flock` on Linux and macOS, `LockFileEx` on Windows) for as
 * long as the node runs. The kernel drops the lock when the process ends,
 * however it ends (a crash or `kill -9` included), so a stale lock cannot
 * outlive its node and needs no pid check. The file also says who holds it
 * (pid, control URL, start time) for the error a second node reports.
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import { join } from "node:path";

/** Name of the lock file inside each locked directory. */
export const LOCK_FILE_NAME = "node.lock";

/** What a lock file says about its holder. */
export interface LockHolder {
  /** Process ID of the node holding the lock (0 when unknown). */
  pid: number;
  /** Its control API URL, or `""` (none, or not started yet). */
  control: string;
  /** When it took the lock (RFC 3339), or `""`. */
  startedAt: string;
}

/**
 * Another node holds the lock of a directory.
 *
 * @example Telling it apart
 * ```ts
 * import { DirectoryLockedError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const e = new DirectoryLockedError("/srv/node", { pid: 42, control: "", startedAt: "" });
 * assert.equal(e.code, "locked");
 * assert.match(e.message, /pid 42/);
 * ```
 */
export class DirectoryLockedError extends CodedError<"locked"> {
  /** Always `"DirectoryLockedError"`. */
  override readonly name = "DirectoryLockedError";
  /** The locked directory. */
  readonly directory: string;
  /** Who holds it, as far as its lock file says. */
  readonly holder: LockHolder;

  /**
   * Creates the error.
   *
   * @param directory The locked directory.
   * @param holder What its lock file says.
   */
  constructor(directory: string, holder: LockHolder) {
    const who = [
      holder.pid > 0 ? `pid ${holder.pid}` : "pid unknown",
      holder.control !== "" ? `control ${holder.control}` : "",
    ].filter((s) => s !== "").join(", ");
    super(
      "locked",
      `Cannot start node: another node is running on ${directory} (${who})`,
    );
    this.directory = directory;
    this.holder = holder;
  }
}

function parseHolder(text: string): LockHolder {
  const out: LockHolder = { pid: 0, control: "", startedAt: "" };
  try {
    const v = JSON.parse(text) as Partial<LockHolder> | null;
    if (typeof v?.pid === "number" && Number.isSafeInteger(v.pid)) {
      out.pid = v.pid;
    }
    if (typeof v?.control === "string") out.control = v.control.slice(0, 200);
    if (typeof v?.startedAt === "string") {
      out.startedAt = v.startedAt.slice(0, 64);
    }
  } catch {
    // being written, or damaged: the holder stays unknown
  }
  return out;
}

/**
 * Exclusive locks on a node's directories (see the module doc).
 *
 * @example A second lock on the same directory is refused
 * ```ts
 * import { DirectoryLock, DirectoryLockedError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const lock = await DirectoryLock.acquire([dir]);
 * await assert.rejects(
 *   DirectoryLock.acquire([dir]),
 *   (e) => e instanceof DirectoryLockedError && e.holder.pid === Deno.pid,
 * );
 * lock.release();
 * (await DirectoryLock.acquire([dir])).release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DirectoryLock {
  readonly #files: Deno.FsFile[];
  readonly #holder: LockHolder;
  #released = false;

  private constructor(files: Deno.FsFile[], holder: LockHolder) {
    this.#files = files;
    this.#holder = holder;
  }

  /**
   * Locks every distinct directory (creating missing ones, mode 0700), in
   * order; on a refusal, releases what it took.
   *
   * @param dirs The directories.
   * @returns The held lock.
   * @throws {DirectoryLockedError} When another process (or another lock in
   * this process) holds one of them.
   * @throws {Deno.errors.PermissionDenied} And other file-system errors.
   */
  static async acquire(dirs: readonly string[]): Promise<DirectoryLock> {
    const holder: LockHolder = {
      pid: Deno.pid,
      control: "",
      startedAt: new Date().toISOString(),
    };
    const files: Deno.FsFile[] = [];
    const lock = new DirectoryLock(files, holder);
    try {
      for (const dir of [...new Set(dirs)]) {
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        const path = join(dir, LOCK_FILE_NAME);
        // No truncation before the lock is ours: the holder's note stays.
        const f = await Deno.open(path, {
          read: true,
          write: true,
          create: true,
          mode: 0o644,
        });
        let mine = false;
        try {
          mine = await f.tryLock(true);
        } finally {
          if (!mine) f.close();
        }
        if (!mine) {
          const text = await Deno.readTextFile(path).catch(() => "");
          throw new DirectoryLockedError(dir, parseHolder(text));
        }
        files.push(f);
        await lock.#write(f);
      }
    } catch (err) {
      lock.release();
      throw err;
    }
    return lock;
  }

  /**
   * Reads who holds a directory's lock file, if any file is there. The
   * holder may be gone: only {@linkcode DirectoryLock.acquire} can tell.
   *
   * @param dir The directory.
   * @returns What the file says, or `undefined`.
   */
  static async holder(dir: string): Promise<LockHolder | undefined> {
    try {
      return parseHolder(await Deno.readTextFile(join(dir, LOCK_FILE_NAME)));
    } catch {
      return undefined;
    }
  }

  async #write(f: Deno.FsFile): Promise<void> {
    const bytes = new TextEncoder().encode(
      JSON.stringify(this.#holder) + "\n",
    );
    await f.truncate(0);
    await f.seek(0, Deno.SeekMode.Start);
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
  }

  /**
   * Records the control API URL in the lock files (for the error another
   * node reports).
   *
   * @param control The URL.
   * @returns Resolves once written.
   */
  async setControl(control: string): Promise<void> {
    if (this.#released) return;
    this.#holder.control = control;
    for (const f of this.#files) await this.#write(f).catch(() => {});
  }

  /** Whether {@linkcode DirectoryLock.release} was called. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Releases every lock (the files stay, unlocked). Idempotent.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const f of this.#files.splice(0)) {
      try {
        f.close(); // closing drops the lock
      } catch {
        // already closed
      }
    }
  }
}
