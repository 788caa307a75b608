/**
 * {@linkcode PeerSettings}: what an operator decides about peers that Go's
 * files have no place for — the admission mode chosen with `peers mode`
 * and the peers not to dial — kept in a sidecar of the peers file
 * (`peers.json.settings.json`), so that `peers.json` stays exactly Go's
 * format. Every change is on disk (atomic write, fsync) before the promise
 * that made it resolves.
 *
 * @module
 */

import { getGlobalLogger, type Logger } from "../../logging/mod.ts";
import { readFileIfExists, removeStaleTemps } from "../_fs.ts";
import { writeFileAtomic } from "../files.ts";
import type { AuthMode } from "../peer.ts";

/** Suffix of the settings sidecar, after the peers file path. */
export const PEER_SETTINGS_SUFFIX = ".settings.json";

/** Most peer IDs kept in the no-dial list. */
export const MAX_NO_DIAL = 100_000;

/** Options of {@linkcode PeerSettings.open}. */
export interface PeerSettingsOptions {
  /** Logger (a `node:registry` child is used). */
  logger?: Logger;
}

interface Doc {
  authMode?: AuthMode;
  noDial: string[];
}

function parse(text: string): Doc | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "not valid JSON";
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return "not a JSON object";
  }
  const o = v as Record<string, unknown>;
  const doc: Doc = { noDial: [] };
  if (o.authMode !== undefined) {
    if (o.authMode !== "open" && o.authMode !== "allowlist") {
      return "authMode is neither open nor allowlist";
    }
    doc.authMode = o.authMode;
  }
  if (o.noDial !== undefined) {
    if (
      !Array.isArray(o.noDial) || o.noDial.length > MAX_NO_DIAL ||
      !o.noDial.every((x) => typeof x === "string" && x.length <= 128)
    ) {
      return "noDial is not a list of peer IDs";
    }
    doc.noDial = o.noDial as string[];
  }
  return doc;
}

/**
 * The operator's peer settings (see the module doc).
 *
 * @example Marking a peer not to be dialled survives a reopen
 * ```ts
 * import { PeerSettings } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const s = await PeerSettings.open(`${dir}/peers.json`);
 * await s.setDial("aaa8fff703b50b2297f4f6e13508f724", false);
 * await s.setAuthMode("allowlist");
 * const again = await PeerSettings.open(`${dir}/peers.json`);
 * assert.equal(again.isDialDisabled("aaa8fff703b50b2297f4f6e13508f724"), true);
 * assert.equal(again.authMode, "allowlist");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class PeerSettings {
  readonly #path: string;
  readonly #log: Logger;
  #authMode: AuthMode | undefined;
  readonly #noDial = new Set<string>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
  }

  /**
   * Opens the settings beside a peers file (absent: empty settings). A
   * damaged file is renamed to `<file>.corrupt-<ms>` and logged, and the
   * settings start empty.
   *
   * @param peersPath The peers file (`peers.json`).
   * @param options Logger.
   * @returns The settings.
   * @throws {Error} When the file exists but cannot be read.
   */
  static async open(
    peersPath: string,
    options: PeerSettingsOptions = {},
  ): Promise<PeerSettings> {
    const path = peersPath + PEER_SETTINGS_SUFFIX;
    const log = (options.logger ?? getGlobalLogger()).child("node:registry");
    const s = new PeerSettings(path, log);
    await removeStaleTemps(path);
    const bytes = await readFileIfExists(path);
    if (bytes === undefined) return s;
    const doc = parse(new TextDecoder().decode(bytes));
    if (typeof doc === "string") {
      const aside = `${path}.corrupt-${Date.now()}`;
      await Deno.rename(path, aside);
      log.error("damaged peer settings file kept aside", {
        path,
        kept_as: aside,
        problem: doc,
      });
      return s;
    }
    s.#authMode = doc.authMode;
    for (const id of doc.noDial) s.#noDial.add(id);
    return s;
  }

  /** The settings file. */
  get path(): string {
    return this.#path;
  }

  /** The admission mode last set with {@linkcode PeerSettings.setAuthMode}, if any. */
  get authMode(): AuthMode | undefined {
    return this.#authMode;
  }

  /**
   * Records the admission mode.
   *
   * @param mode `open` or `allowlist`.
   * @returns Resolves once the file is durable.
   * @throws {TypeError} For another value.
   */
  setAuthMode(mode: AuthMode): Promise<void> {
    if (mode !== "open" && mode !== "allowlist") {
      return Promise.reject(
        new TypeError(
          `Invalid auth mode: expected "open" or "allowlist", got ${
            String(mode)
          }`,
        ),
      );
    }
    this.#authMode = mode;
    return this.#save();
  }

  /**
   * Whether a peer is marked not to be dialled.
   *
   * @param id The peer ID.
   * @returns `true` when marked.
   */
  isDialDisabled(id: string): boolean {
    return this.#noDial.has(id);
  }

  /**
   * The peers marked not to be dialled, sorted.
   *
   * @returns Their IDs.
   */
  listNoDial(): string[] {
    return [...this.#noDial].sort();
  }

  /**
   * Marks a peer to be dialled (the default) or not.
   *
   * @param id The peer ID.
   * @param enabled `false` to stop dialling it.
   * @returns Resolves once the file is durable.
   * @throws {RangeError} For an empty ID or a full list.
   */
  setDial(id: string, enabled: boolean): Promise<void> {
    if (typeof id !== "string" || id === "" || id.length > 128) {
      return Promise.reject(new RangeError("Invalid peer ID"));
    }
    if (enabled) this.#noDial.delete(id);
    else {
      if (!this.#noDial.has(id) && this.#noDial.size >= MAX_NO_DIAL) {
        return Promise.reject(
          new RangeError(`Cannot mark peer: ${MAX_NO_DIAL} peers are marked`),
        );
      }
      this.#noDial.add(id);
    }
    return this.#save();
  }

  /**
   * Drops everything recorded about a peer (it was removed).
   *
   * @param id The peer ID.
   * @returns Resolves once the file is durable (at once when nothing changed).
   */
  forget(id: string): Promise<void> {
    return this.#noDial.delete(id) ? this.#save() : Promise.resolve();
  }

  #save(): Promise<void> {
    const doc: Doc = { noDial: this.listNoDial() };
    if (this.#authMode !== undefined) doc.authMode = this.#authMode;
    const text = JSON.stringify(doc, null, 2) + "\n";
    const run = this.#writes.then(() =>
      writeFileAtomic(this.#path, text, { mode: 0o644, dirMode: 0o700 })
    );
    this.#writes = run.catch(() => {});
    return run.catch((err) => {
      this.#log.error("failed to save peer settings", {
        path: this.#path,
        error: (err as Error).message,
      });
      throw err;
    });
  }
}
