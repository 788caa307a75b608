/**
 * The attacker of the hostile-load benchmark, in its own process (so its
 * CPU does not slow the legitimate peer's measurements in the parent):
 * runs one attack of `tests/_attack.ts` against a target for a number of
 * seconds. Prints `ready` once prepared, starts on the first stdin line,
 * and prints one JSON line of counts when done.
 *
 * Usage: `deno run -A bench/hostile/_attacker.ts <attack> '<target info>' <seconds>`
 * (`ATTACK_CONCURRENCY` overrides the socket attacks' connects in flight).
 *
 * @module
 */

import { generateKeyPair, secretToPassword } from "../../node/identity.ts";
import { NodeManager } from "../../node/identity_store.ts";
import { smsgEncrypt, SmsgKey } from "../../node/borg/smsg.ts";
import {
  HalfSentUpgrades,
  HandshakedPeer,
  OversizedFrames,
  SilentHandshakes,
  type TargetInfo,
} from "../../tests/_attack.ts";

const [name, infoText, secondsText] = Deno.args;
const target = JSON.parse(infoText!) as TargetInfo;
const seconds = Number(secondsText);
const MiB = 1024 * 1024;
const out = (v: unknown) => console.log(JSON.stringify(v));

/**
 * Handshaked peers that send one good frame, then `frame` as fast as the
 * socket takes it; when disconnected, they come back (same key, so the
 * frame stays valid).
 */
async function handshaked(
  workers: number,
  frame: (key: SmsgKey) => Uint8Array,
): Promise<Record<string, number>> {
  const counts = { connections: 0, frames: 0, disconnected: 0 };
  const identities = Array.from(
    { length: workers },
    () =>
      NodeManager.fromPrivateKey(generateKeyPair().privateKey, {
        name: "attacker",
        role: "controller",
      }),
  );
  const frames = identities.map((id) =>
    frame(
      SmsgKey.fromPassword(
        secretToPassword(id.deriveSharedSecret(target.publicKey)),
      ),
    )
  );
  out("ready");
  await started;
  const until = performance.now() + seconds * 1000;
  await Promise.all(identities.map(async (identity, i) => {
    while (performance.now() < until) {
      let peer: HandshakedPeer;
      try {
        peer = await HandshakedPeer.open(target, identity);
      } catch {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      counts.connections++;
      peer.sendGood();
      while (
        performance.now() < until && peer.raw.closeCode === undefined
      ) {
        peer.raw.ws.sendBinary(frames[i]!);
        counts.frames++;
        await peer.raw.ws.waitForDrain(256 * 1024);
        await new Promise((r) => setTimeout(r, 0));
      }
      if (peer.raw.closeCode !== undefined) counts.disconnected++;
      await peer.close();
    }
  }));
  return counts;
}

let start!: () => void;
const started = new Promise<void>((r) => (start = r));
void (async () => {
  for await (const _ of Deno.stdin.readable) {
    start();
    break;
  }
})();

const until = () => performance.now() + seconds * 1000;
let result: unknown;
switch (name) {
  case "half-sent":
  case "silent":
  case "oversized": {
    const a = name === "half-sent"
      ? new HalfSentUpgrades(target)
      : name === "silent"
      ? new SilentHandshakes(target)
      : new OversizedFrames(target, 15 * MiB);
    out("ready");
    await started;
    await a.run({
      until: until(),
      concurrency: Number(Deno.env.get("ATTACK_CONCURRENCY") ?? 0) ||
        (name === "half-sent" ? 64 : name === "silent" ? 16 : 30),
    });
    await a.stop();
    result = a.counts;
    break;
  }
  case "compressed": {
    // One bomb per attacker key, built before the attack starts.
    result = await handshaked(
      4,
      (key) =>
        smsgEncrypt({ body: "A".repeat(60 * MiB) }, key, {
          format: "v2",
          compression: "gzip",
        }),
    );
    break;
  }
  case "failing": {
    result = await handshaked(
      4,
      () => crypto.getRandomValues(new Uint8Array(1024)),
    );
    break;
  }
  default:
    throw new Error(`unknown attack ${name}`);
}
out(result);
Deno.exit(0);
