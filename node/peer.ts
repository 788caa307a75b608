/**
 * The peer record kept by the registry, its validation rules, the score
 * constants and the selection distance (go-p2p `node/peer.go`).
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import { decodeBase64Strict } from "./_base64.ts";
import { deriveNodeId } from "./identity.ts";

/**
 * How the registry admits inbound peers: `open` admits everyone, `allowlist`
 * only registered peers and allowlisted public keys.
 */
export type AuthMode = "open" | "allowlist";

/**
 * A known peer, with its JSON keys in Go's order (`peers.json`).
 *
 * Times are kept as the RFC 3339 text Go writes (nanoseconds and offsets are
 * preserved through a load and save); the zero time
 * `"0001-01-01T00:00:00Z"` means "unset".
 */
export interface Peer {
  /** Node ID: 32 lowercase hex characters derived from `publicKey`. */
  id: string;
  /** Display name (validated by {@linkcode validatePeerName} on add). */
  name: string;
  /** Padded standard base64 of the 32-byte X25519 public key, or `""`. */
  publicKey: string;
  /** `host:port` to dial; `""` for peers learned from inbound handshakes. */
  address: string;
  /** Advertised role (informational). */
  role: string;
  /** RFC 3339 time the peer was added. */
  addedAt: string;
  /** RFC 3339 time the peer was last seen, or the zero time. */
  lastSeen: string;
  /** Latency metric in milliseconds. */
  pingMs: number;
  /** Hop-count metric (an integer). */
  hops: number;
  /** Distance metric in kilometres. */
  geoKm: number;
  /** Reliability score in [0, 100]. */
  score: number;
  /** Whether a connection is open (memory only, never persisted). */
  connected: boolean;
}

export { ZERO_TIME } from "./_go_time.ts";

/** Score given to a new peer when none is supplied. */
export const SCORE_DEFAULT = 50;
/** Lowest score. */
export const SCORE_MIN = 0;
/** Highest score. */
export const SCORE_MAX = 100;
/** Score change for a successful exchange. */
export const SCORE_SUCCESS_DELTA = 1;
/** Score change for a failed exchange. */
export const SCORE_FAILURE_DELTA: number = -5;
/** Score change for a timed-out exchange. */
export const SCORE_TIMEOUT_DELTA: number = -3;

/** Longest peer name in UTF-8 bytes. */
export const MAX_PEER_NAME_BYTES = 64;

/** Weights of the selection features (pingMs, hops, geoKm, 100 − score). */
export const SELECTION_WEIGHTS: readonly [number, number, number, number] = [
  1.0,
  0.7,
  0.2,
  1.2,
];

/** Codes of {@linkcode RegistryError}. */
export type RegistryErrorCode =
  | "missing_id"
  | "invalid_name"
  | "duplicate_peer"
  | "peer_not_found"
  | "invalid_public_key"
  | "id_key_mismatch"
  | "corrupt_file"
  | "load_failed"
  | "save_failed";

/**
 * A peer-registry failure: bad peer data, an unknown or duplicate ID, or a
 * file that cannot be read or written.
 *
 * @example Telling failures apart
 * ```ts
 * import { RegistryError, validatePeerName } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => validatePeerName("-bad"),
 *   (e) => e instanceof RegistryError && e.code === "invalid_name",
 * );
 * ```
 */
export class RegistryError extends CodedError<RegistryErrorCode> {
  /** Always `"RegistryError"`. */
  override readonly name = "RegistryError";
}

const NAME_RE = /^(?:[A-Za-z0-9][A-Za-z0-9_ -]{0,62}[A-Za-z0-9]|[A-Za-z0-9])$/;
const utf8 = new TextEncoder();

/**
 * Checks a peer name as Go's `AddPeer` does: empty is valid; otherwise at
 * most 64 bytes of ASCII letters, digits, `-`, `_` and spaces, starting and
 * ending with a letter or digit.
 *
 * @param name The name.
 * @throws {RegistryError} `invalid_name` when the name is rejected.
 *
 * @example Valid and invalid names
 * ```ts
 * import { validatePeerName } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * validatePeerName("My Peer");
 * assert.throws(() => validatePeerName("peer@host"));
 * ```
 */
export function validatePeerName(name: string): void {
  if (name === "") return;
  if (utf8.encode(name).length > MAX_PEER_NAME_BYTES) {
    throw new RegistryError(
      "invalid_name",
      `Cannot accept peer name: longer than ${MAX_PEER_NAME_BYTES} bytes`,
    );
  }
  if (!NAME_RE.test(name)) {
    throw new RegistryError(
      "invalid_name",
      "Cannot accept peer name: use letters, digits, hyphens, underscores and spaces, starting and ending with a letter or digit",
    );
  }
}

/**
 * Turns any text (for example a host name such as `node-1.example.org`)
 * into a name {@linkcode validatePeerName} accepts: every run of other
 * characters becomes one `-`, leading and trailing non-alphanumerics are
 * dropped and the result is cut to 64 bytes. Go instead refuses to
 * auto-register such peers (node.md §13 item 32).
 *
 * @param name Any text.
 * @returns A valid peer name (possibly `""`).
 *
 * @example A host name
 * ```ts
 * import { sanitizePeerName } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(sanitizePeerName("node-1.example.org"), "node-1-example-org");
 * ```
 */
export function sanitizePeerName(name: string): string {
  let out = name.replace(/[^A-Za-z0-9_ -]+/g, "-");
  out = out.slice(0, MAX_PEER_NAME_BYTES); // ASCII only now: chars = bytes
  return out.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

/**
 * Tells whether text is a well-formed public key: padded standard base64 of
 * exactly 32 bytes.
 *
 * @param publicKey The text.
 * @returns `true` when valid.
 *
 * @example
 * ```ts
 * import { isValidPublicKey } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isValidPublicKey("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="));
 * assert.ok(!isValidPublicKey("testkey123"));
 * ```
 */
export function isValidPublicKey(publicKey: string): boolean {
  if (publicKey.length !== 44) return false;
  const raw = decodeBase64Strict(publicKey);
  return raw !== undefined && raw.length === 32;
}

/**
 * Checks that a peer's ID is bound to its public key: when the key is
 * non-empty it must be a valid key and the ID must be the one derived from it
 * (node.md §13 item 1). An empty key is not checked.
 *
 * @param id The claimed ID.
 * @param publicKey The base64 public key or `""`.
 * @throws {RegistryError} `invalid_public_key` or `id_key_mismatch`.
 *
 * @example
 * ```ts
 * import { checkPeerIdBinding, RegistryError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * checkPeerIdBinding("aaa8fff703b50b2297f4f6e13508f724", key);
 * assert.throws(() => checkPeerIdBinding("someone-else", key), RegistryError);
 * ```
 */
export function checkPeerIdBinding(id: string, publicKey: string): void {
  if (publicKey === "") return;
  if (!isValidPublicKey(publicKey)) {
    throw new RegistryError(
      "invalid_public_key",
      `Cannot accept peer ${id}: public key is not 32 bytes of padded base64`,
    );
  }
  if (deriveNodeId(publicKey) !== id) {
    throw new RegistryError(
      "id_key_mismatch",
      `Cannot accept peer ${id}: ID is not derived from its public key`,
    );
  }
}

/**
 * The selection distance of a peer from the ideal point (node.md §7.5):
 * `sqrt(pingMs² + (0.7·hops)² + (0.2·geoKm)² + (1.2·(100 − score))²)`,
 * computed in that order so that it equals Go's value bit for bit.
 *
 * @param p The metrics.
 * @returns The Euclidean distance (smaller is better).
 *
 * @example The three peers of the Go test
 * ```ts
 * import { peerDistance } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const d = peerDistance({ pingMs: 10, hops: 1, geoKm: 50, score: 90 });
 * assert.ok(Math.abs(d - 18.56) < 0.01);
 * ```
 */
export function peerDistance(
  p: Pick<Peer, "pingMs" | "hops" | "geoKm" | "score">,
): number {
  const x0 = p.pingMs * 1.0;
  const x1 = p.hops * 0.7;
  const x2 = p.geoKm * 0.2;
  const x3 = (100 - p.score) * 1.2;
  return Math.sqrt(x0 * x0 + x1 * x1 + x2 * x2 + x3 * x3);
}

/**
 * Shortens a public key for logs: the first 16 characters and `...`, the key
 * itself when shorter, or `(empty)`.
 *
 * @param key The key text.
 * @returns The display form.
 *
 * @example
 * ```ts
 * import { keyPrefix } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(keyPrefix("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="), "B6N8vBQgk8i3Vdwb...");
 * assert.equal(keyPrefix(""), "(empty)");
 * ```
 */
export function keyPrefix(key: string): string {
  if (key === "") return "(empty)";
  return key.length >= 16 ? key.slice(0, 16) + "..." : key;
}
