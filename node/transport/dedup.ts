/**
 * Replay protection: remembered message IDs, keyed by peer and ID, with a
 * TTL and a size cap (node.md §4.8, with the fixes of §13.2 items 9, 12, 13).
 *
 * @module
 */

/** Options of {@linkcode DedupCache}. */
export interface DedupCacheOptions {
  /** How long an ID is remembered, in ms (default 5 minutes). */
  ttl?: number;
  /** Most entries kept; the oldest is forgotten first (default 100 000). */
  maxEntries?: number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/**
 * One remembered ID. A re-mark creates a new entry, so the eviction queue
 * can tell that the older record of the same ID is stale.
 */
interface Entry {
  expiry: number;
}

/**
 * Remembers message IDs per peer. An entry expires `ttl` after it was marked,
 * or `ttl` after the message's own timestamp when that is later, so a message
 * stamped in the future cannot be replayed once its mark expires while its
 * timestamp is still inside the acceptance window.
 *
 * @example Dropping a duplicate
 * ```ts
 * import { DedupCache } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * let t = 0;
 * const dedup = new DedupCache({ ttl: 1_000, now: () => t });
 * assert.equal(dedup.check("peer", "id-1"), true); // new: marked
 * assert.equal(dedup.check("peer", "id-1"), false); // duplicate
 * assert.equal(dedup.check("other", "id-1"), true); // keyed by peer
 * t = 1_001;
 * assert.equal(dedup.check("peer", "id-1"), true); // expired
 * ```
 */
export class DedupCache {
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  /**
   * peer ID -> message ID -> entry. Two levels, so a lookup hashes the
   * message ID alone (the peer's table is found by the same peer ID string
   * every time) and builds no combined key.
   */
  readonly #peers = new Map<string, Map<string, Entry>>();
  #size = 0;
  /**
   * Eviction order across all peers, oldest first: one record per mark
   * (peer, ID, entry) in three parallel arrays, read from `#head`. A record
   * whose entry is no longer the one in the table (re-marked, expired,
   * swept or cleared since) is skipped; `#compact` drops such records when
   * they outnumber the live ones.
   */
  #qPeer: (string | undefined)[] = [];
  #qId: (string | undefined)[] = [];
  #qEntry: (Entry | undefined)[] = [];
  #head = 0;

  /**
   * Creates an empty cache.
   *
   * @param options TTL, cap and clock.
   * @throws {RangeError} When `ttl` or `maxEntries` is not a positive integer.
   */
  constructor(options: DedupCacheOptions = {}) {
    const ttl = options.ttl ?? 300_000;
    const max = options.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(ttl) || ttl < 1) {
      throw new RangeError(
        `Invalid dedup cache: ttl must be a positive integer, got ${ttl}`,
      );
    }
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(
        `Invalid dedup cache: maxEntries must be a positive integer, got ${max}`,
      );
    }
    this.#ttl = ttl;
    this.#max = max;
    this.#now = options.now ?? Date.now;
  }

  /** Number of remembered IDs (expired ones included until swept). */
  get size(): number {
    return this.#size;
  }

  /**
   * Whether `id` from `peerId` was marked and has not expired.
   *
   * @param peerId The sending peer.
   * @param id The message ID.
   * @returns `true` for a duplicate.
   */
  isDuplicate(peerId: string, id: string): boolean {
    const table = this.#peers.get(peerId);
    const entry = table?.get(id);
    if (entry === undefined) return false;
    if (this.#now() > entry.expiry) {
      this.#remove(peerId, table!, id);
      return false;
    }
    return true;
  }

  /**
   * Remembers `id` from `peerId` (again: a re-mark restarts its TTL and
   * makes it the newest entry).
   *
   * @param peerId The sending peer.
   * @param id The message ID.
   * @param messageTime The message's own time in Unix ms, when known.
   */
  mark(peerId: string, id: string, messageTime?: number): void {
    this.#set(peerId, id, this.#expiry(this.#now(), messageTime));
  }

  /**
   * Checks and marks in one step: `false` for a duplicate (nothing changes),
   * `true` for a new message, which is now remembered.
   *
   * @param peerId The sending peer.
   * @param id The message ID.
   * @param messageTime The message's own time in Unix ms, when known.
   * @returns `true` when the message is new (and is now marked).
   */
  check(peerId: string, id: string, messageTime?: number): boolean {
    const now = this.#now();
    const entry = this.#peers.get(peerId)?.get(id);
    if (entry !== undefined && now <= entry.expiry) return false;
    this.#set(peerId, id, this.#expiry(now, messageTime));
    return true;
  }

  #expiry(now: number, messageTime: number | undefined): number {
    return (messageTime !== undefined && messageTime > now
      ? messageTime
      : now) +
      this.#ttl;
  }

  #set(peerId: string, id: string, expiry: number): void {
    let table = this.#peers.get(peerId);
    if (table === undefined) {
      table = new Map();
      this.#peers.set(peerId, table);
    }
    const entry: Entry = { expiry };
    const size = table.size;
    table.set(id, entry);
    if (table.size !== size) this.#size++;
    this.#qPeer.push(peerId);
    this.#qId.push(id);
    this.#qEntry.push(entry);
    while (this.#size > this.#max) this.#evictOldest();
    this.#compactIfStale();
  }

  #remove(peerId: string, table: Map<string, Entry>, id: string): void {
    table.delete(id);
    this.#size--;
    if (table.size === 0) this.#peers.delete(peerId);
  }

  /** Forgets the oldest live entry (stale records on the way are dropped). */
  #evictOldest(): void {
    const qp = this.#qPeer, qi = this.#qId, qe = this.#qEntry;
    while (this.#head < qe.length) {
      const h = this.#head++;
      const peerId = qp[h]!, id = qi[h]!, entry = qe[h];
      qp[h] = qi[h] = qe[h] = undefined;
      const table = this.#peers.get(peerId);
      if (table !== undefined && table.get(id) === entry) {
        this.#remove(peerId, table, id);
        break;
      }
    }
    if (this.#head > 4096 && this.#head * 2 > qe.length) this.#compact();
  }

  /** Compacts once stale records clearly outnumber live ones. */
  #compactIfStale(): void {
    if (this.#qEntry.length - this.#head > 2 * this.#size + 1024) {
      this.#compact();
    }
  }

  /** Rewrites the queue with its live records only, in the same order. */
  #compact(): void {
    const qp = this.#qPeer, qi = this.#qId, qe = this.#qEntry;
    const np: string[] = [], ni: string[] = [], ne: Entry[] = [];
    for (let i = this.#head; i < qe.length; i++) {
      const entry = qe[i];
      if (entry === undefined) continue;
      if (this.#peers.get(qp[i]!)?.get(qi[i]!) !== entry) continue;
      np.push(qp[i]!);
      ni.push(qi[i]!);
      ne.push(entry);
    }
    this.#qPeer = np;
    this.#qId = ni;
    this.#qEntry = ne;
    this.#head = 0;
  }

  /**
   * Removes expired entries (the transport calls this periodically).
   *
   * @returns The number of entries removed.
   */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [peerId, table] of this.#peers) {
      for (const [id, entry] of table) {
        if (now > entry.expiry) {
          table.delete(id);
          removed++;
        }
      }
      if (table.size === 0) this.#peers.delete(peerId);
    }
    this.#size -= removed;
    this.#compactIfStale();
    return removed;
  }

  /** Forgets everything. */
  clear(): void {
    this.#peers.clear();
    this.#size = 0;
    this.#qPeer = [];
    this.#qId = [];
    this.#qEntry = [];
    this.#head = 0;
  }
}
