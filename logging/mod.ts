/**
 * A levelled structured logger with component scoping, writing the same text
 * lines as the Go reference or JSON lines for log shippers. Secret-looking
 * fields and byte arrays are never written.
 *
 * @example Quick start
 * ```ts
 * import { Logger, LogLevel } from "@lthn/p2p/logging";
 * import assert from "node:assert/strict";
 *
 * const out: string[] = [];
 * const log = new Logger({ sink: { write: (l) => out.push(l) }, format: "json" });
 * log.child("transport").info("peer connected", { peer: "ab12", password: "hunter2" });
 * const record = JSON.parse(out[0]!);
 * assert.equal(record.component, "transport");
 * assert.equal(record.password, "[redacted]");
 * ```
 *
 * @module
 */

export * from "./logger.ts";
export * from "./global.ts";
