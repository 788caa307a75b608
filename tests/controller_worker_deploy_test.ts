/**
 * Deploy size limits (node.md §13 item 15): large bundles between nodes
 * that raised their frame limit, and the errors a default (Go-sized) limit
 * gives.
 */

import assert from "node:assert/strict";
import { createMinerBundle } from "../node/bundle.ts";
import {
  Controller,
  ControllerError,
  deployFrameSize,
} from "../node/controller.ts";
import { Worker } from "../node/worker.ts";
import { quietLogger, registerPeer, startNode } from "./fixtures/_nodes.ts";

const GO_LIMIT = 1_048_576;

async function withPair(
  ctlLimit: number,
  workerLimit: number,
  fn: (c: Controller, workerId: string, dataDir: string) => Promise<void>,
): Promise<void> {
  const ctl = await startNode("controller", "controller", {
    config: { maxMessageSize: ctlLimit },
  });
  const wn = await startNode("worker", "worker", {
    config: { maxMessageSize: workerLimit },
  });
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: quietLogger(),
  });
  const worker = new Worker(wn.node, {
    dataDir: wn.dir,
    logger: quietLogger(),
  });
  worker.register(wn.transport);
  try {
    registerPeer(ctl, wn);
    await fn(controller, wn.id, wn.dir);
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

Deno.test("deploy: a 2 MiB miner bundle between nodes with a 16 MiB frame limit", async () => {
  await withPair(16 << 20, 16 << 20, async (c, id, dataDir) => {
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
  await withPair(GO_LIMIT, 16 << 20, async (c, id, dataDir) => {
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
  await withPair(16 << 20, GO_LIMIT, async (c, id, dataDir) => {
    const src = await bigMiner(
      await Deno.makeTempDir({ dir: dataDir }),
      900 * 1024,
    );
    const b = await createMinerBundle(src, null, "big", c.bundlePassword(id));
    await assert.rejects(
      () => c.deployBundle(id, b, { timeoutMs: 10_000 }),
      (e) => e instanceof ControllerError && e.code === "disconnected",
    );
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
