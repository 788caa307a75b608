/**
 * Transport lifecycle and the security fixes of node.md §13.1–13.3 over real
 * loopback sockets: keepalive, graceful close, shutdown, reconnection,
 * impersonation, provisional connections, key pinning, challenge length,
 * slow handlers, reply binding and simultaneous dials.
 */

import assert from "node:assert/strict";
import {
  type ConnectionEvent,
  createHandshake,
  decodeMessage,
  encodeMessage,
  type Message,
  newMessage,
  type NodeIdentity,
  parsePayload,
  reply,
  secretToPassword,
  SmsgKey,
  smsgSealBody,
  TransportError,
} from "../node/mod.ts";
import {
  makeNode,
  memoryLogger,
  type RawClient,
  sleep,
  Stack,
  waitFor,
} from "./transport_helpers.ts";

const serverNode = makeNode(11, "server", "worker");
const clientNode = makeNode(12, "client", "controller");
const attackerNode = makeNode(13, "attacker", "controller");
const SERVER_ID = serverNode.getIdentity()!.id;
const CLIENT_ID = clientNode.getIdentity()!.id;

const FAST = { pingInterval: 100, pongTimeout: 100 };

function hello(from: string, to: string, n = 0): Message {
  return newMessage("hello", { from, to, payload: { n } });
}

async function rawHandshake(
  raw: RawClient,
  identity: NodeIdentity,
  challenge: Uint8Array = crypto.getRandomValues(new Uint8Array(32)),
): Promise<Message> {
  const msg = newMessage("handshake", {
    from: identity.id,
    to: "",
    payload: { identity, challenge, version: "1.0" },
  });
  raw.ws.sendText(encodeMessage(msg));
  return decodeMessage((await raw.next()) as string);
}

Deno.test("keepalive: a peer that sends nothing is dropped and marked disconnected", async () => {
  const s = new Stack();
  try {
    const { transport: server, registry } = await s.server(serverNode, FAST);
    // The client's own keepalive is slow, so it stays silent.
    const { transport: client } = await s.transport(clientNode, {
      reconnect: false,
    });
    const conn = await client.connect({ address: server.addr });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 1);
    assert.equal(registry.getPeer(CLIENT_ID)?.connected, true);
    const t0 = Date.now();
    await waitFor(
      () => server.connectedPeers().length === 0,
      2_000,
      "keepalive drop",
    );
    assert.ok(Date.now() - t0 >= 150);
    assert.equal(registry.getPeer(CLIENT_ID)?.connected, false);
    await conn.closed;
  } finally {
    await s.close();
  }
});

Deno.test("keepalive: pings keep an idle connection alive on both sides", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, FAST);
    const { transport: client } = await s.transport(clientNode, FAST);
    const conn = await client.connect({ address: server.addr });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await sleep(700);
    assert.equal(conn.state, "established");
    assert.deepEqual(server.connectedPeers(), [CLIENT_ID]);
    assert.ok(
      Date.now() - conn.lastActivity < 400,
      "the server's pings count as activity",
    );
  } finally {
    await s.close();
  }
});

Deno.test("keepalive counts only good frames: garbage does not keep a peer alive", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, FAST);
    const raw = await s.raw(`ws://${server.addr}/ws`);
    const ack = await rawHandshake(raw, clientNode.getIdentity()!);
    assert.equal(parsePayload(ack, "handshake_ack").accepted, true);
    await waitFor(() => server.connections().length === 1);
    const junk = setInterval(
      () => raw.ws.sendBinary(new Uint8Array(200).fill(7)),
      30,
    );
    try {
      await waitFor(() => server.connections().length === 0, 2_000, "drop");
    } finally {
      clearInterval(junk);
    }
  } finally {
    await s.close();
  }
});

Deno.test("gracefulClose() delivers disconnect {reason, code} before closing", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode, {
      reconnect: false,
    });
    const got: Message[] = [];
    server.onMessage((_c, m) => {
      got.push(m);
    });
    const conn = await client.connect({ address: server.addr });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await conn.gracefulClose("going home", 1000);
    await waitFor(() => got.length === 2);
    assert.equal(got[1]!.type, "disconnect");
    assert.deepEqual(parsePayload(got[1]!, "disconnect"), {
      reason: "going home",
      code: 1000,
    });
    await waitFor(() => server.connectedPeers().length === 0);
    assert.equal(conn.state, "closed");
    assert.equal((await conn.closed).local, true);
  } finally {
    await s.close();
  }
});

Deno.test("stop() sends disconnect {server shutdown, 1004} to every peer", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode, {
      reconnect: false,
    });
    const got: Message[] = [];
    const events: string[] = [];
    client.onMessage((_c, m) => {
      got.push(m);
    });
    client.onConnection((e: ConnectionEvent) => events.push(e.type));
    const conn = await client.connect({ address: server.addr });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 1);
    await server.stop();
    await conn.closed;
    assert.equal(got.length, 1);
    assert.deepEqual(parsePayload(got[0]!, "disconnect"), {
      reason: "server shutdown",
      code: 1004,
    });
    await waitFor(() => events.length === 2);
    assert.deepEqual(events, ["connected", "disconnected"]);
  } finally {
    await s.close();
  }
});

Deno.test("reconnection: a dialled peer that restarts is redialled with back-off", async () => {
  const s = new Stack();
  try {
    const { transport: first } = await s.server(serverNode);
    const addr = first.addr;
    const { transport: client } = await s.transport(clientNode, {
      reconnectInitialDelay: 50,
      reconnectMaxDelay: 200,
    });
    const conn = await client.connect({ address: addr });
    const firstConn = conn;
    await first.stop();
    await firstConn.closed;
    await sleep(150); // a few attempts fail while nothing listens
    const { transport: second } = await s.server(serverNode, {
      listenAddr: addr,
    });
    const got: Message[] = [];
    second.onMessage((_c, m) => {
      got.push(m);
    });
    await waitFor(
      () => client.connectedPeers().includes(SERVER_ID),
      5_000,
      "reconnect",
    );
    const again = client.getConnection(SERVER_ID)!;
    assert.notEqual(again, firstConn);
    await client.send(SERVER_ID, hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => got.length === 1);
  } finally {
    await s.close();
  }
});

Deno.test("impersonation: a claimed ID that is not the key's ID is refused", async () => {
  const s = new Stack();
  try {
    const { transport: server, registry } = await s.server(serverNode);
    const raw = await s.raw(`ws://${server.addr}/ws`);
    // The attacker presents its own key but the client's ID.
    const forged = { ...attackerNode.getIdentity()!, id: CLIENT_ID };
    const ack = await rawHandshake(raw, forged);
    const p = parsePayload(ack, "handshake_ack");
    assert.equal(p.accepted, false);
    assert.equal(p.reason, "peer not authorized");
    assert.equal(p.challengeResponse, undefined);
    assert.equal(await raw.next(), null);
    assert.equal(registry.getPeer(CLIENT_ID), undefined);
  } finally {
    await s.close();
  }
});

Deno.test("impersonation: an unproven handshake with a victim's key never evicts the victim", async () => {
  const s = new Stack();
  try {
    const { transport: server, registry } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    const got: Message[] = [];
    server.onMessage((_c, m) => {
      got.push(m);
    });
    const conn = await client.connect({ address: server.addr });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 1);
    const victimConn = server.getConnection(CLIENT_ID)!;
    // The attacker replays the victim's public identity (it lacks the key).
    const raw = await s.raw(`ws://${server.addr}/ws`);
    const ack = await rawHandshake(raw, clientNode.getIdentity()!);
    assert.equal(parsePayload(ack, "handshake_ack").accepted, true);
    await waitFor(() => server.connections().length === 2);
    // It cannot produce a frame that decrypts; garbage changes nothing.
    raw.ws.sendBinary(new Uint8Array(100));
    await sleep(50);
    assert.equal(server.getConnection(CLIENT_ID), victimConn);
    assert.equal(victimConn.state, "established");
    assert.equal(registry.getPeer(CLIENT_ID)?.connected, true);
    await conn.send(hello(CLIENT_ID, SERVER_ID, 2));
    await waitFor(() => got.length === 2);
  } finally {
    await s.close();
  }
});

Deno.test("a proven reconnection of the same peer replaces its old connection", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: c1 } = await s.transport(clientNode, {
      reconnect: false,
    });
    const { transport: c2 } = await s.transport(clientNode, {
      reconnect: false,
    });
    const a = await c1.connect({ address: server.addr });
    await a.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 1);
    const old = server.getConnection(CLIENT_ID)!;
    const b = await c2.connect({ address: server.addr });
    await b.send(hello(CLIENT_ID, SERVER_ID, 1));
    await waitFor(() => server.getConnection(CLIENT_ID) !== old);
    await old.closed;
    await a.closed;
    // The dying old connection did not evict the new one.
    await sleep(30);
    assert.deepEqual(server.connectedPeers(), [CLIENT_ID]);
    assert.equal(server.getConnection(CLIENT_ID)!.state, "established");
  } finally {
    await s.close();
  }
});

Deno.test("key pinning: dialling a known peer fails if another key answers", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client, registry } = await s.transport(clientNode);
    const wrongKey = attackerNode.getIdentity()!.publicKey;
    await assert.rejects(
      client.connect({ address: server.addr, publicKey: wrongKey }),
      (e) => e instanceof TransportError && e.code === "peer_mismatch",
    );
    await assert.rejects(
      client.connect({
        address: server.addr,
        id: attackerNode.getIdentity()!.id,
      }),
      (e) => e instanceof TransportError && e.code === "peer_mismatch",
    );
    assert.equal(
      registry.getPeer(SERVER_ID),
      undefined,
      "nothing recorded for a failed handshake",
    );
    assert.equal(client.connectedPeers().length, 0);
    const ok = await client.connect({
      address: server.addr,
      id: SERVER_ID,
      publicKey: serverNode.getIdentity()!.publicKey,
    });
    assert.equal(ok.peerId, SERVER_ID);
  } finally {
    await s.close();
  }
});

Deno.test("only 32-byte challenges are answered (no HMAC oracle)", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    for (const len of [0, 16, 64]) {
      const raw = await s.raw(`ws://${server.addr}/ws`);
      const ack = await rawHandshake(
        raw,
        clientNode.getIdentity()!,
        new Uint8Array(len),
      );
      const p = parsePayload(ack, "handshake_ack");
      assert.equal(p.accepted, false, `length ${len}`);
      assert.equal(p.challengeResponse, undefined);
    }
    assert.throws(
      () =>
        createHandshake(clientNode.getIdentity()!, {
          to: "",
          challenge: new Uint8Array(16),
        }),
      RangeError,
    );
  } finally {
    await s.close();
  }
});

Deno.test("a frame stamped outside the window is dropped even with a fresh ID", async () => {
  const s = new Stack();
  try {
    const { logger, lines } = memoryLogger();
    const { transport: server } = await s.server(serverNode, {}, { logger });
    const got: Message[] = [];
    server.onMessage((_c, m) => {
      got.push(m);
    });
    const raw = await s.raw(`ws://${server.addr}/ws`);
    const ack = await rawHandshake(raw, clientNode.getIdentity()!);
    assert.equal(parsePayload(ack, "handshake_ack").accepted, true);
    const key = SmsgKey.fromPassword(
      secretToPassword(
        clientNode.deriveSharedSecret(serverNode.getIdentity()!.publicKey),
      ),
    );
    // (A provisional connection whose first frame fails is closed at once,
    // so prove the key first.)
    const first = newMessage("hello", { from: CLIENT_ID, to: SERVER_ID });
    raw.ws.sendBinary(smsgSealBody(encodeMessage(first), key));
    const old = newMessage("hello", {
      from: CLIENT_ID,
      to: SERVER_ID,
      now: Date.now() - 6 * 60_000,
    });
    raw.ws.sendBinary(smsgSealBody(encodeMessage(old), key));
    const fresh = newMessage("hello", { from: CLIENT_ID, to: SERVER_ID });
    raw.ws.sendBinary(smsgSealBody(encodeMessage(fresh), key));
    await waitFor(() => got.length === 2);
    assert.deepEqual(got.map((m) => m.id), [first.id, fresh.id]);
    assert.ok(lines.some((l) => l.includes("outside the timestamp window")));
  } finally {
    await s.close();
  }
});

Deno.test("a slow handler neither stalls reading nor trips the keepalive", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, FAST);
    const { transport: client } = await s.transport(clientNode, FAST);
    const order: number[] = [];
    let fastSeen = 0;
    server.onMessage(async (_c, m) => {
      const n = (m.payload as { n: number } | null)?.n ?? -1;
      if (m.type === "slow") await sleep(600);
      if (m.type === "hello") order.push(n);
    });
    // A second handler counts arrivals without waiting (it still sees them in order).
    server.onMessage((_c, m) => {
      if (m.type === "hello") fastSeen++;
    });
    const conn = await client.connect({ address: server.addr });
    await conn.send(newMessage("slow", { from: CLIENT_ID, to: SERVER_ID }));
    for (let i = 0; i < 5; i++) await conn.send(hello(CLIENT_ID, SERVER_ID, i));
    await sleep(400); // longer than ping + pong timeout
    assert.equal(conn.state, "established");
    assert.deepEqual(server.connectedPeers(), [CLIENT_ID]);
    await waitFor(() => order.length === 5, 2_000);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(fastSeen, 5);
  } finally {
    await s.close();
  }
});

Deno.test("a handler can await a request on the same connection (no deadlock)", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    client.onMessage(async (conn, m) => {
      if (m.type === "ping") {
        await conn.send(
          reply(m, "pong", { payload: { sentAt: 1, receivedAt: 2 } }),
        );
      }
    });
    let rtt = -1;
    server.onMessage(async (conn, m) => {
      if (m.type !== "ask") return;
      const t0 = performance.now();
      const pong = await server.request(
        conn.peerId,
        newMessage("ping", {
          from: SERVER_ID,
          to: conn.peerId,
          payload: { sentAt: 1 },
        }),
        { timeout: 2_000 },
      );
      assert.equal(pong.type, "pong");
      rtt = performance.now() - t0;
    });
    const conn = await client.connect({ address: server.addr });
    await conn.send(newMessage("ask", { from: CLIENT_ID, to: SERVER_ID }));
    await waitFor(() => rtt >= 0, 3_000);
    assert.ok(rtt < 1_000);
  } finally {
    await s.close();
  }
});

Deno.test("a reply is matched only when it comes from the peer that was asked", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: asked } = await s.transport(clientNode);
    const { transport: other } = await s.transport(attackerNode);
    const askedConn = await asked.connect({ address: server.addr });
    await askedConn.send(hello(CLIENT_ID, SERVER_ID));
    const otherConn = await other.connect({ address: server.addr });
    await otherConn.send(hello(otherConn.peerId, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 2);
    const handed: Message[] = [];
    server.onMessage((_c, m) => {
      handed.push(m);
    });
    const req = newMessage("ping", {
      from: SERVER_ID,
      to: CLIENT_ID,
      payload: { sentAt: 1 },
    });
    const pending = server.request(CLIENT_ID, req, { timeout: 2_000 });
    await otherConn.send(
      reply(req, "pong", { payload: { sentAt: 1, receivedAt: 9 } }),
    );
    await waitFor(() => handed.length === 1);
    assert.equal(
      handed[0]!.replyTo,
      req.id,
      "the stranger's reply went to the handlers",
    );
    await askedConn.send(
      reply(req, "pong", { payload: { sentAt: 1, receivedAt: 2 } }),
    );
    const got = await pending;
    assert.equal(parsePayload(got, "pong").receivedAt, 2);
  } finally {
    await s.close();
  }
});

Deno.test("simultaneous dials settle on one connection per side that carries traffic", async () => {
  const s = new Stack();
  try {
    const { transport: a } = await s.server(serverNode, { reconnect: false });
    const { transport: b } = await s.server(clientNode, { reconnect: false });
    const gotA: Message[] = [];
    const gotB: Message[] = [];
    a.onMessage((_c, m) => {
      gotA.push(m);
    });
    b.onMessage((_c, m) => {
      gotB.push(m);
    });
    const [ab, ba] = await Promise.all([
      a.connect({ address: b.addr }),
      b.connect({ address: a.addr }),
    ]);
    await Promise.allSettled([
      ab.send(hello(SERVER_ID, CLIENT_ID)),
      ba.send(hello(CLIENT_ID, SERVER_ID)),
    ]);
    await sleep(100);
    await a.send(CLIENT_ID, hello(SERVER_ID, CLIENT_ID, 7));
    await b.send(SERVER_ID, hello(CLIENT_ID, SERVER_ID, 7));
    await waitFor(() =>
      gotA.some((m) => (m.payload as { n: number }).n === 7) &&
      gotB.some((m) => (m.payload as { n: number }).n === 7)
    );
    assert.deepEqual(a.connectedPeers(), [CLIENT_ID]);
    assert.deepEqual(b.connectedPeers(), [SERVER_ID]);
    // Both ends kept the connection dialled by the lower node ID.
    const dialler = SERVER_ID < CLIENT_ID ? "a" : "b";
    assert.equal(
      a.getConnection(CLIENT_ID)!.direction,
      dialler === "a" ? "outbound" : "inbound",
    );
    assert.equal(
      b.getConnection(SERVER_ID)!.direction,
      dialler === "b" ? "outbound" : "inbound",
    );
  } finally {
    await s.close();
  }
});

Deno.test("back-pressure: queued bytes stay near the high-water mark", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, {
      rateLimitDisabled: true,
    });
    const { transport: client } = await s.transport(clientNode, {
      sendHighWaterMark: 256 * 1024,
    });
    let received = 0;
    server.onMessage(() => {
      received++;
    });
    const conn = await client.connect({ address: server.addr });
    const blob = "y".repeat(60 * 1024);
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      await conn.send(
        newMessage("blob", { from: CLIENT_ID, to: SERVER_ID, payload: blob }),
      );
      peak = Math.max(peak, conn.bufferedAmount);
    }
    assert.ok(peak <= 256 * 1024 + 64 * 1024, `peak ${peak}`);
    await waitFor(() => received === 200, 10_000);
  } finally {
    await s.close();
  }
});
