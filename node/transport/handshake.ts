/**
 * The plaintext handshake (node.md §4.4) as pure functions: building the
 * initiator's `handshake`, deciding the responder's answer, verifying the
 * `handshake_ack`, and the origin rule of §4.3.
 *
 * Beyond Go (invisible to a Go peer that behaves): a claimed node ID must be
 * the one derived from the presented public key, on both sides; a claimed ID
 * already registered with another key is refused; only 32-byte challenges are
 * answered (Go initiators always send 32; any other length turned Go into an
 * HMAC oracle); and an initiator can pin the key or ID it expects.
 *
 * @module
 */

import {
  CHALLENGE_SIZE,
  deriveNodeId,
  type NodeIdentity,
  signChallenge,
  verifyChallenge,
} from "../identity.ts";
import {
  decodeMessage,
  type Message,
  MessageType,
  newMessage,
  parsePayload,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "../message.ts";
import { TransportError } from "./errors.ts";
import { clip } from "../_text.ts";

/**
 * Longest part of a peer's `version` echoed in a rejection ack (and
 * logged); longer ones are cut and end in `…`.
 */
export const MAX_ECHOED_VERSION = 32;

/** Reason text Go sends when the allowlist refuses a peer. */
export const REJECT_NOT_AUTHORIZED = "peer not authorized";

/** Options shared by the message-building helpers. */
export interface HandshakeMessageOptions {
  /** Creation time (default now). */
  now?: Date | number;
  /** Message ID (default a fresh UUID v4). */
  id?: string;
}

/**
 * Builds the initiator's `handshake` message: `{identity, challenge, version}`
 * from our ID to the dialled peer's ID (possibly `""`).
 *
 * @param identity Our identity.
 * @param options Challenge, recipient ID and overrides.
 * @returns The message, to be sent as a text frame.
 * @throws {RangeError} When the challenge is not 32 bytes.
 *
 * @example Building a handshake
 * ```ts
 * import { createHandshake, encodeMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const msg = createHandshake({
 *   id: "aaa8fff703b50b2297f4f6e13508f724",
 *   name: "node-a",
 *   publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
 *   createdAt: "2026-02-19T09:30:00.5+01:00",
 *   role: "controller",
 * }, { to: "", challenge: new Uint8Array(32), id: "x", now: 0 });
 * assert.ok(encodeMessage(msg).includes('"version":"1.0"'));
 * ```
 */
export function createHandshake(
  identity: NodeIdentity,
  options: HandshakeMessageOptions & { to: string; challenge: Uint8Array },
): Message {
  if (options.challenge.length !== CHALLENGE_SIZE) {
    throw new RangeError(
      `Cannot create handshake: challenge must be 32 bytes, got ${options.challenge.length}`,
    );
  }
  return newMessage(MessageType.Handshake, {
    from: identity.id,
    to: options.to,
    payload: {
      identity,
      challenge: options.challenge,
      version: PROTOCOL_VERSION,
    },
    ...overrides(options),
  });
}

function overrides(o: HandshakeMessageOptions): HandshakeMessageOptions {
  const out: HandshakeMessageOptions = {};
  if (o.now !== undefined) out.now = o.now;
  if (o.id !== undefined) out.id = o.id;
  return out;
}

/** What the responder needs to decide on a handshake. */
export interface ResponderContext extends HandshakeMessageOptions {
  /** Our identity; without one the connection is closed. */
  identity: NodeIdentity | undefined;
  /**
   * Derives the pairwise secret from the peer's base64 public key.
   * Throws for invalid or low-order keys.
   */
  deriveSecret(publicKey: string): Uint8Array;
  /** The registry's allowlist decision (node.md §7.4). */
  isAllowed(id: string, publicKey: string): boolean;
  /** The public key registered for an ID, if any. */
  registeredKey(id: string): string | undefined;
}

/** The responder's decision. */
export type ResponderDecision =
  | {
    /** Close without a reply (malformed, wrong type, bad key, no identity). */
    action: "close";
    /** Why, for logs. */
    why: string;
  }
  | {
    /** Send the rejection ack, then close. */
    action: "reject";
    /** The rejection ack. */
    ack: Message;
    /** The reason sent. */
    reason: string;
    /** The identity the peer claimed. */
    peer: NodeIdentity;
    /** The version the peer sent. */
    version: string;
  }
  | {
    /** Send the accept ack and keep the connection. */
    action: "accept";
    /** The accept ack. */
    ack: Message;
    /** The peer's identity (its ID is bound to its key). */
    peer: NodeIdentity;
    /** The pairwise secret (the caller owns it). */
    secret: Uint8Array;
  };

/**
 * Decides the answer to an initiator's first frame, following Go's responder
 * (node.md §4.4.1) with the checks described in the module docs.
 *
 * @param text The first frame's text.
 * @param ctx Our identity, key agreement and registry decisions.
 * @returns What to do.
 *
 * @example Refusing an unknown protocol version
 * ```ts
 * import { NodeManager, respondToHandshake } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const me = NodeManager.fromPrivateKey(new Uint8Array(32).fill(7), { name: "b", role: "worker" });
 * const text = JSON.stringify({ id: "1", type: "handshake", from: "", to: "", ts: "2026-01-01T00:00:00Z",
 *   payload: { identity: me.getIdentity(), challenge: btoa("x".repeat(32)), version: "99.99" } });
 * const d = respondToHandshake(text, {
 *   identity: me.getIdentity(),
 *   deriveSecret: (k) => me.deriveSharedSecret(k),
 *   isAllowed: () => true,
 *   registeredKey: () => undefined,
 * });
 * assert.equal(d.action, "reject");
 * ```
 */
export function respondToHandshake(
  text: string,
  ctx: ResponderContext,
): ResponderDecision {
  let msg: Message;
  let payload;
  try {
    msg = decodeMessage(text);
    if (msg.type !== MessageType.Handshake) {
      return {
        action: "close",
        why: `expected handshake, got ${clip(msg.type)}`,
      };
    }
    payload = parsePayload(msg, "handshake");
  } catch {
    return { action: "close", why: "malformed handshake" };
  }
  const me = ctx.identity;
  const peer = payload.identity;
  const reject = (reason: string): ResponderDecision => {
    if (me === undefined) return { action: "close", why: "no local identity" };
    return {
      action: "reject",
      reason,
      peer,
      version: payload.version,
      ack: newMessage(MessageType.HandshakeAck, {
        from: me.id,
        to: peer.id,
        payload: { identity: me, accepted: false, reason },
        ...overrides(ctx),
      }),
    };
  };
  if (!SUPPORTED_PROTOCOL_VERSIONS.includes(payload.version)) {
    // Go echoes the version whole; we echo at most 32 characters of it.
    return reject(
      `incompatible protocol version ${
        clip(payload.version, MAX_ECHOED_VERSION)
      }, supported: [${SUPPORTED_PROTOCOL_VERSIONS.join(" ")}]`,
    );
  }
  let secret: Uint8Array;
  try {
    secret = ctx.deriveSecret(peer.publicKey);
  } catch {
    return { action: "close", why: "invalid peer public key" };
  }
  let derivedId: string;
  try {
    derivedId = deriveNodeId(peer.publicKey);
  } catch {
    secret.fill(0);
    return { action: "close", why: "invalid peer public key" };
  }
  if (derivedId !== peer.id) {
    secret.fill(0);
    return reject(REJECT_NOT_AUTHORIZED);
  }
  const known = ctx.registeredKey(peer.id);
  if (
    (known !== undefined && known !== "" && known !== peer.publicKey) ||
    !ctx.isAllowed(peer.id, peer.publicKey)
  ) {
    secret.fill(0);
    return reject(REJECT_NOT_AUTHORIZED);
  }
  if (
    payload.challenge === undefined ||
    payload.challenge.length !== CHALLENGE_SIZE
  ) {
    secret.fill(0);
    return reject("invalid challenge");
  }
  if (me === undefined) {
    secret.fill(0);
    return { action: "close", why: "no local identity" };
  }
  const ack = newMessage(MessageType.HandshakeAck, {
    from: me.id,
    to: peer.id,
    payload: {
      identity: me,
      challengeResponse: signChallenge(payload.challenge, secret),
      accepted: true,
    },
    ...overrides(ctx),
  });
  return { action: "accept", ack, peer, secret };
}

/** What the initiator needs to check an ack. */
export interface AckContext {
  /** The challenge we sent. */
  challenge: Uint8Array;
  /** Derives the pairwise secret from the responder's base64 public key. */
  deriveSecret(publicKey: string): Uint8Array;
  /** The key the dialled peer must have (pinning), when known. */
  expectedPublicKey?: string;
  /** The ID the dialled peer must have (pinning), when known. */
  expectedId?: string;
}

/** A verified responder. */
export interface VerifiedAck {
  /** The responder's identity (ID bound to key, challenge answered). */
  peer: NodeIdentity;
  /** The pairwise secret (the caller owns it). */
  secret: Uint8Array;
}

/**
 * Verifies the responder's `handshake_ack` (node.md §4.4.2 steps 7–11), with
 * ID binding and key pinning. Nothing is written back to the caller's records
 * unless this succeeds.
 *
 * @param text The ack frame's text.
 * @param ctx The challenge, key agreement and pins.
 * @returns The responder's identity and the secret.
 * @throws {TransportError} `handshake_rejected` when the peer refused us;
 * `peer_mismatch` when the responder is not the pinned peer;
 * `handshake_failed` for anything malformed or unverifiable.
 *
 * @example Rejected handshakes surface the reason
 * ```ts
 * import { TransportError, verifyHandshakeAck } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const ack = JSON.stringify({ id: "1", type: "handshake_ack", from: "", to: "", ts: "2026-01-01T00:00:00Z",
 *   payload: { identity: {}, accepted: false, reason: "peer not authorized" } });
 * assert.throws(
 *   () => verifyHandshakeAck(ack, { challenge: new Uint8Array(32), deriveSecret: () => new Uint8Array(32) }),
 *   (e) => e instanceof TransportError && e.code === "handshake_rejected",
 * );
 * ```
 */
export function verifyHandshakeAck(text: string, ctx: AckContext): VerifiedAck {
  const fail = (why: string, cause?: unknown): never => {
    throw new TransportError(
      "handshake_failed",
      `Cannot complete handshake: ${why}`,
      cause === undefined ? {} : { cause },
    );
  };
  let msg: Message;
  try {
    msg = decodeMessage(text);
  } catch (err) {
    return fail("malformed handshake_ack", err);
  }
  if (msg.type !== MessageType.HandshakeAck) {
    fail(`expected handshake_ack, got ${clip(msg.type)}`);
  }
  let ack;
  try {
    ack = parsePayload(msg, "handshake_ack");
  } catch (err) {
    return fail("malformed handshake_ack payload", err);
  }
  if (!ack.accepted) {
    throw new TransportError(
      "handshake_rejected",
      `Cannot complete handshake: handshake rejected: ${
        clip(ack.reason ?? "", 128)
      }`,
    );
  }
  const peer = ack.identity;
  let derivedId = "";
  try {
    derivedId = deriveNodeId(peer.publicKey);
  } catch (err) {
    fail("invalid responder public key", err);
  }
  if (derivedId !== peer.id) fail("responder ID does not match its public key");
  if (
    (ctx.expectedPublicKey && ctx.expectedPublicKey !== peer.publicKey) ||
    (ctx.expectedId && ctx.expectedId !== peer.id)
  ) {
    throw new TransportError(
      "peer_mismatch",
      `Cannot complete handshake: responder ${peer.id} is not the expected peer`,
    );
  }
  let secret: Uint8Array;
  try {
    secret = ctx.deriveSecret(peer.publicKey);
  } catch (err) {
    return fail("cannot derive shared secret with responder", err);
  }
  if (ack.challengeResponse === undefined) {
    secret.fill(0);
    fail("server did not provide challenge response");
  }
  if (!verifyChallenge(ctx.challenge, ack.challengeResponse!, secret)) {
    secret.fill(0);
    fail(
      "challenge response verification failed: server may not have matching private key",
    );
  }
  return { peer, secret };
}

/**
 * Go's origin rule (node.md §4.3): no `Origin` is allowed; otherwise the
 * host (without port) must be `localhost`, `127.0.0.1` or `::1`.
 *
 * @param origin The `Origin` header, or `null` (or `""`) when absent.
 * @returns `true` when the upgrade may proceed.
 *
 * @example Checking origins
 * ```ts
 * import { isOriginAllowed } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isOriginAllowed(null), true);
 * assert.equal(isOriginAllowed("http://[::1]:8080"), true);
 * assert.equal(isOriginAllowed("http://evil.example.com"), false);
 * assert.equal(isOriginAllowed("://not-a-url"), false);
 * ```
 */
export function isOriginAllowed(origin: string | null): boolean {
  if (origin === null || origin === "") return true;
  let host: string;
  try {
    host = new URL(origin).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}
