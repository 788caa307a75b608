/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for
 * checking what nodes serve on `/metrics`.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Parses exposition text into samples keyed by `name{labels}` as written.
 *
 * @param text The exposition text.
 * @returns Sample values.
 * @throws {AssertionError} On any line that is not valid text format, a
 * duplicate TYPE, or a sample before its TYPE.
 */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) continue;
    const t = line.match(
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/,
    );
    if (t) {
      assert.ok(!types.has(t[1]!), `duplicate TYPE for ${t[1]}`);
      types.set(t[1]!, t[2]!);
      continue;
    }
    const m = line.match(
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/,
    );
    assert.ok(m, `not a valid sample line: ${line}`);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    assert.ok(
      types.has(m[1]!) || types.has(base),
      `sample before its TYPE: ${line}`,
    );
    samples.set(
      m[1]! + (m[2] ?? ""),
      Number(m[3]!.replace("+Inf", "Infinity")),
    );
  }
  return samples;
}
