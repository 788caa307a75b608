import assert from "node:assert/strict";
import fc from "fast-check";
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

Deno.test("DedupCache behaves like a plain ordered model across peers (property)", () => {
  type Op =
    | { op: "check" | "mark" | "isDuplicate"; peer: number; id: number }
    | { op: "tick"; ms: number }
    | { op: "sweep" }
    | { op: "clear" };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        op: fc.constantFrom("check", "mark", "isDuplicate") as fc.Arbitrary<
          "check" | "mark" | "isDuplicate"
        >,
        peer: fc.integer({ min: 0, max: 3 }),
        id: fc.integer({ min: 0, max: 12 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("tick" as const),
        ms: fc.integer({ min: 0, max: 600 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constantFrom("sweep", "clear") as fc.Arbitrary<"sweep">,
      }),
    },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(op, { maxLength: 300 }),
      (max, ops) => {
        let t = 0;
        const ttl = 1_000;
        const d = new DedupCache({ ttl, maxEntries: max, now: () => t });
        // Model: keys in age order (oldest first) with their expiry.
        let model: { key: string; expiry: number }[] = [];
        const find = (key: string) => model.findIndex((e) => e.key === key);
        const set = (key: string) => {
          const i = find(key);
          if (i >= 0) model.splice(i, 1);
          model.push({ key, expiry: t + ttl });
          while (model.length > max) model.shift();
        };
        for (const o of ops) {
          if (o.op === "tick") t += o.ms;
          else if (o.op === "sweep") {
            const before = model.length;
            model = model.filter((e) => t <= e.expiry);
            assert.equal(d.sweep(), before - model.length);
          } else if (o.op === "clear") {
            model = [];
            d.clear();
          } else {
            const peer = `peer-${o.peer}`, id = `id-${o.id}`;
            const key = `${peer}/${id}`;
            const i = find(key);
            const live = i >= 0 && t <= model[i]!.expiry;
            if (o.op === "isDuplicate") {
              if (i >= 0 && !live) model.splice(i, 1);
              assert.equal(d.isDuplicate(peer, id), live);
            } else if (o.op === "mark") {
              set(key);
              d.mark(peer, id);
            } else {
              if (!live) set(key);
              assert.equal(d.check(peer, id), !live);
            }
          }
          assert.equal(d.size, model.length);
        }
        for (let p = 0; p < 4; p++) {
          for (let i = 0; i <= 12; i++) {
            const k = find(`peer-${p}/id-${i}`);
            const live = k >= 0 && t <= model[k]!.expiry;
            assert.equal(d.isDuplicate(`peer-${p}`, `id-${i}`), live);
            if (k >= 0 && !live) model.splice(k, 1);
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("DedupCache: re-marks without eviction keep one live entry per ID", () => {
  const d = new DedupCache({ maxEntries: 1_000_000, now: () => 0 });
  for (let i = 0; i < 200_000; i++) d.mark("p", String(i % 10));
  assert.equal(d.size, 10);
  for (let i = 0; i < 10; i++) {
    assert.equal(d.isDuplicate("p", String(i)), true);
  }
});
