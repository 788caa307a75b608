/**
 * A static 4-D KD-tree with exact k-nearest-neighbour queries, and the
 * brute-force scan it must agree with.
 *
 * Distances are `Math.sqrt(Σ (p[i] − t[i])²)` summed in dimension order, the
 * same expression Poindexter (Go) evaluates, so results are bit-identical to
 * a linear scan. Ties on distance go to the smaller point index: callers that
 * want a particular tie order pass the points in that order.
 *
 * @module
 */

/** Number of dimensions. */
export const DIMS = 4;

/** A query point. */
export type Point4 = readonly [number, number, number, number];

/**
 * Distance between point `i` of a coordinate array and a target.
 *
 * @param coords Coordinates, stride 4.
 * @param i The point index.
 * @param t The target.
 * @returns The Euclidean distance.
 */
export function distanceAt(
  coords: Float64Array,
  i: number,
  t: Point4,
): number {
  const o = i * DIMS;
  const d0 = coords[o]! - t[0];
  const d1 = coords[o + 1]! - t[1];
  const d2 = coords[o + 2]! - t[2];
  const d3 = coords[o + 3]! - t[3];
  return Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3);
}

/**
 * The k nearest points by scanning every point (the reference result).
 *
 * @param coords Coordinates, stride 4.
 * @param t The target.
 * @param k How many to return.
 * @returns Point indices, nearest first, ties by smaller index.
 */
export function bruteForceNearest(
  coords: Float64Array,
  t: Point4,
  k: number,
): number[] {
  const n = coords.length / DIMS;
  const dist = new Float64Array(n);
  const idx: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    dist[i] = distanceAt(coords, i, t);
    idx[i] = i;
  }
  idx.sort((a, b) => dist[a]! - dist[b]! || a - b);
  return idx.slice(0, Math.max(0, Math.min(k, n)));
}

/**
 * A balanced KD-tree over a fixed set of 4-D points. Build once, query many
 * times; rebuild after changes.
 */
export class KdTree {
  /** Number of points. */
  readonly size: number;
  // The tree is implicit: the node of range [lo, hi) is its middle element.
  #coords: Float64Array; // permuted copy, stride 4
  #index: Int32Array; // original index of each permuted point
  #axis: Uint8Array; // split axis of the node at each position

  /**
   * Builds a tree (O(n log n)).
   *
   * @param coords Coordinates, stride 4 (not kept; copied in tree order).
   */
  constructor(coords: Float64Array) {
    const n = coords.length / DIMS;
    if (!Number.isInteger(n)) {
      throw new RangeError(
        `Cannot build KD-tree: coordinate count ${coords.length} is not a multiple of 4`,
      );
    }
    this.size = n;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    this.#axis = new Uint8Array(n);
    buildRange(coords, order, this.#axis, 0, n);
    this.#index = order;
    this.#coords = new Float64Array(n * DIMS);
    for (let i = 0; i < n; i++) {
      this.#coords.set(
        coords.subarray(order[i]! * DIMS, order[i]! * DIMS + DIMS),
        i * DIMS,
      );
    }
  }

  /**
   * The k nearest points to a target.
   *
   * @param t The target.
   * @param k How many (clamped to [0, size]).
   * @returns Original point indices, nearest first, ties by smaller index.
   */
  nearest(t: Point4, k: number): number[] {
    k = Math.max(0, Math.min(Math.floor(k), this.size));
    if (k === 0) return [];
    const heap = new BoundedMaxHeap(k);
    this.#search(0, this.size, t, heap);
    return heap.drainSorted();
  }

  #search(lo: number, hi: number, t: Point4, heap: BoundedMaxHeap): void {
    if (lo >= hi) return;
    const mid = (lo + hi) >>> 1;
    const c = this.#coords;
    heap.offer(distanceAt(c, mid, t), this.#index[mid]!);
    if (hi - lo === 1) return;
    const axis = this.#axis[mid]!;
    const diff = t[axis]! - c[mid * DIMS + axis]!;
    const [nearLo, nearHi, farLo, farHi] = diff < 0
      ? [lo, mid, mid + 1, hi]
      : [mid + 1, hi, lo, mid];
    this.#search(nearLo, nearHi, t, heap);
    // Every far-side point p has |p[axis] − t[axis]| ≥ |diff|, so its computed
    // distance is ≥ sqrt(diff²). Equality must still be visited: a tie with a
    // smaller index would win.
    if (!heap.full || Math.sqrt(diff * diff) <= heap.worst) {
      this.#search(farLo, farHi, t, heap);
    }
  }
}

function buildRange(
  coords: Float64Array,
  order: Int32Array,
  axes: Uint8Array,
  lo: number,
  hi: number,
): void {
  if (hi - lo <= 1) return;
  // Split on the axis of widest spread.
  let axis = 0;
  let best = -1;
  for (let a = 0; a < DIMS; a++) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = lo; i < hi; i++) {
      const v = coords[order[i]! * DIMS + a]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (max - min > best) {
      best = max - min;
      axis = a;
    }
  }
  const mid = (lo + hi) >>> 1;
  select(coords, order, axis, lo, hi - 1, mid);
  axes[mid] = axis;
  buildRange(coords, order, axes, lo, mid);
  buildRange(coords, order, axes, mid + 1, hi);
}

/** Quickselect: places the k-th smallest (on `axis`) at `k`, smaller left. */
function select(
  coords: Float64Array,
  order: Int32Array,
  axis: number,
  left: number,
  right: number,
  k: number,
): void {
  const key = (i: number): number => coords[order[i]! * DIMS + axis]!;
  while (right > left) {
    // Median of three as pivot, moved to `right`.
    const m = (left + right) >>> 1;
    if (key(m) < key(left)) swap(order, m, left);
    if (key(right) < key(left)) swap(order, right, left);
    if (key(m) < key(right)) swap(order, m, right);
    const pivot = key(right);
    let store = left;
    for (let i = left; i < right; i++) {
      if (key(i) < pivot) swap(order, i, store++);
    }
    swap(order, store, right);
    if (store === k) return;
    if (store < k) left = store + 1;
    else right = store - 1;
  }
}

function swap(a: Int32Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/** Keeps the k best (smallest distance, then smallest index) candidates. */
class BoundedMaxHeap {
  readonly #cap: number;
  #n = 0;
  readonly #dist: Float64Array;
  readonly #idx: Int32Array;

  constructor(cap: number) {
    this.#cap = cap;
    this.#dist = new Float64Array(cap);
    this.#idx = new Int32Array(cap);
  }

  get full(): boolean {
    return this.#n === this.#cap;
  }

  /** Distance of the worst kept candidate. */
  get worst(): number {
    return this.#dist[0]!;
  }

  #worse(i: number, j: number): boolean {
    const a = this.#dist[i]!;
    const b = this.#dist[j]!;
    return a > b || (a === b && this.#idx[i]! > this.#idx[j]!);
  }

  #swap(i: number, j: number): void {
    const d = this.#dist[i]!;
    this.#dist[i] = this.#dist[j]!;
    this.#dist[j] = d;
    const x = this.#idx[i]!;
    this.#idx[i] = this.#idx[j]!;
    this.#idx[j] = x;
  }

  offer(d: number, index: number): void {
    if (this.#n < this.#cap) {
      let i = this.#n++;
      this.#dist[i] = d;
      this.#idx[i] = index;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.#worse(i, p)) break;
        this.#swap(i, p);
        i = p;
      }
      return;
    }
    const top = this.#dist[0]!;
    if (d > top || (d === top && index > this.#idx[0]!)) return;
    this.#dist[0] = d;
    this.#idx[0] = index;
    this.#siftDown(0, this.#n);
  }

  #siftDown(i: number, n: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      let w = l;
      if (l + 1 < n && this.#worse(l + 1, l)) w = l + 1;
      if (!this.#worse(w, i)) return;
      this.#swap(i, w);
      i = w;
    }
  }

  /** Empties the heap, returning indices best first. */
  drainSorted(): number[] {
    const out: number[] = new Array(this.#n);
    for (let n = this.#n; n > 0; n--) {
      out[n - 1] = this.#idx[0]!;
      this.#swap(0, n - 1);
      this.#siftDown(0, n - 1);
    }
    this.#n = 0;
    return out;
  }
}
