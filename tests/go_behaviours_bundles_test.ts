/**
 * The Go test behaviours of node.md §11.10 (bundles) that the unit tests
 * beside `node/bundle.ts` do not already assert, through the public API
 * (`@lthn/p2p/node`) with real files in temporary directories.
 *
 * Go tests its tar extraction (`extractTarball`, unexported) directly; ours is
 * internal too (`node/_extract_test.ts` covers it), so here the same archives
 * go through the public path a worker uses: a STIM whose rootfs is the
 * archive, opened by `extractMinerBundle`.
 */

import assert from "node:assert/strict";
import {
  type Bundle,
  bundleChecksum,
  BundleError,
  type BundleType,
  createMinerBundle,
  createProfileBundle,
  createProfileBundleUnencrypted,
  decodeBundle,
  extractMinerBundle,
  extractProfileBundle,
  readBundle,
  stimSeal,
  streamBundle,
  TIM_DEFAULT_CONFIG,
  verifyBundle,
} from "@lthn/p2p/node";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PASSWORD = "go-behaviours-password";

const isCode = (code: string) => (e: unknown) =>
  e instanceof BundleError && e.code === code;

/** One entry of a hand-built ustar archive. */
interface Entry {
  name: string;
  type?: "file" | "dir" | "symlink";
  body?: string | Uint8Array;
  mode?: number;
  linkname?: string;
}

function octal(field: Uint8Array, at: number, width: number, n: number): void {
  const text = n.toString(8).padStart(width - 1, "0");
  field.set(enc.encode(text), at);
}

/** Builds a POSIX ustar archive (our own writer, independent of the library's). */
function ustar(entries: Entry[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const body = e.type === undefined || e.type === "file"
      ? (typeof e.body === "string"
        ? enc.encode(e.body)
        : e.body ?? new Uint8Array())
      : new Uint8Array();
    const h = new Uint8Array(512);
    h.set(enc.encode(e.name), 0);
    octal(h, 100, 8, e.mode ?? (e.type === "dir" ? 0o755 : 0o644));
    octal(h, 108, 8, 0);
    octal(h, 116, 8, 0);
    octal(h, 124, 12, body.length);
    octal(h, 136, 12, 1_700_000_000);
    h[156] = e.type === "dir" ? 0x35 : e.type === "symlink" ? 0x32 : 0x30;
    if (e.linkname !== undefined) h.set(enc.encode(e.linkname), 157);
    h.set(enc.encode("ustar\u000000"), 257);
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\u0000 "), 148);
    blocks.push(h);
    const padded = new Uint8Array(Math.ceil(body.length / 512) * 512);
    padded.set(body);
    blocks.push(padded);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** A miner bundle whose rootfs is exactly `tar` (as a Go sender could make). */
function minerBundleOf(tar: Uint8Array, name = "xmrig"): Bundle {
  const data = stimSeal({ config: enc.encode("{}"), rootfsTar: tar }, PASSWORD);
  return { type: "miner", name, data, checksum: bundleChecksum(data) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "gb_" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, prefix: string): Promise<void> {
    for await (const e of Deno.readDir(d)) {
      out.push(prefix + e.name + (e.isDirectory ? "/" : ""));
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${prefix}${e.name}/`);
    }
  }
  try {
    await walk(dir, "");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

const ELF = "\u007fELF fake xmrig binary";

Deno.test("§11.10 an unencrypted profile bundle: type, name, checksum, data; verification", () => {
  const json = '{"pool":"pool.example:3333"}';
  const b = createProfileBundleUnencrypted(json, "plain-profile");
  assert.equal(b.type, "profile");
  assert.equal(b.name, "plain-profile");
  assert.notEqual(b.checksum, "");
  assert.deepEqual(b.data, enc.encode(json));
  assert.ok(verifyBundle(b));
  assert.ok(!verifyBundle({ ...b, checksum: "0".repeat(64) }));
  const modified = b.data.slice();
  modified[0] = 0x5b;
  assert.ok(!verifyBundle({ ...b, data: modified }));
});

// §11.10 "JSON detection". Go's isJSON is unexported, and so is ours: it is
// the first-byte check inside extractProfileBundle. JSON data is returned as
// is whatever the password; anything else is opened as STIM and fails.
Deno.test("§11.10 JSON detection: {…}, […], {} and [] are plain JSON profiles", async () => {
  for (const json of ['{"pool":"x","threads":2}', "[1,2,3]", "{}", "[]"]) {
    const b = createProfileBundleUnencrypted(json, "p");
    assert.equal(dec.decode(await extractProfileBundle(b, "any")), json);
    assert.equal(dec.decode(await extractProfileBundle(b, "")), json);
  }
});

Deno.test("§11.10 JSON detection: binary, plain text and empty data are not JSON", async () => {
  const notJson: Uint8Array[] = [
    new Uint8Array([0x00, 0x01, 0xfe, 0xff]),
    enc.encode("plain text profile"),
    new Uint8Array(),
  ];
  for (const data of notJson) {
    const b = createProfileBundleUnencrypted(data, "p");
    await assert.rejects(
      extractProfileBundle(b, PASSWORD),
      isCode("decryption_failed"),
      JSON.stringify([...data]),
    );
  }
});

Deno.test("§11.10 checksums are deterministic, data-dependent, 64 lowercase hex", () => {
  const a = enc.encode("bundle data");
  assert.equal(bundleChecksum(a), bundleChecksum(a.slice()));
  assert.notEqual(bundleChecksum(a), bundleChecksum(enc.encode("bundle datA")));
  for (const d of [a, new Uint8Array(), new Uint8Array(100_000).fill(7)]) {
    assert.match(bundleChecksum(d), /^[0-9a-f]{64}$/);
  }
  assert.equal(
    bundleChecksum(new Uint8Array()),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("§11.10 stream then read reproduces name, checksum and data", async () => {
  const b = createProfileBundleUnencrypted('{"a":"<b>&"}', "profile-1");
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const reading = readBundle(readable);
  await streamBundle(b, writable);
  await writable.close();
  const back = await reading;
  assert.equal(back.type, "profile");
  assert.equal(back.name, "profile-1");
  assert.equal(back.checksum, b.checksum);
  assert.deepEqual(back.data, b.data);
  assert.ok(verifyBundle(back));
});

Deno.test("§11.10 streaming an empty bundle reads back (Go nil data is null)", async () => {
  const empty: Bundle = {
    type: "miner",
    name: "empty",
    data: new Uint8Array(),
    checksum: bundleChecksum(new Uint8Array()),
  };
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const reading = readBundle(readable);
  await streamBundle(empty, writable);
  await writable.close();
  const back = await reading;
  assert.equal(back.name, "empty");
  assert.equal(back.data.length, 0);
  assert.equal(back.checksum, empty.checksum);
  // What Go's StreamBundle writes for a nil Data field.
  const fromGo = await readBundle(
    '{"type":"miner","name":"empty","data":null,"checksum":""}\n',
  );
  assert.equal(fromGo.data.length, 0);
  assert.equal(fromGo.name, "empty");
});

Deno.test("§11.10 bundle type strings are profile, miner and full", () => {
  const types: BundleType[] = ["profile", "miner", "full"];
  for (const type of types) {
    const b = decodeBundle(
      `{"type":"${type}","name":"n","data":"","checksum":""}`,
    );
    assert.equal(b.type, type);
  }
  assert.throws(
    () => decodeBundle('{"type":"other","name":"n","data":"","checksum":""}'),
    isCode("invalid_bundle"),
  );
});

Deno.test("§11.10 an encrypted profile differs from its input and extracts back", async () => {
  const json = '{"pool":"pool.example:3333","threads":4}';
  const b = await createProfileBundle(json, "enc", PASSWORD);
  assert.equal(b.type, "profile");
  assert.equal(b.name, "enc");
  assert.notDeepEqual(b.data, enc.encode(json));
  assert.ok(!dec.decode(b.data).includes("pool.example"));
  assert.equal(dec.decode(await extractProfileBundle(b, PASSWORD)), json);
});

Deno.test("§11.10 file1.txt, dir/file2.json and miners/xmrig extract intact; xmrig reported executable", async () => {
  await withDir(async (root) => {
    const files = {
      "file1.txt": "hello from file1",
      "dir/file2.json": '{"key":"value"}',
      "miners/xmrig": ELF,
    };
    const tar = ustar([
      { name: "file1.txt", body: files["file1.txt"] },
      { name: "dir/file2.json", body: files["dir/file2.json"] },
      { name: "miners/xmrig", body: files["miners/xmrig"], mode: 0o755 },
    ]);
    const dest = `${root}/install`;
    const r = await extractMinerBundle(minerBundleOf(tar), PASSWORD, dest);
    for (const [name, body] of Object.entries(files)) {
      assert.equal(await Deno.readTextFile(`${dest}/${name}`), body, name);
    }
    // Go's DataNode drops the 0755 (node.md §13 item 34), so Go reports "";
    // we restore the execute bit on the file that starts like a program.
    assert.equal(r.minerPath, `${dest}/miners/xmrig`);
    assert.ok(((await Deno.stat(r.minerPath)).mode! & 0o100) !== 0);
    assert.equal(dec.decode(r.config), "{}");
  });
});

Deno.test("§11.10 an empty tar extracts with an empty path and no files", async () => {
  await withDir(async (root) => {
    const r = await extractMinerBundle(
      minerBundleOf(new Uint8Array(1024)),
      PASSWORD,
      `${root}/install`,
    );
    assert.equal(r.minerPath, "");
    assert.deepEqual(
      (await tree(`${root}/install`)).filter((n) => !n.endsWith("/")),
      [],
    );
  });
});

Deno.test("§11.10 non-executable files extract without error", async () => {
  await withDir(async (root) => {
    const dest = `${root}/install`;
    const r = await extractMinerBundle(
      minerBundleOf(ustar([
        { name: "config.json", body: '{"a":1}', mode: 0o644 },
        { name: "README", body: "read me", mode: 0o600 },
      ])),
      PASSWORD,
      dest,
    );
    assert.equal(r.minerPath, "");
    assert.deepEqual(await tree(dest), ["README", "config.json"]);
    for (const f of ["README", "config.json"]) {
      assert.equal((await Deno.stat(`${dest}/${f}`)).mode! & 0o111, 0, f);
    }
  });
});

Deno.test("§11.10 a directory entry followed by a file inside it extracts", async () => {
  await withDir(async (root) => {
    const dest = `${root}/install`;
    await extractMinerBundle(
      minerBundleOf(ustar([
        { name: "mydir/", type: "dir" },
        { name: "mydir/inner.txt", body: "inner content" },
      ])),
      PASSWORD,
      dest,
    );
    assert.deepEqual(await tree(dest), ["mydir/", "mydir/inner.txt"]);
    assert.equal(
      await Deno.readTextFile(`${dest}/mydir/inner.txt`),
      "inner content",
    );
  });
});

Deno.test("§11.10 files in two different directories extract", async () => {
  await withDir(async (root) => {
    const dest = `${root}/install`;
    await extractMinerBundle(
      minerBundleOf(ustar([
        { name: "a/", type: "dir" },
        { name: "a/one.txt", body: "one" },
        { name: "b/", type: "dir" },
        { name: "b/two.txt", body: "two" },
      ])),
      PASSWORD,
      dest,
    );
    assert.deepEqual(await tree(dest), ["a/", "a/one.txt", "b/", "b/two.txt"]);
    assert.equal(await Deno.readTextFile(`${dest}/a/one.txt`), "one");
    assert.equal(await Deno.readTextFile(`${dest}/b/two.txt`), "two");
  });
});

Deno.test("§11.10 a symlink entry is skipped without error and nothing is created", async () => {
  await withDir(async (root) => {
    const dest = `${root}/install`;
    const r = await extractMinerBundle(
      minerBundleOf(ustar([
        { name: "evil-link", type: "symlink", linkname: "/etc/passwd" },
      ])),
      PASSWORD,
      dest,
    );
    assert.equal(r.minerPath, "");
    assert.deepEqual(await tree(dest), []);
  });
});

Deno.test("§11.10 tar entries ../../etc/passwd and .. are rejected, nothing written", async () => {
  for (const name of ["../../etc/passwd", ".."]) {
    await withDir(async (root) => {
      await Deno.mkdir(`${root}/data`);
      const dest = `${root}/data/install`;
      await assert.rejects(
        extractMinerBundle(
          minerBundleOf(ustar([{ name, body: "root:x:0:0" }])),
          PASSWORD,
          dest,
        ),
        isCode("path_traversal"),
        name,
      );
      assert.deepEqual(await tree(root), ["data/"], name);
    });
  }
});

// Go's extractTarball rejects "/etc/passwd" (tested on the unexported
// function; ours: node/_extract_test.ts "absolute path"). On the public path,
// Go's and our DataNode strip the leading "/" first, so the file lands inside
// the install directory and nothing outside it is touched.
Deno.test("§11.10 /etc/passwd in a miner bundle stays inside the install directory", async () => {
  await withDir(async (root) => {
    const dest = `${root}/install`;
    await extractMinerBundle(
      minerBundleOf(ustar([{ name: "/etc/passwd", body: "not-root" }])),
      PASSWORD,
      dest,
    );
    assert.deepEqual(await tree(root), [
      "install/",
      "install/etc/",
      "install/etc/passwd",
    ]);
    assert.equal(await Deno.readTextFile(`${dest}/etc/passwd`), "not-root");
  });
});

Deno.test("§11.10 miner bundles: missing file fails, no profile succeeds, bad checksum fails", async () => {
  await withDir(async (root) => {
    await assert.rejects(
      createMinerBundle(`${root}/does-not-exist`, null, "m", PASSWORD),
      isCode("io_failed"),
    );
    await Deno.writeTextFile(`${root}/xmrig`, "#!/bin/sh\necho mining\n");
    const noProfile = await createMinerBundle(
      `${root}/xmrig`,
      undefined,
      "miner-np",
      PASSWORD,
    );
    assert.equal(noProfile.type, "miner");
    assert.equal(noProfile.name, "miner-np");
    assert.ok(verifyBundle(noProfile));
    const r = await extractMinerBundle(noProfile, PASSWORD, `${root}/out`);
    assert.equal(dec.decode(r.config), TIM_DEFAULT_CONFIG);
    assert.equal(
      await Deno.readTextFile(r.minerPath),
      "#!/bin/sh\necho mining\n",
    );
    const bad = { ...noProfile, checksum: "0".repeat(64) };
    await assert.rejects(
      extractMinerBundle(bad, PASSWORD, `${root}/bad`),
      isCode("checksum_mismatch"),
    );
    await assert.rejects(Deno.stat(`${root}/bad`), Deno.errors.NotFound);
  });
});
