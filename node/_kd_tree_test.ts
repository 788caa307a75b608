import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bruteForceNearest,
  distanceAt,
  KdTree,
  type Point4,
} from "./_kd_tree.ts";

function coordsOf(points: number[][]): Float64Array {
  return new Float64Array(points.flat());
}

Deno.test("KdTree.nearest() on an empty tree returns nothing", () => {
  const t = new KdTree(new Float64Array(0));
  assert.equal(t.size, 0);
  assert.deepEqual(t.nearest([0, 0, 0, 0], 3), []);
});

Deno.test("KdTree.nearest() orders by distance, ties by index", () => {
  const c = coordsOf([[3, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 2]]);
  const t = new KdTree(c);
  assert.deepEqual(t.nearest([0, 0, 0, 0], 4), [1, 2, 3, 0]);
  assert.deepEqual(t.nearest([0, 0, 0, 0], 1), [1]);
  assert.deepEqual(t.nearest([0, 0, 0, 0], 0), []);
  assert.deepEqual(t.nearest([0, 0, 0, 0], -1), []);
  assert.deepEqual(t.nearest([0, 0, 0, 0], 99).length, 4);
  assert.equal(distanceAt(c, 0, [0, 0, 0, 0]), 3);
});

Deno.test("KdTree rejects a coordinate count that is not a multiple of 4", () => {
  assert.throws(() => new KdTree(new Float64Array(5)), RangeError);
});

Deno.test("property: KdTree.nearest() equals a brute-force scan", () => {
  const coord = fc.oneof(
    fc.integer({ min: -3, max: 3 }), // many exact ties and duplicates
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  );
  const pt = fc.tuple(coord, coord, coord, coord);
  fc.assert(
    fc.property(
      fc.array(pt, { maxLength: 200 }),
      pt,
      fc.integer({ min: 0, max: 210 }),
      (points, target, k) => {
        const c = coordsOf(points);
        const t = new KdTree(c);
        assert.deepEqual(
          t.nearest(target as Point4, k),
          bruteForceNearest(c, target as Point4, k),
        );
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("KdTree.nearest() equals brute force on 20,000 random points", () => {
  const n = 20_000;
  const c = new Float64Array(n * 4);
  for (let i = 0; i < c.length; i++) c[i] = Math.round(Math.random() * 300);
  const t = new KdTree(c);
  for (let q = 0; q < 20; q++) {
    const target: Point4 = [
      Math.random() * 300,
      Math.random() * 300,
      Math.random() * 300,
      Math.random() * 300,
    ];
    assert.deepEqual(t.nearest(target, 10), bruteForceNearest(c, target, 10));
  }
});
