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
 * - `unsupported_format`: not an SMSG v1 container without compression (the
 *   only format Go peers send); dropped before any decryption or
 *   decompression.
 */
export type DropReason =
  | "rate_limit"
  | "too_large"
  | "decrypt_failed"
  | "parse_failed"
  | "stale_timestamp"
  | "duplicate"
  | "queue_overflow"
  | "backlog_overflow"
  | "unsupported_format";

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
  "unsupported_format",
]);

/**
 * What the hostile-network guards did (each counted once per event).
 *
 * - `failed_frames`: a peer was disconnected for sending too many failed
 *   frames in a row (decrypt, parse, format, timestamp, replay, rate), or a
 *   provisional peer for its first failed frame.
 * - `unproven_evicted`: an inbound connection that had not proven its key
 *   was displaced to make room under the unproven caps (one displaced while
 *   waiting for its handshake frame also counts as a `closed` handshake
 *   failure).
 * - `first_frame_timeout`: a provisional connection sent no good frame
 *   within `provisionalTimeout`.
 * - `close_timeout`: the peer did not answer our close frame within
 *   `closeTimeout`; the TCP connection was dropped.
 * - `accept_error`: accepting a connection failed (e.g. out of file
 *   descriptors); the listener backed off and kept serving.
 */
export type GuardReason =
  | "failed_frames"
  | "unproven_evicted"
  | "first_frame_timeout"
  | "close_timeout"
  | "accept_error";

/** Every {@linkcode GuardReason}, in a fixed order. */
export const GUARD_REASONS: readonly GuardReason[] = Object.freeze([
  "failed_frames",
  "unproven_evicted",
  "first_frame_timeout",
  "close_timeout",
  "accept_error",
]);

/**
 * Why a handshake failed.
 *
 * Inbound (a peer dialled us): `capacity` (HTTP 503, `maxConns` reached),
 * `timeout`, `closed` (the peer went away), `too_large` (first frame above
 * the pre-handshake limit), `malformed` (not a valid handshake, bad key or
 * challenge), `version` (unsupported protocol version), `not_allowed`
 * (allowlist or key binding refused), `no_identity`, `stopped`,
 * `upgrade_timeout` (no complete TLS handshake and request head within
 * `upgradeTimeout`), `bad_request` (a malformed, oversized or refused HTTP
 * request: 400, 403, 404, 405, 431).
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
  | "aborted"
  | "upgrade_timeout"
  | "bad_request";

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
    "upgrade_timeout",
    "bad_request",
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
  /** Hostile-network guard events by reason (every reason present). */
  guard: Record<GuardReason, number>;
  /** Handshake failures by direction and reason (every reason present). */
  handshakeFailures: {
    inbound: Record<string, number>;
    outbound: Record<string, number>;
  };
}
