/**
 * Worker handlers (node.md §6, the Go behaviours of §11.7), driven through
 * `Worker.handle()` with in-test implementations of the manager interfaces
 * (as the Go tests do), real bundles and real files.
 */

import assert from "node:assert/strict";
import { Logger, LogLevel } from "../logging/logger.ts";
import { allowControllerKeys } from "./authorization.ts";
import {
  createMinerBundle,
  createProfileBundle,
  createProfileBundleUnencrypted,
} from "./bundle.ts";
import { generateKeyPair, secretToPassword } from "./identity.ts";
import { NodeManager } from "./identity_store.ts";
import type { MinerManager, ProfileManager } from "./managers/miner_manager.ts";
import {
  TestMiner,
  TestMinerManager,
  TestProfileManager,
} from "../tests/fixtures/_managers.ts";
import { FileProfileManager } from "./managers/profile_manager.ts";
import {
  type JsonValue,
  type Message,
  newMessage,
  parsePayload,
  type PayloadMap,
} from "./message.ts";
import { convertMinerStats, MAX_LOG_LINES, Worker } from "./worker.ts";

const quiet = new Logger({ sink: { write() {} }, level: LogLevel.Error });

function makeNode(name: string, role: "worker" | "controller"): NodeManager {
  return NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name,
    role,
  });
}

const workerNode = makeNode("worker-1", "worker");
const controllerNode = makeNode("controller-1", "controller");
const controllerPeer = {
  id: controllerNode.getIdentity()!.id,
  publicKey: controllerNode.getIdentity()!.publicKey,
};

function req<T extends keyof PayloadMap>(
  type: T,
  payload: PayloadMap[T] | null,
): Message {
  return newMessage(type, {
    from: controllerPeer.id,
    to: workerNode.getIdentity()!.id,
    payload,
  });
}

/** A request whose payload is put on the message as given (no typed encoding). */
function rawReq(type: string, payload: JsonValue): Message {
  return {
    id: crypto.randomUUID(),
    type,
    from: controllerPeer.id,
    to: workerNode.getIdentity()!.id,
    ts: new Date().toISOString(),
    payload,
  };
}

function errorText(m: Message | undefined): string {
  assert.equal(m?.type, "error", `expected an error reply, got ${m?.type}`);
  const p = parsePayload(m!, "error");
  assert.equal(p.code, 1004);
  return p.message;
}

function newWorker(
  opts: { miners?: MinerManager; profiles?: ProfileManager; dataDir?: string } =
    {},
): Worker {
  // These tests are about the handlers and drive them without a proven
  // peer, so they opt out of the trust list (its tests are in
  // ops/command_policy_test.ts and tests/worker_trust_test.ts).
  return new Worker(workerNode, {
    ...(opts.miners ? { minerManager: opts.miners } : {}),
    ...(opts.profiles ? { profileManager: opts.profiles } : {}),
    dataDir: opts.dataDir ?? "/nonexistent",
    logger: quiet,
    trustAnyController: true,
  });
}

Deno.test("Worker holds its node and managers; managers can be set", () => {
  const w = newWorker();
  assert.equal(w.node, workerNode);
  assert.equal(w.minerManager, undefined);
  const mm = new TestMinerManager();
  const pm = new TestProfileManager();
  w.setMinerManager(mm);
  w.setProfileManager(pm);
  assert.equal(w.minerManager, mm);
  assert.equal(w.profileManager, pm);
  assert.ok(w.startTime <= Date.now());
});

Deno.test("Worker answers ping with pong echoing sentAt", async () => {
  const w = newWorker();
  const ping = req("ping", { sentAt: 1771581600123 });
  const pong = await w.handle(ping);
  assert.equal(pong?.type, "pong");
  assert.equal(pong?.replyTo, ping.id);
  assert.equal(pong?.from, ping.to);
  assert.equal(pong?.to, ping.from);
  const p = parsePayload(pong!, "pong");
  assert.equal(p.sentAt, 1771581600123);
  assert.ok(p.receivedAt > 0);
  // A ping without payload echoes 0.
  assert.equal(
    parsePayload((await w.handle(req("ping", null)))!, "pong").sentAt,
    0,
  );
  assert.match(
    errorText(await w.handle(rawReq("ping", { sentAt: 1.5 }))),
    /^Worker\.handlePing: invalid ping payload: /,
  );
});

Deno.test("Worker get_stats without a miner manager reports the node", async () => {
  const w = newWorker();
  const r = await w.handle(req("get_stats", null));
  assert.equal(r?.type, "stats");
  const s = parsePayload(r!, "stats");
  assert.equal(s.nodeId, workerNode.getIdentity()!.id);
  assert.equal(s.nodeName, "worker-1");
  assert.deepEqual(s.miners, []);
  assert.ok(s.uptime >= 0);
});

Deno.test("Worker get_stats lists every miner and skips failing ones", async () => {
  const mm = new TestMinerManager();
  mm.miners.set(
    "a",
    new TestMiner("a", "xmrig", {
      hashrate: 1234.5,
      shares: 10,
      rejected: 1,
      uptime: 60,
      pool: "p:1",
      algorithm: "rx/0",
    }),
  );
  mm.miners.set("b", new TestMiner("b", "xmrig", { hashrate: 5 }));
  mm.miners.set("c", new TestMiner("c", "xmrig", {}, [], true));
  const s = parsePayload(
    (await newWorker({ miners: mm }).handle(req("get_stats", null)))!,
    "stats",
  );
  assert.deepEqual(s.miners.map((m) => m.name), ["a", "b"]);
  assert.deepEqual(s.miners[0], {
    name: "a",
    type: "xmrig",
    hashrate: 1234.5,
    shares: 10,
    rejected: 1,
    uptime: 60,
    pool: "p:1",
    algorithm: "rx/0",
  });
});

Deno.test("Worker get_stats without an identity is an error", async () => {
  const empty = await NodeManager.open({
    keyPath: "/nonexistent/k",
    configPath: "/nonexistent/c",
  });
  const w = new Worker(empty, { logger: quiet, trustAnyController: true });
  const r = await w.handle(req("get_stats", null));
  assert.equal(errorText(r), "node: node identity not initialized");
});

Deno.test("convertMinerStats copies name and hashrate; empty or non-map gives 0", () => {
  const m = new TestMiner("x", "xmrig", {});
  assert.equal(convertMinerStats(m, { hashrate: 99.5 }).hashrate, 99.5);
  assert.equal(convertMinerStats(m, { hashrate: 99.5 }).name, "x");
  assert.equal(convertMinerStats(m, {}).hashrate, 0);
  assert.equal(convertMinerStats(m, "text").hashrate, 0);
  assert.equal(convertMinerStats(m, null).hashrate, 0);
  assert.equal(convertMinerStats(m, [1]).hashrate, 0);
  // Integers from JSON are kept (Go drops them, §13 item 33); mistyped fields are not.
  const c = convertMinerStats(
    m,
    JSON.parse('{"shares":3,"rejected":2.9,"uptime":"7","hashrate":"1"}'),
  );
  assert.deepEqual([c.shares, c.rejected, c.uptime, c.hashrate], [3, 2, 0, 0]);
  assert.equal(convertMinerStats(m, { hashrate: Number.NaN }).hashrate, 0);
});

Deno.test("Worker start/stop/get_logs without a miner manager are errors", async () => {
  const w = newWorker();
  for (
    const m of [
      req("start_miner", { minerType: "xmrig", config: {} }),
      req("stop_miner", { minerName: "x" }),
      req("get_logs", { minerName: "x", lines: 10 }),
    ]
  ) {
    assert.equal(
      errorText(await w.handle(m)),
      "node: miner manager not configured",
    );
  }
});

Deno.test("Worker start_miner with a config override acks with the miner name", async () => {
  const mm = new TestMinerManager();
  const w = newWorker({ miners: mm });
  for (const profileId of [undefined, "ignored-profile"]) {
    const r = await w.handle(req("start_miner", {
      minerType: "xmrig",
      config: { pools: [] },
      ...(profileId ? { profileId } : {}),
    }));
    assert.equal(r?.type, "miner_ack");
    const ack = parsePayload(r!, "miner_ack");
    assert.equal(ack.success, true);
    assert.ok(ack.minerName);
  }
  assert.deepEqual(mm.started[0], { type: "xmrig", config: { pools: [] } });
});

Deno.test("Worker start_miner passes a literal null config through", async () => {
  const mm = new TestMinerManager();
  const r = await newWorker({ miners: mm, profiles: new TestProfileManager() })
    .handle(
      rawReq("start_miner", { minerType: "xmrig", config: null }),
    );
  assert.equal(parsePayload(r!, "miner_ack").success, true);
  assert.deepEqual(mm.started, [{ type: "xmrig", config: null }]);
});

Deno.test("Worker start_miner errors: empty type, bad payload, no config", async () => {
  const mm = new TestMinerManager();
  assert.equal(
    errorText(
      await newWorker({ miners: mm }).handle(
        req("start_miner", { minerType: "", config: {} }),
      ),
    ),
    "Worker.handleStartMiner: miner type is required",
  );
  assert.match(
    errorText(
      await newWorker({ miners: mm }).handle(
        rawReq("start_miner", "not an object"),
      ),
    ),
    /^Worker\.handleStartMiner: invalid start miner payload: /,
  );
  assert.equal(
    errorText(
      await newWorker({ miners: mm }).handle(
        req("start_miner", { minerType: "xmrig" }),
      ),
    ),
    "Worker.handleStartMiner: no config provided and no profile manager configured",
  );
});

Deno.test("Worker start_miner uses the stored profile, or fails to find it", async () => {
  const mm = new TestMinerManager();
  const pm = new TestProfileManager();
  pm.profiles.set("p1", { id: "p1", config: { threads: 2 } });
  const w = newWorker({ miners: mm, profiles: pm });
  const ok = await w.handle(
    req("start_miner", { minerType: "xmrig", profileId: "p1" }),
  );
  assert.equal(parsePayload(ok!, "miner_ack").success, true);
  assert.deepEqual(mm.started[0]?.config, { id: "p1", config: { threads: 2 } });
  assert.equal(
    errorText(
      await w.handle(
        req("start_miner", { minerType: "xmrig", profileId: "nope" }),
      ),
    ),
    "Worker.handleStartMiner: profile not found: nope",
  );
});

Deno.test("Worker start_miner failure is a miner_ack with success false", async () => {
  const mm = new TestMinerManager();
  mm.failStart = true;
  const r = await newWorker({ miners: mm }).handle(
    req("start_miner", { minerType: "xmrig", config: {} }),
  );
  assert.equal(r?.type, "miner_ack");
  const ack = parsePayload(r!, "miner_ack");
  assert.equal(ack.success, false);
  assert.equal(ack.error, "mining hardware on fire");
  assert.equal(ack.minerName, undefined);
});

Deno.test("Worker stop_miner acks success or failure", async () => {
  const mm = new TestMinerManager();
  mm.miners.set("m1", new TestMiner("m1", "xmrig", {}));
  const w = newWorker({ miners: mm });
  assert.deepEqual(
    parsePayload(
      (await w.handle(req("stop_miner", { minerName: "m1" })))!,
      "miner_ack",
    ),
    {
      success: true,
      minerName: "m1",
    },
  );
  const fail = parsePayload(
    (await w.handle(req("stop_miner", { minerName: "m1" })))!,
    "miner_ack",
  );
  assert.equal(fail.success, false);
  assert.equal(fail.minerName, "m1");
  assert.equal(fail.error, "miner not found: m1");
  assert.match(
    errorText(await w.handle(rawReq("stop_miner", [1]))),
    /^Worker\.handleStopMiner: invalid stop miner payload: /,
  );
});

Deno.test("Worker get_logs returns lines, honours since, clamps lines", async () => {
  const mm = new TestMinerManager();
  const t = 1771581600000;
  mm.miners.set(
    "m1",
    new TestMiner("m1", "xmrig", {}, [
      { at: t, line: "miner started" },
      { at: t + 1000, line: "speed 100" },
      { at: t + 2000, line: "accepted (1/0)" },
    ]),
  );
  const w = newWorker({ miners: mm });
  const all = parsePayload(
    (await w.handle(req("get_logs", { minerName: "m1", lines: 10 })))!,
    "logs",
  );
  assert.equal(all.minerName, "m1");
  assert.equal(all.lines?.length, 3);
  assert.match(all.lines![0]!, /started/);
  assert.equal(all.hasMore, false);
  const one = parsePayload(
    (await w.handle(req("get_logs", { minerName: "m1", lines: 1 })))!,
    "logs",
  );
  assert.deepEqual(one.lines, ["accepted (1/0)"]);
  assert.equal(one.hasMore, true);
  const since = parsePayload(
    (await w.handle(
      req("get_logs", { minerName: "m1", lines: 10, since: t + 1000 }),
    ))!,
    "logs",
  );
  assert.deepEqual(since.lines, ["speed 100", "accepted (1/0)"]);
  for (const lines of [-1, 0, 999_999]) {
    const r = await w.handle(req("get_logs", { minerName: "m1", lines }));
    assert.equal(r?.type, "logs");
    assert.equal(parsePayload(r!, "logs").lines?.length, 3);
  }
  assert.equal(MAX_LOG_LINES, 10_000);
  assert.equal(
    errorText(
      await w.handle(req("get_logs", { minerName: "ghost", lines: 5 })),
    ),
    "Worker.handleGetLogs: miner not found: ghost",
  );
  assert.match(
    errorText(await w.handle(rawReq("get_logs", { minerName: 5 }))),
    /^Worker\.handleGetLogs: invalid get logs payload: /,
  );
});

Deno.test("Worker ignores unknown message types and replies", async () => {
  const w = newWorker({ miners: new TestMinerManager() });
  for (
    const type of [
      "pong",
      "disconnect",
      "stats",
      "miner_ack",
      "error",
      "something_else",
      "",
    ]
  ) {
    assert.equal(await w.handle(rawReq(type, null)), undefined, type);
  }
});

Deno.test("Worker deploy: profile without a profile manager, unknown type, bad payload", async () => {
  const w = newWorker();
  const b = createProfileBundleUnencrypted('{"id":"p"}', "p");
  assert.equal(
    errorText(
      await w.handle(
        req("deploy", {
          type: "profile",
          data: b.data,
          checksum: b.checksum,
          name: "p",
        }),
      ),
    ),
    "Worker.handleDeploy: profile manager not configured",
  );
  assert.equal(
    errorText(
      await w.handle(
        req("deploy", {
          type: "weird",
          data: b.data,
          checksum: b.checksum,
          name: "p",
        }),
      ),
    ),
    "Worker.handleDeploy: unknown bundle type: weird",
  );
  assert.match(
    errorText(await w.handle(rawReq("deploy", "a JSON string"))),
    /^Worker\.handleDeploy: invalid deploy payload: /,
  );
});

Deno.test("Worker deploys an unencrypted profile; a failing save acks false", async () => {
  const pm = new TestProfileManager();
  const w = newWorker({ profiles: pm });
  const b = createProfileBundleUnencrypted(
    '{"id":"p1","minerType":"xmrig"}',
    "p1",
  );
  const msg = req("deploy", {
    type: b.type,
    data: b.data,
    checksum: b.checksum,
    name: b.name,
  });
  assert.deepEqual(parsePayload((await w.handle(msg))!, "deploy_ack"), {
    success: true,
    name: "p1",
  });
  assert.deepEqual(pm.saved, [{ id: "p1", minerType: "xmrig" }]);
  pm.failSave = true;
  assert.deepEqual(parsePayload((await w.handle(msg))!, "deploy_ack"), {
    success: false,
    name: "p1",
    error: "disk full",
  });
});

Deno.test("Worker deploy profile errors: checksum, password, not JSON", async () => {
  const w = newWorker({ profiles: new TestProfileManager() });
  const b = createProfileBundleUnencrypted('{"id":"p1"}', "p1");
  assert.match(
    errorText(
      await w.handle(
        req("deploy", {
          type: "profile",
          data: b.data,
          checksum: "0".repeat(64),
          name: "p1",
        }),
      ),
    ),
    /^Worker\.handleDeploy: failed to extract profile bundle: .*checksum mismatch/,
  );
  const enc = await createProfileBundle('{"id":"p1"}', "p1", "wrong password");
  assert.match(
    errorText(
      await w.handle(
        req("deploy", {
          type: "profile",
          data: enc.data,
          checksum: enc.checksum,
          name: "p1",
        }),
        controllerPeer,
      ),
    ),
    /^Worker\.handleDeploy: failed to extract profile bundle: /,
  );
  const notJson = createProfileBundleUnencrypted("{not json", "p1");
  assert.match(
    errorText(
      await w.handle(
        req("deploy", {
          type: "profile",
          data: notJson.data,
          checksum: notJson.checksum,
          name: "p1",
        }),
      ),
    ),
    /^Worker\.handleDeploy: invalid profile data JSON: /,
  );
});

Deno.test("Worker deploys an encrypted profile with base64(shared secret)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pm = new FileProfileManager({ dir });
    const w = newWorker({ profiles: pm });
    const secret = controllerNode.deriveSharedSecret(
      workerNode.getIdentity()!.publicKey,
    );
    const b = await createProfileBundle(
      '{"id":"enc","pools":[]}',
      "enc",
      secretToPassword(secret),
    );
    const r = await w.handle(
      req("deploy", {
        type: b.type,
        data: b.data,
        checksum: b.checksum,
        name: b.name,
      }),
      controllerPeer,
    );
    assert.deepEqual(parsePayload(r!, "deploy_ack"), {
      success: true,
      name: "enc",
    });
    assert.deepEqual(await pm.getProfile("enc"), { id: "enc", pools: [] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Worker deploys miner and full bundles, restoring the executable bit", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const pm = new TestProfileManager();
    const w = newWorker({ profiles: pm, dataDir });
    const src = `${dataDir}/xmrig`;
    await Deno.writeTextFile(src, "#!/bin/sh\necho hi\n");
    const password = secretToPassword(
      controllerNode.deriveSharedSecret(workerNode.getIdentity()!.publicKey),
    );
    for (const type of ["miner", "full"] as const) {
      const b = await createMinerBundle(
        src,
        '{"id":"from-miner"}',
        `xm-${type}`,
        password,
      );
      const r = await w.handle(
        req("deploy", {
          type,
          data: b.data,
          checksum: b.checksum,
          name: b.name,
        }),
        controllerPeer,
      );
      assert.deepEqual(parsePayload(r!, "deploy_ack"), {
        success: true,
        name: `xm-${type}`,
      });
      const installed = `${dataDir}/miners/xm-${type}/xmrig`;
      assert.equal(await Deno.readTextFile(installed), "#!/bin/sh\necho hi\n");
      if (Deno.build.os !== "windows") {
        assert.notEqual(
          (await Deno.stat(installed)).mode! & 0o100,
          0,
          "owner execute bit restored",
        );
      }
    }
    assert.deepEqual(pm.saved, [{ id: "from-miner" }, { id: "from-miner" }]);
    // No staging directories are left behind.
    const names = [...Deno.readDirSync(`${dataDir}/miners`)].map((e) => e.name)
      .sort();
    assert.deepEqual(names, ["xm-full", "xm-miner"]);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Worker miner deploy: failing profile save still succeeds; redeploy replaces", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const pm = new TestProfileManager();
    pm.failSave = true;
    const w = newWorker({ profiles: pm, dataDir });
    const password = secretToPassword(
      controllerNode.deriveSharedSecret(workerNode.getIdentity()!.publicKey),
    );
    await Deno.writeTextFile(`${dataDir}/a`, "\x7fELF one");
    const b1 = await createMinerBundle(
      `${dataDir}/a`,
      '{"id":"x"}',
      "m",
      password,
    );
    assert.equal(
      parsePayload(
        (await w.handle(req("deploy", { ...b1 }), controllerPeer))!,
        "deploy_ack",
      ).success,
      true,
    );
    await Deno.writeTextFile(`${dataDir}/b`, "\x7fELF two");
    const b2 = await createMinerBundle(`${dataDir}/b`, null, "m", password);
    assert.equal(
      parsePayload(
        (await w.handle(req("deploy", { ...b2 }), controllerPeer))!,
        "deploy_ack",
      ).success,
      true,
    );
    const names = [...Deno.readDirSync(`${dataDir}/miners/m`)].map((e) =>
      e.name
    );
    assert.deepEqual(names, ["b"], "the old install was replaced, not merged");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Worker miner deploy errors: unsafe name, wrong password, bad checksum", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const w = newWorker({ dataDir });
    await Deno.writeTextFile(`${dataDir}/x`, "#!/bin/sh\n");
    const password = secretToPassword(
      controllerNode.deriveSharedSecret(workerNode.getIdentity()!.publicKey),
    );
    const b = await createMinerBundle(`${dataDir}/x`, null, "ok", password);
    for (
      const name of ["../escape", "..", "", "a/b", "a\\b", "-rf", ".hidden"]
    ) {
      assert.match(
        errorText(
          await w.handle(req("deploy", { ...b, name }), controllerPeer),
        ),
        /^Worker\.handleDeploy: invalid bundle name: /,
        name,
      );
    }
    assert.match(
      errorText(await w.handle(req("deploy", { ...b }))), // no peer: empty password
      /^Worker\.handleDeploy: failed to extract miner bundle: /,
    );
    assert.match(
      errorText(
        await w.handle(
          req("deploy", { ...b, checksum: "f".repeat(64) }),
          controllerPeer,
        ),
      ),
      /^Worker\.handleDeploy: failed to extract miner bundle: .*checksum mismatch/,
    );
    const left = [...Deno.readDirSync(dataDir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["miners", "x"]);
    assert.deepEqual(
      [...Deno.readDirSync(`${dataDir}/miners`)],
      [],
      "no partial installs",
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Worker miner-only deploy saves no profile and logs no warning", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const pm = new TestProfileManager();
    const w = new Worker(workerNode, {
      profileManager: pm,
      dataDir,
      logger: new Logger({
        sink: { write: (l) => lines.push(l) },
        level: LogLevel.Debug,
      }),
      trustAnyController: true,
    });
    const password = secretToPassword(
      controllerNode.deriveSharedSecret(workerNode.getIdentity()!.publicKey),
    );
    await Deno.writeTextFile(`${dataDir}/xmrig`, "\x7fELF miner");
    const b = await createMinerBundle(
      `${dataDir}/xmrig`,
      null,
      "xmrig",
      password,
    );
    const ack = parsePayload(
      (await w.handle(req("deploy", { ...b }), controllerPeer))!,
      "deploy_ack",
    );
    assert.equal(ack.success, true);
    assert.deepEqual(pm.saved, []);
    assert.deepEqual(lines.filter((l) => l.includes("[WARN]")), []);
    const installed = lines.find((l) => l.includes("miner bundle installed"));
    assert.match(installed ?? "", /miner_path=\S*miners\/xmrig\/xmrig/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Worker refuses a miner bundle with nothing executable and keeps the installed miner", async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const w = newWorker({ dataDir });
    const password = secretToPassword(
      controllerNode.deriveSharedSecret(workerNode.getIdentity()!.publicKey),
    );
    await Deno.writeTextFile(`${dataDir}/good`, "#!/bin/sh\necho good\n");
    const good = await createMinerBundle(
      `${dataDir}/good`,
      null,
      "m",
      password,
    );
    assert.equal(
      parsePayload(
        (await w.handle(req("deploy", { ...good }), controllerPeer))!,
        "deploy_ack",
      ).success,
      true,
    );
    await Deno.writeTextFile(`${dataDir}/notes.txt`, "just text, no program");
    const bad = await createMinerBundle(
      `${dataDir}/notes.txt`,
      null,
      "m",
      password,
    );
    assert.match(
      errorText(await w.handle(req("deploy", { ...bad }), controllerPeer)),
      /^Worker\.handleDeploy: miner bundle has no executable file/,
    );
    assert.deepEqual(
      [...Deno.readDirSync(`${dataDir}/miners`)].map((e) => e.name),
      ["m"],
      "no staging directory left",
    );
    assert.equal(
      await Deno.readTextFile(`${dataDir}/miners/m/good`),
      "#!/bin/sh\necho good\n",
      "the installed miner is kept",
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Worker refuses commands the authoriser denies with code 1002", async () => {
  const mm = new TestMinerManager();
  const w = new Worker(workerNode, {
    minerManager: mm,
    logger: quiet,
    authorize: allowControllerKeys([controllerPeer.publicKey]),
  });
  const stranger = {
    id: "ffffffffffffffffffffffffffffffff",
    publicKey: makeNode("s", "controller").getIdentity()!.publicKey,
  };
  const r = await w.handle(
    req("start_miner", { minerType: "xmrig", config: {} }),
    stranger,
  );
  assert.equal(r?.type, "error");
  const p = parsePayload(r!, "error");
  assert.equal(p.code, 1002);
  assert.equal(
    p.message,
    `Worker.authorize: peer ${stranger.id} is not authorized for start_miner`,
  );
  assert.equal(mm.started.length, 0);
  // Pings stay open; the allowed controller may do everything.
  assert.equal(
    (await w.handle(req("ping", { sentAt: 1 }), stranger))?.type,
    "pong",
  );
  assert.equal(
    (await w.handle(req("get_stats", null), stranger))?.type,
    "error",
  );
  assert.equal(
    (await w.handle(req("get_stats", null)))?.type,
    "error",
    "no proven peer: refused",
  );
  const ok = await w.handle(
    req("start_miner", { minerType: "xmrig", config: {} }),
    controllerPeer,
  );
  assert.equal(parsePayload(ok!, "miner_ack").success, true);
  // A throwing authoriser refuses.
  const w2 = new Worker(workerNode, {
    logger: quiet,
    authorize: () => {
      throw new Error("policy store down");
    },
  });
  assert.equal(
    parsePayload((await w2.handle(req("get_stats", null)))!, "error").code,
    1002,
  );
});
