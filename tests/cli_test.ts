/**
 * The CLI's commands called directly (in process): help texts, usage errors,
 * offline bundle and identity commands, a node run with `start` and driven
 * through its control API, and `levin ping` against a Levin peer.
 */

import assert from "node:assert/strict";
import { COMMANDS, main } from "../cli.ts";
import { runNode, startSettings } from "../cli/start.ts";
import { getGlobalLogger, setGlobalLogger } from "../logging/mod.ts";
import {
  MONERO_GENESIS_HASH,
  MONERO_MAINNET_NETWORK_ID,
  MoneroPeer,
} from "../levin/mod.ts";
import {
  ControlApiError,
  ControlServer,
  readControlFile,
} from "../node/control_api.ts";
import { parsePrometheus } from "./_prometheus.ts";

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main` with console output captured. */
async function run(args: string[]): Promise<Captured> {
  const log = console.log;
  const error = console.error;
  let stdout = "";
  let stderr = "";
  console.log = (...a: unknown[]) => void (stdout += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => void (stderr += a.join(" ") + "\n");
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("main() prints help for every command and exits 0", async () => {
  const top = await run(["--help"]);
  assert.equal(top.code, 0);
  for (const name of Object.keys(COMMANDS)) {
    assert.match(top.stdout, new RegExp(`^  ${name} `, "m"));
    const r = await run([name, "--help"]);
    assert.equal(r.code, 0, name);
    assert.match(r.stdout, new RegExp(`^Usage: lthn-p2p ${name}`), name);
    assert.equal(r.stderr, "", name);
  }
  assert.match((await run(["--version"])).stdout, /^lthn-p2p \d+\.\d+\.\d+\n$/);
});

Deno.test("main() answers each misuse with exit 2 and one line on stderr", async () => {
  const bad: string[][] = [
    [],
    ["nope"],
    ["__proto__"],
    ["start", "extra"],
    ["start", "--control-port", "70000"],
    ["start", "--auth", "sometimes"],
    ["start", "--log-level", "loud"],
    ["start", "--tls-cert", "c.pem"],
    ["start", "--ws-path", "ws"],
    ["start", "--listen"],
    ["status", "extra"],
    ["identity", "rename"],
    ["identity", "init", "--role", "boss"],
    ["peers", "add"],
    ["peers", "add", "not an address"],
    ["peers", "list", "--count", "3"],
    ["peers", "mode", "closed"],
    ["peers", "best", "--count", "0"],
    ["ping", "a", "b"],
    ["ping", "a", "--count", "x"],
    ["stats", "a", "b"],
    ["miner"],
    ["miner", "pause", "a", "b"],
    ["miner", "start", "a", "xmrig"],
    ["miner", "stop", "a", "m", "--profile", "p"],
    ["logs", "a"],
    ["logs", "a", "m", "--lines", "20000"],
    ["logs", "a", "m", "--since", "yesterday"],
    ["deploy"],
    ["deploy", "a", "--bundle", "b", "--miner", "m"],
    ["deploy", "a", "--profile", "p", "--max-frame", "10"],
    ["bundle"],
    ["bundle", "create", "miner"],
    ["bundle", "create", "profile", "p.json", "--from", "k"],
    ["bundle", "verify"],
    ["levin"],
    ["levin", "ping", "127.0.0.1:0"],
    ["levin", "ping", "127.0.0.1:18080", "--network", "moon"],
  ];
  for (const args of bad) {
    const r = await run(args);
    const what = `lthn-p2p ${args.join(" ")}`;
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.equal(r.stdout, "", what);
    assert.equal(
      r.stderr.trimEnd().split("\n").length,
      1,
      `${what}: ${r.stderr}`,
    );
  }
});

Deno.test("operator commands without a running node fail with exit 1 and a hint", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(["peers", "list", "--config-dir", dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /no control file at .*control\.json; start a node with "lthn-p2p start"/,
    );
    await Deno.writeTextFile(
      `${dir}/control.json`,
      JSON.stringify({
        url: "http://127.0.0.1:1",
        token: "0".repeat(64),
        pid: 1,
      }),
    );
    const r2 = await run([
      "ping",
      "x",
      "--control-file",
      `${dir}/control.json`,
    ]);
    assert.equal(r2.code, 1);
    assert.match(
      r2.stderr,
      /Cannot reach the node at http:\/\/127\.0\.0\.1:1.*is the node still running/,
    );
    await Deno.writeTextFile(
      `${dir}/control.json`,
      '{"url":"http://evil.example:80","token":"x"}',
    );
    const r3 = await run(["status", "--config-dir", dir]);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /loopback URL/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("identity init, show and delete work on explicit directories", async () => {
  const dir = await Deno.makeTempDir();
  const flags = ["--data-dir", `${dir}/d`, "--config-dir", `${dir}/c`];
  try {
    const none = await run(["identity", "show", ...flags]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No identity .*identity init/);
    const init = await run([
      "identity",
      "init",
      "--name",
      "n1",
      "--role",
      "worker",
      "--json",
      ...flags,
    ]);
    assert.equal(init.code, 0, init.stderr);
    const id = JSON.parse(init.stdout);
    assert.equal(id.created, true);
    assert.equal(id.name, "n1");
    assert.equal(id.role, "worker");
    assert.equal(
      (await Deno.stat(`${dir}/d/node/private.key`)).mode! & 0o777,
      0o600,
    );
    const again = JSON.parse(
      (await run(["identity", "init", "--json", ...flags])).stdout,
    );
    assert.equal(again.created, false);
    assert.equal(again.id, id.id);
    const show = await run(["identity", ...flags]);
    assert.match(show.stdout, new RegExp(`^node ID +${id.id}$`, "m"));
    assert.equal((await run(["identity", "delete", ...flags])).code, 2);
    const del = await run(["identity", "delete", "--yes", ...flags]);
    assert.equal(del.code, 0);
    await assert.rejects(Deno.stat(`${dir}/c/node.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bundle create, verify and extract round-trip profile and miner bundles", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const profile = '{"id":"p1","minerType":"xmrig","config":{"threads":2}}';
    await Deno.writeTextFile(`${dir}/p1.json`, profile);
    await Deno.writeTextFile(`${dir}/xmrig`, "#!/bin/sh\necho mining\n");
    const c = await run([
      "bundle",
      "create",
      "profile",
      `${dir}/p1.json`,
      "--password",
      "pw",
      "-o",
      `${dir}/b.json`,
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /wrote profile bundle p1/);
    const text = await Deno.readTextFile(`${dir}/b.json`);
    assert.match(text, /^\{"type":"profile","name":"p1","data":"/);
    const v = await run(["bundle", "verify", `${dir}/b.json`, "--json"]);
    assert.equal(v.code, 0);
    assert.equal(JSON.parse(v.stdout).ok, true);
    const x = await run([
      "bundle",
      "extract",
      `${dir}/b.json`,
      "--password",
      "pw",
    ]);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(x.stdout, profile + "\n");
    const wrong = await run([
      "bundle",
      "extract",
      `${dir}/b.json`,
      "--password",
      "nope",
    ]);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr.trimEnd().split("\n").length, 1);

    // A corrupted bundle fails verification with exit 1.
    const b = JSON.parse(text);
    b.checksum = "0".repeat(64);
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(b));
    const bad = await run(["bundle", "verify", `${dir}/bad.json`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /checksum mismatch/);

    // Miner bundle, with the password derived for a peer (--for / --from).
    const a = ["--data-dir", `${dir}/a`, "--config-dir", `${dir}/a`];
    const w = ["--data-dir", `${dir}/w`, "--config-dir", `${dir}/w`];
    const ida = JSON.parse(
      (await run(["identity", "init", "--json", ...a])).stdout,
    );
    const idw = JSON.parse(
      (await run(["identity", "init", "--json", ...w])).stdout,
    );
    const m = await run([
      "bundle",
      "create",
      "miner",
      `${dir}/xmrig`,
      "--profile",
      `${dir}/p1.json`,
      "--for",
      idw.publicKey,
      "-o",
      `${dir}/m.json`,
      ...a,
    ]);
    assert.equal(m.code, 0, m.stderr);
    const e = await run([
      "bundle",
      "extract",
      `${dir}/m.json`,
      "--from",
      ida.publicKey,
      "-o",
      `${dir}/out`,
      "--json",
      ...w,
    ]);
    assert.equal(e.code, 0, e.stderr);
    const r = JSON.parse(e.stdout);
    assert.ok(r.minerPath.endsWith("/out/xmrig"));
    assert.equal(
      await Deno.readTextFile(`${dir}/out/xmrig`),
      "#!/bin/sh\necho mining\n",
    );
    const plain = await run([
      "bundle",
      "create",
      "profile",
      `${dir}/p1.json`,
      "--plain",
    ]);
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /^\{"type":"profile","name":"p1","data":"eyJ/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start settings merge a config file with flags and reject unknown keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/c.json`,
      JSON.stringify({
        role: "worker",
        listen: "127.0.0.1:0",
        controlPort: 0,
        logJson: true,
      }),
    );
    const p = await startSettings([
      "--config",
      `${dir}/c.json`,
      "--role",
      "controller",
    ]);
    assert.deepEqual(p?.settings, {
      role: "controller",
      listen: "127.0.0.1:0",
      controlPort: 0,
      logJson: true,
    });
    await Deno.writeTextFile(`${dir}/bad.json`, '{"colour":"blue"}');
    const r = await run(["start", "--config", `${dir}/bad.json`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown key "colour"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start runs a node that the operator commands reach through its control file", async () => {
  const dir = await Deno.makeTempDir();
  const saved = getGlobalLogger();
  const stop = new AbortController();
  const log = console.log;
  let printed = "";
  console.log = (...a: unknown[]) => void (printed += a.join(" ") + "\n");
  let running: Promise<number> | undefined;
  try {
    running = runNode(
      {
        listen: "127.0.0.1:0",
        controlPort: 0,
        dataDir: `${dir}/d`,
        configDir: `${dir}/c`,
        logLevel: "error",
      },
      true,
      stop.signal,
    );
    const file = `${dir}/c/control.json`;
    const end = Date.now() + 10_000;
    // The control file is written before the status line is printed.
    while (
      !(await Deno.stat(file).then(() => true, () => false)) ||
      !printed.endsWith("\n")
    ) {
      if (Date.now() > end) throw new Error("no control file or status");
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log = log;
    const status = JSON.parse(printed);
    assert.equal(status.role, "dual");
    assert.match(status.listen, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    const info = await readControlFile(file);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);

    const list = await run([
      "peers",
      "list",
      "--json",
      "--config-dir",
      `${dir}/c`,
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), []);
    const mode = await run([
      "peers",
      "mode",
      "allowlist",
      "--config-dir",
      `${dir}/c`,
    ]);
    assert.equal(mode.code, 0, mode.stderr);
    assert.match(mode.stdout, /auth mode: allowlist/);
    const key = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
    const allow = await run([
      "peers",
      "allow",
      key,
      "--json",
      "--control-file",
      file,
    ]);
    assert.deepEqual(JSON.parse(allow.stdout).allowed, [key]);
    const revoke = await run([
      "peers",
      "revoke",
      key,
      "--json",
      "--control-file",
      file,
    ]);
    assert.deepEqual(JSON.parse(revoke.stdout).allowed, []);
    const again = await run(["peers", "revoke", key, "--control-file", file]);
    assert.equal(again.code, 1);
    const unknown = await run(["ping", "nobody", "--control-file", file]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Unknown peer "nobody".*peers add/);
    const unreachable = await run([
      "peers",
      "add",
      "127.0.0.1:1",
      "--control-file",
      file,
    ]);
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.stderr.trimEnd().split("\n").length, 1);

    // The control API itself: token, browsers, unknown routes and operations.
    assert.equal((await fetch(`${info.url}/status`).then(drain)).status, 401);
    const wrong = await fetch(`${info.url}/status`, {
      headers: { authorization: `Bearer ${"f".repeat(64)}` },
    });
    assert.equal((await drain(wrong)).status, 401);
    const browser = await fetch(`${info.url}/healthz`, {
      headers: { origin: "http://evil.example" },
    });
    assert.equal((await drain(browser)).status, 403);
    const auth = { authorization: `Bearer ${info.token}` };
    const nf = await fetch(`${info.url}/api/nope`, {
      method: "POST",
      headers: auth,
      body: "{}",
    });
    assert.equal(nf.status, 404);
    assert.equal((await nf.json()).error.code, "not_found");
    const badJson = await fetch(`${info.url}/api/peers.list`, {
      method: "POST",
      headers: auth,
      body: "{",
    });
    assert.equal(badJson.status, 400);
    await badJson.body?.cancel();
    const metrics = parsePrometheus(
      await (await fetch(`${info.url}/metrics`, { headers: auth })).text(),
    );
    assert.equal(metrics.get("p2p_connections"), 0);
    assert.ok(metrics.get("p2p_start_time_seconds")! > 1.7e9);

    stop.abort();
    assert.equal(await running, 0);
    running = undefined;
    await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
  } finally {
    console.log = log;
    stop.abort();
    await running?.catch(() => {});
    setGlobalLogger(saved);
    await Deno.remove(dir, { recursive: true });
  }
});

async function drain(r: Response): Promise<Response> {
  await r.body?.cancel();
  return r;
}

Deno.test("ControlServer streams progress and maps errors to codes", async () => {
  const server = await ControlServer.start({
    port: 0,
    handlers: {
      status: () => ({}),
      metrics: () => "",
      call: (op, _body, progress) => {
        if (op === "slow") {
          progress({ stage: "one" });
          progress({ stage: "two", bytes: 5 });
          return Promise.resolve({ done: true });
        }
        if (op === "bad") {
          return Promise.reject(new RangeError("count must be positive"));
        }
        return Promise.reject(
          new ControlApiError("timeout", "peer did not answer"),
        );
      },
    },
  });
  try {
    const { ControlClient } = await import("../node/control_api.ts");
    const c = new ControlClient(server.info);
    const stages: string[] = [];
    assert.deepEqual(
      await c.call("slow", {}, { onProgress: (p) => stages.push(p.stage) }),
      { done: true },
    );
    assert.deepEqual(stages, ["one", "two"]);
    await assert.rejects(
      c.call("bad"),
      (e) => e instanceof ControlApiError && e.code === "bad_request",
    );
    await assert.rejects(
      c.call("late", {}, { onProgress: () => {} }),
      (e) => e instanceof ControlApiError && e.code === "timeout",
    );
    assert.equal(await c.health(), true);
  } finally {
    await server.stop();
  }
});

Deno.test("levin ping handshakes with a Levin peer and prints what it says", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const daemon = listener.accept().then((conn) => {
    const p = new MoneroPeer(conn, {
      nodeData: {
        networkId: MONERO_MAINNET_NETWORK_ID,
        peerId: 0x1122334455667788n,
        myPort: 18080,
        rpcPort: 18081,
        supportFlags: 1,
      },
      syncData: () => ({
        currentHeight: 3_000_000n,
        cumulativeDifficulty: 5n,
        cumulativeDifficultyTop64: 1n,
        topId: MONERO_GENESIS_HASH,
        topVersion: 16,
      }),
    });
    p.start();
    return p;
  });
  try {
    const r = await run([
      "levin",
      "ping",
      `127.0.0.1:${listener.addr.port}`,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.peerId, "1122334455667788");
    assert.equal(v.height, "3000000");
    assert.equal(v.myPort, 18080);
    assert.equal(v.rpcPort, 18081);
    assert.equal(v.supportFlags, 1);
    assert.equal(v.ping, "OK");
    assert.equal(v.cumulativeDifficulty, String((1n << 64n) + 5n));
    const closed = await run([
      "levin",
      "ping",
      `127.0.0.1:${listener.addr.port}`,
      "--timeout",
      "500",
    ]);
    assert.equal(closed.code, 1);
    assert.equal(closed.stderr.trimEnd().split("\n").length, 1);
  } finally {
    await (await daemon).close();
    listener.close();
  }
});
