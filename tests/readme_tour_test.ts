/**
 * The README's five-minute tour, run as written: its shell commands are
 * read from README.md and run with bash, in order, as child processes. The
 * only changes are those a test needs: temporary directories instead of the
 * user's (`/tmp/beta` and node A's XDG directories), a free loopback port
 * instead of `:9191`, port 0 for the control APIs, a stand-in `./xmrig`
 * (tests/fixtures/fake_miner.ts), and `lthn-p2p` as a shell function
 * running the CLI with the permissions `deno task start` grants.
 *
 * Run again without the trust step, the same tour must fail: B refuses A's
 * stats, deploys and miner commands with error 1002 and installs nothing.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  CLI_PERMISSIONS,
  CLI_SOURCE,
  nodeEnv,
  processAlive,
  waitFor,
} from "./_cli_process.ts";

const README = fileURLToPath(new URL("../README.md", import.meta.url));
const FAKE_MINER = fileURLToPath(
  new URL("./fixtures/fake_miner.ts", import.meta.url),
);

/** The shell commands of the tour, continuation lines joined, comments dropped. */
async function tourCommands(): Promise<string[]> {
  const text = await Deno.readTextFile(README);
  const from = text.indexOf("## A five-minute tour");
  const to = text.indexOf("\n## ", from + 1);
  assert.ok(from >= 0 && to > from, "the README has a tour section");
  const section = text.slice(from, to);
  const out: string[] = [];
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = m[1]!.split("\n").map((l) => l.trim());
    let cur = "";
    for (const l of lines) {
      if (l.endsWith("\\")) {
        cur += l.slice(0, -1) + " ";
        continue;
      }
      cur += l;
      const cmd = cur.replace(/\s+#\s.*$/, "").trim();
      cur = "";
      if (cmd !== "") out.push(cmd);
    }
  }
  return out;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Step {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

class Background {
  stdout = "";
  stderr = "";
  readonly #drain: Promise<void>[];
  constructor(readonly child: Deno.ChildProcess) {
    this.#drain = [
      (async () => {
        for await (
          const c of child.stdout.pipeThrough(new TextDecoderStream())
        ) this.stdout += c;
      })(),
      (async () => {
        for await (
          const c of child.stderr.pipeThrough(new TextDecoderStream())
        ) this.stderr += c;
      })(),
    ];
  }
  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // gone
    }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 20_000);
    try {
      const st = await this.child.status;
      await Promise.allSettled(this.#drain);
      return st;
    } finally {
      clearTimeout(t);
    }
  }
}

async function runTour(
  opts: { skipTrust: boolean },
): Promise<{ steps: Step[]; nodes: Background[]; root: string }> {
  const root = await Deno.makeTempDir({ prefix: "readme_tour_" });
  const work = `${root}/work`;
  await Deno.mkdir(work);
  await Deno.copyFile(FAKE_MINER, `${work}/xmrig`);
  await Deno.chmod(`${work}/xmrig`, 0o755);
  const portB = freePort();
  // Node A uses "the default directories": here, root/alpha.
  const env = nodeEnv(`${root}/alpha`);
  const fn = `lthn-p2p() { exec "${Deno.execPath()}" run ${
    CLI_PERMISSIONS.join(" ")
  } --no-prompt --quiet "${CLI_SOURCE}" "$@"; }`;
  const translate = (cmd: string): string => {
    let c = cmd.replaceAll("/tmp/beta", `${root}/beta`)
      .replaceAll("127.0.0.1:9191", `127.0.0.1:${portB}`)
      .replace("--listen :9191", `--listen 127.0.0.1:${portB}`)
      .replace(/--control-port \d+/, "--control-port 0");
    if (c.includes("deno task start")) {
      c = c.replace("deno task start", "lthn-p2p start");
      if (!c.includes("--listen")) c += " --listen 127.0.0.1:0";
      if (!c.includes("--control-port")) c += " --control-port 0";
    }
    return c;
  };
  const steps: Step[] = [];
  const nodes: Background[] = [];
  for (const cmd of await tourCommands()) {
    if (cmd.startsWith("alias lthn-p2p=")) continue; // the shell function stands in
    if (opts.skipTrust && / peers trust(ed)? /.test(cmd)) continue;
    const script = `${fn}\n${translate(cmd)}`;
    const command = new Deno.Command("bash", {
      args: ["-c", script],
      cwd: work,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    if (cmd.includes("deno task start")) {
      const bg = new Background(command.spawn());
      nodes.push(bg);
      await waitFor(
        `node started by: ${cmd}`,
        () => bg.stdout.includes("Stop with Ctrl+C"),
        30_000,
      );
      continue;
    }
    const dec = new TextDecoder();
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await command.output();
      const s = {
        command: cmd,
        code: r.code,
        stdout: dec.decode(r.stdout),
        stderr: dec.decode(r.stderr),
      };
      // A machine under load may not have started the miner's output yet:
      // ask for the logs again, as a user would, until it shows.
      if (
        cmd.startsWith("lthn-p2p logs ") && s.code === 0 &&
        s.stdout.trim() === "" && Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      steps.push(s);
      break;
    }
  }
  return { steps, nodes, root };
}

function step(steps: Step[], pattern: RegExp): Step {
  const s = steps.find((x) => pattern.test(x.command));
  assert.ok(s, `a tour step matching ${pattern}`);
  return s;
}

Deno.test("README tour: runs as written, end to end, with the trust step", async () => {
  const { steps, nodes, root } = await runTour({ skipTrust: false });
  try {
    assert.equal(nodes.length, 2, "two nodes started");
    assert.match(nodes[1]!.stdout, /commands {5}0 trusted controllers/);
    for (const s of steps) {
      assert.equal(
        s.code,
        0,
        `"${s.command}" failed (exit ${s.code}):\n${s.stdout}${s.stderr}`,
      );
    }
    assert.match(
      step(steps, /peers trusted/).stdout,
      /trusted controllers: 1\n.*\n[0-9a-f]{32}\s+alpha\s/,
    );
    assert.match(step(steps, /stats beta/).stdout, /beta/);
    const logs = step(steps, /^lthn-p2p logs beta/).stdout;
    assert.match(logs, /fake-miner/, "the deployed miner ran");
    const installed = `${root}/beta/data/lethean-desktop/miners/xmrig/xmrig`;
    assert.ok(
      (await Deno.stat(installed)).mode! & 0o100,
      "installed, executable",
    );
    // Ctrl+C stops both gracefully.
    for (const n of nodes) {
      const st = await n.stop("SIGINT");
      assert.equal(st.code, 0, n.stderr);
      assert.match(n.stderr, /SIGINT received, stopping/);
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("README tour: without the trust step, B refuses A's commands", async () => {
  const { steps, nodes, root } = await runTour({ skipTrust: true });
  try {
    let refusals = 0;
    for (const s of steps) {
      if (/ beta\b/.test(s.command) && !/^lthn-p2p ping /.test(s.command)) {
        // stats, deploys, miner start/stop and logs ask B to act: refused.
        assert.equal(s.code, 1, `"${s.command}" should be refused`);
        assert.match(s.stderr, /remote error \(1002\)/, s.command);
        refusals++;
      } else {
        assert.equal(s.code, 0, `"${s.command}": ${s.stderr}`);
      }
    }
    assert.ok(refusals >= 6, `${refusals} refusals`);
    await assert.rejects(
      Deno.stat(`${root}/beta/data/lethean-desktop/miners`),
      Deno.errors.NotFound,
      "nothing installed on B",
    );
    // No miner process was started by B (the stand-in would have printed its PID).
    const ps = await new Deno.Command("pgrep", {
      args: ["-f", `${root}/beta/data/lethean-desktop/miners`],
      stdout: "piped",
    }).output();
    const pids = new TextDecoder().decode(ps.stdout).trim().split("\n")
      .filter((x) => x !== "").map(Number);
    assert.deepEqual(pids.filter(processAlive), []);
  } finally {
    await Promise.all(nodes.map((n) => n.stop("SIGINT")));
    await Deno.remove(root, { recursive: true });
  }
});
