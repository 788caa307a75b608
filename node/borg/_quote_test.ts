import assert from "node:assert/strict";
import fc from "fast-check";
import { goQuote } from "../_go_json.ts";
import { quoteHtml } from "./_quote.ts";

Deno.test("quoteHtml() equals goQuote() with HTML escaping", () => {
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
    ]
  ) {
    assert.equal(quoteHtml(s), goQuote(s, true), JSON.stringify(s));
  }
  fc.assert(
    fc.property(
      fc.string({ unit: "binary" }),
      (s) => quoteHtml(s) === goQuote(s, true),
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.constantFrom(
          "a",
          "<",
          "&",
          "\\",
          '"',
          "\u2028",
          "\ud800",
          "\udfff",
          "\n",
          "\x01",
        ),
      ).map((a) => a.join("")),
      (s) => quoteHtml(s) === goQuote(s, true),
    ),
    { numRuns: 2000 },
  );
});
