/**
 * The go-p2p node layer: identity, Borg formats, messages, the encrypted
 * WebSocket transport, the peer registry, controller and worker, the UEPS
 * intent dispatcher and deployment bundles.
 *
 * @example Deriving a node ID
 * ```ts
 * import { deriveNodeId } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   deriveNodeId("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="),
 *   "aaa8fff703b50b2297f4f6e13508f724",
 * );
 * ```
 *
 * @module
 */

export { CodedError } from "../errors.ts";
export * from "./identity.ts";
export * from "./identity_store.ts";
export * from "./borg/mod.ts";
export * from "./dispatcher.ts";
export * from "./peer_registry.ts";
export * from "./bundle.ts";
export * from "./message.ts";
export * from "./transport/mod.ts";
export * from "./authorization.ts";
export * from "./ops/mod.ts";
export * from "./registry/mod.ts";
export * from "./controller.ts";
export * from "./worker.ts";
export * from "./managers/mod.ts";
export * from "./node.ts";
export * from "./dir_lock.ts";
export * from "./registry/settings.ts";
export * from "./control_api.ts";
export * from "./control/mod.ts";
export * from "./metrics.ts";
export * from "./files.ts";
