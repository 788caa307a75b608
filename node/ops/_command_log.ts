/**
 * Writes a worker's command audit to its logger: changes at info, reads and
 * pings at debug, refusals at warn. Refusals are the one kind a stranger
 * controls the rate of, so their lines are limited per peer (a burst of
 * {@linkcode REFUSAL_BURST}, then one per {@linkcode REFUSAL_INTERVAL_MS});
 * the next line written says how many were left out. Counts stay exact in
 * `p2p_commands_total`.
 *
 * @module
 */

import type { Logger } from "../../logging/mod.ts";
import { CHANGING_COMMANDS } from "./command_policy.ts";
import type { CommandEvent } from "./command_audit.ts";

/** Refusal lines a peer may cause at once. */
export const REFUSAL_BURST = 5;
/** Then one refusal line per this many milliseconds per peer. */
export const REFUSAL_INTERVAL_MS = 10_000;
/** Peers whose refusal budget is remembered (oldest forgotten first). */
const MAX_TRACKED_PEERS = 1024;

interface Budget {
  tokens: number;
  at: number;
  suppressed: number;
}

/** The logger side of the audit. */
export class CommandLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #budgets = new Map<string, Budget>();

  constructor(log: Logger, now: () => number) {
    this.#log = log;
    this.#now = now;
  }

  write(e: CommandEvent): void {
    const fields: Record<string, unknown> = {
      peer_id: e.peerId,
      peer_name: e.peerName,
      command: e.command,
      outcome: e.outcome,
    };
    if (e.outcome === "refused") {
      const suppressed = this.#take(e.peerId);
      if (suppressed < 0) return;
      if (suppressed > 0) fields.suppressed = suppressed;
      this.#log.warn(
        "command refused: peer is not a trusted controller",
        fields,
      );
      return;
    }
    if (e.outcome === "failed") {
      if (e.errorCode !== undefined) fields.code = e.errorCode;
      if (e.error !== undefined) fields.error = e.error;
      this.#log.info("command failed", fields);
      return;
    }
    if (CHANGING_COMMANDS.includes(e.command)) {
      this.#log.info("command obeyed", fields);
    } else this.#log.debug("command obeyed", fields);
  }

  /** -1: drop this line; otherwise how many were dropped before it. */
  #take(peer: string): number {
    const now = this.#now();
    let b = this.#budgets.get(peer);
    if (!b) {
      if (this.#budgets.size >= MAX_TRACKED_PEERS) {
        const oldest = this.#budgets.keys().next().value;
        if (oldest !== undefined) this.#budgets.delete(oldest);
      }
      b = { tokens: REFUSAL_BURST, at: now, suppressed: 0 };
      this.#budgets.set(peer, b);
    }
    const refill = Math.floor((now - b.at) / REFUSAL_INTERVAL_MS);
    if (refill > 0) {
      b.tokens = Math.min(REFUSAL_BURST, b.tokens + refill);
      b.at += refill * REFUSAL_INTERVAL_MS;
    }
    if (b.tokens <= 0) {
      b.suppressed++;
      return -1;
    }
    b.tokens--;
    const s = b.suppressed;
    b.suppressed = 0;
    return s;
  }
}
