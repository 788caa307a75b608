import assert from "node:assert/strict";
import { FramePool } from "./_frame_pool.ts";

Deno.test("FramePool hands out exact, aligned, never-overlapping views", () => {
  const pool = new FramePool(1024);
  const seen: Uint8Array[] = [];
  const sizes = [1, 7, 8, 100, 255, 256, 3, 200, 250, 17, 64, 0, 129];
  for (let round = 0; round < 20; round++) {
    for (const size of sizes) {
      const v = pool.allocate(size);
      assert.equal(v.length, size);
      assert.equal(v.byteOffset % 8, 0);
      v.fill(seen.length & 0xff);
      seen.push(v);
    }
  }
  // Each view still holds its own fill: no two views share a byte.
  seen.forEach((v, i) =>
    assert.ok(v.every((b) => b === (i & 0xff)), `view ${i}`)
  );
});

Deno.test("FramePool gives large frames a buffer of their own", () => {
  const pool = new FramePool(1024);
  const small = pool.allocate(16);
  const big = pool.allocate(257);
  assert.equal(big.length, 257);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, 257);
  assert.notEqual(big.buffer, small.buffer);
});

Deno.test("FramePool starts a new slab when the current one is full", () => {
  const pool = new FramePool(1024);
  const a = pool.allocate(256);
  const b = pool.allocate(256);
  const c = pool.allocate(256);
  const d = pool.allocate(256);
  const e = pool.allocate(8);
  assert.equal(a.buffer, d.buffer);
  assert.notEqual(e.buffer, a.buffer);
  assert.equal(e.byteOffset, 0);
  assert.deepEqual([b.byteOffset, c.byteOffset, d.byteOffset], [256, 512, 768]);
});
