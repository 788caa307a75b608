/**
 * {@linkcode ProcessMinerManager}: the default {@linkcode MinerManager}. It
 * runs an installed miner executable (XMRig or anything that takes a JSON
 * config file) as a child process, keeps its console output in a bounded
 * ring buffer, reads hashrate and shares from XMRig's HTTP API when the
 * config enables it (else from the console lines), and stops it with
 * SIGTERM, then SIGKILL after a grace period.
 *
 * ## Start configuration
 *
 * `startMiner(minerType, config)` accepts either a miner config object (for
 * XMRig, its `config.json`) or a profile `{ id, name?, minerType?, config:
 * {…} }` whose `config` object is used. `null` means an empty config. Three
 * optional launcher keys are read from the profile or the config and removed
 * before the config file is written:
 *
 * | key | meaning |
 * |---|---|
 * | `minerName` | instance name (default: the miner type, then `<type>-2`, `<type>-3`…) |
 * | `executable` | file inside `<minersDir>/<minerType>/` to run |
 * | `args` | extra command-line arguments (array of strings) |
 *
 * The executable is, in order: the `executables` option's entry for the type
 * (when no `executable` key is given), `<minersDir>/<type>/<executable>`,
 * `<minersDir>/<type>/<type>` (`.exe` on Windows), or the only file with an
 * execute bit directly in `<minersDir>/<type>/`. Deployed miner bundles land
 * in `<minersDir>/<bundle name>`, so deploy a bundle named after the type.
 *
 * The config is written to `<runDir>/<name>.json` (mode 0600) and the
 * process is started as `<executable> --config=<file> [args…]` in the
 * executable's directory, with standard input closed.
 *
 * @module
 */

import { dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { getGlobalLogger, type Logger } from "../../logging/mod.ts";
import { writeFileAtomic } from "../files.ts";
import { defaultPaths } from "../_paths.ts";
import type { JsonObject, JsonValue } from "../message.ts";
import { isSafeName } from "./_names.ts";
import { MinerError } from "./errors.ts";
import type { MinerInstance, MinerManager } from "./miner_manager.ts";
import { RingBuffer } from "./ring_buffer.ts";
import { XmrigOutputParser } from "./xmrig_output.ts";

/** Default grace period between SIGTERM and SIGKILL, in milliseconds. */
export const DEFAULT_STOP_GRACE_MS = 5_000;
/** Default number of console lines kept per miner. */
export const DEFAULT_MAX_LOG_LINES = 1_000;
/** Default cap on one console line, in characters (longer lines are cut). */
export const DEFAULT_MAX_LINE_LENGTH = 4_096;
/** Default maximum number of miners (running or exited) per manager. */
export const DEFAULT_MAX_MINERS = 16;

/**
 * The POSIX `sh` watchdog every miner runs under on Linux and macOS:
 * `sh -c WATCHDOG lthn-miner <executable> <args…>`, started in a session
 * (and process group) of its own. It starts the miner (through an inner
 * `sh` that prints `lthn-miner-pid <pid>` on standard error and then execs
 * it, so the miner keeps that PID), forwards SIGTERM, SIGINT and SIGHUP to
 * it, and exits with its status after sending SIGTERM to whatever the
 * miner left behind in the group. Its standard input is a pipe the worker
 * holds open and never writes to: when the worker dies (even by SIGKILL)
 * or closes the pipe, a read loop sees EOF at once and SIGKILLs the whole
 * process group: the miner, every process it started and the watchdog.
 * No polling, no native code.
 */
const WATCHDOG = `pid=
sig=
trap 'sig=TERM; [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null' TERM
trap 'sig=INT; [ -z "$pid" ] || kill -INT "$pid" 2>/dev/null' INT
trap 'sig=HUP; [ -z "$pid" ] || kill -HUP "$pid" 2>/dev/null' HUP
exec 3<&0 </dev/null
inner='printf "lthn-miner-pid %s\\n" "$$" >&2; exec "$@"'
sh -c "$inner" sh "$@" 3<&- &
pid=$!
[ -z "$sig" ] || kill -"$sig" "$pid" 2>/dev/null
{ while read -r _; do :; done; kill -KILL 0; } <&3 3<&- >/dev/null 2>&1 &
mon=$!
exec 3<&-
while :; do
  wait "$pid"
  st=$?
  kill -0 "$pid" 2>/dev/null || break
done
kill "$mon" 2>/dev/null
trap '' TERM INT HUP
kill -TERM 0 2>/dev/null
exit "$st"
`;

/**
 * How long a stopped miner's output is still read after it exited, when
 * something else keeps the pipes open.
 */
const OUTPUT_TAIL_MS = 1_000;

/** The first standard-error line of a watched miner. */
const PID_LINE = /^lthn-miner-pid (\d+)$/;

/** The launcher keys removed from the config before it is written. */
const LAUNCHER_KEYS = ["minerName", "executable", "args"] as const;

/** Arguments given to {@linkcode ProcessMinerManagerOptions.buildArgs}. */
export interface BuildArgsContext {
  /** The miner type. */
  minerType: string;
  /** Path of the written config file. */
  configPath: string;
  /** The config as written. */
  config: JsonObject;
  /** The `args` launcher key, when given. */
  extraArgs: string[];
}

/** Options of {@linkcode ProcessMinerManager}. */
export interface ProcessMinerManagerOptions {
  /** The node data directory (default `<XDG data>/lethean-desktop`). */
  dataDir?: string;
  /** Where miners are installed (default `<dataDir>/miners`, where deploys extract). */
  minersDir?: string;
  /** Where config files are written (default `<dataDir>/run`). */
  runDir?: string;
  /** Executables installed elsewhere, by miner type (absolute paths). */
  executables?: Record<string, string>;
  /** Builds the argument list (default `["--config=<file>", ...extraArgs]`). */
  buildArgs?: (context: BuildArgsContext) => string[];
  /** Extra environment variables for the miner. */
  env?: Record<string, string>;
  /** Milliseconds between SIGTERM and SIGKILL (default 5000). */
  stopGraceMs?: number;
  /**
   * Milliseconds to watch a new process; if it exits within them, the start
   * fails with its exit code and last output line (default 300; 0 disables).
   */
  startupCheckMs?: number;
  /** Console lines kept per miner (default 1000). */
  maxLogLines?: number;
  /** Longest console line kept, in characters (default 4096). */
  maxLineLength?: number;
  /** Maximum number of miners (default 16). */
  maxMiners?: number;
  /** Timeout of one XMRig HTTP API request in milliseconds (default 2000). */
  apiTimeoutMs?: number;
  /** `fetch` used for the XMRig HTTP API (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** Logger (default: the global logger, component `node:miner`). */
  logger?: Logger;
  /** Clock in Unix milliseconds (default `Date.now`). */
  now?: () => number;
}

/** Figures reported by {@linkcode ProcessMinerInstance.getStats}. */
export interface ProcessMinerStats {
  /** Hashes per second. */
  hashrate: number;
  /** Accepted shares. */
  shares: number;
  /** Rejected shares. */
  rejected: number;
  /** Seconds the process has run (until it exited). */
  uptime: number;
  /** Pool `host:port`. */
  pool: string;
  /** Algorithm. */
  algorithm: string;
  /** Whether the process is still running. */
  running: boolean;
  /** The process ID. */
  pid: number;
  /** The exit code once it has exited. */
  exitCode?: number;
  /** Where the mining figures came from. */
  source: "api" | "output";
}

interface LogEntry {
  at: number;
  line: string;
}

interface ApiEndpoint {
  url: string;
  token?: string;
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isLoopbackHost(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Finds the XMRig HTTP API endpoint of a config: `http.enabled` true and a
 * port in 1–65535. Only loopback hosts are contacted (`0.0.0.0`, `::` and an
 * empty host mean 127.0.0.1); any other host is ignored, so a controller
 * cannot make the worker fetch arbitrary addresses.
 */
function apiEndpoint(config: JsonObject): ApiEndpoint | undefined {
  const http = config.http;
  if (!isObject(http) || http.enabled !== true) return undefined;
  const port = http.port;
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < 1 ||
    port > 65535
  ) {
    return undefined;
  }
  let host = typeof http.host === "string" ? http.host : "127.0.0.1";
  if (host === "" || host === "0.0.0.0" || host === "::") host = "127.0.0.1";
  if (!isLoopbackHost(host)) return undefined;
  const h = host.includes(":") ? `[${host}]` : host;
  const ep: ApiEndpoint = { url: `http://${h}:${port}/2/summary` };
  const token = http["access-token"];
  if (typeof token === "string" && token !== "") ep.token = token;
  return ep;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** Reads the figures of an XMRig `/2/summary` (or `/1/summary`) answer. */
function parseSummary(body: unknown): Partial<ProcessMinerStats> | undefined {
  if (!isObject(body)) return undefined;
  const out: Partial<ProcessMinerStats> = {};
  const hr = body.hashrate;
  if (isObject(hr) && Array.isArray(hr.total)) {
    const rate = hr.total.map(num).find((v) => v !== undefined);
    out.hashrate = rate ?? 0;
  }
  const results = body.results;
  if (isObject(results)) {
    const good = num(results.shares_good);
    const total = num(results.shares_total);
    if (good !== undefined) out.shares = Math.floor(good);
    if (good !== undefined && total !== undefined && total >= good) {
      out.rejected = Math.floor(total - good);
    }
  }
  const conn = body.connection;
  if (isObject(conn) && typeof conn.pool === "string") out.pool = conn.pool;
  if (typeof body.algo === "string") out.algorithm = body.algo;
  else if (isObject(conn) && typeof conn.algo === "string") {
    out.algorithm = conn.algo;
  }
  return out;
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    id = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/** One miner process. Created by {@linkcode ProcessMinerManager.startMiner}. */
export class ProcessMinerInstance implements MinerInstance {
  readonly #name: string;
  readonly #type: string;
  readonly #child: Deno.ChildProcess;
  readonly #lifeline: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #pid: number;
  readonly #pidKnown: Promise<void>;
  #resolvePid!: () => void;
  readonly #startedAt: number;
  readonly #now: () => number;
  readonly #log: RingBuffer<LogEntry>;
  readonly #parser = new XmrigOutputParser();
  readonly #api: ApiEndpoint | undefined;
  readonly #apiTimeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #maxLineLength: number;
  readonly #configPath: string;
  readonly #exited: Promise<Deno.CommandStatus>;
  readonly #pumps: Promise<void>;
  /** Cancels the output readers (when something else holds the pipes open). */
  readonly #stopReading = new AbortController();
  /** The watchdog leads a process group of its own (signal `-pid`). */
  readonly #group: boolean;
  #endedAt: number | undefined;
  #exitCode: number | undefined;
  #stopping: Promise<void> | undefined;

  /** @internal Use {@linkcode ProcessMinerManager.startMiner}. */
  constructor(
    init: {
      name: string;
      type: string;
      child: Deno.ChildProcess;
      configPath: string;
      api: ApiEndpoint | undefined;
      /** Started under {@linkcode WATCHDOG} (stdin is the lifeline pipe). */
      watchdog: boolean;
    },
    opts: {
      now: () => number;
      maxLogLines: number;
      maxLineLength: number;
      apiTimeoutMs: number;
      fetch: typeof fetch;
    },
  ) {
    this.#name = init.name;
    this.#type = init.type;
    this.#child = init.child;
    this.#pid = init.child.pid;
    this.#pidKnown = new Promise((r) => (this.#resolvePid = r));
    this.#lifeline = init.watchdog ? init.child.stdin.getWriter() : undefined;
    this.#group = init.watchdog;
    if (!init.watchdog) this.#resolvePid();
    this.#configPath = init.configPath;
    this.#api = init.api;
    this.#now = opts.now;
    this.#startedAt = opts.now();
    this.#log = new RingBuffer<LogEntry>(opts.maxLogLines);
    this.#maxLineLength = opts.maxLineLength;
    this.#apiTimeoutMs = opts.apiTimeoutMs;
    this.#fetch = opts.fetch;
    this.#pumps = Promise.all([
      this.#pump(init.child.stdout, false),
      this.#pump(init.child.stderr, init.watchdog).finally(() =>
        this.#resolvePid()
      ),
    ]).then(() => {});
    this.#exited = init.child.status.then((s) => {
      this.#endedAt = this.#now();
      this.#exitCode = s.code;
      this.#cutLifeline();
      return s;
    });
  }

  /**
   * The instance name.
   *
   * @returns The name.
   */
  getName(): string {
    return this.#name;
  }

  /**
   * The miner type.
   *
   * @returns The type.
   */
  getType(): string {
    return this.#type;
  }

  /**
   * The miner's process ID (under the watchdog, the miner itself, not the
   * watchdog shell, once {@linkcode ProcessMinerManager.startMiner} returned).
   */
  get pid(): number {
    return this.#pid;
  }

  /** @internal Resolves once the miner's PID is known (or output ended). */
  get pidKnown(): Promise<void> {
    return this.#pidKnown;
  }

  /** Closes the lifeline pipe: the watchdog then SIGKILLs the miner. */
  #cutLifeline(): void {
    this.#lifeline?.close().catch(() => {});
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.#endedAt === undefined;
  }

  /** The exit code, once the process has exited. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** Path of the config file the miner was started with. */
  get configPath(): string {
    return this.#configPath;
  }

  /** Resolves with the exit status when the process has exited. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    pidLine: boolean,
  ): Promise<void> {
    const decoder = new TextDecoder();
    const max = this.#maxLineLength;
    let buf = "";
    let discarding = false;
    let first = pidLine;
    const reader = stream.getReader();
    const cancel = () => void reader.cancel().catch(() => {});
    this.#stopReading.signal.addEventListener("abort", cancel, { once: true });
    const emit = (line: string) => {
      if (first) {
        first = false;
        const m = PID_LINE.exec(line);
        if (m !== null) {
          this.#pid = Number(m[1]);
          this.#resolvePid();
          return;
        }
      }
      if (discarding) {
        discarding = false;
        return;
      }
      this.#record(line);
    };
    try {
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        buf += decoder.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.search(/\r\n|\n|\r/)) >= 0) {
          const sep = buf.startsWith("\r\n", i) ? 2 : 1;
          emit(buf.slice(0, i));
          buf = buf.slice(i + sep);
        }
        if (buf.length > max) {
          if (!discarding) this.#record(buf.slice(0, max));
          discarding = true;
          buf = "";
        }
      }
      buf += decoder.decode();
      if (buf.length > 0) emit(buf);
    } catch {
      // The stream ends with the process; a read error just ends the pump.
    } finally {
      this.#stopReading.signal.removeEventListener("abort", cancel);
    }
  }

  #record(raw: string): void {
    const line = raw.length > this.#maxLineLength
      ? raw.slice(0, this.#maxLineLength)
      : raw;
    this.#log.push({ at: this.#now(), line });
    this.#parser.push(line);
  }

  /**
   * The newest console lines (standard output and error interleaved in the
   * order they were read), oldest first.
   *
   * @param lines The maximum number of lines.
   * @param since Only lines read at or after this time (inclusive).
   * @returns The lines.
   */
  getConsoleHistorySince(lines: number, since?: Date): string[] {
    const all = this.#log.toArray();
    const from = since ? since.getTime() : Number.NEGATIVE_INFINITY;
    const kept = Number.isNaN(from) ? all : all.filter((e) => e.at >= from);
    const n = Math.max(0, Math.floor(lines));
    return kept.slice(Math.max(0, kept.length - n)).map((e) => e.line);
  }

  /**
   * Current figures: from XMRig's HTTP API when the config enables it on a
   * loopback address and it answers, else from the console output.
   *
   * @returns The figures.
   */
  async getStats(): Promise<ProcessMinerStats> {
    const out = this.#parser.stats();
    const end = this.#endedAt ?? this.#now();
    const stats: ProcessMinerStats = {
      ...out,
      uptime: Math.max(0, Math.floor((end - this.#startedAt) / 1000)),
      running: this.running,
      pid: this.#child.pid,
      source: "output",
    };
    if (this.#exitCode !== undefined) stats.exitCode = this.#exitCode;
    if (this.#api && this.running) {
      const api = await this.#readApi(this.#api);
      if (api) Object.assign(stats, api, { source: "api" });
    }
    return stats;
  }

  async #readApi(
    ep: ApiEndpoint,
  ): Promise<Partial<ProcessMinerStats> | undefined> {
    try {
      const headers: Record<string, string> = { accept: "application/json" };
      if (ep.token) headers.authorization = `Bearer ${ep.token}`;
      const res = await this.#fetch(ep.url, {
        headers,
        signal: AbortSignal.timeout(this.#apiTimeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      const text = await res.text();
      if (text.length > 1 << 20) return undefined;
      return parseSummary(JSON.parse(text));
    } catch {
      return undefined;
    }
  }

  /**
   * Kills the process at once with SIGKILL (no waiting). Used on process
   * exit; prefer {@linkcode ProcessMinerInstance.stop}.
   */
  killNow(): void {
    if (!this.running) return;
    if (this.#lifeline !== undefined) {
      // The watchdog's process group: the miner, its children, the watchdog.
      this.#killGroup();
      // Should the group signal fail, the watchdog does the same on EOF.
      this.#cutLifeline();
      return;
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /**
   * SIGKILLs the watchdog's process group. Only while the watchdog has not
   * been reaped: its PID is then the group's ID and cannot name another
   * process.
   */
  #killGroup(): void {
    if (!this.#group || !this.running) return;
    try {
      Deno.kill(-this.#child.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  }

  /**
   * Stops the process: SIGTERM, then SIGKILL to its whole process group
   * (under the watchdog) when it has not exited within the grace period.
   * Resolves once the process has exited and its output has been read to
   * the end (at most one second more when something else holds the pipes
   * open). Safe to call more than once.
   *
   * @param graceMs Milliseconds to wait after SIGTERM.
   * @returns Resolves when the process is gone.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.running) {
      try {
        this.#child.kill(Deno.build.os === "windows" ? "SIGKILL" : "SIGTERM");
      } catch {
        // exited in between
      }
      const grace = delay(graceMs);
      const done = await Promise.race([
        this.#exited.then(() => true),
        grace.promise.then(() => false),
      ]);
      grace.cancel();
      if (!done) {
        this.#log.push({
          at: this.#now(),
          line:
            `lthn-p2p: no exit ${graceMs} ms after SIGTERM, sending SIGKILL`,
        });
        this.killNow();
        if (this.#lifeline !== undefined) {
          // A watchdog that does not follow within 2 s is killed too.
          const late = delay(2_000);
          const gone = await Promise.race([
            this.#exited.then(() => true),
            late.promise.then(() => false),
          ]);
          late.cancel();
          if (!gone) {
            try {
              this.#child.kill("SIGKILL");
            } catch {
              // exited in between
            }
          }
        }
      }
    }
    await this.#exited;
    // Something the miner started may still hold its output pipes open (a
    // detached grandchild): read what is there for a moment, then stop.
    const tail = delay(OUTPUT_TAIL_MS);
    const drained = await Promise.race([
      this.#pumps.then(() => true),
      tail.promise.then(() => false),
    ]);
    tail.cancel();
    if (!drained) this.#stopReading.abort();
    await this.#pumps;
  }

  /**
   * Waits until the output has been read to the end (after exit).
   *
   * @returns Resolves when both output streams are closed.
   */
  drained(): Promise<void> {
    return this.#pumps;
  }
}

/**
 * Runs miners as child processes. See the module documentation for the
 * start configuration.
 *
 * Processes never outlive the manager: {@linkcode ProcessMinerManager.close}
 * stops them all, and a process `unload` listener kills any still running
 * when Deno exits normally. On Linux and macOS each miner also runs under a
 * small POSIX `sh` watchdog, in a process group of its own, whose standard
 * input is a pipe held by this process: when the worker dies, even by
 * SIGKILL, the pipe reaches EOF and the watchdog SIGKILLs the group (the
 * miner and everything it started) at once. The watchdog forwards SIGTERM,
 * SIGINT and SIGHUP, keeps the miner's output on the same pipes and exits
 * with its status. Stopping sends SIGTERM; a miner still running after the
 * grace period is SIGKILLed with its whole process group (a shell script
 * that defers SIGTERM while its `sleep` runs included), and output pipes
 * still held open by a detached grandchild are read for one more second
 * only, so a stop always ends shortly after the grace period. On Windows
 * there is no watchdog: a worker killed without cleanup (Task Manager,
 * `taskkill /F`) leaves its miners running.
 *
 * @example Running a tiny "miner" that prints a speed line
 * ```ts
 * import { ProcessMinerManager } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dataDir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dataDir}/miners/demo`, { recursive: true });
 * const script = `${dataDir}/miners/demo/demo`;
 * await Deno.writeTextFile(
 *   script,
 *   "#!/bin/sh\necho '[2026-02-20 10:00:00.000]  miner    speed 10s/60s/15m 99.5 n/a n/a H/s max 99.5 H/s'\nexec sleep 30\n",
 * );
 * await Deno.chmod(script, 0o755);
 * const miners = new ProcessMinerManager({ dataDir, stopGraceMs: 2000 });
 * try {
 *   const m = await miners.startMiner("demo", {});
 *   assert.equal(m.getName(), "demo");
 *   for (let i = 0; i < 100 && (await m.getStats()).hashrate === 0; i++) {
 *     await new Promise((r) => setTimeout(r, 20));
 *   }
 *   assert.equal((await m.getStats()).hashrate, 99.5);
 *   await miners.stopMiner("demo");
 *   assert.equal(miners.listMiners().length, 0);
 * } finally {
 *   await miners.close();
 *   await Deno.remove(dataDir, { recursive: true });
 * }
 * ```
 */
export class ProcessMinerManager implements MinerManager {
  readonly #minersDir: string;
  readonly #runDir: string;
  readonly #executables: Record<string, string>;
  readonly #buildArgs: (context: BuildArgsContext) => string[];
  readonly #env: Record<string, string> | undefined;
  readonly #stopGraceMs: number;
  readonly #startupCheckMs: number;
  readonly #maxLogLines: number;
  readonly #maxLineLength: number;
  readonly #maxMiners: number;
  readonly #apiTimeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #miners = new Map<string, ProcessMinerInstance>();
  readonly #starting = new Set<string>();
  #closed = false;
  #unloadInstalled = false;
  readonly #onUnload = (): void => {
    for (const m of this.#miners.values()) m.killNow();
  };

  /**
   * Creates the manager. Nothing is started or created on disk yet.
   *
   * @param options Directories, limits and hooks.
   * @throws {RangeError} For a negative or non-integer limit.
   */
  constructor(options: ProcessMinerManagerOptions = {}) {
    const dataDir = options.dataDir ?? defaultPaths().dataDir;
    this.#minersDir = options.minersDir ?? join(dataDir, "miners");
    this.#runDir = options.runDir ?? join(dataDir, "run");
    this.#executables = { ...options.executables };
    this.#buildArgs = options.buildArgs ??
      ((c) => [`--config=${c.configPath}`, ...c.extraArgs]);
    this.#env = options.env;
    this.#stopGraceMs = limit(
      "stopGraceMs",
      options.stopGraceMs,
      DEFAULT_STOP_GRACE_MS,
      0,
    );
    this.#startupCheckMs = limit(
      "startupCheckMs",
      options.startupCheckMs,
      300,
      0,
    );
    this.#maxLogLines = limit(
      "maxLogLines",
      options.maxLogLines,
      DEFAULT_MAX_LOG_LINES,
      1,
    );
    this.#maxLineLength = limit(
      "maxLineLength",
      options.maxLineLength,
      DEFAULT_MAX_LINE_LENGTH,
      1,
    );
    this.#maxMiners = limit(
      "maxMiners",
      options.maxMiners,
      DEFAULT_MAX_MINERS,
      1,
    );
    this.#apiTimeoutMs = limit("apiTimeoutMs", options.apiTimeoutMs, 2000, 1);
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#log = options.logger ?? getGlobalLogger().child("node:miner");
    this.#now = options.now ?? Date.now;
  }

  /** Where miners are installed. */
  get minersDir(): string {
    return this.#minersDir;
  }

  /**
   * Starts a miner process.
   *
   * @param minerType The miner type (a safe directory name, e.g. `xmrig`).
   * @param config A miner config object, a profile with a `config` object, or `null`.
   * @returns The running instance.
   * @throws {MinerError} `invalid_name`, `invalid_config`, `already_running`,
   * `limit_reached`, `executable_not_found`, `spawn_failed` or `closed`.
   */
  async startMiner(
    minerType: string,
    config: JsonValue,
  ): Promise<ProcessMinerInstance> {
    if (this.#closed) {
      throw new MinerError("closed", "Cannot start miner: manager closed");
    }
    if (!isSafeName(minerType)) {
      throw new MinerError(
        "invalid_name",
        "Cannot start miner: unsafe miner type",
      );
    }
    const plan = splitConfig(config);
    const name = this.#chooseName(minerType, plan.minerName);
    this.#starting.add(name);
    try {
      const old = this.#miners.get(name);
      if (old) {
        // Only exited instances reach here (#chooseName refuses running ones).
        this.#miners.delete(name);
        await old.stop(0);
      }
      if (this.#miners.size >= this.#maxMiners) {
        throw new MinerError(
          "limit_reached",
          `Cannot start miner: limit of ${this.#maxMiners} miners reached`,
        );
      }
      const exe = await this.#resolveExecutable(minerType, plan.executable);
      const configPath = join(this.#runDir, `${name}.json`);
      await writeFileAtomic(
        configPath,
        JSON.stringify(plan.config, null, 2) + "\n",
        {
          mode: 0o600,
          dirMode: 0o700,
        },
      );
      const args = this.#buildArgs({
        minerType,
        configPath,
        config: plan.config,
        extraArgs: plan.args,
      });
      let child: Deno.ChildProcess;
      const watchdog = Deno.build.os !== "windows";
      try {
        if (watchdog) await checkExecutable(exe);
        const cmd = new Deno.Command(
          watchdog ? "/bin/sh" : exe,
          {
            args: watchdog
              ? ["-c", WATCHDOG, "lthn-miner", exe, ...args]
              : args,
            cwd: dirname(exe),
            stdin: watchdog ? "piped" : "null",
            // A session and process group of its own, so that the miner and
            // everything it starts can be killed together.
            detached: watchdog,
            stdout: "piped",
            stderr: "piped",
            ...(this.#env ? { env: this.#env } : {}),
          },
        );
        child = cmd.spawn();
      } catch (err) {
        await Deno.remove(configPath).catch(() => {});
        throw new MinerError(
          "spawn_failed",
          `Cannot start miner ${name}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const inst = new ProcessMinerInstance(
        {
          name,
          type: minerType,
          child,
          configPath,
          api: apiEndpoint(plan.config),
          watchdog,
        },
        {
          now: this.#now,
          maxLogLines: this.#maxLogLines,
          maxLineLength: this.#maxLineLength,
          apiTimeoutMs: this.#apiTimeoutMs,
          fetch: this.#fetch,
        },
      );
      this.#miners.set(name, inst);
      this.#installUnload();
      await inst.pidKnown;
      this.#log.info("miner started", {
        miner: name,
        type: minerType,
        pid: inst.pid,
      });
      if (this.#startupCheckMs > 0) await this.#checkStartup(inst);
      return inst;
    } finally {
      this.#starting.delete(name);
    }
  }

  async #checkStartup(inst: ProcessMinerInstance): Promise<void> {
    const wait = delay(this.#startupCheckMs);
    const exited = await Promise.race([
      inst.exited.then(() => true),
      wait.promise.then(() => false),
    ]);
    wait.cancel();
    if (!exited) return;
    await inst.drained();
    this.#miners.delete(inst.getName());
    await Deno.remove(inst.configPath).catch(() => {});
    const last = inst.getConsoleHistorySince(1)[0];
    throw new MinerError(
      "spawn_failed",
      `Cannot start miner ${inst.getName()}: exited at start with code ${inst.exitCode}` +
        (last ? `: ${last.slice(0, 200)}` : ""),
    );
  }

  #chooseName(minerType: string, wanted: string | undefined): string {
    const taken = (n: string) =>
      this.#starting.has(n) || (this.#miners.get(n)?.running ?? false);
    if (wanted !== undefined) {
      if (!isSafeName(wanted)) {
        throw new MinerError(
          "invalid_name",
          "Cannot start miner: unsafe minerName",
        );
      }
      if (taken(wanted)) {
        throw new MinerError(
          "already_running",
          `Cannot start miner: already running: ${wanted}`,
        );
      }
      return wanted;
    }
    if (!taken(minerType)) return minerType;
    for (let i = 2; i <= this.#maxMiners + 1; i++) {
      const n = `${minerType}-${i}`;
      if (!taken(n)) return n;
    }
    throw new MinerError(
      "limit_reached",
      `Cannot start miner: limit of ${this.#maxMiners} miners reached`,
    );
  }

  async #resolveExecutable(
    minerType: string,
    explicit: string | undefined,
  ): Promise<string> {
    const mapped = this.#executables[minerType];
    if (mapped !== undefined && explicit === undefined) return mapped;
    const dir = join(this.#minersDir, minerType);
    const candidates: string[] = [];
    if (explicit !== undefined) {
      const clean = normalize(explicit);
      const full = join(dir, clean);
      const rel = relative(dir, full);
      if (
        explicit === "" || isAbsolute(explicit) || explicit.includes("\0") ||
        rel === "" || rel.startsWith("..") || isAbsolute(rel)
      ) {
        throw new MinerError(
          "invalid_name",
          "Cannot start miner: executable must be a path inside the miner's directory",
        );
      }
      candidates.push(full);
    } else {
      candidates.push(join(dir, minerType));
      if (Deno.build.os === "windows") {
        candidates.push(join(dir, `${minerType}.exe`));
      }
    }
    for (const c of candidates) {
      try {
        if ((await Deno.stat(c)).isFile) return c;
      } catch {
        // try the next one
      }
    }
    if (explicit === undefined) {
      const execs: string[] = [];
      try {
        for await (const e of Deno.readDir(dir)) {
          if (!e.isFile) continue;
          const st = await Deno.stat(join(dir, e.name));
          if (st.mode !== null && (st.mode & 0o111) !== 0) {
            execs.push(join(dir, e.name));
          }
        }
      } catch {
        // no such directory
      }
      if (execs.length === 1) return execs[0]!;
    }
    throw new MinerError(
      "executable_not_found",
      `Cannot start miner: no executable for miner type ${minerType} in miners${sep}${minerType}`,
    );
  }

  #installUnload(): void {
    if (this.#unloadInstalled) return;
    globalThis.addEventListener("unload", this.#onUnload);
    this.#unloadInstalled = true;
  }

  /**
   * Stops a miner (SIGTERM, then SIGKILL after the grace period) and
   * forgets it. Also removes an exited miner.
   *
   * @param name The instance name.
   * @returns Resolves when the process is gone.
   * @throws {MinerError} `not_found`.
   */
  async stopMiner(name: string): Promise<void> {
    const inst = this.#miners.get(name);
    if (!inst) {
      throw new MinerError(
        "not_found",
        `Cannot stop miner: not found: ${name}`,
      );
    }
    await inst.stop(this.#stopGraceMs);
    if (this.#miners.get(name) === inst) this.#miners.delete(name);
    await Deno.remove(inst.configPath).catch(() => {});
    this.#log.info("miner stopped", { miner: name, code: inst.exitCode });
  }

  /**
   * Lists the miners, running or exited (an exited miner stays listed, with
   * its logs, until stopped or replaced).
   *
   * @returns The instances.
   */
  listMiners(): ProcessMinerInstance[] {
    return [...this.#miners.values()];
  }

  /**
   * Looks a miner up.
   *
   * @param name The instance name.
   * @returns The instance, or `undefined`.
   */
  getMiner(name: string): ProcessMinerInstance | undefined {
    return this.#miners.get(name);
  }

  /**
   * Stops every miner and refuses new ones. Idempotent.
   *
   * @returns Resolves when every process is gone.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#miners.values()];
    await Promise.all(all.map((m) => m.stop(this.#stopGraceMs)));
    for (const m of all) {
      if (this.#miners.get(m.getName()) === m) this.#miners.delete(m.getName());
      await Deno.remove(m.configPath).catch(() => {});
    }
    if (this.#unloadInstalled) {
      globalThis.removeEventListener("unload", this.#onUnload);
      this.#unloadInstalled = false;
    }
  }

  /**
   * Same as {@linkcode ProcessMinerManager.close}.
   *
   * @returns Resolves when every process is gone.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function limit(
  name: string,
  v: number | undefined,
  dflt: number,
  min: number,
): number {
  if (v === undefined || v === 0 && min > 0) return dflt;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new RangeError(
      `Invalid ${name}: expected an integer >= ${min}, got ${v}`,
    );
  }
  return v;
}

interface LaunchPlan {
  config: JsonObject;
  minerName?: string;
  executable?: string;
  args: string[];
}

/**
 * Splits a start config into the miner config and the launcher keys.
 *
 * @throws {MinerError} `invalid_config`.
 */
function splitConfig(value: JsonValue): LaunchPlan {
  let outer: JsonObject = {};
  let inner: JsonObject;
  if (value === null) inner = {};
  else if (!isObject(value)) {
    throw new MinerError(
      "invalid_config",
      "Cannot start miner: config must be a JSON object or null",
    );
  } else if (isObject(value.config)) {
    outer = value;
    inner = value.config;
  } else inner = value;
  const plan: LaunchPlan = { config: {}, args: [] };
  const pick = (key: (typeof LAUNCHER_KEYS)[number]): JsonValue | undefined =>
    inner[key] ?? outer[key];
  const minerName = pick("minerName");
  if (minerName !== undefined) {
    if (typeof minerName !== "string") {
      throw new MinerError(
        "invalid_config",
        "Cannot start miner: minerName must be a string",
      );
    }
    plan.minerName = minerName;
  }
  const executable = pick("executable");
  if (executable !== undefined) {
    if (typeof executable !== "string") {
      throw new MinerError(
        "invalid_config",
        "Cannot start miner: executable must be a string",
      );
    }
    plan.executable = executable;
  }
  const args = pick("args");
  if (args !== undefined) {
    if (
      !Array.isArray(args) ||
      !args.every((a) => typeof a === "string" && !a.includes("\0"))
    ) {
      throw new MinerError(
        "invalid_config",
        "Cannot start miner: args must be an array of strings",
      );
    }
    plan.args = args as string[];
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  plan.config = Object.fromEntries(
    Object.entries(inner).filter(([k]) =>
      !(LAUNCHER_KEYS as readonly string[]).includes(k)
    ),
  );
  return plan;
}

/** Refuses what the watchdog's `exec` would fail on, with the spawn error of old. */
async function checkExecutable(path: string): Promise<void> {
  const st = await Deno.stat(path);
  if (!st.isFile) {
    throw new Deno.errors.PermissionDenied(`${path} is not a regular file`);
  }
  if (st.mode !== null && (st.mode & 0o111) === 0) {
    throw new Deno.errors.PermissionDenied(
      `Permission denied (os error 13): ${path} is not executable`,
    );
  }
}
