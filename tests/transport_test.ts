/**
 * Transport over real loopback sockets between Deno nodes: handshake,
 * rejections, every message type, dedup, rate limit, admission, broadcast,
 * sending, TLS.
 */

import assert from "node:assert/strict";
import {
  encodeMessage,
  type Message,
  MESSAGE_TYPES,
  newMessage,
  parsePayload,
  type PayloadMap,
  reply,
  TransportError,
} from "../node/mod.ts";
import { makeNode, Stack, waitFor } from "./transport_helpers.ts";

const serverNode = makeNode(1, "server", "worker");
const clientNode = makeNode(2, "client", "controller");
const otherNode = makeNode(3, "other", "controller");
const SERVER_ID = serverNode.getIdentity()!.id;
const CLIENT_ID = clientNode.getIdentity()!.id;

function hello(from: string, to: string, n = 0): Message {
  return newMessage("hello", { from, to, payload: { n } });
}

Deno.test("connect() completes the handshake and both sides see one connection", async () => {
  const s = new Stack();
  try {
    const { transport: server, registry: serverReg } = await s.server(
      serverNode,
    );
    const { transport: client, registry: clientReg } = await s.transport(
      clientNode,
    );
    const received: Message[] = [];
    server.onMessage((_c, m) => {
      received.push(m);
    });
    const conn = await client.connect({ address: server.addr });
    assert.equal(conn.peerId, SERVER_ID);
    assert.equal(conn.peer.name, "server");
    assert.equal(conn.peer.role, "worker");
    assert.equal(conn.direction, "outbound");
    assert.equal(conn.state, "established");
    assert.deepEqual(client.connectedPeers(), [SERVER_ID]);
    assert.equal(clientReg.getPeer(SERVER_ID)?.address, server.addr);
    // The server holds it provisionally until the first good frame.
    await waitFor(() => server.connections().length === 1);
    assert.equal(server.connections()[0]!.state, "provisional");
    assert.deepEqual(server.connectedPeers(), []);
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => received.length === 1);
    assert.deepEqual(server.connectedPeers(), [CLIENT_ID]);
    assert.equal(serverReg.getPeer(CLIENT_ID)?.name, "client");
    assert.equal(serverReg.getPeer(CLIENT_ID)?.connected, true);
    assert.equal(clientReg.getPeer(SERVER_ID)?.connected, true);
  } finally {
    await s.close();
  }
});

Deno.test("the responder rejects an unsupported protocol version with Go's reason", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const raw = await s.raw(`ws://${server.addr}/ws`);
    const msg = newMessage("handshake", {
      from: CLIENT_ID,
      to: "",
      payload: {
        identity: clientNode.getIdentity()!,
        challenge: new Uint8Array(32),
        version: "99.99",
      },
    });
    raw.ws.sendText(encodeMessage(msg));
    const ack = JSON.parse((await raw.next()) as string);
    assert.equal(ack.type, "handshake_ack");
    assert.equal(ack.payload.accepted, false);
    assert.equal(
      ack.payload.reason,
      "incompatible protocol version 99.99, supported: [1.0]",
    );
    assert.equal(ack.payload.challengeResponse, undefined);
    assert.equal(await raw.next(), null);
  } finally {
    await s.close();
  }
});

Deno.test("allowlist mode: an unknown key is rejected, an allowlisted one admitted", async () => {
  const s = new Stack();
  try {
    const { transport: server, registry } = await s.server(serverNode);
    registry.setAuthMode("allowlist");
    const { transport: client } = await s.transport(clientNode);
    await assert.rejects(
      client.connect({ address: server.addr }),
      (e) =>
        e instanceof TransportError && e.code === "handshake_rejected" &&
        e.message.includes("rejected"),
    );
    await registry.allowPublicKey(clientNode.getIdentity()!.publicKey);
    const conn = await client.connect({ address: server.addr });
    assert.equal(conn.peerId, SERVER_ID);
  } finally {
    await s.close();
  }
});

const SAMPLES: { [K in keyof PayloadMap]: PayloadMap[K] } = {
  handshake: {
    identity: serverNode.getIdentity()!,
    challenge: new Uint8Array(32).fill(9),
    version: "1.0",
  },
  handshake_ack: {
    identity: serverNode.getIdentity()!,
    accepted: false,
    reason: "no",
  },
  ping: { sentAt: 1771581600123 },
  pong: { sentAt: 1771581600123, receivedAt: 1771581600125 },
  disconnect: { reason: "bye <now> & then", code: 1000 },
  get_stats: null,
  stats: {
    nodeId: SERVER_ID,
    nodeName: "server",
    miners: [{
      name: "xmrig-0",
      type: "xmrig",
      hashrate: 1234.56,
      shares: 42,
      rejected: 1,
      uptime: 3600,
      pool: "pool.example.com:3333",
      algorithm: "rx/0",
    }],
    uptime: 42,
  },
  start_miner: {
    minerType: "xmrig",
    profileId: "p1",
    config: { threads: 2, pools: ["a"] },
  },
  stop_miner: { minerName: "xmrig-0" },
  miner_ack: { success: false, minerName: "xmrig-0", error: "not running" },
  deploy: {
    type: "profile",
    data: new TextEncoder().encode('{"name":"p1"}'),
    checksum: "ab".repeat(32),
    name: "p1",
  },
  deploy_ack: { success: true, name: "p1" },
  get_logs: { minerName: "xmrig-0", lines: 100, since: 1771581600000 },
  logs: { minerName: "xmrig-0", lines: ["a", "b \u2028 c"], hasMore: true },
  error: { code: 1004, message: "operation failed" },
};

Deno.test("every message type crosses the wire and parses back to the same payload", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    const received: Message[] = [];
    server.onMessage((_c, m) => {
      received.push(m);
    });
    const conn = await client.connect({ address: server.addr });
    for (const type of MESSAGE_TYPES) {
      await conn.send(
        newMessage(type, {
          from: CLIENT_ID,
          to: SERVER_ID,
          payload: SAMPLES[type] as never,
        }),
      );
    }
    await conn.send(
      newMessage("custom_type", {
        from: CLIENT_ID,
        to: SERVER_ID,
        payload: { any: [1, "x"] },
      }),
    );
    await waitFor(() => received.length === MESSAGE_TYPES.length + 1);
    for (let i = 0; i < MESSAGE_TYPES.length; i++) {
      const type = MESSAGE_TYPES[i]!;
      assert.equal(received[i]!.type, type);
      assert.deepEqual(parsePayload(received[i]!, type), SAMPLES[type], type);
    }
    assert.deepEqual(received.at(-1)!.payload, { any: [1, "x"] });
  } finally {
    await s.close();
  }
});

Deno.test("the same message sent twice is delivered once", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    const received: string[] = [];
    server.onMessage((_c, m) => {
      received.push(m.id);
    });
    const conn = await client.connect({ address: server.addr });
    const msg = hello(CLIENT_ID, SERVER_ID);
    await conn.send(msg);
    await conn.send(msg);
    await conn.send(hello(CLIENT_ID, SERVER_ID, 1));
    await waitFor(() => received.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(received.length, 2);
    assert.equal(received[0], msg.id);
  } finally {
    await s.close();
  }
});

Deno.test("150 messages at once: the token bucket lets 100 through", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    let count = 0;
    server.onMessage(() => {
      count++;
    });
    const conn = await client.connect({ address: server.addr });
    for (let i = 0; i < 150; i++) {
      await conn.send(hello(CLIENT_ID, SERVER_ID, i));
    }
    await waitFor(() => count >= 50);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(count >= 50 && count < 150, `delivered ${count}`);
  } finally {
    await s.close();
  }
});

Deno.test("MaxConns: an unproven socket cannot hold the last slot; established peers fill it, then 503", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, { maxConns: 1 });
    // A socket that upgraded but never sends its handshake (Go would let it
    // hold the only slot) is displaced by the next connection.
    const idle = await s.raw(`ws://${server.addr}/ws`);
    const { transport: client } = await s.transport(clientNode);
    const conn = await client.connect({ address: server.addr });
    await waitFor(() => idle.closeCode !== undefined, 5_000, "displaced");
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 1);
    assert.equal(server.stats().guard.unproven_evicted, 1);
    // An established peer holds the slot: Go's 503, byte for byte.
    const { transport: other } = await s.transport(otherNode);
    await assert.rejects(
      other.connect({ address: server.addr }),
      (e) =>
        e instanceof TransportError && e.code === "upgrade_failed" &&
        e.status === 503,
    );
    const res = await fetch(`http://${server.addr}/ws`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(await res.text(), "Too many connections\n");
    assert.equal(server.stats().handshakeFailures.inbound.capacity, 2);
  } finally {
    await s.close();
  }
});

Deno.test("with MaxConns 1 a second client cannot connect", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, { maxConns: 1 });
    const { transport: a } = await s.transport(clientNode);
    const { transport: b } = await s.transport(otherNode);
    const conn = await a.connect({ address: server.addr });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => server.connectedPeers().length === 1);
    await assert.rejects(
      b.connect({ address: server.addr }),
      (e) => e instanceof TransportError && e.status === 503,
    );
  } finally {
    await s.close();
  }
});

Deno.test("HTTP admission: 404 off the path, 400 without upgrade, 403 for foreign origins", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    let res = await fetch(`http://${server.addr}/other`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "404 page not found\n");
    res = await fetch(`http://${server.addr}/ws`);
    assert.equal(res.status, 400);
    await res.body?.cancel();
    await assert.rejects(
      s.raw(`ws://${server.addr}/ws`, { Origin: "http://evil.example.com" }),
      (e) => e instanceof TransportError && e.status === 403,
    );
    const ok = await s.raw(`ws://${server.addr}/ws`, {
      Origin: "http://localhost:8080",
    });
    assert.equal(ok.closeCode, undefined);
  } finally {
    await s.close();
  }
});

Deno.test("broadcast() reaches every established peer once, skipping msg.from", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const clients = await Promise.all(
      [clientNode, otherNode].map((n) => s.transport(n)),
    );
    const got: string[][] = [[], []];
    for (let i = 0; i < 2; i++) {
      const { transport } = clients[i]!;
      transport.onMessage((_c, m) => {
        got[i]!.push(m.type);
      });
      const conn = await transport.connect({ address: server.addr });
      await conn.send(hello(conn.peerId, SERVER_ID));
    }
    await waitFor(() => server.connectedPeers().length === 2);
    const result = await server.broadcast(
      newMessage("announce", { from: SERVER_ID, payload: { v: 1 } }),
    );
    assert.equal(result.sent.length, 2);
    assert.equal(result.failed.length, 0);
    await waitFor(() => got[0]!.length === 1 && got[1]!.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(got, [["announce"], ["announce"]]);
    // msg.from equal to a peer's ID skips that peer.
    const skip = await server.broadcast(
      newMessage("announce", { from: CLIENT_ID }),
    );
    assert.equal(skip.sent.length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("10 concurrent senders x 5 messages all arrive", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    let count = 0;
    server.onMessage(() => {
      count++;
    });
    const conn = await client.connect({ address: server.addr });
    await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      for (let j = 0; j < 5; j++) {
        await conn.send(hello(CLIENT_ID, SERVER_ID, i * 10 + j));
      }
    }));
    await waitFor(() => count === 50);
  } finally {
    await s.close();
  }
});

Deno.test("request() resolves with the reply; send() to an unknown peer fails", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    const handlerSaw: string[] = [];
    server.onMessage(async (conn, m) => {
      if (m.type === "ping") {
        const p = parsePayload(m, "ping");
        await conn.send(
          reply(m, "pong", {
            payload: { sentAt: p.sentAt, receivedAt: Date.now() },
          }),
        );
      }
    });
    client.onMessage((_c, m) => {
      handlerSaw.push(m.type);
    });
    const conn = await client.connect({ address: server.addr });
    const ping = newMessage("ping", {
      from: CLIENT_ID,
      to: SERVER_ID,
      payload: { sentAt: 5 },
    });
    const pong = await client.request(conn.peerId, ping, { timeout: 2_000 });
    assert.equal(pong.replyTo, ping.id);
    assert.equal(parsePayload(pong, "pong").sentAt, 5);
    assert.deepEqual(
      handlerSaw,
      [],
      "replies to requests are not handed to handlers",
    );
    await assert.rejects(
      client.send("0".repeat(32), hello(CLIENT_ID, "")),
      (e) => e instanceof TransportError && e.code === "not_connected",
    );
    const t0 = performance.now();
    await assert.rejects(
      client.request(conn.peerId, hello(CLIENT_ID, SERVER_ID), {
        timeout: 200,
      }),
      (e) =>
        e instanceof TransportError && e.code === "timeout" &&
        e.message.includes("timeout"),
    );
    assert.ok(performance.now() - t0 < 1_000);
  } finally {
    await s.close();
  }
});

Deno.test("request() deadlines: each unanswered request times out at its own timeout, in any order", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    server.onMessage((conn, m) => {
      if (m.type === "ping") {
        return conn.send(
          reply(m, "pong", { payload: { sentAt: 1, receivedAt: 2 } }),
        );
      }
    });
    const conn = await client.connect({ address: server.addr });
    const t0 = performance.now();
    const settled: [number, number][] = [];
    const timeoutOf = (ms: number) =>
      client.request(conn.peerId, hello(CLIENT_ID, SERVER_ID, ms), {
        timeout: ms,
      }).then(
        () => assert.fail("an unanswered request resolved"),
        (e) => {
          assert.ok(e instanceof TransportError && e.code === "timeout");
          assert.match(e.message, new RegExp(`timeout after ${ms} ms`));
          settled.push([ms, performance.now() - t0]);
        },
      );
    // A long deadline first, then shorter ones: each must re-arm earlier.
    const all = [timeoutOf(900), timeoutOf(400), timeoutOf(150)];
    const ping = newMessage("ping", {
      from: CLIENT_ID,
      to: SERVER_ID,
      payload: { sentAt: 1 },
    });
    const pong = await client.request(conn.peerId, ping, { timeout: 5_000 });
    assert.equal(pong.replyTo, ping.id);
    await Promise.all(all);
    assert.deepEqual(settled.map(([ms]) => ms), [150, 400, 900]);
    for (const [ms, at] of settled) {
      assert.ok(at >= ms - 1, `${ms} ms request timed out after ${at} ms`);
      assert.ok(at < ms + 400, `${ms} ms request timed out after ${at} ms`);
    }
  } finally {
    await s.close();
  }
});

Deno.test("frames over maxMessageSize: refused when sending, 1009 when receiving", async () => {
  const s = new Stack();
  try {
    // The server advertises nothing (as Go); the client assumes 1 MiB for it.
    const { transport: server } = await s.server(serverNode, {
      maxMessageSize: 4096,
      advertiseMaxMessageSize: false,
    });
    const { transport: client } = await s.transport(clientNode, {
      maxMessageSize: 1 << 20,
      unadvertisedPeerMaxMessageSize: 1 << 20,
    });
    const conn = await client.connect({ address: server.addr });
    assert.equal(conn.peerMaxMessageSize, 1 << 20);
    const { transport: small } = await s.transport(otherNode, {
      maxMessageSize: 4096,
    });
    const smallConn = await small.connect({ address: server.addr });
    await assert.rejects(
      smallConn.send(
        newMessage("blob", { from: "", payload: "x".repeat(8192) }),
      ),
      (e) => e instanceof TransportError && e.code === "message_too_large",
    );
    await conn.send(
      newMessage("blob", {
        from: CLIENT_ID,
        to: SERVER_ID,
        payload: "x".repeat(8192),
      }),
    );
    const info = await conn.closed;
    assert.equal(info.code, 1009);
    assert.equal(server.stats().drops.too_large, 1);
  } finally {
    await s.close();
  }
});

Deno.test("advertised frame limits: each side refuses frames above the other's limit before sending", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, {
      maxMessageSize: 4096,
    });
    const { transport: client } = await s.transport(clientNode, {
      maxMessageSize: 1 << 20,
    });
    const conn = await client.connect({ address: server.addr });
    assert.equal(conn.peerMaxMessageSize, 4096);
    await waitFor(() => server.connections().length === 1);
    assert.equal(server.connections()[0]!.peerMaxMessageSize, 1 << 20);
    const big = newMessage("blob", {
      from: CLIENT_ID,
      to: SERVER_ID,
      payload: "x".repeat(8192),
    });
    await assert.rejects(
      conn.send(big),
      (e) =>
        e instanceof TransportError && e.code === "message_too_large" &&
        /limit of 4096/.test(e.message),
    );
    assert.equal(conn.state, "established");
    assert.equal(server.stats().drops.too_large, 0);
  } finally {
    await s.close();
  }
});

Deno.test("concurrent connect() calls to one peer share a single connection", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode);
    const { transport: client } = await s.transport(clientNode);
    const conns = await Promise.all([
      client.connect({ address: server.addr, id: SERVER_ID }),
      client.connect({ address: server.addr, id: SERVER_ID }),
      client.connect({ address: server.addr, id: SERVER_ID }),
    ]);
    assert.equal(conns[0], conns[1]);
    assert.equal(conns[1], conns[2]);
    assert.equal(
      await client.connect({ address: server.addr, id: SERVER_ID }),
      conns[0],
    );
    await waitFor(() => server.connections().length === 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(server.connections().length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("wss:// with a test CA trusted through tlsCaCerts", async () => {
  const s = new Stack();
  try {
    const tls = new URL("../testdata/go-node/tls/", import.meta.url);
    const cert = await Deno.readTextFile(new URL("ca.pem", tls));
    const { transport: server } = await s.server(serverNode, {
      tlsCertPath: new URL("cert.pem", tls).pathname,
      tlsKeyPath: new URL("key.pem", tls).pathname,
    });
    const { transport: client } = await s.transport(clientNode, {
      tlsCaCerts: [cert],
    });
    let got = 0;
    server.onMessage(() => {
      got++;
    });
    const port = server.addr.split(":")[1];
    const conn = await client.connect({ address: `wss://localhost:${port}` });
    await conn.send(hello(CLIENT_ID, SERVER_ID));
    await waitFor(() => got === 1);
    // Without the CA the certificate is refused.
    const { transport: plain } = await s.transport(otherNode);
    await assert.rejects(
      plain.connect({ address: `wss://localhost:${port}` }),
      TransportError,
    );
  } finally {
    await s.close();
  }
});

Deno.test("start() reports a bind failure; stop() is idempotent and final", async () => {
  const s = new Stack();
  try {
    const { transport: first } = await s.server(serverNode);
    const { transport: second } = await s.transport(clientNode, {
      listenAddr: first.addr,
    });
    await assert.rejects(
      second.start(),
      (e) => e instanceof TransportError && e.code === "bind_failed",
    );
    await first.stop();
    await first.stop();
    await assert.rejects(
      first.start(),
      (e) => e instanceof TransportError && e.code === "stopped",
    );
  } finally {
    await s.close();
  }
});

Deno.test('a listen address without a host takes IPv6 and IPv4, as Go\'s ":port" does', async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.server(serverNode, {
      listenAddr: ":0",
    });
    const port = Number(server.addr.slice(server.addr.lastIndexOf(":") + 1));
    let got = 0;
    server.onMessage(() => {
      got++;
    });
    // Where the machine has IPv6 the socket is "::" and takes both families;
    // without it, "0.0.0.0".
    let ipv6 = true;
    try {
      Deno.listen({ hostname: "::1", port: 0 }).close();
    } catch {
      ipv6 = false;
    }
    const dual = ipv6;
    assert.ok(
      server.addr.startsWith(dual ? "[::]:" : "0.0.0.0:"),
      server.addr,
    );
    const hosts = dual ? ["127.0.0.1", "[::1]"] : ["127.0.0.1"];
    for (const [i, host] of hosts.entries()) {
      const { transport: client } = await s.transport(
        i === 0 ? clientNode : otherNode,
      );
      const conn = await client.connect({ address: `${host}:${port}` });
      assert.equal(conn.peer.id, SERVER_ID);
      const from = i === 0 ? CLIENT_ID : otherNode.getIdentity()!.id;
      await conn.send(hello(from, SERVER_ID));
      await waitFor(() => got === i + 1);
    }
    // A taken port is a bind failure, not a quiet fall back to IPv4 only.
    const { transport: second } = await s.transport(otherNode, {
      listenAddr: `:${port}`,
    });
    await assert.rejects(
      second.start(),
      (e) => e instanceof TransportError && e.code === "bind_failed",
    );
  } finally {
    await s.close();
  }
});
