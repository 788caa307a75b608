/**
 * Dual nodes: controller replies are matched on the transport's read path,
 * so a slow message handler on the same connection (here a deploy that
 * takes 1.5 s to handle) does not delay a concurrent `pingPeer`. The same
 * scenario with replies taken from a message handler instead shows the
 * delay the read-path matching removes.
 */

import assert from "node:assert/strict";
import { createProfileBundle } from "../node/bundle.ts";
import { Controller, type ControllerTransport } from "../node/controller.ts";
import type { Message } from "../node/message.ts";
import { Worker } from "../node/worker.ts";
import { TestProfileManager } from "./fixtures/_managers.ts";
import {
  quietLogger,
  registerPeer,
  startNode,
  type TestNode,
} from "./fixtures/_nodes.ts";
import { waitFor } from "./fixtures/_proc.ts";

const SLOW_MS = 1_500;

async function dualPair(
  viaRequest: boolean,
  fn: (
    a: TestNode,
    ctlA: Controller,
    ctlB: Controller,
    b: TestNode,
  ) => Promise<void>,
): Promise<void> {
  const a = await startNode("a", "dual");
  const b = await startNode("b", "dual");
  const timers = new Set<ReturnType<typeof setTimeout>>();
  // A's first handler: deploys take SLOW_MS before anything else sees them.
  a.transport.onMessage(async (_conn, msg) => {
    if (msg.type !== "deploy") return;
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        timers.delete(t);
        r();
      }, SLOW_MS);
      timers.add(t);
    });
  });
  const workers = [a, b].map((n) => {
    const w = new Worker(n.node, {
      dataDir: n.dir,
      profileManager: new TestProfileManager(),
      logger: quietLogger(),
      trust: [(n === a ? b : a).publicKey], // each obeys the other
    });
    w.register(n.transport);
    return w;
  });
  const transportA: ControllerTransport = viaRequest
    ? a.transport
    : repliesFromHandlers(a);
  const ctlA = new Controller(a.node, transportA, {
    registry: a.registry,
    logger: quietLogger(),
  });
  const ctlB = new Controller(b.node, b.transport, {
    registry: b.registry,
    logger: quietLogger(),
  });
  try {
    registerPeer(a, b);
    registerPeer(b, a);
    await ctlA.connectToPeer(b.id);
    await waitFor(() => b.transport.getConnection(a.id) !== undefined);
    await fn(a, ctlA, ctlB, b);
  } finally {
    ctlA.close();
    ctlB.close();
    for (const w of workers) w.close();
    for (const t of timers) clearTimeout(t);
    await a.close();
    await b.close();
  }
}

/**
 * A transport whose requests take their replies from a message handler, as
 * a controller would without the transport's read-path matching: replies
 * then queue behind the handlers before them.
 */
function repliesFromHandlers(n: TestNode): ControllerTransport {
  const waiting = new Map<string, (m: Message) => void>();
  n.transport.onMessage((_conn, msg) => {
    const settle = msg.replyTo ? waiting.get(msg.replyTo) : undefined;
    if (settle !== undefined) settle(msg);
  });
  return {
    getConnection: (id) => n.transport.getConnection(id),
    connect: (p) => n.transport.connect(p),
    async request(peerId, message, options) {
      const { promise, resolve, reject } = Promise.withResolvers<Message>();
      waiting.set(message.id, resolve);
      const timer = setTimeout(
        () => reject(new Error("timeout")),
        options.timeout ?? 30_000,
      );
      try {
        await n.transport.send(peerId, message);
        return await promise;
      } finally {
        clearTimeout(timer);
        waiting.delete(message.id);
      }
    },
  };
}

/** Starts a deploy B → A, waits until A holds it, then pings A → B. */
async function pingDuringSlowDeploy(
  a: TestNode,
  ctlA: Controller,
  ctlB: Controller,
  b: TestNode,
): Promise<{ rtt: number; wall: number; deployDoneFirst: boolean }> {
  const bundle = await createProfileBundle(
    JSON.stringify({ id: "p1", name: "p1" }),
    "p1",
    ctlB.bundlePassword(a.id),
  );
  let deployDone = false;
  const deploying = ctlB.deployBundle(a.id, bundle).then((ack) => {
    deployDone = true;
    return ack;
  });
  await waitFor(() => a.transport.stats().messagesInByType.deploy === 1);
  const t0 = performance.now();
  const rtt = await ctlA.pingPeer(b.id);
  const wall = performance.now() - t0;
  const deployDoneFirst = deployDone;
  assert.equal((await deploying).success, true);
  return { rtt, wall, deployDoneFirst };
}

Deno.test("dual node: a slow deploy handler does not delay a concurrent pingPeer reply", async () => {
  await dualPair(true, async (a, ctlA, ctlB, b) => {
    const r = await pingDuringSlowDeploy(a, ctlA, ctlB, b);
    assert.equal(
      r.deployDoneFirst,
      false,
      "the deploy was still being handled",
    );
    assert.ok(r.wall < 500, `ping took ${r.wall} ms behind a slow handler`);
    assert.equal(ctlA.pendingCount, 0);
  });
});

Deno.test("dual node: replies taken from onMessage wait behind the slow handler (why request() is used)", async () => {
  await dualPair(false, async (a, ctlA, ctlB, b) => {
    const r = await pingDuringSlowDeploy(a, ctlA, ctlB, b);
    assert.ok(r.wall >= SLOW_MS / 2, `ping took only ${r.wall} ms`);
  });
});
