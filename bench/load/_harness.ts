/**
 * What both load benchmarks share: start the listening peer (`peer.ts`) as a
 * child process, build the dialling side's transport, and tear both down.
 *
 * @module
 */

import { Logger, LogLevel } from "../../logging/mod.ts";
import { NodeManager } from "../../node/identity_store.ts";
import { PeerRegistry } from "../../node/peer_registry.ts";
import { Transport } from "../../node/transport/mod.ts";

/** What the peer process prints on its first line. */
export interface BenchPeerInfo {
  addr: string;
  rawAddr: string;
  id: string;
  publicKey: string;
}

/** The running peer process and the dialling side. */
export interface BenchHarness {
  peer: BenchPeerInfo;
  transport: Transport;
  myId: string;
  /** Stops the transport, the registry and the peer process; removes files. */
  close(): Promise<void>;
}

/**
 * Starts `peer.ts` (with extra Deno flags) and a dialling transport with the
 * rate limiter off.
 *
 * @param peerFlags Extra `deno run` flags for the peer (e.g. `--cpu-prof`).
 * @returns The harness.
 */
export async function startHarness(
  peerFlags: string[] = [],
): Promise<BenchHarness> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...peerFlags,
      new URL("./peer.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let head = "";
  while (!head.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("bench peer exited early");
    head += value;
  }
  const peer = JSON.parse(head.split("\n")[0]!) as BenchPeerInfo;

  const quiet = new Logger({ level: LogLevel.Error });
  const dir = await Deno.makeTempDir({ prefix: "p2p-bench-" });
  const registry = await PeerRegistry.open(`${dir}/peers.json`, {
    logger: quiet,
    saveDelayMs: 60_000,
  });
  const node = NodeManager.fromPrivateKey(new Uint8Array(32).fill(0x24), {
    name: "bench-dialer",
    role: "controller",
  });
  const transport = new Transport({
    node,
    registry,
    logger: quiet,
    config: { rateLimitDisabled: true, reconnect: false },
  });
  return {
    peer,
    transport,
    myId: node.getIdentity()!.id,
    async close() {
      await transport.stop();
      await registry.close();
      await Deno.remove(dir, { recursive: true });
      await child.stdin.close();
      await lines.cancel();
      await child.status;
    },
  };
}
