/**
 * Daemon benchmark (issue 15), with the real CLI in child processes on
 * loopback: N workers (one process each) and a controller that knows them.
 *
 * 1. Restart: the controller is stopped (SIGTERM) and started again on
 *    the same directories; measured is the time from the new process's
 *    spawn (and from its status line) until all N workers are connected
 *    again, with no operator command. Gives up after `--wait` seconds.
 * 2. A silent worker: one worker is SIGSTOPped; measured is a fleet
 *    `stats` (the control API's `stats` without a peer) issued at once, and
 *    another issued 7 s later (once a silent peer is marked).
 *
 * Run it against another checkout of the CLI (e.g. the commit before) with
 * `--cli`, from the same script, to compare in one session:
 *
 *     deno run -A bench/daemon/run.ts --workers 10
 *     git archive e7a2db4 | tar -x -C /tmp/base
 *     deno run -A bench/daemon/run.ts --workers 10 --cli /tmp/base/cli.ts
 *
 * Usage: `deno run -A bench/daemon/run.ts [--workers N] [--cli path]
 * [--wait seconds] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ControlClient } from "../../node/control_api.ts";
import { NodeProcess } from "../../tests/_cli_process.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    workers: { type: "string", default: "10" },
    cli: {
      type: "string",
      default: fileURLToPath(new URL("../../cli.ts", import.meta.url)),
    },
    wait: { type: "string", default: "30" },
    json: { type: "boolean" },
  },
  strict: true,
});
const N = Number(flags.workers);
const WAIT_MS = Number(flags.wait) * 1000;
const CLI = flags.cli!;

function log(line: string): void {
  if (!flags.json) console.error(line);
}

async function client(node: NodeProcess): Promise<ControlClient> {
  return new ControlClient(
    JSON.parse(await Deno.readTextFile(node.status.paths.controlFile)),
  );
}

async function connected(c: ControlClient): Promise<number> {
  const st = await c.status() as { peers: { connected: number } };
  return st.peers.connected;
}

const root = await Deno.makeTempDir({ prefix: "daemon_bench_" });
const workers: NodeProcess[] = [];
let ctl: NodeProcess | undefined;
const result: Record<string, unknown> = { cli: CLI, workers: N };
try {
  log(`starting ${N} workers…`);
  for (let i = 0; i < N; i += 10) {
    workers.push(
      ...await Promise.all(
        Array.from(
          { length: Math.min(10, N - i) },
          (_, k) =>
            NodeProcess.start(CLI, `${root}/w${i + k}`, `w${i + k}`, [
              "--role",
              "worker",
              "--log-level",
              "error",
            ]),
        ),
      ),
    );
  }
  const ctlArgs = ["--role", "controller", "--log-level", "error"];
  ctl = await NodeProcess.start(CLI, `${root}/ctl`, "ctl", ctlArgs);
  let c = await client(ctl);
  for (const w of workers) await c.call("peers.add", { address: w.address });
  log(`controller knows ${N} workers; restarting it`);
  await ctl.stop("SIGTERM");

  const spawned = performance.now();
  ctl = await NodeProcess.start(CLI, `${root}/ctl`, "ctl", ctlArgs);
  const listening = performance.now();
  c = await client(ctl);
  let n = 0;
  while ((n = await connected(c)) < N) {
    if (performance.now() - listening > WAIT_MS) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const done = performance.now();
  result.restart = {
    connected: n,
    fromSpawnMs: n === N ? Math.round(done - spawned) : null,
    fromStatusLineMs: n === N ? Math.round(done - listening) : null,
    startupMs: Math.round(listening - spawned),
    gaveUpAfterMs: n === N ? null : WAIT_MS,
  };
  log(
    n === N
      ? `restart: ${N}/${N} connected ${
        (done - spawned).toFixed(0)
      } ms after spawn (${
        (done - listening).toFixed(0)
      } ms after its status line)`
      : `restart: ${n}/${N} connected after ${WAIT_MS / 1000} s`,
  );

  // Reconnect by hand if the node did not (the old behaviour), so that the
  // silent-worker run has a full fleet.
  if (n < N) {
    for (const w of workers) {
      await c.call("ping", { peer: w.status.identity.id }).catch(() => {});
    }
  }
  const frozen = workers[Math.floor(N / 2)]!;
  frozen.child.kill("SIGSTOP");
  try {
    const t0 = performance.now();
    await c.call("stats", {});
    const atOnce = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 7_000));
    const t1 = performance.now();
    await c.call("stats", {});
    const later = performance.now() - t1;
    result.silentWorker = {
      statsAtOnceMs: Math.round(atOnce),
      statsAfter7sMs: Math.round(later),
    };
    log(
      `fleet stats with one SIGSTOPped worker: ${
        atOnce.toFixed(0)
      } ms at once, ${later.toFixed(0)} ms 7 s later`,
    );
  } finally {
    frozen.child.kill("SIGCONT");
  }
} finally {
  await ctl?.kill();
  await Promise.all(workers.map((w) => w.kill()));
  await Deno.remove(root, { recursive: true });
}
if (flags.json) console.log(JSON.stringify(result));
