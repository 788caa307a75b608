import assert from "node:assert/strict";
import { clip } from "./_text.ts";

Deno.test("clip() keeps short text and cuts long text with an ellipsis, never inside a surrogate pair", () => {
  assert.equal(clip("short"), "short");
  assert.equal(clip("x".repeat(64)), "x".repeat(64));
  assert.equal(clip("x".repeat(65)), "x".repeat(64) + "…");
  assert.equal(clip("abcdef", 3), "abc…");
  // "😀" is two code units; a cut between them drops the whole character.
  assert.equal(clip("ab😀cd", 3), "ab…");
  assert.equal(clip(12345, 3), "123…");
});
