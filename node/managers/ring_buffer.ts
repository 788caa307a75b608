/**
 * {@linkcode RingBuffer}: a fixed-capacity FIFO that drops its oldest entry
 * when full. The process miner manager keeps each miner's console output in
 * one, so a chatty miner never grows the worker's memory.
 *
 * @module
 */

/**
 * A bounded first-in first-out buffer. Pushing onto a full buffer overwrites
 * the oldest entry.
 *
 * @typeParam T The entry type.
 *
 * @example Keeping the last three entries
 * ```ts
 * import { RingBuffer } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const buf = new RingBuffer<number>(3);
 * for (let i = 1; i <= 5; i++) buf.push(i);
 * assert.deepEqual(buf.toArray(), [3, 4, 5]);
 * assert.equal(buf.dropped, 2);
 * assert.deepEqual(buf.last(2), [4, 5]);
 * ```
 */
export class RingBuffer<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;
  #dropped = 0;

  /**
   * Creates an empty buffer.
   *
   * @param capacity The maximum number of entries (a positive integer).
   * @throws {RangeError} When the capacity is not a positive safe integer.
   */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create ring buffer: capacity must be a positive integer, got ${capacity}`,
      );
    }
    this.#items = new Array<T | undefined>(capacity);
  }

  /** The maximum number of entries. */
  get capacity(): number {
    return this.#items.length;
  }

  /** The number of entries held. */
  get size(): number {
    return this.#size;
  }

  /** How many entries were overwritten since creation (or the last clear). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Appends an entry, overwriting the oldest one when full.
   *
   * @param item The entry.
   */
  push(item: T): void {
    const cap = this.#items.length;
    if (this.#size < cap) {
      this.#items[(this.#start + this.#size) % cap] = item;
      this.#size++;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % cap;
      this.#dropped++;
    }
  }

  /**
   * Returns the entry at a position, 0 being the oldest.
   *
   * @param index The position.
   * @returns The entry, or `undefined` out of range.
   */
  at(index: number): T | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.#size) {
      return undefined;
    }
    return this.#items[(this.#start + index) % this.#items.length];
  }

  /**
   * Returns every entry, oldest first, as a new array.
   *
   * @returns The entries.
   */
  toArray(): T[] {
    return this.last(this.#size);
  }

  /**
   * Returns the newest `count` entries, oldest first.
   *
   * @param count How many (clamped to the size; 0 or less gives none).
   * @returns The entries, in a new array.
   */
  last(count: number): T[] {
    const n = Math.max(0, Math.min(Math.floor(count), this.#size));
    const out: T[] = new Array<T>(n);
    const cap = this.#items.length;
    const first = this.#start + this.#size - n;
    for (let i = 0; i < n; i++) out[i] = this.#items[(first + i) % cap] as T;
    return out;
  }

  /** Removes every entry (the capacity is kept). */
  clear(): void {
    this.#items.fill(undefined);
    this.#start = 0;
    this.#size = 0;
    this.#dropped = 0;
  }
}
