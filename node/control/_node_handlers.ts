/**
 * A node's control API handlers: one per method of the control contract
 * ({@linkcode ControlMethods}), over the node's public operations, and the
 * one translation of the node's failures into control API errors.
 *
 * @module
 */

import { decodeBundle } from "../bundle.ts";
import { ControllerError } from "../controller.ts";
import { ControlApiError } from "../control_api.ts";
import { ErrorCode, ProtocolError } from "../message.ts";
import type { Node, NodeDeployRequest } from "../node.ts";
import type { Peer } from "../peer.ts";
import { TrustError } from "../registry/errors.ts";
import { TransportError } from "../transport/errors.ts";
import type {
  ControlCallContext,
  ControlHandlerTable,
  ListedController,
  PeerView,
} from "./methods.ts";

/** What the handlers need from a node beyond its public surface. */
export interface NodeControlInternals {
  /** A registry peer as `peers list` shows it. */
  peerView(peer: Peer): PeerView;
  /** The trusted controllers, with their registered names. */
  trustedList(): ListedController[];
  /** Stops the node after this answer is on its way. */
  requestStop(by: string): { pid: number; name: string };
  /** Runs a request to peers and records its latency under `op`. */
  timed<T>(op: string, f: () => Promise<T>): Promise<T>;
}

/**
 * The handler table of a node.
 *
 * @param node The node.
 * @param internals Its private helpers.
 * @returns A handler for every control method.
 */
export function nodeHandlers(
  node: Node,
  internals: NodeControlInternals,
): ControlHandlerTable {
  const table = handlers(node, internals);
  // Every handler's failures go through the one translation.
  for (const m of Object.keys(table) as (keyof ControlHandlerTable)[]) {
    const run = table[m] as (p: unknown, c: ControlCallContext) => unknown;
    (table as Record<string, unknown>)[m] = async (
      p: unknown,
      c: ControlCallContext,
    ) => {
      try {
        return await run(p, c);
      } catch (err) {
        throw toControlError(err);
      }
    };
  }
  return table;
}

function handlers(
  node: Node,
  internals: NodeControlInternals,
): ControlHandlerTable {
  const { peerView, timed } = internals;
  return {
    "node.stop": () => internals.requestStop("control API"),
    "peers.list": () => node.registry.listPeers().map(peerView),
    "peers.dial": async (p) => {
      const peer = node.resolvePeer(p.peer);
      if (p.enabled !== undefined) {
        await node.settings.setDial(peer.id, p.enabled);
        node.dialler?.refresh(peer.id);
      }
      return peerView(node.registry.getPeer(peer.id)!);
    },
    "peers.add": (p) => node.addPeer(p),
    "peers.remove": (p) => node.removePeer(p.peer),
    "peers.allow": async (p) => {
      await node.registry.allowPublicKey(p.publicKey);
      return { allowed: node.registry.listAllowedPublicKeys() };
    },
    "peers.revoke": async (p) => {
      if (!node.registry.isPublicKeyAllowed(p.publicKey)) {
        throw new ControlApiError(
          "not_found",
          "That public key is not in the allowlist",
        );
      }
      await node.registry.revokePublicKey(p.publicKey);
      return { allowed: node.registry.listAllowedPublicKeys() };
    },
    "peers.mode": async (p) => {
      if (p.mode !== undefined) {
        node.registry.setAuthMode(p.mode);
        await node.settings.setAuthMode(p.mode);
      }
      return {
        mode: node.registry.getAuthMode(),
        allowed: node.registry.listAllowedPublicKeys(),
      };
    },
    "peers.trust": async (p) => {
      const r = await node.trust.trust(
        p.publicKey,
        p.name ? { name: p.name } : {},
      );
      return {
        ...r,
        trusted: node.trust.list(),
        policy: node.commandStatus().policy,
      };
    },
    "peers.distrust": async (p) => {
      const r = await node.trust.distrust(p.publicKey);
      return { ...r, trusted: node.trust.list() };
    },
    "peers.trusted": () => internals.trustedList(),
    "peers.best": (p) => {
      const n = p.count ?? 1;
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError('"count" must be a positive integer');
      }
      return node.registry.selectNearestPeers(n);
    },
    ping: async (p) => {
      const peer = node.resolvePeer(p.peer);
      const rttMs = await node.ping(peer.id);
      return { peerId: peer.id, name: peer.name, rttMs };
    },
    stats: (p) => p.peer !== undefined ? node.stats(p.peer) : node.fleetStats(),
    "miner.start": async (p, { signal }) => {
      const id = node.resolvePeer(p.peer).id;
      const opts: Parameters<Node["controller"]["startRemoteMiner"]>[1] = {
        minerType: p.minerType,
        signal,
      };
      if (p.profileId) opts.profileId = p.profileId;
      if (p.config !== undefined) opts.config = p.config;
      const minerName = await timed(
        "start_miner",
        () => node.controller.startRemoteMiner(id, opts),
      );
      return { minerName };
    },
    "miner.stop": async (p, { signal }) => {
      const id = node.resolvePeer(p.peer).id;
      await timed(
        "stop_miner",
        () => node.controller.stopRemoteMiner(id, p.minerName, { signal }),
      );
      return { minerName: p.minerName, stopped: true };
    },
    logs: async (p, { signal }) => {
      const id = node.resolvePeer(p.peer).id;
      const opts: Parameters<Node["controller"]["getRemoteLogs"]>[1] = {
        minerName: p.minerName,
        lines: p.lines ?? 100,
        signal,
      };
      if (p.since !== undefined) opts.since = p.since;
      const lines = await timed(
        "get_logs",
        () => node.controller.getRemoteLogs(id, opts),
      );
      return { lines: lines ?? [] };
    },
    deploy: async (p, { progress, signal }) => {
      const req: NodeDeployRequest = { kind: p.kind };
      if (p.name) req.name = p.name;
      if (p.profile !== undefined) req.profile = p.profile;
      if (p.miner !== undefined) {
        req.miner = {
          fileName: p.miner.fileName,
          data: fromBase64(p.miner.data),
        };
      }
      if (p.bundle !== undefined) req.bundle = decodeBundle(p.bundle);
      if (p.peerMaxMessageSize !== undefined) {
        req.peerMaxMessageSize = p.peerMaxMessageSize;
      }
      return await node.deploy(p.peer, req, progress, signal);
    },
  };
}

function isTimeout(err: unknown): boolean {
  return (err instanceof ControllerError && err.code === "timeout") ||
    (err instanceof TransportError && err.code === "timeout");
}

/**
 * The one translation of a node's failures into control API errors (the
 * server answers `TypeError` and `RangeError` as `bad_request`, anything
 * else as `failed`).
 *
 * @param err What an operation threw.
 * @returns A {@linkcode ControlApiError}, or `err` unchanged.
 */
export function toControlError(err: unknown): unknown {
  if (err instanceof ControlApiError) return err;
  if (err instanceof TrustError) {
    const code = err.code === "not_trusted"
      ? "not_found"
      : err.code === "invalid_key" || err.code === "invalid_code" ||
          err.code === "pinned"
      ? "bad_request"
      : "failed";
    return new ControlApiError(code, err.message, { cause: err });
  }
  if (
    err instanceof ProtocolError && err.remoteCode === ErrorCode.Unauthorized
  ) {
    return new ControlApiError("refused", err.message, { cause: err });
  }
  if (isTimeout(err)) {
    return new ControlApiError("timeout", (err as Error).message, {
      cause: err,
    });
  }
  if (err instanceof ControllerError && err.code === "peer_not_found") {
    return new ControlApiError("not_found", err.message, { cause: err });
  }
  if (err instanceof TransportError && err.code === "self_connection") {
    return new ControlApiError("bad_request", err.message, { cause: err });
  }
  return err;
}

function fromBase64(s: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw new TypeError('"miner.data" is not valid base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
