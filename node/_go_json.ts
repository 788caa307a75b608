/**
 * Writes JSON exactly as Go's `encoding/json` does, for structures a Go node
 * reads or whose bytes are compared against Go-made vectors.
 *
 * Value model:
 * - plain objects keep their insertion order (Go struct field order);
 *   `undefined` members are skipped (use it for `omitempty`);
 * - {@linkcode GoMap} emits its keys sorted byte-wise (Go `map` values);
 * - {@linkcode RawJson} embeds already-encoded JSON, compacted;
 * - `Uint8Array` is padded standard base64 (Go `[]byte`); `null` stays `null`;
 * - `Date` is RFC 3339 UTC with trailing fractional zeros removed;
 * - numbers must be finite; integers print as decimal, floats as in ES.
 *
 * {@linkcode marshalGo} and {@linkcode goQuote} are the reference. The hot
 * paths ({@linkcode marshalJson} for values of the JSON data model,
 * {@linkcode quoteGoFast} for strings) use the native `JSON.stringify` where
 * its output equals Go's, which it does except for U+2028/U+2029, lone
 * surrogates, non-finite numbers and, with HTML escaping on, `<`, `>` and
 * `&`; those take the reference path. Property tests in `_go_json_test.ts`
 * hold the fast paths to the reference.
 *
 * @module
 */

import { encodeBase64 } from "./_base64.ts";
import { formatGoTime } from "./_go_time.ts";

/** A Go `map[string]T`: encoded with its keys sorted. */
export class GoMap {
  /** The entries. */
  readonly entries: Record<string, unknown>;
  /**
   * Wraps a record whose keys are to be sorted on output.
   *
   * @param entries The entries.
   */
  constructor(entries: Record<string, unknown>) {
    this.entries = entries;
  }
}

/** Already-encoded JSON (Go `json.RawMessage`), compacted when written. */
export class RawJson {
  /** The JSON text. */
  readonly text: string;
  /**
   * Wraps JSON text.
   *
   * @param text Valid JSON text.
   */
  constructor(text: string) {
    this.text = text;
  }
}

/** Options for {@linkcode marshalGo}. */
export interface MarshalGoOptions {
  /** Escape `<`, `>` and `&` as `\u003c` etc. (Go's default; off on the p2p wire). */
  escapeHtml?: boolean;
  /** Indent unit for `MarshalIndent` output (Go writes `"  "`); none when absent. */
  indent?: string;
}

const HEX = "0123456789abcdef";

/**
 * Encodes a string as Go does: short escapes for `"`, `\\`, `\n`, `\r`, `\t`,
 * `\b`, `\f`; `\u00xx` for other control bytes; U+2028/U+2029 always escaped;
 * lone surrogates replaced by U+FFFD; `<`, `>`, `&` escaped when asked.
 */
export function goQuote(s: string, escapeHtml: boolean): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20) {
      switch (c) {
        case 0x0a:
          esc = "\\n";
          break;
        case 0x0d:
          esc = "\\r";
          break;
        case 0x09:
          esc = "\\t";
          break;
        case 0x08:
          esc = "\\b";
          break;
        case 0x0c:
          esc = "\\f";
          break;
        default:
          esc = "\\u00" + HEX[c >> 4] + HEX[c & 0xf];
      }
    } else if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = "\\\\";
    else if (escapeHtml && (c === 0x3c || c === 0x3e || c === 0x26)) {
      esc = "\\u00" + HEX[c >> 4] + HEX[c & 0xf];
    } else if (c === 0x2028) esc = "\\u2028";
    else if (c === 0x2029) esc = "\\u2029";
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      esc = "\ufffd";
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Compacts JSON text the way Go's `json.Compact` does (whitespace only). */
function compact(text: string): string {
  let out = "";
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += text.slice(start, i);
      start = i + 1;
    }
  }
  return out + text.slice(start);
}

function unsupported(n: number): RangeError {
  // Go: "json: unsupported value: NaN"; never write null in its place.
  return new RangeError(`Cannot encode JSON: unsupported value ${n}`);
}

function encodeNumber(n: number): string {
  if (!Number.isFinite(n)) throw unsupported(n);
  return JSON.stringify(n);
}

function write(
  value: unknown,
  escapeHtml: boolean,
  indent: string | undefined,
  depth: number,
): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return goQuote(value, escapeHtml);
    case "number":
      return encodeNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      throw new TypeError(`Cannot encode JSON: unsupported ${typeof value}`);
  }
  if (value instanceof Uint8Array) return '"' + encodeBase64(value) + '"';
  if (value instanceof RawJson) {
    const c = compact(value.text);
    return indent === undefined ? c : reindent(c, indent, depth);
  }
  if (value instanceof Date) return '"' + formatGoTime(value) + '"';
  const nl = indent === undefined ? "" : "\n" + indent.repeat(depth + 1);
  const end = indent === undefined ? "" : "\n" + indent.repeat(depth);
  const colon = indent === undefined ? ":" : ": ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += nl + write(value[i], escapeHtml, indent, depth + 1);
    }
    return out + end + "]";
  }
  let entries: [string, unknown][];
  if (value instanceof GoMap) {
    entries = Object.entries(value.entries).sort(([a], [b]) =>
      compareUtf8(a, b)
    );
  } else if (value instanceof Map) {
    entries = [...value.entries()].map(([k, v]) =>
      [String(k), v] as [
        string,
        unknown,
      ]
    ).sort(([a], [b]) => compareUtf8(a, b));
  } else {
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === "function") {
      return write(json.call(value), escapeHtml, indent, depth);
    }
    entries = Object.entries(value as Record<string, unknown>);
  }
  let out = "{";
  let first = true;
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += nl + goQuote(k, escapeHtml) + colon +
      write(v, escapeHtml, indent, depth + 1);
  }
  if (first) return "{}";
  return out + end + "}";
}

/** Byte-wise UTF-8 order of two strings (Go sorts map keys this way). */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) {
    if (ea[i] !== eb[i]) return ea[i]! - eb[i]!;
  }
  return ea.length - eb.length;
}

const utf8 = new TextEncoder();

function reindent(compactText: string, indent: string, depth: number): string {
  return write(JSON.parse(compactText), false, indent, depth);
}

/**
 * Encodes a value as Go's `json.Marshal` (or `MarshalIndent` when `indent`
 * is set) would, with no trailing newline.
 *
 * @param value The value (see the module docs for the model).
 * @param options HTML escaping and indentation.
 * @returns The JSON text.
 * @throws {RangeError} For non-finite numbers.
 * @throws {TypeError} For functions and symbols.
 */
export function marshalGo(
  value: unknown,
  options: MarshalGoOptions = {},
): string {
  return write(value, options.escapeHtml ?? true, options.indent, 0);
}

// ---------------------------------------------------------------------------
// Fast paths

/**
 * Tells whether `JSON.stringify` output differs from Go's (HTML escaping
 * off): Go escapes U+2028/U+2029 and replaces lone surrogates (which
 * `JSON.stringify` writes as `\udxxx`). A literal backslash followed by
 * "ud" is a harmless false positive (it only takes the reference path).
 *
 * @param json `JSON.stringify` output.
 * @returns `true` when Go would write other bytes.
 */
export function differsFromGo(json: string): boolean {
  return json.indexOf("\u2028") >= 0 || json.indexOf("\u2029") >= 0 ||
    json.indexOf("\\ud") >= 0;
}

/**
 * Throws when a value holds a number Go cannot encode (`NaN`, `±Infinity`,
 * which `JSON.stringify` would write as `null`).
 *
 * @param value Any value of the JSON data model.
 * @param depth How deep the walk is (it stops below 1000 levels).
 * @throws {RangeError} For a non-finite number.
 */
export function assertFiniteNumbers(value: unknown, depth = 0): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw unsupported(value);
    return;
  }
  if (value === null || typeof value !== "object" || depth > 1000) return;
  if (Array.isArray(value)) {
    for (const v of value) assertFiniteNumbers(v, depth + 1);
    return;
  }
  for (const v of Object.values(value)) assertFiniteNumbers(v, depth + 1);
}

/**
 * Go-exact JSON of a value of the JSON data model (what `JSON.parse`
 * returns), HTML escaping off: the native `JSON.stringify` when its output
 * equals Go's, else {@linkcode marshalGo}. (Objects with integer-like keys
 * are written in JavaScript's property order, which puts those keys first.)
 *
 * @param value The value.
 * @returns The JSON text.
 * @throws {RangeError} For non-finite numbers.
 */
export function marshalJson(value: unknown): string {
  const fast = JSON.stringify(value);
  if (fast === undefined) return "null";
  // JSON.stringify writes NaN and ±Infinity as null; Go refuses them. Only
  // output that contains a null can hide one, so only then walk the value.
  if (fast.includes("null")) assertFiniteNumbers(value);
  if (!differsFromGo(fast)) return fast;
  return write(value, false, undefined, 0);
}

const HTML_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** Anything `JSON.stringify` output needs changed for Go, HTML escaping on. */
const NEEDS_WORK_HTML = /[<>&\u2028\u2029]|\\ud/;

/**
 * {@linkcode goQuote}, faster: IDs, types and timestamps (short printable
 * ASCII without `"` or `\`) are wrapped as they are; anything else goes
 * through the native `JSON.stringify`, mended where Go differs (`<`, `>`,
 * `&` with HTML escaping on and U+2028/U+2029 are replaced afterwards; a
 * lone surrogate takes {@linkcode goQuote}).
 *
 * @param s The string.
 * @param escapeHtml Escape `<`, `>` and `&` (Go's default; off on the p2p wire).
 * @returns The quoted JSON string.
 */
export function quoteGoFast(s: string, escapeHtml: boolean): string {
  if (escapeHtml) {
    const j = JSON.stringify(s);
    if (!NEEDS_WORK_HTML.test(j)) return j;
    if (j.indexOf("\\ud") !== -1) return goQuote(s, true);
    return j.replace(/[<>&\u2028\u2029]/g, (c) => HTML_ESCAPES[c]!);
  }
  if (s.length <= 64) {
    let plain = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        plain = false;
        break;
      }
    }
    if (plain) return '"' + s + '"';
  }
  const q = JSON.stringify(s);
  return differsFromGo(q) ? goQuote(s, false) : q;
}
