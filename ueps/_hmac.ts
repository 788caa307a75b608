/**
 * HMAC-SHA256 for the UEPS hot path, on `node:crypto`.
 *
 * Measured in `packet_bench.ts` against `@noble/hashes` and WebCrypto:
 * `node:crypto` wins from 1 KB up, and a key whose inner and outer hash states
 * are computed once ({@linkcode HmacKey}) saves two compression rounds per
 * packet. WebCrypto pays an async hop per call and is slowest here.
 *
 * @module
 */

import { createHash, createHmac, type Hash } from "node:crypto";

const BLOCK_BYTES = 64;

let digestWithKey: (key: HmacKey, parts: readonly Uint8Array[]) => Uint8Array;

/**
 * An HMAC-SHA256 key with its inner and outer hash states computed once, so
 * signing and verifying many packets with one pairwise secret skips the key
 * set-up. Accepted wherever a UEPS function takes a secret.
 *
 * The key object holds the hash states, not the secret; zero your own copy
 * of the secret when you no longer need it.
 *
 * @example Signing with a prepared key
 * ```ts
 * import { HmacKey, PacketBuilder, readAndVerify } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const key = new HmacKey(new TextEncoder().encode("pairwise secret"));
 * const frame = new PacketBuilder(0x20, new Uint8Array([1, 2])).marshalAndSign(key);
 * const { payload } = await readAndVerify(frame, key);
 * assert.deepEqual(payload, new Uint8Array([1, 2]));
 * ```
 */
export class HmacKey {
  #inner: Hash;
  #outer: Hash;

  static {
    digestWithKey = (key, parts) => {
      const inner = key.#inner.copy();
      for (const part of parts) inner.update(part);
      return key.#outer.copy().update(inner.digest()).digest();
    };
  }

  /**
   * Prepares an HMAC-SHA256 key.
   *
   * @param secret The key bytes (any length; longer than 64 bytes is hashed
   * first, as HMAC requires).
   * @throws {TypeError} When `secret` is not a `Uint8Array`.
   */
  constructor(secret: Uint8Array) {
    if (!(secret instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot create HMAC key: secret must be a Uint8Array, got ${typeof secret}`,
      );
    }
    const block = new Uint8Array(BLOCK_BYTES);
    if (secret.byteLength > BLOCK_BYTES) {
      block.set(createHash("sha256").update(secret).digest());
    } else {
      block.set(secret);
    }
    for (let i = 0; i < BLOCK_BYTES; i++) block[i]! ^= 0x36;
    this.#inner = createHash("sha256").update(block);
    for (let i = 0; i < BLOCK_BYTES; i++) block[i]! ^= 0x36 ^ 0x5c;
    this.#outer = createHash("sha256").update(block);
    block.fill(0);
  }

  /**
   * Computes HMAC-SHA256 over the concatenation of `parts`.
   *
   * @param parts The message, in pieces.
   * @returns The 32-byte tag.
   *
   * @example Same tag as a one-shot HMAC
   * ```ts
   * import { HmacKey } from "@lthn/p2p/ueps";
   * import { createHmac } from "node:crypto";
   * import assert from "node:assert/strict";
   *
   * const secret = new Uint8Array(32).fill(7);
   * const msg = new TextEncoder().encode("hello");
   * assert.deepEqual(
   *   new HmacKey(secret).digest(msg.subarray(0, 2), msg.subarray(2)),
   *   new Uint8Array(createHmac("sha256", secret).update(msg).digest()),
   * );
   * ```
   */
  digest(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(32);
    out.set(digestWithKey(this, parts));
    return out;
  }
}

/**
 * HMAC-SHA256 over the concatenation of `parts`, with either raw key bytes or
 * a prepared {@linkcode HmacKey}. The result may be a pooled `Buffer`: copy it
 * before keeping it.
 */
export function hmacParts(
  key: Uint8Array | HmacKey,
  parts: readonly Uint8Array[],
): Uint8Array {
  if (key instanceof HmacKey) return digestWithKey(key, parts);
  const h = createHmac("sha256", key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/**
 * Compares an expected 32-byte tag with a received signature in time that
 * does not depend on where they differ. A signature of another length never
 * matches (its length is public).
 */
export function tagsEqual(expected: Uint8Array, received: Uint8Array): boolean {
  if (expected.byteLength !== received.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < expected.byteLength; i++) {
    diff |= expected[i]! ^ received[i]!;
  }
  return diff === 0;
}

/** Throws a TypeError unless `key` is key bytes or an {@linkcode HmacKey}. */
export function checkKey(key: unknown, action: string): void {
  if (!(key instanceof Uint8Array) && !(key instanceof HmacKey)) {
    throw new TypeError(
      `Cannot ${action}: secret must be a Uint8Array or HmacKey, got ${
        key === null ? "null" : typeof key
      }`,
    );
  }
}
