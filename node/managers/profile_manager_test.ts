import assert from "node:assert/strict";
import fc from "fast-check";
import { ProfileError } from "./errors.ts";
import { FileProfileManager, MAX_PROFILE_BYTES } from "./profile_manager.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "profiles_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FileProfileManager saves atomically with mode 0600 and loads back", async () => {
  await withDir(async (dir) => {
    const pm = new FileProfileManager({ dir: `${dir}/p` });
    assert.equal(pm.dir, `${dir}/p`);
    assert.deepEqual(await pm.listProfiles(), []);
    const profile = {
      id: "main",
      name: "Main",
      minerType: "xmrig",
      config: { pools: [{ url: "x:1" }] },
    };
    await pm.saveProfile(profile);
    assert.deepEqual(await pm.getProfile("main"), profile);
    if (Deno.build.os !== "windows") {
      assert.equal(
        (await Deno.stat(`${dir}/p/main.json`)).mode! & 0o777,
        0o600,
      );
    }
    await pm.saveProfile({ ...profile, name: "Main 2" });
    assert.equal(
      ((await pm.getProfile("main")) as { name: string }).name,
      "Main 2",
    );
    const leftovers = [...Deno.readDirSync(`${dir}/p`)].map((e) => e.name);
    assert.deepEqual(leftovers, ["main.json"]);
  });
});

Deno.test("FileProfileManager falls back to the name as ID", async () => {
  await withDir(async (dir) => {
    const pm = new FileProfileManager({ dir });
    await pm.saveProfile({ name: "by-name", config: {} });
    assert.deepEqual(await pm.listProfiles(), ["by-name"]);
    assert.equal(await pm.deleteProfile("by-name"), true);
    assert.equal(await pm.deleteProfile("by-name"), false);
  });
});

Deno.test("FileProfileManager rejects unsafe IDs and non-objects", async () => {
  await withDir(async (dir) => {
    const pm = new FileProfileManager({ dir });
    for (
      const bad of [
        null,
        1,
        "x",
        [],
        {},
        { id: "" },
        { id: ".." },
        { id: "../x" },
        { id: "a/b" },
        { id: "-rf" },
        { id: ".hidden" },
        { id: 7 },
      ]
    ) {
      await assert.rejects(
        () => pm.saveProfile(bad as never),
        (e) =>
          e instanceof ProfileError &&
          (e.code === "invalid_id" || e.code === "invalid_profile"),
        JSON.stringify(bad),
      );
    }
    for (const id of ["", ".", "..", "../etc/passwd", "a\\b", "a\0b"]) {
      await assert.rejects(
        () => pm.getProfile(id),
        (e) => e instanceof ProfileError && e.code === "invalid_id",
      );
    }
    await assert.rejects(
      () => pm.saveProfile({ id: "big", blob: "x".repeat(MAX_PROFILE_BYTES) }),
      (e) => e instanceof ProfileError && e.code === "invalid_profile",
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("FileProfileManager reports missing and corrupt profiles", async () => {
  await withDir(async (dir) => {
    const pm = new FileProfileManager({ dir });
    await assert.rejects(
      () => pm.getProfile("nope"),
      (e) => e instanceof ProfileError && e.code === "not_found",
    );
    await Deno.writeTextFile(`${dir}/bad.json`, "{not json");
    await assert.rejects(
      () => pm.getProfile("bad"),
      (e) => e instanceof ProfileError && e.code === "corrupt",
    );
    await Deno.writeFile(`${dir}/bin.json`, new Uint8Array([0xff, 0xfe, 0x00]));
    await assert.rejects(
      () => pm.getProfile("bin"),
      (e) => e instanceof ProfileError && e.code === "corrupt",
    );
  });
});

Deno.test("FileProfileManager round-trips any JSON object with a safe id (fuzz)", async () => {
  await withDir(async (dir) => {
    const pm = new FileProfileManager({ dir });
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/),
        fc.dictionary(fc.string(), fc.jsonValue()),
        async (id, rest) => {
          const profile = { ...rest, id };
          await pm.saveProfile(JSON.parse(JSON.stringify(profile)));
          assert.deepEqual(
            await pm.getProfile(id),
            JSON.parse(JSON.stringify(profile)),
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});
