/**
 * Strict padded standard base64 (Go `base64.StdEncoding`).
 *
 * @module
 */

import { Buffer } from "node:buffer";

// 1 for every character of the standard alphabet (no padding).
const ALPHABET = new Uint8Array(128);
for (
  const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
) ALPHABET[c.charCodeAt(0)] = 1;

/** Padded standard base64 shape, checked with a loop (a regex overflows on megabytes). */
function isStrictBase64(text: string): boolean {
  const n = text.length;
  if (n % 4 !== 0) return false;
  let pad = 0;
  if (n > 0 && text.charCodeAt(n - 1) === 0x3d) {
    pad = text.charCodeAt(n - 2) === 0x3d ? 2 : 1;
  }
  const body = n - pad;
  for (let i = 0; i < body; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || ALPHABET[c] !== 1) return false;
  }
  return true;
}

/**
 * Encodes bytes as padded standard base64.
 *
 * @param bytes The bytes.
 * @returns The base64 text.
 */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("base64");
}

/**
 * Decodes padded standard base64 strictly, as Go does: URL-safe, unpadded or
 * otherwise malformed text is rejected.
 *
 * @param text The base64 text.
 * @returns The bytes, or `undefined` when the text is not strict base64.
 */
export function decodeBase64Strict(
  text: string,
): Uint8Array<ArrayBuffer> | undefined {
  if (!isStrictBase64(text)) return undefined;
  const buf = Buffer.from(text, "base64");
  const out = new Uint8Array(buf.byteLength);
  out.set(buf);
  // Go rejects non-canonical trailing bits; compare by re-encoding.
  if (encodeBase64(out) !== text) return undefined;
  return out;
}

/**
 * Lowercase hex of bytes.
 *
 * @param bytes The bytes.
 * @returns The hex text.
 */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("hex");
}

/**
 * Decodes lowercase or uppercase hex.
 *
 * @param text The hex text (even length).
 * @returns The bytes.
 * @throws {RangeError} When the text is not hex.
 */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new RangeError(
      `Cannot decode hex: invalid text of length ${text.length}`,
    );
  }
  const out = new Uint8Array(text.length / 2);
  out.set(Buffer.from(text, "hex"));
  return out;
}
