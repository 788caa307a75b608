/**
 * {@linkcode Node}: everything a running node needs, composed — identity,
 * peer registry, transport, controller, worker with the default miner and
 * profile managers, metrics and the local control API — with one `start`
 * and one graceful `stop`.
 *
 * @module
 */

import { hostname } from "node:os";
import { basename, join } from "node:path";
import { getGlobalLogger } from "../logging/global.ts";
import type { Logger } from "../logging/logger.ts";
import {
  type Bundle,
  createMinerBundle,
  createProfileBundle,
  verifyBundle,
} from "./bundle.ts";
import { defaultPaths } from "./_paths.ts";
import { removeLeftovers, scratchDir } from "./_leftovers.ts";
import { DirectoryLock } from "./dir_lock.ts";
import { PeerSettings } from "./registry/settings.ts";
import type { CommandAuthorizer, WorkerCommand } from "./authorization.ts";
import { Controller, deployFrameSize } from "./controller.ts";
import {
  ControlApiError,
  controlFilePath,
  type ControlHandlers,
  ControlServer,
  DEFAULT_CONTROL_PORT,
} from "./control_api.ts";
import type {
  ControlProgress,
  FleetReport,
  ListedController,
  PeerView,
} from "./control/methods.ts";
import { nodeHandlers } from "./control/_node_handlers.ts";
import type { NodeIdentity, NodeRole } from "./identity.ts";
import { NodeManager, safeNodeName } from "./identity_store.ts";
import type { MinerManager, ProfileManager } from "./managers/miner_manager.ts";
import { ProcessMinerManager } from "./managers/process_miner.ts";
import { FileProfileManager } from "./managers/profile_manager.ts";
import type { StatsPayload } from "./message.ts";
import {
  METRICS_CONTENT_TYPE,
  MetricsRegistry,
  type Sample,
} from "./metrics.ts";
import type { AuthMode, Peer } from "./peer.ts";
import { PeerRegistry, type PeerRegistryOptions } from "./peer_registry.ts";
import type { TransportConfig } from "./transport/config.ts";
import type { PeerConnection } from "./transport/connection.ts";
import {
  DROP_REASONS,
  GUARD_REASONS,
  INBOUND_HANDSHAKE_FAILURES,
  OUTBOUND_HANDSHAKE_FAILURES,
} from "./transport/stats.ts";
import { Transport } from "./transport/transport.ts";
import { Dialler } from "./transport/dialler.ts";
import { Worker, type WorkerOptions } from "./worker.ts";
import { CommandCounts } from "./ops/command_audit.ts";
import type { CommandPolicyKind } from "./ops/command_policy.ts";
import { TRUST_FILE_NAME, TrustStore } from "./registry/trust.ts";

/** Where a node keeps its files. */
export interface NodePaths {
  /** Raw private key. */
  keyPath: string;
  /** Identity JSON. */
  identityPath: string;
  /** Peer registry. */
  peersPath: string;
  /** Trusted controllers (`trusted-controllers.json`). */
  trustPath: string;
  /** Control file (URL and token of the control API). */
  controlFile: string;
  /** Data directory (miners, profiles, run files). */
  dataDir: string;
  /** Config directory. */
  configDir: string;
}

/**
 * The file layout for a data and a config directory, matching the Go
 * reference's defaults (`<data>/node/private.key`, `<config>/node.json`,
 * `<config>/peers.json`) plus `<config>/control.json`.
 *
 * @param dataDir Data directory (default `<XDG data>/lethean-desktop`).
 * @param configDir Config directory (default `<XDG config>/lethean-desktop`).
 * @returns The paths.
 *
 * @example Custom directories
 * ```ts
 * import { nodePaths } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const p = nodePaths("/srv/d", "/srv/c");
 * assert.equal(p.keyPath, "/srv/d/node/private.key");
 * assert.equal(p.peersPath, "/srv/c/peers.json");
 * ```
 */
export function nodePaths(dataDir?: string, configDir?: string): NodePaths {
  const d = dataDir === undefined || configDir === undefined
    ? defaultPaths()
    : undefined;
  const data = dataDir ?? d!.dataDir;
  const config = configDir ?? d!.configDir;
  return {
    keyPath: join(data, "node", "private.key"),
    identityPath: join(config, "node.json"),
    peersPath: join(config, "peers.json"),
    trustPath: join(config, TRUST_FILE_NAME),
    controlFile: controlFilePath(config),
    dataDir: data,
    configDir: config,
  };
}

/** Options of {@linkcode Node.create}. */
export interface NodeOptions {
  /** Data directory (default `<XDG data>/lethean-desktop`). */
  dataDir?: string;
  /** Config directory (default `<XDG config>/lethean-desktop`). */
  configDir?: string;
  /** An identity to use instead of the files. */
  identity?: NodeManager;
  /**
   * The node's name: given to a new identity (default: the host name, made
   * valid); an identity loaded from its files under another name is renamed
   * (`node.json` rewritten).
   */
  name?: string;
  /**
   * Role: of a newly created identity, and which parts run — `controller`
   * runs no worker; `worker` and `dual` (default) answer commands.
   */
  role?: NodeRole;
  /** Transport settings (default listen `:9091`, path `/ws`). */
  transport?: Partial<TransportConfig>;
  /** Inbound admission mode (default `open`, as Go). */
  authMode?: AuthMode;
  /** Miner manager; `null` for none (default: a process miner manager). */
  minerManager?: MinerManager | null;
  /** Profile manager; `null` for none (default: files under `<dataDir>/profiles`). */
  profileManager?: ProfileManager | null;
  /**
   * A custom policy for who may command the worker; when given it alone
   * decides. Default: the trusted controllers.
   */
  authorize?: CommandAuthorizer;
  /**
   * Controllers trusted for this run (public keys or pairing codes), besides
   * those in `<configDir>/trusted-controllers.json`; not written there.
   */
  trustedControllers?: Iterable<string>;
  /**
   * Obey every connected peer, as go-p2p does (logged as a warning at
   * start). Never the default.
   */
  trustAnyController?: boolean;
  /** Commands every connected peer may issue (default `["ping"]`; `get_stats` and `get_logs` may be added). */
  openCommands?: readonly WorkerCommand[];
  /**
   * Control API: `false` for none; otherwise the port (default 9092; 0
   * picks one) and the control file (default `<configDir>/control.json`).
   */
  control?: false | { port?: number; file?: string };
  /** Metrics registry (default: a new one). */
  metrics?: MetricsRegistry;
  /** Logger (default: the global logger). */
  logger?: Logger;
  /** Registry save debounce in ms (default 5000). */
  registrySaveDelayMs?: number;
}

/** A connection as `status` reports it. */
export interface NodeConnectionStatus {
  /** Peer node ID. */
  peerId: string;
  /** Peer name. */
  name: string;
  /** `inbound` or `outbound`. */
  direction: string;
  /** Remote `host:port`. */
  remoteAddress: string;
  /** Connection state. */
  state: string;
  /** When it was established (RFC 3339). */
  connectedAt: string;
}

/** Who may command a node's worker, as {@linkcode Node.status} reports it. */
export interface NodeCommandStatus {
  /**
   * `trusted` (the trust list), `any` (every peer: `trustAnyController`),
   * `custom` (an `authorize` hook) or `none` (role controller: no worker).
   */
  policy: CommandPolicyKind | "none";
  /** How many controllers are trusted. */
  trusted: number;
  /** Commands open to every connected peer under the `trusted` policy. */
  open: WorkerCommand[];
}

/** What {@linkcode Node.status} reports. */
export interface NodeStatus {
  /** The node identity. */
  identity: NodeIdentity;
  /** The role the node runs as. */
  role: NodeRole;
  /** The WebSocket URL peers dial. */
  listen: string;
  /** The control API URL, or `""`. */
  control: string;
  /** Process ID. */
  pid: number;
  /** When the node started (RFC 3339). */
  startedAt: string;
  /** Seconds since start. */
  uptime: number;
  /** Inbound admission mode. */
  authMode: AuthMode;
  /** Who may command this node's worker. */
  commands: NodeCommandStatus;
  /** Files. */
  paths: NodePaths;
  /** Known and connected peer counts. */
  peers: { known: number; connected: number };
  /** Open connections. */
  connections: NodeConnectionStatus[];
  /** Message and failure counters. */
  counters: {
    messagesIn: number;
    messagesOut: number;
    drops: Record<string, number>;
    handshakeFailures: number;
  };
  /** Miners running on this node. */
  miners: { name: string; type: string }[];
}

/** Options of {@linkcode Node.deploy}. */
export interface NodeDeployRequest {
  /** What to send. */
  kind: "profile" | "miner" | "bundle";
  /** Bundle name (profile ID, or the miner type for miner bundles). */
  name?: string;
  /** Profile JSON text (`profile`, optional for `miner`). */
  profile?: string;
  /** Miner executable: file name and bytes (`miner`). */
  miner?: { fileName: string; data: Uint8Array };
  /** A ready bundle (`bundle`), encrypted for this peer. */
  bundle?: Bundle;
  /** Receiver's frame limit (default: what the connection learned from the peer; 1 MiB for Go peers). */
  peerMaxMessageSize?: number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A running node: identity, registry, transport, controller, worker,
 * managers, metrics and the local control API.
 *
 * Metrics (Prometheus names), exact counts from the transport's counters:
 * `p2p_connections` (open now), `p2p_connections_opened_total`,
 * `p2p_connections_closed_total`, `p2p_peers`,
 * `p2p_messages_total{direction,type}`, `p2p_frames_total{direction}`,
 * `p2p_bytes_total{direction}`, `p2p_drops_total{reason}`,
 * `p2p_handshake_failures_total{direction,reason}`,
 * `p2p_commands_total{command,outcome}` (what the worker obeyed or
 * refused), `p2p_trusted_controllers`,
 * `p2p_guard_total{reason}`, `p2p_request_duration_seconds{op}` and `p2p_start_time_seconds`.
 *
 * The worker obeys only the controllers in {@linkcode Node.trust}
 * (`<configDir>/trusted-controllers.json` plus `trustedControllers`); any
 * connected peer may ping it.
 *
 * @example Two nodes in one process
 * ```ts
 * import { Node } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const opts = (n: string) => ({
 *   dataDir: `${dir}/${n}`, configDir: `${dir}/${n}`, name: n,
 *   transport: { listenAddr: "127.0.0.1:0" }, control: false as const,
 *   minerManager: null, profileManager: null, registrySaveDelayMs: 50,
 * });
 * const a = await Node.create(opts("a"));
 * const b = await Node.create(opts("b"));
 * await a.start();
 * await b.start();
 * try {
 *   const peer = await a.addPeer({ address: b.transport.addr });
 *   assert.equal(peer.id, b.identity.id);
 *   assert.ok(await a.ping(peer.id) >= 0);
 * } finally {
 *   await a.stop();
 *   await b.stop();
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class Node {
  /** Identity and key agreement. */
  readonly identityStore: NodeManager;
  /** Peer registry. */
  readonly registry: PeerRegistry;
  /** Operator settings the peers file has no place for (mode, peers not to dial). */
  readonly settings: PeerSettings;
  /**
   * Keeps registered peers with an address connected, from `start` on
   * (absent when `transport.reconnect` is `false`).
   */
  readonly dialler: Dialler | undefined;
  /** Encrypted WebSocket transport. */
  readonly transport: Transport;
  /** Sends commands to workers. */
  readonly controller: Controller;
  /** Answers commands, unless the role is `controller`. */
  readonly worker: Worker | undefined;
  /** The miner manager, if any. */
  readonly minerManager: MinerManager | undefined;
  /** The profile manager, if any. */
  readonly profileManager: ProfileManager | undefined;
  /** Metrics. */
  readonly metrics: MetricsRegistry;
  /** The controllers this node's worker obeys. */
  readonly trust: TrustStore;
  /** Files. */
  readonly paths: NodePaths;
  /** The role the node runs as. */
  readonly role: NodeRole;

  readonly #log: Logger;
  readonly #controlOptions: false | { port?: number; file?: string };
  readonly #ownsMiners: boolean;
  readonly #latency;
  readonly #commandPolicy: NodeCommandStatus["policy"];
  readonly #openCommands: WorkerCommand[];
  #control: ControlServer | undefined;
  #startedAt = 0;
  #state: "new" | "running" | "stopping" | "stopped" = "new";
  #stopping: Promise<void> | undefined;
  readonly #stopRequest = Promise.withResolvers<string>();
  readonly #lock: DirectoryLock;

  private constructor(
    options: NodeOptions,
    parts: {
      identity: NodeManager;
      registry: PeerRegistry;
      settings: PeerSettings;
      paths: NodePaths;
      role: NodeRole;
      log: Logger;
      trust: TrustStore;
      lock: DirectoryLock;
    },
  ) {
    this.#lock = parts.lock;
    this.settings = parts.settings;
    this.identityStore = parts.identity;
    this.trust = parts.trust;
    this.registry = parts.registry;
    this.paths = parts.paths;
    this.role = parts.role;
    this.#log = parts.log;
    this.#controlOptions = options.control ?? {};
    // The dialler keeps peers connected (and redials dropped ones) in the
    // transport's stead, with the transport's reconnection settings.
    const keep = options.transport?.reconnect !== false;
    this.transport = new Transport({
      node: parts.identity,
      registry: parts.registry,
      config: { ...options.transport, reconnect: false },
      logger: parts.log.child("transport"),
    });
    if (keep) {
      const t = this.transport.config;
      this.dialler = new Dialler({
        transport: this.transport,
        registry: parts.registry,
        isDisabled: (id) => parts.settings.isDialDisabled(id),
        config: {
          initialDelay: t.reconnectInitialDelay,
          maxDelay: t.reconnectMaxDelay,
          maxAttempts: t.reconnectMaxAttempts,
        },
        logger: parts.log.child("transport:dialler"),
      });
    }
    const stats = () => this.transport.stats();
    const m = this.metrics = options.metrics ?? new MetricsRegistry();
    m.gauge(
      "p2p_connections",
      "Open peer connections",
      () => this.transport.connections().length,
    );
    m.counter(
      "p2p_connections_opened_total",
      "Connections whose handshake completed",
      () => [{ value: stats().connectionsOpened }],
    );
    m.counter(
      "p2p_connections_closed_total",
      "Connections closed after their handshake",
      () => [{ value: stats().connectionsClosed }],
    );
    m.gauge("p2p_peers", "Peers in the registry", () => this.registry.count);
    m.counter(
      "p2p_messages_total",
      "Messages accepted (in) and sent (out) on connections, by type",
      () => {
        const st = stats();
        const out: Sample[] = [];
        for (
          const [direction, byType] of [
            ["in", st.messagesInByType],
            ["out", st.messagesOutByType],
          ] as const
        ) {
          for (const [type, value] of Object.entries(byType)) {
            if (value > 0) out.push({ labels: { direction, type }, value });
          }
        }
        return out;
      },
    );
    m.counter(
      "p2p_frames_total",
      "WebSocket frames received (dropped ones included) and written on connections",
      () => {
        const st = stats();
        return [
          { labels: { direction: "in" }, value: st.framesIn },
          { labels: { direction: "out" }, value: st.framesOut },
        ];
      },
    );
    m.counter(
      "p2p_bytes_total",
      "Bytes of the frames in p2p_frames_total",
      () => {
        const st = stats();
        return [
          { labels: { direction: "in" }, value: st.bytesIn },
          { labels: { direction: "out" }, value: st.bytesOut },
        ];
      },
    );
    m.counter(
      "p2p_drops_total",
      "Inbound frames dropped after the handshake, by reason",
      () => {
        const d = stats().drops;
        return DROP_REASONS.map((reason) => ({
          labels: { reason },
          value: d[reason],
        }));
      },
    );
    m.counter(
      "p2p_guard_total",
      "What the hostile-network guards did, by reason (disconnects for failed frames, displaced unproven connections, timeouts, accept errors)",
      () => {
        const g = stats().guard;
        return GUARD_REASONS.map((reason) => ({
          labels: { reason },
          value: g[reason],
        }));
      },
    );
    m.counter(
      "p2p_handshake_failures_total",
      "Failed handshakes (and refused upgrades and dials), by direction and reason",
      () => {
        const h = stats().handshakeFailures;
        return [
          ...INBOUND_HANDSHAKE_FAILURES.map((reason) => ({
            labels: { direction: "inbound", reason },
            value: h.inbound[reason] ?? 0,
          })),
          ...OUTBOUND_HANDSHAKE_FAILURES.map((reason) => ({
            labels: { direction: "outbound", reason },
            value: h.outbound[reason] ?? 0,
          })),
        ];
      },
    );
    const commands = new CommandCounts();
    m.counter(
      "p2p_commands_total",
      "Commands this node's worker obeyed or refused, by command and outcome",
      () => commands.samples(),
    );
    m.gauge(
      "p2p_trusted_controllers",
      "Controllers this node's worker obeys",
      () => this.trust.size,
    );
    this.#latency = m.histogram(
      "p2p_request_duration_seconds",
      "Latency of requests this node sent to peers, by operation",
    );
    m.gauge(
      "p2p_start_time_seconds",
      "When the node started (Unix seconds)",
      () => this.#startedAt / 1000,
    );

    this.controller = new Controller(parts.identity, this.transport, {
      registry: parts.registry,
      logger: parts.log.child("node:controller"),
    });

    this.#ownsMiners = options.minerManager === undefined;
    this.minerManager = options.minerManager === null
      ? undefined
      : options.minerManager ??
        new ProcessMinerManager({
          dataDir: parts.paths.dataDir,
          logger: parts.log.child("node:miner"),
        });
    this.profileManager = options.profileManager === null
      ? undefined
      : options.profileManager ??
        new FileProfileManager({ dir: join(parts.paths.dataDir, "profiles") });
    this.#openCommands = [...(options.openCommands ?? ["ping"])];
    this.#commandPolicy = this.role === "controller"
      ? "none"
      : options.authorize
      ? "custom"
      : options.trustAnyController
      ? "any"
      : "trusted";
    if (this.role !== "controller") {
      const wopts: WorkerOptions = {
        dataDir: parts.paths.dataDir,
        logger: parts.log.child("node:worker"),
      };
      if (this.minerManager) wopts.minerManager = this.minerManager;
      if (this.profileManager) wopts.profileManager = this.profileManager;
      if (options.authorize) wopts.authorize = options.authorize;
      if (options.trustAnyController) wopts.trustAnyController = true;
      if (options.openCommands) wopts.openCommands = options.openCommands;
      wopts.trust = parts.trust;
      wopts.onCommand = (e) => commands.record(e);
      this.worker = new Worker(parts.identity, wopts);
      this.worker.register(this.transport);
    }
  }

  /**
   * Locks the data and config directories (one node per directory; the
   * lock is released by {@linkcode Node.stop}, or by the kernel when the
   * process dies), removes what an interrupted run left there (deploy
   * staging directories, temporary files, miner run configs), loads (or
   * creates) the identity, opens the registry and builds every part.
   * Nothing listens until {@linkcode Node.start}.
   *
   * @param options Directories, identity, role, transport, managers, control API.
   * @returns The node.
   * @throws {DirectoryLockedError} When another node runs on one of the
   * directories (nothing was touched).
   * @throws {IdentityError} When the identity files exist but cannot be
   * loaded (they are never overwritten).
   * @throws {RangeError} For an invalid transport configuration or role.
   */
  static async create(options: NodeOptions = {}): Promise<Node> {
    const paths = nodePaths(options.dataDir, options.configDir);
    const control = options.control ?? {};
    if (control && control.file) paths.controlFile = control.file;
    const log = options.logger ?? getGlobalLogger();
    if (
      options.role !== undefined &&
      !["controller", "worker", "dual"].includes(options.role)
    ) {
      throw new RangeError(
        `Invalid role: expected controller, worker or dual, got "${options.role}"`,
      );
    }
    // One node per directory: nothing below runs while another node does.
    const lock = await DirectoryLock.acquire([paths.dataDir, paths.configDir]);
    try {
      const removed = await removeLeftovers(paths);
      if (removed.length > 0) {
        log.info("removed leftovers of an interrupted run", {
          count: removed.length,
          first: removed[0],
        });
      }
      return await Node.#create(options, paths, log, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  static async #create(
    options: NodeOptions,
    paths: NodePaths,
    log: Logger,
    lock: DirectoryLock,
  ): Promise<Node> {
    let identity = options.identity;
    if (!identity) {
      identity = await NodeManager.open({
        keyPath: paths.keyPath,
        configPath: paths.identityPath,
      });
      if (identity.loadError) throw identity.loadError;
      if (!identity.hasIdentity()) {
        let host = "";
        try {
          host = hostname();
        } catch {
          // unavailable
        }
        await identity.generateIdentity(
          options.name ?? safeNodeName(host),
          options.role ?? "dual",
        );
      } else if (
        options.name !== undefined &&
        options.name !== identity.getIdentity()?.name
      ) {
        await identity.rename(options.name);
        log.info("identity renamed", {
          name: options.name,
          path: paths.identityPath,
        });
      }
    }
    const id = identity.getIdentity();
    if (!id) throw new TypeError("Cannot create node: the identity is empty");
    const regOpts: PeerRegistryOptions = {
      logger: log,
    };
    if (options.registrySaveDelayMs !== undefined) {
      regOpts.saveDelayMs = options.registrySaveDelayMs;
    }
    const registry = await PeerRegistry.open(paths.peersPath, regOpts);
    let settings: PeerSettings;
    try {
      settings = await PeerSettings.open(paths.peersPath, { logger: log });
    } catch (err) {
      await registry.close();
      throw err;
    }
    let trust: TrustStore | undefined;
    try {
      // A mode given for this run wins over the one last set with `peers mode`.
      const mode = options.authMode ?? settings.authMode;
      if (mode) registry.setAuthMode(mode);
      const role: NodeRole = options.role ?? id.role ?? "dual";
      trust = await TrustStore.open(paths.trustPath, {
        logger: log,
        pinned: options.trustedControllers ?? [],
      });
      return new Node(options, {
        identity,
        registry,
        settings,
        paths,
        role,
        log,
        lock,
        trust,
      });
    } catch (err) {
      await trust?.close();
      await registry.close();
      throw err;
    }
  }

  /** The node identity. */
  get identity(): NodeIdentity {
    return this.identityStore.getIdentity()!;
  }

  /** The WebSocket URL peers dial (after `start`). */
  get listenUrl(): string {
    const scheme = this.transport.config.tlsCertPath !== "" ? "wss" : "ws";
    return `${scheme}://${this.transport.addr}${this.transport.config.wsPath}`;
  }

  /** The control API server, when running. */
  get control(): ControlServer | undefined {
    return this.#control;
  }

  /**
   * Resolves (with who asked) once a stop was requested through the
   * control API (`lthn-p2p stop`); the node is then already stopping.
   */
  get stopRequested(): Promise<string> {
    return this.#stopRequest.promise;
  }

  /**
   * Starts listening, then the control API (writing the control file).
   *
   * @returns Resolves once both listen.
   * @throws {TransportError} `bind_failed` when the address is taken.
   * @throws {Deno.errors.AddrInUse} When the control port is taken.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") {
      throw new TypeError(`Cannot start node: it is ${this.#state}`);
    }
    this.#state = "running";
    this.#startedAt = Date.now();
    try {
      await this.transport.start();
      if (this.#controlOptions) {
        this.#control = await ControlServer.start({
          port: this.#controlOptions.port ?? DEFAULT_CONTROL_PORT,
          file: this.paths.controlFile,
          // The largest useful body is a deploy that fills one frame, sent
          // base64 in JSON: 4/3 of the frame limit, plus room for the rest.
          maxBodyBytes:
            Math.ceil(this.transport.config.maxMessageSize * 4 / 3) +
            1024 * 1024,
          handlers: this.#handlers(),
          metricsContentType: METRICS_CONTENT_TYPE,
        });
        await this.#lock.setControl(this.#control.url);
      }
      this.dialler?.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#log.info("node started", {
      node_id: this.identity.id,
      listen: this.listenUrl,
      control: this.#control?.url ?? "",
      commands: this.#commandPolicy,
      trusted_controllers: this.trust.size,
    });
    if (this.#commandPolicy === "any") {
      this.#log.warn(
        "worker obeys commands from ANY connected peer (trustAnyController): anyone who can reach the listen address can deploy and run programs",
        { listen: this.listenUrl },
      );
    }
  }

  /**
   * Shuts down gracefully: closes the control API (removing the control
   * file), disconnects every peer, stops the miners this node started and
   * flushes the registry to disk. Idempotent.
   *
   * @returns Resolves when everything is closed and written.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = "stopping";
    const errors: unknown[] = [];
    const step = async (f: () => unknown) => {
      try {
        await f();
      } catch (err) {
        errors.push(err);
      }
    };
    await step(() => this.#control?.stop());
    this.worker?.close();
    this.controller.close();
    this.dialler?.stop();
    await step(() => this.transport.stop());
    if (this.#ownsMiners && this.minerManager instanceof ProcessMinerManager) {
      await step(() => (this.minerManager as ProcessMinerManager).close());
    }
    for (const p of this.registry.getConnectedPeers()) {
      this.registry.setConnected(p.id, false);
    }
    // Written even when nothing changed (an empty registry included).
    await step(() => this.registry.save());
    await step(() => this.registry.close());
    await step(() => this.trust.close());
    this.#lock.release();
    this.#state = "stopped";
    this.#log.info("node stopped", { node_id: this.identity.id });
    if (errors.length > 0) {
      throw new AggregateError(
        errors,
        "Cannot stop node: some parts failed to close",
      );
    }
  }

  // ------------------------------------------------------------ metering

  async #connect(
    target: { address: string; id?: string; publicKey?: string },
  ): Promise<PeerConnection> {
    return await this.transport.connect(target);
  }

  async #timed<T>(op: string, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      this.#latency.observe((performance.now() - t0) / 1000, { op });
    }
  }

  // ------------------------------------------------------------ operations

  /**
   * Finds a registered peer by ID, name or unique ID prefix (4+ characters).
   *
   * @param ref The reference.
   * @returns The peer.
   * @throws {ControlApiError} `not_found` when none or several match.
   */
  resolvePeer(ref: string): Peer {
    const exact = this.registry.getPeer(ref);
    if (exact) return exact;
    const all = this.registry.listPeers();
    let hits = all.filter((p) => p.name !== "" && p.name === ref);
    if (hits.length === 0 && ref.length >= 4) {
      hits = all.filter((p) => p.id.startsWith(ref.toLowerCase()));
    }
    if (hits.length === 1) return hits[0]!;
    throw new ControlApiError(
      "not_found",
      hits.length === 0
        ? `Unknown peer "${ref}": add it with "lthn-p2p peers add <host:port>" or see "lthn-p2p peers list"`
        : `Ambiguous peer "${ref}": ${hits.length} peers match; use the full ID`,
    );
  }

  /**
   * Connects to a peer at an address, learns its identity from the
   * handshake and registers it (or updates its address). The peers file is
   * written (atomically, fsync-ed) before this resolves.
   *
   * @param target Address, optional pins (`id`, `publicKey`) and name.
   * @returns The registered peer.
   * @throws {TransportError} When the peer cannot be reached or is not who
   * the pins say (`self_connection` for this node's own address).
   * @throws {RegistryError} When the name is invalid, or `save_failed`.
   */
  async addPeer(
    target: { address: string; id?: string; publicKey?: string; name?: string },
  ): Promise<Peer> {
    const t: { address: string; id?: string; publicKey?: string } = {
      address: target.address,
    };
    if (target.id) t.id = target.id;
    if (target.publicKey) t.publicKey = target.publicKey;
    const conn = await this.#timed("connect", () => this.#connect(t));
    const peer = conn.peer;
    const existing = this.registry.getPeer(peer.id);
    if (existing) {
      this.registry.updatePeer({
        ...existing,
        address: target.address,
        publicKey: peer.publicKey,
        role: peer.role,
        name: target.name ?? existing.name,
      });
    } else {
      this.registry.addPeer({
        id: peer.id,
        name: target.name ?? safeNodeName(peer.name),
        publicKey: peer.publicKey,
        address: target.address,
        role: peer.role,
      });
      this.registry.setConnected(peer.id, true);
    }
    // An operator's change is on disk before it is acknowledged.
    await this.registry.save();
    return this.registry.getPeer(peer.id)!;
  }

  /**
   * Removes a peer from the registry (written before this resolves), forgets
   * its settings and closes its connection.
   *
   * @param ref Peer ID, name or prefix.
   * @returns The removed peer.
   * @throws {ControlApiError} `not_found`.
   * @throws {RegistryError} `save_failed`.
   */
  async removePeer(ref: string): Promise<Peer> {
    const peer = this.resolvePeer(ref);
    this.registry.removePeer(peer.id);
    await this.registry.save();
    await this.settings.forget(peer.id);
    this.dialler?.refresh(peer.id);
    await this.transport.disconnect(peer.id, "removed");
    return peer;
  }

  /**
   * Measures the round trip to a peer.
   *
   * @param ref Peer ID, name or prefix.
   * @returns Milliseconds.
   * @throws {ControllerError} {ProtocolError} When the peer fails to answer.
   */
  ping(ref: string): Promise<number> {
    const id = this.resolvePeer(ref).id;
    return this.#timed("ping", () => this.controller.pingPeer(id));
  }

  /**
   * Reads a worker's stats.
   *
   * @param ref Peer ID, name or prefix.
   * @returns The stats.
   * @throws {ControllerError} {ProtocolError} When the peer fails to answer.
   */
  stats(ref: string): Promise<StatsPayload> {
    const id = this.resolvePeer(ref).id;
    return this.#timed("get_stats", () => this.controller.getRemoteStats(id));
  }

  /**
   * Reads the stats of every connected worker.
   *
   * @returns Stats by peer ID (peers that failed are left out).
   */
  allStats(): Promise<Map<string, StatsPayload>> {
    return this.#timed("get_all_stats", () => this.controller.getAllStats());
  }

  /**
   * Reads the stats of every connected worker without waiting on those
   * that do not answer, and says which workers gave none and why — the
   * unhealthy, failed and timed-out ones, and the registered workers that
   * are not connected (with their last dial error).
   *
   * @returns The report.
   */
  async fleetStats(): Promise<FleetReport> {
    const r = await this.#timed(
      "get_all_stats",
      () => this.controller.getFleetStats(),
    );
    const name = (id: string) => this.registry.getPeer(id)?.name ?? "";
    const report: FleetReport = {
      stats: Object.fromEntries(r.stats),
      missing: r.missing.map((m) => {
        const conn = this.transport.getConnection(m.peerId);
        return {
          ...m,
          name: name(m.peerId),
          lastSeen: conn
            ? iso(conn.lastActivity)
            : this.registry.getPeer(m.peerId)?.lastSeen ?? "",
        };
      }),
      notConnected: [],
    };
    for (const p of this.registry.listPeers()) {
      if (p.address === "" || p.role === "controller") continue;
      if (this.transport.getConnection(p.id)?.state === "established") {
        continue;
      }
      const v = this.#peerView(p);
      const item: FleetReport["notConnected"][number] = {
        peerId: p.id,
        name: p.name,
        address: p.address,
        state: v.state,
        lastSeen: p.lastSeen,
      };
      if (v.lastError !== undefined) item.lastError = v.lastError;
      report.notConnected.push(item);
    }
    return report;
  }

  /**
   * Deploys a profile, a miner or a ready bundle to a worker; profile and
   * miner bundles are built here, encrypted for that peer.
   *
   * @param ref Peer ID, name or prefix.
   * @param request What to deploy.
   * @param progress Receives the stages (`connecting`, `bundling`, `sending`).
   * @param signal Cancels the wait.
   * @returns The worker's acknowledgement.
   * @throws {TypeError} For an incomplete request.
   * @throws {ControllerError} `frame_too_large` before sending; or any request failure.
   */
  async deploy(
    ref: string,
    request: NodeDeployRequest,
    progress: (p: ControlProgress) => void = () => {},
    signal?: AbortSignal,
  ): Promise<{ success: boolean; name: string; bytes: number }> {
    const id = this.resolvePeer(ref).id;
    progress({ stage: "connecting" });
    await this.controller.connectToPeer(id);
    progress({ stage: "bundling" });
    let bundle: Bundle;
    if (request.kind === "bundle") {
      if (!request.bundle) throw new TypeError("Missing bundle");
      if (!verifyBundle(request.bundle)) {
        throw new RangeError("Cannot deploy bundle: checksum mismatch");
      }
      bundle = request.bundle;
    } else if (request.kind === "profile") {
      if (!request.profile || !request.name) {
        throw new TypeError(
          "A profile deploy needs a name and the profile JSON",
        );
      }
      JSON.parse(request.profile);
      bundle = await createProfileBundle(
        request.profile,
        request.name,
        this.controller.bundlePassword(id),
      );
    } else if (request.kind === "miner") {
      if (!request.miner || !request.name) {
        throw new TypeError("A miner deploy needs a name and the miner file");
      }
      // In the data directory, so that a crash leaves nothing in /tmp and
      // the next start removes it.
      const scratch = scratchDir(this.paths.dataDir);
      await Deno.mkdir(scratch, { recursive: true, mode: 0o700 });
      const tmp = await Deno.makeTempDir({ dir: scratch, prefix: "deploy-" });
      try {
        const path = join(tmp, basename(request.miner.fileName) || "miner");
        await Deno.writeFile(path, request.miner.data, { mode: 0o600 });
        bundle = await createMinerBundle(
          path,
          request.profile ?? null,
          request.name,
          this.controller.bundlePassword(id),
        );
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    } else {
      throw new TypeError(`Unknown deploy kind "${String(request.kind)}"`);
    }
    const bytes = deployFrameSize(bundle);
    progress({ stage: "sending", bytes: bundle.data.byteLength, total: bytes });
    const ack = await this.#timed(
      "deploy",
      () =>
        this.controller.deployBundle(id, bundle, {
          ...(request.peerMaxMessageSize !== undefined
            ? { peerMaxMessageSize: request.peerMaxMessageSize }
            : {}),
          ...(signal ? { signal } : {}),
        }),
    );
    return {
      success: ack.success,
      name: ack.name ?? bundle.name,
      bytes: bundle.data.byteLength,
    };
  }

  /**
   * Who may command this node's worker.
   *
   * @returns The policy, the number of trusted controllers and the open commands.
   */
  commandStatus(): NodeCommandStatus {
    return {
      policy: this.#commandPolicy,
      trusted: this.trust.size,
      open: this.#commandPolicy === "trusted" ? [...this.#openCommands] : [],
    };
  }

  /**
   * The node's status: identity, listen URL, peers, connections, counters.
   *
   * @returns The status.
   */
  async status(): Promise<NodeStatus> {
    const st = this.transport.stats();
    let handshakeFailures = 0;
    for (const n of Object.values(st.handshakeFailures.inbound)) {
      handshakeFailures += n;
    }
    for (const n of Object.values(st.handshakeFailures.outbound)) {
      handshakeFailures += n;
    }
    const drops: Record<string, number> = { ...st.drops };
    const messagesIn = st.messagesIn;
    const messagesOut = st.messagesOut;
    const miners = [];
    for (const m of (await this.minerManager?.listMiners()) ?? []) {
      miners.push({ name: m.getName(), type: m.getType() });
    }
    const conns = this.transport.connections();
    return {
      identity: this.identity,
      role: this.role,
      listen: this.listenUrl,
      control: this.#control?.url ?? "",
      pid: Deno.pid,
      startedAt: iso(this.#startedAt),
      uptime: Math.floor((Date.now() - this.#startedAt) / 1000),
      authMode: this.registry.getAuthMode(),
      commands: this.commandStatus(),
      paths: { ...this.paths },
      peers: {
        known: this.registry.count,
        connected: this.transport.connectedPeers().length,
      },
      connections: conns.map((c) => ({
        peerId: c.peerId,
        name: c.peer.name,
        direction: c.direction,
        remoteAddress: c.remoteAddress,
        state: c.state,
        connectedAt: iso(c.connectedAt),
      })),
      counters: { messagesIn, messagesOut, drops, handshakeFailures },
      miners,
    };
  }

  /**
   * A registry peer as `peers list` shows it: the record, whether it is
   * dialled, where its connection stands and when it was last heard from.
   */
  #peerView(p: Peer): PeerView {
    const conn = this.transport.getConnection(p.id);
    const st = this.dialler?.status(p.id);
    const view: PeerView = {
      ...p,
      dial: !this.settings.isDialDisabled(p.id),
      state: conn?.state === "established"
        ? "connected"
        : st?.state ?? (p.address === "" ? "no_address" : "not_dialled"),
    };
    if (conn?.state === "established") {
      view.lastSeen = iso(conn.lastActivity);
      view.healthy = conn.healthy;
    }
    if (st?.lastError !== undefined) view.lastError = st.lastError;
    if (st?.nextAttemptAt !== undefined) {
      view.nextAttemptAt = iso(st.nextAttemptAt);
    }
    return view;
  }

  // ------------------------------------------------------------ control API

  #trustedList(): ListedController[] {
    return this.trust.list().map((c) => {
      const p = this.registry.getPeer(c.nodeId);
      return p && p.name !== "" ? { ...c, peer: p.name } : c;
    });
  }

  #handlers(): ControlHandlers {
    return {
      status: () => this.status(),
      metrics: () => this.metrics.render(),
      methods: nodeHandlers(this, {
        peerView: (p) => this.#peerView(p),
        trustedList: () => this.#trustedList(),
        requestStop: (by) => this.#requestStop(by),
        timed: (op, f) => this.#timed(op, f),
      }),
    };
  }

  #requestStop(by: string): { pid: number; name: string } {
    this.#log.info("stop requested through the control API", {
      node_id: this.identity.id,
    });
    this.#stopRequest.resolve(by);
    // After this answer is on its way; stop() waits for it to finish.
    setTimeout(() => {
      this.stop().catch((err) =>
        this.#log.error("stop failed", { error: String(err) })
      );
    }, 0);
    return { pid: Deno.pid, name: this.identity.name };
  }
}
