import { DedupCache } from "./dedup.ts";

// Fresh, parsed UUIDs (as JSON.parse hands them to the transport), and peer
// IDs that, like a connection's, are the same string object on every call.
const ids = Array.from(
  { length: 1 << 18 },
  () => JSON.parse(JSON.stringify(crypto.randomUUID())) as string,
);
const peers = Array.from(
  { length: 64 },
  (_, p) => p.toString(16).padStart(64, "a"),
);
const peerOf = (i: number) => peers[(i >>> 18) & 63]!;
const idOf = (i: number) => ids[i & 0x3ffff]!;

// Emptied before it fills, so it never evicts (and memory stays small).
const roomy = new DedupCache({ maxEntries: 100_000, now: () => 0 });
let i = 0;
Deno.bench({ group: "dedup check", name: "new ID, cache not full" }, () => {
  roomy.check(peerOf(i), idOf(i));
  i++;
  if (roomy.size === 90_000) roomy.clear();
});

const full = new DedupCache({ maxEntries: 100_000, now: () => 0 });
let j = 0;
Deno.bench(
  { group: "dedup check", name: "new ID, full cache (evicts)" },
  () => {
    full.check(peerOf(j), idOf(j));
    j++;
  },
);

const seen = new DedupCache({ now: () => 0 });
for (let k = 0; k < 50_000; k++) seen.check(peers[0]!, ids[k]!);
let d = 0;
Deno.bench({ group: "dedup check", name: "duplicate" }, () => {
  seen.check(peers[0]!, ids[d++ % 50_000]!);
});
