/**
 * Node identity primitives: X25519 keys, node IDs, the pairwise shared
 * secret, the SMSG/TIM password and the handshake challenge-response.
 *
 * These are pure functions; {@linkcode NodeManager} keeps an identity on disk.
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  randomFillSync,
  timingSafeEqual,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { decodeBase64Strict, encodeBase64, toHex } from "./_base64.ts";

/** Length of X25519 keys, challenges, secrets and HMAC tags in bytes. */
export const KEY_SIZE = 32;

/** Length of a challenge in bytes. */
export const CHALLENGE_SIZE = 32;

/** The role a node advertises. Informational only. */
export type NodeRole = "controller" | "worker" | "dual";

/** Every known role. */
export const NODE_ROLES: readonly NodeRole[] = ["controller", "worker", "dual"];

/** A node's public identity, with its JSON keys in Go's order. */
export interface NodeIdentity {
  /** 32 lowercase hex characters derived from the public key. */
  id: string;
  /** Free-text name. */
  name: string;
  /** Padded standard base64 of the 32-byte X25519 public key. */
  publicKey: string;
  /** RFC 3339 creation time, as written. */
  createdAt: string;
  /** Advertised role. */
  role: NodeRole;
}

/** An X25519 key pair. */
export interface KeyPair {
  /** The raw 32-byte private scalar, unclamped, as Go stores it. */
  privateKey: Uint8Array<ArrayBuffer>;
  /** The raw 32-byte public key. */
  publicKey: Uint8Array<ArrayBuffer>;
}

// DER prefixes that wrap a raw X25519 key for node:crypto (RFC 8410).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

// node:crypto's X25519 is measured ~6x faster than a pure-JS ladder here
// (see identity_bench.ts); @noble/curves stays the reference in the tests.
// Parsed private keys are cached per key buffer.
const privateKeyObjects = new WeakMap<Uint8Array, KeyObject>();

function privateKeyObject(privateKey: Uint8Array): KeyObject {
  let k = privateKeyObjects.get(privateKey);
  if (!k) {
    k = createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, privateKey]),
      format: "der",
      type: "pkcs8",
    });
    privateKeyObjects.set(privateKey, k);
  }
  return k;
}

function x25519Public(privateKey: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKeyObject(privateKey)).export({
    format: "der",
    type: "spki",
  });
  return der.subarray(der.length - KEY_SIZE);
}

function x25519Shared(
  privateKey: Uint8Array,
  publicKey: Uint8Array,
): Uint8Array {
  return diffieHellman({
    privateKey: privateKeyObject(privateKey),
    publicKey: createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, publicKey]),
      format: "der",
      type: "spki",
    }),
  });
}

function sha256(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(32);
  out.set(createHash("sha256").update(data).digest());
  return out;
}

function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

/**
 * Generates a new X25519 key pair from the system's CSPRNG.
 *
 * @returns The key pair.
 *
 * @example Generating keys
 * ```ts
 * import { generateKeyPair } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const { privateKey, publicKey } = generateKeyPair();
 * assert.equal(privateKey.length, 32);
 * assert.equal(publicKey.length, 32);
 * ```
 */
export function generateKeyPair(): KeyPair {
  const privateKey = new Uint8Array(KEY_SIZE);
  randomFillSync(privateKey);
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}

/**
 * Computes the X25519 public key of a raw private key.
 *
 * @param privateKey The 32-byte private key.
 * @returns The 32-byte public key.
 * @throws {RangeError} When the key is not 32 bytes.
 *
 * @example From the identity vectors
 * ```ts
 * import { publicKeyFromPrivate } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const priv = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
 * assert.equal(
 *   btoa(String.fromCharCode(...publicKeyFromPrivate(priv))),
 *   "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
 * );
 * ```
 */
export function publicKeyFromPrivate(
  privateKey: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== KEY_SIZE) {
    throw new RangeError(
      `Cannot derive public key: expected a 32-byte private key, got ${
        privateKey instanceof Uint8Array
          ? privateKey.length + " bytes"
          : typeof privateKey
      }`,
    );
  }
  return copy(x25519Public(privateKey));
}

/**
 * Decodes a public key from its text form: strict padded standard base64 of
 * exactly 32 bytes.
 *
 * @param text The base64 public key.
 * @returns The 32 raw bytes.
 * @throws {RangeError} When the text is not a valid key.
 *
 * @example Decoding a key
 * ```ts
 * import { decodePublicKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodePublicKey("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=").length, 32);
 * assert.throws(() => decodePublicKey("not a key"), RangeError);
 * ```
 */
export function decodePublicKey(text: string): Uint8Array<ArrayBuffer> {
  const bytes = typeof text === "string" ? decodeBase64Strict(text) : undefined;
  if (bytes === undefined || bytes.length !== KEY_SIZE) {
    throw new RangeError(
      "Cannot decode public key: expected padded standard base64 of 32 bytes",
    );
  }
  return bytes;
}

/**
 * Encodes a raw public key as padded standard base64 (44 characters).
 *
 * @param publicKey The 32-byte key.
 * @returns The base64 text.
 *
 * @example Encoding a key
 * ```ts
 * import { encodePublicKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(encodePublicKey(new Uint8Array(32)).length, 44);
 * ```
 */
export function encodePublicKey(publicKey: Uint8Array): string {
  return encodeBase64(publicKey);
}

/**
 * Derives a node ID: the lowercase hex of the first 16 bytes of SHA-256 of
 * the raw public key.
 *
 * @param publicKey The raw key or its base64 text.
 * @returns 32 lowercase hex characters.
 * @throws {RangeError} When the key is not 32 bytes or not valid base64.
 *
 * @example Node ID of vector key A
 * ```ts
 * import { deriveNodeId } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   deriveNodeId("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="),
 *   "aaa8fff703b50b2297f4f6e13508f724",
 * );
 * ```
 */
export function deriveNodeId(publicKey: Uint8Array | string): string {
  const raw = typeof publicKey === "string"
    ? decodePublicKey(publicKey)
    : publicKey;
  if (raw.length !== KEY_SIZE) {
    throw new RangeError(
      `Cannot derive node ID: expected a 32-byte public key, got ${raw.length} bytes`,
    );
  }
  return toHex(sha256(raw).subarray(0, 16));
}

/**
 * Tells whether a claimed node ID is the one derived from a public key.
 *
 * @param id The claimed ID.
 * @param publicKey The base64 public key.
 * @returns `true` when they match; `false` for any invalid input.
 *
 * @example Binding an ID to a key
 * ```ts
 * import { nodeIdMatchesKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * assert.ok(nodeIdMatchesKey("aaa8fff703b50b2297f4f6e13508f724", key));
 * assert.ok(!nodeIdMatchesKey("4457134794559182226754e9dd2f1083", key));
 * ```
 */
export function nodeIdMatchesKey(id: string, publicKey: string): boolean {
  try {
    return deriveNodeId(publicKey) === id;
  } catch {
    return false;
  }
}

/** Thrown when a shared secret cannot be derived. */
export class IdentityError extends CodedError<IdentityErrorCode> {
  /** Always `"IdentityError"`. */
  override readonly name = "IdentityError";
}

/** Codes of {@linkcode IdentityError}. */
export type IdentityErrorCode =
  | "no_identity"
  | "invalid_peer_key"
  | "low_order_key"
  | "corrupt_identity"
  | "identity_mismatch"
  | "write_failed";

/**
 * Derives the pairwise shared secret: `SHA-256(X25519(privateKey, peerPublicKey))`.
 *
 * @param privateKey The local 32-byte private key.
 * @param peerPublicKey The peer's raw key or its base64 text.
 * @returns The 32-byte secret (the caller owns it and may zero it).
 * @throws {IdentityError} `invalid_peer_key` for a malformed key, `low_order_key`
 * when the X25519 result is all zeros.
 *
 * @example Both ends agree
 * ```ts
 * import { computeSharedSecret, generateKeyPair } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const a = generateKeyPair();
 * const b = generateKeyPair();
 * assert.deepEqual(
 *   computeSharedSecret(a.privateKey, b.publicKey),
 *   computeSharedSecret(b.privateKey, a.publicKey),
 * );
 * ```
 */
export function computeSharedSecret(
  privateKey: Uint8Array,
  peerPublicKey: Uint8Array | string,
): Uint8Array<ArrayBuffer> {
  let peer: Uint8Array;
  try {
    peer = typeof peerPublicKey === "string"
      ? decodePublicKey(peerPublicKey)
      : peerPublicKey;
  } catch (err) {
    throw new IdentityError(
      "invalid_peer_key",
      "Cannot derive shared secret: failed to load peer public key",
      { cause: err },
    );
  }
  if (peer.length !== KEY_SIZE) {
    throw new IdentityError(
      "invalid_peer_key",
      `Cannot derive shared secret: peer public key is ${peer.length} bytes, expected 32`,
    );
  }
  let raw: Uint8Array;
  try {
    raw = x25519Shared(privateKey, peer);
  } catch (err) {
    throw new IdentityError(
      "low_order_key",
      "Cannot derive shared secret: the peer key is a low-order point",
      { cause: err },
    );
  }
  let zero = 0;
  for (const b of raw) zero |= b;
  if (zero === 0) {
    throw new IdentityError(
      "low_order_key",
      "Cannot derive shared secret: the peer key is a low-order point",
    );
  }
  const secret = sha256(raw);
  raw.fill(0);
  return secret;
}

/**
 * Turns a shared secret into the SMSG transport and TIM/STIM bundle password:
 * its padded standard base64 (44 characters).
 *
 * @param secret The 32-byte secret.
 * @returns The password text.
 *
 * @example The vector password
 * ```ts
 * import { secretToPassword } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const hex = "55e832a7ed7d0f03b46e908d9cca795de2d2bf140fd80308e85a06069ae2b7a4";
 * const secret = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
 * assert.equal(secretToPassword(secret), "Vegyp+19DwO0bpCNnMp5XeLSvxQP2AMI6FoGBprit6Q=");
 * ```
 */
export function secretToPassword(secret: Uint8Array): string {
  return encodeBase64(secret);
}

/**
 * Generates a 32-byte random challenge.
 *
 * @returns The challenge.
 *
 * @example A fresh challenge
 * ```ts
 * import { generateChallenge } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(generateChallenge().length, 32);
 * ```
 */
export function generateChallenge(): Uint8Array<ArrayBuffer> {
  const c = new Uint8Array(CHALLENGE_SIZE);
  randomFillSync(c);
  return c;
}

/**
 * Signs a challenge: `HMAC-SHA256(key = secret, message = challenge)`.
 *
 * @param challenge The challenge bytes.
 * @param secret The 32-byte shared secret.
 * @returns The 32-byte response.
 *
 * @example Signing is deterministic
 * ```ts
 * import { signChallenge } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const c = new Uint8Array(32);
 * const s = new Uint8Array(32).fill(7);
 * assert.deepEqual(signChallenge(c, s), signChallenge(c, s));
 * ```
 */
export function signChallenge(
  challenge: Uint8Array,
  secret: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(32);
  out.set(createHmac("sha256", secret).update(challenge).digest());
  return out;
}

/**
 * Verifies a challenge response in constant time. A response of any length
 * other than 32 bytes fails.
 *
 * @param challenge The challenge that was sent.
 * @param response The response received.
 * @param secret The 32-byte shared secret.
 * @returns `true` when the response is the HMAC of the challenge.
 *
 * @example Verifying
 * ```ts
 * import { generateChallenge, signChallenge, verifyChallenge } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const secret = new Uint8Array(32).fill(1);
 * const c = generateChallenge();
 * assert.ok(verifyChallenge(c, signChallenge(c, secret), secret));
 * assert.ok(!verifyChallenge(c, new Uint8Array(32), secret));
 * ```
 */
export function verifyChallenge(
  challenge: Uint8Array,
  response: Uint8Array,
  secret: Uint8Array,
): boolean {
  if (!(response instanceof Uint8Array) || response.length !== 32) return false;
  const expected = signChallenge(challenge, secret);
  return timingSafeEqual(expected, response);
}
