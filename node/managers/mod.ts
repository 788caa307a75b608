/**
 * Miner and profile managers a worker drives: the interfaces
 * ({@linkcode MinerManager}, {@linkcode MinerInstance},
 * {@linkcode ProfileManager}), the process-based miner manager with its
 * ring buffer and XMRig output parser, and the file-based profile manager.
 *
 * @example Parsing an XMRig speed line
 * ```ts
 * import { parseXmrigLine } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const ev = parseXmrigLine("[2026-02-20 10:00:00.000]  cpu      accepted (3/1) diff 1000 (9 ms)");
 * assert.deepEqual(ev, { kind: "accepted", accepted: 3, rejected: 1, diff: 1000 });
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./miner_manager.ts";
export * from "./ring_buffer.ts";
export * from "./xmrig_output.ts";
export * from "./process_miner.ts";
export * from "./profile_manager.ts";
