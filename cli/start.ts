/**
 * `lthn-p2p start`: load or create the identity and run a node until
 * SIGINT or SIGTERM.
 *
 * @module
 */

import {
  Logger,
  type LogLevel,
  parseLevel,
  setGlobalLogger,
} from "../logging/mod.ts";
import {
  type AuthMode,
  DirectoryLockedError,
  Node,
  type NodeOptions,
  type NodeRole,
  parseControllerKey,
  parseListenAddr,
  type TransportConfig,
  TransportError,
} from "../node/mod.ts";
import { type Command, err, EXIT_OK, out, UsageError } from "./_command.ts";
import { expectPositionals, helped, parse, printJson } from "./_common.ts";

const HELP = `Usage: lthn-p2p start [options]

Runs a node: loads the identity (creating one on first start), listens for
peers, answers commands and serves the local control API. Stops cleanly on
Ctrl+C (SIGINT), SIGTERM or "lthn-p2p stop". Every option is optional.

Options:
  --role <role>          dual (default), worker or controller
  --name <name>          node name (default: the host name); renames an existing identity
  --listen <host:port>   where peers connect (default :9091; port 0 picks one)
  --ws-path <path>       WebSocket path (default /ws)
  --tls-cert <file>      PEM certificate; with --tls-key, peers use wss://
  --tls-key <file>       PEM private key
  --auth <mode>          open (default) or allowlist: who may connect
  --trust <key|code>     obey this controller (a public key, or the pairing code
                         "lthn-p2p identity show --pairing" prints on it);
                         repeatable; kept for this run only (to keep one for
                         good: "lthn-p2p peers trust"). By default the worker
                         obeys only controllers in <config dir>/trusted-controllers.json
                         and these, and answers pings from any peer
  --open-read-only       also let any connected peer read stats and miner logs
  --trust-any-controller obey EVERY connected peer, as go-p2p does: anyone who
                         can reach --listen can deploy and run programs
  --data-dir <dir>       keys, miners, profiles (default: $XDG_DATA_HOME/lethean-desktop)
  --config-dir <dir>     identity, peers, control file (default: $XDG_CONFIG_HOME/lethean-desktop)
  --control-port <port>  local control API port on 127.0.0.1 (default 9092; 0 picks one)
  --control-file <file>  where to write the control API URL and token
                         (default: <config dir>/control.json)
  --no-control           do not serve the control API
  --log-level <level>    debug, info (default), warn or error
  --log-json             write logs as JSON lines
  --config <file>        read these settings from a JSON file (flags win); keys:
                         role name listen wsPath tlsCert tlsKey auth dataDir
                         configDir controlPort controlFile logLevel logJson
                         trust (a list; --trust adds to it) openReadOnly
                         trustAnyController
  --json                 print the start summary as one JSON line
  -h, --help             show this help`;

const OPTIONS = {
  role: { type: "string" },
  name: { type: "string" },
  listen: { type: "string" },
  "ws-path": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  auth: { type: "string" },
  trust: { type: "string", multiple: true },
  "open-read-only": { type: "boolean" },
  "trust-any-controller": { type: "boolean" },
  "data-dir": { type: "string" },
  "config-dir": { type: "string" },
  "control-port": { type: "string" },
  "control-file": { type: "string" },
  "no-control": { type: "boolean" },
  "log-level": { type: "string" },
  "log-json": { type: "boolean" },
  config: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Settings of `start`, from flags and the optional config file. */
export interface StartSettings {
  /** Role. */
  role?: NodeRole;
  /** Name of a new identity. */
  name?: string;
  /** Listen address. */
  listen?: string;
  /** WebSocket path. */
  wsPath?: string;
  /** TLS certificate file. */
  tlsCert?: string;
  /** TLS key file. */
  tlsKey?: string;
  /** Admission mode. */
  auth?: AuthMode;
  /** Controllers trusted for this run (keys or pairing codes). */
  trust?: string[];
  /** Let any connected peer read stats and logs. */
  openReadOnly?: boolean;
  /** Obey every connected peer (go-p2p's behaviour). */
  trustAnyController?: boolean;
  /** Data directory. */
  dataDir?: string;
  /** Config directory. */
  configDir?: string;
  /** Control API port. */
  controlPort?: number;
  /** Control file. */
  controlFile?: string;
  /** No control API. */
  noControl?: boolean;
  /** Log level. */
  logLevel?: string;
  /** JSON logs. */
  logJson?: boolean;
}

const CONFIG_KEYS: Record<
  string,
  "string" | "number" | "boolean" | "string[]"
> = {
  role: "string",
  name: "string",
  listen: "string",
  wsPath: "string",
  tlsCert: "string",
  tlsKey: "string",
  auth: "string",
  trust: "string[]",
  openReadOnly: "boolean",
  trustAnyController: "boolean",
  dataDir: "string",
  configDir: "string",
  controlPort: "number",
  controlFile: "string",
  noControl: "boolean",
  logLevel: "string",
  logJson: "boolean",
};

async function readConfigFile(path: string): Promise<StartSettings> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(
      `cannot read --config ${path}: ${(e as Error).message}`,
    );
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`--config ${path} is not valid JSON`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new UsageError(`--config ${path} must hold a JSON object`);
  }
  for (const [k, val] of Object.entries(v)) {
    const want = CONFIG_KEYS[k];
    if (!want) {
      throw new UsageError(
        `unknown key "${k}" in --config ${path} (known: ${
          Object.keys(CONFIG_KEYS).join(", ")
        })`,
      );
    }
    const actual: string = Array.isArray(val)
      ? (val.every((x) => typeof x === "string") ? "string[]" : "array")
      : typeof val;
    if (actual !== want) {
      throw new UsageError(`key "${k}" in --config ${path} must be a ${want}`);
    }
  }
  return v as StartSettings;
}

/**
 * Turns flags (and the optional config file) into validated settings.
 *
 * @param args The arguments of `start`.
 * @returns The settings, or `undefined` after printing `--help`.
 * @throws {UsageError} For any invalid value.
 */
export async function startSettings(args: string[]): Promise<
  { settings: StartSettings; json: boolean } | undefined
> {
  const { values, positionals } = parse(args, OPTIONS);
  if (helped(values, HELP)) return undefined;
  expectPositionals(positionals, 0, 0, "");
  const file = values.config ? await readConfigFile(values.config) : {};
  const s: StartSettings = { ...file };
  const set = <K extends keyof StartSettings>(
    k: K,
    v: StartSettings[K] | undefined,
  ) => {
    if (v !== undefined) s[k] = v;
  };
  set("role", values.role as NodeRole | undefined);
  set("name", values.name);
  set("listen", values.listen);
  set("wsPath", values["ws-path"]);
  set("tlsCert", values["tls-cert"]);
  set("tlsKey", values["tls-key"]);
  set("auth", values.auth as AuthMode | undefined);
  if (values.trust !== undefined) {
    s.trust = [...(s.trust ?? []), ...values.trust];
  }
  if (values["open-read-only"]) s.openReadOnly = true;
  if (values["trust-any-controller"]) s.trustAnyController = true;
  set("dataDir", values["data-dir"]);
  set("configDir", values["config-dir"]);
  if (values["control-port"] !== undefined) {
    const p = values["control-port"];
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) {
      throw new UsageError(`--control-port must be 0-65535, got "${p}"`);
    }
    s.controlPort = Number(p);
  }
  set("controlFile", values["control-file"]);
  if (values["no-control"]) s.noControl = true;
  set("logLevel", values["log-level"]);
  if (values["log-json"]) s.logJson = true;

  if (
    s.role !== undefined && !["dual", "worker", "controller"].includes(s.role)
  ) {
    throw new UsageError(
      `--role must be dual, worker or controller, got "${s.role}"`,
    );
  }
  if (s.auth !== undefined && !["open", "allowlist"].includes(s.auth)) {
    throw new UsageError(`--auth must be open or allowlist, got "${s.auth}"`);
  }
  for (const t of s.trust ?? []) {
    try {
      parseControllerKey(t);
    } catch (e) {
      throw new UsageError(`--trust: ${(e as Error).message}`);
    }
  }
  if (s.listen !== undefined) {
    try {
      parseListenAddr(s.listen);
    } catch {
      throw new UsageError(
        `--listen must be host:port (e.g. :9091 or 127.0.0.1:0), got "${s.listen}"`,
      );
    }
  }
  if (s.wsPath !== undefined && !s.wsPath.startsWith("/")) {
    throw new UsageError(`--ws-path must start with "/", got "${s.wsPath}"`);
  }
  if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) {
    throw new UsageError(
      "--tls-cert and --tls-key go together: give both or neither",
    );
  }
  if (
    s.controlPort !== undefined &&
    (!Number.isInteger(s.controlPort) || s.controlPort < 0 ||
      s.controlPort > 65535)
  ) {
    throw new UsageError(`controlPort must be 0-65535, got ${s.controlPort}`);
  }
  if (s.logLevel !== undefined) {
    try {
      parseLevel(s.logLevel);
    } catch {
      throw new UsageError(
        `--log-level must be debug, info, warn or error, got "${s.logLevel}"`,
      );
    }
  }
  return { settings: s, json: values.json === true };
}

/**
 * Builds the node options for settings.
 *
 * @param s The settings.
 * @param logger The logger.
 * @returns Options for {@linkcode Node.create}.
 */
export function nodeOptions(s: StartSettings, logger: Logger): NodeOptions {
  const transport: Partial<TransportConfig> = {};
  if (s.listen !== undefined) transport.listenAddr = s.listen;
  if (s.wsPath !== undefined) transport.wsPath = s.wsPath;
  if (s.tlsCert !== undefined) transport.tlsCertPath = s.tlsCert;
  if (s.tlsKey !== undefined) transport.tlsKeyPath = s.tlsKey;
  const o: NodeOptions = { transport, logger };
  if (s.role) o.role = s.role;
  if (s.name) o.name = s.name;
  if (s.auth) o.authMode = s.auth;
  if (s.trust && s.trust.length > 0) o.trustedControllers = s.trust;
  if (s.trustAnyController) o.trustAnyController = true;
  if (s.openReadOnly) o.openCommands = ["ping", "get_stats", "get_logs"];
  if (s.dataDir) o.dataDir = s.dataDir;
  if (s.configDir) o.configDir = s.configDir;
  if (s.noControl) o.control = false;
  else {
    const c: { port?: number; file?: string } = {};
    if (s.controlPort !== undefined) c.port = s.controlPort;
    if (s.controlFile !== undefined) c.file = s.controlFile;
    o.control = c;
  }
  return o;
}

function summary(node: Node): string {
  const id = node.identity;
  const p = node.paths;
  const lines = [
    `lthn-p2p node "${id.name}" is running (role ${node.role})`,
    `  node ID      ${id.id}`,
    `  public key   ${id.publicKey}`,
    `  listen       ${node.listenUrl}`,
    `  control API  ${
      node.control
        ? `${node.control.url} (URL and token in ${p.controlFile})`
        : "off"
    }`,
    `  identity     ${p.identityPath}`,
    `  private key  ${p.keyPath}`,
    `  peers        ${p.peersPath} (${node.registry.count} known, auth ${node.registry.getAuthMode()})`,
    `  commands     ${commandsLine(node)}`,
    `  miners       ${p.dataDir}/miners`,
    node.control ? 'Stop with Ctrl+C or "lthn-p2p stop".' : "Stop with Ctrl+C.",
  ];
  return lines.join("\n");
}

/** Who may command the node, for the start summary. */
export function commandsLine(node: Node): string {
  const c = node.commandStatus();
  switch (c.policy) {
    case "none":
      return "none (role controller: no worker)";
    case "any":
      return "ANY PEER (--trust-any-controller)";
    case "custom":
      return "custom policy";
    default: {
      const n = `${c.trusted} trusted controller${c.trusted === 1 ? "" : "s"}`;
      const open = c.open.filter((x) => x !== "ping");
      const extra = open.length > 0
        ? `; ${open.join(", ")} open to any peer`
        : "";
      return c.trusted === 0
        ? `${n} (${node.paths.trustPath})${extra}; add one with "lthn-p2p peers trust <key|code>"`
        : `${n} (${node.paths.trustPath})${extra}`;
    }
  }
}

/** Whether the node listens on more than loopback. */
function listensBeyondLoopback(node: Node): boolean {
  const host = parseListenAddr(node.transport.config.listenAddr).hostname;
  return !(host === "localhost" || host === "::1" || host.startsWith("127."));
}

/** Waits for SIGINT or SIGTERM (or the abort signal); `cancel` removes the listeners. */
function waitForSignal(
  abort?: AbortSignal,
): { promise: Promise<string>; cancel: () => void } {
  const { promise, resolve } = Promise.withResolvers<string>();
  const names: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  const handlers: [Deno.Signal, () => void][] = [];
  const cancel = () => {
    for (const [n, h] of handlers) Deno.removeSignalListener(n, h);
    handlers.length = 0;
    abort?.removeEventListener("abort", onAbort);
  };
  const done = (name: string) => {
    cancel();
    resolve(name);
  };
  const onAbort = () => done("abort");
  for (const n of names) {
    const h = () => done(n);
    Deno.addSignalListener(n, h);
    handlers.push([n, h]);
  }
  if (abort?.aborted) done("abort");
  else abort?.addEventListener("abort", onAbort, { once: true });
  return { promise, cancel };
}

/**
 * Runs `start` with parsed settings until a signal arrives.
 *
 * @param settings The settings.
 * @param json Print the summary as JSON.
 * @param abort Stops the node as a signal would (tests).
 * @returns The exit code.
 */
export async function runNode(
  settings: StartSettings,
  json: boolean,
  abort?: AbortSignal,
): Promise<number> {
  const level: LogLevel = parseLevel(settings.logLevel ?? "info");
  const logger = new Logger({
    level,
    format: settings.logJson ? "json" : "text",
  });
  setGlobalLogger(logger);
  let node: Node;
  try {
    node = await Node.create(nodeOptions(settings, logger));
  } catch (e) {
    if (e instanceof DirectoryLockedError) {
      throw new Error(
        `${e.message}; stop that one first ("lthn-p2p stop" with the same --config-dir), ` +
          "or give this one its own --data-dir and --config-dir",
      );
    }
    throw e;
  }
  const stopped = waitForSignal(abort);
  try {
    await node.start();
  } catch (e) {
    stopped.cancel();
    if (e instanceof TransportError && e.code === "bind_failed") {
      throw new Error(
        `${e.message}${
          e.cause instanceof Deno.errors.AddrInUse ? " (address in use)" : ""
        }; choose another address with --listen host:port`,
      );
    }
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Cannot serve the control API on 127.0.0.1:${
          settings.controlPort ?? 9092
        }: address in use; ` +
          "another node may be running; pass --control-port 0 (or another port) and --config-dir",
      );
    }
    throw e;
  }
  if (json) printJson(await node.status());
  else out(summary(node));
  for (const kept of node.trust.loadReport.keptAside) {
    err(
      `lthn-p2p: WARNING: ${node.paths.trustPath} was damaged and kept as ${kept}; the controllers it listed are not trusted`,
    );
  }
  if (node.commandStatus().policy === "any" && listensBeyondLoopback(node)) {
    err(
      `lthn-p2p: WARNING: --trust-any-controller: any peer that can reach ${node.listenUrl} can deploy and run programs on this machine`,
    );
  }
  const why = await Promise.race([
    stopped.promise,
    node.stopRequested.then(() => "control"),
  ]);
  stopped.cancel();
  err(
    `lthn-p2p: ${
      why === "abort"
        ? "stopping"
        : why === "control"
        ? "stop requested (lthn-p2p stop), stopping"
        : `${why} received, stopping`
    } (disconnecting peers, stopping miners, saving peers)`,
  );
  let forced = false;
  const firstSignalAt = Date.now();
  const force = () => {
    // `deno task` forwards the terminal's Ctrl+C, which also reaches us
    // directly: a duplicate within a second is the same request.
    if (forced || Date.now() - firstSignalAt < 1000) return;
    forced = true;
    err("lthn-p2p: second signal, exiting now");
    Deno.exit(1);
  };
  const names: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const n of names) Deno.addSignalListener(n, force);
  try {
    await node.stop();
  } finally {
    for (const n of names) Deno.removeSignalListener(n, force);
  }
  err("lthn-p2p: stopped");
  return EXIT_OK;
}

export const startCommand: Command = {
  summary: "run a node (creates an identity on first start)",
  async run(args: string[]): Promise<number> {
    const parsed = await startSettings(args);
    if (!parsed) return EXIT_OK;
    return await runNode(parsed.settings, parsed.json);
  },
};
