/**
 * The error family of the transport.
 *
 * @module
 */

import { CodedError } from "../../errors.ts";

/**
 * What went wrong in the transport.
 *
 * - `bind_failed`: `start()` could not listen on the configured address.
 * - `not_started` / `stopped`: the transport is not running.
 * - `connect_failed`: the TCP (or TLS) connection could not be opened.
 * - `upgrade_failed`: the HTTP upgrade failed (`status` holds the HTTP code, e.g. 503).
 * - `timeout`: a dial, handshake or request ran out of time.
 * - `handshake_failed`: the peer's handshake answer was malformed or did not verify.
 * - `handshake_rejected`: the peer answered `accepted: false` (`reason` in the message).
 * - `peer_mismatch`: the peer is not the one that was dialled (key pinning).
 * - `self_connection`: the dialled address answered with this node's own identity.
 * - `no_identity`: the local node has no identity.
 * - `not_connected`: no connection to that peer.
 * - `connection_closed`: the connection closed before the operation finished.
 * - `message_too_large`: an outgoing frame exceeds the configured maximum.
 * - `queue_full`: too many requests are pending.
 * - `aborted`: the caller's signal fired.
 */
export type TransportErrorCode =
  | "bind_failed"
  | "not_started"
  | "stopped"
  | "connect_failed"
  | "upgrade_failed"
  | "timeout"
  | "handshake_failed"
  | "handshake_rejected"
  | "peer_mismatch"
  | "self_connection"
  | "no_identity"
  | "not_connected"
  | "connection_closed"
  | "message_too_large"
  | "queue_full"
  | "aborted";

/** Options of {@linkcode TransportError}. */
export interface TransportErrorOptions extends ErrorOptions {
  /** HTTP status of a failed upgrade. */
  status?: number;
}

/**
 * A transport failure. Messages never contain keys, secrets or plaintext.
 *
 * @example Handling a refused connection
 * ```ts
 * import { TransportError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = new TransportError("upgrade_failed", "Cannot connect: bad handshake (HTTP 503)", { status: 503 });
 * assert.ok(err instanceof TransportError);
 * assert.equal(err.code, "upgrade_failed");
 * assert.equal(err.status, 503);
 * ```
 */
export class TransportError extends CodedError<TransportErrorCode> {
  /** HTTP status of a failed upgrade, when there was one. */
  readonly status: number | undefined;
  /** Always `"TransportError"`. */
  override readonly name = "TransportError";

  /**
   * Creates a transport error.
   *
   * @param code The failure family.
   * @param message The description.
   * @param options Cause and HTTP status.
   */
  constructor(
    code: TransportErrorCode,
    message: string,
    options: TransportErrorOptions = {},
  ) {
    super(
      code,
      message,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.status = options.status;
  }
}
