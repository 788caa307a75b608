/**
 * Our listener (`node/transport/_server.ts`) over raw loopback TCP: Go's
 * admission answers byte for byte, the request-head deadline and cap, the
 * RFC 6455 rules for client frames, the close deadline, the clipped
 * version echo, and the `handleRequest` path mounted in `Deno.serve`.
 */

import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessage,
  newMessage,
  parsePayload,
  TransportError,
} from "../node/mod.ts";
import { clientFrame, HandshakedPeer } from "./_attack.ts";
import { makeNode, Stack, waitFor } from "./transport_helpers.ts";

const serverNode = makeNode(51, "listener", "worker");
const clientNode = makeNode(52, "dialler", "controller");
const SERVER_ID = serverNode.getIdentity()!.id;
const CLIENT_ID = clientNode.getIdentity()!.id;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function hostPort(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { hostname: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/** Sends `request` on a fresh connection and reads until the server closes. */
async function exchange(
  addr: string,
  request: string | Uint8Array,
  readLimit = 1 << 20,
): Promise<Uint8Array> {
  const conn = await Deno.connect(hostPort(addr));
  try {
    await conn.write(
      typeof request === "string" ? encoder.encode(request) : request,
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    let total = 0;
    while (total < readLimit) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break; // reset after the answer
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

const DATE = String
  .raw`[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT`;

/** What Go's `http.Error` writes (node.md §4.3), as a pattern. */
function goError(status: string, body: string, upgrade: boolean): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    `^HTTP/1\\.1 ${
      esc(status)
    }\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      (upgrade ? "Sec-Websocket-Version: 13\r\n" : "") +
      `X-Content-Type-Options: nosniff\r\nDate: ${DATE}\r\nContent-Length: ${
        encoder.encode(body).length
      }\r\n\r\n${esc(body)}$`,
  );
}

const UPGRADE = "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

Deno.test("listener: Go's admission answers, byte for byte", async () => {
  const s = new Stack();
  try {
    const { transport } = await s.server(serverNode);
    const a = transport.addr;
    const text = async (req: string) => decoder.decode(await exchange(a, req));
    assert.match(
      await text("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"),
      goError("404 Not Found", "404 page not found\n", false),
    );
    assert.match(
      await text("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"),
      goError("400 Bad Request", "Bad Request\n", true),
    );
    assert.match(
      await text(`POST /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`),
      goError("405 Method Not Allowed", "Method Not Allowed\n", true),
    );
    assert.match(
      await text(
        `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}Origin: http://evil.example.com\r\n\r\n`,
      ),
      goError("403 Forbidden", "Forbidden\n", true),
    );
    assert.match(
      await text(
        `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE.replace("13", "8")}\r\n`,
      ),
      goError("400 Bad Request", "Bad Request\n", true),
    );
    // Requests Go's server cannot parse.
    assert.equal(
      await text("NONSENSE\r\n\r\n"),
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
    );
    assert.equal(
      await text(`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`),
      "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header",
    );
    // A successful upgrade: gorilla's 101, our limit header after the accept.
    const conn = await Deno.connect(hostPort(a));
    await conn.write(
      encoder.encode(`GET /ws?x=1 HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`),
    );
    const head = new Uint8Array(512);
    const n = await conn.read(head);
    conn.close();
    const up = decoder.decode(head.subarray(0, n!));
    assert.ok(
      up.startsWith(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
          `X-Lthn-Max-Message-Size: ${16 * 1024 * 1024}\r\n\r\n`,
      ),
      up,
    );
    const st = transport.stats().handshakeFailures.inbound;
    assert.equal(st.bad_request, 7);
  } finally {
    await s.close();
  }
});

Deno.test("listener: the request head is capped (431) and must arrive before upgradeTimeout", async () => {
  const s = new Stack();
  try {
    const { transport } = await s.server(serverNode, {
      upgradeTimeout: 300,
      maxHeadBytes: 2048,
    });
    const a = transport.addr;
    const big = `GET /ws HTTP/1.1\r\nHost: x\r\nX-Pad: ${
      "a".repeat(4096)
    }\r\n\r\n`;
    assert.equal(
      decoder.decode(await exchange(a, big)),
      "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large",
    );
    // Half a head: dropped at the deadline, with nothing written.
    const t0 = performance.now();
    const half = await exchange(a, "GET /ws HTTP/1.1\r\nHost: x\r\n");
    const waited = performance.now() - t0;
    assert.equal(half.length, 0);
    assert.ok(waited >= 250, `dropped after ${waited.toFixed(0)} ms`);
    assert.equal(
      transport.stats().handshakeFailures.inbound.upgrade_timeout,
      1,
    );
    // A head sent in pieces within the deadline is fine.
    const conn = await Deno.connect(hostPort(a));
    try {
      const req = `GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`;
      for (let i = 0; i < req.length; i += 20) {
        await conn.write(encoder.encode(req.slice(i, i + 20)));
        await new Promise((r) => setTimeout(r, 5));
      }
      const buf = new Uint8Array(512);
      const n = await conn.read(buf);
      assert.match(decoder.decode(buf.subarray(0, n!)), /^HTTP\/1\.1 101 /);
    } finally {
      conn.close();
    }
  } finally {
    await s.close();
  }
});

Deno.test("listener: client frames must be masked; before the handshake 64 KiB is the limit, at the header", async () => {
  const s = new Stack();
  try {
    const { transport } = await s.server(serverNode);
    const a = transport.addr;
    const open = async () => {
      const conn = await Deno.connect(hostPort(a));
      await conn.write(
        encoder.encode(`GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`),
      );
      const buf = new Uint8Array(512);
      const n = await conn.read(buf);
      assert.match(decoder.decode(buf.subarray(0, n!)), /^HTTP\/1\.1 101 /);
      return conn;
    };
    const closeFrame = async (conn: Deno.Conn): Promise<number> => {
      const buf = new Uint8Array(256);
      const n = await conn.read(buf);
      conn.close();
      assert.equal(
        buf[0],
        0x88,
        `a close frame, unmasked: ${n} ${buf.subarray(0, n ?? 0)}`,
      );
      assert.equal(buf[1]! & 0x80, 0);
      return (buf[2]! << 8) | buf[3]!;
    };
    // An unmasked text frame: protocol error.
    let conn = await open();
    await conn.write(new Uint8Array([0x81, 0x02, 0x68, 0x69]));
    assert.equal(await closeFrame(conn), 1002);
    // A frame header declaring 64 KiB + 1: refused before its payload.
    conn = await open();
    const head = new Uint8Array(14);
    head[0] = 0x81;
    head[1] = 0x80 | 127;
    new DataView(head.buffer).setUint32(6, 64 * 1024 + 1, false);
    await conn.write(head);
    assert.equal(await closeFrame(conn), 1009);
    assert.equal(transport.stats().handshakeFailures.inbound.too_large, 1);
    // A fragmented ping.
    conn = await open();
    await conn.write(
      clientFrame(0x9, new Uint8Array()).map((b, i) => i === 0 ? 0x09 : b),
    );
    assert.equal(await closeFrame(conn), 1002);
  } finally {
    await s.close();
  }
});

Deno.test("listener: a peer that does not answer our close frame is dropped after closeTimeout", async () => {
  const s = new Stack();
  try {
    const { transport } = await s.server(serverNode, { closeTimeout: 300 });
    const a = transport.addr;
    // A peer that completes the handshake, proves its key, then reads
    // nothing and answers nothing.
    const conn = await Deno.connect(hostPort(a));
    await conn.write(
      encoder.encode(`GET /ws HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`),
    );
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    const me = clientNode.getIdentity()!;
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const hs = newMessage("handshake", {
      from: me.id,
      to: SERVER_ID,
      payload: { identity: me, challenge, version: "1.0" },
    });
    await conn.write(clientFrame(0x1, encoder.encode(encodeMessage(hs))));
    await waitFor(() => transport.connections().length === 1);
    const t0 = performance.now();
    await transport.disconnect(CLIENT_ID, "bye");
    const took = performance.now() - t0;
    assert.ok(
      took >= 250 && took < 5_000,
      `closed after ${took.toFixed(0)} ms`,
    );
    assert.equal(transport.stats().guard.close_timeout, 1);
    // The TCP connection is gone: reading ends.
    const sink = new Uint8Array(65536);
    try {
      while ((await conn.read(sink)) !== null) {
        /* the ack, the close frame */
      }
    } catch {
      // reset
    }
    conn.close();
  } finally {
    await s.close();
  }
});

Deno.test("listener: a rejected version is echoed and logged at most 32 characters long", async () => {
  const s = new Stack();
  try {
    const { transport } = await s.server(serverNode);
    const peer = await s.raw(`ws://${transport.addr}/ws`);
    const me = clientNode.getIdentity()!;
    const hs = newMessage("handshake", {
      from: me.id,
      to: SERVER_ID,
      payload: {
        identity: me,
        challenge: new Uint8Array(32),
        version: "9".repeat(50_000),
      },
    });
    peer.ws.sendText(encodeMessage(hs));
    const ack = decodeMessage((await peer.next()) as string);
    const reason = parsePayload(ack, "handshake_ack").reason!;
    assert.equal(
      reason,
      `incompatible protocol version ${"9".repeat(32)}…, supported: [1.0]`,
    );
    assert.equal(transport.stats().handshakeFailures.inbound.version, 1);
  } finally {
    await s.close();
  }
});

Deno.test("handleRequest() mounted in Deno.serve: same admission, quota and handshake", async () => {
  const s = new Stack();
  try {
    const { transport: server } = await s.transport(serverNode, {
      maxConns: 4,
    });
    server.onMessage((conn, msg) => {
      if (msg.type === "ping") {
        return conn.send(newMessage("pong", {
          from: SERVER_ID,
          to: msg.from,
          replyTo: msg.id,
          payload: { sentAt: 1, receivedAt: 2 },
        }));
      }
    });
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req, info) => server.handleRequest(req, info),
    );
    s.defer(() => http.shutdown());
    const addr = `127.0.0.1:${http.addr.port}`;
    const res = await fetch(`http://${addr}/other`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "404 page not found\n");
    // maxUnproven is 2 (half of maxConns): a third unproven socket
    // displaces the oldest.
    const idle1 = await s.raw(`ws://${addr}/ws`);
    await s.raw(`ws://${addr}/ws`);
    await s.raw(`ws://${addr}/ws`);
    await waitFor(() => idle1.closeCode !== undefined, 5_000, "displaced");
    assert.equal(server.stats().guard.unproven_evicted, 1);
    const { transport: client } = await s.transport(clientNode);
    const conn = await client.connect({ address: addr });
    const pong = await client.request(
      conn.peerId,
      newMessage("ping", {
        from: CLIENT_ID,
        to: SERVER_ID,
        payload: { sentAt: 1 },
      }),
    );
    assert.equal(pong.type, "pong");
    await assert.rejects(
      client.connect({ address: `127.0.0.1:${http.addr.port}`, id: "x" }),
      TransportError,
    );
    // A peer whose key works on this path is the same as on ours.
    const proven = await HandshakedPeer.open({ addr, id: SERVER_ID });
    s.defer(() => proven.close());
    proven.sendGood();
    await waitFor(() => server.connectedPeers().includes(proven.id));
  } finally {
    await s.close();
  }
});
