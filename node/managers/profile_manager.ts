/**
 * {@linkcode FileProfileManager}: stores mining profiles as one JSON file
 * each under the node's data directory, written atomically.
 *
 * @module
 */

import { join } from "node:path";
import { readFileIfExists } from "../_fs.ts";
import { writeFileAtomic } from "../files.ts";
import { defaultPaths } from "../_paths.ts";
import type { JsonValue } from "../message.ts";
import { isSafeName } from "./_names.ts";
import { ProfileError } from "./errors.ts";
import type { ProfileManager } from "./miner_manager.ts";

/** Largest profile file accepted, in bytes (1 MiB). */
export const MAX_PROFILE_BYTES = 1 << 20;

/** Options of {@linkcode FileProfileManager}. */
export interface FileProfileManagerOptions {
  /** Directory of the profile files (default `<XDG data>/lethean-desktop/profiles`). */
  dir?: string;
}

/**
 * Returns the ID a profile is stored under: its `id` string, else its
 * `name` string.
 *
 * @param profile The profile.
 * @returns The ID.
 * @throws {ProfileError} `invalid_profile` when it is not an object;
 * `invalid_id` when it has no usable ID.
 */
function profileId(profile: JsonValue): string {
  if (
    profile === null || typeof profile !== "object" || Array.isArray(profile)
  ) {
    throw new ProfileError(
      "invalid_profile",
      "Cannot save profile: a profile must be a JSON object",
    );
  }
  const id = typeof profile.id === "string" && profile.id !== ""
    ? profile.id
    : profile.name;
  if (!isSafeName(id)) {
    throw new ProfileError(
      "invalid_id",
      "Cannot save profile: its id (or name) must be a safe file name",
    );
  }
  return id;
}

/**
 * A {@linkcode ProfileManager} keeping each profile in `<dir>/<id>.json`
 * (mode 0600: profiles hold wallet addresses and pool passwords). A profile
 * is any JSON object with a string `id` (or, failing that, `name`) that is a
 * safe file name. Writes are atomic (temporary file, fsync, rename).
 *
 * @example Saving and loading a profile
 * ```ts
 * import { FileProfileManager } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const profiles = new FileProfileManager({ dir });
 * await profiles.saveProfile({ id: "p1", minerType: "xmrig", config: { pools: [] } });
 * assert.deepEqual(await profiles.getProfile("p1"), {
 *   id: "p1", minerType: "xmrig", config: { pools: [] },
 * });
 * assert.deepEqual(await profiles.listProfiles(), ["p1"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileProfileManager implements ProfileManager {
  readonly #dir: string;

  /**
   * Creates the manager (the directory is created on the first save).
   *
   * @param options The directory.
   */
  constructor(options: FileProfileManagerOptions = {}) {
    this.#dir = options.dir ?? join(defaultPaths().dataDir, "profiles");
  }

  /** The directory of the profile files. */
  get dir(): string {
    return this.#dir;
  }

  #path(id: string, action: string): string {
    if (!isSafeName(id)) {
      throw new ProfileError(
        "invalid_id",
        `Cannot ${action} profile: the id must be a safe file name`,
      );
    }
    return join(this.#dir, `${id}.json`);
  }

  /**
   * Loads a profile.
   *
   * @param id The profile ID.
   * @returns The stored JSON value.
   * @throws {ProfileError} `invalid_id`, `not_found` or `corrupt`.
   */
  async getProfile(id: string): Promise<JsonValue> {
    const path = this.#path(id, "load");
    const bytes = await readFileIfExists(path);
    if (bytes === undefined) {
      throw new ProfileError(
        "not_found",
        `Cannot load profile: not found: ${id}`,
      );
    }
    if (bytes.byteLength > MAX_PROFILE_BYTES) {
      throw new ProfileError(
        "corrupt",
        `Cannot load profile ${id}: file too large`,
      );
    }
    try {
      return JSON.parse(
        new TextDecoder("utf-8", { fatal: true }).decode(bytes),
      );
    } catch (err) {
      throw new ProfileError(
        "corrupt",
        `Cannot load profile ${id}: invalid JSON`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * Stores a profile under its `id` (or `name`), replacing any previous one.
   *
   * @param profile The profile object.
   * @returns Resolves when the file is durable.
   * @throws {ProfileError} `invalid_profile` or `invalid_id`.
   */
  async saveProfile(profile: JsonValue): Promise<void> {
    const id = profileId(profile);
    const text = JSON.stringify(profile, null, 2) + "\n";
    if (text.length > MAX_PROFILE_BYTES) {
      throw new ProfileError(
        "invalid_profile",
        "Cannot save profile: larger than 1 MiB",
      );
    }
    await writeFileAtomic(this.#path(id, "save"), text, {
      mode: 0o600,
      dirMode: 0o700,
    });
  }

  /**
   * Lists the stored profile IDs, sorted.
   *
   * @returns The IDs (empty when the directory does not exist).
   */
  async listProfiles(): Promise<string[]> {
    const ids: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (!e.isFile || !e.name.endsWith(".json")) continue;
        const id = e.name.slice(0, -5);
        if (isSafeName(id)) ids.push(id);
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    return ids.sort();
  }

  /**
   * Deletes a profile.
   *
   * @param id The profile ID.
   * @returns `true` when a profile was deleted, `false` when there was none.
   * @throws {ProfileError} `invalid_id`.
   */
  async deleteProfile(id: string): Promise<boolean> {
    try {
      await Deno.remove(this.#path(id, "delete"));
      return true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }
}
