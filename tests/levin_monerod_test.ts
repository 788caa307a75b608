// Interop with a real Monero daemon (monerod 0.18, Debian package `monero`),
// started on 127.0.0.1 only by scripts/monerod-loopback.sh (regtest; see the
// script for why it cannot reach outside addresses).
//
// One daemon serves the whole test. The daemon's own timed sync arrives 30–60 s
// after a handshake, so every other check runs while we wait for it: the test
// takes about a minute of wall time, most of it idle (it runs in parallel with
// the rest of the suite under `deno test --parallel`). The wait is bounded.
//
// When monerod is not installed the test is reported as ignored, with the
// reason in its name and on stderr; CI installs the package (.ci/run).
import assert from "node:assert/strict";
import {
  LevinError,
  MONERO_GENESIS_HASH,
  MONERO_MAINNET_NETWORK_ID,
  MONERO_TESTNET_NETWORK_ID,
  type MoneroHandshake,
  MoneroPeer,
  type MoneroPeerOptions,
  type MoneroTimedSync,
} from "@lthn/p2p/levin";
import { Logger } from "@lthn/p2p/logging";

const SCRIPT = new URL("../scripts/monerod-loopback.sh", import.meta.url)
  .pathname;
const quiet = new Logger({ sink: { write: () => {} } });

function findMonerod(): string | undefined {
  const fromEnv = Deno.env.get("MONEROD_BIN");
  const candidates = fromEnv ? [fromEnv] : [];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir) candidates.push(`${dir}/monerod`);
  }
  for (const c of candidates) {
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

const MONEROD = findMonerod();
const SKIP_REASON = MONEROD === undefined
  ? "monerod not found on PATH (install the Debian package 'monero': apt-get install -y monero)"
  : undefined;
if (SKIP_REASON !== undefined) {
  console.error(`levin_monerod_test: SKIPPED: ${SKIP_REASON}`);
}

/** A free 127.0.0.1 port whose successor (the daemon's RPC port) is free too. */
function freePortPair(): number {
  for (let i = 0; i < 50; i++) {
    const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = a.addr.port;
    try {
      if (port >= 65535) continue;
      const b = Deno.listen({ hostname: "127.0.0.1", port: port + 1 });
      b.close();
      return port;
    } catch {
      // successor busy: try again
    } finally {
      a.close();
    }
  }
  throw new Error("no free port pair on 127.0.0.1");
}

function randomPeerId(): bigint {
  const b = crypto.getRandomValues(new BigUint64Array(1));
  return b[0]! | 1n;
}

function peerOptions(
  networkId: Uint8Array,
  extra: Partial<MoneroPeerOptions> = {},
): MoneroPeerOptions {
  return {
    logger: quiet,
    nodeData: { networkId, peerId: randomPeerId(), myPort: 0, supportFlags: 1 },
    syncData: () => ({
      currentHeight: 1n,
      cumulativeDifficulty: 1n,
      cumulativeDifficultyTop64: 0n,
      topId: MONERO_GENESIS_HASH,
      topVersion: 1,
    }),
    ...extra,
  };
}

/** A promise settled by the first call of `resolve`, and a bounded wait for it. */
function signal<T>(): {
  resolve: (v: T) => void;
  wait: (ms: number, what: string) => Promise<T>;
} {
  let resolve!: (v: T) => void;
  const p = new Promise<T>((r) => resolve = r);
  return {
    resolve,
    wait: async (ms, what) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await Promise.race([
          p,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no ${what} within ${ms / 1000} s`)),
              ms,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: SKIP_REASON === undefined
    ? "levin interop with a real monerod: handshake, ping, support flags, timed sync both ways, wrong network refused"
    : `levin interop with a real monerod (SKIPPED: ${SKIP_REASON})`,
  ignore: SKIP_REASON !== undefined,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "levin-monerod-" });
    // The daemon's only outbound peer is this listener: it dials us too.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p2pPort = freePortPair();
    const peers: MoneroPeer[] = [];
    let started = false;
    try {
      const start = await new Deno.Command(SCRIPT, {
        args: [dataDir, String(p2pPort), String(listener.addr.port)],
        env: { MONEROD_BIN: MONEROD!, MONEROD_STARTUP_TIMEOUT: "90" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      started = true;
      assert.equal(
        start.code,
        0,
        `monerod-loopback.sh failed: ${new TextDecoder().decode(start.stderr)}`,
      );
      assert.equal(
        new TextDecoder().decode(start.stdout).trim(),
        String(p2pPort),
      );
      const daemon = { hostname: "127.0.0.1", port: p2pPort };

      // --- inbound: the daemon dials us, we answer its handshake and timed sync
      const inboundHandshake = signal<MoneroHandshake>();
      const inboundTimedSync = signal<MoneroTimedSync>();
      const inbound = listener.accept().then((conn) => {
        const peer = new MoneroPeer(
          conn,
          peerOptions(MONERO_MAINNET_NETWORK_ID, {
            onHandshake: inboundHandshake.resolve,
            onTimedSync: inboundTimedSync.resolve,
          }),
        );
        peers.push(peer);
        peer.start();
        return peer;
      });
      inbound.catch(() => {}); // awaited below; the listener closes in finally

      // --- outbound: we dial the daemon
      const outboundTimedSync = signal<MoneroTimedSync>();
      const client = await MoneroPeer.connect(
        daemon,
        peerOptions(MONERO_MAINNET_NETWORK_ID, {
          onTimedSync: outboundTimedSync.resolve,
        }),
      );
      peers.push(client);
      const hs = await client.handshake();
      assert.deepEqual(hs.nodeData.networkId, MONERO_MAINNET_NETWORK_ID);
      assert.notEqual(hs.nodeData.peerId, 0n);
      assert.equal(hs.syncData.currentHeight, 1n);
      assert.deepEqual(hs.syncData.topId, MONERO_GENESIS_HASH);
      assert.equal(client.connection.handshaked, true);
      const handshakeAt = Date.now();

      const ping = await client.ping();
      assert.deepEqual(ping, { status: "OK", peerId: hs.nodeData.peerId });
      assert.equal(await client.requestSupportFlags(), 1);
      const ts = await client.timedSync();
      assert.equal(ts.syncData.currentHeight, 1n);
      // An unknown command gets -6 and the connection stays open.
      await assert.rejects(
        client.connection.invoke(
          1004,
          new Uint8Array([1, 17, 1, 1, 1, 1, 2, 1, 1, 0]),
        ),
        (e) =>
          e instanceof LevinError && e.code === "request_failed" &&
          e.returnCode === -6,
      );

      // Ping before any handshake, on a fresh connection.
      const fresh = await MoneroPeer.connect(
        daemon,
        peerOptions(MONERO_MAINNET_NETWORK_ID),
      );
      peers.push(fresh);
      assert.deepEqual(await fresh.ping(), ping);
      await fresh.close();

      // A wrong network id: monerod closes the socket without a reply.
      const foreign = await MoneroPeer.connect(
        daemon,
        peerOptions(MONERO_TESTNET_NETWORK_ID),
      );
      peers.push(foreign);
      await assert.rejects(
        foreign.handshake(),
        (e) => e instanceof LevinError && e.code === "connection_closed",
      );
      await foreign.close();

      // The daemon dialled our listener and accepted our handshake reply.
      const inboundPeer = await inbound;
      const theirs = await inboundHandshake.wait(
        30_000,
        "handshake from the daemon",
      );
      assert.deepEqual(theirs.nodeData.networkId, MONERO_MAINNET_NETWORK_ID);
      assert.equal(theirs.nodeData.peerId, hs.nodeData.peerId);

      // The daemon's own timed syncs (30–60 s after each handshake), answered
      // with return code 1; the daemon keeps both connections afterwards.
      const bound = 120_000 - (Date.now() - handshakeAt);
      const [out, inb] = await Promise.all([
        outboundTimedSync.wait(
          bound,
          "timed sync from the daemon (outbound connection)",
        ),
        inboundTimedSync.wait(
          bound,
          "timed sync from the daemon (inbound connection)",
        ),
      ]);
      assert.equal(out.syncData.currentHeight, 1n);
      assert.equal(inb.syncData.currentHeight, 1n);
      await sleep(1000);
      assert.equal(client.connection.isClosed, false);
      assert.equal(inboundPeer.connection.isClosed, false);
      assert.deepEqual(await client.ping(), ping);
    } finally {
      for (const p of peers) await p.close();
      listener.close();
      if (started) {
        await new Deno.Command(SCRIPT, {
          args: ["stop", dataDir],
          stdout: "null",
          stderr: "null",
        }).output();
      }
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
