/**
 * The mutable counters behind {@linkcode TransportStats}: plain number
 * fields the transport increments on its paths.
 *
 * @module
 */

import { MESSAGE_TYPES } from "../message.ts";
import {
  DROP_REASONS,
  type DropReason,
  GUARD_REASONS,
  type GuardReason,
  type HandshakeFailureReason,
  INBOUND_HANDSHAKE_FAILURES,
  OUTBOUND_HANDSHAKE_FAILURES,
  type TransportStats,
} from "./stats.ts";

const TYPE_INDEX = new Map<string, number>(
  MESSAGE_TYPES.map((t, i) => [t, i]),
);
const OTHER = MESSAGE_TYPES.length;

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = 0;
  return out;
}

/** The transport's counters. */
export class TransportCounters {
  /** Connections whose handshake completed. */
  connectionsOpened = 0;
  /** Connections closed after the handshake. */
  connectionsClosed = 0;
  /** Frames received. */
  framesIn = 0;
  /** Frames written. */
  framesOut = 0;
  /** Bytes received. */
  bytesIn = 0;
  /** Bytes written. */
  bytesOut = 0;
  /** Drops by reason. */
  readonly drops: Record<DropReason, number> = zeros(DROP_REASONS);
  /** Guard events by reason. */
  readonly guard: Record<GuardReason, number> = zeros(GUARD_REASONS);
  /** Inbound handshake failures by reason. */
  readonly inboundHandshake: Record<string, number> = zeros(
    INBOUND_HANDSHAKE_FAILURES,
  );
  /** Outbound handshake failures by reason. */
  readonly outboundHandshake: Record<string, number> = zeros(
    OUTBOUND_HANDSHAKE_FAILURES,
  );
  readonly #in = new Float64Array(MESSAGE_TYPES.length + 1);
  readonly #out = new Float64Array(MESSAGE_TYPES.length + 1);

  /**
   * Counts one accepted inbound message.
   *
   * @param type The message type.
   */
  messageIn(type: string): void {
    this.#in[TYPE_INDEX.get(type) ?? OTHER]!++;
  }

  /**
   * Counts one written frame carrying a message.
   *
   * @param type The message type.
   * @param bytes The frame size.
   */
  messageOut(type: string, bytes: number): void {
    this.#out[TYPE_INDEX.get(type) ?? OTHER]!++;
    this.framesOut++;
    this.bytesOut += bytes;
  }

  /**
   * Counts a handshake failure.
   *
   * @param direction Who dialled.
   * @param reason Why it failed.
   */
  handshakeFailed(
    direction: "inbound" | "outbound",
    reason: HandshakeFailureReason,
  ): void {
    const t = direction === "inbound"
      ? this.inboundHandshake
      : this.outboundHandshake;
    t[reason] = (t[reason] ?? 0) + 1;
  }

  /**
   * Copies the counters.
   *
   * @returns A snapshot.
   */
  snapshot(): TransportStats {
    const byType = (a: Float64Array) => {
      const out: Record<string, number> = {};
      let total = 0;
      for (let i = 0; i < MESSAGE_TYPES.length; i++) {
        out[MESSAGE_TYPES[i]!] = a[i]!;
        total += a[i]!;
      }
      out.other = a[OTHER]!;
      return { out, total: total + a[OTHER]! };
    };
    const mi = byType(this.#in);
    const mo = byType(this.#out);
    return {
      connectionsOpened: this.connectionsOpened,
      connectionsClosed: this.connectionsClosed,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      messagesIn: mi.total,
      messagesOut: mo.total,
      messagesInByType: mi.out,
      messagesOutByType: mo.out,
      drops: { ...this.drops },
      guard: { ...this.guard },
      handshakeFailures: {
        inbound: { ...this.inboundHandshake },
        outbound: { ...this.outboundHandshake },
      },
    };
  }
}
