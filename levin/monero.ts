/**
 * Monero's P2P payloads for the handshake (1001), timed sync (1002), ping
 * (1003) and support flags (1007), and {@linkcode MoneroPeer}, a small helper
 * that speaks them over a {@linkcode LevinConnection}.
 *
 * This is the per-network layer: Lethean (Zano lineage) uses the same header
 * and storage but other payload shapes (spec §7.1).
 *
 * Optional fields (`rpcPort`, `rpcCreditsPerHash`, `supportFlags`,
 * `topVersion`, `pruningSeed`, `lastSeen`, …) are written only when set, and
 * decode as `undefined` when absent, so a decoded payload re-encodes to the
 * same bytes. Integer fields are read leniently (any integer type whose value
 * fits), as monerod does.
 *
 * Spec: `shared/spec/levin.md` §7.
 *
 * @module
 */

import { LevinError } from "./errors.ts";
import {
  COMMAND_HANDSHAKE,
  COMMAND_PING,
  COMMAND_REQUEST_SUPPORT_FLAGS,
  COMMAND_TIMED_SYNC,
} from "./header.ts";
import {
  convertInteger,
  decodeStorage,
  encodeStorage,
  expectArray,
  expectScalar,
  type IntegerType,
  type Section,
  type StorageValue,
} from "./storage.ts";
import {
  LevinConnection,
  type LevinConnectionOptions,
  type LevinConnectOptions,
  type LevinFrame,
  type LevinReply,
  type LevinRequestHandler,
} from "./connection.ts";
import { dialTcp } from "./_dial.ts";

/** Monero mainnet (and regtest) network id. */
export const MONERO_MAINNET_NETWORK_ID: Uint8Array<ArrayBuffer> =
  new Uint8Array([
    0x12,
    0x30,
    0xf1,
    0x71,
    0x61,
    0x04,
    0x41,
    0x61,
    0x17,
    0x31,
    0x00,
    0x82,
    0x16,
    0xa1,
    0xa1,
    0x10,
  ]);
/** Monero testnet network id. */
export const MONERO_TESTNET_NETWORK_ID: Uint8Array<ArrayBuffer> =
  new Uint8Array([
    0x12,
    0x30,
    0xf1,
    0x71,
    0x61,
    0x04,
    0x41,
    0x61,
    0x17,
    0x31,
    0x00,
    0x82,
    0x16,
    0xa1,
    0xa1,
    0x11,
  ]);
/** Monero stagenet network id. */
export const MONERO_STAGENET_NETWORK_ID: Uint8Array<ArrayBuffer> =
  new Uint8Array([
    0x12,
    0x30,
    0xf1,
    0x71,
    0x61,
    0x04,
    0x41,
    0x61,
    0x17,
    0x31,
    0x00,
    0x82,
    0x16,
    0xa1,
    0xa1,
    0x12,
  ]);
/** Hash of Monero's mainnet (and regtest) genesis block. */
export const MONERO_GENESIS_HASH: Uint8Array<ArrayBuffer> = Uint8Array.from(
  "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3".match(
    /../g,
  )!,
  (h) => parseInt(h, 16),
);

/** `basic_node_data` (`node_data`). */
export interface MoneroNodeData {
  /** Network magic (16 bytes), compared byte for byte. */
  networkId: Uint8Array;
  /** Random per-process peer id. */
  peerId: bigint;
  /** Listening port to ping back; 0 = none (always written). */
  myPort: number;
  /** RPC port (uint16), written when set. */
  rpcPort?: number;
  /** RPC credits per hash (uint32), written when set. */
  rpcCreditsPerHash?: number;
  /** Support flags (uint32; bit 0 = fluffy blocks), written when set. */
  supportFlags?: number;
}

/** `CORE_SYNC_DATA` (`payload_data`). */
export interface MoneroSyncData {
  /** Number of blocks (genesis only → 1). */
  currentHeight: bigint;
  /** Low 64 bits of the cumulative difficulty. */
  cumulativeDifficulty: bigint;
  /** High 64 bits of the cumulative difficulty (always written). */
  cumulativeDifficultyTop64: bigint;
  /** Hash of the top block (32 bytes). */
  topId: Uint8Array;
  /** Major version of the top block (uint8), written when set. */
  topVersion?: number;
  /** Pruning seed (uint32), written when set. */
  pruningSeed?: number;
}

/** A peer address in a peer list. */
export type MoneroPeerAddress =
  | { type: "ipv4"; ip: string; port: number }
  | { type: "ipv6"; addr: Uint8Array; port: number }
  | { type: "i2p" | "tor"; host: string; port: number }
  | { type: "other"; typeId: number; raw: Section };

/** One `peerlist_entry`. */
export interface MoneroPeerlistEntry {
  /** Where the peer is. */
  address: MoneroPeerAddress;
  /** Its peer id. */
  id: bigint;
  /** Last seen (unix seconds, int64), written when set. */
  lastSeen?: bigint;
  /** Pruning seed (uint32), written when set. */
  pruningSeed?: number;
  /** RPC port (uint16), written when set. */
  rpcPort?: number;
  /** RPC credits per hash (uint32), written when set. */
  rpcCreditsPerHash?: number;
}

/** The handshake payload (request: no peer list; response: with one when non-empty). */
export interface MoneroHandshake {
  /** The sender's node data. */
  nodeData: MoneroNodeData;
  /** The sender's chain state. */
  syncData: MoneroSyncData;
  /** `local_peerlist_new`; `undefined` = not present (Monero omits empty lists). */
  peerlist?: MoneroPeerlistEntry[];
}

/** The timed-sync payload (request: no peer list; response: optional peer list). */
export interface MoneroTimedSync {
  /** The sender's chain state. */
  syncData: MoneroSyncData;
  /** `local_peerlist_new`; `undefined` = not present. */
  peerlist?: MoneroPeerlistEntry[];
}

/** The ping response payload. */
export interface MoneroPing {
  /** `"OK"` from a live node. */
  status: string;
  /** The answering node's peer id. */
  peerId: bigint;
}

const text = new TextEncoder();
const untext = new TextDecoder();

function int<T extends IntegerType>(
  section: Section,
  name: string,
  type: T,
): ReturnType<typeof convertInteger<T>> {
  try {
    return convertInteger(section.get(name), type);
  } catch (e) {
    if (e instanceof LevinError) {
      throw new LevinError(
        e.code,
        `Cannot decode Monero payload: field ${name}: ${e.message}`,
        {
          cause: e,
        },
      );
    }
    throw e;
  }
}

function optInt<T extends IntegerType>(
  section: Section,
  name: string,
  type: T,
): ReturnType<typeof convertInteger<T>> | undefined {
  return section.has(name) ? int(section, name, type) : undefined;
}

function blob(section: Section, name: string): Uint8Array<ArrayBuffer> {
  try {
    return expectScalar(section.get(name), "string").slice();
  } catch (e) {
    throw new LevinError(
      "storage_type_mismatch",
      `Cannot decode Monero payload: field ${name}`,
      {
        cause: e,
      },
    );
  }
}

function object(section: Section, name: string): Section {
  try {
    return expectScalar(section.get(name), "object");
  } catch (e) {
    throw new LevinError(
      "storage_type_mismatch",
      `Cannot decode Monero payload: field ${name}`,
      {
        cause: e,
      },
    );
  }
}

function put(
  section: Section,
  name: string,
  value: StorageValue | undefined,
): void {
  if (value !== undefined) section.set(name, value);
}

function u(
  type: "uint8" | "uint16" | "uint32",
  v: number | undefined,
): StorageValue | undefined {
  return v === undefined ? undefined : { type, value: v };
}

function nodeDataSection(d: MoneroNodeData): Section {
  const s: Section = new Map();
  s.set("my_port", { type: "uint32", value: d.myPort });
  s.set("network_id", { type: "string", value: d.networkId });
  s.set("peer_id", { type: "uint64", value: d.peerId });
  put(s, "rpc_credits_per_hash", u("uint32", d.rpcCreditsPerHash));
  put(s, "rpc_port", u("uint16", d.rpcPort));
  put(s, "support_flags", u("uint32", d.supportFlags));
  return s;
}

function readNodeData(s: Section): MoneroNodeData {
  const out: MoneroNodeData = {
    networkId: blob(s, "network_id"),
    peerId: optInt(s, "peer_id", "uint64") ?? 0n,
    myPort: optInt(s, "my_port", "uint32") ?? 0,
  };
  const rpcPort = optInt(s, "rpc_port", "uint16");
  if (rpcPort !== undefined) out.rpcPort = rpcPort;
  const credits = optInt(s, "rpc_credits_per_hash", "uint32");
  if (credits !== undefined) out.rpcCreditsPerHash = credits;
  const flags = optInt(s, "support_flags", "uint32");
  if (flags !== undefined) out.supportFlags = flags;
  return out;
}

function syncDataSection(d: MoneroSyncData): Section {
  const s: Section = new Map();
  s.set("cumulative_difficulty", {
    type: "uint64",
    value: d.cumulativeDifficulty,
  });
  s.set("cumulative_difficulty_top64", {
    type: "uint64",
    value: d.cumulativeDifficultyTop64,
  });
  s.set("current_height", { type: "uint64", value: d.currentHeight });
  put(s, "pruning_seed", u("uint32", d.pruningSeed));
  s.set("top_id", { type: "string", value: d.topId });
  put(s, "top_version", u("uint8", d.topVersion));
  return s;
}

function readSyncData(s: Section): MoneroSyncData {
  const out: MoneroSyncData = {
    currentHeight: optInt(s, "current_height", "uint64") ?? 0n,
    cumulativeDifficulty: optInt(s, "cumulative_difficulty", "uint64") ?? 0n,
    cumulativeDifficultyTop64:
      optInt(s, "cumulative_difficulty_top64", "uint64") ?? 0n,
    topId: s.has("top_id") ? blob(s, "top_id") : new Uint8Array(32),
  };
  const v = optInt(s, "top_version", "uint8");
  if (v !== undefined) out.topVersion = v;
  const seed = optInt(s, "pruning_seed", "uint32");
  if (seed !== undefined) out.pruningSeed = seed;
  return out;
}

const ADDRESS_TYPES = { ipv4: 1, ipv6: 2, i2p: 3, tor: 4 } as const;

function ipv4ToUint32(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (
    parts.length !== 4 ||
    parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)
  ) {
    throw new RangeError(`Cannot encode peer address: bad IPv4 address ${ip}`);
  }
  // Little-endian bytes are the octets in order: 127.0.0.1 → 0x0100007f.
  return (parts[0]! | (parts[1]! << 8) | (parts[2]! << 16) |
    (parts[3]! << 24)) >>> 0;
}

function addressSection(a: MoneroPeerAddress): Section {
  const s: Section = new Map();
  if (a.type === "other") return new Map(a.raw);
  const addr: Section = new Map();
  switch (a.type) {
    case "ipv4":
      addr.set("m_ip", { type: "uint32", value: ipv4ToUint32(a.ip) });
      addr.set("m_port", { type: "uint16", value: a.port });
      break;
    case "ipv6":
      addr.set("addr", { type: "string", value: a.addr });
      addr.set("m_port", { type: "uint16", value: a.port });
      break;
    default:
      addr.set("host", { type: "string", value: text.encode(a.host) });
      addr.set("port", { type: "uint16", value: a.port });
  }
  s.set("addr", { type: "object", value: addr });
  s.set("type", { type: "uint8", value: ADDRESS_TYPES[a.type] });
  return s;
}

function readAddress(s: Section): MoneroPeerAddress {
  const typeId = int(s, "type", "uint8");
  if (typeId < 1 || typeId > 4) return { type: "other", typeId, raw: s };
  const addr = object(s, "addr");
  switch (typeId) {
    case 1: {
      const ip = int(addr, "m_ip", "uint32");
      return {
        type: "ipv4",
        ip: [ip & 255, (ip >>> 8) & 255, (ip >>> 16) & 255, ip >>> 24].join(
          ".",
        ),
        port: int(addr, "m_port", "uint16"),
      };
    }
    case 2:
      return {
        type: "ipv6",
        addr: blob(addr, "addr"),
        port: int(addr, "m_port", "uint16"),
      };
    default:
      return {
        type: typeId === 3 ? "i2p" : "tor",
        host: untext.decode(blob(addr, "host")),
        port: int(addr, "port", "uint16"),
      };
  }
}

function peerSection(p: MoneroPeerlistEntry): Section {
  const s: Section = new Map();
  s.set("adr", { type: "object", value: addressSection(p.address) });
  s.set("id", { type: "uint64", value: p.id });
  if (p.lastSeen !== undefined) {
    s.set("last_seen", { type: "int64", value: p.lastSeen });
  }
  put(s, "pruning_seed", u("uint32", p.pruningSeed));
  put(s, "rpc_credits_per_hash", u("uint32", p.rpcCreditsPerHash));
  put(s, "rpc_port", u("uint16", p.rpcPort));
  return s;
}

function readPeer(s: Section): MoneroPeerlistEntry {
  const out: MoneroPeerlistEntry = {
    address: readAddress(object(s, "adr")),
    id: optInt(s, "id", "uint64") ?? 0n,
  };
  const lastSeen = optInt(s, "last_seen", "int64");
  if (lastSeen !== undefined) out.lastSeen = lastSeen;
  const seed = optInt(s, "pruning_seed", "uint32");
  if (seed !== undefined) out.pruningSeed = seed;
  const rpcPort = optInt(s, "rpc_port", "uint16");
  if (rpcPort !== undefined) out.rpcPort = rpcPort;
  const credits = optInt(s, "rpc_credits_per_hash", "uint32");
  if (credits !== undefined) out.rpcCreditsPerHash = credits;
  return out;
}

function putPeerlist(
  root: Section,
  list: MoneroPeerlistEntry[] | undefined,
): void {
  if (list === undefined) return;
  root.set("local_peerlist_new", {
    type: "array",
    of: "object",
    value: list.map(peerSection),
  });
}

function readPeerlist(root: Section): MoneroPeerlistEntry[] | undefined {
  if (!root.has("local_peerlist_new")) return undefined;
  try {
    return expectArray(root.get("local_peerlist_new"), "object").map(readPeer);
  } catch (e) {
    if (e instanceof LevinError && e.code !== "storage_type_mismatch") throw e;
    throw new LevinError(
      "storage_type_mismatch",
      "Cannot decode Monero payload: field local_peerlist_new",
      {
        cause: e,
      },
    );
  }
}

/**
 * Encodes a handshake payload (1001 request or response).
 *
 * @param handshake Node data, sync data and, for a response, the peer list.
 * @returns The storage document.
 * @throws {TypeError} When a field has the wrong type.
 * @throws {RangeError} When a field is out of range.
 *
 * @example Round trip
 * ```ts
 * import {
 *   decodeMoneroHandshake, encodeMoneroHandshake, MONERO_GENESIS_HASH, MONERO_MAINNET_NETWORK_ID,
 * } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const hs = {
 *   nodeData: { networkId: MONERO_MAINNET_NETWORK_ID, peerId: 7n, myPort: 0, supportFlags: 1 },
 *   syncData: {
 *     currentHeight: 1n, cumulativeDifficulty: 1n, cumulativeDifficultyTop64: 0n,
 *     topId: MONERO_GENESIS_HASH, topVersion: 1,
 *   },
 * };
 * assert.deepEqual(decodeMoneroHandshake(encodeMoneroHandshake(hs)), hs);
 * ```
 */
export function encodeMoneroHandshake(
  handshake: MoneroHandshake,
): Uint8Array<ArrayBuffer> {
  const root: Section = new Map();
  root.set("node_data", {
    type: "object",
    value: nodeDataSection(handshake.nodeData),
  });
  root.set("payload_data", {
    type: "object",
    value: syncDataSection(handshake.syncData),
  });
  putPeerlist(root, handshake.peerlist);
  return encodeStorage(root);
}

/**
 * Decodes a handshake payload (1001 request or response). Missing optional
 * fields stay `undefined`; missing required ones take Monero's defaults,
 * except `node_data.network_id`, which must be present.
 *
 * @param payload The storage document.
 * @returns The handshake.
 * @throws {LevinError} Storage errors, `storage_type_mismatch` or
 *   `storage_value_out_of_range` for a field of the wrong shape.
 *
 * @example Decoding fails on a missing node_data
 * ```ts
 * import { decodeMoneroHandshake, encodeStorage, LevinError } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeMoneroHandshake(encodeStorage(new Map())), LevinError);
 * ```
 */
export function decodeMoneroHandshake(payload: Uint8Array): MoneroHandshake {
  const root = decodeStorage(payload);
  const out: MoneroHandshake = {
    nodeData: readNodeData(object(root, "node_data")),
    syncData: readSyncData(object(root, "payload_data")),
  };
  const peers = readPeerlist(root);
  if (peers !== undefined) out.peerlist = peers;
  return out;
}

/**
 * Encodes a timed-sync payload (1002 request or response).
 *
 * @param sync Sync data and, for a response, the peer list.
 * @returns The storage document.
 * @throws {TypeError} When a field has the wrong type.
 * @throws {RangeError} When a field is out of range.
 *
 * @example Round trip with an empty peer list
 * ```ts
 * import { decodeMoneroTimedSync, encodeMoneroTimedSync } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const ts = {
 *   syncData: {
 *     currentHeight: 1n, cumulativeDifficulty: 1n, cumulativeDifficultyTop64: 0n,
 *     topId: new Uint8Array(32),
 *   },
 *   peerlist: [],
 * };
 * assert.deepEqual(decodeMoneroTimedSync(encodeMoneroTimedSync(ts)), ts);
 * ```
 */
export function encodeMoneroTimedSync(
  sync: MoneroTimedSync,
): Uint8Array<ArrayBuffer> {
  const root: Section = new Map();
  root.set("payload_data", {
    type: "object",
    value: syncDataSection(sync.syncData),
  });
  putPeerlist(root, sync.peerlist);
  return encodeStorage(root);
}

/**
 * Decodes a timed-sync payload (1002 request or response).
 *
 * @param payload The storage document.
 * @returns The timed sync.
 * @throws {LevinError} Storage errors or a field of the wrong shape.
 *
 * @example A missing payload_data is an error
 * ```ts
 * import { decodeMoneroTimedSync, encodeStorage, LevinError } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeMoneroTimedSync(encodeStorage(new Map())), LevinError);
 * ```
 */
export function decodeMoneroTimedSync(payload: Uint8Array): MoneroTimedSync {
  const root = decodeStorage(payload);
  const out: MoneroTimedSync = {
    syncData: readSyncData(object(root, "payload_data")),
  };
  const peers = readPeerlist(root);
  if (peers !== undefined) out.peerlist = peers;
  return out;
}

/**
 * Encodes a ping response (`{peer_id, status}`).
 *
 * @param ping Status and peer id.
 * @returns The storage document.
 *
 * @example Round trip
 * ```ts
 * import { decodeMoneroPing, encodeMoneroPing } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeMoneroPing(encodeMoneroPing({ status: "OK", peerId: 5n })), { status: "OK", peerId: 5n });
 * ```
 */
export function encodeMoneroPing(ping: MoneroPing): Uint8Array<ArrayBuffer> {
  return encodeStorage(
    new Map<string, StorageValue>([
      ["peer_id", { type: "uint64", value: ping.peerId }],
      ["status", { type: "string", value: text.encode(ping.status) }],
    ]),
  );
}

/**
 * Decodes a ping response.
 *
 * @param payload The storage document.
 * @returns Status (default `""`) and peer id (default 0).
 * @throws {LevinError} Storage errors or a field of the wrong shape.
 *
 * @example An empty document decodes to the defaults
 * ```ts
 * import { decodeMoneroPing, encodeStorage } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeMoneroPing(encodeStorage(new Map())), { status: "", peerId: 0n });
 * ```
 */
export function decodeMoneroPing(payload: Uint8Array): MoneroPing {
  const root = decodeStorage(payload);
  return {
    status: root.has("status") ? untext.decode(blob(root, "status")) : "",
    peerId: optInt(root, "peer_id", "uint64") ?? 0n,
  };
}

/**
 * Encodes a support-flags response (`{support_flags}`).
 *
 * @param flags The flags (uint32).
 * @returns The storage document.
 * @throws {RangeError} When `flags` is not a uint32.
 *
 * @example The 29-byte payload of spec §3.7
 * ```ts
 * import { encodeMoneroSupportFlags } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.equal(encodeMoneroSupportFlags(1).length, 29);
 * ```
 */
export function encodeMoneroSupportFlags(
  flags: number,
): Uint8Array<ArrayBuffer> {
  return encodeStorage(
    new Map([["support_flags", { type: "uint32", value: flags }]]),
  );
}

/**
 * Decodes a support-flags response.
 *
 * @param payload The storage document.
 * @returns The flags (0 when absent).
 * @throws {LevinError} Storage errors or a field of the wrong shape.
 *
 * @example Round trip
 * ```ts
 * import { decodeMoneroSupportFlags, encodeMoneroSupportFlags } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeMoneroSupportFlags(encodeMoneroSupportFlags(1)), 1);
 * ```
 */
export function decodeMoneroSupportFlags(payload: Uint8Array): number {
  return optInt(decodeStorage(payload), "support_flags", "uint32") ?? 0;
}

/** Options for {@linkcode MoneroPeer}. */
export interface MoneroPeerOptions extends LevinConnectionOptions {
  /** Our node data (network id, peer id, port, flags). */
  nodeData: MoneroNodeData;
  /** Our chain state, read each time it is sent. */
  syncData: () => MoneroSyncData;
  /** The peer list we hand out in responses (default: none, omitted). */
  peerlist?: () => MoneroPeerlistEntry[] | undefined;
  /** Called with the remote chain state of every timed sync the peer sends us. */
  onTimedSync?: (remote: MoneroTimedSync) => void;
  /** Called with every handshake the peer sends us (after the network id matched). */
  onHandshake?: (remote: MoneroHandshake) => void;
  /** Handles requests other than 1001/1002/1003/1007 (default: −6). */
  onOtherRequest?: LevinRequestHandler;
  /** Deadline for our handshake request in milliseconds (default 10 000). */
  handshakeTimeout?: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A Monero-protocol peer over one Levin connection: sends handshake, ping,
 * timed sync and support-flags requests, and answers the same four requests
 * from the other side (the daemon's timed sync every minute, a daemon's
 * handshake when it dialled us) with return code 1. Other requests get −6,
 * notifications (e.g. 2010) are ignored unless `onNotification` is given.
 *
 * A handshake whose network id differs from ours is refused: we close the
 * connection without replying, as monerod does.
 *
 * @example Two peers over loopback
 * ```ts
 * import { MONERO_GENESIS_HASH, MONERO_MAINNET_NETWORK_ID, MoneroPeer } from "@lthn/p2p/levin";
 * import assert from "node:assert/strict";
 *
 * const sync = () => ({
 *   currentHeight: 1n, cumulativeDifficulty: 1n, cumulativeDifficultyTop64: 0n,
 *   topId: MONERO_GENESIS_HASH, topVersion: 1,
 * });
 * const node = (peerId: bigint) => ({
 *   nodeData: { networkId: MONERO_MAINNET_NETWORK_ID, peerId, myPort: 0, supportFlags: 1 },
 *   syncData: sync,
 * });
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept().then((conn) => new MoneroPeer(conn, node(2n)));
 * const client = await MoneroPeer.connect({ hostname: "127.0.0.1", port: listener.addr.port }, node(1n));
 * const server = await accepted;
 * server.start();
 * const reply = await client.handshake();
 * assert.equal(reply.nodeData.peerId, 2n);
 * assert.deepEqual(await client.ping(), { status: "OK", peerId: 2n });
 * await client.close();
 * await server.close();
 * listener.close();
 * ```
 */
export class MoneroPeer {
  #connection: LevinConnection;
  #options: MoneroPeerOptions;
  #remote: MoneroNodeData | undefined;

  /**
   * Wraps an open TCP connection (the dispatcher starts with the first
   * request we send, or with {@linkcode MoneroPeer.start}).
   *
   * @param conn The connection (owned from now on).
   * @param options Our node data, chain state and connection options.
   * @throws {RangeError} When a connection option is invalid.
   */
  constructor(conn: Deno.Conn, options: MoneroPeerOptions) {
    this.#options = options;
    this.#connection = new LevinConnection(conn, {
      ...options,
      onRequest: (frame, connection) => this.#answer(frame, connection),
    });
  }

  /**
   * Dials a peer.
   *
   * @param address Host and port.
   * @param options Our node data plus connect options.
   * @returns The peer (not handshaken yet).
   * @throws {LevinError} `timeout` or `aborted` while connecting.
   */
  static async connect(
    address: { hostname: string; port: number },
    options:
      & MoneroPeerOptions
      & Pick<LevinConnectOptions, "connectTimeout" | "signal">,
  ): Promise<MoneroPeer> {
    const timeout = options.connectTimeout ?? 5_000;
    if (!Number.isSafeInteger(timeout) || timeout <= 0) {
      throw new RangeError(
        `Cannot connect: connectTimeout must be a positive integer, got ${timeout}`,
      );
    }
    const conn = await dialTcp(address, { timeout, signal: options.signal });
    return new MoneroPeer(conn, options);
  }

  /** The underlying Levin connection. */
  get connection(): LevinConnection {
    return this.#connection;
  }

  /** The remote node data from the last handshake (either direction). */
  get remoteNodeData(): MoneroNodeData | undefined {
    return this.#remote;
  }

  /** Starts answering the peer's requests without sending one first. */
  start(): void {
    this.#connection.start();
  }

  #answer(
    frame: LevinFrame,
    connection: LevinConnection,
  ): LevinReply | undefined | Promise<LevinReply | undefined> {
    const o = this.#options;
    switch (frame.header.command) {
      case COMMAND_HANDSHAKE: {
        const hs = decodeMoneroHandshake(frame.payload);
        if (!sameBytes(hs.nodeData.networkId, o.nodeData.networkId)) {
          // monerod closes the socket without a reply.
          return connection.close().then(() => undefined);
        }
        this.#remote = hs.nodeData;
        o.onHandshake?.(hs);
        const peerlist = o.peerlist?.();
        return {
          payload: encodeMoneroHandshake({
            nodeData: o.nodeData,
            syncData: o.syncData(),
            ...(peerlist === undefined ? {} : { peerlist }),
          }),
        };
      }
      case COMMAND_TIMED_SYNC: {
        const ts = decodeMoneroTimedSync(frame.payload);
        o.onTimedSync?.(ts);
        const peerlist = o.peerlist?.();
        return {
          payload: encodeMoneroTimedSync({
            syncData: o.syncData(),
            ...(peerlist === undefined ? {} : { peerlist }),
          }),
        };
      }
      case COMMAND_PING:
        decodeStorage(frame.payload);
        return {
          payload: encodeMoneroPing({
            status: "OK",
            peerId: o.nodeData.peerId,
          }),
        };
      case COMMAND_REQUEST_SUPPORT_FLAGS:
        decodeStorage(frame.payload);
        return {
          payload: encodeMoneroSupportFlags(o.nodeData.supportFlags ?? 0),
        };
      default:
        return o.onOtherRequest?.(frame, connection);
    }
  }

  /**
   * Sends our handshake and returns the peer's. Fails when the peer's
   * network id differs from ours (the connection is then closed).
   *
   * @param options Abort signal.
   * @returns The peer's handshake.
   * @throws {LevinError} `connection_closed` (monerod closes the socket on a
   *   wrong network id), `timeout`, `request_failed`, `protocol_error` for a
   *   foreign network id, or decoding errors.
   */
  async handshake(
    options: { signal?: AbortSignal } = {},
  ): Promise<MoneroHandshake> {
    const o = this.#options;
    const frame = await this.#connection.invoke(
      COMMAND_HANDSHAKE,
      encodeMoneroHandshake({ nodeData: o.nodeData, syncData: o.syncData() }),
      {
        timeout: o.handshakeTimeout ?? 10_000,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    const hs = decodeMoneroHandshake(frame.payload);
    if (!sameBytes(hs.nodeData.networkId, o.nodeData.networkId)) {
      await this.#connection.close();
      throw new LevinError(
        "protocol_error",
        "Cannot complete handshake: the peer is on another network",
      );
    }
    this.#remote = hs.nodeData;
    return hs;
  }

  /**
   * Pings the peer (works before the handshake too).
   *
   * @param options Abort signal and deadline.
   * @returns The peer's status and peer id.
   * @throws {LevinError} As {@linkcode LevinConnection.invoke}.
   */
  async ping(
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<MoneroPing> {
    const frame = await this.#connection.invoke(
      COMMAND_PING,
      encodeStorage(new Map()),
      options,
    );
    return decodeMoneroPing(frame.payload);
  }

  /**
   * Reads the peer's support flags.
   *
   * @param options Abort signal and deadline.
   * @returns The flags.
   * @throws {LevinError} As {@linkcode LevinConnection.invoke}.
   */
  async requestSupportFlags(
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<number> {
    const frame = await this.#connection.invoke(
      COMMAND_REQUEST_SUPPORT_FLAGS,
      encodeStorage(new Map()),
      options,
    );
    return decodeMoneroSupportFlags(frame.payload);
  }

  /**
   * Sends our chain state and returns the peer's.
   *
   * @param options Abort signal and deadline.
   * @returns The peer's timed-sync response.
   * @throws {LevinError} As {@linkcode LevinConnection.invoke}.
   */
  async timedSync(
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<MoneroTimedSync> {
    const frame = await this.#connection.invoke(
      COMMAND_TIMED_SYNC,
      encodeMoneroTimedSync({ syncData: this.#options.syncData() }),
      options,
    );
    return decodeMoneroTimedSync(frame.payload);
  }

  /**
   * Closes the connection.
   *
   * @returns Resolves once closed.
   */
  close(): Promise<void> {
    return this.#connection.close();
  }
}
