/**
 * Peer-supplied text on its way to a log line or back to the peer: cut to
 * a short length, so a hostile peer cannot make us write or send megabytes.
 *
 * @module
 */

/** Default length (UTF-16 code units) of clipped text. */
export const CLIP_LENGTH = 64;

/**
 * Cuts `text` to at most `max` code units (never inside a surrogate pair),
 * marking the cut with `…`.
 *
 * @param text The text (anything else is turned into a string first).
 * @param max The most code units kept.
 * @returns The text, or its start followed by `…`.
 */
export function clip(text: unknown, max: number = CLIP_LENGTH): string {
  const s = typeof text === "string" ? text : String(text);
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, end) + "…";
}
