import assert from "node:assert/strict";
import { Logger, LogLevel } from "../../logging/logger.ts";
import { encodePublicKey, generateKeyPair } from "../identity.ts";
import { TrustError } from "./errors.ts";
import { pairingCode } from "./pairing.ts";
import { TRUST_FILE_NAME, TrustStore } from "./trust.ts";

function quiet(lines: string[] = []): Logger {
  return new Logger({
    level: LogLevel.Debug,
    sink: { write: (l: string) => void lines.push(l) },
  });
}

function newKey(): string {
  return encodePublicKey(generateKeyPair().publicKey);
}

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "trust_" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("TrustStore.trust() writes the file (0600) before it resolves; a new store reads it back", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/cfg/${TRUST_FILE_NAME}`;
    const key = newKey();
    const store = await TrustStore.open(path, { logger: quiet() });
    assert.equal(store.size, 0);
    const r = await store.trust(key, { name: "alpha" });
    assert.equal(r.changed, true);
    // On disk already, before close().
    const doc = JSON.parse(await Deno.readTextFile(path));
    assert.equal(doc.version, 1);
    assert.equal(doc.controllers.length, 1);
    assert.equal(doc.controllers[0].publicKey, key);
    assert.equal(doc.controllers[0].name, "alpha");
    assert.equal(doc.controllers[0].nodeId, r.controller.nodeId);
    assert.match(doc.controllers[0].addedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/cfg`)).mode! & 0o777, 0o700);
    // Trusting again changes nothing.
    assert.equal((await store.trust(key, { name: "alpha" })).changed, false);
    await store.close();

    const again = await TrustStore.open(path, { logger: quiet() });
    assert.equal(again.isTrusted(key), true);
    assert.deepEqual(again.list().map((c) => [c.name, c.source]), [
      ["alpha", "file"],
    ]);
    await again.close();
  });
});

Deno.test("TrustStore.distrust() takes effect at once and is durable; unknown keys are not_trusted", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/${TRUST_FILE_NAME}`;
    const [k1, k2] = [newKey(), newKey()];
    const store = await TrustStore.open(path, { logger: quiet() });
    await store.trust(k1, { name: "one" });
    await store.trust(k2);
    const pending = store.distrust(k1);
    assert.equal(store.isTrusted(k1), false, "distrusted before the write");
    assert.equal((await pending).changed, true);
    await assert.rejects(
      store.distrust(k1),
      (e) => e instanceof TrustError && e.code === "not_trusted",
    );
    await store.close();
    const again = await TrustStore.open(path, { logger: quiet() });
    assert.equal(again.isTrusted(k1), false);
    assert.equal(again.isTrusted(k2), true);
    await again.close();
  });
});

Deno.test("TrustStore accepts pairing codes, and finds entries by key, code, ID, prefix and name", async () => {
  await withDir(async (dir) => {
    const key = newKey();
    const code = pairingCode({ publicKey: key, name: "ctl one" });
    const store = await TrustStore.open(`${dir}/t.json`, { logger: quiet() });
    const { controller } = await store.trust(code);
    assert.equal(controller.publicKey, key);
    assert.equal(controller.name, "ctl one");
    for (
      const ref of [
        key,
        code,
        controller.nodeId,
        controller.nodeId.slice(0, 6),
        "ctl one",
      ]
    ) assert.equal(store.find(ref)?.publicKey, key, ref);
    assert.equal(store.find("nobody"), undefined);
    // Unpadded and URL-safe spellings name the same key.
    const urlSafe = key.replace(/=$/, "").replace(/\+/g, "-").replace(
      /\//g,
      "_",
    );
    assert.equal(store.find(urlSafe)?.publicKey, key);
    await store.distrust("ctl one");
    assert.equal(store.isTrusted(key), false);
    await store.close();
  });
});

Deno.test("TrustStore refuses what is not a key or a valid code", async () => {
  await withDir(async (dir) => {
    const store = await TrustStore.open(`${dir}/t.json`, { logger: quiet() });
    for (const bad of ["", "hello", "AAAA", newKey().slice(0, 40)]) {
      await assert.rejects(
        store.trust(bad),
        (e) => e instanceof TrustError && e.code === "invalid_key",
        bad,
      );
    }
    await assert.rejects(store.trust(newKey(), { name: "a\nb" }), RangeError);
    await assert.rejects(
      store.trust("lthn-pair1.garbage.00000000"),
      (e) => e instanceof TrustError && e.code === "invalid_code",
    );
    assert.equal(store.size, 0);
    await assert.rejects(Deno.stat(`${dir}/t.json`), Deno.errors.NotFound);
    await store.close();
  });
});

Deno.test("TrustStore: pinned keys are trusted, never written, and cannot be distrusted at run time", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/t.json`;
    const pinned = newKey();
    const code = pairingCode({ publicKey: newKey(), name: "from-code" });
    const store = await TrustStore.open(path, {
      logger: quiet(),
      pinned: [pinned, code],
    });
    assert.equal(store.size, 2);
    assert.equal(store.isTrusted(pinned), true);
    assert.deepEqual(
      store.list().map((c) => c.source),
      ["config", "config"],
    );
    assert.ok(store.list().some((c) => c.name === "from-code"));
    await assert.rejects(
      store.distrust(pinned),
      (e) => e instanceof TrustError && e.code === "pinned",
    );
    assert.equal(store.isTrusted(pinned), true);
    assert.equal((await store.trust(pinned)).changed, false);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await store.close();
    await assert.rejects(
      TrustStore.open(path, { logger: quiet(), pinned: ["not a key"] }),
      (e) => e instanceof TrustError && e.code === "invalid_key",
    );
  });
});

Deno.test("TrustStore: a damaged file is kept aside and reported, never silently replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/t.json`;
    await Deno.writeTextFile(path, '{"version": 1, "controllers": [');
    const lines: string[] = [];
    const store = await TrustStore.open(path, { logger: quiet(lines) });
    assert.equal(store.size, 0, "trusts nobody from a damaged file");
    const report = store.loadReport;
    assert.equal(report.keptAside.length, 1);
    assert.match(report.keptAside[0]!, /t\.json\.corrupt-/);
    assert.equal(
      await Deno.readTextFile(report.keptAside[0]!),
      '{"version": 1, "controllers": [',
    );
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    assert.ok(lines.some((l) => l.includes("kept aside")));
    await store.close();

    // Wrong shape: also kept aside.
    await Deno.writeTextFile(path, '["a key"]');
    const s2 = await TrustStore.open(path, { logger: quiet() });
    assert.equal(s2.loadReport.keptAside.length, 1);
    await s2.close();

    // "throw" refuses to open.
    await Deno.writeTextFile(path, "not json");
    await assert.rejects(
      TrustStore.open(path, { logger: quiet(), onCorruptFile: "throw" }),
      (e) => e instanceof TrustError && e.code === "corrupt_file",
    );
    assert.equal(await Deno.readTextFile(path), "not json", "left as it was");
  });
});

Deno.test("TrustStore: bad entries are skipped (a copy of the file is kept), good ones load", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/t.json`;
    const good = newKey();
    const text = JSON.stringify({
      version: 1,
      controllers: [
        { publicKey: good, name: "ok\n[ERROR] forged" },
        { publicKey: "nope" },
        7,
      ],
    });
    await Deno.writeTextFile(path, text);
    const store = await TrustStore.open(path, { logger: quiet() });
    assert.equal(store.size, 1);
    assert.equal(store.isTrusted(good), true);
    assert.equal(
      store.list()[0]!.name,
      "ok-ERROR- forged",
      "made safe to log",
    );
    assert.equal(store.loadReport.problems.length, 2);
    assert.equal(
      await Deno.readTextFile(store.loadReport.keptAside[0]!),
      text,
    );
    await store.close();
  });
});

Deno.test("TrustStore: a failed write trusts nobody new; a failed distrust stays distrusted for this run", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/t.json`;
    const [kept, fresh] = [newKey(), newKey()];
    const store = await TrustStore.open(path, { logger: quiet() });
    await store.trust(kept);
    // Make the rename over the file fail: the path becomes a non-empty directory.
    await Deno.remove(path);
    await Deno.mkdir(path);
    await Deno.writeTextFile(`${path}/x`, "");
    await assert.rejects(
      store.trust(fresh),
      (e) => e instanceof TrustError && e.code === "save_failed",
    );
    assert.equal(store.isTrusted(fresh), false);
    await assert.rejects(
      store.distrust(kept),
      (e) =>
        e instanceof TrustError && e.code === "save_failed" &&
        /file still lists it/.test(e.message),
    );
    assert.equal(store.isTrusted(kept), false);
    // No temporary file is left behind.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["t.json"]);
    await store.close();
  });
});

Deno.test("TrustStore: concurrent changes are all written, in order", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/t.json`;
    const keys = Array.from({ length: 20 }, newKey);
    const store = await TrustStore.open(path, { logger: quiet() });
    await Promise.all(keys.map((k, i) => store.trust(k, { name: `c${i}` })));
    await Promise.all(keys.slice(0, 5).map((k) => store.distrust(k)));
    await store.close();
    await assert.rejects(
      store.trust(newKey()),
      (e) => e instanceof TrustError && e.code === "save_failed",
    );
    const again = await TrustStore.open(path, { logger: quiet() });
    assert.equal(again.size, 15);
    for (const k of keys.slice(5)) assert.ok(again.isTrusted(k));
    await again.close();
  });
});
