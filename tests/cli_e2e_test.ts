/**
 * The real CLI as child processes: two nodes on ephemeral ports in
 * temporary XDG directories, paired, pinged, stats and logs read, a miner
 * bundle and a profile deployed, a miner started and stopped, `/metrics`
 * scraped and parsed, SIGTERM leaving no orphan and a flushed registry. The
 * same scenario runs against the bundled single file (`deno bundle`).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parsePrometheus } from "./_prometheus.ts";
import {
  CLI_SOURCE,
  type CliResult,
  nodeEnv,
  NodeProcess,
  processAlive,
  runCli,
  waitFor,
} from "./_cli_process.ts";

const FAKE_MINER = fileURLToPath(
  new URL("./fixtures/fake_miner.ts", import.meta.url),
);

function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function scenario(entry: string): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "cli_e2e_" });
  let a: NodeProcess | undefined;
  let b: NodeProcess | undefined;
  try {
    [a, b] = await Promise.all([
      NodeProcess.start(entry, `${root}/a`, "node-a"),
      NodeProcess.start(entry, `${root}/b`, "node-b"),
    ]);
    const A = a, B = b;
    const cli = (args: string[]) => runCli(entry, args, A.env);
    const bId = B.status.identity.id;

    // The control file is private to its owner.
    const mode = (await Deno.stat(A.status.paths.controlFile)).mode! & 0o777;
    assert.equal(mode, 0o600);

    // Pair: A connects to B and registers it.
    const added = JSON.parse(
      ok(await cli(["peers", "add", B.address, "--json"]), "peers add"),
    );
    assert.equal(added.id, bId);
    assert.equal(added.address, B.address);
    const list = JSON.parse(
      ok(await cli(["peers", "list", "--json"]), "peers list"),
    );
    assert.equal(list.length, 1);
    assert.equal(list[0].connected, true);

    // Ping by name, stats by ID prefix.
    const pong = JSON.parse(
      ok(await cli(["ping", "node-b", "--json"]), "ping"),
    );
    assert.equal(pong.peerId, bId);
    assert.ok(pong.rttMs > 0 && pong.rttMs < 5000);
    const human = ok(await cli(["ping", bId.slice(0, 8)]), "ping (text)");
    assert.match(human, /^pong from node-b [0-9a-f]{32}: [\d.]+ ms\n$/);

    // B obeys no one yet: stats are refused (Go's unauthorised error, 1002).
    const refused = await cli(["stats", "node-b"]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /remote error \(1002\).*peers trust/);
    // Trust A on B with A's pairing code.
    const code = ok(
      await runCli(entry, ["identity", "show", "--pairing"], A.env),
      "identity show --pairing",
    ).trim();
    assert.match(code, /^lthn-pair1\.\S+$/);
    ok(await runCli(entry, ["peers", "trust", code], B.env), "peers trust");
    const stats = JSON.parse(ok(await cli(["stats", bId, "--json"]), "stats"));
    assert.equal(stats.nodeId, bId);
    assert.equal(stats.nodeName, "node-b");
    assert.deepEqual(stats.miners, []);

    // Deploy a miner bundle (the fake miner, installed as miners/fake/fake)
    // and a profile that runs it.
    const work = `${root}/work`;
    await Deno.mkdir(work);
    await Deno.copyFile(FAKE_MINER, `${work}/fake`);
    const pidFile = `${root}/miner.pid`;
    await Deno.writeTextFile(
      `${work}/p1.json`,
      JSON.stringify({
        id: "p1",
        minerType: "fake",
        config: {
          pools: [{ url: "pool.test:3333", algo: "rx/0" }],
          fake: { intervalMs: 50, pidFile },
        },
      }),
    );
    const dm = JSON.parse(
      ok(
        await cli(["deploy", "node-b", "--miner", `${work}/fake`, "--json"]),
        "deploy miner",
      ),
    );
    assert.equal(dm.success, true);
    assert.equal(dm.name, "fake");
    const installed = await Deno.stat(
      `${B.status.paths.dataDir}/miners/fake/fake`,
    );
    assert.ok((installed.mode! & 0o100) !== 0, "execute bit restored");
    const dp = JSON.parse(
      ok(
        await cli([
          "deploy",
          "node-b",
          "--profile",
          `${work}/p1.json`,
          "--json",
        ]),
        "deploy profile",
      ),
    );
    assert.deepEqual([dp.success, dp.name], [true, "p1"]);

    // Start the miner, read its logs and stats, stop it.
    const started = JSON.parse(
      ok(
        await cli([
          "miner",
          "start",
          "node-b",
          "fake",
          "--profile",
          "p1",
          "--json",
        ]),
        "miner start",
      ),
    );
    assert.equal(started.minerName, "fake");
    await waitFor(
      "miner pid file",
      async () => (await Deno.readTextFile(pidFile).catch(() => "")) !== "",
    );
    const pid1 = Number(await Deno.readTextFile(pidFile));
    assert.ok(processAlive(pid1));
    let lines: string[] = [];
    await waitFor("miner output", async () => {
      lines = JSON.parse(
        ok(
          await cli(["logs", "node-b", "fake", "--lines", "50", "--json"]),
          "logs",
        ),
      ).lines;
      return lines.length >= 2;
    }, 15_000);
    assert.ok(lines.some((l) => l.includes("fake-miner")), lines.join("\n"));
    const s2 = JSON.parse(
      ok(await cli(["stats", "node-b", "--json"]), "stats with miner"),
    );
    assert.equal(s2.miners.length, 1);
    assert.equal(s2.miners[0].name, "fake");
    ok(await cli(["miner", "stop", "node-b", "fake"]), "miner stop");
    await waitFor("miner exit", () => !processAlive(pid1));
    const s3 = JSON.parse(ok(await cli(["stats", "--json"]), "stats (all)"));
    assert.deepEqual(Object.keys(s3.stats), [bId]);
    assert.deepEqual(s3.stats[bId].miners, []);
    assert.deepEqual(s3.missing, []);
    assert.deepEqual(s3.notConnected, []);

    // Start it again: SIGTERM to the worker must take it down too.
    await Deno.remove(pidFile);
    ok(
      await cli(["miner", "start", "node-b", "fake", "--profile", "p1"]),
      "miner start again",
    );
    await waitFor(
      "second miner pid file",
      async () => (await Deno.readTextFile(pidFile).catch(() => "")) !== "",
    );
    const pid2 = Number(await Deno.readTextFile(pidFile));
    assert.ok(processAlive(pid2));

    // Scrape /metrics with the token from the control file, and without.
    const control = JSON.parse(
      await Deno.readTextFile(A.status.paths.controlFile),
    );
    const denied = await fetch(`${control.url}/metrics`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const res = await fetch(`${control.url}/metrics`, {
      headers: { authorization: `Bearer ${control.token}` },
    });
    assert.equal(res.status, 200);
    assert.match(
      res.headers.get("content-type") ?? "",
      /^text\/plain; version=0\.0\.4/,
    );
    const m = parsePrometheus(await res.text());
    assert.equal(m.get("p2p_connections"), 1);
    assert.equal(m.get("p2p_peers"), 1);
    assert.ok(m.get('p2p_messages_total{direction="out",type="ping"}')! >= 2);
    assert.ok(m.get('p2p_messages_total{direction="in",type="pong"}')! >= 2);
    assert.ok(m.get('p2p_messages_total{direction="out",type="deploy"}')! >= 2);
    assert.ok(m.get('p2p_request_duration_seconds_count{op="ping"}')! >= 2);
    assert.equal(
      m.get('p2p_request_duration_seconds_bucket{le="+Inf",op="ping"}'),
      m.get('p2p_request_duration_seconds_count{op="ping"}'),
    );
    const health = await fetch(`${control.url}/healthz`);
    assert.equal(await health.text(), "ok\n");
    const st = JSON.parse(ok(await cli(["status", "--json"]), "status"));
    assert.equal(st.identity.id, A.status.identity.id);
    assert.equal(st.peers.connected, 1);
    assert.ok(st.counters.messagesOut >= 8);

    // SIGTERM: clean exit, no orphan miner, control file gone, peers flushed.
    const [sa, sb] = await Promise.all([A.stop(), B.stop()]);
    assert.equal(sa.code, 0, A.stderr);
    assert.equal(sb.code, 0, B.stderr);
    assert.match(B.stderr, /SIGTERM received, stopping/);
    assert.ok(!processAlive(pid2), "the miner was stopped with its node");
    await assert.rejects(
      Deno.stat(A.status.paths.controlFile),
      Deno.errors.NotFound,
    );
    const peers = JSON.parse(await Deno.readTextFile(A.status.paths.peersPath));
    assert.equal(peers.length, 1);
    assert.equal(peers[0].id, bId);
    assert.equal(peers[0].address, B.address);
    assert.ok(peers[0].pingMs > 0);
    assert.equal("connected" in peers[0], false);

    // With the node gone, operator commands fail in one line with a hint.
    const gone = await cli(["ping", "node-b"]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr.trim().split("\n").length, 1);
    assert.match(gone.stderr, /no control file .*lthn-p2p start/);
  } finally {
    await a?.kill();
    await b?.kill();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("CLI end to end: two nodes paired, pinged, deployed to, miner started and stopped, metrics, SIGTERM", async () => {
  await scenario(CLI_SOURCE);
});

Deno.test("bundled CLI (deno bundle) passes the same end-to-end scenario", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_bundle_" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=deno",
        "-o",
        `${dir}/lthn-p2p.js`,
        CLI_SOURCE,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    await scenario(`${dir}/lthn-p2p.js`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const BAD: string[][] = [
  [],
  ["frobnicate"],
  ["start", "--bogus"],
  ["start", "--listen", "nonsense"],
  ["start", "--role", "king"],
  ["ping"],
  ["peers", "frobnicate"],
  ["miner", "start", "peer"],
  ["deploy", "peer"],
  ["bundle", "create", "toaster", "file"],
  ["levin", "ping", "nohost"],
  ["identity", "delete"],
];

Deno.test("bad invocations of the real CLI exit 2 with a one-line message", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli_bad_" });
  try {
    const env = nodeEnv(root);
    const results = await Promise.all(
      BAD.map((args) => runCli(CLI_SOURCE, args, env)),
    );
    results.forEach((r, i) => {
      const what = `lthn-p2p ${BAD[i]!.join(" ")}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr ${r.stderr}`);
      assert.equal(r.stdout, "", what);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.match(lines[0]!, /^lthn-p2p/, what);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
