import assert from "node:assert/strict";
import { isSafeName, MAX_NAME_LENGTH } from "./_names.ts";

Deno.test("isSafeName() accepts plain names and refuses option-like, hidden and path-like ones", () => {
  for (
    const ok of [
      "xmrig",
      "xmrig-6.21",
      "a.b",
      "miner_1",
      "x".repeat(MAX_NAME_LENGTH),
    ]
  ) {
    assert.equal(isSafeName(ok), true, ok);
  }
  for (
    const bad of [
      "",
      ".",
      "..",
      ".hidden",
      "-rf",
      "--help",
      "a/b",
      "a\\b",
      "a:b",
      "a\0b",
      " x",
      "x ",
      "x".repeat(MAX_NAME_LENGTH + 1),
      7,
      null,
    ]
  ) {
    assert.equal(isSafeName(bad), false, String(bad));
  }
});
