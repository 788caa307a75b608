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
 * @module
 */

import { encodeBase64 } from "./_base64.ts";

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

/**
 * Formats a date as Go's `time.Time` JSON (RFC 3339, UTC, fraction without
 * trailing zeros).
 *
 * @param d The date.
 * @returns The RFC 3339 text.
 */
export function formatGoTime(d: Date): string {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const ms = d.getUTCMilliseconds();
  if (ms === 0) return iso.slice(0, 19) + "Z";
  return iso.slice(0, 20) + String(ms).padStart(3, "0").replace(/0+$/, "") +
    "Z";
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

function encodeNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new RangeError(`Cannot encode JSON: unsupported value ${n}`);
  }
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
