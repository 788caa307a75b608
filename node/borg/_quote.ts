/**
 * Fast Go-compatible JSON string quoting for large frame bodies.
 *
 * @module
 */

import { goQuote } from "../_go_json.ts";

const HTML_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** Anything `JSON.stringify` output needs changed for Go (one scan). */
const NEEDS_WORK = /[<>&\u2028\u2029]|\\ud/;

/**
 * Go `json.Marshal` string quoting (HTML escaping on), via the native
 * `JSON.stringify` where it agrees with Go: they differ only in `<`, `>`,
 * `&`, U+2028, U+2029 (raw in `JSON.stringify` output, so they can be
 * replaced afterwards) and lone surrogates (escaped by `JSON.stringify`, made
 * U+FFFD by Go: left to the general encoder).
 *
 * @param s The string.
 * @returns The quoted JSON string.
 */
export function quoteHtml(s: string): string {
  const j = JSON.stringify(s);
  if (!NEEDS_WORK.test(j)) return j;
  if (j.indexOf("\\ud") !== -1) return goQuote(s, true);
  return j.replace(/[<>&\u2028\u2029]/g, (c) => HTML_ESCAPES[c]!);
}
