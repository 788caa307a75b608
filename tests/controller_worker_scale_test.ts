/**
 * Scale: one controller and 50 worker nodes (in this process, each with its
 * own transport and listening socket on 127.0.0.1). `getAllStats` must
 * return all 50; the wall time is printed (recorded in BENCHMARKS.md).
 */

import assert from "node:assert/strict";
import { Controller } from "../node/controller.ts";
import { Worker } from "../node/worker.ts";
import { TestMiner, TestMinerManager } from "./fixtures/_managers.ts";
import {
  quietLogger,
  registerPeer,
  startNode,
  type TestNode,
} from "./fixtures/_nodes.ts";

const WORKERS = 50;

Deno.test(`Scale: getAllStats over ${WORKERS} workers`, async () => {
  const ctl = await startNode("controller", "controller");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const nodes: TestNode[] = [];
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) {
      const n = await startNode(`w${i}`, "worker");
      nodes.push(n);
      const mm = new TestMinerManager();
      mm.miners.set(
        "xmrig",
        new TestMiner("xmrig", "xmrig", { hashrate: 1000 + i, shares: i }),
      );
      const w = new Worker(n.node, {
        minerManager: mm,
        logger: quietLogger(),
        trust: [ctl.publicKey],
      });
      w.register(n.transport);
      workers.push(w);
      registerPeer(ctl, n);
    }
    const t0 = performance.now();
    await Promise.all(nodes.map((n) => controller.connectToPeer(n.id)));
    const connectMs = performance.now() - t0;

    const times: number[] = [];
    let last = new Map();
    for (let round = 0; round < 5; round++) {
      const t = performance.now();
      last = await controller.getAllStats();
      times.push(performance.now() - t);
      assert.equal(last.size, WORKERS);
    }
    for (const [i, n] of nodes.entries()) {
      assert.equal(last.get(n.id)?.miners[0]?.hashrate, 1000 + i);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `scale: ${WORKERS} workers, connect all ${
        connectMs.toFixed(1)
      } ms; getAllStats ` +
        `first ${times[0]!.toFixed(1)} ms, median ${
          sorted[2]!.toFixed(1)
        } ms, ` +
        `min ${sorted[0]!.toFixed(1)} ms, max ${sorted[4]!.toFixed(1)} ms`,
    );
    assert.equal(controller.pendingCount, 0);
  } finally {
    controller.close();
    for (const w of workers) w.close();
    await Promise.all(nodes.map((n) => n.close()));
    await ctl.close();
  }
});
