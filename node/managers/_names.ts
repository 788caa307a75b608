/**
 * The one rule for names that become file or directory names (deployed
 * bundles, profiles, miner instances).
 *
 * @module
 */

/** Longest accepted name in UTF-16 code units (file systems allow 255 bytes). */
export const MAX_NAME_LENGTH = 128;

/**
 * Tells whether a peer-supplied name is safe as one path component: not
 * empty, not starting with `.` (hidden files, `.` and `..`) or `-` (read as
 * an option by any tool the name reaches, e.g. `-rf`), no `/`, `\`, `:`,
 * NUL or other control character, no leading or trailing white space, at
 * most {@linkcode MAX_NAME_LENGTH} characters.
 *
 * @param name The name.
 * @returns `true` when it is safe.
 */
export function isSafeName(name: unknown): name is string {
  if (typeof name !== "string") return false;
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  if (name.startsWith(".") || name.startsWith("-")) return false;
  if (name.trim() !== name) return false;
  // deno-lint-ignore no-control-regex
  return !/[\/\\\x00-\x1f\x7f:]/.test(name);
}
