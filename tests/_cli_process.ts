/**
 * Runs the real `lthn-p2p` CLI as child processes for tests: one-shot
 * commands, and long-running nodes started with `start --json` in
 * temporary XDG directories on ephemeral ports.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { dirname } from "node:path";

/** The CLI entry point in the source tree. */
export const CLI_SOURCE: string = fileURLToPath(
  new URL("../cli.ts", import.meta.url),
);

/**
 * The permissions `deno task compile` embeds (and `deno task start` uses):
 * the tests run the CLI with exactly these, so a missing one fails here.
 */
export const CLI_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys=hostname",
];

/** The result of a one-shot command. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Environment for a node living in `root` (`root/data`, `root/config`). */
export function nodeEnv(root: string): Record<string, string> {
  const path = `${dirname(Deno.execPath())}:${
    Deno.env.get("PATH") ?? "/usr/bin:/bin"
  }`;
  const env: Record<string, string> = {
    PATH: path,
    XDG_DATA_HOME: `${root}/data`,
    XDG_CONFIG_HOME: `${root}/config`,
    NO_COLOR: "1",
  };
  // Keep Deno's cache (found through HOME or DENO_DIR) so nothing is downloaded.
  for (const k of ["HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/**
 * Runs the CLI once and collects its output.
 *
 * @param entry `cli.ts` or the bundled file.
 * @param args The arguments.
 * @param env The environment.
 * @returns Exit code and output.
 */
export async function runCli(
  entry: string,
  args: string[],
  env: Record<string, string>,
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, "--no-prompt", "--quiet", entry, ...args],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** A node running in a child process. */
export class NodeProcess {
  readonly child: Deno.ChildProcess;
  readonly root: string;
  readonly env: Record<string, string>;
  /** The `start --json` status line. */
  status!: {
    identity: { id: string; name: string; publicKey: string };
    listen: string;
    control: string;
    paths: { controlFile: string; peersPath: string; dataDir: string };
    pid: number;
  };
  #stderr = "";
  #drain: Promise<void>[] = [];

  private constructor(
    child: Deno.ChildProcess,
    root: string,
    env: Record<string, string>,
  ) {
    this.child = child;
    this.root = root;
    this.env = env;
  }

  /** Standard error so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** `host:port` peers dial. */
  get address(): string {
    return new URL(this.status.listen).host;
  }

  /**
   * Starts `lthn-p2p start --json` and waits for its status line.
   *
   * @param entry `cli.ts` or the bundled file.
   * @param root Temporary directory for its XDG dirs.
   * @param name Node name.
   * @param extra More `start` arguments (they win over the defaults).
   * @returns The running node.
   */
  static async start(
    entry: string,
    root: string,
    name: string,
    extra: string[] = [],
  ): Promise<NodeProcess> {
    const env = nodeEnv(root);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...CLI_PERMISSIONS,
        "--no-prompt",
        "--quiet",
        entry,
        "start",
        "--json",
        "--name",
        name,
        "--listen",
        "127.0.0.1:0",
        "--control-port",
        "0",
        "--log-level",
        "warn",
        ...extra,
      ],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const node = new NodeProcess(child, root, env);
    node.#drain.push(
      (async () => {
        for await (
          const chunk of child.stderr.pipeThrough(new TextDecoderStream())
        ) {
          node.#stderr += chunk;
        }
      })(),
    );
    const { promise: first, resolve, reject } = Promise.withResolvers<string>();
    node.#drain.push(
      (async () => {
        let buf = "";
        let done = false;
        for await (
          const chunk of child.stdout.pipeThrough(new TextDecoderStream())
        ) {
          buf += chunk;
          const nl = buf.indexOf("\n");
          if (!done && nl >= 0) {
            done = true;
            resolve(buf.slice(0, nl));
          }
        }
        if (!done) reject(new Error("node exited before printing its status"));
      })(),
    );
    const timer = setTimeout(
      () => reject(new Error("node did not start in 30 s")),
      30_000,
    );
    try {
      node.status = JSON.parse(await first);
    } catch (err) {
      await node.kill();
      throw new Error(`${(err as Error).message}\nstderr:\n${node.#stderr}`);
    } finally {
      clearTimeout(timer);
    }
    return node;
  }

  /**
   * Sends a signal and waits for the exit (SIGKILL after 20 s).
   *
   * @param signal The signal.
   * @returns The exit status.
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 20_000);
    try {
      const status = await this.child.status;
      await Promise.allSettled(this.#drain);
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the node (cleanup in `finally`). */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.child.status;
    await Promise.allSettled(this.#drain);
  }
}

/**
 * Tells whether a process exists.
 *
 * @param pid The process ID.
 * @returns `true` when it is alive (and not a zombie).
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(
      stat.lastIndexOf(")") + 2,
      stat.lastIndexOf(")") + 3,
    );
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * Polls until a condition holds.
 *
 * @param what Description for the error.
 * @param f The condition.
 * @param timeoutMs Deadline.
 */
export async function waitFor(
  what: string,
  f: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
