/**
 * What a crashed node leaves in its directories, removed at the next start
 * (under the directory lock, so no other node is using them): miner
 * staging directories of an interrupted deploy, the controller's deploy
 * scratch space, temporary files of an interrupted atomic write, and the
 * miner run configs of miners that died with their worker.
 *
 * @module
 */

import { join } from "node:path";
import { removeStaleTempsIn } from "./_fs.ts";

/** The directories a node owns. */
export interface LeftoverDirs {
  /** Data directory (`node/`, `miners/`, `profiles/`, `run/`, `tmp/`). */
  dataDir: string;
  /** Config directory (identity, registry, control file). */
  configDir: string;
}

/** The worker's staging directories: `miners/.<name>.deploy-<random>`. */
const STAGING = /^\..+\.deploy-[A-Za-z0-9_-]+$/;

async function entries(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e);
  } catch {
    // absent: nothing to clean
  }
  return out;
}

/**
 * The controller's scratch space for building bundles
 * (`<dataDir>/tmp`), emptied at start.
 *
 * @param dataDir The data directory.
 * @returns The path.
 */
export function scratchDir(dataDir: string): string {
  return join(dataDir, "tmp");
}

/**
 * Removes the leftovers of a crashed node. Call it only while holding the
 * directory lock. Failures to remove one entry are skipped.
 *
 * @param dirs The node's directories.
 * @returns The paths removed (relative to their directory's parent).
 */
export async function removeLeftovers(dirs: LeftoverDirs): Promise<string[]> {
  const removed: string[] = [];
  const rm = async (path: string, recursive: boolean) => {
    try {
      await Deno.remove(path, { recursive });
      removed.push(path);
    } catch {
      // gone already, or not ours to remove
    }
  };
  const miners = join(dirs.dataDir, "miners");
  for (const e of await entries(miners)) {
    if (e.isDirectory && STAGING.test(e.name)) {
      await rm(join(miners, e.name), true);
    }
  }
  const scratch = scratchDir(dirs.dataDir);
  for (const e of await entries(scratch)) {
    await rm(join(scratch, e.name), true);
  }
  const run = join(dirs.dataDir, "run");
  for (const e of await entries(run)) {
    if (e.isFile && e.name.endsWith(".json")) {
      await rm(join(run, e.name), false);
    }
  }
  for (
    const dir of [
      dirs.configDir,
      join(dirs.dataDir, "node"),
      join(dirs.dataDir, "profiles"),
      run,
    ]
  ) {
    for (const name of await removeStaleTempsIn(dir)) {
      removed.push(join(dir, name));
    }
  }
  return removed;
}
