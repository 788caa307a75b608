/**
 * {@linkcode Worker}: answers a controller's commands (node.md §6) —
 * `ping`, `get_stats`, `start_miner`, `stop_miner`, `get_logs` and
 * `deploy` — using a {@linkcode MinerManager} and a
 * {@linkcode ProfileManager}, with the Go reference's exact error replies.
 *
 * @module
 */

import { join } from "node:path";
import { getGlobalLogger, type Logger } from "../logging/mod.ts";
import { defaultPaths } from "./_paths.ts";
import {
  type AuthorizationRequest,
  type CommandAuthorizer,
  WORKER_COMMANDS,
  type WorkerCommand,
} from "./authorization.ts";
import type { CommandEvent, CommandOutcome } from "./ops/command_audit.ts";
import {
  type CommandPolicyOptions,
  resolveCommandPolicy,
} from "./ops/command_policy.ts";
import { CommandLog } from "./ops/_command_log.ts";
import { sanitizePeerName } from "./peer.ts";
import {
  type Bundle,
  checkBundleName,
  extractMinerBundle,
  extractProfileBundle,
} from "./bundle.ts";
import { TIM_DEFAULT_CONFIG } from "./borg/stim.ts";
import { secretToPassword } from "./identity.ts";
import type { NodeIdentity } from "./identity.ts";
import type { NodeManager } from "./identity_store.ts";
import {
  ErrorCode,
  type JsonValue,
  type Message,
  type MinerStatsItem,
  newErrorMessage,
  parsePayload,
  reply,
  type StatsPayload,
} from "./message.ts";
import type {
  MinerInstance,
  MinerManager,
  ProfileManager,
} from "./managers/miner_manager.ts";
import type { PeerConnection } from "./transport/connection.ts";
import { clip } from "./_text.ts";

/** Largest number of log lines one `get_logs` returns (Go: 10 000). */
export const MAX_LOG_LINES = 10_000;

/**
 * The peer a request came from, as the transport proved it (the name is
 * what it claimed in the handshake, used only in the audit log).
 */
export type RequestPeer =
  & Readonly<Pick<NodeIdentity, "id" | "publicKey">>
  & { readonly name?: string };

/** What {@linkcode Worker.register} needs from a transport. */
export interface WorkerMessageSource {
  /**
   * Adds a message handler.
   *
   * @param handler Called for every accepted message.
   * @returns Removes the handler.
   */
  onMessage(
    handler: (conn: PeerConnection, message: Message) => void | Promise<void>,
  ): () => void;
}

/**
 * Options of {@linkcode Worker}. Who may command it: `authorize` if given;
 * else every peer with `trustAnyController` (go-p2p's behaviour); else
 * (the default) only the controllers in `trust`, with `openCommands`
 * (default `ping`) open to every connected peer.
 */
export interface WorkerOptions extends CommandPolicyOptions {
  /** Runs miners; without one, miner commands fail as in Go. */
  minerManager?: MinerManager;
  /** Loads and stores profiles; without one, profile deploys fail as in Go. */
  profileManager?: ProfileManager;
  /**
   * The node data directory (default `<XDG data>/lethean-desktop`); miner
   * bundles are installed in `<dataDir>/miners/<name>`.
   */
  dataDir?: string;
  /**
   * Called for every command obeyed or refused (after it is logged), e.g.
   * to count them; exceptions are ignored.
   */
  onCommand?: (event: CommandEvent) => void;
  /** Logger (default: the global logger, component `node:worker`). */
  logger?: Logger;
  /** Clock in Unix milliseconds (default `Date.now`). */
  now?: () => number;
}

/** A handler failure whose text goes back in an `error` message. */
class HandlerError extends Error {
  readonly errorCode: number;
  constructor(message: string, errorCode: number = ErrorCode.OperationFailed) {
    super(message);
    this.errorCode = errorCode;
  }
}

function causeText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function intField(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v)
    ? Math.trunc(v)
    : undefined;
}

/**
 * Converts a miner's raw stats into a `stats` item, as Go's worker does
 * (node.md §6.8), except that integer fields are copied whenever they are
 * finite numbers (truncated), where Go drops values that came from JSON
 * (§13 item 33).
 *
 * @param instance The miner.
 * @param raw What its `getStats()` returned.
 * @returns The item; figures that are missing or mistyped are 0 or `""`.
 *
 * @example Converting a stats map
 * ```ts
 * import { convertMinerStats } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const miner = {
 *   getName: () => "m1",
 *   getType: () => "xmrig",
 *   getStats: () => ({}),
 *   getConsoleHistorySince: () => [],
 * };
 * assert.deepEqual(convertMinerStats(miner, { hashrate: 1234.5, shares: 10, pool: "p:1" }), {
 *   name: "m1", type: "xmrig", hashrate: 1234.5, shares: 10, rejected: 0, uptime: 0,
 *   pool: "p:1", algorithm: "",
 * });
 * assert.equal(convertMinerStats(miner, "not a map").hashrate, 0);
 * ```
 */
export function convertMinerStats(
  instance: MinerInstance,
  raw: unknown,
): MinerStatsItem {
  const item: MinerStatsItem = {
    name: instance.getName(),
    type: instance.getType(),
    hashrate: 0,
    shares: 0,
    rejected: 0,
    uptime: 0,
    pool: "",
    algorithm: "",
  };
  if (!isObject(raw)) return item;
  if (typeof raw.hashrate === "number" && Number.isFinite(raw.hashrate)) {
    item.hashrate = raw.hashrate;
  }
  item.shares = intField(raw.shares) ?? 0;
  item.rejected = intField(raw.rejected) ?? 0;
  item.uptime = intField(raw.uptime) ?? 0;
  if (typeof raw.pool === "string") item.pool = raw.pool;
  if (typeof raw.algorithm === "string") item.algorithm = raw.algorithm;
  return item;
}

const EXEC_MAGICS: readonly number[][] = [
  [0x7f, 0x45, 0x4c, 0x46], // ELF
  [0xfe, 0xed, 0xfa, 0xce], // Mach-O 32
  [0xfe, 0xed, 0xfa, 0xcf], // Mach-O 64
  [0xce, 0xfa, 0xed, 0xfe], // Mach-O 32, little-endian
  [0xcf, 0xfa, 0xed, 0xfe], // Mach-O 64, little-endian
  [0xca, 0xfe, 0xba, 0xbe], // Mach-O universal
  [0x4d, 0x5a], // PE ("MZ")
  [0x23, 0x21], // script ("#!")
];

async function looksExecutable(path: string): Promise<boolean> {
  const f = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(4);
    let n = 0;
    while (n < 4) {
      const r = await f.read(head.subarray(n));
      if (r === null) break;
      n += r;
    }
    return EXEC_MAGICS.some((m) =>
      m.length <= n && m.every((b, i) => head[i] === b)
    );
  } finally {
    f.close();
  }
}

/**
 * Restores the execute bits a bundle lost (Borg's DataNode stores every file
 * with mode 0600, node.md §13 item 34): every regular file that starts with
 * an ELF, Mach-O or PE header or a `#!` line gets `u+x,g+x,o+x` masked to
 * its read bits. Walks at most 10 000 entries.
 *
 * @returns The first such file in sorted path order, or `""`.
 */
async function restoreExecutableBits(dir: string): Promise<string> {
  if (Deno.build.os === "windows") return "";
  let first = "";
  let budget = 10_000;
  const walk = async (d: string): Promise<void> => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(d)) {
      if (--budget < 0) return;
      entries.push(e);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile && await looksExecutable(p)) {
        const mode = (await Deno.lstat(p)).mode ?? 0o600;
        const read = mode & 0o444;
        await Deno.chmod(p, (mode & 0o777) | (read >> 2));
        if (first === "") first = p;
      }
    }
  };
  await walk(dir);
  return first;
}

/** Borg's default TIM config: what a miner bundle without a profile carries. */
function isDefaultTimConfig(config: Uint8Array): boolean {
  return new TextDecoder().decode(config).trim() === TIM_DEFAULT_CONFIG;
}

/**
 * Answers controller commands. Create one per node, give it managers, and
 * {@linkcode Worker.register} it with the transport; replies go back on the
 * connection the request came in on.
 *
 * Differences from the Go reference (none visible to a trusted Go
 * controller in normal operation): by default only trusted controllers
 * (`trust`) may deploy, start and stop miners and read stats and logs,
 * while any connected peer may ping (`trustAnyController` gives Go's
 * behaviour, `authorize` a custom policy); refusals are `error` messages
 * with code 1002, and every command obeyed or refused is logged with the
 * peer's ID and name (see `onCommand` for counting); replies carry this
 * node's ID in `from` (Go copies the request's `to`); a miner bundle's name must be a
 * safe single path component (`Worker.handleDeploy: invalid bundle name`),
 * it is extracted into a staging directory and moved into
 * `<dataDir>/miners/<name>` only when complete, and the execute bits of its
 * executables are restored; integer stats fields decoded from JSON are
 * kept; an `error` reply is sent even when the node has no identity (with
 * the request's `to` as sender).
 *
 * @example Answering a ping
 * ```ts
 * import { NodeManager, Worker, newMessage, parsePayload } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const node = NodeManager.fromPrivateKey(new Uint8Array(32).fill(7), { name: "w1", role: "worker" });
 * const worker = new Worker(node);
 * const ping = newMessage("ping", { from: "ctl", to: node.getIdentity()!.id, payload: { sentAt: 42 } });
 * const pong = await worker.handle(ping);
 * assert.equal(pong?.type, "pong");
 * assert.equal(pong?.replyTo, ping.id);
 * assert.equal(parsePayload(pong!, "pong").sentAt, 42);
 * ```
 *
 * @example Only trusted controllers are obeyed
 * ```ts
 * import { generateKeyPair, encodePublicKey, NodeManager, Worker, newMessage, parsePayload } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const node = NodeManager.fromPrivateKey(new Uint8Array(32).fill(7), { name: "w1", role: "worker" });
 * const trusted = { id: "c1", publicKey: encodePublicKey(generateKeyPair().publicKey) };
 * const stranger = { id: "s1", publicKey: encodePublicKey(generateKeyPair().publicKey) };
 * const worker = new Worker(node, { trust: [trusted.publicKey] });
 * const ask = newMessage("get_stats", { from: "x" });
 * assert.equal((await worker.handle(ask, trusted))?.type, "stats");
 * const refused = await worker.handle(ask, stranger);
 * assert.equal(refused?.type, "error");
 * assert.equal(parsePayload(refused!, "error").code, 1002);
 * ```
 */
export class Worker {
  readonly #node: NodeManager;
  #minerManager: MinerManager | undefined;
  #profileManager: ProfileManager | undefined;
  readonly #dataDir: string;
  readonly #authorize: CommandAuthorizer;
  readonly #audit: CommandLog;
  readonly #onCommand: ((event: CommandEvent) => void) | undefined;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #startTime: number;
  readonly #unsubscribers = new Set<() => void>();

  /**
   * Creates a worker; its uptime counts from now.
   *
   * @param node The node's identity.
   * @param options Managers, data directory, policy, logger and clock.
   */
  constructor(node: NodeManager, options: WorkerOptions = {}) {
    this.#node = node;
    this.#minerManager = options.minerManager;
    this.#profileManager = options.profileManager;
    this.#dataDir = options.dataDir ?? defaultPaths().dataDir;
    this.#authorize = resolveCommandPolicy(options).authorize;
    this.#log = options.logger ?? getGlobalLogger().child("node:worker");
    this.#now = options.now ?? Date.now;
    this.#audit = new CommandLog(this.#log, this.#now);
    this.#onCommand = options.onCommand;
    this.#startTime = this.#now();
  }

  /** The node identity the worker answers for. */
  get node(): NodeManager {
    return this.#node;
  }

  /** The miner manager, if any. */
  get minerManager(): MinerManager | undefined {
    return this.#minerManager;
  }

  /** The profile manager, if any. */
  get profileManager(): ProfileManager | undefined {
    return this.#profileManager;
  }

  /** The data directory (miner bundles go to `<dataDir>/miners/<name>`). */
  get dataDir(): string {
    return this.#dataDir;
  }

  /** When the worker was created (Unix ms). */
  get startTime(): number {
    return this.#startTime;
  }

  /**
   * Sets (or removes) the miner manager.
   *
   * @param manager The manager, or `undefined`.
   */
  setMinerManager(manager: MinerManager | undefined): void {
    this.#minerManager = manager;
  }

  /**
   * Sets (or removes) the profile manager.
   *
   * @param manager The manager, or `undefined`.
   */
  setProfileManager(manager: ProfileManager | undefined): void {
    this.#profileManager = manager;
  }

  /**
   * Starts answering the messages a transport delivers. Several handlers
   * can share one transport (a controller's, for a dual node).
   *
   * @param transport The transport.
   * @returns Stops answering.
   */
  register(transport: WorkerMessageSource): () => void {
    const off = transport.onMessage((conn, msg) =>
      this.handleMessage(conn, msg)
    );
    const unsubscribe = () => {
      if (this.#unsubscribers.delete(unsubscribe)) off();
    };
    this.#unsubscribers.add(unsubscribe);
    return unsubscribe;
  }

  /** Stops answering on every transport it was registered with. */
  close(): void {
    for (const off of [...this.#unsubscribers]) off();
  }

  /**
   * Handles one message from a connection and sends the reply, if any, on
   * that connection. Send failures are logged, never thrown.
   *
   * @param conn The connection the message came in on.
   * @param message The message.
   * @returns Resolves once the reply is sent (or dropped).
   */
  async handleMessage(conn: PeerConnection, message: Message): Promise<void> {
    const answer = await this.handle(message, conn.peer);
    if (!answer) return;
    try {
      await conn.send(answer);
    } catch (err) {
      this.#log.warn("failed to send reply", {
        type: answer.type,
        peer: conn.peerId,
        error: causeText(err),
      });
    }
  }

  /**
   * Handles one message and returns the reply: the command's answer, an
   * `error` message (code 1004 for handler failures, 1002 when the
   * authoriser refuses), or `undefined` for message types a worker ignores.
   *
   * @param message The request.
   * @param peer The proven sender (used for the deploy password and the
   * authoriser); `undefined` when driven directly.
   * @returns The reply, or `undefined`.
   */
  async handle(
    message: Message,
    peer?: RequestPeer,
  ): Promise<Message | undefined> {
    const command = message.type as WorkerCommand;
    if (!WORKER_COMMANDS.includes(command)) return undefined;
    let answer: Message;
    let outcome: CommandOutcome = "ok";
    let errorCode: number | undefined;
    let errorText: string | undefined;
    try {
      const request: AuthorizationRequest = { peer, command, message };
      let allowed: boolean;
      try {
        allowed = await this.#authorize(request);
      } catch {
        allowed = false;
      }
      if (!allowed) {
        throw new HandlerError(
          `Worker.authorize: peer ${
            peer?.id ?? "(unknown)"
          } is not authorized for ${command}`,
          ErrorCode.Unauthorized,
        );
      }
      answer = await this.#dispatch(command, message, peer);
      const p = answer.payload as { success?: unknown } | null;
      if (
        (answer.type === "miner_ack" || answer.type === "deploy_ack") &&
        p?.success === false
      ) {
        outcome = "failed";
        const e = (p as { error?: unknown }).error;
        if (typeof e === "string") errorText = e;
      }
    } catch (err) {
      errorCode = err instanceof HandlerError
        ? err.errorCode
        : ErrorCode.OperationFailed;
      // Peer-supplied names end up in these texts: keep them short.
      errorText = clip(causeText(err), 512);
      outcome = errorCode === ErrorCode.Unauthorized ? "refused" : "failed";
      answer = newErrorMessage({
        from: message.to,
        to: message.from,
        code: errorCode,
        message: errorText,
        replyTo: message.id,
      });
    }
    // Replies speak for this node, whatever `to` the request carried.
    const own = this.#node.getIdentity()?.id;
    if (own) answer.from = own;
    this.#record({
      peerId: peer?.id ?? "",
      peerName: sanitizePeerName(peer?.name ?? ""),
      command,
      outcome,
      ...(outcome !== "ok" && errorCode !== undefined ? { errorCode } : {}),
      ...(outcome === "failed" && errorText !== undefined
        ? { error: errorText.slice(0, 200) }
        : {}),
    });
    return answer;
  }

  #record(event: CommandEvent): void {
    this.#audit.write(event);
    try {
      this.#onCommand?.(event);
    } catch {
      // an observer's failure never changes the reply
    }
  }

  async #dispatch(
    command: WorkerCommand,
    message: Message,
    peer: RequestPeer | undefined,
  ): Promise<Message> {
    switch (command) {
      case "ping":
        return this.#handlePing(message);
      case "get_stats":
        return await this.#handleGetStats(message);
      case "start_miner":
        return await this.#handleStartMiner(message);
      case "stop_miner":
        return await this.#handleStopMiner(message);
      case "get_logs":
        return await this.#handleGetLogs(message);
      case "deploy":
        return await this.#handleDeploy(message, peer);
    }
  }

  #parse<
    T extends "ping" | "start_miner" | "stop_miner" | "get_logs" | "deploy",
  >(
    message: Message,
    type: T,
    prefix: string,
  ): ReturnType<typeof parsePayload<T>> {
    try {
      return parsePayload(message, type);
    } catch (err) {
      throw new HandlerError(`${prefix}: ${causeText(err)}`);
    }
  }

  #requireMiners(): MinerManager {
    if (!this.#minerManager) {
      throw new HandlerError("node: miner manager not configured");
    }
    return this.#minerManager;
  }

  #handlePing(message: Message): Message {
    const p = this.#parse(
      message,
      "ping",
      "Worker.handlePing: invalid ping payload",
    );
    return reply(message, "pong", {
      payload: { sentAt: p.sentAt, receivedAt: this.#now() },
    });
  }

  async #handleGetStats(message: Message): Promise<Message> {
    const identity = this.#node.getIdentity();
    if (!identity) {
      throw new HandlerError("node: node identity not initialized");
    }
    const stats: StatsPayload = {
      nodeId: identity.id,
      nodeName: identity.name,
      miners: [],
      uptime: Math.max(0, Math.floor((this.#now() - this.#startTime) / 1000)),
    };
    if (this.#minerManager) {
      for (const inst of await this.#minerManager.listMiners()) {
        let raw: unknown;
        try {
          raw = await inst.getStats();
        } catch {
          continue;
        }
        stats.miners.push(convertMinerStats(inst, raw));
      }
    }
    return reply(message, "stats", { payload: stats });
  }

  async #handleStartMiner(message: Message): Promise<Message> {
    const miners = this.#requireMiners();
    const p = this.#parse(
      message,
      "start_miner",
      "Worker.handleStartMiner: invalid start miner payload",
    );
    if (p.minerType === "") {
      throw new HandlerError("Worker.handleStartMiner: miner type is required");
    }
    let config: JsonValue;
    if (p.config !== undefined) config = p.config;
    else if (this.#profileManager) {
      try {
        config = await this.#profileManager.getProfile(p.profileId ?? "");
      } catch {
        throw new HandlerError(
          `Worker.handleStartMiner: profile not found: ${p.profileId ?? ""}`,
        );
      }
    } else {
      throw new HandlerError(
        "Worker.handleStartMiner: no config provided and no profile manager configured",
      );
    }
    try {
      const inst = await miners.startMiner(p.minerType, config);
      return reply(message, "miner_ack", {
        payload: { success: true, minerName: inst.getName() },
      });
    } catch (err) {
      return reply(message, "miner_ack", {
        payload: { success: false, error: causeText(err) },
      });
    }
  }

  async #handleStopMiner(message: Message): Promise<Message> {
    const miners = this.#requireMiners();
    const p = this.#parse(
      message,
      "stop_miner",
      "Worker.handleStopMiner: invalid stop miner payload",
    );
    try {
      await miners.stopMiner(p.minerName);
      return reply(message, "miner_ack", {
        payload: { success: true, minerName: p.minerName },
      });
    } catch (err) {
      return reply(message, "miner_ack", {
        payload: {
          success: false,
          minerName: p.minerName,
          error: causeText(err),
        },
      });
    }
  }

  async #handleGetLogs(message: Message): Promise<Message> {
    const miners = this.#requireMiners();
    const p = this.#parse(
      message,
      "get_logs",
      "Worker.handleGetLogs: invalid get logs payload",
    );
    const lines = p.lines <= 0 || p.lines > MAX_LOG_LINES
      ? MAX_LOG_LINES
      : p.lines;
    let inst: MinerInstance | undefined;
    try {
      inst = await miners.getMiner(p.minerName);
    } catch {
      inst = undefined;
    }
    if (!inst) {
      throw new HandlerError(
        `Worker.handleGetLogs: miner not found: ${p.minerName}`,
      );
    }
    const since = p.since !== undefined && p.since > 0
      ? new Date(p.since)
      : undefined;
    const out = await inst.getConsoleHistorySince(lines, since);
    const kept = out.length > lines ? out.slice(out.length - lines) : out;
    return reply(message, "logs", {
      payload: {
        minerName: p.minerName,
        lines: kept,
        hasMore: kept.length >= lines,
      },
    });
  }

  async #handleDeploy(
    message: Message,
    peer: RequestPeer | undefined,
  ): Promise<Message> {
    const p = this.#parse(
      message,
      "deploy",
      "Worker.handleDeploy: invalid deploy payload",
    );
    const bundle: Bundle = {
      type: p.type as Bundle["type"],
      name: p.name,
      data: p.data ?? new Uint8Array(0),
      checksum: p.checksum,
    };
    let password = "";
    if (peer?.publicKey && this.#node.getIdentity()) {
      const secret = this.#node.deriveSharedSecret(peer.publicKey);
      password = secretToPassword(secret);
      secret.fill(0);
    }
    switch (p.type) {
      case "profile":
        return await this.#deployProfile(message, bundle, password);
      case "miner":
      case "full":
        return await this.#deployMiner(message, bundle, password);
      default:
        throw new HandlerError(
          `Worker.handleDeploy: unknown bundle type: ${p.type}`,
        );
    }
  }

  async #deployProfile(
    message: Message,
    bundle: Bundle,
    password: string,
  ): Promise<Message> {
    const profiles = this.#profileManager;
    if (!profiles) {
      throw new HandlerError(
        "Worker.handleDeploy: profile manager not configured",
      );
    }
    let data: Uint8Array;
    try {
      data = await extractProfileBundle(bundle, password);
    } catch (err) {
      throw new HandlerError(
        `Worker.handleDeploy: failed to extract profile bundle: ${
          causeText(err)
        }`,
      );
    }
    let profile: JsonValue;
    try {
      profile = JSON.parse(
        new TextDecoder("utf-8", { fatal: true }).decode(data),
      );
    } catch (err) {
      throw new HandlerError(
        `Worker.handleDeploy: invalid profile data JSON: ${causeText(err)}`,
      );
    }
    try {
      await profiles.saveProfile(profile);
    } catch (err) {
      return reply(message, "deploy_ack", {
        payload: { success: false, name: bundle.name, error: causeText(err) },
      });
    }
    this.#log.info("profile deployed", { name: bundle.name });
    return reply(message, "deploy_ack", {
      payload: { success: true, name: bundle.name },
    });
  }

  async #deployMiner(
    message: Message,
    bundle: Bundle,
    password: string,
  ): Promise<Message> {
    try {
      checkBundleName(bundle.name);
    } catch {
      throw new HandlerError(
        `Worker.handleDeploy: invalid bundle name: ${
          JSON.stringify(bundle.name).slice(0, 80)
        }`,
      );
    }
    const minersDir = join(this.#dataDir, "miners");
    const target = join(minersDir, bundle.name);
    await Deno.mkdir(minersDir, { recursive: true, mode: 0o755 });
    const staging = await Deno.makeTempDir({
      dir: minersDir,
      prefix: `.${bundle.name}.deploy-`,
    });
    let config: Uint8Array;
    let minerPath: string;
    try {
      try {
        const r = await extractMinerBundle(bundle, password, staging);
        config = r.config;
        minerPath = r.minerPath;
      } catch (err) {
        throw new HandlerError(
          `Worker.handleDeploy: failed to extract miner bundle: ${
            causeText(err)
          }`,
        );
      }
      const restored = await restoreExecutableBits(staging);
      if (minerPath === "") minerPath = restored;
      if (minerPath === "") {
        // Nothing in it can run: keep what is installed, say why.
        throw new HandlerError(
          "Worker.handleDeploy: miner bundle has no executable file " +
            "(no file with an execute bit or starting like a program: ELF, Mach-O, PE, #!)",
        );
      }
      await Deno.remove(target, { recursive: true }).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
      await Deno.rename(staging, target);
      await Deno.chmod(target, 0o755);
    } catch (err) {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      throw err;
    }
    if (minerPath !== "") {
      minerPath = join(target, minerPath.slice(staging.length + 1));
    }
    if (
      config.byteLength > 0 && this.#profileManager &&
      !isDefaultTimConfig(config)
    ) {
      try {
        const profile = JSON.parse(new TextDecoder().decode(config));
        await this.#profileManager.saveProfile(profile);
      } catch (err) {
        this.#log.warn("failed to save profile from miner bundle", {
          name: bundle.name,
          error: causeText(err),
        });
      }
    }
    this.#log.info("miner bundle installed", {
      name: bundle.name,
      miner_path: minerPath,
    });
    return reply(message, "deploy_ack", {
      payload: { success: true, name: bundle.name },
    });
  }
}
