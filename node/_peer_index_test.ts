import assert from "node:assert/strict";
import fc from "fast-check";
import { DistanceHeap, type HeapEntry, ranksBefore } from "./_peer_index.ts";

function sorted(entries: HeapEntry[]): HeapEntry[] {
  return [...entries].sort((
    a,
    b,
  ) => (ranksBefore(a, b) ? -1 : ranksBefore(b, a) ? 1 : 0));
}

Deno.test("property: DistanceHeap keeps the k smallest under push/remove/update/reset", () => {
  const op = fc.oneof(
    fc.record({
      t: fc.constant("push" as const),
      d: fc.integer({ min: 0, max: 5 }),
    }),
    fc.record({ t: fc.constant("remove" as const), i: fc.nat() }),
    fc.record({
      t: fc.constant("update" as const),
      i: fc.nat(),
      d: fc.integer({ min: 0, max: 5 }),
    }),
    fc.record({ t: fc.constant("reset" as const) }),
  );
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 120 }),
      fc.integer({ min: -1, max: 50 }),
      (ops, k) => {
        const heap = new DistanceHeap<HeapEntry>();
        let live: HeapEntry[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.t === "push") {
            const e = {
              dist: o.d,
              id: `e${String(next++).padStart(3, "0")}`,
              heapPos: -1,
            };
            live.push(e);
            heap.push(e);
          } else if (o.t === "remove" && live.length) {
            const e = live[o.i % live.length]!;
            live = live.filter((x) => x !== e);
            heap.remove(e);
            assert.equal(e.heapPos, -1);
          } else if (o.t === "update" && live.length) {
            const e = live[o.i % live.length]!;
            e.dist = o.d;
            heap.update(e);
          } else if (o.t === "reset") {
            heap.reset(live);
          }
          assert.equal(heap.size, live.length);
          assert.equal(heap.peek(), sorted(live)[0]);
        }
        assert.deepEqual(
          heap.smallest(k),
          sorted(live).slice(0, Math.max(0, k)),
        );
      },
    ),
    { numRuns: 400 },
  );
});
