/**
 * UEPS keys: prepared HMAC keys and an optional domain-separated key
 * derivation for links where both ends run this implementation.
 *
 * @module
 */

import { hkdfSync } from "node:crypto";

export { HmacKey } from "./_hmac.ts";

/** HKDF salt that separates UEPS keys from every other use of a secret. */
export const UEPS_KEY_SALT = "lthn/p2p ueps hmac-sha256 v1";

const encoder = new TextEncoder();

/**
 * Derives a UEPS HMAC key from a pairwise shared secret with HKDF-SHA256
 * (secret as input keying material, {@linkcode UEPS_KEY_SALT} as salt,
 * `context` as info).
 *
 * Go nodes sign UEPS frames with the raw shared secret, and their handshake
 * answers challenges with `HMAC(secret, challenge)` for any challenge a peer
 * sends — a signing oracle that lets a stranger forge UEPS frames under the
 * raw secret (go-p2p node spec §13 item 4). A derived key is never the key of
 * that oracle, because HKDF uses the secret only as the message of its
 * extract step. Use it only where both ends are this implementation; the
 * default everywhere else stays the raw secret, as Go expects.
 *
 * @param secret The pairwise shared secret (any length).
 * @param context Optional text binding the key to one application or link.
 * @returns A new 32-byte key the caller owns (zero it when done).
 * @throws {TypeError} When `secret` is not a `Uint8Array` or `context` not a
 * string.
 *
 * @example Signing with a derived key
 * ```ts
 * import { deriveUepsKey, PacketBuilder, readAndVerify } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const shared = new Uint8Array(32).fill(1);
 * const key = deriveUepsKey(shared, "miner-control");
 * assert.equal(key.byteLength, 32);
 * assert.notDeepEqual(key, deriveUepsKey(shared, "other"));
 * const frame = new PacketBuilder(0x20, new Uint8Array([7])).marshalAndSign(key);
 * assert.equal((await readAndVerify(frame, key)).header.intentId, 0x20);
 * await assert.rejects(readAndVerify(frame, shared));
 * ```
 */
export function deriveUepsKey(
  secret: Uint8Array,
  context = "",
): Uint8Array<ArrayBuffer> {
  if (!(secret instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot derive UEPS key: secret must be a Uint8Array, got ${typeof secret}`,
    );
  }
  if (typeof context !== "string") {
    throw new TypeError(
      `Cannot derive UEPS key: context must be a string, got ${typeof context}`,
    );
  }
  return new Uint8Array(
    hkdfSync(
      "sha256",
      secret,
      encoder.encode(UEPS_KEY_SALT),
      encoder.encode(context),
      32,
    ),
  );
}
