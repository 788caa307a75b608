import assert from "node:assert/strict";
import { DedupCache } from "./dedup.ts";

Deno.test("DedupCache: unknown, then duplicate; another ID or peer is new", () => {
  const d = new DedupCache({ now: () => 0 });
  assert.equal(d.isDuplicate("p", "a"), false);
  d.mark("p", "a");
  assert.equal(d.isDuplicate("p", "a"), true);
  assert.equal(d.isDuplicate("p", "b"), false);
  assert.equal(d.isDuplicate("q", "a"), false);
});

Deno.test("DedupCache: entries expire after the TTL, with or without a sweep", () => {
  let t = 0;
  const d = new DedupCache({ ttl: 1_000, now: () => t });
  d.mark("p", "a");
  d.mark("p", "b");
  t = 1_001;
  assert.equal(d.isDuplicate("p", "a"), false);
  assert.equal(d.size, 1);
  assert.equal(d.sweep(), 1);
  assert.equal(d.size, 0);
});

Deno.test("DedupCache: a future-stamped message is remembered until its stamp + TTL", () => {
  let t = 0;
  const d = new DedupCache({ ttl: 1_000, now: () => t });
  assert.equal(d.check("p", "a", 900), true);
  t = 1_500;
  assert.equal(d.check("p", "a", 900), false);
  t = 1_901;
  assert.equal(d.check("p", "a", 900), true);
});

Deno.test("DedupCache: the cap forgets the oldest entry", () => {
  const d = new DedupCache({ maxEntries: 3, now: () => 0 });
  for (const id of ["a", "b", "c", "d"]) assert.equal(d.check("p", id), true);
  assert.equal(d.size, 3);
  assert.equal(d.isDuplicate("p", "a"), false);
  assert.equal(d.isDuplicate("p", "d"), true);
  d.mark("p", "x");
  assert.equal(d.size, 3);
  d.clear();
  assert.equal(d.size, 0);
});

Deno.test("DedupCache: eviction keeps the newest entries across re-marks, sweeps and clears", () => {
  let t = 0;
  const d = new DedupCache({ maxEntries: 50, ttl: 1_000, now: () => t });
  const live: string[] = [];
  for (let i = 0; i < 5_000; i++) {
    const id = String(i);
    if (i % 7 === 0 && live.length > 10) {
      // re-marking an older entry moves it to the young end
      const again = live.splice(3, 1)[0]!;
      d.mark("p", again);
      live.push(again);
    }
    if (i === 2_500) {
      d.clear();
      live.length = 0;
    }
    if (i === 3_000) {
      t = 2_000; // everything so far expires
      d.sweep();
      live.length = 0;
    }
    assert.equal(d.check("p", id), true);
    live.push(id);
    while (live.length > 50) live.shift();
    assert.equal(d.size, live.length);
  }
  const kept = new Set(live);
  for (let i = 0; i < 5_000; i++) {
    assert.equal(d.isDuplicate("p", String(i)), kept.has(String(i)));
  }
});

Deno.test("DedupCache: 100 concurrent mark/check calls stay consistent", async () => {
  const d = new DedupCache();
  await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    await null;
    d.mark("p", String(i));
    assert.equal(d.isDuplicate("p", String(i)), true);
  }));
  assert.equal(d.size, 100);
});

Deno.test("DedupCache rejects invalid options", () => {
  assert.throws(() => new DedupCache({ ttl: 0 }), RangeError);
  assert.throws(() => new DedupCache({ maxEntries: -1 }), RangeError);
});
