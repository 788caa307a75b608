/**
 * The registry's selection index: an indexed binary min-heap ordered by
 * (distance from the ideal point, ID). The ideal point is fixed at the origin
 * (node.md §7.5), so each peer's rank key is a single number and the nearest
 * peers are simply the smallest keys: O(1) for the optimal peer,
 * O(k log k) for the k nearest, O(log n) per change.
 *
 * @module
 */

/** What the heap stores: a rank key, a tie-breaking ID and its own slot. */
export interface HeapEntry {
  /** Distance from the ideal point. */
  dist: number;
  /** Tie-breaker (smaller string first). */
  id: string;
  /** Position in the heap array; maintained by the heap (−1 when absent). */
  heapPos: number;
}

/**
 * Orders two entries: by distance, then by ID.
 *
 * @param a First.
 * @param b Second.
 * @returns `true` when `a` ranks before `b`.
 */
export function ranksBefore(a: HeapEntry, b: HeapEntry): boolean {
  return a.dist < b.dist || (a.dist === b.dist && a.id < b.id);
}

/** An indexed min-heap of {@linkcode HeapEntry}. */
export class DistanceHeap<T extends HeapEntry> {
  #a: T[] = [];

  /** Number of entries. */
  get size(): number {
    return this.#a.length;
  }

  /** The best entry, if any. */
  peek(): T | undefined {
    return this.#a[0];
  }

  /**
   * Replaces the contents (O(n) heapify).
   *
   * @param entries The entries.
   */
  reset(entries: Iterable<T>): void {
    this.#a = [...entries];
    for (let i = 0; i < this.#a.length; i++) this.#a[i]!.heapPos = i;
    for (let i = (this.#a.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  /**
   * Inserts an entry.
   *
   * @param e The entry.
   */
  push(e: T): void {
    e.heapPos = this.#a.length;
    this.#a.push(e);
    this.#up(e.heapPos);
  }

  /**
   * Removes an entry.
   *
   * @param e The entry (must be in this heap).
   */
  remove(e: T): void {
    const i = e.heapPos;
    const last = this.#a.pop()!;
    e.heapPos = -1;
    if (last === e) return;
    this.#a[i] = last;
    last.heapPos = i;
    this.#down(i);
    this.#up(last.heapPos);
  }

  /**
   * Restores the order after an entry's `dist` changed.
   *
   * @param e The entry.
   */
  update(e: T): void {
    this.#up(e.heapPos);
    this.#down(e.heapPos);
  }

  /**
   * The k best entries, best first, without changing the heap.
   *
   * @param k How many.
   * @returns The entries.
   */
  smallest(k: number): T[] {
    const a = this.#a;
    k = Math.min(k, a.length);
    const out: T[] = [];
    if (k <= 0) return out;
    // Frontier: a small heap of positions in `a`; popping a position makes its
    // children candidates.
    const front: number[] = [0];
    while (out.length < k) {
      const p = front[0]!;
      out.push(a[p]!);
      const last = front.pop()!;
      if (front.length > 0) {
        front[0] = last;
        siftFrontDown(front, a, 0);
      }
      const l = 2 * p + 1;
      if (l < a.length) {
        front.push(l);
        siftFrontUp(front, a, front.length - 1);
      }
      if (l + 1 < a.length) {
        front.push(l + 1);
        siftFrontUp(front, a, front.length - 1);
      }
    }
    return out;
  }

  #up(i: number): void {
    const a = this.#a;
    const e = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = a[p]!;
      if (!ranksBefore(e, pe)) break;
      a[i] = pe;
      pe.heapPos = i;
      i = p;
    }
    a[i] = e;
    e.heapPos = i;
  }

  #down(i: number): void {
    const a = this.#a;
    const n = a.length;
    const e = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      if (l + 1 < n && ranksBefore(a[l + 1]!, a[l]!)) c = l + 1;
      const ce = a[c]!;
      if (!ranksBefore(ce, e)) break;
      a[i] = ce;
      ce.heapPos = i;
      i = c;
    }
    a[i] = e;
    e.heapPos = i;
  }
}

function siftFrontUp(f: number[], a: HeapEntry[], i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!ranksBefore(a[f[i]!]!, a[f[p]!]!)) return;
    [f[i], f[p]] = [f[p]!, f[i]!];
    i = p;
  }
}

function siftFrontDown(f: number[], a: HeapEntry[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= f.length) return;
    let c = l;
    if (l + 1 < f.length && ranksBefore(a[f[l + 1]!]!, a[f[l]!]!)) c = l + 1;
    if (!ranksBefore(a[f[c]!]!, a[f[i]!]!)) return;
    [f[i], f[c]] = [f[c]!, f[i]!];
    i = c;
  }
}
