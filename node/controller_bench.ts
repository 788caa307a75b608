/**
 * Controller round trips over real loopback transports: one ping, one
 * stats request, and getAllStats across 10 and 50 in-process workers.
 *
 * Run: deno bench -A node/controller_bench.ts
 */

import { Controller } from "./controller.ts";
import { Worker } from "./worker.ts";
import { TestMiner, TestMinerManager } from "../tests/fixtures/_managers.ts";
import {
  quietLogger,
  registerPeer,
  startNode,
  type TestNode,
} from "../tests/fixtures/_nodes.ts";

async function fleet(
  n: number,
): Promise<{ controller: Controller; ids: string[] }> {
  // Rate limiting off on both ends: the Go limit (burst 100, then 50 messages
  // per second per connection) would otherwise drop replies mid-bench.
  const ctl: TestNode = await startNode("controller", "controller", {
    config: { rateLimitDisabled: true },
  });
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const node = await startNode(`w${i}`, "worker", {
      config: { rateLimitDisabled: true },
    });
    const mm = new TestMinerManager();
    mm.miners.set(
      "xmrig",
      new TestMiner("xmrig", "xmrig", { hashrate: 1000 + i }),
    );
    new Worker(node.node, {
      minerManager: mm,
      logger: quietLogger(),
      trust: [ctl.publicKey],
    }).register(node.transport);
    registerPeer(ctl, node);
    await controller.connectToPeer(node.id);
    ids.push(node.id);
  }
  return { controller, ids };
}

const ten = await fleet(10);
const fifty = await fleet(50);
const one = ten.ids[0]!;

Deno.bench({
  group: "request",
  name: "pingPeer (1 worker)",
  baseline: true,
  async fn() {
    await ten.controller.pingPeer(one);
  },
});

Deno.bench({
  group: "request",
  name: "getRemoteStats (1 worker, 1 miner)",
  async fn() {
    await ten.controller.getRemoteStats(one);
  },
});

Deno.bench({
  group: "fleet",
  name: "getAllStats, 10 workers",
  baseline: true,
  async fn() {
    const all = await ten.controller.getAllStats();
    if (all.size !== 10) throw new Error(`got ${all.size}`);
  },
});

Deno.bench({
  group: "fleet",
  name: "getAllStats, 50 workers",
  async fn() {
    const all = await fifty.controller.getAllStats();
    if (all.size !== 50) throw new Error(`got ${all.size}`);
  },
});
