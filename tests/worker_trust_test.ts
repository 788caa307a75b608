/**
 * The worker's default policy over real sockets: a stranger may ping but
 * its deploy, start_miner, stop_miner, get_stats and get_logs are refused
 * with code 1002 and change nothing; trusting its key (a TrustStore on
 * disk) lets the same commands through, distrusting refuses them again.
 * Replies speak for the worker (`from` = its ID) whatever `to` said, and
 * every command is logged with the peer's ID and name.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Logger, LogLevel } from "../logging/logger.ts";
import { createMinerBundle } from "../node/bundle.ts";
import { Controller } from "../node/controller.ts";
import { newMessage, parsePayload, ProtocolError } from "../node/message.ts";
import { CommandCounts } from "../node/ops/command_audit.ts";
import { Node } from "../node/node.ts";
import { TrustStore } from "../node/registry/trust.ts";
import { Worker } from "../node/worker.ts";
import { TestMinerManager, TestProfileManager } from "./fixtures/_managers.ts";
import { parsePrometheus } from "./_prometheus.ts";
import {
  quietLogger,
  registerPeer,
  startNode,
  type TestNode,
} from "./fixtures/_nodes.ts";

const FAKE_MINER = fileURLToPath(
  new URL("./fixtures/fake_miner.ts", import.meta.url),
);

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = `${rel}${e.name}`;
      out.push(r);
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${r}/`);
    }
  };
  await walk(dir, "");
  return out.sort();
}

function isRefusal(e: unknown): boolean {
  return e instanceof ProtocolError && e.remoteCode === 1002 &&
    /^Worker\.authorize: peer [0-9a-f]{32} is not authorized for \w+$/.test(
      e.remoteMessage,
    );
}

Deno.test("worker: a stranger is refused (1002, nothing written, nothing started) until trusted; distrusted, refused again", async () => {
  const ctl: TestNode = await startNode("stranger-ctl", "controller");
  const wn: TestNode = await startNode("worker", "worker");
  const dataDir = await Deno.makeTempDir({ prefix: "trust_data_" });
  const lines: string[] = [];
  const log = new Logger({
    level: LogLevel.Info,
    sink: { write: (l: string) => void lines.push(l) },
  });
  const trust = await TrustStore.open(`${wn.dir}/trusted-controllers.json`, {
    logger: quietLogger(),
  });
  const miners = new TestMinerManager();
  const counts = new CommandCounts();
  const worker = new Worker(wn.node, {
    minerManager: miners,
    profileManager: new TestProfileManager(),
    dataDir,
    logger: log,
    trust,
    onCommand: (e) => counts.record(e),
  });
  worker.register(wn.transport);
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  try {
    registerPeer(ctl, wn);
    const before = await tree(dataDir);
    const bundle = await createMinerBundle(
      FAKE_MINER,
      null,
      "xmrig",
      controller.bundlePassword(wn.id),
    );
    const commands = [
      () => controller.deployBundle(wn.id, bundle),
      () =>
        controller.startRemoteMiner(wn.id, { minerType: "xmrig", config: {} }),
      () => controller.stopRemoteMiner(wn.id, "xmrig"),
      () => controller.getRemoteStats(wn.id),
      () => controller.getRemoteLogs(wn.id, { minerName: "xmrig", lines: 5 }),
    ];
    const refusedAll = async () => {
      assert.ok((await controller.pingPeer(wn.id)) > 0, "ping stays open");
      for (const c of commands) await assert.rejects(c, isRefusal);
      assert.deepEqual(await tree(dataDir), before, "nothing written");
      assert.equal(miners.started.length, 0, "nothing started");
    };
    await refusedAll();
    assert.equal(counts.get("deploy", "refused"), 1);
    assert.equal(counts.get("ping", "ok"), 1);
    // The refusals are logged with the stranger's ID and name.
    assert.ok(
      lines.some((l) =>
        l.includes("command refused") && l.includes(`peer_id=${ctl.id}`) &&
        l.includes("peer_name=stranger-ctl") && l.includes("command=deploy")
      ),
      lines.join(""),
    );

    // Trusted: the same commands go through.
    await trust.trust(ctl.publicKey);
    const ack = await controller.deployBundle(wn.id, bundle);
    assert.equal(ack.success, true);
    assert.ok((await Deno.stat(`${dataDir}/miners/xmrig`)).isDirectory);
    assert.equal(
      await controller.startRemoteMiner(wn.id, {
        minerType: "xmrig",
        config: {},
      }),
      "xmrig-1",
    );
    assert.equal(miners.started.length, 1);
    assert.equal((await controller.getRemoteStats(wn.id)).nodeId, wn.id);
    assert.equal(counts.get("deploy", "ok"), 1);
    assert.ok(
      lines.some((l) =>
        l.includes("command obeyed") && l.includes(`peer_id=${ctl.id}`) &&
        l.includes("command=deploy")
      ),
    );

    // Distrusted: refused again, at once.
    await trust.distrust(ctl.publicKey);
    await Deno.remove(`${dataDir}/miners`, { recursive: true });
    miners.started.length = 0;
    await refusedAll();
    assert.equal(counts.get("deploy", "refused"), 2);
  } finally {
    worker.close();
    controller.close();
    await trust.close();
    await ctl.close();
    await wn.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("worker: replies carry the worker's own ID in from, whatever to the request named", async () => {
  const ctl = await startNode("ctl", "controller");
  const wn = await startNode("worker", "worker");
  const worker = new Worker(wn.node, {
    logger: quietLogger(),
    trust: [ctl.publicKey],
  });
  worker.register(wn.transport);
  try {
    const conn = await ctl.transport.connect({ address: wn.transport.addr });
    for (const type of ["ping", "get_stats", "get_logs"] as const) {
      const req = newMessage(type, {
        from: ctl.id,
        to: "ffffffffffffffffffffffffffffffff", // a forged recipient
        payload: type === "ping"
          ? { sentAt: 1 }
          : type === "get_logs"
          ? { minerName: "none", lines: 1 }
          : null,
      } as never);
      const r = await ctl.transport.request(conn.peerId, req, {
        timeout: 5_000,
      });
      assert.equal(r.from, wn.id, `${type} -> ${r.type}`);
      assert.equal(r.to, ctl.id);
      if (type === "get_logs") {
        // an error reply (no miner manager) speaks for the worker too
        assert.equal(r.type, "error");
        assert.equal(parsePayload(r, "error").code, 1004);
      }
    }
  } finally {
    worker.close();
    await ctl.close();
    await wn.close();
  }
});

Deno.test("Node: trusts nobody by default, counts refusals; trustAnyController is Go's behaviour and warns at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "node_trust_" });
  const lines: string[] = [];
  const logger = new Logger({
    level: LogLevel.Info,
    sink: { write: (l: string) => void lines.push(l) },
  });
  const options = (name: string) => ({
    dataDir: `${dir}/${name}/data`,
    configDir: `${dir}/${name}/config`,
    name,
    transport: { listenAddr: "127.0.0.1:0", reconnect: false },
    control: false as const,
    minerManager: null,
    profileManager: null,
    logger,
  });
  const a = await Node.create(options("a"));
  const safe = await Node.create(options("safe"));
  const open = await Node.create({
    ...options("open"),
    trustAnyController: true,
  });
  try {
    for (const n of [a, safe, open]) await n.start();
    assert.deepEqual(safe.commandStatus(), {
      policy: "trusted",
      trusted: 0,
      open: ["ping"],
    });
    assert.equal(open.commandStatus().policy, "any");
    assert.ok(
      lines.some((l) =>
        l.includes("[WARN]") && l.includes("ANY connected peer")
      ),
      "a loud warning at start",
    );
    const pSafe = await a.addPeer({ address: safe.transport.addr });
    const pOpen = await a.addPeer({ address: open.transport.addr });
    await assert.rejects(a.stats(pSafe.id), isRefusal);
    assert.equal((await a.stats(pOpen.id)).nodeName, "open");
    const m = parsePrometheus(safe.metrics.render());
    assert.equal(
      m.get('p2p_commands_total{command="get_stats",outcome="refused"}'),
      1,
    );
    assert.equal(m.get("p2p_trusted_controllers"), 0);
    // Trusted through the node's store: obeyed at once.
    await safe.trust.trust(a.identity.publicKey);
    assert.equal((await a.stats(pSafe.id)).nodeName, "safe");
  } finally {
    for (const n of [a, safe, open]) await n.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
