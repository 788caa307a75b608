/**
 * `@lthn/p2p`: the peer-to-peer mesh layer of the Lethean network, speaking
 * the go-p2p wire format byte for byte.
 *
 * Each layer is also importable on its own: `@lthn/p2p/node`,
 * `@lthn/p2p/ueps`, `@lthn/p2p/levin`, `@lthn/p2p/logging`.
 *
 * @example Namespaced imports
 * ```ts
 * import { logging, node } from "@lthn/p2p";
 * import assert from "node:assert/strict";
 *
 * assert.equal(logging.parseLevel("debug"), logging.LogLevel.Debug);
 * assert.equal(node.deriveNodeId(new Uint8Array(32)).length, 32);
 * ```
 *
 * @module
 */

export * as node from "./node/mod.ts";
export * as ueps from "./ueps/mod.ts";
export * as levin from "./levin/mod.ts";
export * as logging from "./logging/mod.ts";
