/**
 * Who may command a worker: the default policy (only trusted controllers),
 * the Go behaviour as an explicit opt-out, and how a worker's options pick
 * one.
 *
 * | command | default |
 * | ------- | ------- |
 * | `ping` | any connected peer (keepalives and round trips) |
 * | `get_stats`, `get_logs` | trusted controllers (`openCommands` can open them) |
 * | `deploy`, `start_miner`, `stop_miner` | trusted controllers only |
 *
 * A refused command is answered with an `error` message, code 1002
 * (unauthorized), so a Go controller sees a normal remote error.
 *
 * @module
 */

import {
  allowAnyPeer,
  type CommandAuthorizer,
  type WorkerCommand,
} from "../authorization.ts";

/** Something that says whether a controller's public key is trusted. */
export interface ControllerTrust {
  /**
   * Tells whether a key is trusted.
   *
   * @param publicKey Padded standard base64, as the handshake presented it.
   * @returns `true` when commands from that key are obeyed.
   */
  isTrusted(publicKey: string): boolean;
}

/** Commands that only read (stats, miner logs). */
export const READ_ONLY_COMMANDS: readonly WorkerCommand[] = Object.freeze([
  "get_stats",
  "get_logs",
]);

/** Commands that change the worker: they are never open to untrusted peers. */
export const CHANGING_COMMANDS: readonly WorkerCommand[] = Object.freeze([
  "deploy",
  "start_miner",
  "stop_miner",
]);

/**
 * A fixed set of trusted keys.
 *
 * @param keys Public keys (padded standard base64).
 * @returns The trust.
 * @throws {TypeError} When given one string instead of a list.
 *
 * @example
 * ```ts
 * import { trustKeys } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const t = trustKeys(["B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="]);
 * assert.equal(t.isTrusted("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="), true);
 * assert.equal(t.isTrusted("other"), false);
 * ```
 */
export function trustKeys(keys: Iterable<string>): ControllerTrust {
  if (typeof keys === "string") {
    throw new TypeError(
      "Cannot build trusted keys: expected a list of keys, got one string",
    );
  }
  const set = new Set(keys);
  return { isTrusted: (k) => set.has(k) };
}

/** Options of {@linkcode allowTrustedControllers}. */
export interface TrustedControllersOptions {
  /**
   * Commands any connected peer may issue (default `["ping"]`). Only
   * `ping`, `get_stats` and `get_logs` may be opened; for more, use
   * `trustAnyController` or a custom `authorize`.
   */
  openCommands?: readonly WorkerCommand[];
}

function checkOpen(open: readonly WorkerCommand[]): Set<WorkerCommand> {
  for (const c of open) {
    if (c !== "ping" && !READ_ONLY_COMMANDS.includes(c)) {
      throw new RangeError(
        `Invalid openCommands: only ping, get_stats and get_logs may be open to every peer, got "${c}"`,
      );
    }
  }
  return new Set(open);
}

/**
 * The default policy: commands are obeyed only from peers whose proven
 * public key is trusted, except the open ones (`ping` by default).
 * Requests without a proven peer are refused.
 *
 * @param trust The trusted keys (a {@linkcode TrustStore}, or {@linkcode trustKeys}).
 * @param options Commands open to every peer.
 * @returns The authoriser.
 * @throws {RangeError} When `openCommands` holds a command that changes the worker.
 *
 * @example Only a trusted controller may start a miner
 * ```ts
 * import { allowTrustedControllers, newMessage, trustKeys } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
 * const policy = allowTrustedControllers(trustKeys([key]));
 * const message = newMessage("start_miner", { from: "a", payload: { minerType: "xmrig" } });
 * assert.equal(policy({ peer: { id: "a", publicKey: key }, command: "start_miner", message }), true);
 * assert.equal(policy({ peer: { id: "b", publicKey: "other" }, command: "start_miner", message }), false);
 * assert.equal(policy({ peer: { id: "b", publicKey: "other" }, command: "ping", message }), true);
 * ```
 */
export function allowTrustedControllers(
  trust: ControllerTrust,
  options: TrustedControllersOptions = {},
): CommandAuthorizer {
  const open = checkOpen(options.openCommands ?? ["ping"]);
  return (req) => {
    if (open.has(req.command)) return true;
    const key = req.peer?.publicKey;
    return typeof key === "string" && key !== "" && trust.isTrusted(key);
  };
}

/** The policy options a `Worker` (and a `Node`) takes. */
export interface CommandPolicyOptions {
  /**
   * A custom policy. When given, it alone decides (`trust`,
   * `openCommands` and `trustAnyController` are not used).
   */
  authorize?: CommandAuthorizer;
  /**
   * Obey every connected peer, as go-p2p does. Never the default: anyone
   * who can reach the port can then deploy and run programs.
   */
  trustAnyController?: boolean;
  /**
   * The trusted controllers: a {@linkcode ControllerTrust} (such as a
   * {@linkcode TrustStore}) or a list of public keys. Default: nobody.
   */
  trust?: ControllerTrust | Iterable<string>;
  /** Commands every peer may issue (default `["ping"]`). */
  openCommands?: readonly WorkerCommand[];
}

/** Which kind of policy {@linkcode resolveCommandPolicy} picked. */
export type CommandPolicyKind = "trusted" | "any" | "custom";

/**
 * Picks the policy for a worker's options: `authorize` if given, else
 * every peer with `trustAnyController`, else the trusted controllers.
 *
 * @param options The options.
 * @returns The authoriser and which kind it is.
 * @throws {RangeError} For an invalid `openCommands`.
 * @throws {TypeError} For a `trust` that is one string.
 *
 * @example The default trusts nobody but answers pings
 * ```ts
 * import { newMessage, resolveCommandPolicy } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const { kind, authorize } = resolveCommandPolicy({});
 * assert.equal(kind, "trusted");
 * const message = newMessage("get_stats", { from: "a" });
 * assert.equal(await authorize({ peer: { id: "a", publicKey: "k" }, command: "get_stats", message }), false);
 * ```
 */
export function resolveCommandPolicy(
  options: CommandPolicyOptions,
): { kind: CommandPolicyKind; authorize: CommandAuthorizer } {
  if (options.authorize) {
    return { kind: "custom", authorize: options.authorize };
  }
  if (options.trustAnyController) {
    return { kind: "any", authorize: allowAnyPeer };
  }
  const t = options.trust;
  const trust: ControllerTrust = t === undefined
    ? { isTrusted: () => false }
    : typeof (t as ControllerTrust).isTrusted === "function"
    ? t as ControllerTrust
    : trustKeys(t as Iterable<string>);
  const opts: TrustedControllersOptions = {};
  if (options.openCommands) opts.openCommands = options.openCommands;
  return { kind: "trusted", authorize: allowTrustedControllers(trust, opts) };
}
