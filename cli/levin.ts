/**
 * `lthn-p2p levin ping <host:port>`: handshake with a CryptoNote daemon over
 * Levin and print what it says.
 *
 * @module
 */

import {
  MONERO_GENESIS_HASH,
  MONERO_MAINNET_NETWORK_ID,
  MONERO_STAGENET_NETWORK_ID,
  MONERO_TESTNET_NETWORK_ID,
  MoneroPeer,
} from "../levin/mod.ts";
import { parseListenAddr } from "../node/mod.ts";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";
import {
  defineCommand,
  expectPositionals,
  intFlag,
  printJson,
} from "./_common.ts";

const HELP = `Usage: lthn-p2p levin ping <host:port> [options]

Connects to a CryptoNote daemon's P2P port (Monero: 18080, testnet 28080,
stagenet 38080), performs the Levin handshake (1001) as a node at the
genesis block, then ping (1003) and support flags (1007), and prints the
daemon's peer ID, chain height, top block, support flags and peer list size.

Options:
  --network <net>        mainnet (default), testnet or stagenet
  --timeout <ms>         connect and reply deadline (default 10000)
  --json                 machine-readable output
  -h, --help             show this help`;

const OPTIONS = {
  network: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const NETWORKS: Record<string, Uint8Array> = {
  mainnet: MONERO_MAINNET_NETWORK_ID,
  testnet: MONERO_TESTNET_NETWORK_ID,
  stagenet: MONERO_STAGENET_NETWORK_ID,
};

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function randomPeerId(): bigint {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return new DataView(b.buffer).getBigUint64(0, true);
}

export const levinCommand: Command = defineCommand({
  summary: "handshake with a CryptoNote daemon (levin ping host:port)",
  help: HELP,
  options: OPTIONS,
  async run({ values, positionals }): Promise<number> {
    if (positionals[0] !== "ping") {
      throw new UsageError(
        positionals[0] === undefined
          ? "missing action: use levin ping <host:port>"
          : `unknown levin action "${positionals[0]}": use ping`,
      );
    }
    expectPositionals(
      positionals.slice(1),
      1,
      1,
      "the daemon address (host:port)",
    );
    const target = positionals[1]!;
    let addr;
    try {
      addr = parseListenAddr(target);
    } catch {
      throw new UsageError(`the address must be host:port, got "${target}"`);
    }
    if (addr.hostname === "" || addr.port === 0) {
      throw new UsageError(
        `the address needs a host and a port, got "${target}"`,
      );
    }
    const network = values.network ?? "mainnet";
    const networkId = NETWORKS[network];
    if (!networkId) {
      throw new UsageError(
        `--network must be mainnet, testnet or stagenet, got "${network}"`,
      );
    }
    const timeout = intFlag("timeout", values.timeout) ?? 10_000;
    const started = performance.now();
    const peer = await MoneroPeer.connect(addr, {
      nodeData: {
        networkId,
        peerId: randomPeerId(),
        myPort: 0,
        supportFlags: 1,
      },
      syncData: () => ({
        currentHeight: 1n,
        cumulativeDifficulty: 1n,
        cumulativeDifficultyTop64: 0n,
        topId: MONERO_GENESIS_HASH,
        topVersion: 1,
      }),
      connectTimeout: timeout,
      handshakeTimeout: timeout,
    });
    try {
      const hs = await peer.handshake();
      const handshakeMs = performance.now() - started;
      const t1 = performance.now();
      const ping = await peer.ping({ timeout });
      const pingMs = performance.now() - t1;
      let flags: number | undefined;
      try {
        flags = await peer.requestSupportFlags({ timeout });
      } catch {
        flags = undefined;
      }
      const result = {
        address: target,
        network,
        peerId: hs.nodeData.peerId.toString(16).padStart(16, "0"),
        myPort: hs.nodeData.myPort,
        rpcPort: hs.nodeData.rpcPort ?? null,
        supportFlags: flags ?? hs.nodeData.supportFlags ?? null,
        height: hs.syncData.currentHeight.toString(),
        topId: hex(hs.syncData.topId),
        topVersion: hs.syncData.topVersion ?? null,
        cumulativeDifficulty: (
          (hs.syncData.cumulativeDifficultyTop64 << 64n) +
          hs.syncData.cumulativeDifficulty
        ).toString(),
        peerlistSize: hs.peerlist?.length ?? 0,
        ping: ping.status,
        handshakeMs: Math.round(handshakeMs * 100) / 100,
        pingMs: Math.round(pingMs * 100) / 100,
      };
      if (values.json) printJson(result);
      else {
        out(
          `levin handshake with ${target} (${network}) in ${result.handshakeMs} ms`,
        );
        out(`  peer ID        ${result.peerId}`);
        out(`  height         ${result.height}`);
        out(`  top block      ${result.topId} (v${result.topVersion ?? "?"})`);
        out(`  difficulty     ${result.cumulativeDifficulty}`);
        out(
          `  P2P port       ${result.myPort}${
            result.rpcPort ? `, RPC port ${result.rpcPort}` : ""
          }`,
        );
        out(`  support flags  ${result.supportFlags ?? "?"}`);
        out(`  peers offered  ${result.peerlistSize}`);
        out(`  ping           ${result.ping} in ${result.pingMs} ms`);
      }
      return EXIT_OK;
    } finally {
      await peer.close();
    }
  },
});
