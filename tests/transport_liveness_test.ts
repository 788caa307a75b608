/**
 * Liveness over real loopback sockets: heartbeats keep idle connections
 * healthy (their pongs never reach the handlers), a silent peer turns
 * unhealthy within `unhealthyAfter` and healthy again when it speaks, a
 * peer that keeps missing requests turns unhealthy while still sending
 * frames, and a fleet `stats` does not wait for an unhealthy worker.
 */

import assert from "node:assert/strict";
import {
  type ConnectionEvent,
  Controller,
  type Message,
  newMessage,
  parsePayload,
  Worker,
} from "../node/mod.ts";
import { makeNode, sleep, Stack, waitFor } from "./transport_helpers.ts";

const a = makeNode(71, "a", "controller");
const b = makeNode(72, "b", "worker");
const c = makeNode(73, "c", "worker");
const A = a.getIdentity()!.id;
const B = b.getIdentity()!.id;

const LIVELY = {
  heartbeatInterval: 50,
  unhealthyAfter: 300,
  reconnect: false,
};

Deno.test("heartbeats keep an idle connection healthy on both sides; their pongs are not handed to handlers", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(b, LIVELY);
    new Worker(b).register(server); // answers pings
    const { transport: client } = await s.transport(a, LIVELY);
    const seen: Message[] = [];
    client.onMessage((_c, m) => {
      seen.push(m);
    });
    const conn = await client.connect({ address: server.addr });
    await sleep(800);
    assert.equal(conn.healthy, true);
    assert.equal(server.getConnection(A)?.healthy, true);
    const st = client.stats();
    assert.ok(st.messagesOutByType.ping! >= 5, "heartbeats went out");
    assert.ok(st.messagesInByType.pong! >= 5, "the worker answered them");
    assert.deepEqual(seen.map((m) => m.type).filter((t) => t === "pong"), []);
  } finally {
    await s.close();
  }
});

Deno.test("a silent peer turns unhealthy within unhealthyAfter, stays connected, and recovers when it speaks", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(b, {
      ...LIVELY,
      pingInterval: 30_000,
    });
    // The client's heartbeat is slower than the server's patience.
    const { transport: client } = await s.transport(a, {
      heartbeatInterval: 60_000,
      reconnect: false,
    });
    const events: ConnectionEvent[] = [];
    server.onConnection((e) => events.push(e));
    const conn = await client.connect({ address: server.addr });
    await conn.send(newMessage("hello", { from: A, to: B, payload: null }));
    await waitFor(() => server.getConnection(A)?.state === "established");
    const t0 = Date.now();
    await waitFor(
      () => server.getConnection(A)?.healthy === false,
      5_000,
      "unhealthy",
    );
    assert.ok(Date.now() - t0 >= 200, "not before unhealthyAfter");
    assert.deepEqual(server.connectedPeers(), [A], "still connected");
    assert.ok(
      events.some((e) => e.type === "health" && !e.connection.healthy),
    );
    await conn.send(newMessage("hello", { from: A, to: B, payload: null }));
    await waitFor(() => server.getConnection(A)?.healthy === true);
    assert.ok(events.filter((e) => e.type === "health").length >= 2);
  } finally {
    await s.close();
  }
});

Deno.test("a peer that misses requests in a row turns unhealthy though it keeps sending", async () => {
  const s = new Stack();
  try {
    // No worker: the server never answers requests, but heartbeats flow.
    const { transport: server } = await s.server(b, LIVELY);
    const { transport: client } = await s.transport(a, {
      ...LIVELY,
      unhealthyAfterMisses: 3,
    });
    const conn = await client.connect({ address: server.addr });
    for (let i = 0; i < 3; i++) {
      assert.equal(conn.healthy, true, `healthy before miss ${i + 1}`);
      await assert.rejects(
        client.request(
          B,
          newMessage("get_stats", { from: A, to: B, payload: null }),
          { timeout: 100 },
        ),
        /timeout/,
      );
    }
    assert.equal(conn.missedRequests, 3);
    assert.equal(conn.healthy, false);
    await sleep(200);
    assert.ok(Date.now() - conn.lastActivity < 250, "frames still arrive");
    assert.equal(conn.healthy, false);
    // An answer resets it.
    server.onMessage((cn, m) => {
      if (m.type === "get_stats") {
        return cn.send(newMessage("stats", {
          from: B,
          to: A,
          replyTo: m.id,
          payload: { nodeId: B, nodeName: "b", miners: [], uptime: 1 },
        }));
      }
    });
    const reply = await client.request(
      B,
      newMessage("get_stats", { from: A, to: B, payload: null }),
    );
    assert.equal(parsePayload(reply, "stats").nodeId, B);
    assert.equal(conn.missedRequests, 0);
    assert.equal(conn.healthy, true);
  } finally {
    await s.close();
  }
});

Deno.test("fleet stats: an unhealthy worker is not waited for and is reported", async () => {
  const s = new Stack();
  try {
    const { transport: ctl, registry } = await s.server(a, LIVELY);
    const controller = new Controller(a, ctl, { registry });
    s.defer(() => controller.close());
    // Two answering workers.
    for (const w of [b, c]) {
      const { transport } = await s.server(w, LIVELY);
      new Worker(w, { trust: [a.getIdentity()!.publicKey] }).register(
        transport,
      );
      await ctl.connect({ address: transport.addr });
    }
    // A third that completes the handshake, sends one frame, then nothing.
    const mute = makeNode(74, "mute", "worker");
    const { transport: muteT } = await s.transport(mute, {
      heartbeatInterval: 60_000,
      reconnect: false,
    });
    const mc = await muteT.connect({ address: ctl.addr });
    await mc.send(newMessage("hello", {
      from: mute.getIdentity()!.id,
      to: A,
      payload: null,
    }));
    await waitFor(() => ctl.connectedPeers().length === 3);
    // Asked while still healthy: the wait ends when it turns unhealthy.
    const t0 = performance.now();
    const fleet = await controller.getFleetStats();
    const took = performance.now() - t0;
    assert.deepEqual(
      [...fleet.stats.keys()].sort(),
      [B, c.getIdentity()!.id].sort(),
    );
    assert.equal(fleet.missing.length, 1);
    assert.equal(fleet.missing[0]!.peerId, mute.getIdentity()!.id);
    assert.equal(fleet.missing[0]!.reason, "unhealthy");
    assert.match(fleet.missing[0]!.error, /silent for/);
    // Far below the 10 s stats timeout (bounded by unhealthyAfter).
    assert.ok(took < 5_000, `took ${took} ms`);
    // Asked again: not asked at all.
    const again = await controller.getFleetStats();
    assert.equal(again.missing[0]!.reason, "unhealthy");
    assert.equal(again.stats.size, 2);
  } finally {
    await s.close();
  }
});
