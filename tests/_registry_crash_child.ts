/**
 * Child process for registry_crash_test.ts: rewrites a large registry in a
 * tight loop (every save a new generation), printing `saved <gen>` after each
 * save completes, until it is killed.
 *
 * Usage: deno run -A tests/_registry_crash_child.ts <peers path> <peer count>
 */

import { Logger } from "../logging/mod.ts";
import { PeerRegistry } from "../node/peer_registry.ts";

const [path, countText] = Deno.args;
if (!path || !countText) throw new TypeError("usage: <peers path> <count>");
const count = Number(countText);
const reg = await PeerRegistry.open(path, {
  saveDelayMs: 3_600_000,
  logger: new Logger({ sink: { write: () => {} } }),
});
const out = (line: string) =>
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));

let gen = 0;
if (reg.count === 0) {
  for (let i = 0; i < count; i++) {
    reg.addPeer({
      id: `peer-${String(i).padStart(5, "0")}`,
      name: "g0",
      address: `10.0.${i >> 8}.${i & 255}:9091`,
      role: "worker",
      pingMs: i % 97,
      hops: i % 7,
      geoKm: i * 1.5,
      score: i % 101,
    });
  }
} else {
  gen = Number(reg.listPeers()[0]!.name.slice(1));
}
await reg.save();
out(`saved ${gen}`);
for (;;) {
  gen++;
  for (const p of reg.listPeers()) reg.updatePeer({ ...p, name: `g${gen}` });
  await reg.save();
  out(`saved ${gen}`);
}
