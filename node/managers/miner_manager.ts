/**
 * The interfaces the worker drives (node.md §6.1, the code version):
 * {@linkcode MinerManager}, {@linkcode MinerInstance} and
 * {@linkcode ProfileManager}. Every method may answer synchronously or with
 * a promise; the worker awaits them.
 *
 * @module
 */

import type { JsonValue } from "../message.ts";

/** A value or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** One running (or exited) miner, as the worker sees it. */
export interface MinerInstance {
  /**
   * The instance name (unique within its manager).
   *
   * @returns The name.
   */
  getName(): string;
  /**
   * The miner type, e.g. `"xmrig"`.
   *
   * @returns The type.
   */
  getType(): string;
  /**
   * Current figures. The worker copies `hashrate`, `shares`, `rejected`,
   * `uptime`, `pool` and `algorithm` when the value is a plain object and
   * the field has the right type; a thrown error skips the miner.
   *
   * @returns The figures (any value).
   */
  getStats(): Awaitable<unknown>;
  /**
   * The newest console lines, oldest first.
   *
   * @param lines The maximum number of lines (positive).
   * @param since Only lines recorded at or after this time (inclusive); all when absent.
   * @returns The lines.
   */
  getConsoleHistorySince(lines: number, since?: Date): Awaitable<string[]>;
}

/** Starts, stops and lists miners. */
export interface MinerManager {
  /**
   * Starts a miner.
   *
   * @param minerType The miner type, never empty.
   * @param config The override config as sent by the controller (any JSON
   * value, `null` included), or the stored profile when none was sent.
   * @returns The new instance.
   * @throws {Error} Any failure (its message goes back in the `miner_ack`).
   */
  startMiner(minerType: string, config: JsonValue): Awaitable<MinerInstance>;
  /**
   * Stops a miner.
   *
   * @param name The instance name.
   * @throws {Error} When it cannot be stopped or does not exist.
   */
  stopMiner(name: string): Awaitable<void>;
  /**
   * Lists the miners.
   *
   * @returns The instances.
   */
  listMiners(): Awaitable<MinerInstance[]>;
  /**
   * Looks a miner up.
   *
   * @param name The instance name.
   * @returns The instance, or `undefined` when there is none.
   * @throws {Error} May throw instead of returning `undefined`.
   */
  getMiner(name: string): Awaitable<MinerInstance | undefined>;
}

/** Loads and stores mining profiles. */
export interface ProfileManager {
  /**
   * Loads a profile.
   *
   * @param id The profile ID.
   * @returns The profile (any JSON value).
   * @throws {Error} When there is no such profile.
   */
  getProfile(id: string): Awaitable<JsonValue>;
  /**
   * Stores a profile.
   *
   * @param profile The profile, as decoded from a deployed bundle.
   * @throws {Error} When it cannot be stored.
   */
  saveProfile(profile: JsonValue): Awaitable<void>;
}
