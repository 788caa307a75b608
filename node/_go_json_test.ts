import assert from "node:assert/strict";
import fc from "fast-check";
import {
  GoMap,
  goQuote,
  marshalGo,
  marshalJson,
  quoteGoFast,
  RawJson,
} from "./_go_json.ts";
import {
  formatGoTime,
  parseGoTime,
  parseGoTimeFast,
  ZERO_TIME,
  ZERO_TIME_MS,
} from "./_go_time.ts";

/** Strings that take every branch where JSON.stringify and Go differ. */
const tricky: fc.Arbitrary<string> = fc.array(
  fc.constantFrom(
    "a",
    "<",
    ">",
    "&",
    "\\",
    '"',
    "\u2028",
    "\u2029",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "\n",
    "\x01",
    "\x7f",
    "ud",
  ),
).map((a) => a.join(""));

const anyString = fc.oneof(fc.string({ unit: "binary" }), tricky);

Deno.test("quoteGoFast() equals goQuote(), HTML escaping on and off", () => {
  for (
    const s of [
      "",
      "plain",
      "<a & b>",
      "\u2028\u2029",
      "\ud800 lone",
      "x\udc00",
      "\ud83d\ude00 pair",
      '"\\\b\f\n\r\t\x00\x1f\x7f',
      "back\\ud800slash",
      "x".repeat(65),
    ]
  ) {
    for (const html of [true, false]) {
      assert.equal(quoteGoFast(s, html), goQuote(s, html), JSON.stringify(s));
    }
  }
  fc.assert(
    fc.property(
      anyString,
      fc.boolean(),
      (s, html) => quoteGoFast(s, html) === goQuote(s, html),
    ),
    { numRuns: 4000 },
  );
});

/** JSON data model values whose strings include the tricky ones. */
const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    anyString,
    fc.array(tie("value")),
    fc.dictionary(anyString, tie("value")),
  ),
})).value;

Deno.test("marshalJson() (native fast path) equals marshalGo() (reference), HTML escaping off", () => {
  fc.assert(
    fc.property(jsonValue, (v) => {
      // Objects with integer-like keys are ordered by JavaScript, not by us.
      fc.pre(!/"\d+":/.test(JSON.stringify(v)));
      assert.equal(marshalJson(v), marshalGo(v, { escapeHtml: false }));
    }),
    { numRuns: 2000 },
  );
  assert.equal(marshalJson(undefined), "null");
});

Deno.test("marshalJson() and marshalGo() refuse NaN and ±Infinity as Go does", () => {
  for (const n of [Number.NaN, Infinity, -Infinity]) {
    for (const v of [n, [1, n], { a: { b: n } }]) {
      assert.throws(() => marshalJson(v), RangeError);
      assert.throws(() => marshalGo(v), RangeError);
    }
  }
});

Deno.test("marshalGo(): struct order, sorted maps, raw JSON, bytes, dates, indent", () => {
  assert.equal(
    marshalGo({
      z: 1,
      a: new GoMap({ b: 2, a: 1, "é": 3 }),
      raw: new RawJson('{ "x" : [1, 2] }'),
      bytes: new Uint8Array([1, 2, 3]),
      at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 120)),
      skip: undefined,
      html: "<&>",
    }),
    '{"z":1,"a":{"a":1,"b":2,"é":3},"raw":{"x":[1,2]},"bytes":"AQID",' +
      '"at":"2026-01-02T03:04:05.12Z","html":"\\u003c\\u0026\\u003e"}',
  );
  assert.equal(
    marshalGo({ a: [1], b: {} }, { indent: "  " }),
    '{\n  "a": [\n    1\n  ],\n  "b": {}\n}',
  );
});

Deno.test("formatGoTime() writes Go's RFC 3339 form and parseGoTime() reads it back", () => {
  assert.equal(formatGoTime(0), "1970-01-01T00:00:00Z");
  assert.equal(formatGoTime(new Date(1_500)), "1970-01-01T00:00:01.5Z");
  assert.equal(formatGoTime(-1), "1969-12-31T23:59:59.999Z");
  assert.equal(formatGoTime(ZERO_TIME_MS), ZERO_TIME);
  assert.throws(() => formatGoTime(Number.NaN), RangeError);
  assert.throws(() => formatGoTime(new Date(Number.NaN)), RangeError);
  fc.assert(
    fc.property(
      fc.integer({ min: ZERO_TIME_MS, max: Date.UTC(9999, 11, 31) }),
      (ms) => {
        const text = formatGoTime(ms);
        const iso = new Date(ms).toISOString();
        // The reference: Date's own ISO text with trailing fraction zeros cut.
        assert.equal(text, iso.replace(/\.?0*Z$/, "Z"));
        assert.equal(parseGoTime(text), ms);
        assert.equal(parseGoTimeFast(text), ms);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("parseGoTimeFast() (cached fast path) agrees with parseGoTime() (reference)", () => {
  const ts = fc.tuple(
    fc.date({
      min: new Date(0),
      max: new Date("2999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
    fc.stringMatching(/^(\.\d{1,9})?$/),
    fc.constantFrom("Z", "+01:00", "-05:30", "z", ""),
  ).map(([d, frac, zone]) => d.toISOString().slice(0, 19) + frac + zone);
  fc.assert(
    fc.property(
      fc.oneof(ts, fc.string(), ts.map((s) => s.replace(/\d(?=\d*Z$)/, "x"))),
      (text) => {
        // Twice: the second call is served from the one-entry cache.
        assert.equal(parseGoTimeFast(text), parseGoTime(text));
        assert.equal(parseGoTimeFast(text), parseGoTime(text));
      },
    ),
    { numRuns: 3000 },
  );
});
