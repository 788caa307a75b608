import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MAX_PARSED_LINE_LENGTH,
  parseXmrigLine,
  stripAnsi,
  XmrigOutputParser,
} from "./xmrig_output.ts";

const P = "[2026-02-20 10:00:00.000]  ";

Deno.test("parseXmrigLine() reads a speed line with the 10 s figure", () => {
  assert.deepEqual(
    parseXmrigLine(
      `${P}miner    speed 10s/60s/15m 1234.5 n/a n/a H/s max 1300.0 H/s`,
    ),
    { kind: "speed", hashrate: 1234.5, h10: 1234.5, max: 1300 },
  );
});

Deno.test("parseXmrigLine() falls back to the 60 s and 15 min figures", () => {
  const a = parseXmrigLine(
    `${P}miner    speed 10s/60s/15m n/a 980.0 900.5 H/s max 1000.0 H/s`,
  );
  assert.equal(a?.kind === "speed" && a.hashrate, 980);
  const b = parseXmrigLine(
    `${P}miner    speed 10s/60s/15m n/a n/a 77.25 H/s max n/a H/s`,
  );
  assert.equal(b?.kind === "speed" && b.hashrate, 77.25);
  const c = parseXmrigLine(
    `${P}miner    speed 10s/60s/15m n/a n/a n/a H/s max n/a H/s`,
  );
  assert.deepEqual(c, { kind: "speed", hashrate: 0 });
});

Deno.test("parseXmrigLine() applies kH/s and MH/s prefixes", () => {
  const k = parseXmrigLine(
    `${P}miner    speed 10s/60s/15m 1.5 1.4 1.3 kH/s max 2.0 kH/s`,
  );
  assert.equal(k?.kind === "speed" && k.hashrate, 1500);
  assert.equal(k?.kind === "speed" && k.max, 2000);
  const m = parseXmrigLine(`${P}opencl   speed 10s/60s/15m 25.50 n/a n/a MH/s`);
  assert.equal(m?.kind === "speed" && m.hashrate, 25_500_000);
});

Deno.test("parseXmrigLine() reads accepted and rejected shares", () => {
  assert.deepEqual(
    parseXmrigLine(`${P}cpu      accepted (12/1) diff 120001 (45 ms)`),
    {
      kind: "accepted",
      accepted: 12,
      rejected: 1,
      diff: 120001,
    },
  );
  assert.deepEqual(
    parseXmrigLine(
      `${P}cpu      rejected (12/2) diff 1000 "Low difficulty share" (40 ms)`,
    ),
    { kind: "rejected", accepted: 12, rejected: 2, diff: 1000 },
  );
});

Deno.test("parseXmrigLine() reads pool and job lines", () => {
  assert.deepEqual(
    parseXmrigLine(`${P}net      use pool pool.supportxmr.com:3333  1.2.3.4`),
    {
      kind: "pool",
      pool: "pool.supportxmr.com:3333",
    },
  );
  assert.deepEqual(
    parseXmrigLine(
      `${P}net      new job from pool.example:443 diff 120001 algo rx/0 height 2375000 (12 tx)`,
    ),
    {
      kind: "job",
      pool: "pool.example:443",
      algorithm: "rx/0",
      diff: 120001,
      height: 2375000,
    },
  );
});

Deno.test("parseXmrigLine() strips ANSI colours first", () => {
  const line =
    "\x1b[1;37m[2026-02-20 10:00:00.000]\x1b[0m  \x1b[44;1m\x1b[1;37m miner \x1b[0m    speed 10s/60s/15m \x1b[0;36m42.0\x1b[0m \x1b[1;30mn/a\x1b[0m n/a \x1b[1;36mH/s\x1b[0m";
  const ev = parseXmrigLine(line);
  assert.equal(ev?.kind === "speed" && ev.hashrate, 42);
  assert.equal(stripAnsi("\x1b[32mok\x1b[0m"), "ok");
});

Deno.test("parseXmrigLine() ignores other, malformed and oversized lines", () => {
  for (
    const line of [
      "",
      "hello",
      `${P}cpu      use profile  rx  (4 threads) scratchpad 2048 KB`,
      `${P}miner    speed 10s/60s/15m 1e9 n/a n/a H/s`.replace("1e9", "abc"),
      `${P}cpu      accepted (x/0) diff 1`,
      `${P}cpu      accepted (99999999999999999999/0) diff 1`,
      "speed 10s/60s/15m " + "9".repeat(MAX_PARSED_LINE_LENGTH),
    ]
  ) {
    const ev = parseXmrigLine(line);
    if (ev?.kind === "speed") assert.equal(ev.hashrate, 0, line);
    else assert.equal(ev, undefined, line);
  }
  assert.equal(parseXmrigLine(42 as unknown as string), undefined);
});

Deno.test("XmrigOutputParser accumulates figures across lines", () => {
  const p = new XmrigOutputParser();
  assert.deepEqual(p.stats(), {
    hashrate: 0,
    shares: 0,
    rejected: 0,
    pool: "",
    algorithm: "",
  });
  p.push(`${P}net      use pool a.example:1`);
  assert.equal(p.stats().pool, "a.example:1");
  p.push(`${P}net      new job from b.example:2 diff 5 algo cn/r height 9`);
  p.push(`${P}cpu      accepted (3/0) diff 5 (1 ms)`);
  p.push(`${P}cpu      rejected (3/1) diff 5 "bad" (1 ms)`);
  p.push(`${P}miner    speed 10s/60s/15m 10.0 n/a n/a H/s max 10.0 H/s`);
  p.push("garbage");
  p.push(`${P}miner    speed 10s/60s/15m 11.5 n/a n/a H/s max 11.5 H/s`);
  assert.deepEqual(p.stats(), {
    hashrate: 11.5,
    shares: 3,
    rejected: 1,
    pool: "b.example:2",
    algorithm: "cn/r",
  });
});

Deno.test("parseXmrigLine() never throws and yields sane numbers (fuzz)", () => {
  const pieces = fc.constantFrom(
    "speed 10s/60s/15m ",
    "accepted (",
    "rejected (",
    "/",
    ") diff ",
    "n/a ",
    "H/s",
    "kH/s",
    " max ",
    "new job from ",
    "use pool ",
    " algo ",
    " height ",
    "1",
    "23.5",
    "99999999999999999999",
    " ",
    "\x1b[0m",
    "[2026-02-20 10:00:00.000]",
  );
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.array(pieces).map((a) => a.join(""))),
      (line) => {
        const ev = parseXmrigLine(line);
        if (ev === undefined) return;
        switch (ev.kind) {
          case "speed":
            assert.ok(Number.isFinite(ev.hashrate) && ev.hashrate >= 0);
            break;
          case "accepted":
          case "rejected":
            assert.ok(
              Number.isSafeInteger(ev.accepted) &&
                Number.isSafeInteger(ev.rejected),
            );
            break;
          default:
            assert.ok(ev.pool.length > 0);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
