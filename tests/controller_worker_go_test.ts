/**
 * The Go test behaviours of node.md §11.6 (controller), the live parts of
 * §11.7 (worker) and the controller/worker parts of §11.11 (integration),
 * over real transports on 127.0.0.1.
 */

import assert from "node:assert/strict";
import { Controller, ControllerError } from "../node/controller.ts";
import { NodeManager } from "../node/identity_store.ts";
import { ProtocolError } from "../node/message.ts";
import { Worker } from "../node/worker.ts";
import { TestMiner, TestMinerManager } from "./fixtures/_managers.ts";
import {
  quietLogger,
  registerPeer,
  startNode,
  type TestNode,
} from "./fixtures/_nodes.ts";
import { waitFor } from "./fixtures/_proc.ts";

interface Fleet {
  ctl: TestNode;
  controller: Controller;
  workers: { node: TestNode; worker: Worker; miners: TestMinerManager }[];
  close(): Promise<void>;
}

/** A controller and `n` in-process workers, registered but not connected. */
async function fleet(
  n: number,
  opts: { connect?: boolean } = {},
): Promise<Fleet> {
  const ctl = await startNode("controller", "controller");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const workers: Fleet["workers"] = [];
  const closeAll = async () => {
    controller.close();
    for (const w of workers) w.worker.close();
    await Promise.all([ctl.close(), ...workers.map((w) => w.node.close())]);
  };
  try {
    for (let i = 0; i < n; i++) {
      const node = await startNode(`worker-${i}`, "worker");
      const miners = new TestMinerManager();
      const worker = new Worker(node.node, {
        minerManager: miners,
        dataDir: node.dir,
        logger: quietLogger(),
        trust: [ctl.publicKey],
      });
      worker.register(node.transport);
      workers.push({ node, worker, miners });
      registerPeer(ctl, node);
      if (opts.connect ?? true) await controller.connectToPeer(node.id);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { ctl, controller, workers, close: closeAll };
}

Deno.test("Controller.pingPeer: positive RTT below 1 s, registry pingMs updated", async () => {
  const f = await fleet(1);
  try {
    const id = f.workers[0]!.node.id;
    const before = f.ctl.registry.getPeer(id)!;
    const rtt = await f.controller.pingPeer(id);
    assert.ok(rtt > 0 && rtt < 1000, `rtt ${rtt}`);
    const after = f.ctl.registry.getPeer(id)!;
    assert.equal(after.pingMs, rtt);
    assert.ok(after.pingMs > 0);
    assert.equal(after.score, before.score + 1, "a success raises the score");
  } finally {
    await f.close();
  }
});

Deno.test("Controller request to a peer that ignores it times out (200 ms) and cleans up", async () => {
  const ctl = await startNode("controller", "controller");
  const silent = await startNode("silent", "worker"); // no worker handler
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
    timeouts: { ping: 200 },
  });
  try {
    registerPeer(ctl, silent);
    await controller.connectToPeer(silent.id);
    const scoreBefore = ctl.registry.getPeer(silent.id)!.score;
    const t0 = performance.now();
    await assert.rejects(
      () => controller.pingPeer(silent.id),
      (e) =>
        e instanceof ControllerError && e.code === "timeout" &&
        /timeout/.test(e.message),
    );
    const took = performance.now() - t0;
    assert.ok(took >= 190 && took < 1000, `took ${took} ms`);
    assert.equal(controller.pendingCount, 0);
    assert.equal(
      ctl.registry.getPeer(silent.id)!.score,
      scoreBefore - 3,
      "timeout recorded",
    );
  } finally {
    controller.close();
    await ctl.close();
    await silent.close();
  }
});

Deno.test("Controller.pingPeer auto-connects a registered peer (0 -> 1 connections)", async () => {
  const f = await fleet(1, { connect: false });
  try {
    assert.equal(f.ctl.transport.connectedPeers().length, 0);
    const rtt = await f.controller.pingPeer(f.workers[0]!.node.id);
    assert.ok(rtt > 0);
    assert.equal(f.ctl.transport.connectedPeers().length, 1);
  } finally {
    await f.close();
  }
});

Deno.test("Controller.getAllStats returns one entry per connected worker", async () => {
  const f = await fleet(2);
  try {
    const all = await f.controller.getAllStats();
    assert.equal(all.size, 2);
    for (const w of f.workers) {
      const s = all.get(w.node.id);
      assert.ok(s, `stats for ${w.node.id}`);
      assert.equal(s.nodeId, w.node.id);
      assert.ok(s.uptime >= 0);
    }
  } finally {
    await f.close();
  }
});

Deno.test("Controller.getAllStats leaves out a peer that fails", async () => {
  const f = await fleet(2);
  const silent = await startNode("silent", "worker");
  try {
    registerPeer(f.ctl, silent);
    await f.controller.connectToPeer(silent.id);
    const all = await f.controller.getAllStats({ timeoutMs: 300 });
    assert.deepEqual(
      [...all.keys()].sort(),
      f.workers.map((w) => w.node.id).sort(),
    );
  } finally {
    await silent.close();
    await f.close();
  }
});

Deno.test("Controller pings: three workers concurrently, five sequential, ten concurrent", async () => {
  const f = await fleet(3);
  try {
    const rtts = await Promise.all(
      f.workers.map((w) => f.controller.pingPeer(w.node.id)),
    );
    assert.ok(rtts.every((r) => r > 0));
    const id = f.workers[0]!.node.id;
    for (let i = 0; i < 5; i++) {
      assert.ok((await f.controller.pingPeer(id)) > 0);
    }
    const ten = await Promise.all(
      Array.from({ length: 10 }, () => f.controller.pingPeer(id)),
    );
    assert.equal(ten.length, 10);
    assert.equal(f.controller.pendingCount, 0);
  } finally {
    await f.close();
  }
});

Deno.test("Controller.getRemoteStats returns node ID, name, miners and uptime", async () => {
  const f = await fleet(1);
  try {
    const w = f.workers[0]!;
    const s = await f.controller.getRemoteStats(w.node.id);
    assert.equal(s.nodeId, w.node.id);
    assert.equal(s.nodeName, "worker-0");
    assert.deepEqual(s.miners, []);
    assert.ok(s.uptime >= 0);
    w.miners.miners.set(
      "running-miner",
      new TestMiner("running-miner", "xmrig", { hashrate: 1234.5 }),
    );
    const s2 = await f.controller.getRemoteStats(w.node.id);
    assert.equal(s2.miners.length, 1);
    assert.equal(s2.miners[0]!.name, "running-miner");
    assert.equal(s2.miners[0]!.hashrate, 1234.5);
  } finally {
    await f.close();
  }
});

Deno.test("Controller connect/disconnect and peer-not-found errors", async () => {
  const f = await fleet(1, { connect: false });
  try {
    const id = f.workers[0]!.node.id;
    await assert.rejects(
      () => f.controller.connectToPeer("0123456789abcdef0123456789abcdef"),
      (e) =>
        e instanceof ControllerError && e.code === "peer_not_found" &&
        /not found/.test(e.message),
    );
    assert.throws(
      () => f.controller.disconnectFromPeer(id),
      (e) => e instanceof ControllerError && /not connected/.test(e.message),
    );
    const conn = await f.controller.connectToPeer(id);
    assert.equal(conn.peerId, id);
    f.controller.disconnectFromPeer(id);
    await conn.closed;
    await assert.rejects(
      () => f.controller.getRemoteStats("fedcba9876543210fedcba9876543210"),
      (e) =>
        e instanceof ControllerError &&
        e.message ===
          "Cannot send request: peer not found: fedcba9876543210fedcba9876543210",
    );
  } finally {
    await f.close();
  }
});

Deno.test("Controller.startRemoteMiner: config override with and without profile; empty type", async () => {
  const f = await fleet(1);
  try {
    const w = f.workers[0]!;
    const name = await f.controller.startRemoteMiner(w.node.id, {
      minerType: "xmrig",
      config: { pools: [] },
    });
    assert.equal(name, "xmrig-1");
    await f.controller.startRemoteMiner(w.node.id, {
      minerType: "xmrig",
      profileId: "p",
      config: {},
    });
    assert.deepEqual(w.miners.started.map((s) => s.config), [
      { pools: [] },
      {},
    ]);
    await assert.rejects(
      () => f.controller.startRemoteMiner(w.node.id, { minerType: "" }),
      (e) => e instanceof TypeError && /miner type is required/.test(e.message),
    );
    w.miners.failStart = true;
    await assert.rejects(
      () =>
        f.controller.startRemoteMiner(w.node.id, {
          minerType: "xmrig",
          config: {},
        }),
      (e) =>
        e instanceof ControllerError && e.code === "miner_failed" &&
        e.message ===
          "Cannot start miner: miner start failed: mining hardware on fire",
    );
  } finally {
    await f.close();
  }
});

Deno.test("Controller.stopRemoteMiner succeeds for an existing miner, fails for an unknown one", async () => {
  const f = await fleet(1);
  try {
    const w = f.workers[0]!;
    w.miners.miners.set("m1", new TestMiner("m1", "xmrig", {}));
    await f.controller.stopRemoteMiner(w.node.id, "m1");
    await assert.rejects(
      () => f.controller.stopRemoteMiner(w.node.id, "m1"),
      (e) =>
        e instanceof ControllerError &&
        /miner stop failed: miner not found: m1/.test(e.message),
    );
  } finally {
    await f.close();
  }
});

Deno.test("Controller.getRemoteLogs: lines and since (inclusive)", async () => {
  const f = await fleet(1);
  try {
    const w = f.workers[0]!;
    const t = Date.now() - 10_000;
    w.miners.miners.set(
      "m1",
      new TestMiner("m1", "xmrig", {}, [
        { at: t, line: "miner started" },
        { at: t + 1000, line: "speed 100 H/s" },
        { at: t + 2000, line: "accepted (1/0)" },
      ]),
    );
    const all = await f.controller.getRemoteLogs(w.node.id, {
      minerName: "m1",
      lines: 10,
    });
    assert.equal(all?.length, 3);
    assert.match(all![0]!, /started/);
    assert.deepEqual(
      await f.controller.getRemoteLogs(w.node.id, {
        minerName: "m1",
        lines: 1,
      }),
      ["accepted (1/0)"],
    );
    assert.deepEqual(
      await f.controller.getRemoteLogs(w.node.id, {
        minerName: "m1",
        lines: 10,
        since: new Date(t + 1000),
      }),
      ["speed 100 H/s", "accepted (1/0)"],
    );
    await assert.rejects(
      () =>
        f.controller.getRemoteLogs(w.node.id, { minerName: "ghost", lines: 1 }),
      (e) =>
        e instanceof ProtocolError && e.remoteCode === 1004 &&
        /miner not found: ghost/.test(e.message),
    );
  } finally {
    await f.close();
  }
});

Deno.test("Controller operations without an identity fail with identity not initialized", async () => {
  const ctl = await startNode("controller", "controller", { listen: false });
  const empty = await NodeManager.open({
    keyPath: "/nonexistent/k",
    configPath: "/nonexistent/c",
  });
  const controller = new Controller(empty, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  try {
    const id = "0123456789abcdef0123456789abcdef";
    const ops: (() => Promise<unknown>)[] = [
      () => controller.getRemoteStats(id),
      () => controller.startRemoteMiner(id, { minerType: "xmrig", config: {} }),
      () => controller.stopRemoteMiner(id, "m"),
      () => controller.getRemoteLogs(id, { minerName: "m", lines: 1 }),
      () => controller.pingPeer(id),
      () => controller.getAllStats(),
    ];
    for (const op of ops) {
      await assert.rejects(
        op,
        (e) =>
          e instanceof ControllerError &&
          /identity not initialized/.test(e.message),
      );
    }
  } finally {
    controller.close();
    await ctl.close();
  }
});

Deno.test("Controller reply handling: no replyTo ignored, unknown dropped, other peer dropped, resolve once", async () => {
  const f = await fleet(1);
  try {
    const w = f.workers[0]!;
    const msg = {
      id: crypto.randomUUID(),
      type: "get_stats",
      from: f.ctl.id,
      to: w.node.id,
      ts: new Date().toISOString(),
      payload: null,
    };
    const pending = f.controller.sendRequest(w.node.id, msg, {
      timeoutMs: 2000,
    });
    // A message without replyTo, one for an unknown request and one from another peer are ignored.
    f.controller.handleResponse({ peerId: w.node.id }, {
      ...msg,
      id: "x",
      type: "stats",
    });
    f.controller.handleResponse({ peerId: w.node.id }, {
      ...msg,
      id: "y",
      type: "stats",
      replyTo: "unknown",
    });
    f.controller.handleResponse({ peerId: "someone-else" }, {
      ...msg,
      id: "z",
      type: "stats",
      replyTo: msg.id,
    });
    const reply = await pending;
    assert.equal(reply.type, "stats");
    assert.equal(reply.replyTo, msg.id);
    assert.equal(f.controller.pendingCount, 0);
    // A late duplicate reply is dropped without effect.
    f.controller.handleResponse({ peerId: w.node.id }, reply);
    assert.equal(f.controller.pendingCount, 0);
  } finally {
    await f.close();
  }
});

Deno.test("Controller: a reply after the timeout is dropped safely", async () => {
  const ctl = await startNode("controller", "controller");
  const slow = await startNode("slow", "worker");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  // A worker whose handler answers pings after 300 ms.
  const worker = new Worker(slow.node, { logger: quietLogger() });
  const off = slow.transport.onMessage(async (conn, m) => {
    await new Promise((r) => setTimeout(r, 300));
    await worker.handleMessage(conn, m);
  });
  try {
    registerPeer(ctl, slow);
    await controller.connectToPeer(slow.id);
    await assert.rejects(
      () => controller.pingPeer(slow.id, { timeoutMs: 100 }),
      (e) => e instanceof ControllerError && e.code === "timeout",
    );
    await new Promise((r) => setTimeout(r, 400)); // the late pong arrives and is dropped
    assert.equal(controller.pendingCount, 0);
    assert.ok(
      (await controller.pingPeer(slow.id, { timeoutMs: 2000 })) > 0,
      "still usable",
    );
  } finally {
    off();
    controller.close();
    await ctl.close();
    await slow.close();
  }
});

Deno.test("Controller: aborting a request and closing the controller", async () => {
  const ctl = await startNode("controller", "controller");
  const silent = await startNode("silent", "worker");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  try {
    registerPeer(ctl, silent);
    const ac = new AbortController();
    const p = controller.getRemoteStats(silent.id, { signal: ac.signal });
    await waitFor(() => controller.pendingCount === 1);
    ac.abort();
    await assert.rejects(
      p,
      (e) => e instanceof ControllerError && e.code === "aborted",
    );
    const q = controller.getRemoteStats(silent.id);
    await waitFor(() => controller.pendingCount === 1);
    controller.close();
    await assert.rejects(
      q,
      (e) => e instanceof ControllerError && e.code === "closed",
    );
    await assert.rejects(
      () => controller.getRemoteStats(silent.id),
      (e) => e instanceof ControllerError && e.code === "closed",
    );
  } finally {
    controller.close();
    await ctl.close();
    await silent.close();
  }
});

Deno.test("Controller: a disconnect fails pending requests at once", async () => {
  const ctl = await startNode("controller", "controller");
  const silent = await startNode("silent", "worker");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  try {
    registerPeer(ctl, silent);
    const p = controller.getRemoteStats(silent.id, { timeoutMs: 10_000 });
    await waitFor(() => controller.pendingCount === 1);
    const t0 = performance.now();
    await silent.transport.stop();
    await assert.rejects(
      p,
      (e) => e instanceof ControllerError && e.code === "disconnected",
    );
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(controller.pendingCount, 0);
  } finally {
    controller.close();
    await ctl.close();
    await silent.close();
  }
});

Deno.test("Worker over a live connection: no miner manager makes start fail; one miner reported", async () => {
  const ctl = await startNode("controller", "controller");
  const wn = await startNode("worker", "worker");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const worker = new Worker(wn.node, {
    logger: quietLogger(),
    trust: [ctl.publicKey],
  });
  const off = worker.register(wn.transport);
  try {
    registerPeer(ctl, wn);
    await assert.rejects(
      () =>
        controller.startRemoteMiner(wn.id, { minerType: "xmrig", config: {} }),
      (e) =>
        e instanceof ProtocolError &&
        e.message === "remote error (1004): node: miner manager not configured",
    );
    const mm = new TestMinerManager();
    mm.miners.set("m", new TestMiner("m", "xmrig", { hashrate: 5000 }));
    worker.setMinerManager(mm);
    const s = await controller.getRemoteStats(wn.id);
    assert.deepEqual(s.miners.map((m) => [m.name, m.hashrate]), [["m", 5000]]);
  } finally {
    off();
    controller.close();
    await ctl.close();
    await wn.close();
  }
});

Deno.test("Integration: full lifecycle between a controller and a worker", async () => {
  const f = await fleet(1);
  try {
    const w = f.workers[0]!;
    assert.equal(f.ctl.node.getIdentity()!.role, "controller");
    assert.equal(w.node.node.getIdentity()!.role, "worker");
    assert.notEqual(f.ctl.id, w.node.id);
    const rtt = await f.controller.pingPeer(w.node.id);
    // The inbound side counts the connection once its first frame proved the peer.
    assert.deepEqual(f.ctl.transport.connectedPeers(), [w.node.id]);
    assert.deepEqual(w.node.transport.connectedPeers(), [f.ctl.id]);
    assert.ok(rtt > 0 && rtt < 1000);
    assert.equal(f.ctl.registry.getPeer(w.node.id)!.pingMs, rtt);
    w.miners.miners.set(
      "xmrig-0",
      new TestMiner("xmrig-0", "xmrig", { hashrate: 5000 }),
    );
    const s = await f.controller.getRemoteStats(w.node.id);
    assert.equal(s.nodeId, w.node.id);
    assert.equal(s.nodeName, "worker-0");
    assert.equal(s.miners[0]!.hashrate, 5000);
    // Graceful close delivers `disconnect` with reason and code 1000.
    const got = new Promise<unknown>((resolve) => {
      const off = w.node.transport.onMessage((_c, m) => {
        if (m.type === "disconnect") {
          off();
          resolve(m.payload);
        }
      });
    });
    await f.ctl.transport.getConnection(w.node.id)!.gracefulClose(
      "test done",
      1000,
    );
    assert.deepEqual(await got, { reason: "test done", code: 1000 });
    await waitFor(() => f.ctl.transport.connectedPeers().length === 0);
  } finally {
    await f.close();
  }
});

Deno.test("Integration: bidirectional ping and stats between two dual nodes", async () => {
  const a = await startNode("node-a", "dual");
  const b = await startNode("node-b", "dual");
  const ca = new Controller(a.node, a.transport, {
    registry: a.registry,
    logger: quietLogger(),
  });
  const cb = new Controller(b.node, b.transport, {
    registry: b.registry,
    logger: quietLogger(),
  });
  const wa = new Worker(a.node, {
    logger: quietLogger(),
    trust: [b.publicKey],
  });
  const wb = new Worker(b.node, {
    logger: quietLogger(),
    trust: [a.publicKey],
  });
  wa.register(a.transport);
  wb.register(b.transport);
  try {
    registerPeer(a, b);
    await ca.connectToPeer(b.id);
    await waitFor(() => b.transport.getConnection(a.id) !== undefined);
    for (let i = 0; i < 3; i++) {
      assert.ok((await ca.pingPeer(b.id)) > 0);
      assert.ok((await cb.pingPeer(a.id)) > 0);
      assert.equal((await ca.getRemoteStats(b.id)).nodeName, "node-b");
      assert.equal((await cb.getRemoteStats(a.id)).nodeName, "node-a");
    }
  } finally {
    wa.close();
    wb.close();
    ca.close();
    cb.close();
    await a.close();
    await b.close();
  }
});

Deno.test("Integration: a non-allowlisted controller is refused; an allowlisted one connects", async () => {
  const wn = await startNode("server", "worker");
  const good = await startNode("good", "controller");
  const bad = await startNode("bad", "controller");
  const worker = new Worker(wn.node, {
    logger: quietLogger(),
    trust: [good.publicKey],
  });
  worker.register(wn.transport);
  const cGood = new Controller(good.node, good.transport, {
    registry: good.registry,
    logger: quietLogger(),
  });
  const cBad = new Controller(bad.node, bad.transport, {
    registry: bad.registry,
    logger: quietLogger(),
  });
  try {
    wn.registry.setAuthMode("allowlist");
    await wn.registry.allowPublicKey(good.publicKey);
    registerPeer(good, wn);
    registerPeer(bad, wn);
    await assert.rejects(
      () => cBad.getRemoteStats(wn.id),
      (e) =>
        e instanceof ControllerError && e.code === "connect_failed" &&
        /rejected/.test(e.message),
    );
    const s = await cGood.getRemoteStats(wn.id);
    assert.equal(s.nodeId, wn.id);
    assert.equal(s.nodeName, "server");
    assert.ok(s.uptime >= 0);
    assert.equal(cGood.bundlePassword(wn.id).length, 44);
  } finally {
    worker.close();
    cGood.close();
    cBad.close();
    await good.close();
    await bad.close();
    await wn.close();
  }
});
