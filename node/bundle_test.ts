import assert from "node:assert/strict";
import fc from "fast-check";
import { fromHex, readSidecar, readVector } from "./borg/_test_util.ts";
import { SmsgKey } from "./borg/smsg.ts";
import { stimSeal } from "./borg/stim.ts";
import { trixEncode } from "./borg/trix.ts";
import {
  type Bundle,
  bundleChecksum,
  BundleError,
  checkBundleName,
  createMinerBundle,
  createProfileBundle,
  createProfileBundleUnencrypted,
  decodeBundle,
  encodeBundle,
  extractMinerBundle,
  extractProfileBundle,
  readBundle,
  streamBundle,
  verifyBundle,
} from "./bundle.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const isCode = (code: string) => (e: unknown) =>
  e instanceof BundleError && e.code === code;

const PASSWORD = "uL2eovqajg4HUim6Pc6Zq6eRoKv18AZYHECR5/HP94M=";

function bundleOf(
  type: Bundle["type"],
  name: string,
  data: Uint8Array,
): Bundle {
  return { type, name, data, checksum: bundleChecksum(data) };
}

Deno.test("readBundle() reads the Go profile bundle and encodeBundle() writes it back", async () => {
  const json = new TextDecoder().decode(
    readVector("stim/profile-bundle.bundle.json"),
  );
  const side: Json = readSidecar("stim/profile-bundle.stim.json");
  const b = await readBundle(json);
  assert.equal(b.type, "profile");
  assert.equal(b.name, "vector-profile");
  assert.deepEqual(b.data, readVector("stim/profile-bundle.stim"));
  assert.equal(b.checksum, side.bundle_checksum);
  assert.ok(verifyBundle(b));
  assert.equal(encodeBundle(b) + "\n", json);
  assert.equal(
    text(await extractProfileBundle(b, PASSWORD)),
    side.expected.config_utf8,
  );
  assert.equal(
    text(await extractProfileBundle(b, SmsgKey.fromPassword(PASSWORD))),
    side.expected.config_utf8,
  );
});

Deno.test("createProfileBundle() reproduces the Go bundle byte for byte", async () => {
  const side: Json = readSidecar("stim/profile-bundle.stim.json");
  const b = await createProfileBundle(
    side.expected.config_utf8,
    "vector-profile",
    PASSWORD,
    {
      nonces: {
        config: fromHex(side.nonces_hex.config),
        rootfs: fromHex(side.nonces_hex.rootfs),
      },
    },
  );
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const collected = new Response(readable).arrayBuffer();
  await streamBundle(b, writable);
  await writable.close();
  assert.deepEqual(
    new Uint8Array(await collected),
    readVector("stim/profile-bundle.bundle.json"),
  );
});

Deno.test("extractProfileBundle() checks the checksum and takes plain JSON as is", async () => {
  const plain = createProfileBundleUnencrypted('{"a":1}', "p");
  assert.equal(text(await extractProfileBundle(plain, "")), '{"a":1}');
  await assert.rejects(
    extractProfileBundle(
      { ...plain, checksum: plain.checksum.toUpperCase() },
      "pw",
    ),
    isCode("checksum_mismatch"),
  );
  const enc = await createProfileBundle("{}", "p", "pw");
  await assert.rejects(
    extractProfileBundle(enc, "other"),
    isCode("decryption_failed"),
  );
  const hostile = trixEncode({
    magic: "STIM",
    header: {},
    payload: new Uint8Array([255, 255, 255, 255, 0, 0]),
  });
  await assert.rejects(
    extractProfileBundle(bundleOf("profile", "p", hostile), "pw"),
    isCode("decryption_failed"),
  );
});

for (const name of ["miner-bundle", "miner-bundle-default-config"]) {
  Deno.test(`extractMinerBundle() installs the Go ${name} with its execute bit`, async () => {
    const side: Json = readSidecar(`stim/${name}.stim.json`);
    const dir = await Deno.realPath(await Deno.makeTempDir());
    try {
      const b = bundleOf("miner", "xmrig", readVector(`stim/${name}.stim`));
      const r = await extractMinerBundle(b, PASSWORD, `${dir}/miners/xmrig`);
      assert.equal(r.minerPath, `${dir}/miners/xmrig/xmrig`);
      assert.equal(text(r.config), side.expected.config_utf8);
      assert.equal(
        await Deno.readTextFile(r.minerPath),
        side.expected.rootfs_tar_entries[0].content_utf8,
      );
      assert.equal((await Deno.stat(r.minerPath)).mode! & 0o777, 0o700);
      const go = await extractMinerBundle(b, PASSWORD, `${dir}/go`, {
        restoreExecutable: false,
      });
      assert.equal(go.minerPath, "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("createMinerBundle() round trips through extractMinerBundle()", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.writeFile(
      `${dir}/xmrig`,
      new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]),
    );
    const key = SmsgKey.fromPassword("pw");
    const withProfile = await createMinerBundle(
      `${dir}/xmrig`,
      '{"pool":"x"}',
      "xmrig",
      key,
    );
    assert.equal(withProfile.type, "miner");
    const r = await extractMinerBundle(withProfile, key, `${dir}/a`);
    assert.equal(r.minerPath, `${dir}/a/xmrig`);
    assert.equal(text(r.config), '{"pool":"x"}');
    const noProfile = await createMinerBundle(
      `${dir}/xmrig`,
      undefined,
      "xmrig",
      "pw",
    );
    assert.equal(
      text((await extractMinerBundle(noProfile, "pw", `${dir}/b`)).config),
      '{"Header":{},"Payload":null}',
    );
    await assert.rejects(
      createMinerBundle(`${dir}/missing`, null, "m", "pw"),
      isCode("io_failed"),
    );
    await assert.rejects(
      createMinerBundle(`${dir}/xmrig`, null, "../m", "pw"),
      isCode("invalid_name"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extractMinerBundle() rejects hostile bundles without writing", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const good = bundleOf(
      "miner",
      "xmrig",
      readVector("stim/miner-bundle.stim"),
    );
    await assert.rejects(
      extractMinerBundle({ ...good, name: "../../x" }, PASSWORD, `${dir}/d`),
      isCode("invalid_name"),
    );
    await assert.rejects(
      extractMinerBundle({ ...good, checksum: "0" }, PASSWORD, `${dir}/d`),
      isCode("checksum_mismatch"),
    );
    await assert.rejects(
      extractMinerBundle(good, "wrong", `${dir}/d`),
      isCode("decryption_failed"),
    );
    // A rootfs that is not a tar.
    const notTar = stimSeal({
      config: new Uint8Array(),
      rootfsTar: new Uint8Array(700).fill(7),
    }, "pw");
    await assert.rejects(
      extractMinerBundle(bundleOf("miner", "m", notTar), "pw", `${dir}/d`),
      isCode("invalid_tar"),
    );
    // Per-file cap from the options.
    await assert.rejects(
      extractMinerBundle(good, PASSWORD, `${dir}/d`, { maxFileBytes: 10 }),
      isCode("file_too_large"),
    );
    const entries: string[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assert.deepEqual(entries, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkBundleName() accepts one safe component only", () => {
  for (const ok of ["xmrig", "miner-6.21.0_linux", "ünïcode"]) {
    assert.equal(checkBundleName(ok), ok);
  }
  for (
    const bad of ["", ".", "..", "a/b", "a\\b", "a\0b", "a\nb", "x".repeat(256)]
  ) {
    assert.throws(() => checkBundleName(bad), isCode("invalid_name"));
  }
});

Deno.test("decodeBundle() rejects malformed JSON and ignores trailing data", async () => {
  const good = '{"type":"miner","name":"m","data":"AAE=","checksum":"c"}';
  assert.deepEqual(decodeBundle(good + ' {"more":1}'), {
    type: "miner",
    name: "m",
    data: new Uint8Array([0, 1]),
    checksum: "c",
  });
  assert.deepEqual(
    decodeBundle('{"TYPE":"full","data":null}').data,
    new Uint8Array(),
  );
  for (
    const bad of [
      "",
      "[]",
      "{",
      '{"type":"x"}',
      '{"type":"miner","data":"AAE"}',
      '{"type":"miner","data":5}',
      '{"type":"miner","name":[]}',
    ]
  ) {
    assert.throws(() => decodeBundle(bad), isCode("invalid_bundle"), bad);
  }
  const big = new Blob([good]).stream();
  await assert.rejects(
    readBundle(big, { maxBytes: 10 }),
    isCode("invalid_bundle"),
  );
  assert.equal((await readBundle(new TextEncoder().encode(good))).name, "m");
});

Deno.test("decodeBundle() fuzz: arbitrary text ends in BundleError or a bundle", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (s) => {
      try {
        const b = decodeBundle(s);
        return b.data instanceof Uint8Array;
      } catch (e) {
        return e instanceof BundleError;
      }
    }),
    { numRuns: 1000 },
  );
});
