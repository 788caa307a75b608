/**
 * Pairing codes: one line that carries a controller's public key (and its
 * name) from the controller's operator to a worker's operator, with a check
 * that catches a mistyped or truncated copy.
 *
 * Layout (fields separated by `.`, which base64 and peer names never hold):
 *
 * | field | meaning |
 * | ----- | ------- |
 * | `lthn-pair1` | prefix and version |
 * | key | the public key, padded standard base64 (44 characters, as `identity show` prints it) |
 * | check | the first 8 hex digits of the node ID (SHA-256 of the key), so a typo is caught |
 * | name | the node name, percent-encoded (optional, informational only) |
 *
 * Example: `lthn-pair1.B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=.aaa8fff7.alpha`.
 * Every character is safe unquoted in POSIX shells. The name is a label for
 * the trust list; what is trusted is the key.
 *
 * @module
 */

import { decodePublicKey, deriveNodeId, encodePublicKey } from "../identity.ts";
import { sanitizePeerName } from "../peer.ts";
import { TrustError } from "./errors.ts";

/** The prefix (and version) of a pairing code. */
export const PAIRING_CODE_PREFIX = "lthn-pair1";

/** Hex digits of the node ID a pairing code carries as its check. */
const CHECK_DIGITS = 8;

/** A controller named by a pairing code or a bare key. */
export interface ControllerKey {
  /** The public key, padded standard base64. */
  publicKey: string;
  /** The node ID derived from the key. */
  nodeId: string;
  /** The name the code carried (`""` for a bare key or no name). */
  name: string;
}

/**
 * Makes the pairing code of an identity.
 *
 * @param identity The node's public key and name.
 * @returns The one-line code.
 * @throws {RangeError} When the key is not a valid public key.
 *
 * @example A controller's pairing code
 * ```ts
 * import { pairingCode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const code = pairingCode({
 *   publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
 *   name: "alpha",
 * });
 * assert.equal(code, "lthn-pair1.B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=.aaa8fff7.alpha");
 * ```
 */
export function pairingCode(
  identity: { publicKey: string; name?: string },
): string {
  const key = encodePublicKey(decodePublicKey(identity.publicKey));
  const check = deriveNodeId(key).slice(0, CHECK_DIGITS);
  const name = sanitizePeerName(identity.name ?? "");
  const parts = [PAIRING_CODE_PREFIX, key, check];
  if (name !== "") parts.push(encodeURIComponent(name));
  return parts.join(".");
}

/**
 * Tells whether text is meant as a pairing code (starts with the prefix),
 * valid or not.
 *
 * @param text The text.
 * @returns `true` for text that starts with `lthn-pair`.
 *
 * @example
 * ```ts
 * import { isPairingCode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isPairingCode("lthn-pair1.x"), true);
 * assert.equal(isPairingCode("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="), false);
 * ```
 */
export function isPairingCode(text: string): boolean {
  return typeof text === "string" &&
    text.trim().toLowerCase().startsWith("lthn-pair");
}

function invalidCode(detail: string): TrustError {
  return new TrustError(
    "invalid_code",
    `Cannot read pairing code: ${detail}; copy the whole line that "lthn-p2p identity show --pairing" prints on the controller`,
  );
}

/**
 * Reads a pairing code.
 *
 * @param code The code (surrounding white space is ignored).
 * @returns The key, its node ID and the name.
 * @throws {TrustError} `invalid_code` for a wrong prefix or version, a bad
 * key, a check that does not match (a typo) or a bad name.
 *
 * @example Reading a code
 * ```ts
 * import { parsePairingCode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const c = parsePairingCode("lthn-pair1.B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=.aaa8fff7.alpha");
 * assert.equal(c.publicKey, "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=");
 * assert.equal(c.nodeId, "aaa8fff703b50b2297f4f6e13508f724");
 * assert.equal(c.name, "alpha");
 * assert.throws(() => parsePairingCode("lthn-pair1.B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=.aaa8fff8"));
 * ```
 */
export function parsePairingCode(code: string): ControllerKey {
  if (typeof code !== "string") throw invalidCode("not text");
  const text = code.trim();
  if (text.length > 512) throw invalidCode("too long");
  const parts = text.split(".");
  if (parts[0] !== PAIRING_CODE_PREFIX) {
    throw invalidCode(
      `expected it to start with "${PAIRING_CODE_PREFIX}."`,
    );
  }
  if (parts.length < 3 || parts.length > 4) {
    throw invalidCode("expected prefix, key, check and an optional name");
  }
  let raw: Uint8Array;
  try {
    raw = decodePublicKey(parts[1]!);
  } catch {
    throw invalidCode("the key is damaged");
  }
  const nodeId = deriveNodeId(raw);
  if (parts[2]!.toLowerCase() !== nodeId.slice(0, CHECK_DIGITS)) {
    throw invalidCode("the check does not match the key (a typo?)");
  }
  let name = "";
  if (parts[3] !== undefined) {
    try {
      name = decodeURIComponent(parts[3]);
    } catch {
      throw invalidCode("the name is damaged");
    }
    if (sanitizePeerName(name) !== name) {
      throw invalidCode("the name is not a valid peer name");
    }
  }
  return { publicKey: encodePublicKey(raw), nodeId, name };
}

/**
 * Reads what an operator gives to name a controller: a pairing code or a
 * public key. Keys are accepted as `identity show` prints them (padded
 * standard base64), and also unpadded or URL-safe; the result is always the
 * canonical padded standard form.
 *
 * @param text A pairing code or a public key.
 * @returns The key, its node ID and the name (`""` for a bare key).
 * @throws {TrustError} `invalid_code` or `invalid_key`.
 *
 * @example A key or a code
 * ```ts
 * import { parseControllerKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * assert.equal(parseControllerKey(key).publicKey, key);
 * assert.equal(parseControllerKey("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9_AsrhtHHw").publicKey, key);
 * assert.equal(parseControllerKey(`lthn-pair1.${key}.aaa8fff7.alpha`).name, "alpha");
 * ```
 */
export function parseControllerKey(text: string): ControllerKey {
  if (typeof text !== "string") {
    throw new TrustError(
      "invalid_key",
      `Cannot read controller key: expected text, got ${typeof text}`,
    );
  }
  if (isPairingCode(text)) return parsePairingCode(text);
  let t = text.trim().replace(/-/g, "+").replace(/_/g, "/");
  if (t.length === 43) t += "=";
  let raw: Uint8Array;
  try {
    raw = decodePublicKey(t);
  } catch {
    throw new TrustError(
      "invalid_key",
      'Cannot read controller key: expected a public key (44 characters of base64, as "lthn-p2p identity show" prints it) or a pairing code (lthn-pair1.…)',
    );
  }
  return {
    publicKey: encodePublicKey(raw),
    nodeId: deriveNodeId(raw),
    name: "",
  };
}
