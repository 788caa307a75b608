/**
 * {@linkcode TrustStore}: the controllers a worker obeys, by public key,
 * persisted in `trusted-controllers.json` beside `peers.json`.
 *
 * The file is ours (Go has no such list, node.md §13.1 item 5):
 *
 * ```json
 * {
 *   "version": 1,
 *   "controllers": [
 *     { "publicKey": "B6N8…HHw=", "nodeId": "aaa8…f724", "name": "alpha",
 *       "addedAt": "2026-05-01T10:00:00Z" }
 *   ]
 * }
 * ```
 *
 * The key is what is trusted; `nodeId` (derived from the key, recomputed on
 * load) and `name` are for the operator reading the file.
 *
 * @module
 */

import { dirname } from "node:path";
import { getGlobalLogger, type Logger } from "../../logging/mod.ts";
import { keepAside, readFileIfExists, removeStaleTemps } from "../_fs.ts";
import { writeFileAtomic } from "../files.ts";
import { formatGoTime } from "../_go_time.ts";
import { keyPrefix, sanitizePeerName } from "../peer.ts";
import { TrustError } from "./errors.ts";
import { parseControllerKey } from "./pairing.ts";

/** The file name of the trust list in a node's config directory. */
export const TRUST_FILE_NAME = "trusted-controllers.json";

/** Where a trusted key came from. */
export type TrustSource =
  /** Added at run time (`peers trust`, {@linkcode TrustStore.trust}) and kept in the file. */
  | "file"
  /** Given when the node started (`start --trust`, the config file, `pinned`). */
  | "config";

/** One trusted controller. */
export interface TrustedController {
  /** Its public key, padded standard base64. */
  publicKey: string;
  /** The node ID derived from the key. */
  nodeId: string;
  /** A label (from the pairing code or the operator; may be `""`). */
  name: string;
  /** When it was trusted (RFC 3339; `""` when unknown). */
  addedAt: string;
  /** Where the entry came from. */
  source: TrustSource;
}

/** Options of {@linkcode TrustStore.open}. */
export interface TrustStoreOptions {
  /**
   * Keys trusted for the life of this store and never written to the file:
   * public keys or pairing codes (as `start --trust` takes them).
   */
  pinned?: Iterable<string>;
  /**
   * A damaged file: `"keep-aside"` (default) renames it to
   * `<path>.corrupt-<time>` (or copies it when only some entries were bad)
   * and starts without its entries; `"throw"` rejects `open()`.
   */
  onCorruptFile?: "keep-aside" | "throw";
  /** Logger (default: the global logger, component `node:trust`). */
  logger?: Logger;
  /** Clock (default: the system clock). */
  now?: () => Date;
}

/** What was wrong with the file at open. */
export interface TrustLoadReport {
  /** Problems found. */
  problems: string[];
  /** Where damaged files were kept. */
  keptAside: string[];
}

/** What {@linkcode TrustStore.trust} and {@linkcode TrustStore.distrust} report. */
export interface TrustChange {
  /** Whether the list changed (`false`: it was already so). */
  changed: boolean;
  /** The entry concerned. */
  controller: TrustedController;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The controllers a worker obeys. Reads are synchronous and cheap (one
 * `Set` lookup per command); every change is written to the file (atomic,
 * fsync-ed, mode 0600) before the promise that made it resolves.
 *
 * - {@linkcode TrustStore.trust} takes effect only once the file holds it:
 *   a failed write trusts nobody new.
 * - {@linkcode TrustStore.distrust} takes effect at once; if the write
 *   fails, the key stays distrusted for this run and the error says that the
 *   file still lists it.
 * - Keys given as `pinned` (start options) are trusted but never written,
 *   and cannot be distrusted at run time.
 * - A damaged file is reported and kept aside, never silently replaced; the
 *   store then starts without its entries (trusting fewer, never more).
 *
 * @example Trusting a controller, across a restart
 * ```ts
 * import { TrustStore } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * const store = await TrustStore.open(`${dir}/trusted-controllers.json`);
 * assert.equal(store.isTrusted(key), false);
 * await store.trust(key, { name: "alpha" });
 * assert.equal(store.isTrusted(key), true);
 * await store.close();
 *
 * const again = await TrustStore.open(`${dir}/trusted-controllers.json`);
 * assert.equal(again.list()[0]?.name, "alpha");
 * await again.distrust(key);
 * assert.equal(again.isTrusted(key), false);
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TrustStore {
  readonly #path: string;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #onCorrupt: "keep-aside" | "throw";
  /** Entries in the file (as last written or loaded). */
  readonly #file = new Map<string, TrustedController>();
  readonly #pinned = new Map<string, TrustedController>();
  /** Every key trusted right now (file ∪ pinned). */
  readonly #trusted = new Set<string>();
  #writes: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #report: TrustLoadReport = { problems: [], keptAside: [] };

  private constructor(path: string, options: TrustStoreOptions) {
    this.#path = path;
    this.#log = (options.logger ?? getGlobalLogger()).child("node:trust");
    this.#now = options.now ?? (() => new Date());
    this.#onCorrupt = options.onCorruptFile ?? "keep-aside";
    for (const text of options.pinned ?? []) {
      const k = parseControllerKey(text);
      this.#pinned.set(k.publicKey, {
        publicKey: k.publicKey,
        nodeId: k.nodeId,
        name: k.name,
        addedAt: "",
        source: "config",
      });
    }
  }

  /**
   * Opens the trust list, loading the file if it exists (its directory is
   * created with mode 0700 when missing).
   *
   * @param path The file (normally `<config dir>/trusted-controllers.json`).
   * @param options Pinned keys, corrupt-file policy, logger, clock.
   * @returns The store.
   * @throws {TrustError} `load_failed` when the file cannot be read;
   * `corrupt_file` when it is damaged and `onCorruptFile` is `"throw"`;
   * `invalid_key`/`invalid_code` for a bad pinned key.
   *
   * @example Pinned keys are trusted but not written
   * ```ts
   * import { TrustStore } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
   * const store = await TrustStore.open(`${dir}/t.json`, { pinned: [key] });
   * assert.equal(store.isTrusted(key), true);
   * assert.equal(store.list()[0]?.source, "config");
   * await store.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(
    path: string,
    options: TrustStoreOptions = {},
  ): Promise<TrustStore> {
    const store = new TrustStore(path, options);
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await removeStaleTemps(path);
    await store.#load();
    store.#rebuild();
    return store;
  }

  /** The file path. */
  get path(): string {
    return this.#path;
  }

  /** What was wrong with the file at open (a copy). */
  get loadReport(): TrustLoadReport {
    return {
      problems: [...this.#report.problems],
      keptAside: [...this.#report.keptAside],
    };
  }

  /** How many controllers are trusted (file and pinned). */
  get size(): number {
    return this.#trusted.size;
  }

  /**
   * Tells whether a public key is trusted.
   *
   * @param publicKey The key as the handshake presented it (padded standard base64).
   * @returns `true` when trusted.
   */
  isTrusted(publicKey: string): boolean {
    return this.#trusted.has(publicKey);
  }

  /**
   * Finds a trusted entry by public key, pairing code, node ID (or a unique
   * ID prefix of 4+ characters) or name.
   *
   * @param ref What to look for.
   * @returns The entry, or `undefined` when none or several match.
   */
  find(ref: string): TrustedController | undefined {
    const all = this.list();
    try {
      const key = parseControllerKey(ref).publicKey;
      const hit = all.find((c) => c.publicKey === key);
      if (hit) return hit;
    } catch {
      // not a key: try IDs and names
    }
    const lower = ref.toLowerCase();
    let hits = all.filter((c) => c.nodeId === lower);
    if (hits.length === 0) {
      hits = all.filter((c) => c.name !== "" && c.name === ref);
    }
    if (hits.length === 0 && ref.length >= 4) {
      hits = all.filter((c) => c.nodeId.startsWith(lower));
    }
    return hits.length === 1 ? hits[0] : undefined;
  }

  /**
   * Lists the trusted controllers (copies), pinned ones first, then by name
   * and key.
   *
   * @returns The entries.
   */
  list(): TrustedController[] {
    const out: TrustedController[] = [...this.#pinned.values()].map((c) => ({
      ...c,
    }));
    for (const c of this.#file.values()) {
      if (!this.#pinned.has(c.publicKey)) out.push({ ...c });
    }
    return out.sort((a, b) =>
      a.source !== b.source
        ? (a.source === "config" ? -1 : 1)
        : a.name !== b.name
        ? (a.name < b.name ? -1 : 1)
        : a.publicKey < b.publicKey
        ? -1
        : a.publicKey > b.publicKey
        ? 1
        : 0
    );
  }

  /**
   * Trusts a controller and writes the file; the key is trusted once the
   * write is durable.
   *
   * @param key A public key or a pairing code.
   * @param options A name for the entry (default: the code's name).
   * @returns Whether the list changed, and the entry.
   * @throws {TrustError} `invalid_key`, `invalid_code`, or `save_failed`
   * (nothing is trusted then).
   * @throws {RangeError} For a name that is not a valid peer name.
   */
  trust(key: string, options: { name?: string } = {}): Promise<TrustChange> {
    let k: ReturnType<typeof parseControllerKey>;
    try {
      k = parseControllerKey(key);
      if (
        options.name !== undefined &&
        (typeof options.name !== "string" ||
          sanitizePeerName(options.name) !== options.name)
      ) {
        throw new RangeError(
          "Cannot trust controller: the name must be a peer name (letters, digits, '-', '_' and spaces, at most 64)",
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      const pinned = this.#pinned.get(k.publicKey);
      const old = this.#file.get(k.publicKey);
      const name = options.name ?? (k.name || old?.name || "");
      if (pinned && !old) return { changed: false, controller: { ...pinned } };
      if (old && old.name === name) {
        return { changed: false, controller: { ...old } };
      }
      const entry: TrustedController = {
        publicKey: k.publicKey,
        nodeId: k.nodeId,
        name,
        addedAt: old?.addedAt || formatGoTime(this.#now()),
        source: "file",
      };
      const next = new Map(this.#file);
      next.set(k.publicKey, entry);
      await this.#write(next, "trust");
      this.#file.set(k.publicKey, entry);
      this.#trusted.add(k.publicKey);
      this.#log.info("controller trusted", {
        peer_id: k.nodeId,
        name,
        key: keyPrefix(k.publicKey),
      });
      return { changed: !old, controller: { ...entry } };
    });
  }

  /**
   * Stops trusting a controller and writes the file. The key is distrusted
   * at once, even if the write then fails.
   *
   * @param ref A public key, a pairing code, or the node ID or name of a
   * trusted entry.
   * @returns The removed entry.
   * @throws {TrustError} `not_trusted`; `pinned` for a key given at start;
   * `save_failed` (the key stays distrusted until restart, the file still
   * lists it).
   */
  distrust(ref: string): Promise<TrustChange> {
    const entry = this.find(ref);
    if (!entry) {
      return Promise.reject(
        new TrustError(
          "not_trusted",
          "Cannot distrust controller: no trusted controller matches that key, ID or name",
        ),
      );
    }
    if (entry.source === "config") {
      return Promise.reject(
        new TrustError(
          "pinned",
          "Cannot distrust controller: it was given at start (--trust or the config file); remove it there and restart",
        ),
      );
    }
    // Fail closed at once: no command from it is obeyed from here on.
    this.#trusted.delete(entry.publicKey);
    return this.#enqueue(async () => {
      // A trust() queued before this one may have re-added it.
      this.#trusted.delete(entry.publicKey);
      if (!this.#file.has(entry.publicKey)) {
        return { changed: false, controller: entry };
      }
      const next = new Map(this.#file);
      next.delete(entry.publicKey);
      await this.#write(next, "distrust");
      this.#file.delete(entry.publicKey);
      this.#log.info("controller distrusted", {
        peer_id: entry.nodeId,
        name: entry.name,
        key: keyPrefix(entry.publicKey),
      });
      return { changed: true, controller: entry };
    });
  }

  /**
   * Waits for pending writes; later changes are refused.
   *
   * @returns Resolves when every accepted change is on disk (or failed).
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writes.catch(() => {});
  }

  // ---------------------------------------------------------------- internals

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new TrustError(
          "save_failed",
          "Cannot change trusted controllers: the node is stopping",
        ),
      );
    }
    const run = this.#writes.then(op);
    this.#writes = run.then(() => {}, () => {});
    return run;
  }

  #rebuild(): void {
    this.#trusted.clear();
    for (const k of this.#file.keys()) this.#trusted.add(k);
    for (const k of this.#pinned.keys()) this.#trusted.add(k);
  }

  async #write(
    entries: Map<string, TrustedController>,
    action: string,
  ): Promise<void> {
    const doc = {
      version: 1,
      controllers: [...entries.values()].map((c) => ({
        publicKey: c.publicKey,
        nodeId: c.nodeId,
        name: c.name,
        addedAt: c.addedAt,
      })),
    };
    try {
      await writeFileAtomic(this.#path, JSON.stringify(doc, null, 2) + "\n", {
        mode: 0o600,
        dirMode: 0o700,
      });
    } catch (err) {
      this.#log.error("cannot save trusted controllers", {
        path: this.#path,
        error: (err as Error).message,
      });
      const tail = action === "distrust"
        ? "; it is distrusted until the node restarts, but the file still lists it"
        : "; it is not trusted";
      throw new TrustError(
        "save_failed",
        `Cannot save ${this.#path}: ${(err as Error).message}${tail}`,
        { cause: err },
      );
    }
  }

  async #load(): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readFileIfExists(this.#path);
    } catch (err) {
      throw new TrustError(
        "load_failed",
        `Cannot load ${this.#path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (bytes === undefined) return;
    let doc: unknown;
    try {
      doc = JSON.parse(decoder.decode(bytes));
    } catch (err) {
      await this.#keepAside(
        [`not valid JSON (${(err as Error).message})`],
        true,
      );
      return;
    }
    const list = (doc as { controllers?: unknown } | null)?.controllers;
    if (
      doc === null || typeof doc !== "object" || Array.isArray(doc) ||
      (doc as { version?: unknown }).version !== 1 || !Array.isArray(list)
    ) {
      await this.#keepAside([
        'expected {"version": 1, "controllers": [...]}',
      ], true);
      return;
    }
    const problems: string[] = [];
    list.forEach((e: unknown, i: number) => {
      const r = e as Record<string, unknown> | null;
      if (
        r === null || typeof r !== "object" || typeof r.publicKey !== "string"
      ) {
        problems.push(`entry ${i}: no publicKey`);
        return;
      }
      let k: ReturnType<typeof parseControllerKey>;
      try {
        k = parseControllerKey(r.publicKey);
      } catch {
        problems.push(`entry ${i}: invalid publicKey`);
        return;
      }
      this.#file.set(k.publicKey, {
        publicKey: k.publicKey,
        nodeId: k.nodeId,
        name: typeof r.name === "string" ? sanitizePeerName(r.name) : "",
        addedAt: typeof r.addedAt === "string" ? r.addedAt.slice(0, 64) : "",
        source: "file",
      });
    });
    if (problems.length > 0) await this.#keepAside(problems, false);
  }

  async #keepAside(problems: string[], rename: boolean): Promise<void> {
    const path = this.#path;
    this.#report.problems.push(...problems.map((p) => `${path}: ${p}`));
    if (this.#onCorrupt === "throw") {
      throw new TrustError(
        "corrupt_file",
        `Cannot load ${path}: ${problems[0]}`,
      );
    }
    let target: string;
    try {
      target = await keepAside(path, this.#now(), rename);
    } catch (err) {
      throw new TrustError(
        "load_failed",
        `Cannot keep damaged file ${path} aside: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.#report.keptAside.push(target);
    this.#log.error("damaged trusted-controllers file kept aside", {
      path,
      kept_as: target,
      problems: problems.length,
      first_problem: problems[0],
    });
  }
}
