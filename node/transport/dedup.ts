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
  /** key -> expiry time; insertion order is roughly expiry order. */
  readonly #entries = new Map<string, number>();
  /**
   * A live iterator over the keys, kept at the oldest entry: a fresh
   * `keys().next()` per eviction would walk every deleted slot at the front
   * of the table, which made a full cache cost tens of µs per message.
   */
  #oldest: Iterator<string> | undefined;

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
    return this.#entries.size;
  }

  /**
   * Tells whether an ID from a peer is known and not expired. Expired
   * entries are forgotten on lookup.
   *
   * @param peerId The sending peer.
   * @param id The message ID.
   * @returns `true` for a duplicate.
   */
  isDuplicate(peerId: string, id: string): boolean {
    const key = peerId + "\u0000" + id;
    const expiry = this.#entries.get(key);
    if (expiry === undefined) return false;
    if (this.#now() > expiry) {
      this.#entries.delete(key);
      return false;
    }
    return true;
  }

  /**
   * Remembers an ID (re-marking refreshes it).
   *
   * @param peerId The sending peer.
   * @param id The message ID.
   * @param messageTime The message's own time in Unix ms, when known.
   */
  mark(peerId: string, id: string, messageTime?: number): void {
    const key = peerId + "\u0000" + id;
    const now = this.#now();
    const base = messageTime !== undefined && messageTime > now
      ? messageTime
      : now;
    this.#entries.delete(key);
    this.#entries.set(key, base + this.#ttl);
    while (this.#entries.size > this.#max) this.#evictOldest();
  }

  /**
   * Checks and marks in one step.
   *
   * @param peerId The sending peer.
   * @param id The message ID.
   * @param messageTime The message's own time in Unix ms, when known.
   * @returns `true` when the message is new (and is now marked).
   */
  check(peerId: string, id: string, messageTime?: number): boolean {
    const key = peerId + "\u0000" + id;
    const now = this.#now();
    const expiry = this.#entries.get(key);
    if (expiry !== undefined) {
      if (now <= expiry) return false;
      this.#entries.delete(key);
    }
    const base = messageTime !== undefined && messageTime > now
      ? messageTime
      : now;
    this.#entries.set(key, base + this.#ttl);
    if (this.#entries.size > this.#max) this.#evictOldest();
    return true;
  }

  #evictOldest(): void {
    let r = this.#oldest?.next();
    if (r === undefined || r.done === true) {
      this.#oldest = this.#entries.keys();
      r = this.#oldest.next();
    }
    if (r.done !== true) this.#entries.delete(r.value);
  }

  /**
   * Forgets every expired entry.
   *
   * @returns The number of entries removed.
   */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (const [key, expiry] of this.#entries) {
      if (now > expiry) {
        this.#entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }
}
