/**
 * Deploy size limits (node.md §13 item 15): large bundles between our nodes
 * (16 MiB frames by default, advertised in the upgrade), refusals before
 * sending for peers that advertise nothing (Go, assumed 1 MiB), and what a
 * Go-sized receiver does when a sender ignores its limit.
 */

import assert from "node:assert/strict";
import { createMinerBundle } from "../node/bundle.ts";
import {
  Controller,
  ControllerError,
  deployFrameSize,
} from "../node/controller.ts";
import type { TransportConfig } from "../node/transport/config.ts";
import { Worker } from "../node/worker.ts";
import { quietLogger, registerPeer, startNode } from "./fixtures/_nodes.ts";

const GO_LIMIT = 1_048_576;

async function withPair(
  ctlConfig: Partial<TransportConfig>,
  workerConfig: Partial<TransportConfig>,
  fn: (
    c: Controller,
    workerId: string,
    dataDir: string,
    worker: Awaited<ReturnType<typeof startNode>>,
  ) => Promise<void>,
): Promise<void> {
  const ctl = await startNode("controller", "controller", {
    config: ctlConfig,
  });
  const wn = await startNode("worker", "worker", {
    config: workerConfig,
  });
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const worker = new Worker(wn.node, {
    dataDir: wn.dir,
    logger: quietLogger(),
    trust: [ctl.publicKey],
  });
  worker.register(wn.transport);
  try {
    registerPeer(ctl, wn);
    await fn(controller, wn.id, wn.dir, wn);
  } finally {
    worker.close();
    controller.close();
    await ctl.close();
    await wn.close();
  }
}

async function bigMiner(dir: string, bytes: number): Promise<string> {
  const path = `${dir}/bigminer`;
  const data = new Uint8Array(bytes);
  data.set([0x7f, 0x45, 0x4c, 0x46]); // ELF magic: gets its execute bit back
  for (let i = 4; i < bytes; i++) data[i] = (i * 2654435761) >>> 24;
  await Deno.writeFile(path, data);
  return path;
}

Deno.test("deploy: a 6 MiB miner bundle between two nodes with default settings", async () => {
  await withPair({}, {}, async (c, id, dataDir, wn) => {
    const src = await bigMiner(
      await Deno.makeTempDir({ dir: dataDir }),
      6 << 20,
    );
    const b = await createMinerBundle(src, null, "six", c.bundlePassword(id));
    assert.ok(deployFrameSize(b) > 8 << 20);
    assert.deepEqual(await c.deployBundle(id, b), {
      success: true,
      name: "six",
    });
    const installed = `${dataDir}/miners/six/bigminer`;
    assert.deepEqual(await Deno.readFile(installed), await Deno.readFile(src));
    assert.equal(wn.transport.stats().messagesInByType.deploy, 1);
  });
});

Deno.test("deploy: a peer that advertises no frame limit (a Go worker) is refused before sending", async () => {
  // advertiseMaxMessageSize: false makes the worker's upgrade identical to Go's.
  await withPair(
    {},
    { advertiseMaxMessageSize: false },
    async (c, id, dataDir, wn) => {
      const src = await bigMiner(
        await Deno.makeTempDir({ dir: dataDir }),
        900 * 1024,
      );
      const b = await createMinerBundle(src, null, "big", c.bundlePassword(id));
      assert.ok(deployFrameSize(b) > GO_LIMIT);
      await assert.rejects(
        () => c.deployBundle(id, b),
        (e) =>
          e instanceof ControllerError && e.code === "frame_too_large" &&
          /above the peer's limit of 1048576/.test(e.message),
      );
      assert.equal(c.pendingCount, 0);
      assert.equal(wn.transport.stats().framesIn, 0, "nothing was sent");
      // An explicit limit above what the connection knows still cannot send it.
      await assert.rejects(
        () => c.deployBundle(id, b, { peerMaxMessageSize: 16 << 20 }),
        (e) =>
          e instanceof ControllerError && e.code === "send_failed" &&
          /exceeds the limit of 1048576/.test(e.message),
      );
      // A bundle that fits goes through.
      const small = await bigMiner(
        await Deno.makeTempDir({ dir: dataDir }),
        600 * 1024,
      );
      const sb = await createMinerBundle(
        small,
        null,
        "small",
        c.bundlePassword(id),
      );
      assert.equal((await c.deployBundle(id, sb)).success, true);
    },
  );
});

Deno.test("deploy: a 2 MiB miner bundle between nodes with a 16 MiB frame limit", async () => {
  await withPair({ maxMessageSize: 16 << 20 }, {
    maxMessageSize: 16 << 20,
  }, async (c, id, dataDir) => {
    const src = await bigMiner(
      await Deno.makeTempDir({ dir: dataDir }),
      2 << 20,
    );
    const b = await createMinerBundle(src, null, "big", c.bundlePassword(id));
    assert.ok(deployFrameSize(b) > GO_LIMIT);
    await assert.rejects(
      () => c.deployBundle(id, b, { peerMaxMessageSize: GO_LIMIT }),
      (e) =>
        e instanceof ControllerError && e.code === "frame_too_large" &&
        /above the peer's limit of 1048576/.test(e.message),
    );
    assert.deepEqual(await c.deployBundle(id, b), {
      success: true,
      name: "big",
    });
    const installed = `${dataDir}/miners/big/bigminer`;
    assert.deepEqual(await Deno.readFile(installed), await Deno.readFile(src));
    assert.notEqual((await Deno.stat(installed)).mode! & 0o111, 0);
  });
});

Deno.test("deploy: our own frame limit refuses to send an oversized bundle", async () => {
  await withPair({ maxMessageSize: GO_LIMIT }, {
    maxMessageSize: 16 << 20,
  }, async (c, id, dataDir) => {
    const src = await bigMiner(
      await Deno.makeTempDir({ dir: dataDir }),
      900 * 1024,
    );
    const b = await createMinerBundle(src, null, "big", c.bundlePassword(id));
    await assert.rejects(
      () => c.deployBundle(id, b),
      (e) =>
        e instanceof ControllerError && e.code === "send_failed" &&
        /failed to send message/.test(e.message),
    );
    assert.equal(c.pendingCount, 0);
  });
});

Deno.test("deploy: a receiver with a Go-sized limit drops the connection (as a Go worker does)", async () => {
  // The receiver advertises nothing and the sender wrongly assumes 16 MiB.
  await withPair({ unadvertisedPeerMaxMessageSize: 16 << 20 }, {
    maxMessageSize: GO_LIMIT,
    advertiseMaxMessageSize: false,
  }, async (c, id, dataDir, wn) => {
    const src = await bigMiner(
      await Deno.makeTempDir({ dir: dataDir }),
      900 * 1024,
    );
    const b = await createMinerBundle(src, null, "big", c.bundlePassword(id));
    await assert.rejects(
      () => c.deployBundle(id, b, { timeoutMs: 10_000 }),
      (e) => e instanceof ControllerError && e.code === "disconnected",
    );
    assert.equal(wn.transport.stats().drops.too_large, 1);
    // A bundle under the limit still goes through (on a new connection).
    const small = await bigMiner(
      await Deno.makeTempDir({ dir: dataDir }),
      600 * 1024,
    );
    const sb = await createMinerBundle(
      small,
      null,
      "small",
      c.bundlePassword(id),
    );
    assert.ok(deployFrameSize(sb) <= GO_LIMIT);
    assert.deepEqual(
      await c.deployBundle(id, sb, { peerMaxMessageSize: GO_LIMIT }),
      {
        success: true,
        name: "small",
      },
    );
  });
});
