/**
 * Parsing of RFC 3339 text as Go's `time.Time` JSON decoder accepts it.
 *
 * @module
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

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
export const ZERO_TIME_MS: number = parseGoTime("0001-01-01T00:00:00Z")!;
