import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import {
  atOddOffset,
  fromHex,
  makeTar,
  readSidecar,
  readVector,
} from "./_test_util.ts";
import { DataNode } from "./datanode.ts";
import { BorgError } from "./errors.ts";
import { SmsgKey } from "./smsg.ts";
import {
  newTim,
  stimDecrypt,
  stimEncrypt,
  stimOpen,
  stimSeal,
  TIM_DEFAULT_CONFIG,
} from "./stim.ts";
import { trixDecode, trixEncode } from "./trix.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

function nonces(side: Json) {
  return {
    config: fromHex(side.nonces_hex.config),
    rootfs: fromHex(side.nonces_hex.rootfs),
  };
}

for (
  const name of [
    "profile-bundle",
    "miner-bundle",
    "miner-bundle-default-config",
  ]
) {
  Deno.test(`stimDecrypt() decodes ${name} and re-seals it byte for byte`, async () => {
    const side: Json = readSidecar(`stim/${name}.stim.json`);
    const bytes = readVector(`stim/${name}.stim`);
    assert.equal(
      createHash("sha256").update(bytes).digest("hex"),
      side.file_sha256,
    );
    assert.equal(
      text(
        trixDecode(bytes, "STIM").header &&
          bytes.subarray(9, 9 + side.trix.header_len),
      ),
      side.trix.header_json,
    );
    const tim = await stimDecrypt(atOddOffset(bytes), side.password);
    assert.equal(text(tim.config), side.expected.config_utf8);
    const parts = stimOpen(bytes, SmsgKey.fromPassword(side.password));
    if (side.expected.rootfs_tar_entries) {
      assert.equal(parts.rootfsTar.length, side.expected.rootfs_tar_len);
      const entries = side.expected.rootfs_tar_entries;
      assert.deepEqual(tim.rootfs.paths(), entries.map((e: Json) => e.name));
      assert.equal(
        text(tim.rootfs.getFile(entries[0].name)),
        entries[0].content_utf8,
      );
      // The Go-written tar header carries mode 0600.
      assert.equal(text(parts.rootfsTar.subarray(100, 107)), "0000600");
    } else {
      assert.equal(tim.rootfs.size, 0);
      assert.equal(
        createHash("sha256").update(parts.rootfsTar).digest("hex"),
        side.expected.rootfs_tar_sha256,
      );
    }
    assert.deepEqual(
      stimSeal(parts, side.password, { nonces: nonces(side) }),
      bytes,
    );
  });
}

Deno.test("stimEncrypt() rebuilds the profile bundle from scratch", async () => {
  const side: Json = readSidecar("stim/profile-bundle.stim.json");
  const tim = newTim();
  assert.equal(text(tim.config), TIM_DEFAULT_CONFIG);
  tim.config = new TextEncoder().encode(side.expected.config_utf8);
  assert.deepEqual(
    await stimEncrypt(tim, side.password, { nonces: nonces(side) }),
    readVector("stim/profile-bundle.stim"),
  );
});

function stimWithPayload(payload: Uint8Array): Uint8Array {
  return trixEncode({ magic: "STIM", header: {}, payload });
}

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof BorgError && e.code === code,
    code,
  );
}

Deno.test("stimOpen() rejects a FF FF FF FF length prefix with a typed error", () => {
  expectCode(
    () =>
      stimOpen(
        stimWithPayload(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0])),
        "pw",
      ),
    "invalid_payload",
  );
  for (const c of [0xfffffffc, 0xfffffffd, 0xfffffffe, 0x7fffffff, 3]) {
    const p = new Uint8Array(6);
    new DataView(p.buffer).setUint32(0, c);
    expectCode(() => stimOpen(stimWithPayload(p), "pw"), "invalid_payload");
  }
  expectCode(
    () => stimOpen(stimWithPayload(new Uint8Array(3)), "pw"),
    "invalid_payload",
  );
  expectCode(
    () => stimOpen(stimWithPayload(new Uint8Array(4)), "pw"),
    "ciphertext_too_short",
  );
});

Deno.test("stimOpen() rejects tampering, truncation and a wrong password", () => {
  const side: Json = readSidecar("stim/profile-bundle.stim.json");
  const bytes = readVector("stim/profile-bundle.stim");
  const key = SmsgKey.fromPassword(side.password);
  // The header is ignored (as in Go): editing it does not matter.
  const c = trixDecode(bytes, "STIM");
  const replaced = trixEncode({
    magic: "STIM",
    header: { tim: false },
    payload: c.payload.slice(),
  });
  assert.equal(text(stimOpen(replaced, key).config), side.expected.config_utf8);
  const start = 9 + side.trix.header_len + 4;
  for (let i = start; i < bytes.length; i += 7) {
    const t = bytes.slice();
    t[i]! ^= 1;
    expectCode(() => stimOpen(t, key), "decryption_failed");
  }
  for (let n = 0; n < bytes.length; n += 13) {
    assert.throws(() => stimOpen(bytes.subarray(0, n), key), BorgError);
  }
  expectCode(() => stimOpen(bytes, "wrong"), "decryption_failed");
  assert.throws(() => stimOpen(bytes, ""), RangeError);
  const smsg = readVector("smsg/p2p-disconnect.smsg");
  expectCode(() => stimOpen(smsg, key), "invalid_magic");
});

Deno.test("stimOpen() fuzz: random payloads end in BorgError", () => {
  const key = SmsgKey.fromPassword("pw");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (payload) => {
      try {
        stimOpen(stimWithPayload(payload), key);
        return false;
      } catch (e) {
        return e instanceof BorgError;
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("DataNode.toTar() of an empty DataNode is 1024 zero bytes", async () => {
  assert.deepEqual(await new DataNode().toTar(), new Uint8Array(1024));
});

Deno.test("DataNode.fromTar() keeps regular files like Go", async () => {
  const long = "d/".repeat(80) + "long-name.txt";
  const t = await makeTar([
    { name: "dir/", type: "directory" },
    { name: "/abs.txt", body: "a" },
    { name: "x", body: "first" },
    { name: "link", type: "symlink", linkname: "/etc/passwd" },
    { name: "hard", type: "link", linkname: "x" },
    { name: "x", body: "second" },
    { name: long, body: "pax" },
  ]);
  const dn = await DataNode.fromTar(atOddOffset(t));
  assert.deepEqual(dn.paths(), ["abs.txt", "x", long]);
  assert.equal(text(dn.getFile("x")), "second");
  assert.equal(text(dn.getFile(long)), "pax");
  const back = await DataNode.fromTar(await dn.toTar());
  assert.deepEqual(back.paths(), dn.paths());
});

Deno.test("DataNode.fromTar() rejects malformed archives and enforces caps", async () => {
  const t = await makeTar([{ name: "a", body: "x".repeat(600) }, {
    name: "b",
    body: "y",
  }]);
  for (const n of [100, 512, 700]) {
    await assert.rejects(
      DataNode.fromTar(t.subarray(0, n)),
      (e: unknown) => e instanceof BorgError && e.code === "invalid_tar",
    );
  }
  const bad = t.slice();
  bad[148] = 0x39; // checksum field
  await assert.rejects(DataNode.fromTar(bad), BorgError);
  await assert.rejects(
    DataNode.fromTar(t, { maxEntries: 1 }),
    (e: unknown) => e instanceof BorgError && e.code === "invalid_tar",
  );
  await assert.rejects(
    DataNode.fromTar(t, { maxTotalBytes: 600 }),
    (e: unknown) => e instanceof BorgError && e.code === "invalid_tar",
  );
  assert.equal((await DataNode.fromTar(t, { maxTotalBytes: 601 })).size, 2);
});

Deno.test("DataNode.fromTar() fuzz: random bytes end in BorgError or a DataNode", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
      try {
        await DataNode.fromTar(bytes);
        return true;
      } catch (e) {
        return e instanceof BorgError;
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("stimEncrypt() and stimDecrypt() round trip files", async () => {
  const tim = newTim();
  tim.rootfs.addFile("/bin/tool", new Uint8Array([1, 2, 3]));
  tim.rootfs.addFile("etc/conf", new TextEncoder().encode("k=v"));
  assert.throws(() => tim.rootfs.addFile("dir/", new Uint8Array()), RangeError);
  const key = SmsgKey.fromPassword("pw");
  const back = await stimDecrypt(await stimEncrypt(tim, key), key);
  assert.deepEqual(back.rootfs.paths(), ["bin/tool", "etc/conf"]);
  assert.deepEqual(back.rootfs.getFile("bin/tool"), new Uint8Array([1, 2, 3]));
  assert.equal(text(back.config), TIM_DEFAULT_CONFIG);
});
