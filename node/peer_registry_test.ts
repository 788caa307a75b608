import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { Logger, LogLevel } from "../logging/mod.ts";
import { deriveNodeId, encodePublicKey, generateKeyPair } from "./identity.ts";
import {
  DEFAULT_MAX_AUTO_PEERS,
  keyPrefix,
  type Peer,
  peerDistance,
  PeerRegistry,
  type PeerRegistryOptions,
  RegistryError,
  SAVE_DELAY_MS,
  SCORE_MAX,
  SCORE_MIN,
  validatePeerName,
  ZERO_TIME,
} from "./peer_registry.ts";

// node.md §2.5 vectors.
const KEY_A = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
const ID_A = "aaa8fff703b50b2297f4f6e13508f724";
const KEY_B = "WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=";
const ID_B = "4457134794559182226754e9dd2f1083";

const TESTDATA = new URL("../testdata/registry/", import.meta.url);

function quietLogger(lines: string[] = []): Logger {
  return new Logger({
    sink: { write: (l) => void lines.push(l) },
    level: LogLevel.Debug,
  });
}

function newIdentity(): { id: string; publicKey: string } {
  const publicKey = encodePublicKey(generateKeyPair().publicKey);
  return { id: deriveNodeId(publicKey), publicKey };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lthn-registry-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a registry in a temp dir, runs fn, always closes and cleans up. */
async function withRegistry(
  fn: (reg: PeerRegistry, path: string) => Promise<void> | void,
  options: PeerRegistryOptions = {},
): Promise<void> {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const reg = await PeerRegistry.open(path, {
      logger: quietLogger(),
      ...options,
    });
    try {
      await fn(reg, path);
    } finally {
      await reg.close();
    }
  });
}

function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof RegistryError && e.code === code;
}

/** Reference ranking: every peer sorted by (distance, ID). */
function bruteNearest(peers: Peer[], n: number): string[] {
  return peers
    .map((p) => ({ id: p.id, d: peerDistance(p) }))
    .sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, Math.max(0, n))
    .map((x) => x.id);
}

// ------------------------------------------------- Go behaviours (§11.4)

Deno.test("PeerRegistry.open() starts empty", async () => {
  await withRegistry((reg) => {
    assert.equal(reg.count, 0);
    assert.deepEqual(reg.listPeers(), []);
  });
});

Deno.test("addPeer() increments the count and refuses duplicates", async () => {
  await withRegistry((reg) => {
    reg.addPeer({
      id: "test-peer-1",
      name: "Test Peer",
      address: "192.168.1.100:9091",
      role: "worker",
      score: 75,
    });
    assert.equal(reg.count, 1);
    assert.throws(
      () => reg.addPeer({ id: "test-peer-1" }),
      isCode("duplicate_peer"),
    );
    assert.equal(reg.count, 1);
  });
});

Deno.test("getPeer() returns a copy or undefined", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "get-test-peer", name: "Get Test", role: "dual" });
    const p = reg.getPeer("get-test-peer");
    assert.equal(p?.name, "Get Test");
    p!.name = "changed";
    p!.score = 0;
    assert.equal(reg.getPeer("get-test-peer")?.name, "Get Test");
    assert.equal(reg.getPeer("get-test-peer")?.score, 50);
    assert.equal(reg.getPeer("non-existent"), undefined);
  });
});

Deno.test("listPeers() and iteration return every peer", async () => {
  await withRegistry((reg) => {
    for (const id of ["list-1", "list-2", "list-3"]) reg.addPeer({ id });
    assert.deepEqual(reg.listPeers().map((p) => p.id), [
      "list-1",
      "list-2",
      "list-3",
    ]);
    assert.deepEqual([...reg].map((p) => p.id), ["list-1", "list-2", "list-3"]);
    // Removing while iterating is safe (the iterator works on a snapshot).
    for (const p of reg.peers()) reg.removePeer(p.id);
    assert.equal(reg.count, 0);
  });
});

Deno.test("removePeer() deletes and refuses unknown IDs", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "remove-test", name: "Remove Me" });
    reg.removePeer("remove-test");
    assert.equal(reg.count, 0);
    assert.throws(
      () => reg.removePeer("remove-test"),
      isCode("peer_not_found"),
    );
  });
});

Deno.test("updateMetrics() stores the metrics and lastSeen", async () => {
  const now = new Date("2026-02-20T10:00:00.123Z");
  await withRegistry((reg) => {
    reg.addPeer({ id: "metrics-test", name: "Metrics Peer" });
    reg.updateMetrics("metrics-test", 50.5, 100.2, 3);
    const p = reg.getPeer("metrics-test")!;
    assert.equal(p.pingMs, 50.5);
    assert.equal(p.geoKm, 100.2);
    assert.equal(p.hops, 3);
    assert.equal(p.lastSeen, "2026-02-20T10:00:00.123Z");
    assert.throws(
      () => reg.updateMetrics("metrics-test", 1, 1, 1.5),
      RangeError,
    );
    assert.throws(
      () => reg.updateMetrics("metrics-test", NaN, 1, 1),
      RangeError,
    );
    assert.throws(
      () => reg.updateMetrics("unknown", 1, 1, 1),
      isCode("peer_not_found"),
    );
  }, { now: () => now });
});

Deno.test("updateScore() stores and clamps the score", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "score-test", score: 50 });
    reg.updateScore("score-test", 85.5);
    assert.equal(reg.getPeer("score-test")?.score, 85.5);
    reg.updateScore("score-test", 150);
    assert.equal(reg.getPeer("score-test")?.score, 100);
    reg.updateScore("score-test", -50);
    assert.equal(reg.getPeer("score-test")?.score, 0);
    assert.throws(() => reg.updateScore("score-test", NaN), RangeError);
    assert.throws(
      () => reg.updateScore("unknown", 1),
      isCode("peer_not_found"),
    );
  });
});

Deno.test("setConnected() sets the flag and lastSeen; false clears it", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "connect-test" });
    assert.equal(reg.getPeer("connect-test")?.lastSeen, ZERO_TIME);
    reg.setConnected("connect-test", true);
    const p = reg.getPeer("connect-test")!;
    assert.equal(p.connected, true);
    assert.notEqual(p.lastSeen, ZERO_TIME);
    reg.setConnected("connect-test", false);
    assert.equal(reg.getPeer("connect-test")?.connected, false);
    reg.setConnected("unknown", true); // ignored
  });
});

Deno.test("getConnectedPeers() returns only connected peers", async () => {
  await withRegistry((reg) => {
    for (const id of ["conn-1", "conn-2", "conn-3"]) reg.addPeer({ id });
    reg.setConnected("conn-1", true);
    reg.setConnected("conn-3", true);
    assert.deepEqual(reg.getConnectedPeers().map((p) => p.id).sort(), [
      "conn-1",
      "conn-3",
    ]);
    assert.equal([...reg.connectedPeers()].length, 2);
    reg.removePeer("conn-1");
    assert.deepEqual(reg.getConnectedPeers().map((p) => p.id), ["conn-3"]);
  });
});

Deno.test("selectOptimalPeer() picks the fast, high-score peer", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "opt-1", pingMs: 200, hops: 5, geoKm: 1000, score: 50 });
    reg.addPeer({ id: "opt-2", pingMs: 10, hops: 1, geoKm: 50, score: 90 });
    reg.addPeer({ id: "opt-3", pingMs: 50, hops: 2, geoKm: 200, score: 70 });
    assert.equal(reg.selectOptimalPeer()?.id, "opt-2");
    // node.md §7.5 distances.
    const d = reg.listPeers().map((p) => Math.round(peerDistance(p) * 100));
    assert.deepEqual(d, [28916, 1856, 7347]);
    assert.deepEqual(reg.selectNearestPeers(3).map((p) => p.id), [
      "opt-2",
      "opt-3",
      "opt-1",
    ]);
  });
});

Deno.test("selectNearestPeers() returns at most n peers", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "near-1", pingMs: 100, score: 50 });
    reg.addPeer({ id: "near-2", pingMs: 10, score: 90 });
    reg.addPeer({ id: "near-3", pingMs: 50, score: 70 });
    reg.addPeer({ id: "near-4", pingMs: 200, score: 30 });
    assert.deepEqual(reg.selectNearestPeers(2).map((p) => p.id), [
      "near-2",
      "near-3",
    ]);
    assert.equal(reg.selectNearestPeers(10).length, 4);
    assert.deepEqual(reg.selectNearestPeers(0), []);
    assert.deepEqual(reg.selectNearestPeers(-3), []);
    assert.throws(() => reg.selectNearestPeers(NaN), RangeError);
  });
});

Deno.test("a peer flushed by close() survives a reload", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const a = await PeerRegistry.open(path, { logger: quietLogger() });
    a.addPeer({
      id: "persist-test",
      name: "Persistent Peer",
      address: "7.7.7.7:9091",
      role: "dual",
    });
    await a.close();
    const b = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.equal(b.count, 1);
    assert.equal(b.getPeer("persist-test")?.name, "Persistent Peer");
    assert.equal(b.getPeer("persist-test")?.connected, false);
    await b.close();
  });
});

Deno.test("an allowlisted key survives close() and reload", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const a = await PeerRegistry.open(path, { logger: quietLogger() });
    await a.allowPublicKey("allowlist-key-1234567890");
    await a.close();
    const b = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.ok(b.isPublicKeyAllowed("allowlist-key-1234567890"));
    assert.deepEqual(b.listAllowedPublicKeys(), ["allowlist-key-1234567890"]);
    await b.close();
  });
});

Deno.test("auth mode defaults to open and can be switched", async () => {
  await withRegistry((reg) => {
    assert.equal(reg.getAuthMode(), "open");
    reg.setAuthMode("allowlist");
    assert.equal(reg.getAuthMode(), "allowlist");
    reg.setAuthMode("open");
    assert.equal(reg.getAuthMode(), "open");
    assert.throws(() => reg.setAuthMode("closed" as "open"), TypeError);
  });
});

Deno.test("allowPublicKey() / revokePublicKey() update the allowlist", async () => {
  await withRegistry(async (reg, path) => {
    const key = "base64PublicKeyExample1234567890123456";
    assert.equal(reg.isPublicKeyAllowed(key), false);
    await reg.allowPublicKey(key);
    assert.ok(reg.isPublicKeyAllowed(key));
    assert.deepEqual(reg.listAllowedPublicKeys(), [key]);
    await reg.revokePublicKey(key);
    assert.equal(reg.isPublicKeyAllowed(key), false);
    assert.deepEqual(reg.listAllowedPublicKeys(), []);
    assert.equal(await Deno.readTextFile(path + ".allowlist.json"), "[]");
    await assert.rejects(reg.allowPublicKey(""), RangeError);
  });
});

Deno.test("isPeerAllowed() in open mode allows unknown IDs and keys", async () => {
  await withRegistry((reg) => {
    assert.ok(reg.isPeerAllowed("unknown-peer", "unknown-key"));
    assert.ok(reg.isPeerAllowed("", ""));
    assert.ok(reg.isPeerAllowed(ID_A, KEY_A));
  });
});

Deno.test("isPeerAllowed() in allowlist mode: registered IDs and allowlisted keys", async () => {
  await withRegistry(async (reg) => {
    reg.setAuthMode("allowlist");
    const stranger = newIdentity();
    assert.equal(reg.isPeerAllowed(stranger.id, stranger.publicKey), false);
    // A registered peer without a stored key is allowed with its own key.
    reg.addPeer({ id: ID_A, name: "Registered" });
    assert.ok(reg.isPeerAllowed(ID_A, KEY_A));
    // An allowlisted key admits a new ID derived from it.
    await reg.allowPublicKey(KEY_B);
    assert.ok(reg.isPeerAllowed(ID_B, KEY_B));
    // Other keys stay rejected.
    assert.equal(reg.isPeerAllowed(stranger.id, stranger.publicKey), false);
    assert.equal(reg.isPeerAllowed("another-peer", "not-allowed-key"), false);
  });
});

Deno.test("validatePeerName() follows Go's rules", async () => {
  const valid = [
    "",
    "A",
    "MyPeer",
    "my-peer",
    "my_peer",
    "My Peer",
    "Peer123",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789AB",
  ];
  const invalid = [
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ABC",
    "-peer",
    "peer-",
    " peer",
    "peer ",
    "peer@host",
    "peer\u0000name",
    "peer\nname",
    "pé",
    "host.example.org",
  ];
  for (const n of valid) validatePeerName(n);
  for (const n of invalid) {
    assert.throws(() => validatePeerName(n), isCode("invalid_name"), n);
  }
  await withRegistry((reg) => {
    let i = 0;
    for (const n of valid) reg.addPeer({ id: `v${i++}`, name: n });
    for (const n of invalid) {
      assert.throws(
        () => reg.addPeer({ id: `x${i++}`, name: n }),
        isCode("invalid_name"),
      );
    }
    assert.equal(reg.count, valid.length);
  });
});

Deno.test("record*() move the score within [0, 100]", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "s", score: 50 });
    for (let i = 0; i < 5; i++) reg.recordSuccess("s");
    assert.equal(reg.getPeer("s")?.score, 55);
    for (let i = 0; i < 3; i++) reg.recordFailure("s");
    assert.equal(reg.getPeer("s")?.score, 40);
    reg.recordTimeout("s");
    assert.equal(reg.getPeer("s")?.score, 37);
    for (let i = 0; i < 100; i++) reg.recordSuccess("s");
    assert.equal(reg.getPeer("s")?.score, SCORE_MAX);
    assert.notEqual(reg.getPeer("s")?.lastSeen, ZERO_TIME);
    for (let i = 0; i < 100; i++) reg.recordFailure("s");
    assert.equal(reg.getPeer("s")?.score, SCORE_MIN);
    reg.recordSuccess("unknown");
    reg.recordFailure("unknown");
    reg.recordTimeout("unknown");
  });
});

Deno.test("getPeersByScore() sorts by score, highest first", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "low-score", score: 20 });
    reg.addPeer({ id: "high-score", score: 90 });
    reg.addPeer({ id: "mid-score", score: 50 });
    assert.deepEqual(reg.getPeersByScore().map((p) => p.score), [90, 50, 20]);
    assert.deepEqual([...reg.peersByScore()].map((p) => p.id), [
      "high-score",
      "mid-score",
      "low-score",
    ]);
  });
});

Deno.test("keyPrefix() shortens keys for logs", () => {
  assert.equal(keyPrefix(KEY_A), "B6N8vBQgk8i3Vdwb...");
  assert.equal(keyPrefix("0123456789abcdef"), "0123456789abcdef...");
  assert.equal(keyPrefix("short"), "short");
  assert.equal(keyPrefix(""), "(empty)");
});

Deno.test("addPeer() requires an ID", async () => {
  await withRegistry((reg) => {
    assert.throws(() => reg.addPeer({ id: "" }), isCode("missing_id"));
    assert.throws(
      () => reg.addPeer({ id: 7 } as unknown as Peer),
      TypeError,
    );
  });
});

Deno.test("updatePeer() replaces an existing peer and refuses unknown ones", async () => {
  await withRegistry((reg) => {
    const base: Peer = {
      id: "upd",
      name: "Before",
      publicKey: "",
      address: "",
      role: "worker",
      addedAt: ZERO_TIME,
      lastSeen: ZERO_TIME,
      pingMs: 0,
      hops: 0,
      geoKm: 0,
      score: 10,
      connected: false,
    };
    assert.throws(() => reg.updatePeer(base), isCode("peer_not_found"));
    reg.addPeer({ id: "upd", name: "Before" });
    reg.updatePeer({ ...base, name: "After", score: 80 });
    const p = reg.getPeer("upd")!;
    assert.equal(p.name, "After");
    assert.equal(p.score, 80);
    assert.throws(
      () => reg.updatePeer({ ...base, addedAt: "yesterday" }),
      RangeError,
    );
  });
});

Deno.test("selection on an empty registry returns nothing", async () => {
  await withRegistry((reg) => {
    assert.equal(reg.selectOptimalPeer(), undefined);
    assert.deepEqual(reg.selectNearestPeers(5), []);
    assert.deepEqual(
      reg.selectNearestTo({ pingMs: 0, hops: 0, geoKm: 0, score: 100 }, 5),
      [],
    );
  });
});

Deno.test("close() with nothing dirty writes nothing; with a pending add writes it", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const a = await PeerRegistry.open(path, { logger: quietLogger() });
    await a.close();
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    a.addPeer({ id: "pending" });
    await a.close();
    const b = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.equal(b.count, 1);
    await b.close();
  });
});

Deno.test("ten rapid changes followed by close() succeed", async () => {
  await withRegistry(async (reg, path) => {
    for (let i = 0; i < 10; i++) reg.addPeer({ id: `rapid-${i}` });
    await reg.close();
    const text = await Deno.readTextFile(path);
    assert.equal((JSON.parse(text) as unknown[]).length, 10);
  });
});

Deno.test("save() creates missing parent directories and the file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a", "b", "c", "peers.json");
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    await reg.save();
    assert.equal(await Deno.readTextFile(path), "null");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    await reg.close();
  });
});

Deno.test("the debounce timer saves after the first change of a burst", async () => {
  assert.equal(SAVE_DELAY_MS, 5000);
  await withRegistry(async (reg, path) => {
    const t0 = Date.now();
    reg.addPeer({ id: "d1" });
    await new Promise((r) => setTimeout(r, 150));
    reg.addPeer({ id: "d2" }); // coalesced into the pending save
    // Poll for the file without calling close().
    let text: string | undefined;
    while (Date.now() - t0 < 5000) {
      text = await Deno.readTextFile(path).catch(() => undefined);
      if (text !== undefined) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const elapsed = Date.now() - t0;
    assert.ok(text !== undefined, "the timer wrote the file");
    assert.ok(elapsed >= 290 && elapsed < 1500, `saved after ${elapsed} ms`);
    assert.equal((JSON.parse(text) as unknown[]).length, 2);
    const again = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.equal(again.count, 2);
    await again.close();
  }, { saveDelayMs: 300 });
});

Deno.test("the default save delay is 5 s", async () => {
  await withRegistry(async (reg, path) => {
    reg.addPeer({ id: "slow-save" });
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});

// -------------------------------------------------------- Go file format

Deno.test("Go-written peers files load and save back byte for byte", async () => {
  for (
    const name of [
      "controller-peers-handshake-ping.json",
      "controller-peers-rejected-allowlist.json",
      "server-peers.json",
    ]
  ) {
    const original = await Deno.readTextFile(new URL(name, TESTDATA));
    await withDir(async (dir) => {
      const path = join(dir, "peers.json");
      await Deno.writeTextFile(path, original);
      const reg = await PeerRegistry.open(path, { logger: quietLogger() });
      assert.equal(reg.count, 1, name);
      assert.deepEqual(reg.loadReport.problems, []);
      await reg.save();
      await reg.close();
      assert.equal(await Deno.readTextFile(path), original, name);
    });
  }
});

Deno.test("Go-written peers file fields decode as Go wrote them", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.copyFile(
      new URL("controller-peers-handshake-ping.json", TESTDATA),
      path,
    );
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.deepEqual(reg.getPeer("300c9c9603b92a4b39ed3958bf924011"), {
      id: "300c9c9603b92a4b39ed3958bf924011",
      name: "go-server",
      publicKey: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
      address: "127.0.0.1:19192",
      role: "dual",
      addedAt: "2026-11-23T20:48:51.752151573Z",
      lastSeen: "2026-11-23T20:48:51.75777981Z",
      pingMs: 5.595148,
      hops: 0,
      geoKm: 0,
      score: 50,
      connected: false,
    });
    // Changing it writes a file whose meaning differs only in that field.
    reg.updateScore("300c9c9603b92a4b39ed3958bf924011", 61.5);
    await reg.close();
    const before = JSON.parse(
      await Deno.readTextFile(
        new URL("controller-peers-handshake-ping.json", TESTDATA),
      ),
    );
    const after = JSON.parse(await Deno.readTextFile(path));
    before[0].score = 61.5;
    assert.deepEqual(after, before);
  });
});

Deno.test("written files use Go's form: struct order, indent, HTML escaping, no newline", async () => {
  const now = new Date("2026-02-20T10:00:00Z");
  await withRegistry(async (reg, path) => {
    reg.addPeer({ id: ID_A, publicKey: KEY_A, address: "a:1", role: "dual" });
    reg.updatePeer({ ...reg.getPeer(ID_A)!, name: "<b>&" });
    await reg.allowPublicKey(KEY_B);
    await reg.allowPublicKey(KEY_A);
    await reg.close();
    assert.equal(
      await Deno.readTextFile(path),
      `[
  {
    "id": "${ID_A}",
    "name": "\\u003cb\\u003e\\u0026",
    "publicKey": "${KEY_A}",
    "address": "a:1",
    "role": "dual",
    "addedAt": "2026-02-20T10:00:00Z",
    "lastSeen": "0001-01-01T00:00:00Z",
    "pingMs": 0,
    "hops": 0,
    "geoKm": 0,
    "score": 50
  }
]`,
    );
    assert.equal(
      await Deno.readTextFile(path + ".allowlist.json"),
      `[\n  "${KEY_A}",\n  "${KEY_B}"\n]`,
    );
    reg.removePeer(ID_A);
    await reg.close();
    assert.equal(await Deno.readTextFile(path), "null");
  }, { now: () => now });
});

Deno.test("a peers file holding null or [] loads as empty", async () => {
  for (const text of ["null", "[]", " null\n"]) {
    await withDir(async (dir) => {
      const path = join(dir, "peers.json");
      await Deno.writeTextFile(path, text);
      const reg = await PeerRegistry.open(path, { logger: quietLogger() });
      assert.equal(reg.count, 0);
      assert.deepEqual(reg.loadReport.keptAside, []);
      await reg.close();
      assert.equal(await Deno.readTextFile(path), text, "left untouched");
    });
  }
});

Deno.test("loading accepts Go's lenient forms: case-insensitive keys, nulls, unknown keys", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify([{
        ID: ID_A,
        NAME: "x",
        publicKey: KEY_A,
        score: null,
        connected: true,
        extra: 1,
        lastSeen: "2026-02-19T09:30:00.5+01:00",
      }]),
    );
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    const p = reg.getPeer(ID_A)!;
    assert.equal(p.name, "x");
    assert.equal(p.score, 0); // not defaulted on load, as in Go
    assert.equal(p.connected, false); // never persisted
    assert.equal(p.addedAt, ZERO_TIME);
    assert.equal(p.lastSeen, "2026-02-19T09:30:00.5+01:00");
    await reg.close();
  });
});

Deno.test("duplicate IDs in a file: the last one wins", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.writeTextFile(
      path,
      JSON.stringify([{ id: "d", name: "first" }, { id: "d", name: "last" }]),
    );
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.equal(reg.count, 1);
    assert.equal(reg.getPeer("d")?.name, "last");
    await reg.close();
  });
});

// ------------------------------------------------------- fixes (§13)

Deno.test("addPeer()/updatePeer() require the ID to derive from a known key (§13.1)", async () => {
  await withRegistry((reg) => {
    assert.throws(
      () => reg.addPeer({ id: ID_B, publicKey: KEY_A }),
      isCode("id_key_mismatch"),
    );
    assert.throws(
      () => reg.addPeer({ id: "p", publicKey: "testkey123" }),
      isCode("invalid_public_key"),
    );
    reg.addPeer({ id: ID_A, publicKey: KEY_A });
    reg.addPeer({ id: "no-key-yet" }); // an empty key is not checked
    assert.throws(
      () => reg.updatePeer({ ...reg.getPeer("no-key-yet")!, publicKey: KEY_B }),
      isCode("id_key_mismatch"),
    );
    assert.equal(reg.count, 2);
  });
});

Deno.test("isPeerAllowed() rejects a claimed ID not derived from the key, or a registered ID with another key (§13.1)", async () => {
  await withRegistry(async (reg) => {
    // A valid key that derives another ID is refused in every mode.
    assert.equal(reg.isPeerAllowed(ID_B, KEY_A), false);
    reg.addPeer({ id: ID_A, publicKey: KEY_A });
    const intruder = newIdentity();
    assert.equal(reg.isPeerAllowed(ID_A, intruder.publicKey), false);
    assert.ok(reg.isPeerAllowed(ID_A, KEY_A));
    reg.setAuthMode("allowlist");
    assert.equal(reg.isPeerAllowed(ID_A, "any-key"), false); // Go allows
    assert.ok(reg.isPeerAllowed(ID_A, KEY_A));
    await reg.allowPublicKey("allowed-key-1234567890");
    // Not a key: cannot be bound to any ID (Go allows "new-peer").
    assert.equal(
      reg.isPeerAllowed("new-peer", "allowed-key-1234567890"),
      false,
    );
  });
});

Deno.test("requireAllowlistForRegistered closes the registered-peer loophole (§13.6)", async () => {
  await withRegistry(async (reg) => {
    reg.setAuthMode("allowlist");
    reg.addPeer({ id: ID_A, publicKey: KEY_A });
    assert.equal(reg.requireAllowlistForRegistered, true);
    assert.equal(reg.isPeerAllowed(ID_A, KEY_A), false);
    await reg.allowPublicKey(KEY_A);
    assert.ok(reg.isPeerAllowed(ID_A, KEY_A));
    reg.requireAllowlistForRegistered = false;
    await reg.revokePublicKey(KEY_A);
    assert.ok(reg.isPeerAllowed(ID_A, KEY_A));
  }, { requireAllowlistForRegistered: true });
});

Deno.test("a corrupt peers file is kept aside, reported and not overwritten (§13.30)", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const garbage = '[{"id": "half-written", "na';
    await Deno.writeTextFile(path, garbage);
    const lines: string[] = [];
    const reg = await PeerRegistry.open(path, {
      logger: quietLogger(lines),
      now: () => new Date("2026-02-20T10:00:00Z"),
    });
    assert.equal(reg.count, 0);
    const report = reg.loadReport;
    assert.equal(report.keptAside.length, 1);
    assert.equal(report.keptAside[0], path + ".corrupt-20260220T100000Z");
    assert.match(report.problems[0]!, /not valid JSON/);
    assert.ok(
      lines.some((l) => l.includes("damaged registry file kept aside")),
    );
    assert.equal(await Deno.readTextFile(report.keptAside[0]!), garbage);
    reg.addPeer({ id: "fresh" });
    await reg.close();
    assert.equal(await Deno.readTextFile(report.keptAside[0]!), garbage);
    // A second corrupt file at the same instant gets a distinct name.
    await Deno.writeTextFile(path, "{}");
    const again = await PeerRegistry.open(path, {
      logger: quietLogger(),
      now: () => new Date("2026-02-20T10:00:00Z"),
    });
    assert.equal(
      again.loadReport.keptAside[0],
      path + ".corrupt-20260220T100000Z-1",
    );
    await again.close();
  });
});

Deno.test("onCorruptFile 'throw' rejects open() and leaves the file alone", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.writeTextFile(path, "not json");
    await assert.rejects(
      PeerRegistry.open(path, {
        logger: quietLogger(),
        onCorruptFile: "throw",
      }),
      isCode("corrupt_file"),
    );
    assert.equal(await Deno.readTextFile(path), "not json");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["peers.json"],
    );
  });
});

Deno.test("bad entries are skipped, the rest load, and a copy is kept", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const text = JSON.stringify([
      { id: ID_A, publicKey: KEY_A, score: 70 },
      { id: "bad-score", score: "high" },
      { id: "bad-hops", hops: 1.5 },
      { id: "bad-time", addedAt: "yesterday" },
      { id: ID_B, publicKey: KEY_A }, // ID not derived from the key
      { id: "" },
      42,
      [],
    ]);
    await Deno.writeTextFile(path, text);
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.deepEqual(reg.listPeers().map((p) => p.id), [ID_A]);
    const report = reg.loadReport;
    assert.equal(report.skippedEntries, 7);
    assert.equal(report.problems.length, 7);
    assert.equal(report.keptAside.length, 1);
    assert.equal(await Deno.readTextFile(report.keptAside[0]!), text);
    assert.equal(await Deno.readTextFile(path), text, "original untouched");
    await reg.close();
  });
});

Deno.test("null entries in a peers file are skipped without crashing (§13.30)", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.writeTextFile(path, `[null, {"id": "ok"}, null]`);
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.deepEqual(reg.listPeers().map((p) => p.id), ["ok"]);
    assert.equal(reg.loadReport.skippedEntries, 2);
    assert.deepEqual(reg.loadReport.keptAside, []);
    await reg.close();
  });
});

Deno.test("a corrupt allowlist is kept aside too", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.writeTextFile(path + ".allowlist.json", `["a", 1]`);
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.deepEqual(reg.listAllowedPublicKeys(), []);
    assert.equal(reg.loadReport.keptAside.length, 1);
    await reg.close();
  });
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.writeTextFile(path + ".allowlist.json", `["k1", "", null]`);
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    assert.deepEqual(reg.listAllowedPublicKeys(), ["k1"]);
    await reg.close();
  });
});

Deno.test("an explicit score of 0 stays 0; out-of-range scores are clamped (§13.31)", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "zero", score: 0 });
    reg.addPeer({ id: "default" });
    reg.addPeer({ id: "over", score: 250 });
    assert.equal(reg.getPeer("zero")?.score, 0);
    assert.equal(reg.getPeer("default")?.score, 50);
    assert.equal(reg.getPeer("over")?.score, 100);
  });
});

Deno.test("score and metric changes take effect in selection at once (§13.31)", async () => {
  await withRegistry((reg) => {
    reg.addPeer({ id: "a", pingMs: 10, score: 90 });
    reg.addPeer({ id: "b", pingMs: 20, score: 90 });
    assert.equal(reg.selectOptimalPeer()?.id, "a");
    for (let i = 0; i < 4; i++) reg.recordFailure("a");
    assert.equal(reg.selectOptimalPeer()?.id, "b");
    for (let i = 0; i < 20; i++) reg.recordSuccess("a");
    assert.equal(reg.selectOptimalPeer()?.id, "a");
    reg.updateMetrics("a", 500, 0, 0);
    assert.equal(reg.selectOptimalPeer()?.id, "b");
    reg.updateScore("b", 0);
    assert.equal(reg.selectOptimalPeer()?.id, "b"); // 120 < 500
    reg.removePeer("b");
    assert.equal(reg.selectOptimalPeer()?.id, "a");
  });
});

Deno.test("registerSeenPeer() registers handshake identities with a valid name (§13.32)", async () => {
  await withRegistry((reg) => {
    assert.ok(
      reg.registerSeenPeer({
        id: ID_A,
        name: "host.example.org",
        publicKey: KEY_A,
        role: "dual",
      }),
    );
    const p = reg.getPeer(ID_A)!;
    assert.equal(p.name, "host-example-org");
    assert.equal(p.score, 50);
    assert.equal(p.address, "");
    assert.notEqual(p.addedAt, ZERO_TIME);
    // Already known: nothing changes.
    assert.equal(
      reg.registerSeenPeer({ id: ID_A, name: "x", publicKey: KEY_A, role: "" }),
      false,
    );
    // ID not derived from the key: refused.
    assert.equal(
      reg.registerSeenPeer({
        id: "fake",
        name: "x",
        publicKey: KEY_B,
        role: "",
      }),
      false,
    );
    assert.equal(reg.count, 1);
  });
});

Deno.test("registerSeenPeer() caps auto-registered peers, evicting the least recently seen (§13.12)", async () => {
  let clock = Date.parse("2026-02-20T10:00:00Z");
  await withRegistry((reg) => {
    reg.addPeer({ id: "manual" }); // never evicted
    const ids = [newIdentity(), newIdentity(), newIdentity(), newIdentity()];
    for (const who of ids.slice(0, 3)) {
      clock += 1000;
      assert.ok(reg.registerSeenPeer({ ...who, name: "n", role: "worker" }));
    }
    clock += 1000;
    reg.setConnected(ids[0]!.id, true); // the oldest is now the freshest
    reg.setConnected(ids[0]!.id, false);
    clock += 1000;
    assert.ok(reg.registerSeenPeer({ ...ids[3]!, name: "n", role: "worker" }));
    assert.equal(reg.count, 4);
    assert.equal(
      reg.getPeer(ids[1]!.id),
      undefined,
      "least recently seen evicted",
    );
    assert.ok(reg.getPeer(ids[0]!.id));
    assert.ok(reg.getPeer("manual"));
    // Connected peers are not evicted: with all three connected, refuse.
    for (const who of [ids[0]!, ids[2]!, ids[3]!]) {
      reg.setConnected(who.id, true);
    }
    const late = newIdentity();
    assert.equal(
      reg.registerSeenPeer({ ...late, name: "n", role: "worker" }),
      false,
    );
    assert.equal(reg.count, 4);
  }, { maxAutoPeers: 3, now: () => new Date(clock) });
  assert.equal(DEFAULT_MAX_AUTO_PEERS, 1000);
});

Deno.test("peers with an empty address loaded from disk count as auto-registered", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.copyFile(new URL("server-peers.json", TESTDATA), path);
    const reg = await PeerRegistry.open(path, {
      logger: quietLogger(),
      maxAutoPeers: 1,
    });
    const who = newIdentity();
    assert.ok(reg.registerSeenPeer({ ...who, name: "n", role: "worker" }));
    assert.deepEqual(reg.listPeers().map((p) => p.id), [who.id]);
    reg.setConnected(who.id, true);
    await reg.close();
  });
});

Deno.test("maxAutoPeers 0 disables auto-registration", async () => {
  await withRegistry((reg) => {
    assert.equal(
      reg.registerSeenPeer({ id: ID_A, name: "a", publicKey: KEY_A, role: "" }),
      false,
    );
  }, { maxAutoPeers: 0 });
});

Deno.test("open() rejects invalid options", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await assert.rejects(
      PeerRegistry.open(path, { saveDelayMs: -1 }),
      RangeError,
    );
    await assert.rejects(
      PeerRegistry.open(path, { maxAutoPeers: 1.5 }),
      RangeError,
    );
  });
});

Deno.test("open() reports a peers path that is a directory", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    await Deno.mkdir(path);
    await assert.rejects(
      PeerRegistry.open(path, { logger: quietLogger() }),
      isCode("load_failed"),
    );
  });
});

Deno.test("save failures surface from close() as save_failed", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "peers.json");
    const reg = await PeerRegistry.open(path, { logger: quietLogger() });
    reg.addPeer({ id: "x" });
    await Deno.mkdir(path); // the rename cannot replace a directory
    await assert.rejects(reg.close(), isCode("save_failed"));
    await Deno.remove(path);
    await reg.close(); // still dirty: retried and written
    assert.equal(
      (JSON.parse(await Deno.readTextFile(path)) as unknown[]).length,
      1,
    );
  });
});

Deno.test("open() without a path uses the XDG config home", async () => {
  await withDir(async (dir) => {
    const old = Deno.env.get("XDG_CONFIG_HOME");
    Deno.env.set("XDG_CONFIG_HOME", dir);
    try {
      const reg = await PeerRegistry.open(undefined, { logger: quietLogger() });
      assert.equal(reg.path, join(dir, "lethean-desktop", "peers.json"));
      assert.equal(reg.allowlistPath, reg.path + ".allowlist.json");
      await reg.close();
    } finally {
      if (old === undefined) Deno.env.delete("XDG_CONFIG_HOME");
      else Deno.env.set("XDG_CONFIG_HOME", old);
    }
  });
});

// ----------------------------------------------------- property tests

type Op =
  | {
    op: "add";
    id: string;
    ping: number;
    hops: number;
    geo: number;
    score: number;
  }
  | { op: "remove"; i: number }
  | { op: "score"; i: number; score: number }
  | { op: "metrics"; i: number; ping: number; hops: number; geo: number }
  | { op: "success" | "failure" | "timeout"; i: number };

const small = fc.integer({ min: 0, max: 2 }); // small ranges make ties common
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("add" as const),
    id: fc.stringMatching(/^[a-f0-9]{1,3}$/),
    ping: small.map((x) => x * 10),
    hops: small,
    geo: small.map((x) => x * 50),
    score: fc.oneof(
      small.map((x) => x * 10 + 40),
      fc.double({ min: 0, max: 100, noNaN: true }),
    ),
  }),
  fc.record({ op: fc.constant("remove" as const), i: fc.nat() }),
  fc.record({
    op: fc.constant("score" as const),
    i: fc.nat(),
    score: small.map((x) => x * 20 - 10),
  }),
  fc.record({
    op: fc.constant("metrics" as const),
    i: fc.nat(),
    ping: fc.oneof(
      small.map((x) => x * 10),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
    ),
    hops: small,
    geo: small.map((x) => x * 50),
  }),
  fc.record({
    op: fc.constantFrom(
      "success" as const,
      "failure" as const,
      "timeout" as const,
    ),
    i: fc.nat(),
  }),
);

Deno.test("property: selectNearestPeers(n) and selectOptimalPeer() equal a brute-force scan", async () => {
  await withDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 80 }),
        fc.integer({ min: -1, max: 40 }),
        async (ops, n) => {
          const path = join(dir, "p.json");
          await Deno.remove(path).catch(() => {});
          const reg = await PeerRegistry.open(path, {
            logger: quietLogger(),
            saveDelayMs: 60_000,
          });
          try {
            for (const o of ops) {
              const ids = reg.listPeers().map((p) => p.id);
              const pick = (i: number) => ids[i % Math.max(1, ids.length)];
              switch (o.op) {
                case "add":
                  if (reg.getPeer(o.id)) break;
                  reg.addPeer({
                    id: o.id,
                    pingMs: o.ping,
                    hops: o.hops,
                    geoKm: o.geo,
                    score: o.score,
                  });
                  break;
                case "remove":
                  if (ids.length) reg.removePeer(pick(o.i)!);
                  break;
                case "score":
                  if (ids.length) reg.updateScore(pick(o.i)!, o.score);
                  break;
                case "metrics":
                  if (ids.length) {
                    reg.updateMetrics(pick(o.i)!, o.ping, o.geo, o.hops);
                  }
                  break;
                case "success":
                  if (ids.length) reg.recordSuccess(pick(o.i)!);
                  break;
                case "failure":
                  if (ids.length) reg.recordFailure(pick(o.i)!);
                  break;
                case "timeout":
                  if (ids.length) reg.recordTimeout(pick(o.i)!);
                  break;
              }
              const all = reg.listPeers();
              assert.equal(
                reg.selectOptimalPeer()?.id,
                bruteNearest(all, 1)[0],
              );
            }
            const all = reg.listPeers();
            assert.deepEqual(
              reg.selectNearestPeers(n).map((p) => p.id),
              bruteNearest(all, n),
            );
            const ideal = { pingMs: 0, hops: 0, geoKm: 0, score: 100 };
            assert.deepEqual(
              reg.selectNearestTo(ideal, n).map((p) => p.id),
              bruteNearest(all, n),
            );
          } finally {
            await reg.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

Deno.test("property: selectNearestTo() equals brute force for arbitrary targets", async () => {
  await withRegistry((reg) => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ping: small,
            hops: small,
            geo: small,
            score: small.map((x) => x * 15),
          }),
          { maxLength: 60 },
        ),
        fc.record({
          pingMs: small,
          hops: small,
          geoKm: small,
          score: small.map((x) => x * 15),
        }),
        fc.integer({ min: 0, max: 70 }),
        (peers, target, n) => {
          for (const p of reg.listPeers()) reg.removePeer(p.id);
          peers.forEach((p, i) =>
            reg.addPeer({
              id: `p${i}`,
              pingMs: p.ping,
              hops: p.hops,
              geoKm: p.geo,
              score: p.score,
            })
          );
          const t = [
            target.pingMs,
            target.hops * 0.7,
            target.geoKm * 0.2,
            (100 - target.score) * 1.2,
          ];
          const brute = reg.listPeers()
            .map((p) => {
              const x = [
                p.pingMs,
                p.hops * 0.7,
                p.geoKm * 0.2,
                (100 - p.score) * 1.2,
              ];
              const d = x.map((v, i) => v - t[i]!);
              return {
                id: p.id,
                d: Math.sqrt(
                  d[0]! * d[0]! + d[1]! * d[1]! + d[2]! * d[2]! + d[3]! * d[3]!,
                ),
              };
            })
            .sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : 1))
            .slice(0, n)
            .map((x) => x.id);
          assert.deepEqual(
            reg.selectNearestTo(target, n).map((p) => p.id),
            brute,
          );
        },
      ),
      { numRuns: 150 },
    );
  }, { saveDelayMs: 60_000 });
});

// ------------------------------------------------------ hostile input

Deno.test("fuzz: any peers file loads or is kept aside; with 'throw' it fails with a typed error", async () => {
  const jsonish = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.array(
      fc.oneof(
        fc.constant(null),
        fc.record(
          {
            id: fc.oneof(fc.string(), fc.constant(ID_A), fc.integer()),
            name: fc.oneof(fc.string(), fc.constant(null)),
            publicKey: fc.oneof(
              fc.constant(KEY_A),
              fc.string(),
              fc.constant(""),
            ),
            addedAt: fc.oneof(fc.constant(ZERO_TIME), fc.string()),
            hops: fc.oneof(fc.integer(), fc.double()),
            score: fc.oneof(fc.double(), fc.string()),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
    ).map((v) => JSON.stringify(v)),
    fc.uint8Array({ maxLength: 64 }).map((b) => new TextDecoder().decode(b)),
  );
  await withDir(async (dir) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(jsonish, async (text) => {
        const sub = join(dir, String(n++));
        await Deno.mkdir(sub);
        const path = join(sub, "peers.json");
        await Deno.writeTextFile(path, text);
        try {
          const reg = await PeerRegistry.open(path, { logger: quietLogger() });
          for (const p of reg.listPeers()) {
            assert.equal(typeof p.id, "string");
            assert.ok(p.id !== "");
            assert.ok(Number.isSafeInteger(p.hops));
          }
          if (reg.loadReport.keptAside.length === 0) {
            // Nothing lost: the file is still there, unchanged.
            assert.equal(await Deno.readTextFile(path), text);
          }
          await reg.close();
        } catch (err) {
          assert.fail(`open() threw ${err}`);
        }
        await Deno.writeTextFile(path, text);
        try {
          const reg = await PeerRegistry.open(path, {
            logger: quietLogger(),
            onCorruptFile: "throw",
          });
          await reg.close();
        } catch (err) {
          assert.ok(isCode("corrupt_file")(err), String(err));
          assert.equal(await Deno.readTextFile(path), text);
        }
      }),
      { numRuns: 200 },
    );
  });
});

Deno.test("selection breaks distance ties by ID", async () => {
  await withRegistry((reg) => {
    for (const id of ["c", "a", "b"]) reg.addPeer({ id, pingMs: 5 });
    assert.deepEqual(reg.selectNearestPeers(3).map((p) => p.id), [
      "a",
      "b",
      "c",
    ]);
    assert.equal(reg.selectOptimalPeer()?.id, "a");
    const ideal = { pingMs: 0, hops: 0, geoKm: 0, score: 100 };
    assert.deepEqual(reg.selectNearestTo(ideal, 2).map((p) => p.id), [
      "a",
      "b",
    ]);
  });
});
