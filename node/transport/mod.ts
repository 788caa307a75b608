/**
 * The encrypted WebSocket transport of the go-p2p mesh: configuration,
 * handshake, connections, rate limiting, replay protection and the
 * {@linkcode Transport} itself.
 *
 * @example Resolving a configuration
 * ```ts
 * import { resolveTransportConfig } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(resolveTransportConfig().listenAddr, ":9091");
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./config.ts";
export * from "./rate_limiter.ts";
export * from "./dedup.ts";
export * from "./handshake.ts";
export * from "./connection.ts";
export * from "./stats.ts";
export * from "./transport.ts";
export * from "./dialler.ts";
