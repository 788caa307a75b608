/**
 * The typed control contract: every operation of a node's control API
 * (`POST /api/<method>`), its parameters and its result, in one map
 * ({@linkcode ControlMethods}). The node's handler table, the control
 * client's typed {@linkcode ControlClient.call} and the CLI all use it;
 * {@linkcode parseControlParams} checks a request body against it before a
 * handler runs.
 *
 * @module
 */

import type { JsonValue, StatsPayload } from "../message.ts";
import type { AuthMode, Peer } from "../peer.ts";
import type { CommandPolicyKind } from "../ops/command_policy.ts";
import type { TrustChange, TrustedController } from "../registry/trust.ts";

/** One progress event of a long operation, streamed to the client. */
export interface ControlProgress {
  /** What the node is doing, e.g. `"bundling"`, `"sending"`, `"waiting"`. */
  stage: string;
  /** Bytes handled so far, when meaningful. */
  bytes?: number;
  /** Total bytes, when known. */
  total?: number;
}

/** A peer as `peers list` reports it: the registry record and its connection. */
export interface PeerView extends Peer {
  /** Whether the node keeps it connected (`false`: marked not to be dialled). */
  dial: boolean;
  /**
   * `connected`, `dialling`, `waiting` (`nextAttemptAt`), `disabled`,
   * `gave_up`, `no_address` (it dials us), `stopped` or `not_dialled`
   * (the node does not keep peers connected).
   */
  state: string;
  /** While connected: whether it answers (see `PeerConnection.healthy`). */
  healthy?: boolean;
  /** Last dial error, while not connected. */
  lastError?: string;
  /** When the next dial is due (RFC 3339), in `waiting`. */
  nextAttemptAt?: string;
}

/** What {@linkcode Node.fleetStats} reports (the control API's `stats` without a peer). */
export interface FleetReport {
  /** Stats by peer ID, of the workers that answered. */
  stats: Record<string, StatsPayload>;
  /** Connected workers that gave no stats, and why. */
  missing: {
    peerId: string;
    name: string;
    reason: string;
    error: string;
    /** When it was last heard from (RFC 3339). */
    lastSeen: string;
  }[];
  /** Registered workers with an address that are not connected. */
  notConnected: {
    peerId: string;
    name: string;
    address: string;
    /** Dial state (see {@linkcode PeerView.state}). */
    state: string;
    /** Last dial error, if any. */
    lastError?: string;
    /** When it was last seen (RFC 3339; the zero time for never). */
    lastSeen: string;
  }[];
}

/** A trusted controller as `peers.trusted` lists it. */
export interface ListedController extends TrustedController {
  /** The name of the registered peer with that ID, when there is one. */
  peer?: string;
}

/** The parameters of the `deploy` method. */
export interface ControlDeployParams {
  /** The worker: node ID, unique ID prefix or name. */
  peer: string;
  /** What to send. */
  kind: "profile" | "miner" | "bundle";
  /** Bundle name (profile ID, or the miner type for miner bundles). */
  name?: string;
  /** Profile JSON text (`profile`, optional for `miner`). */
  profile?: string;
  /** Miner executable: file name and its bytes in base64 (`miner`). */
  miner?: { fileName: string; data: string };
  /** A ready bundle (`bundle`): its JSON text. */
  bundle?: string;
  /** The receiver's frame limit, when the connection's is not wanted. */
  peerMaxMessageSize?: number;
}

/** No parameters. */
export type NoParams = Record<string, never>;

/**
 * Every control API method: its parameters (the JSON request body) and its
 * result (the `result` of the JSON answer). `<peer>` parameters take a node
 * ID, a unique ID prefix (4+ characters) or a peer name.
 */
export interface ControlMethods {
  /** Asks the node to stop gracefully. */
  "node.stop": { params: NoParams; result: { pid: number; name: string } };
  /** The registry's peers and their connections. */
  "peers.list": { params: NoParams; result: PeerView[] };
  /** Keeps a peer connected (`enabled`, default) or not; shows it. */
  "peers.dial": {
    params: { peer: string; enabled?: boolean };
    result: PeerView;
  };
  /** Connects to an address, learns who answers and registers it. */
  "peers.add": {
    params: { address: string; id?: string; publicKey?: string; name?: string };
    result: Peer;
  };
  /** Forgets a peer and closes its connection. */
  "peers.remove": { params: { peer: string }; result: Peer };
  /** Adds a public key to the allowlist. */
  "peers.allow": {
    params: { publicKey: string };
    result: { allowed: string[] };
  };
  /** Removes a public key from the allowlist. */
  "peers.revoke": {
    params: { publicKey: string };
    result: { allowed: string[] };
  };
  /** Shows or sets who may connect. */
  "peers.mode": {
    params: { mode?: AuthMode };
    result: { mode: AuthMode; allowed: string[] };
  };
  /** Trusts a controller (public key or pairing code). */
  "peers.trust": {
    params: { publicKey: string; name?: string };
    result: TrustChange & {
      trusted: TrustedController[];
      policy: CommandPolicyKind | "none";
    };
  };
  /** Stops trusting a controller (key, code, ID or name). */
  "peers.distrust": {
    params: { publicKey: string };
    result: TrustChange & { trusted: TrustedController[] };
  };
  /** The trusted controllers. */
  "peers.trusted": { params: NoParams; result: ListedController[] };
  /** The best peers by latency, hops, distance and score. */
  "peers.best": { params: { count?: number }; result: Peer[] };
  /** The round trip to a peer. */
  ping: {
    params: { peer: string };
    result: { peerId: string; name: string; rttMs: number };
  };
  /** A worker's stats, or (without `peer`) the fleet's. */
  stats: { params: { peer?: string }; result: StatsPayload | FleetReport };
  /** Starts a miner on a worker. */
  "miner.start": {
    params: {
      peer: string;
      minerType: string;
      profileId?: string;
      config?: JsonValue;
    };
    result: { minerName: string };
  };
  /** Stops a miner on a worker. */
  "miner.stop": {
    params: { peer: string; minerName: string };
    result: { minerName: string; stopped: true };
  };
  /** A miner's console lines from a worker. */
  logs: {
    params: { peer: string; minerName: string; lines?: number; since?: number };
    result: { lines: string[] };
  };
  /** Deploys a profile, a miner or a ready bundle to a worker. */
  deploy: {
    params: ControlDeployParams;
    result: { success: boolean; name: string; bytes: number };
  };
}

/** A control API method name. */
export type ControlMethod = keyof ControlMethods;

/** The parameters of a method. */
export type ControlParams<M extends ControlMethod> =
  ControlMethods[M]["params"];

/** The result of a method. */
export type ControlResult<M extends ControlMethod> =
  ControlMethods[M]["result"];

/** What a handler gets besides its parameters. */
export interface ControlCallContext {
  /** Reports progress to clients that asked for it. */
  progress: (event: ControlProgress) => void;
  /** Fires when the client goes away or the server stops. */
  signal: AbortSignal;
}

/** Runs one method. */
export type ControlHandler<M extends ControlMethod> = (
  params: ControlParams<M>,
  context: ControlCallContext,
) => Promise<ControlResult<M>> | ControlResult<M>;

/** A handler for every method (what a node serves). */
export type ControlHandlerTable = { [M in ControlMethod]: ControlHandler<M> };

/**
 * How a parameter is checked: a required non-empty string, an optional
 * string (`""` counts as absent), an optional finite number, an optional
 * boolean, any JSON value, or the `deploy` miner object.
 */
type ParamKind =
  | "string"
  | "string?"
  | "number?"
  | "boolean?"
  | "json?"
  | "miner?";

/** Each method's parameters, in the order they are checked. */
const PARAMS: { [M in ControlMethod]: Readonly<Record<string, ParamKind>> } = {
  "node.stop": {},
  "peers.list": {},
  "peers.dial": { peer: "string", enabled: "boolean?" },
  "peers.add": {
    address: "string",
    id: "string?",
    publicKey: "string?",
    name: "string?",
  },
  "peers.remove": { peer: "string" },
  "peers.allow": { publicKey: "string" },
  "peers.revoke": { publicKey: "string" },
  "peers.mode": { mode: "string?" },
  "peers.trust": { publicKey: "string", name: "string?" },
  "peers.distrust": { publicKey: "string" },
  "peers.trusted": {},
  "peers.best": { count: "number?" },
  ping: { peer: "string" },
  stats: { peer: "string?" },
  "miner.start": {
    peer: "string",
    minerType: "string",
    profileId: "string?",
    config: "json?",
  },
  "miner.stop": { peer: "string", minerName: "string" },
  logs: {
    peer: "string",
    minerName: "string",
    lines: "number?",
    since: "number?",
  },
  deploy: {
    kind: "string",
    name: "string?",
    profile: "string?",
    miner: "miner?",
    bundle: "string?",
    peerMaxMessageSize: "number?",
    peer: "string",
  },
};

/** Every control API method, in the order of {@linkcode ControlMethods}. */
export const CONTROL_METHODS: readonly ControlMethod[] = Object.freeze(
  Object.keys(PARAMS) as ControlMethod[],
);

/**
 * Tells whether a name is a control API method.
 *
 * @param name The name (the path after `/api/`).
 * @returns `true` for a method of {@linkcode ControlMethods}.
 *
 * @example Known and unknown names
 * ```ts
 * import { isControlMethod } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isControlMethod("peers.list"), true);
 * assert.equal(isControlMethod("toString"), false);
 * ```
 */
export function isControlMethod(name: string): name is ControlMethod {
  return Object.hasOwn(PARAMS, name);
}

/**
 * Checks a request body against a method's parameters: an object (`null`
 * means no parameters), required strings present and non-empty, every
 * given field of its type. Unknown fields are dropped; an empty optional
 * string counts as absent.
 *
 * @param method The method.
 * @param body The parsed JSON body.
 * @returns The parameters.
 * @throws {TypeError} Naming the first field that is missing or of the
 * wrong type (the control API answers `bad_request`).
 *
 * @example Checking a ping
 * ```ts
 * import { parseControlParams } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseControlParams("ping", { peer: "w1", x: 1 }), { peer: "w1" });
 * assert.throws(() => parseControlParams("ping", {}), TypeError);
 * ```
 */
export function parseControlParams<M extends ControlMethod>(
  method: M,
  body: unknown,
): ControlParams<M> {
  const b = body ?? {};
  if (typeof b !== "object" || Array.isArray(b)) {
    throw new TypeError("The request body must be a JSON object");
  }
  const src = b as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(PARAMS[method])) {
    const v = src[key];
    switch (kind) {
      case "string":
      case "string?":
        if (v === undefined || v === null || v === "") {
          if (kind === "string") throw new TypeError(`Missing "${key}"`);
          break;
        }
        if (typeof v !== "string") {
          throw new TypeError(`"${key}" must be a string`);
        }
        out[key] = v;
        break;
      case "number?":
        if (v === undefined || v === null) break;
        if (typeof v !== "number" || !Number.isFinite(v)) {
          throw new TypeError(`"${key}" must be a number`);
        }
        out[key] = v;
        break;
      case "boolean?":
        if (v === undefined) break;
        if (typeof v !== "boolean") {
          throw new TypeError(`"${key}" must be a boolean`);
        }
        out[key] = v;
        break;
      case "json?":
        if (v !== undefined) out[key] = v;
        break;
      case "miner?": {
        if (v === undefined) break;
        const m = v as { fileName?: unknown; data?: unknown } | null;
        if (typeof m?.fileName !== "string" || typeof m.data !== "string") {
          throw new TypeError('"miner" must be {fileName, data (base64)}');
        }
        out[key] = { fileName: m.fileName, data: m.data };
        break;
      }
    }
  }
  return out as ControlParams<M>;
}
