import assert from "node:assert/strict";
import fc from "fast-check";
import { RateLimiter } from "./rate_limiter.ts";

Deno.test("RateLimiter(10, 5): 10 allowed, then the 11th denied", () => {
  const t = 0;
  const rl = new RateLimiter(10, 5, { now: () => t });
  for (let i = 0; i < 10; i++) assert.equal(rl.allow(), true);
  assert.equal(rl.allow(), false);
});

Deno.test("RateLimiter refills only whole seconds and discards the fraction", () => {
  let t = 0;
  const rl = new RateLimiter(5, 10, { now: () => t });
  for (let i = 0; i < 5; i++) rl.allow();
  t = 999;
  assert.equal(rl.allow(), false);
  t = 1_100; // one whole second: +10, capped at 5
  for (let i = 0; i < 5; i++) assert.equal(rl.allow(), true);
  assert.equal(rl.allow(), false);
  t = 2_050; // only 0.95 s since the refill at 1100: nothing
  assert.equal(rl.allow(), false);
  t = 2_100;
  assert.equal(rl.allow(), true);
});

Deno.test("RateLimiter with a real clock allows again after 1.1 s", async () => {
  const rl = new RateLimiter(5, 10);
  for (let i = 0; i < 5; i++) rl.allow();
  assert.equal(rl.allow(), false);
  await new Promise((r) => setTimeout(r, 1_100));
  assert.equal(rl.allow(), true);
});

Deno.test("RateLimiter rejects invalid sizes", () => {
  for (const [c, r] of [[0, 1], [1, 0], [-1, 1], [1.5, 1], [1, Number.NaN]]) {
    assert.throws(() => new RateLimiter(c!, r!), RangeError);
  }
});

Deno.test("RateLimiter never allows more than burst + refill * whole seconds", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 50 }),
    fc.integer({ min: 1, max: 50 }),
    fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 200 }),
    (cap, refill, steps) => {
      let t = 0;
      const rl = new RateLimiter(cap, refill, { now: () => t });
      let allowed = 0;
      for (const dt of steps) {
        t += dt;
        if (rl.allow()) allowed++;
      }
      assert.ok(allowed <= cap + refill * Math.floor(t / 1000));
    },
  ));
});
