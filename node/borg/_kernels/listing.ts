/**
 * Reads back the WebAssembly listings of the generated kernel files
 * (`*.gen.ts`, written by `scripts/gen_kernels.ts`): each line holds bytes as
 * two lowercase hex digits separated by spaces, then optionally `;;` and a
 * note, which is skipped.
 *
 * @module
 */

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  return -1;
}

/**
 * Decodes a listing into the bytes it holds (one pass; notes are skipped
 * with `indexOf`, so it costs little at load time).
 *
 * @param text The listing.
 * @returns The bytes.
 * @throws {SyntaxError} On anything but hex byte pairs before a `;;`.
 */
export function decodeListing(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length >> 1);
  const len = text.length;
  let n = 0;
  let i = 0;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 32) {
      i++;
    } else if (c === 59 && text.charCodeAt(i + 1) === 59) { // ";;"
      const eol = text.indexOf("\n", i);
      i = eol === -1 ? len : eol;
    } else {
      const hi = hexDigit(c), lo = hexDigit(text.charCodeAt(i + 1));
      const after = i + 2 < len ? text.charCodeAt(i + 2) : 10;
      if (hi < 0 || lo < 0 || (after !== 32 && after !== 10)) {
        const line = text.slice(0, i).split("\n").length;
        throw new SyntaxError(
          `Cannot decode kernel listing: line ${line} is not hex bytes`,
        );
      }
      out[n++] = hi * 16 + lo;
      i += 2;
    }
  }
  return out.slice(0, n);
}
