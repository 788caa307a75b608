import assert from "node:assert/strict";
import { LevinError } from "./errors.ts";
import { decodeHeader, HEADER_SIZE } from "./header.ts";
import { decodeStorage, encodeStorage, expectScalar } from "./storage.ts";
import {
  decodeMoneroHandshake,
  decodeMoneroPing,
  decodeMoneroSupportFlags,
  decodeMoneroTimedSync,
  encodeMoneroHandshake,
  encodeMoneroPing,
  encodeMoneroSupportFlags,
  encodeMoneroTimedSync,
  MONERO_GENESIS_HASH,
  MONERO_MAINNET_NETWORK_ID,
  MONERO_TESTNET_NETWORK_ID,
  MoneroPeer,
  type MoneroPeerOptions,
  type MoneroTimedSync,
} from "./monero.ts";
import { Logger } from "../logging/mod.ts";

const quiet = new Logger({ sink: { write: () => {} } });
const DIR = new URL("../testdata/levin/", import.meta.url);

function payloadOf(file: string): Uint8Array<ArrayBuffer> {
  const bytes = Deno.readFileSync(new URL(file, DIR));
  assert.equal(decodeHeader(bytes).payloadSize, bytes.length - HEADER_SIZE);
  return bytes.slice(HEADER_SIZE);
}

Deno.test("Monero handshake payloads from monerod decode and re-encode byte for byte", () => {
  for (
    const file of [
      "handshake-request.bin",
      "handshake-response.bin",
      "daemon-handshake-request.bin",
      "handshake-reply-to-daemon.bin",
      "handshake-request-wrong-network.bin",
    ]
  ) {
    const p = payloadOf(file);
    const hs = decodeMoneroHandshake(p);
    assert.deepEqual(encodeMoneroHandshake(hs), p, file);
  }
  const ours = decodeMoneroHandshake(payloadOf("handshake-request.bin"));
  assert.deepEqual(ours.nodeData, {
    networkId: MONERO_MAINNET_NETWORK_ID,
    peerId: 0x1122334455667788n,
    myPort: 0,
    rpcPort: 0,
    rpcCreditsPerHash: 0,
    supportFlags: 1,
  });
  const daemon = decodeMoneroHandshake(payloadOf("handshake-response.bin"));
  assert.equal(daemon.nodeData.peerId, 5715575330144424818n);
  assert.equal(daemon.nodeData.myPort, 47311);
  assert.equal(daemon.nodeData.rpcPort, undefined);
  assert.deepEqual(daemon.syncData, {
    currentHeight: 1n,
    cumulativeDifficulty: 1n,
    cumulativeDifficultyTop64: 0n,
    topId: MONERO_GENESIS_HASH,
    topVersion: 1,
  });
  assert.equal(daemon.peerlist, undefined);
  assert.deepEqual(
    decodeMoneroHandshake(payloadOf("handshake-request-wrong-network.bin"))
      .nodeData.networkId,
    MONERO_TESTNET_NETWORK_ID,
  );
});

Deno.test("Monero timed sync, ping and support-flags payloads round-trip byte for byte", () => {
  for (
    const file of [
      "timed-sync-request.bin",
      "timed-sync-response.bin",
      "daemon-timed-sync-request.bin",
      "timed-sync-reply-to-daemon.bin",
    ]
  ) {
    const p = payloadOf(file);
    assert.deepEqual(encodeMoneroTimedSync(decodeMoneroTimedSync(p)), p, file);
  }
  assert.deepEqual(
    decodeMoneroTimedSync(payloadOf("timed-sync-reply-to-daemon.bin")).peerlist,
    [],
  );
  const ping = payloadOf("ping-response.bin");
  assert.deepEqual(decodeMoneroPing(ping), {
    status: "OK",
    peerId: 5715575330144424818n,
  });
  assert.deepEqual(encodeMoneroPing(decodeMoneroPing(ping)), ping);
  const flags = payloadOf("support-flags-response.bin");
  assert.equal(decodeMoneroSupportFlags(flags), 1);
  assert.deepEqual(encodeMoneroSupportFlags(1), flags);
});

Deno.test("Monero peer-list entries encode IPv4 as monerod does and round-trip", () => {
  const ts: MoneroTimedSync = {
    syncData: {
      currentHeight: 5n,
      cumulativeDifficulty: 9n,
      cumulativeDifficultyTop64: 0n,
      topId: new Uint8Array(32).fill(3),
      pruningSeed: 0,
    },
    peerlist: [
      {
        address: { type: "ipv4", ip: "127.0.0.1", port: 18080 },
        id: 1n,
        lastSeen: 1700000000n,
      },
      {
        address: { type: "ipv6", addr: new Uint8Array(16).fill(1), port: 1 },
        id: 2n,
        rpcPort: 18081,
      },
      {
        address: { type: "tor", host: "abc.onion", port: 18083 },
        id: 3n,
        pruningSeed: 384,
        rpcCreditsPerHash: 7,
      },
    ],
  };
  const bytes = encodeMoneroTimedSync(ts);
  assert.deepEqual(decodeMoneroTimedSync(bytes), ts);
  const root = decodeStorage(bytes);
  const list = root.get("local_peerlist_new");
  assert.ok(list?.type === "array" && list.of === "object");
  const adr = expectScalar(list.value[0]!.get("adr"), "object");
  const addr = expectScalar(adr.get("addr"), "object");
  assert.deepEqual(addr.get("m_ip"), { type: "uint32", value: 0x0100007f });
  assert.throws(
    () =>
      encodeMoneroTimedSync({
        ...ts,
        peerlist: [{ address: { type: "ipv4", ip: "1.2.3", port: 1 }, id: 1n }],
      }),
    RangeError,
  );
});

Deno.test("Monero payload decoders read integers leniently and reject wrong shapes", () => {
  const lenient = encodeStorage(
    new Map([[
      "payload_data",
      {
        type: "object",
        value: new Map([
          ["current_height", { type: "uint32", value: 7 }],
          ["top_version", { type: "uint64", value: 16n }],
        ]),
      },
    ]]),
  );
  const d = decodeMoneroTimedSync(lenient);
  assert.equal(d.syncData.currentHeight, 7n);
  assert.equal(d.syncData.topVersion, 16);
  const bad = encodeStorage(
    new Map([["payload_data", {
      type: "object",
      value: new Map([["top_version", { type: "uint64", value: 256n }]]),
    }]]),
  );
  assert.throws(
    () => decodeMoneroTimedSync(bad),
    (e) => e instanceof LevinError && e.code === "storage_value_out_of_range",
  );
  const notObject = encodeStorage(
    new Map([["payload_data", { type: "uint8", value: 1 }]]),
  );
  assert.throws(
    () => decodeMoneroTimedSync(notObject),
    (e) => e instanceof LevinError && e.code === "storage_type_mismatch",
  );
});

function options(
  peerId: bigint,
  networkId = MONERO_MAINNET_NETWORK_ID,
): MoneroPeerOptions {
  return {
    logger: quiet,
    nodeData: { networkId, peerId, myPort: 0, supportFlags: 1 },
    syncData: () => ({
      currentHeight: 1n,
      cumulativeDifficulty: 1n,
      cumulativeDifficultyTop64: 0n,
      topId: MONERO_GENESIS_HASH,
      topVersion: 1,
    }),
  };
}

Deno.test("MoneroPeer answers handshake, ping, support flags and timed sync with return code 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const syncs: MoneroTimedSync[] = [];
  const accepted = listener.accept().then((c) =>
    new MoneroPeer(c, {
      ...options(2n),
      onTimedSync: (t) => void syncs.push(t),
      peerlist: () => [],
    })
  );
  const client = await MoneroPeer.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  }, options(1n));
  const server = await accepted;
  listener.close();
  try {
    server.start();
    const hs = await client.handshake();
    assert.equal(hs.nodeData.peerId, 2n);
    assert.deepEqual(hs.peerlist, []);
    assert.equal(server.remoteNodeData?.peerId, 1n);
    assert.equal(client.connection.handshaked, true);
    assert.equal(server.connection.handshaked, true);
    assert.deepEqual(await client.ping(), { status: "OK", peerId: 2n });
    assert.equal(await client.requestSupportFlags(), 1);
    const ts = await client.timedSync();
    assert.equal(ts.syncData.currentHeight, 1n);
    assert.equal(syncs.length, 1);
    await assert.rejects(
      client.connection.invoke(1004, encodeStorage(new Map())),
      (e) => e instanceof LevinError && e.returnCode === -6,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("MoneroPeer refuses a handshake from another network by closing without a reply", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((c) =>
    new MoneroPeer(c, options(2n))
  );
  const client = await MoneroPeer.connect(
    { hostname: "127.0.0.1", port: listener.addr.port },
    options(1n, MONERO_TESTNET_NETWORK_ID),
  );
  const server = await accepted;
  listener.close();
  try {
    server.start();
    await assert.rejects(
      client.handshake(),
      (e) => e instanceof LevinError && e.code === "connection_closed",
    );
    assert.equal(server.connection.isClosed, true);
    assert.equal(server.remoteNodeData, undefined);
  } finally {
    await client.close();
    await server.close();
  }
});
