/**
 * The audit of a worker's commands: one event per command it obeyed or
 * refused, and exact counts for `p2p_commands_total{command,outcome}`.
 *
 * @module
 */

import { WORKER_COMMANDS, type WorkerCommand } from "../authorization.ts";
import type { Sample } from "../metrics.ts";

/**
 * What became of a command: `ok` (obeyed and succeeded), `failed` (obeyed
 * but failed: an `error` reply other than 1002, or an ack with
 * `success: false`) or `refused` (not authorised: code 1002).
 */
export type CommandOutcome = "ok" | "failed" | "refused";

/** Every {@linkcode CommandOutcome}. */
export const COMMAND_OUTCOMES: readonly CommandOutcome[] = Object.freeze([
  "ok",
  "failed",
  "refused",
]);

/** One command a worker obeyed or refused. */
export interface CommandEvent {
  /** The requesting peer's node ID (`""` when driven directly). */
  peerId: string;
  /** Its name as it gave it in the handshake, made safe to log (may be `""`). */
  peerName: string;
  /** The command. */
  command: WorkerCommand;
  /** What became of it. */
  outcome: CommandOutcome;
  /** The error code sent back, for `failed` and `refused` `error` replies. */
  errorCode?: number;
  /** The failure text, for `failed` (at most 200 characters). */
  error?: string;
}

/**
 * Exact counts of commands by command and outcome, every pair present
 * from the start (at 0) so rates work from the first scrape.
 *
 * @example Counting and exporting
 * ```ts
 * import { CommandCounts } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const counts = new CommandCounts();
 * counts.record({ command: "deploy", outcome: "refused" });
 * assert.equal(counts.get("deploy", "refused"), 1);
 * assert.equal(counts.samples().length, 18);
 * ```
 */
export class CommandCounts {
  readonly #counts = new Map<string, number>();

  /**
   * Counts one event.
   *
   * @param event The event (only `command` and `outcome` are used).
   */
  record(event: Pick<CommandEvent, "command" | "outcome">): void {
    const k = `${event.command}/${event.outcome}`;
    this.#counts.set(k, (this.#counts.get(k) ?? 0) + 1);
  }

  /**
   * Reads one count.
   *
   * @param command The command.
   * @param outcome The outcome.
   * @returns How many so far.
   */
  get(command: WorkerCommand, outcome: CommandOutcome): number {
    return this.#counts.get(`${command}/${outcome}`) ?? 0;
  }

  /**
   * Every series, for a metrics counter (labels `command` and `outcome`).
   *
   * @returns One sample per command and outcome.
   */
  samples(): Sample[] {
    const out: Sample[] = [];
    for (const command of WORKER_COMMANDS) {
      for (const outcome of COMMAND_OUTCOMES) {
        out.push({
          labels: { command, outcome },
          value: this.get(command, outcome),
        });
      }
    }
    return out;
  }
}
