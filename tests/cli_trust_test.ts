/**
 * Trust over the real CLI, as child processes: a stranger's deploy and
 * miner start are refused (code 1002, nothing written, no process); after
 * `peers trust` on the running worker they succeed; after `peers distrust`
 * they are refused again; both states survive a restart of the worker.
 * `start --trust` and the config file's `trust`, the start summary, and
 * the warning of `--trust-any-controller` beyond loopback.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parsePrometheus } from "./_prometheus.ts";
import {
  CLI_PERMISSIONS,
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

function refused(r: CliResult, what: string): void {
  assert.equal(r.code, 1, `${what} should be refused: ${r.stdout}${r.stderr}`);
  assert.match(
    r.stderr,
    /remote error \(1002\): Worker\.authorize: peer [0-9a-f]{32} is not authorized for \w+; the worker does not trust this node/,
    what,
  );
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      out.push(`${rel}${e.name}`);
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${rel}${e.name}/`);
    }
  };
  await walk(dir, "");
  return out.sort();
}

async function pidIn(file: string): Promise<number | undefined> {
  const t = await Deno.readTextFile(file).catch(() => "");
  return t === "" ? undefined : Number(t);
}

Deno.test("CLI trust: refused until peers trust, obeyed, refused after distrust; survives worker restarts", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli_trust_" });
  let a: NodeProcess | undefined;
  let b: NodeProcess | undefined;
  try {
    [a, b] = await Promise.all([
      NodeProcess.start(CLI_SOURCE, `${root}/a`, "node-a"),
      NodeProcess.start(CLI_SOURCE, `${root}/b`, "node-b"),
    ]);
    const A = a;
    const onA = (args: string[]) => runCli(CLI_SOURCE, args, A.env);
    const onB = (args: string[]) => runCli(CLI_SOURCE, args, b!.env);
    const bData = b.status.paths.dataDir;
    const work = `${root}/work`;
    await Deno.mkdir(work);
    await Deno.copyFile(FAKE_MINER, `${work}/fake`);
    const pidFile = `${root}/miner.pid`;
    await Deno.writeTextFile(
      `${work}/run.json`,
      JSON.stringify({
        pools: [{ url: "pool.test:3333" }],
        fake: { intervalMs: 50, pidFile },
      }),
    );
    const deploy = () => onA(["deploy", "node-b", "--miner", `${work}/fake`]);
    const start = () =>
      onA(["miner", "start", "node-b", "fake", "--config", `${work}/run.json`]);
    const pair = async () =>
      ok(await onA(["peers", "add", b!.address]), "peers add");

    await pair();
    // A stranger to B: ping works, commands are refused and change nothing.
    ok(await onA(["ping", "node-b"]), "ping");
    const before = await tree(bData);
    refused(await deploy(), "deploy");
    assert.deepEqual(await tree(bData), before, "nothing written on B");
    // Even with the miner already installed on B, a start runs nothing.
    await Deno.mkdir(`${bData}/miners/fake`, { recursive: true });
    await Deno.copyFile(FAKE_MINER, `${bData}/miners/fake/fake`);
    await Deno.chmod(`${bData}/miners/fake/fake`, 0o755);
    refused(await start(), "miner start");
    refused(await onA(["stats", "node-b"]), "stats");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await pidIn(pidFile), undefined, "no miner process started");
    await Deno.remove(`${bData}/miners`, { recursive: true });

    // B trusts A's pairing code: the same commands succeed.
    const code = ok(
      await onA(["identity", "show", "--pairing"]),
      "identity show --pairing",
    ).trim();
    assert.match(
      ok(await onB(["peers", "trust", code]), "peers trust"),
      /^trusted controller node-a [0-9a-f]{32}\ntrusted controllers: 1\n$/,
    );
    const trustFile =
      `${root}/b/config/lethean-desktop/trusted-controllers.json`;
    assert.equal((await Deno.stat(trustFile)).mode! & 0o777, 0o600);
    const listed = ok(await onB(["peers", "list"]), "peers list");
    assert.match(
      listed,
      /trusted controllers: 1\n.*\n[0-9a-f]{32}\s+node-a\s+\S+=\s+peers trust/,
    );
    const st = JSON.parse(ok(await onB(["status", "--json"]), "status"));
    assert.deepEqual(st.commands, {
      policy: "trusted",
      trusted: 1,
      open: ["ping"],
    });

    const acked = async () => {
      ok(await deploy(), "deploy");
      assert.ok((await Deno.stat(`${bData}/miners/fake/fake`)).isFile);
      ok(await start(), "miner start");
      await waitFor(
        "miner pid",
        async () => (await pidIn(pidFile)) !== undefined,
      );
      const pid = (await pidIn(pidFile))!;
      assert.ok(processAlive(pid));
      ok(await onA(["miner", "stop", "node-b", "fake"]), "miner stop");
      await waitFor("miner exit", () => !processAlive(pid));
      await Deno.remove(pidFile);
      await Deno.remove(`${bData}/miners`, { recursive: true });
    };
    await acked();

    // Restart B: the trust is on disk.
    assert.equal((await b.stop()).code, 0, b.stderr);
    b = await NodeProcess.start(CLI_SOURCE, `${root}/b`, "node-b");
    await pair();
    await acked();

    // Distrust (by name), then restart: refused both times.
    ok(await onB(["peers", "distrust", "node-a"]), "peers distrust");
    const gone = JSON.parse(
      ok(await onB(["peers", "trusted", "--json"]), "peers trusted"),
    );
    assert.deepEqual(gone, []);
    refused(await deploy(), "deploy after distrust");
    refused(await start(), "miner start after distrust");
    assert.equal((await b.stop()).code, 0, b.stderr);
    b = await NodeProcess.start(CLI_SOURCE, `${root}/b`, "node-b");
    await pair();
    refused(await deploy(), "deploy after restart");
    refused(await start(), "miner start after restart");
    assert.equal(await pidIn(pidFile), undefined);
    await assert.rejects(
      Deno.stat(`${bData}/miners/fake`),
      Deno.errors.NotFound,
    );

    // B's metrics count what it obeyed and refused.
    const control = JSON.parse(
      await Deno.readTextFile(b.status.paths.controlFile),
    );
    const res = await fetch(`${control.url}/metrics`, {
      headers: { authorization: `Bearer ${control.token}` },
    });
    const m = parsePrometheus(await res.text());
    assert.equal(
      m.get('p2p_commands_total{command="deploy",outcome="refused"}'),
      1,
    );
    assert.equal(
      m.get('p2p_commands_total{command="start_miner",outcome="refused"}'),
      1,
    );
    assert.equal(m.get('p2p_commands_total{command="deploy",outcome="ok"}'), 0);
    assert.equal(m.get("p2p_trusted_controllers"), 0);

    // Bad input: one line, exit 1 or 2.
    const badKey = await onB(["peers", "trust", "nonsense"]);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /expected a public key/);
    const notTrusted = await onB(["peers", "distrust", "node-a"]);
    assert.equal(notTrusted.code, 1);
    assert.match(notTrusted.stderr, /no trusted controller matches/);
  } finally {
    await a?.kill();
    await b?.kill();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CLI trust: start --trust and the config file's trust list; they cannot be distrusted at run time", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli_trust_start_" });
  let a: NodeProcess | undefined;
  let b: NodeProcess | undefined;
  let c: NodeProcess | undefined;
  try {
    a = await NodeProcess.start(CLI_SOURCE, `${root}/a`, "node-a");
    const A = a;
    const onA = (args: string[]) => runCli(CLI_SOURCE, args, A.env);
    const code = ok(await onA(["identity", "show", "--pairing"]), "pairing")
      .trim();
    b = await NodeProcess.start(CLI_SOURCE, `${root}/b`, "node-b", [
      "--trust",
      code,
    ]);
    await Deno.mkdir(`${root}/cfg`);
    await Deno.writeTextFile(
      `${root}/cfg/c.json`,
      JSON.stringify({
        trust: [A.status.identity.publicKey],
        openReadOnly: true,
      }),
    );
    c = await NodeProcess.start(CLI_SOURCE, `${root}/c`, "node-c", [
      "--config",
      `${root}/cfg/c.json`,
    ]);
    for (const n of [b, c]) {
      ok(await onA(["peers", "add", n.address]), "peers add");
      const s = JSON.parse(
        ok(await onA(["stats", n.status.identity.name, "--json"]), "stats"),
      );
      assert.equal(s.nodeId, n.status.identity.id);
      const pinned = await runCli(CLI_SOURCE, [
        "peers",
        "distrust",
        A.status.identity.publicKey,
      ], n.env);
      assert.equal(pinned.code, 1);
      assert.match(pinned.stderr, /given at start/);
      const list = JSON.parse(
        ok(
          await runCli(CLI_SOURCE, ["peers", "trusted", "--json"], n.env),
          "trusted",
        ),
      );
      assert.equal(list.length, 1);
      assert.equal(list[0].source, "config");
      // Nothing was written: the trust lives in the start options.
      await assert.rejects(
        Deno.stat(`${n.root}/config/lethean-desktop/trusted-controllers.json`),
        Deno.errors.NotFound,
      );
    }
    assert.equal(
      (JSON.parse(
        ok(await runCli(CLI_SOURCE, ["status", "--json"], b.env), "status"),
      )).commands.open.length,
      1,
    );
    assert.deepEqual(
      (JSON.parse(
        ok(await runCli(CLI_SOURCE, ["status", "--json"], c.env), "status"),
      )).commands.open,
      ["ping", "get_stats", "get_logs"],
    );
    // A bad --trust is a usage error before anything starts.
    const bad = await runCli(
      CLI_SOURCE,
      ["start", "--trust", "nope"],
      nodeEnv(`${root}/d`),
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--trust: Cannot read controller key/);
  } finally {
    await a?.kill();
    await b?.kill();
    await c?.kill();
    await Deno.remove(root, { recursive: true });
  }
});

/** Runs `start` in text mode until the summary is out, then SIGTERM. */
async function summaryOf(
  args: string[],
  env: Record<string, string>,
  wrap: string[] = [],
): Promise<{ stdout: string; stderr: string }> {
  const cmd = [
    Deno.execPath(),
    "run",
    ...CLI_PERMISSIONS,
    "--no-prompt",
    "--quiet",
    CLI_SOURCE,
    "start",
    "--control-port",
    "0",
    "--log-level",
    "error",
    ...args,
  ];
  const full = [...wrap, ...cmd];
  const child = new Deno.Command(full[0]!, {
    args: full.slice(1),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const errDone = (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += c;
    }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!stdout.includes("Stop with Ctrl+C")) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
    }
    // Let the stderr notes that follow the summary arrive.
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
    }
    await child.status;
    await errDone;
  } finally {
    clearTimeout(timer);
  }
  return { stdout, stderr };
}

Deno.test("CLI start summary says who may command the node", async () => {
  const root = await Deno.makeTempDir({ prefix: "cli_trust_summary_" });
  try {
    const env = nodeEnv(root);
    const none = await summaryOf(["--listen", "127.0.0.1:0"], env);
    assert.match(
      none.stdout,
      /\n {2}commands {5}0 trusted controllers \(.*trusted-controllers\.json\); add one with "lthn-p2p peers trust <key\|code>"\n/,
    );
    const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
    const two = await summaryOf([
      "--listen",
      "127.0.0.1:0",
      "--trust",
      key,
      "--trust",
      "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
    ], env);
    assert.match(two.stdout, /\n {2}commands {5}2 trusted controllers \(/);
    const any = await summaryOf([
      "--listen",
      "127.0.0.1:0",
      "--trust-any-controller",
    ], env);
    assert.match(
      any.stdout,
      /\n {2}commands {5}ANY PEER \(--trust-any-controller\)\n/,
    );
    assert.doesNotMatch(any.stderr, /WARNING/, "loopback only: no warning");
    const ctl = await summaryOf([
      "--listen",
      "127.0.0.1:0",
      "--role",
      "controller",
    ], nodeEnv(`${root}/ctl`));
    assert.match(ctl.stdout, /commands {5}none \(role controller: no worker\)/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function netnsAvailable(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    const r = await new Deno.Command("ip", {
      args: ["netns", "list"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "CLI start with --trust-any-controller on every interface warns on stderr (in a private network namespace)",
  ignore: !(await netnsAvailable()),
  async fn() {
    const ns = `lthn-trust-${Deno.pid}`;
    const ip = (...args: string[]) =>
      new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).output();
    const root = await Deno.makeTempDir({ prefix: "cli_trust_ns_" });
    assert.ok((await ip("netns", "add", ns)).success, "ip netns add");
    try {
      await ip("-n", ns, "link", "set", "lo", "up");
      // An empty host listens on every interface; the namespace has only its own.
      const r = await summaryOf(
        ["--listen", ":0", "--trust-any-controller"],
        nodeEnv(root),
        ["ip", "netns", "exec", ns],
      );
      assert.match(r.stdout, /commands {5}ANY PEER \(--trust-any-controller\)/);
      assert.match(
        r.stderr,
        /lthn-p2p: WARNING: --trust-any-controller: any peer that can reach ws:\/\/.* can deploy and run programs on this machine/,
      );
    } finally {
      await ip("netns", "delete", ns);
      await Deno.remove(root, { recursive: true });
    }
  },
});
