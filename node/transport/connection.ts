/**
 * The public view of one encrypted connection to a peer.
 *
 * @module
 */

import type { NodeIdentity } from "../identity.ts";
import type { Message } from "../message.ts";

/**
 * Lifecycle of a connection after its handshake:
 * `provisional` (inbound only, until the peer's first frame decrypts) →
 * `established` → `closing` → `closed`.
 */
export type ConnectionState =
  | "provisional"
  | "established"
  | "closing"
  | "closed";

/** Who dialled: `outbound` when we did. */
export type ConnectionDirection = "inbound" | "outbound";

/** How a connection ended. */
export interface ConnectionCloseInfo {
  /**
   * WebSocket close code (1006: dropped without a close frame, whichever
   * side dialled).
   */
  code: number;
  /** Why, in words (for logs): ours, or the peer's `disconnect` reason. */
  reason: string;
  /** `true` when we closed it (stop, replacement, keepalive, `close()`). */
  local: boolean;
  /**
   * The peer's `disconnect` message, when it sent one before the close
   * (its reason is cut to 200 characters, control characters removed).
   */
  disconnect?: { reason: string; code: number };
}

/** Options of {@linkcode PeerConnection.send}. */
export interface SendOptions {
  /** Stops waiting for buffer space. */
  signal?: AbortSignal;
}

/**
 * One encrypted WebSocket connection to a peer, after a successful
 * handshake. Obtained from `Transport.connect`, `Transport.getConnection`
 * or a message handler.
 */
export interface PeerConnection {
  /** The peer's identity as proven in the handshake (ID bound to key). */
  readonly peer: Readonly<NodeIdentity>;
  /** Shorthand for `peer.id`. */
  readonly peerId: string;
  /** `outbound` when we dialled. */
  readonly direction: ConnectionDirection;
  /** `host:port` of the remote end. */
  readonly remoteAddress: string;
  /** Current lifecycle state. */
  readonly state: ConnectionState;
  /** When the handshake completed (Unix ms, transport clock). */
  readonly connectedAt: number;
  /** When the last good (decrypted, fresh, new) frame arrived (Unix ms). */
  readonly lastActivity: number;
  /**
   * Whether the peer is answering: a good frame arrived within
   * `config.unhealthyAfter`, and fewer than `config.unhealthyAfterMisses`
   * requests in a row timed out. An unhealthy connection stays open (until
   * the keepalive drops it); fleet operations stop waiting for it.
   */
  readonly healthy: boolean;
  /** Requests in a row on this connection that timed out (0 after any answer). */
  readonly missedRequests: number;
  /** Outgoing bytes not yet written to the socket. */
  readonly bufferedAmount: number;
  /**
   * The largest frame the peer accepts: the value it advertised in the
   * WebSocket upgrade (`X-Lthn-Max-Message-Size`), or
   * `config.unadvertisedPeerMaxMessageSize` (1 MiB, Go's default) for peers
   * that advertise nothing, such as Go nodes. `send` refuses bigger frames.
   */
  readonly peerMaxMessageSize: number;
  /** Settles once the connection is fully closed. */
  readonly closed: Promise<ConnectionCloseInfo>;
  /**
   * Encrypts and sends one message as one binary frame. Waits for buffer
   * space when more than the configured high-water mark is queued.
   *
   * @param message The message.
   * @param options An abort signal.
   * @returns Resolves once the frame is queued on the socket.
   * @throws {TransportError} `connection_closed`, `message_too_large`,
   * `timeout` (no drain within the write timeout; the connection is closed),
   * `queue_full` or `aborted`.
   */
  send(message: Message, options?: SendOptions): Promise<void>;
  /**
   * Sends an encrypted `disconnect` `{reason, code}` (best effort), then
   * closes. Idempotent.
   *
   * @param reason The reason text.
   * @param code A disconnect code (default 1000, normal).
   * @returns Resolves once closed.
   */
  gracefulClose(reason?: string, code?: number): Promise<void>;
  /** Closes without a `disconnect` message. Idempotent. */
  close(): void;
}
