/**
 * Strict padded standard base64 (Go `base64.StdEncoding`).
 *
 * @module
 */

import { Buffer } from "node:buffer";

const STRICT =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

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
  if (!STRICT.test(text)) return undefined;
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
