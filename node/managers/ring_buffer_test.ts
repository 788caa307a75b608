import assert from "node:assert/strict";
import fc from "fast-check";
import { RingBuffer } from "./ring_buffer.ts";

Deno.test("RingBuffer() rejects a non-positive or fractional capacity", () => {
  for (const cap of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new RingBuffer(cap), RangeError);
  }
});

Deno.test("RingBuffer.push() keeps the newest entries in order", () => {
  const b = new RingBuffer<string>(3);
  assert.deepEqual(b.toArray(), []);
  b.push("a");
  b.push("b");
  assert.deepEqual(b.toArray(), ["a", "b"]);
  b.push("c");
  b.push("d");
  assert.deepEqual(b.toArray(), ["b", "c", "d"]);
  assert.equal(b.size, 3);
  assert.equal(b.capacity, 3);
  assert.equal(b.dropped, 1);
  assert.equal(b.at(0), "b");
  assert.equal(b.at(2), "d");
  assert.equal(b.at(3), undefined);
  assert.equal(b.at(-1), undefined);
});

Deno.test("RingBuffer.last() clamps its count", () => {
  const b = new RingBuffer<number>(4);
  for (let i = 0; i < 10; i++) b.push(i);
  assert.deepEqual(b.last(2), [8, 9]);
  assert.deepEqual(b.last(100), [6, 7, 8, 9]);
  assert.deepEqual(b.last(0), []);
  assert.deepEqual(b.last(-5), []);
  b.clear();
  assert.equal(b.size, 0);
  assert.equal(b.dropped, 0);
  b.push(1);
  assert.deepEqual(b.toArray(), [1]);
});

Deno.test("RingBuffer matches a plain array model (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.integer(), { maxLength: 100 }),
      fc.integer({ min: -3, max: 30 }),
      (cap, items, n) => {
        const b = new RingBuffer<number>(cap);
        for (const i of items) b.push(i);
        const model = items.slice(Math.max(0, items.length - cap));
        assert.deepEqual(b.toArray(), model);
        assert.deepEqual(
          b.last(n),
          n <= 0 ? [] : model.slice(Math.max(0, model.length - n)),
        );
        assert.equal(b.dropped, Math.max(0, items.length - cap));
      },
    ),
  );
});
