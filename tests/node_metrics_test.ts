/**
 * Exact transport counters on a running {@linkcode Node}, read from
 * `/metrics` over the control API: a raw peer on loopback provokes every
 * drop reason and several handshake failures, and each counter moves by
 * exactly the expected amount while the others stay put.
 */

import assert from "node:assert/strict";
import { SmsgKey, smsgSealBody } from "../node/borg/smsg.ts";
import { ControlClient } from "../node/control_api.ts";
import { generateKeyPair, secretToPassword } from "../node/identity.ts";
import { NodeManager } from "../node/identity_store.ts";
import { encodeMessage, type Message, newMessage } from "../node/message.ts";
import { Node, type NodeOptions } from "../node/node.ts";
import {
  createHandshake,
  verifyHandshakeAck,
} from "../node/transport/handshake.ts";
import { TransportError } from "../node/transport/errors.ts";
import { Logger, LogLevel } from "../logging/mod.ts";
import { parsePrometheus } from "./_prometheus.ts";
import { RawClient, waitFor } from "./transport_helpers.ts";

const quiet = new Logger({ level: LogLevel.Error, sink: { write: () => {} } });

const DROPS = [
  "rate_limit",
  "too_large",
  "decrypt_failed",
  "parse_failed",
  "stale_timestamp",
  "duplicate",
  "queue_overflow",
  "backlog_overflow",
  "unsupported_format",
];

function options(
  dir: string,
  name: string,
  transport: NodeOptions["transport"] = {},
): NodeOptions {
  return {
    dataDir: `${dir}/${name}/data`,
    configDir: `${dir}/${name}/config`,
    name,
    transport: { listenAddr: "127.0.0.1:0", reconnect: false, ...transport },
    control: { port: 0 },
    minerManager: null,
    profileManager: null,
    logger: quiet,
    registrySaveDelayMs: 60_000,
  };
}

/** A peer that speaks the handshake itself and then sends raw frames. */
class RawPeer {
  readonly raw: RawClient;
  readonly key: SmsgKey;
  readonly id: string;
  readonly to: string;

  private constructor(raw: RawClient, key: SmsgKey, id: string, to: string) {
    this.raw = raw;
    this.key = key;
    this.id = id;
    this.to = to;
  }

  static async open(node: Node, me: NodeManager): Promise<RawPeer> {
    const raw = await RawClient.open(node.listenUrl);
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const identity = me.getIdentity()!;
    raw.ws.sendText(
      encodeMessage(createHandshake(identity, { to: "", challenge })),
    );
    const ack = await raw.next();
    assert.equal(typeof ack, "string");
    const { peer, secret } = verifyHandshakeAck(ack as string, {
      challenge,
      deriveSecret: (k) => me.deriveSharedSecret(k),
    });
    const key = SmsgKey.fromPassword(secretToPassword(secret));
    secret.fill(0);
    return new RawPeer(raw, key, identity.id, peer.id);
  }

  message(type: string, now = Date.now()): Message {
    return newMessage(type, { from: this.id, to: this.to, payload: null, now });
  }

  seal(text: string): Uint8Array {
    return smsgSealBody(text, this.key, {
      timestamp: Math.floor(Date.now() / 1000),
    });
  }

  send(m: Message): void {
    this.raw.ws.sendBinary(this.seal(encodeMessage(m)));
  }
}

async function scrape(node: Node): Promise<Map<string, number>> {
  const client = await ControlClient.fromFile(node.paths.controlFile);
  return parsePrometheus(await client.metrics());
}

function drops(m: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of DROPS) {
    const v = m.get(`p2p_drops_total{reason="${r}"}`);
    assert.ok(v !== undefined, `p2p_drops_total{reason="${r}"} is exposed`);
    out[r] = v;
  }
  return out;
}

/** Runs `provoke` and checks that only `expected` drop counters moved, by exactly that much. */
async function expectDrops(
  node: Node,
  expected: Record<string, number>,
  provoke: () => void | Promise<void>,
): Promise<void> {
  const before = drops(await scrape(node));
  await provoke();
  const want = { ...before };
  for (const [r, n] of Object.entries(expected)) want[r] = before[r]! + n;
  await waitFor(
    () => {
      const s = node.transport.stats().drops as Record<string, number>;
      return Object.entries(want).every(([r, n]) => s[r]! >= n);
    },
    5_000,
    `drops ${JSON.stringify(expected)}`,
  );
  await new Promise((r) => setTimeout(r, 50)); // nothing more trickles in
  assert.deepEqual(drops(await scrape(node)), want);
}

Deno.test("/metrics counts every drop reason exactly (raw peer over loopback)", async () => {
  const dir = await Deno.makeTempDir();
  const b = await Node.create(options(dir, "b", {
    maxMessageSize: 64 * 1024,
    handlerQueueSize: 2,
    rateLimitBurst: 20,
    rateLimitPerSecond: 1,
  }));
  const me = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "raw",
    role: "controller",
  });
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const peers: RawPeer[] = [];
  const open = async () => {
    const p = await RawPeer.open(b, me);
    peers.push(p);
    // One good frame first: the inbound connection is then established.
    p.send(p.message("hello"));
    await waitFor(() =>
      b.transport.connectedPeers().includes(me.getIdentity()!.id)
    );
    return p;
  };
  try {
    await b.start();
    // A handler that holds "blob" messages until the end of the test.
    b.transport.onMessage(async (_c, msg) => {
      if (msg.type === "blob") await released;
    });
    const m0 = await scrape(b);
    assert.equal(m0.get("p2p_connections"), 0);

    let p = await open();
    await expectDrops(b, { unsupported_format: 3 }, () => {
      for (let i = 0; i < 3; i++) {
        p.raw.ws.sendBinary(crypto.getRandomValues(new Uint8Array(200)));
      }
    });
    const wrongKey = SmsgKey.fromPassword("not the pairwise password");
    await expectDrops(b, { decrypt_failed: 2 }, () => {
      for (let i = 0; i < 2; i++) {
        p.raw.ws.sendBinary(smsgSealBody("{}", wrongKey));
      }
    });
    await expectDrops(b, { parse_failed: 2 }, () => {
      p.raw.ws.sendBinary(p.seal("not json"));
      p.raw.ws.sendBinary(p.seal('{"id":1}'));
    });
    await expectDrops(b, { stale_timestamp: 1 }, () => {
      p.send(p.message("hello", Date.now() - 10 * 60_000));
    });
    await expectDrops(b, { duplicate: 1 }, () => {
      const m = p.message("hello");
      p.send(m);
      p.send(m);
    });
    // One blob is being handled, two wait in the queue (size 2), two drop.
    await expectDrops(b, { queue_overflow: 2 }, () => {
      for (let i = 0; i < 5; i++) p.send(p.message("blob"));
    });
    await p.raw.close();

    // 20 tokens: 1 used by "hello", 19 garbage frames are refused as
    // unsupported formats, 6 are rate limited.
    p = await open();
    await expectDrops(b, { unsupported_format: 19, rate_limit: 6 }, () => {
      for (let i = 0; i < 25; i++) {
        p.raw.ws.sendBinary(crypto.getRandomValues(new Uint8Array(100)));
      }
    });
    await p.raw.close();

    p = await open();
    await expectDrops(b, { too_large: 1 }, async () => {
      p.raw.ws.sendBinary(new Uint8Array(65 * 1024));
      assert.equal(await p.raw.next(), null);
      assert.equal(p.raw.closeCode, 1009);
    });

    const m = await scrape(b);
    assert.equal(m.get('p2p_messages_total{direction="in",type="other"}'), 7);
    assert.equal(m.get("p2p_connections_opened_total"), 3);
    await waitFor(() => b.transport.connections().length === 0);
    const m2 = await scrape(b);
    assert.equal(m2.get("p2p_connections_closed_total"), 3);
    assert.equal(m2.get("p2p_connections"), 0);
    // 16 + 26 + 1 frames reached the pipeline; the oversized one never did.
    assert.equal(m2.get('p2p_frames_total{direction="in"}'), 43);
    assert.ok(m2.get('p2p_bytes_total{direction="in"}')! >= 43 * 100);
    // 27 failed frames in a row at most: below maxFailedFrames, nobody was
    // disconnected for them.
    assert.equal(m2.get('p2p_guard_total{reason="failed_frames"}'), 0);
    assert.equal(
      m2.get(
        'p2p_handshake_failures_total{direction="inbound",reason="malformed"}',
      ),
      0,
    );
  } finally {
    release();
    for (const p of peers) await p.raw.close().catch(() => {});
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/metrics counts handshake failures by direction and reason", async () => {
  const dir = await Deno.makeTempDir();
  const b = await Node.create(options(dir, "b", {
    maxMessageSize: 64 * 1024,
    handshakeTimeout: 300,
  }));
  const a = await Node.create({ ...options(dir, "a"), control: false });
  const me = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "raw",
    role: "controller",
  });
  const hs = (
    m: Map<string, number>,
    direction: string,
    reason: string,
  ): number => {
    const v = m.get(
      `p2p_handshake_failures_total{direction="${direction}",reason="${reason}"}`,
    );
    assert.ok(v !== undefined, `${direction}/${reason} exposed`);
    return v;
  };
  try {
    await b.start();
    await a.start();
    // Not JSON: closed without a reply.
    let raw = await RawClient.open(b.listenUrl);
    raw.ws.sendText("hello");
    assert.equal(await raw.next(), null);
    // Unsupported version: rejected with an ack.
    raw = await RawClient.open(b.listenUrl);
    const msg = JSON.parse(encodeMessage(createHandshake(me.getIdentity()!, {
      to: "",
      challenge: new Uint8Array(32),
    })));
    msg.payload.version = "9.9";
    raw.ws.sendText(JSON.stringify(msg));
    assert.match(String(await raw.next()), /incompatible protocol version/);
    await raw.close();
    // A first frame above the 64 KiB handshake limit.
    raw = await RawClient.open(b.listenUrl);
    raw.ws.sendText("x".repeat(65 * 1024));
    assert.equal(await raw.next(), null);
    // Silence until the handshake timeout (300 ms).
    raw = await RawClient.open(b.listenUrl);
    assert.equal(await raw.next(2_000), null);
    await waitFor(() =>
      b.transport.stats().handshakeFailures.inbound.timeout === 1
    );

    const mb = await scrape(b);
    assert.equal(hs(mb, "inbound", "malformed"), 1);
    assert.equal(hs(mb, "inbound", "version"), 1);
    assert.equal(hs(mb, "inbound", "too_large"), 1);
    assert.equal(hs(mb, "inbound", "timeout"), 1);
    assert.equal(hs(mb, "inbound", "not_allowed"), 0);
    assert.equal((await b.status()).counters.handshakeFailures, 4);

    // Outbound: a pinned identity that does not match, and a closed port.
    await assert.rejects(
      a.addPeer({ address: b.transport.addr, id: "0".repeat(32) }),
      (e) => e instanceof TransportError && e.code === "peer_mismatch",
    );
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    await assert.rejects(
      a.addPeer({ address: `127.0.0.1:${port}` }),
      (e) => e instanceof TransportError && e.code === "connect_failed",
    );
    const ma = parsePrometheus(a.metrics.render());
    assert.equal(hs(ma, "outbound", "peer_mismatch"), 1);
    assert.equal(hs(ma, "outbound", "connect_failed"), 1);
    assert.equal(hs(ma, "outbound", "handshake_rejected"), 0);
    assert.equal(ma.get('p2p_request_duration_seconds_count{op="connect"}'), 2);
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the handler queue is capped in bytes too: big messages behind a slow handler drop", async () => {
  const dir = await Deno.makeTempDir();
  const b = await Node.create(options(dir, "b", {
    handlerQueueSize: 1000,
    handlerQueueBytes: 4096,
  }));
  const me = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "raw",
    role: "controller",
  });
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let p: RawPeer | undefined;
  try {
    await b.start();
    b.transport.onMessage(async (_c, msg) => {
      if (msg.type === "blob") await released;
    });
    p = await RawPeer.open(b, me);
    p.send(p.message("hello"));
    await waitFor(() =>
      b.transport.connectedPeers().includes(me.getIdentity()!.id)
    );
    const blob = (): Message =>
      newMessage("blob", {
        from: p!.id,
        to: p!.to,
        payload: { data: "x".repeat(3000) },
      });
    // Each frame is over 3 KB: one is being handled, one waits (an empty
    // queue always admits one), the next would pass 4096 bytes and drops.
    await expectDrops(b, { queue_overflow: 3 }, () => {
      for (let i = 0; i < 5; i++) p!.send(blob());
    });
    // Small messages still fit beside the waiting one.
    await expectDrops(b, {}, () => p!.send(p!.message("small")));
  } finally {
    release();
    await p?.raw.close().catch(() => {});
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
