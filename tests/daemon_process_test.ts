/**
 * The node as a daemon, with the real CLI in child processes (issue 15):
 * a restarted controller (kill -9) reconnects its five workers by itself,
 * nothing it acknowledged is lost, a SIGSTOPped worker is reported as not
 * answering and a fleet `stats` does not wait for it, a second `start` on
 * the same directories is refused while the first keeps working, deploy
 * leftovers are removed at start, a SIGTERM-ignoring miner is stopped
 * within the controller's timeout, and `lthn-p2p stop` shuts a node down.
 */

import assert from "node:assert/strict";
import { ControlClient } from "../node/control_api.ts";
import type { FleetReport, PeerView } from "../node/control/methods.ts";
import {
  CLI_SOURCE,
  type CliResult,
  NodeProcess,
  processAlive,
  runCli,
  waitFor,
} from "./_cli_process.ts";

function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function peersOf(node: NodeProcess): Promise<PeerView[]> {
  const c = new ControlClient(
    JSON.parse(await Deno.readTextFile(node.status.paths.controlFile)),
  );
  return await c.call("peers.list") as PeerView[];
}

async function readPeersFile(node: NodeProcess): Promise<{ id: string }[]> {
  return JSON.parse(await Deno.readTextFile(node.status.paths.peersPath)) ??
    [];
}

Deno.test("a controller killed with -9 and restarted reconnects its 5 workers by itself; nothing acknowledged is lost; a SIGSTOPped worker is reported, not waited for", async () => {
  const root = await Deno.makeTempDir({ prefix: "daemon_fleet_" });
  const workers: NodeProcess[] = [];
  let ctl: NodeProcess | undefined;
  try {
    ctl = await NodeProcess.start(CLI_SOURCE, `${root}/ctl`, "ctl", [
      "--role",
      "controller",
    ]);
    // The workers obey this controller.
    const ctlKey = ctl.status.identity.publicKey;
    workers.push(
      ...await Promise.all(
        [0, 1, 2, 3, 4].map((i) =>
          NodeProcess.start(CLI_SOURCE, `${root}/w${i}`, `w${i}`, [
            "--role",
            "worker",
            "--trust",
            ctlKey,
          ])
        ),
      ),
    );
    const cli = (args: string[]) => runCli(CLI_SOURCE, args, ctl!.env);

    // Operator changes, each killed right after its acknowledgement.
    for (const w of workers) {
      ok(await cli(["peers", "add", w.address]), "peers add");
    }
    ok(await cli(["peers", "mode", "allowlist"]), "peers mode");
    ctl.child.kill("SIGKILL");
    await ctl.kill();
    const saved = await readPeersFile(ctl);
    assert.deepEqual(
      saved.map((p) => p.id).sort(),
      workers.map((w) => w.status.identity.id).sort(),
      "every acknowledged peers add is on disk after kill -9",
    );

    // Restart on the same directories: the lock died with the process.
    const t0 = performance.now();
    ctl = await NodeProcess.start(CLI_SOURCE, `${root}/ctl`, "ctl", [
      "--role",
      "controller",
    ]);
    await waitFor(
      "5 workers connected",
      async () =>
        (await peersOf(ctl!)).filter((p) => p.state === "connected")
          .length === 5,
      30_000,
    );
    const took = performance.now() - t0;
    console.log(`restart to 5 connected: ${took.toFixed(0)} ms`);
    const st = JSON.parse(ok(await cli(["status", "--json"]), "status"));
    assert.equal(st.authMode, "allowlist", "peers mode survived kill -9");

    // One worker stops answering.
    const frozen = workers[2]!;
    const frozenId = frozen.status.identity.id;
    frozen.child.kill("SIGSTOP");
    try {
      const client = new ControlClient(
        JSON.parse(await Deno.readTextFile(ctl.status.paths.controlFile)),
      );
      // Asked at once: the wait ends when the worker turns unhealthy.
      const t1 = performance.now();
      const first = await client.call("stats", {}) as FleetReport;
      const firstMs = performance.now() - t1;
      console.log(`fleet stats right after SIGSTOP: ${firstMs.toFixed(0)} ms`);
      assert.equal(Object.keys(first.stats).length, 4);
      assert.deepEqual(first.missing.map((m) => m.peerId), [frozenId]);
      assert.ok(firstMs < 9_000, `well within the 10 s timeout: ${firstMs}`);
      // Marked: peers list says so, and stats no longer waits at all.
      await waitFor(
        "marked not answering",
        async () =>
          (await peersOf(ctl!)).find((p) => p.id === frozenId)?.healthy ===
            false,
      );
      const t2 = performance.now();
      const second = await client.call("stats", {}) as FleetReport;
      const secondMs = performance.now() - t2;
      console.log(`fleet stats once marked: ${secondMs.toFixed(0)} ms`);
      assert.equal(second.missing[0]?.reason, "unhealthy");
      assert.ok(secondMs < 3_000, `not waited for: ${secondMs} ms`);
      const text = ok(await cli(["stats"]), "stats");
      assert.match(text, /no answer from 1 connected worker/);
      assert.match(text, new RegExp(`w2 ${frozenId}\\s+unhealthy: silent for`));
      const list = ok(await cli(["peers", "list"]), "peers list");
      assert.match(list, /not answering/);
    } finally {
      frozen.child.kill("SIGCONT");
    }
    // Back: answering again, over the same connection.
    await waitFor(
      "answering again",
      async () =>
        (await peersOf(ctl!)).find((p) => p.id === frozenId)?.healthy === true,
    );
    const all = JSON.parse(ok(await cli(["stats", "--json"]), "stats"));
    assert.equal(Object.keys(all.stats).length, 5);
  } finally {
    await ctl?.kill();
    await Promise.all(workers.map((w) => w.kill()));
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a second start on the same directories is refused in one line; the first keeps working with the CLI", async () => {
  const root = await Deno.makeTempDir({ prefix: "daemon_lock_" });
  let a: NodeProcess | undefined;
  try {
    a = await NodeProcess.start(CLI_SOURCE, `${root}/a`, "a");
    const control = await Deno.readTextFile(a.status.paths.controlFile);
    const second = await runCli(CLI_SOURCE, [
      "start",
      "--listen",
      "127.0.0.1:0",
      "--control-port",
      "0",
    ], a.env);
    assert.equal(second.code, 1, second.stderr);
    const lines = second.stderr.trim().split("\n");
    assert.equal(lines.length, 1, second.stderr);
    assert.match(
      lines[0]!,
      new RegExp(
        `another node is running on .* \\(pid ${a.status.pid}, control ${
          a.status.control.replace(/[.]/g, "\\.")
        }\\)`,
      ),
    );
    assert.equal(
      await Deno.readTextFile(a.status.paths.controlFile),
      control,
      "the first node's control file is untouched",
    );
    const st = JSON.parse(
      ok(await runCli(CLI_SOURCE, ["status", "--json"], a.env), "status"),
    );
    assert.equal(st.pid, a.status.pid);

    // lthn-p2p stop: graceful, through the control API.
    const stopped = ok(
      await runCli(CLI_SOURCE, ["stop"], a.env),
      "stop",
    );
    assert.match(
      stopped,
      new RegExp(`stopped node "a" \\(pid ${a.status.pid}\\)`),
    );
    const status = await a.child.status;
    assert.equal(status.code, 0);
    await a.stop();
    assert.match(a.stderr, /stop requested \(lthn-p2p stop\), stopping/);
    await assert.rejects(
      Deno.stat(a.status.paths.controlFile),
      Deno.errors.NotFound,
    );
    assert.equal(
      await Deno.readTextFile(a.status.paths.peersPath),
      "null",
      "the registry is written even when empty",
    );
    // Now the directory is free.
    a = await NodeProcess.start(CLI_SOURCE, `${root}/a`, "a");
  } finally {
    await a?.kill();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name:
    "deploy leftovers are removed at start; a miner that ignores SIGTERM is stopped within the controller's timeout",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "daemon_miner_" });
    let a: NodeProcess | undefined;
    let b: NodeProcess | undefined;
    const pids: number[] = [];
    try {
      // What a worker killed mid-deploy leaves behind.
      const staging =
        `${root}/b/data/lethean-desktop/miners/.stubborn.deploy-x1y2`;
      await Deno.mkdir(staging, { recursive: true });
      await Deno.writeTextFile(`${staging}/half-written`, "x");
      a = await NodeProcess.start(CLI_SOURCE, `${root}/a`, "a");
      b = await NodeProcess.start(CLI_SOURCE, `${root}/b`, "b", [
        "--trust",
        a.status.identity.publicKey,
      ]);
      await assert.rejects(Deno.stat(staging), Deno.errors.NotFound);
      const A = a;
      const cli = (args: string[]) => runCli(CLI_SOURCE, args, A.env);
      ok(await cli(["peers", "add", b.address, "--name", "b"]), "peers add");
      const work = `${root}/work`;
      await Deno.mkdir(work);
      await Deno.writeTextFile(
        `${work}/stubborn`,
        [
          "#!/bin/sh",
          "trap 'echo deferring SIGTERM' TERM",
          `sleep 120 & echo $! > '${root}/bg.pid'`,
          "echo running",
          "while :; do sleep 120; done",
          "",
        ].join("\n"),
      );
      await Deno.writeTextFile(`${work}/cfg.json`, "{}");
      ok(
        await cli(["deploy", "b", "--miner", `${work}/stubborn`]),
        "deploy",
      );
      ok(
        await cli([
          "miner",
          "start",
          "b",
          "stubborn",
          "--config",
          `${work}/cfg.json`,
        ]),
        "miner start",
      );
      await waitFor(
        "the miner's child",
        async () =>
          (await Deno.readTextFile(`${root}/bg.pid`).catch(() => "")) !== "",
      );
      pids.push(Number(await Deno.readTextFile(`${root}/bg.pid`)));
      const t0 = performance.now();
      ok(await cli(["miner", "stop", "b", "stubborn"]), "miner stop");
      const took = performance.now() - t0;
      console.log(`miner stop (grace 5 s): ${took.toFixed(0)} ms`);
      // Grace 5 s, then SIGKILL to the group; far from the 120 s sleeps
      // and inside the controller's 30 s timeout.
      assert.ok(took < 25_000, `stopped in ${took} ms`);
      await waitFor("no miner process", () => !pids.some(processAlive), 2_000);
    } finally {
      for (const p of pids) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch {
          // gone
        }
      }
      await a?.kill();
      await b?.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});
