/**
 * The peer registry (node.md §7): known peers with metrics and scores,
 * authentication modes and the public-key allowlist, nearest-peer selection,
 * and debounced, atomic persistence in the `peers.json` format Go nodes use.
 *
 * @module
 */

import { dirname } from "node:path";
import { getGlobalLogger, type Logger } from "../logging/mod.ts";
import { keepAside, readFileIfExists, removeStaleTemps } from "./_fs.ts";
import { writeFileAtomic } from "./files.ts";
import { marshalGo } from "./_go_json.ts";
import { parseGoTime, ZERO_TIME_MS } from "./_go_time.ts";
import { KdTree, type Point4 } from "./_kd_tree.ts";
import { DistanceHeap, type HeapEntry } from "./_peer_index.ts";
import { defaultPaths } from "./_paths.ts";
import { formatGoTime } from "./_go_time.ts";
import { deriveNodeId } from "./identity.ts";
import {
  type AuthMode,
  checkPeerIdBinding,
  isValidPublicKey,
  keyPrefix,
  type Peer,
  peerDistance,
  RegistryError,
  sanitizePeerName,
  SCORE_DEFAULT,
  SCORE_FAILURE_DELTA,
  SCORE_MAX,
  SCORE_MIN,
  SCORE_SUCCESS_DELTA,
  SCORE_TIMEOUT_DELTA,
  validatePeerName,
  ZERO_TIME,
} from "./peer.ts";

export * from "./peer.ts";

/** Default delay between the first change of a burst and its save (5 s). */
export const SAVE_DELAY_MS = 5000;

/** Default cap on peers registered automatically from inbound handshakes. */
export const DEFAULT_MAX_AUTO_PEERS = 1000;

/** Options for {@linkcode PeerRegistry.open}. */
export interface PeerRegistryOptions {
  /** Logger (a `node:registry` child is used); defaults to the global logger. */
  logger?: Logger;
  /** Clock for `addedAt`/`lastSeen` and file names; defaults to `new Date()`. */
  now?: () => Date;
  /** Debounce delay of saves in ms; defaults to {@linkcode SAVE_DELAY_MS}. */
  saveDelayMs?: number;
  /**
   * Most peers kept from {@linkcode PeerRegistry.registerSeenPeer}; when
   * full, the least recently seen unconnected one is evicted. Defaults to
   * {@linkcode DEFAULT_MAX_AUTO_PEERS}; `0` disables auto-registration.
   */
  maxAutoPeers?: number;
  /**
   * In allowlist mode, also require registered peers' keys to be allowlisted
   * (node.md §13 item 6). Defaults to `false` (Go's behaviour).
   */
  requireAllowlistForRegistered?: boolean;
  /**
   * What to do with a peers or allowlist file that cannot be parsed:
   * `"keep-aside"` (default) renames it to `<path>.corrupt-<time>` (or copies
   * it, when some entries could still be loaded), logs an error and goes on;
   * `"throw"` rejects `open()` with a `corrupt_file` {@linkcode RegistryError}
   * and leaves the file alone.
   */
  onCorruptFile?: "keep-aside" | "throw";
}

/** What {@linkcode PeerRegistry.open} found wrong in the files it loaded. */
export interface LoadReport {
  /** Problems found, one line each (no key material). */
  problems: string[];
  /** Entries of the peers file that were skipped. */
  skippedEntries: number;
  /** Where damaged files were kept (renamed or copied). */
  keptAside: string[];
}

/** The four selection metrics of a peer. */
export type PeerMetrics = Pick<Peer, "pingMs" | "hops" | "geoKm" | "score">;

interface Rec extends HeapEntry {
  name: string;
  publicKey: string;
  address: string;
  role: string;
  addedAt: string;
  lastSeen: string;
  pingMs: number;
  hops: number;
  geoKm: number;
  score: number;
  connected: boolean;
  /** Learned from a handshake (evictable); memory only. */
  auto: boolean;
  /** max(addedAt, lastSeen) in ms, for least-recently-seen eviction. */
  seenMs: number;
}

function toPeer(r: Rec): Peer {
  return {
    id: r.id,
    name: r.name,
    publicKey: r.publicKey,
    address: r.address,
    role: r.role,
    addedAt: r.addedAt,
    lastSeen: r.lastSeen,
    pingMs: r.pingMs,
    hops: r.hops,
    geoKm: r.geoKm,
    score: r.score,
    connected: r.connected,
  };
}

function toJson(r: Rec): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    publicKey: r.publicKey,
    address: r.address,
    role: r.role,
    addedAt: r.addedAt,
    lastSeen: r.lastSeen,
    pingMs: r.pingMs,
    hops: r.hops,
    geoKm: r.geoKm,
    score: r.score,
  };
}

function clampScore(s: number): number {
  return Math.min(SCORE_MAX, Math.max(SCORE_MIN, s));
}

function seenOf(addedAt: string, lastSeen: string): number {
  return Math.max(
    parseGoTime(addedAt) ?? ZERO_TIME_MS,
    parseGoTime(lastSeen) ?? ZERO_TIME_MS,
  );
}

function isZeroTime(t: string): boolean {
  return parseGoTime(t) === ZERO_TIME_MS;
}

function point(p: PeerMetrics): Point4 {
  return [p.pingMs * 1.0, p.hops * 0.7, p.geoKm * 0.2, (100 - p.score) * 1.2];
}

function byteCompare(a: string, b: string): number {
  // Go sorts strings byte-wise (UTF-8); code-point order is the same order.
  const ca = [...a];
  const cb = [...b];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i]!.codePointAt(0)! - cb[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

const STRING_FIELDS = ["id", "name", "publicKey", "address", "role"] as const;
const TIME_FIELDS = ["addedAt", "lastSeen"] as const;
const FLOAT_FIELDS = ["pingMs", "geoKm", "score"] as const;

function checkField(field: string, v: unknown, kind: string): void {
  const ok = kind === "string"
    ? typeof v === "string"
    : kind === "time"
    ? typeof v === "string" && parseGoTime(v) !== undefined
    : kind === "int"
    ? Number.isSafeInteger(v)
    : typeof v === "number" && Number.isFinite(v);
  if (!ok) {
    const what = kind === "time"
      ? "RFC 3339 text"
      : kind === "int"
      ? "a safe integer"
      : kind === "string"
      ? "a string"
      : "a finite number";
    const msg = `Invalid peer field ${field}: expected ${what}, got ${
      typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : String(v)
    }`;
    throw kind === "string" ? new TypeError(msg) : new RangeError(msg);
  }
}

/** Checks the types of whatever fields a caller supplied. */
function checkInput(p: Partial<Peer>): void {
  for (const f of STRING_FIELDS) {
    if (p[f] !== undefined) checkField(f, p[f], "string");
  }
  for (const f of TIME_FIELDS) {
    if (p[f] !== undefined) checkField(f, p[f], "time");
  }
  for (const f of FLOAT_FIELDS) {
    if (p[f] !== undefined) checkField(f, p[f], "float");
  }
  if (p.hops !== undefined) checkField("hops", p.hops, "int");
  if (p.connected !== undefined && typeof p.connected !== "boolean") {
    throw new TypeError(
      `Invalid peer field connected: expected a boolean, got ${typeof p
        .connected}`,
    );
  }
}

/**
 * Decodes one element of a peers file like Go's decoder (exact key first,
 * else a case-insensitive match; unknown keys ignored; `null` leaves the zero
 * value), then applies our checks.
 */
function decodeEntry(v: unknown): Rec | string {
  if (v === null) return "null entry";
  if (typeof v !== "object" || Array.isArray(v)) {
    return "entry is not an object";
  }
  const obj = v as Record<string, unknown>;
  const lower = new Map<string, string>();
  for (const k of Object.keys(obj)) lower.set(k.toLowerCase(), k);
  const get = (f: string): unknown => {
    const k = Object.hasOwn(obj, f) ? f : lower.get(f.toLowerCase());
    return k === undefined ? null : obj[k];
  };
  const out: Partial<Peer> = {};
  try {
    for (const f of STRING_FIELDS) {
      const x = get(f);
      if (x !== null) checkField(f, x, "string"), out[f] = x as string;
    }
    for (const f of TIME_FIELDS) {
      const x = get(f);
      if (x !== null) checkField(f, x, "time"), out[f] = x as string;
    }
    for (const f of FLOAT_FIELDS) {
      const x = get(f);
      if (x !== null) checkField(f, x, "float"), out[f] = x as number;
    }
    const h = get("hops");
    if (h !== null) checkField("hops", h, "int"), out.hops = h as number;
  } catch (err) {
    return (err as Error).message;
  }
  const id = out.id ?? "";
  if (id === "") return "entry has an empty id";
  try {
    checkPeerIdBinding(id, out.publicKey ?? "");
  } catch (err) {
    return (err as Error).message;
  }
  const addedAt = out.addedAt ?? ZERO_TIME;
  const lastSeen = out.lastSeen ?? ZERO_TIME;
  const address = out.address ?? "";
  const r: Rec = {
    id,
    name: out.name ?? "",
    publicKey: out.publicKey ?? "",
    address,
    role: out.role ?? "",
    addedAt,
    lastSeen,
    pingMs: out.pingMs ?? 0,
    hops: out.hops ?? 0,
    geoKm: out.geoKm ?? 0,
    score: out.score ?? 0, // Go does not default scores on load
    connected: false,
    auto: address === "",
    seenMs: seenOf(addedAt, lastSeen),
    dist: 0,
    heapPos: -1,
  };
  r.dist = peerDistance(r);
  return r;
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A registry of known peers, compatible with the `peers.json` (and
 * `peers.json.allowlist.json`) files Go nodes write.
 *
 * Reads return copies; mutations take effect at once (selection included)
 * and are saved 5 s after the first change of a burst, or by
 * {@linkcode PeerRegistry.close}. Always `close()` a registry.
 *
 * Selection ranks peers by their distance from the ideal point
 * ({@linkcode peerDistance}); ties go to the smaller ID (Go's are
 * arbitrary).
 *
 * @example Adding peers and picking the best
 * ```ts
 * import { PeerRegistry } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const reg = await PeerRegistry.open(`${dir}/peers.json`);
 * reg.addPeer({ id: "slow", pingMs: 200, hops: 5, geoKm: 1000, score: 50 });
 * reg.addPeer({ id: "fast", pingMs: 10, hops: 1, geoKm: 50, score: 90 });
 * assert.equal(reg.selectOptimalPeer()?.id, "fast");
 * await reg.close();
 *
 * const again = await PeerRegistry.open(`${dir}/peers.json`);
 * assert.equal(again.count, 2);
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class PeerRegistry {
  readonly #path: string;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #saveDelay: number;
  readonly #maxAuto: number;
  readonly #onCorrupt: "keep-aside" | "throw";
  #requireAllowlist: boolean;

  readonly #peers = new Map<string, Rec>();
  readonly #heap = new DistanceHeap<Rec>();
  #autoCount = 0;
  #connected = new Set<string>();
  #kd: { tree: KdTree; recs: Rec[] } | undefined;

  #authMode: AuthMode = "open";
  readonly #allowed = new Set<string>();

  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writes: Promise<void> = Promise.resolve();
  #report: LoadReport = { problems: [], skippedEntries: 0, keptAside: [] };

  private constructor(path: string, options: PeerRegistryOptions) {
    this.#path = path;
    this.#log = (options.logger ?? getGlobalLogger()).child("node:registry");
    this.#now = options.now ?? (() => new Date());
    this.#saveDelay = options.saveDelayMs ?? SAVE_DELAY_MS;
    this.#maxAuto = options.maxAutoPeers ?? DEFAULT_MAX_AUTO_PEERS;
    this.#onCorrupt = options.onCorruptFile ?? "keep-aside";
    this.#requireAllowlist = options.requireAllowlistForRegistered ?? false;
    if (!(this.#saveDelay >= 0) || !Number.isFinite(this.#saveDelay)) {
      throw new RangeError(
        `Invalid saveDelayMs: expected a finite number >= 0, got ${this.#saveDelay}`,
      );
    }
    if (!Number.isSafeInteger(this.#maxAuto) || this.#maxAuto < 0) {
      throw new RangeError(
        `Invalid maxAutoPeers: expected an integer >= 0, got ${this.#maxAuto}`,
      );
    }
  }

  /**
   * Opens a registry, loading the peers file and its allowlist sidecar if
   * they exist. Damaged files are handled as `options.onCorruptFile` says and
   * listed in {@linkcode PeerRegistry.loadReport}; `null` entries are skipped.
   *
   * @param path The peers file; defaults to `<ConfigHome>/lethean-desktop/peers.json`
   *   (its directory is created with mode 0700).
   * @param options Logger, clock, save delay, caps and policies.
   * @returns The registry.
   * @throws {RegistryError} `load_failed` when a file exists but cannot be
   *   read; `corrupt_file` when it is damaged and `onCorruptFile` is `"throw"`.
   * @throws {RangeError} For invalid options.
   *
   * @example Opening an empty registry
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * assert.equal(reg.count, 0);
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static async open(
    path?: string,
    options: PeerRegistryOptions = {},
  ): Promise<PeerRegistry> {
    let p = path;
    if (p === undefined) {
      p = defaultPaths().peers;
      await Deno.mkdir(dirname(p), { recursive: true, mode: 0o700 });
    }
    const reg = new PeerRegistry(p, options);
    // Temporary files of a process that died mid-save are garbage.
    await removeStaleTemps(p);
    await removeStaleTemps(reg.allowlistPath);
    await reg.#loadPeers();
    await reg.#loadAllowlist();
    return reg;
  }

  /** The peers file path. */
  get path(): string {
    return this.#path;
  }

  /** The allowlist sidecar path (`<peers path>.allowlist.json`). */
  get allowlistPath(): string {
    return this.#path + ".allowlist.json";
  }

  /** What was wrong with the files at open (a copy). */
  get loadReport(): LoadReport {
    return {
      problems: [...this.#report.problems],
      skippedEntries: this.#report.skippedEntries,
      keptAside: [...this.#report.keptAside],
    };
  }

  /** Number of peers. */
  get count(): number {
    return this.#peers.size;
  }

  // ---------------------------------------------------------------- loading

  async #read(path: string): Promise<Uint8Array | undefined> {
    try {
      return await readFileIfExists(path);
    } catch (err) {
      throw new RegistryError(
        "load_failed",
        `Cannot load peer registry file ${path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async #keepAside(
    path: string,
    problems: string[],
    rename: boolean,
  ): Promise<void> {
    this.#report.problems.push(...problems.map((p) => `${path}: ${p}`));
    if (this.#onCorrupt === "throw") {
      throw new RegistryError(
        "corrupt_file",
        `Cannot load peer registry file ${path}: ${problems[0]}`,
      );
    }
    let target: string;
    try {
      target = await keepAside(path, this.#now(), rename);
    } catch (err) {
      throw new RegistryError(
        "load_failed",
        `Cannot keep damaged registry file ${path} aside: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
    this.#report.keptAside.push(target);
    this.#log.error("damaged registry file kept aside", {
      path,
      kept_as: target,
      problems: problems.length,
      first_problem: problems[0],
    });
  }

  async #loadPeers(): Promise<void> {
    const bytes = await this.#read(this.#path);
    if (bytes === undefined) return;
    let doc: unknown;
    try {
      doc = JSON.parse(decoder.decode(bytes));
    } catch (err) {
      await this.#keepAside(this.#path, [
        `not valid JSON (${(err as Error).message})`,
      ], true);
      return;
    }
    if (doc === null) return;
    if (!Array.isArray(doc)) {
      await this.#keepAside(this.#path, ["not a JSON array"], true);
      return;
    }
    const problems: string[] = [];
    let nulls = 0;
    for (let i = 0; i < doc.length; i++) {
      const r = decodeEntry(doc[i]);
      if (typeof r === "string") {
        this.#report.skippedEntries++;
        if (doc[i] === null) nulls++;
        else problems.push(`entry ${i}: ${r}`);
        continue;
      }
      const old = this.#peers.get(r.id); // duplicate IDs: last wins
      if (old) this.#deleteRec(old);
      this.#insertRec(r);
    }
    if (nulls > 0) {
      this.#report.problems.push(
        `${this.#path}: ${nulls} null entries skipped`,
      );
      this.#log.warn("null entries in peers file skipped", {
        path: this.#path,
        count: nulls,
      });
    }
    if (problems.length > 0) await this.#keepAside(this.#path, problems, false);
  }

  async #loadAllowlist(): Promise<void> {
    const path = this.allowlistPath;
    const bytes = await this.#read(path);
    if (bytes === undefined) return;
    let doc: unknown;
    try {
      doc = JSON.parse(decoder.decode(bytes));
    } catch (err) {
      await this.#keepAside(path, [
        `not valid JSON (${(err as Error).message})`,
      ], true);
      return;
    }
    if (doc === null) return;
    if (
      !Array.isArray(doc) ||
      !doc.every((k) => typeof k === "string" || k === null)
    ) {
      await this.#keepAside(path, ["not a JSON array of strings"], true);
      return;
    }
    for (const k of doc) if (k) this.#allowed.add(k);
  }

  // ------------------------------------------------------- internal records

  #insertRec(r: Rec): void {
    this.#peers.set(r.id, r);
    this.#heap.push(r);
    if (r.auto) this.#autoCount++;
    if (r.connected) this.#connected.add(r.id);
    this.#kd = undefined;
  }

  #deleteRec(r: Rec): void {
    this.#peers.delete(r.id);
    this.#heap.remove(r);
    if (r.auto) this.#autoCount--;
    this.#connected.delete(r.id);
    this.#kd = undefined;
  }

  /** Re-ranks a record after its metrics or score changed. */
  #rerank(r: Rec): void {
    const d = peerDistance(r);
    if (d !== r.dist) {
      r.dist = d;
      this.#heap.update(r);
    }
    this.#kd = undefined;
  }

  #nowText(): string {
    return formatGoTime(this.#now());
  }

  #touch(r: Rec): void {
    r.lastSeen = this.#nowText();
    r.seenMs = seenOf(r.addedAt, r.lastSeen);
  }

  #mustGet(id: string, action: string): Rec {
    const r = this.#peers.get(id);
    if (!r) {
      throw new RegistryError(
        "peer_not_found",
        `Cannot ${action}: peer ${id} not found`,
      );
    }
    return r;
  }

  // ------------------------------------------------------------ operations

  /**
   * Adds a peer. Missing fields take their zero values, `addedAt` defaults
   * to now and `score` to 50 (an explicit 0 stays 0; scores are clamped to
   * [0, 100]).
   *
   * @param p The peer; `id` is required.
   * @throws {RegistryError} `missing_id`, `invalid_name`, `duplicate_peer`,
   *   `invalid_public_key` or `id_key_mismatch` (a non-empty key must derive
   *   the ID).
   * @throws {TypeError} {RangeError} For fields of the wrong type or range.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * reg.addPeer({
   *   id: "aaa8fff703b50b2297f4f6e13508f724",
   *   name: "node-a",
   *   publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
   *   address: "127.0.0.1:9091",
   * });
   * assert.equal(reg.getPeer("aaa8fff703b50b2297f4f6e13508f724")?.score, 50);
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  addPeer(p: Partial<Peer> & { id: string }): void {
    checkInput(p);
    if (p.id === "") {
      throw new RegistryError("missing_id", "Cannot add peer: ID is required");
    }
    validatePeerName(p.name ?? "");
    if (this.#peers.has(p.id)) {
      throw new RegistryError(
        "duplicate_peer",
        `Cannot add peer: peer ${p.id} already exists`,
      );
    }
    checkPeerIdBinding(p.id, p.publicKey ?? "");
    this.#insertRec(this.#makeRec(p, false));
    this.#scheduleSave();
  }

  #makeRec(p: Partial<Peer> & { id: string }, auto: boolean): Rec {
    const addedAt = p.addedAt === undefined || isZeroTime(p.addedAt)
      ? this.#nowText()
      : p.addedAt;
    const lastSeen = p.lastSeen ?? ZERO_TIME;
    const r: Rec = {
      id: p.id,
      name: p.name ?? "",
      publicKey: p.publicKey ?? "",
      address: p.address ?? "",
      role: p.role ?? "",
      addedAt,
      lastSeen,
      pingMs: p.pingMs ?? 0,
      hops: p.hops ?? 0,
      geoKm: p.geoKm ?? 0,
      score: clampScore(p.score ?? SCORE_DEFAULT),
      connected: p.connected ?? false,
      auto,
      seenMs: seenOf(addedAt, lastSeen),
      dist: 0,
      heapPos: -1,
    };
    r.dist = peerDistance(r);
    return r;
  }

  /**
   * Replaces a peer's whole record (the name is not re-validated, as in Go;
   * the score is clamped to [0, 100]).
   *
   * @param p The new record.
   * @throws {RegistryError} `peer_not_found`, `invalid_public_key` or
   *   `id_key_mismatch`.
   * @throws {TypeError} {RangeError} For fields of the wrong type or range.
   *
   * @example Renaming a peer
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * reg.addPeer({ id: "p1", name: "old" });
   * reg.updatePeer({ ...reg.getPeer("p1")!, name: "new", score: 80 });
   * assert.equal(reg.getPeer("p1")?.name, "new");
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  updatePeer(p: Peer): void {
    checkInput(p);
    const r = this.#mustGet(p.id, "update peer");
    checkPeerIdBinding(p.id, p.publicKey ?? "");
    const wasAuto = r.auto;
    const wasConnected = r.connected;
    r.name = p.name ?? "";
    r.publicKey = p.publicKey ?? "";
    r.address = p.address ?? "";
    r.role = p.role ?? "";
    r.addedAt = p.addedAt ?? ZERO_TIME;
    r.lastSeen = p.lastSeen ?? ZERO_TIME;
    r.pingMs = p.pingMs ?? 0;
    r.hops = p.hops ?? 0;
    r.geoKm = p.geoKm ?? 0;
    r.score = clampScore(p.score ?? 0);
    r.connected = p.connected ?? false;
    r.seenMs = seenOf(r.addedAt, r.lastSeen);
    r.auto = wasAuto && r.address === "";
    if (wasAuto && !r.auto) this.#autoCount--;
    if (wasConnected !== r.connected) {
      if (r.connected) this.#connected.add(r.id);
      else this.#connected.delete(r.id);
    }
    this.#rerank(r);
    this.#scheduleSave();
  }

  /**
   * Removes a peer.
   *
   * @param id The peer ID.
   * @throws {RegistryError} `peer_not_found`.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * reg.addPeer({ id: "p1" });
   * reg.removePeer("p1");
   * assert.equal(reg.count, 0);
   * assert.throws(() => reg.removePeer("p1"));
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  removePeer(id: string): void {
    this.#deleteRec(this.#mustGet(id, "remove peer"));
    this.#scheduleSave();
  }

  /**
   * Returns a copy of a peer.
   *
   * @param id The peer ID.
   * @returns The peer, or `undefined` when unknown.
   */
  getPeer(id: string): Peer | undefined {
    const r = this.#peers.get(id);
    return r ? toPeer(r) : undefined;
  }

  /**
   * Returns copies of all peers, in insertion (file) order.
   *
   * @returns The peers.
   */
  listPeers(): Peer[] {
    return [...this.#peers.values()].map(toPeer);
  }

  /**
   * Iterates over copies of all peers, in insertion order.
   *
   * @returns An iterator.
   */
  *peers(): IterableIterator<Peer> {
    for (const r of [...this.#peers.values()]) yield toPeer(r);
  }

  /**
   * Iterates over copies of all peers (same as {@linkcode PeerRegistry.peers}).
   *
   * @returns An iterator.
   */
  [Symbol.iterator](): IterableIterator<Peer> {
    return this.peers();
  }

  /**
   * Sets a peer's connected flag (memory only); connecting also sets
   * `lastSeen` to now. Unknown IDs are ignored; nothing is saved.
   *
   * @param id The peer ID.
   * @param connected The new state.
   */
  setConnected(id: string, connected: boolean): void {
    const r = this.#peers.get(id);
    if (!r) return;
    r.connected = connected;
    if (connected) {
      this.#connected.add(id);
      this.#touch(r);
    } else {
      this.#connected.delete(id);
    }
  }

  /**
   * Returns copies of the connected peers.
   *
   * @returns The peers.
   */
  getConnectedPeers(): Peer[] {
    return [...this.connectedPeers()];
  }

  /**
   * Iterates over copies of the connected peers.
   *
   * @returns An iterator.
   */
  *connectedPeers(): IterableIterator<Peer> {
    for (const id of [...this.#connected]) {
      const r = this.#peers.get(id);
      if (r) yield toPeer(r);
    }
  }

  /**
   * Registers a peer learned from an inbound handshake, if it is not known
   * yet: `addedAt` now, score 50, the name made valid with
   * {@linkcode sanitizePeerName} (Go would silently not register it). The ID
   * must be derived from the key. At most `maxAutoPeers` such peers are
   * kept: when full, the least recently seen unconnected one is evicted.
   *
   * @param p The identity the peer presented.
   * @returns `true` when a new record was added; `false` when the peer was
   *   already known or was refused (bad ID binding, cap full of connected
   *   peers, auto-registration disabled).
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * const ok = reg.registerSeenPeer({
   *   id: "aaa8fff703b50b2297f4f6e13508f724",
   *   name: "host.example.org",
   *   publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
   *   role: "worker",
   * });
   * assert.ok(ok);
   * assert.equal(reg.getPeer("aaa8fff703b50b2297f4f6e13508f724")?.name, "host-example-org");
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  registerSeenPeer(
    p: {
      id: string;
      name: string;
      publicKey: string;
      role: string;
      address?: string;
    },
  ): boolean {
    if (typeof p.id !== "string" || p.id === "" || this.#peers.has(p.id)) {
      return false;
    }
    try {
      checkPeerIdBinding(p.id, String(p.publicKey ?? ""));
    } catch (err) {
      this.#log.warn("refused to auto-register peer", {
        peer_id: p.id,
        reason: (err as RegistryError).code,
      });
      return false;
    }
    if (this.#autoCount >= this.#maxAuto) {
      let victim: Rec | undefined;
      for (const r of this.#peers.values()) {
        if (!r.auto || r.connected) continue;
        if (
          !victim || r.seenMs < victim.seenMs ||
          (r.seenMs === victim.seenMs && r.id < victim.id)
        ) victim = r;
      }
      if (!victim) {
        this.#log.warn("auto-registration cap reached", {
          peer_id: p.id,
          cap: this.#maxAuto,
        });
        return false;
      }
      this.#deleteRec(victim);
      this.#log.info("evicted least recently seen auto-registered peer", {
        peer_id: victim.id,
      });
    }
    const name = sanitizePeerName(String(p.name ?? ""));
    this.#insertRec(this.#makeRec({
      id: p.id,
      name,
      publicKey: String(p.publicKey ?? ""),
      role: String(p.role ?? ""),
      address: String(p.address ?? ""),
    }, true));
    this.#log.info("auto-registered new peer", { peer_id: p.id, name });
    this.#scheduleSave();
    return true;
  }

  // ------------------------------------------------------------------ auth

  /**
   * Tells whether an inbound peer may connect.
   *
   * In every mode: a presented key that is a valid key must derive the ID,
   * and a registered peer with a known key must present that key (node.md §13
   * item 1). Then `open` admits; `allowlist` admits a registered peer (only if
   * its key is also allowlisted when `requireAllowlistForRegistered` is on)
   * or a valid key in the allowlist.
   *
   * @param id The claimed node ID.
   * @param publicKey The presented base64 public key.
   * @returns `true` when allowed.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
   * const id = "aaa8fff703b50b2297f4f6e13508f724";
   * reg.setAuthMode("allowlist");
   * assert.equal(reg.isPeerAllowed(id, key), false);
   * await reg.allowPublicKey(key);
   * assert.equal(reg.isPeerAllowed(id, key), true);
   * assert.equal(reg.isPeerAllowed("someone-else", key), false);
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  isPeerAllowed(id: string, publicKey: string): boolean {
    const validKey = isValidPublicKey(publicKey);
    if (validKey && deriveNodeId(publicKey) !== id) return false;
    const r = this.#peers.get(id);
    if (r && r.publicKey !== "" && r.publicKey !== publicKey) return false;
    if (this.#authMode === "open") return true;
    if (!validKey) return false;
    const listed = this.#allowed.has(publicKey);
    if (r) return this.#requireAllowlist ? listed : true;
    return listed;
  }

  /**
   * The current authentication mode (always `open` after {@linkcode PeerRegistry.open}).
   *
   * @returns The mode.
   */
  getAuthMode(): AuthMode {
    return this.#authMode;
  }

  /**
   * Sets the authentication mode (not persisted, as in Go).
   *
   * @param mode `open` or `allowlist`.
   * @throws {TypeError} For any other value.
   */
  setAuthMode(mode: AuthMode): void {
    if (mode !== "open" && mode !== "allowlist") {
      throw new TypeError(
        `Invalid auth mode: expected "open" or "allowlist", got ${
          String(mode)
        }`,
      );
    }
    this.#authMode = mode;
    this.#log.info("peer auth mode changed", { mode });
  }

  /** Whether allowlist mode also requires registered peers' keys to be allowlisted. */
  get requireAllowlistForRegistered(): boolean {
    return this.#requireAllowlist;
  }

  /** Sets whether allowlist mode requires registered peers' keys to be allowlisted. */
  set requireAllowlistForRegistered(on: boolean) {
    this.#requireAllowlist = on;
  }

  /**
   * Adds a public key to the allowlist and saves the sidecar at once. The
   * key stays allowed in memory even if the save fails.
   *
   * @param publicKey The base64 key (any non-empty text, as in Go).
   * @returns Resolves when the sidecar is written.
   * @throws {RangeError} For an empty key.
   * @throws {RegistryError} `save_failed`.
   *
   * @example
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * await reg.allowPublicKey("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=");
   * assert.deepEqual(reg.listAllowedPublicKeys(), ["B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="]);
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  allowPublicKey(publicKey: string): Promise<void> {
    if (typeof publicKey !== "string" || publicKey === "") {
      return Promise.reject(
        new RangeError("Cannot allow public key: the key is empty"),
      );
    }
    this.#allowed.add(publicKey);
    this.#log.info("public key added to allowlist", {
      key: keyPrefix(publicKey),
    });
    return this.#enqueue(() => this.#writeAllowlist());
  }

  /**
   * Removes a public key from the allowlist and saves the sidecar at once.
   *
   * @param publicKey The base64 key.
   * @returns Resolves when the sidecar is written.
   * @throws {RegistryError} `save_failed`.
   */
  revokePublicKey(publicKey: string): Promise<void> {
    this.#allowed.delete(publicKey);
    this.#log.info("public key removed from allowlist", {
      key: keyPrefix(String(publicKey)),
    });
    return this.#enqueue(() => this.#writeAllowlist());
  }

  /**
   * Tells whether a key is in the allowlist.
   *
   * @param publicKey The base64 key.
   * @returns `true` when listed.
   */
  isPublicKeyAllowed(publicKey: string): boolean {
    return this.#allowed.has(publicKey);
  }

  /**
   * Returns the allowlisted keys, sorted.
   *
   * @returns The keys.
   */
  listAllowedPublicKeys(): string[] {
    return [...this.#allowed].sort(byteCompare);
  }

  /**
   * Iterates over the allowlisted keys, sorted.
   *
   * @returns An iterator.
   */
  *allowedPublicKeys(): IterableIterator<string> {
    yield* this.listAllowedPublicKeys();
  }

  // ---------------------------------------------------------------- scores

  #adjust(id: string, delta: number, event: string): void {
    const r = this.#peers.get(id);
    if (!r) return;
    r.score = clampScore(r.score + delta);
    if (delta > 0) this.#touch(r);
    else this.#log.debug(event, { peer_id: id, score: r.score });
    this.#rerank(r);
    this.#scheduleSave();
  }

  /**
   * Records a successful exchange: score +1 (at most 100), `lastSeen` now.
   * Unknown IDs are ignored. Selection sees the change at once.
   *
   * @param id The peer ID.
   */
  recordSuccess(id: string): void {
    this.#adjust(id, SCORE_SUCCESS_DELTA, "peer success");
  }

  /**
   * Records a failed exchange: score −5 (at least 0). Unknown IDs are ignored.
   *
   * @param id The peer ID.
   */
  recordFailure(id: string): void {
    this.#adjust(id, SCORE_FAILURE_DELTA, "peer failure recorded");
  }

  /**
   * Records a timed-out exchange: score −3 (at least 0). Unknown IDs are
   * ignored.
   *
   * @param id The peer ID.
   */
  recordTimeout(id: string): void {
    this.#adjust(id, SCORE_TIMEOUT_DELTA, "peer timeout recorded");
  }

  /**
   * Sets a peer's score, clamped to [0, 100].
   *
   * @param id The peer ID.
   * @param score The new score.
   * @throws {RegistryError} `peer_not_found`.
   * @throws {RangeError} For a non-finite score.
   *
   * @example Clamping
   * ```ts
   * import { PeerRegistry } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const reg = await PeerRegistry.open(`${dir}/peers.json`);
   * reg.addPeer({ id: "p1" });
   * reg.updateScore("p1", 150);
   * assert.equal(reg.getPeer("p1")?.score, 100);
   * await reg.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  updateScore(id: string, score: number): void {
    checkField("score", score, "float");
    const r = this.#mustGet(id, "update score");
    r.score = clampScore(score);
    this.#rerank(r);
    this.#scheduleSave();
  }

  /**
   * Sets a peer's metrics and `lastSeen` (now).
   *
   * @param id The peer ID.
   * @param pingMs Latency in ms.
   * @param geoKm Distance in km.
   * @param hops Hop count (an integer, as Go stores it).
   * @throws {RegistryError} `peer_not_found`.
   * @throws {RangeError} For non-finite metrics or a non-integer hop count.
   */
  updateMetrics(id: string, pingMs: number, geoKm: number, hops: number): void {
    checkField("pingMs", pingMs, "float");
    checkField("geoKm", geoKm, "float");
    checkField("hops", hops, "int");
    const r = this.#mustGet(id, "update metrics");
    r.pingMs = pingMs;
    r.geoKm = geoKm;
    r.hops = hops;
    this.#touch(r);
    this.#rerank(r);
    this.#scheduleSave();
  }

  // ------------------------------------------------------------- selection

  /**
   * The peer nearest the ideal point (smallest {@linkcode peerDistance};
   * ties to the smaller ID), connected or not. O(1).
   *
   * @returns A copy, or `undefined` when the registry is empty.
   */
  selectOptimalPeer(): Peer | undefined {
    const r = this.#heap.peek();
    return r ? toPeer(r) : undefined;
  }

  /**
   * The `n` peers nearest the ideal point, nearest first (ties to the
   * smaller ID). O(n log n) in `n`, independent of the registry size.
   *
   * @param n How many (fewer when the registry is smaller; `n ≤ 0` → none).
   * @returns Copies.
   * @throws {RangeError} When `n` is not a number.
   */
  selectNearestPeers(n: number): Peer[] {
    if (typeof n !== "number" || Number.isNaN(n)) {
      throw new RangeError(`Invalid peer count: ${String(n)}`);
    }
    return this.#heap.smallest(Math.floor(n)).map(toPeer);
  }

  /**
   * The `n` peers nearest an arbitrary target in the same weighted space
   * (a generalisation of {@linkcode PeerRegistry.selectNearestPeers}, whose
   * target has ping 0, hops 0, geo 0 and score 100), answered by a KD-tree
   * rebuilt lazily after changes. Ties go to the smaller ID.
   *
   * @param target The ideal metrics.
   * @param n How many.
   * @returns Copies, nearest first.
   * @throws {RangeError} For non-finite metrics or a non-numeric `n`.
   */
  selectNearestTo(target: PeerMetrics, n: number): Peer[] {
    for (const f of ["pingMs", "hops", "geoKm", "score"] as const) {
      checkField(f, target[f], "float");
    }
    if (typeof n !== "number" || Number.isNaN(n)) {
      throw new RangeError(`Invalid peer count: ${String(n)}`);
    }
    const kd = this.#kdTree();
    return kd.tree.nearest(point(target), n).map((i) => toPeer(kd.recs[i]!));
  }

  #kdTree(): { tree: KdTree; recs: Rec[] } {
    if (this.#kd) return this.#kd;
    const recs = [...this.#peers.values()].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    );
    const coords = new Float64Array(recs.length * 4);
    for (let i = 0; i < recs.length; i++) coords.set(point(recs[i]!), i * 4);
    this.#kd = { tree: new KdTree(coords), recs };
    return this.#kd;
  }

  /**
   * All peers by score, highest first (ties to the smaller ID).
   *
   * @returns Copies (Go returns live records).
   */
  getPeersByScore(): Peer[] {
    return [...this.#peers.values()]
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
      .map(toPeer);
  }

  /**
   * Iterates over copies of all peers by score, highest first.
   *
   * @returns An iterator.
   */
  *peersByScore(): IterableIterator<Peer> {
    yield* this.getPeersByScore();
  }

  // ----------------------------------------------------------- persistence

  #scheduleSave(): void {
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#enqueue(() => this.#writePeers()).catch((err) => {
        this.#log.error("failed to save peer registry", {
          path: this.#path,
          error: (err as Error).message,
        });
      });
    }, this.#saveDelay);
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#writes.then(task);
    this.#writes = run.catch(() => {});
    return run;
  }

  async #writePeers(): Promise<void> {
    const list = [...this.#peers.values()].map(toJson);
    const text = marshalGo(list.length > 0 ? list : null, {
      escapeHtml: true,
      indent: "  ",
    });
    try {
      await writeFileAtomic(this.#path, text, { mode: 0o644 });
    } catch (err) {
      this.#dirty = true; // let close() try again
      throw new RegistryError(
        "save_failed",
        `Cannot save peer registry to ${this.#path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async #writeAllowlist(): Promise<void> {
    const text = marshalGo(this.listAllowedPublicKeys(), {
      escapeHtml: true,
      indent: "  ",
    });
    try {
      await writeFileAtomic(this.allowlistPath, text, { mode: 0o644 });
    } catch (err) {
      this.#log.error("failed to save allowlist", {
        path: this.allowlistPath,
        error: (err as Error).message,
      });
      throw new RegistryError(
        "save_failed",
        `Cannot save allowlist to ${this.allowlistPath}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
  }

  /**
   * Writes the peers file now (atomically), cancelling a pending debounced
   * save. Creates missing parent directories.
   *
   * @returns Resolves when the file is durable.
   * @throws {RegistryError} `save_failed`.
   */
  save(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = false;
    return this.#enqueue(() => this.#writePeers());
  }

  /**
   * Cancels the debounce timer, writes pending changes and waits for every
   * write in progress. The registry stays usable (later changes schedule new
   * saves, as in Go), so close again after using it.
   *
   * @returns Resolves when everything is on disk.
   * @throws {RegistryError} `save_failed` when the final write fails.
   */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty) {
      this.#dirty = false;
      await this.#enqueue(() => this.#writePeers());
    } else {
      await this.#writes;
    }
  }
}
