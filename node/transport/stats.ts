/**
 * Exact transport counters: frames, bytes and messages in each direction,
 * drops by reason, handshake failures by direction and reason, connections
 * opened and closed. The transport increments plain number fields on its
 * paths (no allocation per message); `Transport.stats()` copies
 * them into a {@linkcode TransportStats} snapshot.
 *
 * @module
 */

/**
 * Why an inbound frame or message was dropped after the handshake.
 *
 * - `rate_limit`: the peer's token bucket was empty.
 * - `too_large`: the frame exceeded `maxMessageSize` (the connection closes with 1009).
 * - `decrypt_failed`: the SMSG frame did not open with the pairwise key.
 * - `parse_failed`: it opened but the content is not a valid message.
 * - `stale_timestamp`: its `ts` is outside the accepted window.
 * - `duplicate`: its ID was already seen from that peer.
 * - `queue_overflow`: the connection's handler queue was full.
 * - `backlog_overflow`: too many frames arrived before the handshake finished
 *   (the connection closes).
 */
export type DropReason =
  | "rate_limit"
  | "too_large"
  | "decrypt_failed"
  | "parse_failed"
  | "stale_timestamp"
  | "duplicate"
  | "queue_overflow"
  | "backlog_overflow";

/** Every {@linkcode DropReason}, in a fixed order. */
export const DROP_REASONS: readonly DropReason[] = Object.freeze([
  "rate_limit",
  "too_large",
  "decrypt_failed",
  "parse_failed",
  "stale_timestamp",
  "duplicate",
  "queue_overflow",
  "backlog_overflow",
]);

/**
 * Why a handshake failed.
 *
 * Inbound (a peer dialled us): `capacity` (HTTP 503, `maxConns` reached),
 * `timeout`, `closed` (the peer went away), `too_large` (first frame above
 * the pre-handshake limit), `malformed` (not a valid handshake, bad key or
 * challenge), `version` (unsupported protocol version), `not_allowed`
 * (allowlist or key binding refused), `no_identity`, `stopped`.
 *
 * Outbound (we dialled): `connect_failed`, `upgrade_failed`, `timeout`,
 * `closed`, `too_large`, `handshake_failed` (bad or unverifiable ack),
 * `handshake_rejected` (the peer refused us), `peer_mismatch` (pinning),
 * `aborted`, `stopped`.
 */
export type HandshakeFailureReason =
  | "capacity"
  | "timeout"
  | "closed"
  | "too_large"
  | "malformed"
  | "version"
  | "not_allowed"
  | "no_identity"
  | "stopped"
  | "connect_failed"
  | "upgrade_failed"
  | "handshake_failed"
  | "handshake_rejected"
  | "peer_mismatch"
  | "aborted";

/** The inbound {@linkcode HandshakeFailureReason}s, in a fixed order. */
export const INBOUND_HANDSHAKE_FAILURES: readonly HandshakeFailureReason[] =
  Object.freeze([
    "capacity",
    "timeout",
    "closed",
    "too_large",
    "malformed",
    "version",
    "not_allowed",
    "no_identity",
    "stopped",
  ]);

/** The outbound {@linkcode HandshakeFailureReason}s, in a fixed order. */
export const OUTBOUND_HANDSHAKE_FAILURES: readonly HandshakeFailureReason[] =
  Object.freeze([
    "connect_failed",
    "upgrade_failed",
    "timeout",
    "closed",
    "too_large",
    "handshake_failed",
    "handshake_rejected",
    "peer_mismatch",
    "aborted",
    "stopped",
  ]);

/** A snapshot of the transport counters (all totals since construction). */
export interface TransportStats {
  /** Connections whose handshake completed (both directions). */
  connectionsOpened: number;
  /** Connections that closed after their handshake. */
  connectionsClosed: number;
  /** Frames received on connections after the handshake (dropped ones included). */
  framesIn: number;
  /** Frames written on connections (keepalive pings and `disconnect` included). */
  framesOut: number;
  /** Bytes of `framesIn` (WebSocket payloads). */
  bytesIn: number;
  /** Bytes of `framesOut` (WebSocket payloads). */
  bytesOut: number;
  /** Messages accepted (decrypted, parsed, fresh, new) and handed to a pending request or the handler queue; drops excluded. */
  messagesIn: number;
  /** Messages sent (equals `framesOut`). */
  messagesOut: number;
  /** `messagesIn` by type; unknown types count as `other`. */
  messagesInByType: Record<string, number>;
  /** `messagesOut` by type; unknown types count as `other`. */
  messagesOutByType: Record<string, number>;
  /** Drops by reason (every reason present, 0 when none). */
  drops: Record<DropReason, number>;
  /** Handshake failures by direction and reason (every reason present). */
  handshakeFailures: {
    inbound: Record<string, number>;
    outbound: Record<string, number>;
  };
}
