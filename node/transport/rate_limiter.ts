/**
 * Go's per-connection token bucket (node.md §4.8).
 *
 * @module
 */

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/**
 * A token bucket that refills only in whole seconds, exactly as go-p2p's:
 * on each check, `floor(seconds since last refill) * refill` tokens are
 * added (capped at the capacity) and the refill time moves to now, so the
 * fractional second is discarded; then one token is taken if any is left.
 *
 * @example A burst of 10, then denial
 * ```ts
 * import { RateLimiter } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * let t = 0;
 * const rl = new RateLimiter(10, 5, { now: () => t });
 * for (let i = 0; i < 10; i++) assert.equal(rl.allow(), true);
 * assert.equal(rl.allow(), false);
 * t = 1_100;
 * assert.equal(rl.allow(), true);
 * ```
 */
export class RateLimiter {
  readonly #capacity: number;
  readonly #refill: number;
  readonly #now: () => number;
  #tokens: number;
  #lastRefill: number;

  /**
   * Creates a full bucket.
   *
   * @param capacity Maximum tokens (the burst).
   * @param refillPerSecond Tokens added per whole elapsed second.
   * @param options The clock.
   * @throws {RangeError} When either number is not a positive integer.
   */
  constructor(
    capacity: number,
    refillPerSecond: number,
    options: RateLimiterOptions = {},
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Invalid rate limiter: capacity must be a positive integer, got ${capacity}`,
      );
    }
    if (!Number.isSafeInteger(refillPerSecond) || refillPerSecond < 1) {
      throw new RangeError(
        `Invalid rate limiter: refillPerSecond must be a positive integer, got ${refillPerSecond}`,
      );
    }
    this.#capacity = capacity;
    this.#refill = refillPerSecond;
    this.#now = options.now ?? Date.now;
    this.#tokens = capacity;
    this.#lastRefill = this.#now();
  }

  /** Tokens left right now (without refilling). */
  get tokens(): number {
    return this.#tokens;
  }

  /**
   * Refills, then takes one token if possible.
   *
   * @returns `true` when the frame may be processed.
   */
  allow(): boolean {
    const now = this.#now();
    const add = Math.floor((now - this.#lastRefill) / 1000) * this.#refill;
    if (add > 0) {
      this.#tokens = Math.min(this.#tokens + add, this.#capacity);
      this.#lastRefill = now;
    }
    if (this.#tokens > 0) {
      this.#tokens--;
      return true;
    }
    return false;
  }
}
