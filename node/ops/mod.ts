/**
 * Worker operations: who may command a worker, and the audit of what it
 * obeyed or refused.
 *
 * @example The default policy answers pings from anyone, nothing else
 * ```ts
 * import { allowTrustedControllers, newMessage, trustKeys } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const policy = allowTrustedControllers(trustKeys([]));
 * const ping = newMessage("ping", { from: "a", payload: { sentAt: 1 } });
 * assert.equal(policy({ peer: { id: "a", publicKey: "k" }, command: "ping", message: ping }), true);
 * ```
 *
 * @module
 */

export * from "./command_policy.ts";
export * from "./command_audit.ts";
