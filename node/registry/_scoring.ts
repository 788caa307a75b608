/**
 * Peer scoring from request outcomes, in one place. The controller reports
 * the outcome of every request it makes; the registry's scores and latency
 * metric follow from them here.
 *
 * Pings are the measured exchange: a ping's reply sets `pingMs` (keeping
 * `geoKm` and `hops`) and raises the score, a ping that times out or fails
 * (connecting included) lowers it, an aborted one changes nothing. Other
 * requests are observed but not scored (Go's controller scores nothing;
 * node.md §5).
 *
 * @module
 */

import type { Logger } from "../../logging/mod.ts";
import type { Peer } from "../peer.ts";

/** How one request ended, as the controller saw it. */
export interface RequestOutcome {
  /** The peer asked. */
  peerId: string;
  /** The request's message type, e.g. `ping`. */
  type: string;
  /**
   * `reply` (answered and understood), `timeout`, `aborted` (by the
   * caller), `connect_failed` (never sent: the dial failed) or `failed`
   * (anything else: an error reply, a send failure, a disconnect).
   */
  result: "reply" | "timeout" | "aborted" | "connect_failed" | "failed";
  /** Round trip in milliseconds, for a reply. */
  rttMs?: number;
}

/** The registry calls scoring makes (a `PeerRegistry` fits). */
export interface ScoredRegistry {
  /** Looks a peer up. */
  getPeer(id: string): Peer | undefined;
  /** Stores new metrics. */
  updateMetrics(id: string, pingMs: number, geoKm: number, hops: number): void;
  /** Score +1. */
  recordSuccess(id: string): void;
  /** Score −5. */
  recordFailure(id: string): void;
  /** Score −3. */
  recordTimeout(id: string): void;
}

/**
 * Applies one request outcome to the registry.
 *
 * @param registry The registry.
 * @param outcome What happened.
 * @param log Where a failed metrics update is noted (debug).
 */
export function scoreOutcome(
  registry: ScoredRegistry,
  outcome: RequestOutcome,
  log: Logger,
): void {
  if (outcome.type !== "ping" || outcome.result === "aborted") return;
  const id = outcome.peerId;
  if (outcome.result === "connect_failed") {
    registry.recordFailure(id);
    return;
  }
  const peer = registry.getPeer(id);
  if (peer === undefined) return;
  if (outcome.result === "timeout") registry.recordTimeout(id);
  else if (outcome.result === "failed") registry.recordFailure(id);
  else {
    try {
      registry.updateMetrics(id, outcome.rttMs ?? 0, peer.geoKm, peer.hops);
      registry.recordSuccess(id);
    } catch (err) {
      log.debug("failed to update peer metrics", {
        peer_id: id,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}
