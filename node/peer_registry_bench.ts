/**
 * Peer selection at 100, 10,000 and 100,000 peers.
 *
 * `deno bench -A node/peer_registry_bench.ts`
 *
 * - registry: the indexed min-heap the registry keeps (ideal point fixed at
 *   the origin), updated incrementally.
 * - kd-tree: our static 4-D KD-tree (`_kd_tree.ts`), rebuilt after changes.
 * - linear scan / full sort: what Go's Poindexter v0.0.3 does.
 */

import { Logger } from "../logging/mod.ts";
import {
  bruteForceNearest,
  distanceAt,
  KdTree,
  type Point4,
} from "./_kd_tree.ts";
import { DistanceHeap, type HeapEntry } from "./_peer_index.ts";
import { peerDistance, PeerRegistry } from "./peer_registry.ts";

const ORIGIN: Point4 = [0, 0, 0, 0];
const dir = await Deno.makeTempDir({ prefix: "lthn-registry-bench-" });

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

for (const n of [100, 10_000, 100_000]) {
  const rnd = seeded(n);
  const reg = await PeerRegistry.open(`${dir}/peers-${n}.json`, {
    logger: new Logger({ sink: { write: () => {} } }),
    saveDelayMs: 3_600_000,
  });
  const coords = new Float64Array(n * 4);
  for (let i = 0; i < n; i++) {
    const p = {
      id: `peer-${String(i).padStart(6, "0")}`,
      pingMs: Math.round(rnd() * 3000) / 10,
      hops: Math.floor(rnd() * 12),
      geoKm: Math.round(rnd() * 40000) / 10,
      score: Math.round(rnd() * 1000) / 10,
    };
    reg.addPeer(p);
    coords.set(
      [p.pingMs, p.hops * 0.7, p.geoKm * 0.2, (100 - p.score) * 1.2],
      i * 4,
    );
  }
  const kd = new KdTree(coords);
  const target = {
    pingMs: 40,
    hops: 2,
    geoKm: 500,
    score: 95,
  };
  const tpoint: Point4 = [40, 2 * 0.7, 500 * 0.2, (100 - 95) * 1.2];
  reg.selectNearestTo(target, 1); // builds the registry's KD-tree once
  const slowN = n >= 100_000 ? { n: 30, warmup: 5 } : {};
  const ids = reg.listPeers().map((p) => p.id);
  let k = 0;

  Deno.bench({
    name: `registry selectOptimalPeer`,
    group: `select-optimal n=${n}`,
    baseline: true,
    fn: () => {
      reg.selectOptimalPeer();
    },
  });
  Deno.bench({
    name: `kd-tree nearest(origin, 1)`,
    group: `select-optimal n=${n}`,
    fn: () => {
      kd.nearest(ORIGIN, 1);
    },
  });
  Deno.bench({
    name: `linear scan (Go/Poindexter)`,
    group: `select-optimal n=${n}`,
    ...slowN,
    fn: () => {
      let best = -1;
      let bestD = Infinity;
      for (let i = 0; i < n; i++) {
        const d = distanceAt(coords, i, ORIGIN);
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
      if (best < -1) throw new Error("unreachable");
    },
  });

  Deno.bench({
    name: `registry selectNearestPeers(10)`,
    group: `nearest-10 n=${n}`,
    baseline: true,
    fn: () => {
      reg.selectNearestPeers(10);
    },
  });
  Deno.bench({
    name: `kd-tree nearest(origin, 10)`,
    group: `nearest-10 n=${n}`,
    fn: () => {
      kd.nearest(ORIGIN, 10);
    },
  });
  Deno.bench({
    name: `full sort (Go/Poindexter)`,
    group: `nearest-10 n=${n}`,
    ...slowN,
    fn: () => {
      bruteForceNearest(coords, ORIGIN, 10);
    },
  });

  Deno.bench({
    name: `registry selectNearestTo(target, 10) (kd-tree)`,
    group: `nearest-10 to another target n=${n}`,
    baseline: true,
    fn: () => {
      reg.selectNearestTo(target, 10);
    },
  });
  Deno.bench({
    name: `kd-tree nearest(target, 10)`,
    group: `nearest-10 to another target n=${n}`,
    fn: () => {
      kd.nearest(tpoint, 10);
    },
  });
  Deno.bench({
    name: `full sort`,
    group: `nearest-10 to another target n=${n}`,
    ...slowN,
    fn: () => {
      bruteForceNearest(coords, tpoint, 10);
    },
  });

  const entries: HeapEntry[] = ids.map((id, i) => ({
    id,
    dist: distanceAt(coords, i, ORIGIN),
    heapPos: -1,
  }));
  const heap = new DistanceHeap<HeapEntry>();
  Deno.bench({
    name: `registry updateScore (incremental re-rank)`,
    group: `rebuild / update n=${n}`,
    baseline: true,
    fn: () => {
      reg.updateScore(ids[k++ % n]!, (k * 7) % 101);
    },
  });
  Deno.bench({
    name: `registry updateScore + selectOptimalPeer`,
    group: `rebuild / update n=${n}`,
    fn: () => {
      reg.updateScore(ids[k++ % n]!, (k * 7) % 101);
      reg.selectOptimalPeer();
    },
  });
  Deno.bench({
    name: `heap rebuild (heapify all)`,
    group: `rebuild / update n=${n}`,
    ...slowN,
    fn: () => {
      heap.reset(entries);
    },
  });
  Deno.bench({
    name: `kd-tree rebuild`,
    group: `rebuild / update n=${n}`,
    ...slowN,
    fn: () => {
      new KdTree(coords);
    },
  });
  Deno.bench({
    name: `peerDistance()`,
    group: `rebuild / update n=${n}`,
    fn: () => {
      peerDistance({ pingMs: 10, hops: 1, geoKm: 50, score: 90 });
    },
  });
  addEventListener("unload", () => {
    reg.close().catch(() => {});
  });
}
addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
