/**
 * Go's `time.Time` JSON, both ways: RFC 3339 text as Go's decoder accepts
 * it ({@linkcode parseGoTime}, the reference, and {@linkcode parseGoTimeFast}
 * for the read path) and as Go's encoder writes it ({@linkcode formatGoTime}:
 * UTC, fraction without trailing zeros, none when zero).
 *
 * @module
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/** The RFC 3339 text Go writes for its zero `time.Time` ("unset"). */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

/**
 * Parses RFC 3339 text as Go's `time.Time` JSON decoder accepts it, to
 * epoch milliseconds (sub-millisecond digits dropped).
 *
 * @param text The text.
 * @returns Milliseconds since 1970, or `undefined` when invalid.
 */
export function parseGoTime(text: string): number | undefined {
  const m = TIME_RE.exec(text);
  if (!m) return undefined;
  const [year, mon, day, h, min, s] = [1, 2, 3, 4, 5, 6].map((i) =>
    Number(m[i])
  ) as [number, number, number, number, number, number];
  if (mon < 1 || mon > 12 || day < 1 || h > 23 || min > 59 || s > 59) {
    return undefined;
  }
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = mon === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[mon - 1]!;
  if (day > maxDay) return undefined;
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (oh * 60 + om) * 60_000 * (m[9] === "-" ? -1 : 1);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, mon - 1, day);
  d.setUTCHours(h, min, s, Number((m[7] ?? "").padEnd(3, "0").slice(0, 3)));
  return d.getTime() - offset;
}

/** Epoch milliseconds of Go's zero time, `0001-01-01T00:00:00Z`. */
export const ZERO_TIME_MS: number = parseGoTime(ZERO_TIME)!;

let lastTimeText = "";
let lastTimeMs: number | undefined;
let lastPrefix = "";
let lastPrefixMs = 0;

/**
 * {@linkcode parseGoTime}, with a fast path for the UTC form Go and we
 * write (`YYYY-MM-DDTHH:MM:SS[.f]Z`): the whole-second prefix is parsed
 * once per second and the last result is remembered (the read path asks
 * twice per message). A property test holds it to the reference.
 *
 * @param text The text.
 * @returns Milliseconds since 1970, or `undefined` when invalid.
 */
export function parseGoTimeFast(text: string): number | undefined {
  if (text === lastTimeText) return lastTimeMs;
  let ms: number | undefined;
  const n = text.length;
  if (
    n >= 20 && text.charCodeAt(n - 1) === 0x5a /* Z */ &&
    text.charCodeAt(10) === 0x54
  ) {
    const prefix = text.slice(0, 19);
    let base: number | undefined;
    if (prefix === lastPrefix) base = lastPrefixMs;
    else {
      base = parseGoTime(prefix + "Z");
      if (base !== undefined) {
        lastPrefix = prefix;
        lastPrefixMs = base;
      }
    }
    if (base !== undefined) {
      if (n === 20) ms = base;
      else if (text.charCodeAt(19) === 0x2e /* . */ && n >= 22 && n <= 30) {
        let frac = 0;
        let ok = true;
        for (let i = 20; i < n - 1; i++) {
          const d = text.charCodeAt(i) - 0x30;
          if (d < 0 || d > 9) {
            ok = false;
            break;
          }
          if (i < 23) frac = frac * 10 + d;
        }
        for (let i = n - 1; i < 23; i++) frac *= 10;
        if (ok) ms = base + frac;
      }
    }
  } else {
    ms = parseGoTime(text);
  }
  lastTimeText = text;
  lastTimeMs = ms;
  return ms;
}

let cachedSecond = Number.NaN;
let cachedPrefix = "";
/** `Z`, `.001Z` … `.999Z` with trailing zeros removed, by millisecond. */
const FRACTIONS: readonly string[] = Array.from(
  { length: 1000 },
  (_, i) =>
    i === 0 ? "Z" : "." + String(i).padStart(3, "0").replace(/0+$/, "") + "Z",
);

/**
 * Formats a time as Go's `time.Time` JSON: RFC 3339, UTC, millisecond
 * fraction without trailing zeros (none when zero). The whole-second part
 * is computed once per second (every message carries a timestamp).
 *
 * @param time A date, or Unix milliseconds.
 * @returns The RFC 3339 text.
 * @throws {RangeError} For an invalid date or a non-finite number.
 */
export function formatGoTime(time: Date | number): string {
  const t = typeof time === "number" ? time : time.getTime();
  if (!Number.isFinite(t)) {
    throw new RangeError(`Cannot format time: invalid time ${time}`);
  }
  const ms = Math.floor(t);
  const sec = Math.floor(ms / 1000);
  if (sec !== cachedSecond) {
    cachedSecond = sec;
    cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  return cachedPrefix + FRACTIONS[ms - sec * 1000]!;
}
