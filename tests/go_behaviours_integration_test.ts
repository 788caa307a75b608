/**
 * The Go test behaviours of node.md §11.11 (integration, end to end) that
 * tests/controller_worker_go_test.ts does not already assert: UEPS packets
 * keyed by the live connection's shared secret and dispatched, tampering,
 * real frames for the four intents, a stats message through SMSG, and a
 * controller with three workers. Public API only; real transports on
 * 127.0.0.1 port 0, registries in temporary directories.
 */

import assert from "node:assert/strict";
import {
  Controller,
  decodeMessage,
  Dispatcher,
  DispatchError,
  encodeMessage,
  generateKeyPair,
  INTENT_COMPUTE,
  INTENT_CUSTOM,
  INTENT_HANDSHAKE,
  INTENT_REHAB,
  type MinerInstance,
  type MinerManager,
  newMessage,
  NodeManager,
  type NodeRole,
  parsePayload,
  PeerRegistry,
  reply,
  secretToPassword,
  SmsgKey,
  smsgOpenBody,
  smsgSealBody,
  type StatsPayload,
  Transport,
  Worker,
} from "@lthn/p2p/node";
import {
  PacketBuilder,
  readAndVerify,
  readPackets,
  UepsError,
  type UepsPacket,
} from "@lthn/p2p/ueps";
import { Logger, LogLevel } from "@lthn/p2p/logging";

const enc = new TextEncoder();
const dec = new TextDecoder();

function silent(): Logger {
  return new Logger({ sink: { write() {} }, level: LogLevel.Error });
}

interface Live {
  node: NodeManager;
  registry: PeerRegistry;
  transport: Transport;
  id: string;
  close(): Promise<void>;
}

async function startLive(name: string, role: NodeRole): Promise<Live> {
  const node = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name,
    role,
  });
  const dir = await Deno.makeTempDir({ prefix: `gbi_${name}_` });
  const registry = await PeerRegistry.open(`${dir}/peers.json`, {
    logger: silent(),
    saveDelayMs: 60_000,
  });
  const transport = new Transport({
    node,
    registry,
    logger: silent(),
    config: { listenAddr: "127.0.0.1:0", reconnect: false },
  });
  await transport.start();
  return {
    node,
    registry,
    transport,
    id: node.getIdentity()!.id,
    async close() {
      await transport.stop();
      await registry.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function register(on: Live, peer: Live): void {
  const id = peer.node.getIdentity()!;
  on.registry.addPeer({
    id: id.id,
    name: id.name,
    publicKey: id.publicKey,
    address: peer.transport.addr,
    role: id.role,
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A miner manager holding fixed miners (the application's plug-in point). */
class FixedMiners implements MinerManager {
  constructor(readonly miners: MinerInstance[]) {}
  startMiner(): MinerInstance {
    throw new Error("not supported");
  }
  stopMiner(): void {
    throw new Error("not supported");
  }
  listMiners(): MinerInstance[] {
    return this.miners;
  }
  getMiner(name: string): MinerInstance | undefined {
    return this.miners.find((x) => x.getName() === name);
  }
}

function fixedMiner(name: string, hashrate: number): MinerInstance {
  return {
    getName: () => name,
    getType: () => "xmrig",
    getStats: () => ({ hashrate }),
    getConsoleHistorySince: () => [],
  };
}

/** Dispatcher with recording handlers for the four Go intents. */
function recordingDispatcher(): {
  dispatcher: Dispatcher;
  seen: Map<number, UepsPacket[]>;
} {
  const dispatcher = new Dispatcher({ logger: silent() });
  const seen = new Map<number, UepsPacket[]>();
  for (
    const intent of [
      INTENT_HANDSHAKE,
      INTENT_COMPUTE,
      INTENT_REHAB,
      INTENT_CUSTOM,
    ]
  ) {
    seen.set(intent, []);
    dispatcher.registerHandler(intent, (p) => void seen.get(intent)!.push(p));
  }
  return { dispatcher, seen };
}

Deno.test("§11.11 full lifecycle: handshake secret, ping, stats, UEPS over the connection's secret, graceful close", async () => {
  const ctl = await startLive("controller", "controller");
  const wrk = await startLive("worker", "worker");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: silent(),
  });
  const worker = new Worker(wrk.node, {
    minerManager: new FixedMiners([fixedMiner("xmrig-0", 5000)]),
    logger: silent(),
    trust: [ctl.node.getIdentity()!.publicKey],
  });
  worker.register(wrk.transport);
  try {
    // Distinct identities with the right roles.
    assert.notEqual(ctl.id, wrk.id);
    assert.equal(ctl.node.getIdentity()!.role, "controller");
    assert.equal(wrk.node.getIdentity()!.role, "worker");

    register(ctl, wrk);
    const conn = await controller.connectToPeer(wrk.id);
    assert.equal(conn.peerId, wrk.id);
    assert.equal(conn.peer.name, "worker");

    // Ping: RTT in (0, 1000) ms, recorded as pingMs.
    const rtt = await controller.pingPeer(wrk.id);
    assert.ok(rtt > 0 && rtt < 1000, `rtt ${rtt}`);
    assert.equal(ctl.registry.getPeer(wrk.id)!.pingMs, rtt);

    // Both sides count one connection, keyed by the other's real ID.
    await until(() => wrk.transport.connectedPeers().length === 1);
    assert.deepEqual(ctl.transport.connectedPeers(), [wrk.id]);
    assert.deepEqual(wrk.transport.connectedPeers(), [ctl.id]);

    // The handshake's shared secret: each end derives it from the key the
    // live connection carries; both agree, 32 bytes.
    const wrkConn = wrk.transport.getConnection(ctl.id)!;
    const ctlSecret = ctl.node.deriveSharedSecret(
      ctl.transport.getConnection(wrk.id)!.peer.publicKey,
    );
    const wrkSecret = wrk.node.deriveSharedSecret(wrkConn.peer.publicKey);
    assert.equal(ctlSecret.length, 32);
    assert.ok(ctlSecret.some((b) => b !== 0));
    assert.deepEqual(ctlSecret, wrkSecret);
    assert.equal(
      controller.bundlePassword(wrk.id),
      secretToPassword(ctlSecret),
    );

    // Remote stats: the worker's ID, name and its one miner at 5000 H/s.
    const stats = await controller.getRemoteStats(wrk.id);
    assert.equal(stats.nodeId, wrk.id);
    assert.equal(stats.nodeName, "worker");
    assert.equal(stats.miners.length, 1);
    assert.equal(stats.miners[0]!.name, "xmrig-0");
    assert.equal(stats.miners[0]!.hashrate, 5000);

    // UEPS: signed with the controller's copy of the secret, verified with
    // the worker's, dispatched to the handshake and compute handlers.
    const { dispatcher, seen } = recordingDispatcher();
    const hs = new PacketBuilder(INTENT_HANDSHAKE, enc.encode("hello"))
      .marshalAndSign(ctlSecret);
    const compute = new PacketBuilder(INTENT_COMPUTE, enc.encode("job-1"))
      .marshalAndSign(ctlSecret);
    await dispatcher.dispatch(await readAndVerify(hs, wrkSecret));
    await dispatcher.dispatch(await readAndVerify(compute, wrkSecret));
    assert.equal(dec.decode(seen.get(INTENT_HANDSHAKE)![0]!.payload), "hello");
    assert.equal(dec.decode(seen.get(INTENT_COMPUTE)![0]!.payload), "job-1");

    // A threat score of 50 001 is refused before the handler.
    const threat = new PacketBuilder(INTENT_COMPUTE, enc.encode("bad"));
    threat.header.threatScore = 50_001;
    const hostile = await readAndVerify(
      threat.marshalAndSign(ctlSecret),
      wrkSecret,
    );
    await assert.rejects(
      dispatcher.dispatch(hostile),
      (e) => e instanceof DispatchError && e.code === "threat_exceeded",
    );
    assert.equal(seen.get(INTENT_COMPUTE)!.length, 1);

    // Graceful close delivers disconnect {reason, 1000}; the controller ends
    // with no connection.
    const got = new Promise<unknown>((resolve) => {
      const off = wrk.transport.onMessage((_c, m) => {
        if (m.type === "disconnect") {
          off();
          resolve(m.payload);
        }
      });
    });
    await ctl.transport.getConnection(wrk.id)!.gracefulClose("test done", 1000);
    assert.deepEqual(await got, { reason: "test done", code: 1000 });
    await until(() => ctl.transport.connectedPeers().length === 0);
    assert.equal(ctl.transport.connections().length, 0);
  } finally {
    worker.close();
    controller.close();
    await ctl.close();
    await wrk.close();
  }
});

Deno.test("§11.11 a controller with three workers pings all concurrently and collects three stats", async () => {
  const ctl = await startLive("controller", "controller");
  const controller = new Controller(ctl.node, ctl.transport, {
    registry: ctl.registry,
    logger: silent(),
  });
  const workers: { live: Live; worker: Worker }[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const live = await startLive(`worker-${i}`, "worker");
      const worker = new Worker(live.node, {
        logger: silent(),
        trust: [ctl.node.getIdentity()!.publicKey],
      });
      worker.register(live.transport);
      workers.push({ live, worker });
      register(ctl, live);
      await controller.connectToPeer(live.id);
    }
    const rtts = await Promise.all(
      workers.map((w) => controller.pingPeer(w.live.id)),
    );
    assert.equal(rtts.length, 3);
    assert.ok(rtts.every((r) => r > 0 && r < 1000), String(rtts));
    const all = await controller.getAllStats();
    assert.equal(all.size, 3);
    for (const [i, w] of workers.entries()) {
      const s = all.get(w.live.id);
      assert.ok(s, `stats of worker-${i}`);
      assert.equal(s.nodeId, w.live.id);
      assert.equal(s.nodeName, `worker-${i}`);
      assert.ok(s.uptime >= 0);
    }
  } finally {
    controller.close();
    for (const w of workers) w.worker.close();
    await ctl.close();
    for (const w of workers) await w.live.close();
  }
});

Deno.test("§11.11 a UEPS packet signed with A's secret verifies with B's and dispatches", async () => {
  const a = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "a",
    role: "dual",
  });
  const b = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "b",
    role: "dual",
  });
  const secretA = a.deriveSharedSecret(b.getIdentity()!.publicKey);
  const secretB = b.deriveSharedSecret(a.getIdentity()!.publicKey);
  assert.equal(secretA.length, 32);
  assert.deepEqual(secretA, secretB);

  const builder = new PacketBuilder(INTENT_COMPUTE, enc.encode("compute job"));
  builder.header.threatScore = 100;
  const packet = await readAndVerify(builder.marshalAndSign(secretA), secretB);
  assert.equal(packet.header.intentId, 0x20);
  assert.equal(packet.header.threatScore, 100);
  assert.equal(dec.decode(packet.payload), "compute job");
  const { dispatcher, seen } = recordingDispatcher();
  await dispatcher.dispatch(packet);
  assert.equal(seen.get(INTENT_COMPUTE)!.length, 1);
  assert.equal(
    dec.decode(seen.get(INTENT_COMPUTE)![0]!.payload),
    "compute job",
  );
});

Deno.test("§11.11 a tampered UEPS packet fails with an HMAC mismatch", async () => {
  const a = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "a",
    role: "dual",
  });
  const b = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "b",
    role: "dual",
  });
  const secretA = a.deriveSharedSecret(b.getIdentity()!.publicKey);
  const secretB = b.deriveSharedSecret(a.getIdentity()!.publicKey);
  const frame = new PacketBuilder(INTENT_COMPUTE, enc.encode("original"))
    .marshalAndSign(secretA);
  const tampered = frame.slice();
  tampered[tampered.length - 1]! ^= 0xff;
  await assert.rejects(
    readAndVerify(tampered, secretB),
    (e) =>
      e instanceof UepsError && e.code === "hmac_mismatch" &&
      /integrity violation/i.test(e.message),
  );
  // The untouched frame still verifies.
  assert.equal(
    dec.decode((await readAndVerify(frame, secretB)).payload),
    "original",
  );
});

Deno.test("§11.11 real UEPS frames for 0x01, 0x20, 0x30 and 0xFF dispatch with their payloads", async () => {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const sent: [number, Uint8Array][] = [
    [INTENT_HANDSHAKE, enc.encode("handshake payload")],
    [INTENT_COMPUTE, enc.encode("compute payload")],
    [INTENT_REHAB, new Uint8Array([0x00, 0xff, 0x7f, 0x80])],
    [INTENT_CUSTOM, new Uint8Array(4096).map((_, i) => i & 0xff)],
  ];
  // One byte stream carrying the four frames back to back.
  const frames = sent.map(([intent, payload]) =>
    new PacketBuilder(intent, payload).marshalAndSign(secret)
  );
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const f of frames) c.enqueue(f);
      c.close();
    },
  });
  const { dispatcher, seen } = recordingDispatcher();
  for await (const packet of readPackets(stream, secret)) {
    await dispatcher.dispatch(packet);
  }
  for (const [intent, payload] of sent) {
    const got = seen.get(intent)!;
    assert.equal(got.length, 1, `intent 0x${intent.toString(16)}`);
    assert.equal(got[0]!.header.intentId, intent);
    assert.deepEqual(got[0]!.payload, payload);
  }
});

Deno.test("§11.11 a stats reply with every miner field survives SMSG encrypt/decrypt unchanged", () => {
  const a = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "a",
    role: "controller",
  });
  const b = NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
    name: "b",
    role: "worker",
  });
  const request = newMessage("get_stats", {
    from: a.getIdentity()!.id,
    to: b.getIdentity()!.id,
  });
  const payload: StatsPayload = {
    nodeId: b.getIdentity()!.id,
    nodeName: "b",
    miners: [{
      name: "xmrig-0",
      type: "xmrig",
      hashrate: 1234.56,
      shares: 42,
      rejected: 1,
      uptime: 3600,
      pool: "pool.example.com:3333",
      algorithm: "rx/0",
      cpuThreads: 8,
    }],
    uptime: 7200,
  };
  const message = reply(request, "stats", { payload });
  assert.equal(message.replyTo, request.id);

  const keyB = SmsgKey.fromPassword(
    secretToPassword(b.deriveSharedSecret(a.getIdentity()!.publicKey)),
  );
  const keyA = SmsgKey.fromPassword(
    secretToPassword(a.deriveSharedSecret(b.getIdentity()!.publicKey)),
  );
  const frame = smsgSealBody(encodeMessage(message), keyB);
  assert.ok(!dec.decode(frame).includes("pool.example.com"));
  const back = decodeMessage(smsgOpenBody(frame, keyA));
  assert.deepEqual(back, message);
  assert.equal(back.replyTo, request.id);
  const stats = parsePayload(back, "stats");
  assert.deepEqual(stats, payload);
  assert.equal(stats.miners[0]!.cpuThreads, 8);
});
