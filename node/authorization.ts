/**
 * Command authorisation for workers: which connected peers may issue which
 * commands (node.md §13 item 5).
 *
 * The Go reference has no such check: any peer that completed the handshake
 * may start and stop miners, read logs and deploy bundles
 * ({@linkcode allowAnyPeer}, which a worker uses only when asked with
 * `trustAnyController`). The default is the trust list
 * (`allowTrustedControllers` in `ops/command_policy.ts`);
 * {@linkcode allowControllerKeys} restricts commands to a set of controller
 * public keys, and any function of type {@linkcode CommandAuthorizer} can
 * implement another policy (a worker's `authorize` option). A refused
 * command is answered with an `error` message, code 1002 (unauthorized),
 * text `Worker.authorize: peer <id> is not authorized for <type>`.
 *
 * @module
 */

import type { NodeIdentity } from "./identity.ts";
import type { Message } from "./message.ts";

/** The commands a worker handles, i.e. the message types it answers. */
export type WorkerCommand =
  | "ping"
  | "get_stats"
  | "start_miner"
  | "stop_miner"
  | "get_logs"
  | "deploy";

/** Every {@linkcode WorkerCommand}. */
export const WORKER_COMMANDS: readonly WorkerCommand[] = Object.freeze([
  "ping",
  "get_stats",
  "start_miner",
  "stop_miner",
  "get_logs",
  "deploy",
]);

/** What an authoriser is asked about. */
export interface AuthorizationRequest {
  /**
   * The peer as proven by the transport handshake (its ID is bound to its
   * public key), or `undefined` when the worker is driven directly.
   */
  peer: Readonly<Pick<NodeIdentity, "id" | "publicKey">> | undefined;
  /** The command. */
  command: WorkerCommand;
  /** The whole request. */
  message: Message;
}

/**
 * Decides whether a request may run. Returning (or resolving) `false`
 * refuses it; a thrown error refuses it too.
 */
export type CommandAuthorizer = (
  request: AuthorizationRequest,
) => boolean | Promise<boolean>;

/**
 * The Go behaviour: every connected peer may issue every command. Not the
 * default: a worker uses it only with `trustAnyController: true`.
 *
 * @param _request The request (not looked at).
 * @returns Always `true`.
 *
 * @example The default policy
 * ```ts
 * import { allowAnyPeer, newMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const message = newMessage("get_stats", { from: "a" });
 * assert.equal(allowAnyPeer({ peer: undefined, command: "get_stats", message }), true);
 * ```
 */
export function allowAnyPeer(_request: AuthorizationRequest): boolean {
  return true;
}

/** Options of {@linkcode allowControllerKeys}. */
export interface AllowControllerKeysOptions {
  /** Commands every peer may issue (default `["ping"]`, so keepalives are answered). */
  openCommands?: readonly WorkerCommand[];
}

/**
 * A policy that accepts commands only from peers whose public key is in a
 * set (padded standard base64, as in `NodeIdentity.publicKey`). Requests
 * without a proven peer are refused.
 *
 * @param keys The allowed keys, or a function returning them on each request
 * (for example `() => registry.listAllowedPublicKeys()`).
 * @param options Commands open to everyone.
 * @returns The authoriser.
 *
 * @example Only one controller may command this worker
 * ```ts
 * import { allowControllerKeys, newMessage } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * const policy = allowControllerKeys([key]);
 * const message = newMessage("start_miner", { from: "a", payload: { minerType: "xmrig" } });
 * assert.equal(await policy({ peer: { id: "a", publicKey: key }, command: "start_miner", message }), true);
 * assert.equal(await policy({ peer: { id: "b", publicKey: "other" }, command: "start_miner", message }), false);
 * assert.equal(await policy({ peer: { id: "b", publicKey: "other" }, command: "ping", message }), true);
 * ```
 */
export function allowControllerKeys(
  keys: Iterable<string> | (() => Iterable<string> | Promise<Iterable<string>>),
  options: AllowControllerKeysOptions = {},
): CommandAuthorizer {
  const open = new Set<string>(options.openCommands ?? ["ping"]);
  const fixed = typeof keys === "function" ? undefined : new Set(keys);
  return async (req) => {
    if (open.has(req.command)) return true;
    const key = req.peer?.publicKey;
    if (!key) return false;
    if (fixed) return fixed.has(key);
    const current =
      await (keys as () => Iterable<string> | Promise<Iterable<string>>)();
    for (const k of current) if (k === key) return true;
    return false;
  };
}
