/**
 * Crossing dials with a Go node (issue 15, item 7). Go keeps one table
 * entry per peer ID, replaces it on every new connection without closing
 * the old one, and deletes it whenever **any** of its connections to that
 * peer closes (node.md §4.12, §13.3 item 17). If we settle crossing dials
 * by closing one connection, as our tie-break does between our own nodes,
 * the close wipes Go's entry for the connection that survived, Go dials
 * again on its next request, and the loop goes on. Towards a peer that
 * does not advertise `X-Lthn-Max-Message-Size` (Go, per the captures) we
 * keep both connections open instead.
 */

import assert from "node:assert/strict";
import {
  Controller,
  MAX_MESSAGE_SIZE_HEADER,
  parsePayload,
  Worker,
} from "../node/mod.ts";
import { GoPeer } from "./_go_peer.ts";
import {
  makeNode,
  memoryLogger,
  sleep,
  Stack,
  waitFor,
} from "./transport_helpers.ts";
import { LogLevel } from "../logging/mod.ts";

const ours = makeNode(81, "ours", "dual");
const goNode = makeNode(82, "go-node", "dual");
const OURS = ours.getIdentity()!.id;
const GO = goNode.getIdentity()!.id;

/** Go's keepalive scaled down: a connection without a data frame for 600 ms is dropped. */
const GO_TIMING = { pingInterval: 300, pongTimeout: 300 };

Deno.test("the Go captures carry no X-Lthn-Max-Message-Size header on either side of the upgrade", async () => {
  const dir = new URL("../testdata/go-node/", import.meta.url);
  for (const scenario of ["handshake-ping", "stats", "deploy-profile"]) {
    const events = (await Deno.readTextFile(new URL(`${scenario}.jsonl`, dir)))
      .trim().split("\n").map((l) => JSON.parse(l));
    const heads = events.filter((e) => e.kind === "http");
    assert.ok(heads.length >= 2, `${scenario}: request and response heads`);
    for (const h of heads) {
      const text = JSON.stringify(h).toLowerCase();
      assert.ok(text.includes("websocket"), `${scenario}: an upgrade head`);
      assert.ok(
        !text.includes(MAX_MESSAGE_SIZE_HEADER),
        `${scenario}: Go sends no ${MAX_MESSAGE_SIZE_HEADER}`,
      );
    }
  }
});

Deno.test("crossing dials with a Go-table peer: both connections stay, Go never redials, every request is answered", async () => {
  const s = new Stack();
  const go = GoPeer.start(goNode, GO_TIMING);
  s.defer(() => go.shutdown());
  try {
    const { logger, lines } = memoryLogger(LogLevel.Debug);
    const { transport, registry } = await s.server(ours, {
      reconnect: false,
      heartbeatInterval: 100,
      pingInterval: 300,
      pongTimeout: 300,
    }, { logger });
    new Worker(ours, { trust: [goNode.getIdentity()!.publicKey] })
      .register(transport);
    const controller = new Controller(ours, transport, { registry });
    s.defer(() => controller.close());

    // Both dial at once.
    const [mine] = await Promise.all([
      transport.connect({ address: go.addr }),
      go.connect(transport.addr),
    ]);
    assert.equal(mine.peerId, GO);
    assert.equal(go.dials, 1);

    // Three seconds of traffic both ways: Go through its table (dialling
    // only when the table has no entry), we through ours.
    const end = Date.now() + 3_000;
    let goAnswered = 0, weAnswered = 0;
    while (Date.now() < end) {
      const r = await go.request(OURS, transport.addr, "get_stats");
      assert.equal(parsePayload(r, "stats").nodeId, OURS);
      goAnswered++;
      const st = await controller.getRemoteStats(GO);
      assert.equal(st.nodeId, GO);
      weAnswered++;
      await sleep(50);
    }
    assert.ok(goAnswered > 5 && weAnswered > 5);
    assert.equal(
      go.dials,
      1,
      `Go redialled: its table lost us (${go.log.join("; ")})`,
    );
    assert.ok(go.table.has(OURS), "Go still has its entry for us");
    assert.ok(
      !go.log.some((l) => l.startsWith("removed")),
      `no connection closed: ${go.log.join("; ")}`,
    );
    assert.deepEqual(transport.connectedPeers(), [GO]);
    assert.equal(
      transport.connections().filter((c) => c.peerId === GO).length,
      2,
      "the duplicate stays open",
    );
    assert.ok(
      !lines.some((l) =>
        /replaced by a newer connection|duplicate connection/.test(l)
      ),
    );
    // Both connections outlive Go's read deadline (600 ms): our heartbeats
    // reach each of them.
    await sleep(1_500);
    assert.ok(go.connections.every((c) => c.alive), go.log.join("; "));
    assert.equal(go.dials, 1);
  } finally {
    await s.close();
  }
});

Deno.test("with a Go-table peer, the spare connection takes over when the one in use dies", async () => {
  const s = new Stack();
  const go = GoPeer.start(goNode, GO_TIMING);
  s.defer(() => go.shutdown());
  try {
    const { transport, registry } = await s.server(ours, {
      reconnect: false,
      heartbeatInterval: 100,
      pingInterval: 300,
      pongTimeout: 300,
    });
    new Worker(ours, { trust: [goNode.getIdentity()!.publicKey] })
      .register(transport);
    const controller = new Controller(ours, transport, { registry });
    s.defer(() => controller.close());
    await Promise.all([
      transport.connect({ address: go.addr }),
      go.connect(transport.addr),
    ]);
    // Go's first request establishes its connection on our side too.
    await go.request(OURS, transport.addr, "ping");
    await waitFor(() =>
      transport.connections().filter((c) =>
        c.peerId === GO && c.state === "established"
      ).length === 2
    );
    const inUse = transport.getConnection(GO)!;
    // Go drops the connection we use (its read loop died, say).
    const goSide = go.connections.find((c) =>
      c.direction === (inUse.direction === "outbound" ? "inbound" : "outbound")
    )!;
    goSide.drop();
    await inUse.closed;
    await waitFor(() => transport.getConnection(GO) !== undefined);
    assert.notEqual(transport.getConnection(GO), inUse);
    assert.deepEqual(transport.connectedPeers(), [GO], "still connected");
    assert.equal((await controller.getRemoteStats(GO)).nodeId, GO);
  } finally {
    await s.close();
  }
});

Deno.test("between our own nodes crossing dials still settle on one connection", async () => {
  const s = new Stack();
  try {
    const other = makeNode(83, "other", "dual");
    const { transport: x } = await s.server(ours, { reconnect: false });
    const { transport: y } = await s.server(other, { reconnect: false });
    await Promise.all([
      x.connect({ address: y.addr }),
      y.connect({ address: x.addr }),
    ]);
    await x.send(other.getIdentity()!.id, {
      id: crypto.randomUUID(),
      type: "hello",
      from: OURS,
      to: other.getIdentity()!.id,
      ts: new Date().toISOString(),
      payload: null,
    });
    await y.send(OURS, {
      id: crypto.randomUUID(),
      type: "hello",
      from: other.getIdentity()!.id,
      to: OURS,
      ts: new Date().toISOString(),
      payload: null,
    });
    await waitFor(() =>
      x.connections().length === 1 && y.connections().length === 1
    );
  } finally {
    await s.close();
  }
});
