/**
 * End to end with real processes: an in-process controller, a worker in a
 * separate Deno process and one in this process; profile and miner bundles
 * deployed over the mesh; the fake XMRig-style miner started, read, stopped
 * and checked for orphans; timeouts, a worker killed mid-request, and the
 * authorisation policy.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createMinerBundle, createProfileBundle } from "../node/bundle.ts";
import {
  Controller,
  ControllerError,
  deployFrameSize,
} from "../node/controller.ts";
import { ProcessMinerManager } from "../node/managers/process_miner.ts";
import { FileProfileManager } from "../node/managers/profile_manager.ts";
import { ProtocolError } from "../node/message.ts";
import { Worker } from "../node/worker.ts";
import { type ChildWorker, spawnWorker } from "./fixtures/_child.ts";
import { quietLogger, startNode, type TestNode } from "./fixtures/_nodes.ts";
import { isProcessAlive, killIfAlive, waitFor } from "./fixtures/_proc.ts";

const FAKE_MINER = fileURLToPath(
  new URL("./fixtures/fake_miner.ts", import.meta.url),
);

interface WorkerRef {
  label: string;
  id: string;
  publicKey: string;
  address: string;
  dataDir: string;
}

function register(ctl: TestNode, w: WorkerRef): void {
  ctl.registry.addPeer({
    id: w.id,
    name: w.label,
    publicKey: w.publicKey,
    address: w.address,
    role: "worker",
  });
}

/** Deploys the profile and the fake miner, runs it, reads it, stops it. */
async function exerciseWorker(
  controller: Controller,
  w: WorkerRef,
  pids: number[],
): Promise<void> {
  const password = controller.bundlePassword(w.id);
  assert.equal(password.length, 44);

  const profile = {
    id: "fake-profile",
    name: "Fake profile",
    minerType: "fake",
    config: {
      pools: [{ url: "pool.test:3333", algo: "rx/0" }],
      fake: { hashrate: 1234.5, intervalMs: 100, pidFile: "fake.pid" },
    },
  };
  const pb = await createProfileBundle(
    JSON.stringify(profile),
    "fake-profile",
    password,
  );
  assert.deepEqual(await controller.deployBundle(w.id, pb), {
    success: true,
    name: "fake-profile",
  });
  const stored = JSON.parse(
    await Deno.readTextFile(`${w.dataDir}/profiles/fake-profile.json`),
  );
  assert.deepEqual(stored, profile);

  const mb = await createMinerBundle(FAKE_MINER, null, "fake", password);
  assert.ok(
    deployFrameSize(mb) < 1_048_576,
    "fits a Go worker's default frame",
  );
  assert.deepEqual(
    await controller.deployBundle(w.id, mb, { peerMaxMessageSize: 1_048_576 }),
    {
      success: true,
      name: "fake",
    },
  );
  const installed = `${w.dataDir}/miners/fake/fake_miner.ts`;
  assert.equal(
    await Deno.readTextFile(installed),
    await Deno.readTextFile(FAKE_MINER),
  );
  assert.notEqual(
    (await Deno.stat(installed)).mode! & 0o100,
    0,
    "execute bit restored",
  );

  const name = await controller.startRemoteMiner(w.id, {
    minerType: "fake",
    profileId: "fake-profile",
  });
  assert.equal(name, "fake");
  const pidFile = `${w.dataDir}/miners/fake/fake.pid`;
  await waitFor(async () => {
    try {
      return (await Deno.readTextFile(pidFile)).length > 0;
    } catch {
      return false;
    }
  }, 20_000);
  const pid = Number(await Deno.readTextFile(pidFile));
  pids.push(pid);
  assert.equal(isProcessAlive(pid), true);

  let stats = await controller.getRemoteStats(w.id);
  await waitFor(
    async () => {
      stats = await controller.getRemoteStats(w.id);
      return (stats.miners[0]?.shares ?? 0) >= 1;
    },
    20_000,
    100,
  );
  assert.equal(stats.nodeId, w.id);
  assert.equal(stats.miners.length, 1);
  const m = stats.miners[0]!;
  assert.equal(m.name, "fake");
  assert.equal(m.type, "fake");
  assert.equal(m.hashrate, 1234.5);
  assert.equal(m.pool, "pool.test:3333");
  assert.equal(m.algorithm, "rx/0");
  assert.ok(m.uptime >= 0);

  const logs = await controller.getRemoteLogs(w.id, {
    minerName: "fake",
    lines: 1000,
  });
  assert.ok(logs && logs.length >= 3);
  assert.match(logs[0]!, /started fake-miner/);
  assert.ok(logs.some((l) => /speed 10s\/60s\/15m 1234\.5/.test(l)));
  const last2 = await controller.getRemoteLogs(w.id, {
    minerName: "fake",
    lines: 2,
  });
  assert.equal(last2?.length, 2);

  await controller.stopRemoteMiner(w.id, "fake");
  assert.equal(isProcessAlive(pid), false, "no orphan miner after stop");
  const after = await controller.getRemoteStats(w.id);
  assert.deepEqual(after.miners, []);
  await assert.rejects(
    () => controller.getRemoteLogs(w.id, { minerName: "fake", lines: 1 }),
    (e) =>
      e instanceof ProtocolError && /miner not found: fake/.test(e.message),
  );
}

Deno.test("E2E: controller and two workers (one a child process) deploy, mine, read, stop", async () => {
  const ctl = await startNode("controller", "controller");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const dirA = await Deno.makeTempDir({ prefix: "e2e_child_" });
  const local = await startNode("local-worker", "worker");
  const miners = new ProcessMinerManager({
    dataDir: local.dir,
    logger: quietLogger(),
    stopGraceMs: 3000,
  });
  const worker = new Worker(local.node, {
    minerManager: miners,
    profileManager: new FileProfileManager({ dir: `${local.dir}/profiles` }),
    dataDir: local.dir,
    logger: quietLogger(),
    trust: [ctl.publicKey],
  });
  worker.register(local.transport);
  let child: ChildWorker | undefined;
  const pids: number[] = [];
  try {
    child = await spawnWorker(dirA, [
      "--name",
      "child-worker",
      "--trust",
      ctl.publicKey,
    ]);
    assert.notEqual(child.info.pid, Deno.pid, "a separate process");
    const refs: WorkerRef[] = [
      { label: "child-worker", ...child.info, dataDir: dirA },
      {
        label: "local-worker",
        id: local.id,
        publicKey: local.publicKey,
        address: local.transport.addr,
        dataDir: local.dir,
      },
    ];
    for (const r of refs) register(ctl, r);

    // Both workers answer in parallel before anything is deployed.
    const before = await controller.getAllStats();
    assert.equal(
      before.size,
      0,
      "nothing connected yet: getAllStats does not dial",
    );
    for (const r of refs) assert.ok((await controller.pingPeer(r.id)) > 0);
    const all = await controller.getAllStats();
    assert.deepEqual([...all.keys()].sort(), refs.map((r) => r.id).sort());
    assert.equal(all.get(child.info.id)!.nodeName, "child-worker");

    await Promise.all(refs.map((r) => exerciseWorker(controller, r, pids)));

    // The child shuts down cleanly and leaves nothing behind.
    const status = await child.stop();
    assert.equal(status.code, 0);
    for (const pid of pids) assert.equal(isProcessAlive(pid), false);
  } finally {
    for (const pid of pids) killIfAlive(pid);
    await child?.stop();
    worker.close();
    await miners.close();
    controller.close();
    await local.close();
    await ctl.close();
    await Deno.remove(dirA, { recursive: true }).catch(() => {});
  }
});

Deno.test("E2E: a frozen worker times out; a worker killed mid-request fails at once", async () => {
  const ctl = await startNode("controller", "controller");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const dir = await Deno.makeTempDir({ prefix: "e2e_kill_" });
  let child: ChildWorker | undefined;
  try {
    child = await spawnWorker(dir);
    const ref = { label: "victim", ...child.info, dataDir: dir };
    register(ctl, ref);
    assert.ok((await controller.pingPeer(ref.id)) > 0);

    // Frozen (SIGSTOP): the request times out with the documented error.
    child.signal("SIGSTOP");
    const t0 = performance.now();
    await assert.rejects(
      () => controller.getRemoteStats(ref.id, { timeoutMs: 300 }),
      (e) =>
        e instanceof ControllerError && e.code === "timeout" &&
        e.message === "Cannot send request: request timeout",
    );
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(controller.pendingCount, 0);

    // Killed while a request waits: it fails with `disconnected`, long before its timeout.
    const pending = controller.getRemoteStats(ref.id, { timeoutMs: 20_000 });
    await waitFor(() => controller.pendingCount === 1);
    const t1 = performance.now();
    child.signal("SIGKILL");
    await assert.rejects(
      pending,
      (e) =>
        e instanceof ControllerError && e.code === "disconnected" &&
        /disconnected before replying/.test(e.message),
    );
    assert.ok(performance.now() - t1 < 5000);
    await child.stop();

    // Now nothing listens: the next request cannot connect.
    await assert.rejects(
      () => controller.getRemoteStats(ref.id),
      (e) =>
        e instanceof ControllerError && e.code === "connect_failed" &&
        /failed to connect to peer/.test(e.message),
    );
  } finally {
    await child?.stop();
    controller.close();
    await ctl.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("E2E: an untrusted controller is refused (the default policy); the trusted one is obeyed", async () => {
  const good = await startNode("good-controller", "controller");
  const bad = await startNode("bad-controller", "controller");
  const cGood = new Controller(good.node, good.transport, {
    registry: good.registry,
    logger: quietLogger(),
  });
  const cBad = new Controller(bad.node, bad.transport, {
    registry: bad.registry,
    logger: quietLogger(),
  });
  const dir = await Deno.makeTempDir({ prefix: "e2e_auth_" });
  let child: ChildWorker | undefined;
  try {
    child = await spawnWorker(dir, ["--trust", good.publicKey]);
    const ref = { label: "guarded", ...child.info, dataDir: dir };
    register(good, ref);
    register(bad, ref);
    assert.equal((await cGood.getRemoteStats(ref.id)).nodeId, ref.id);
    // The stranger completes the handshake and may ping, but every command is refused.
    assert.ok((await cBad.pingPeer(ref.id)) > 0);
    for (
      const op of [
        () => cBad.getRemoteStats(ref.id),
        () => cBad.startRemoteMiner(ref.id, { minerType: "fake", config: {} }),
        () => cBad.stopRemoteMiner(ref.id, "fake"),
        () => cBad.getRemoteLogs(ref.id, { minerName: "fake", lines: 1 }),
      ]
    ) {
      await assert.rejects(
        op,
        (e) =>
          e instanceof ProtocolError && e.remoteCode === 1002 &&
          new RegExp(`peer ${bad.id} is not authorized`).test(e.message),
      );
    }
    const mb = await createMinerBundle(
      FAKE_MINER,
      null,
      "fake",
      cBad.bundlePassword(ref.id),
    );
    await assert.rejects(
      () => cBad.deployBundle(ref.id, mb),
      (e) => e instanceof ProtocolError && e.remoteCode === 1002,
    );
    await assert.rejects(
      () => Deno.stat(`${dir}/miners/fake`),
      Deno.errors.NotFound,
    );
  } finally {
    await child?.stop();
    cGood.close();
    cBad.close();
    await good.close();
    await bad.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
