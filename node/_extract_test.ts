import assert from "node:assert/strict";
import { makeTar } from "./borg/_test_util.ts";
import { BundleError, extractTarball } from "./_extract.ts";

async function withDirs(
  fn: (dest: string, outside: string, root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir());
  const outside = `${root}/outside`;
  await Deno.mkdir(outside);
  try {
    await fn(`${root}/dest`, outside, root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function list(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, prefix: string) {
    for await (const e of Deno.readDir(d)) {
      out.push(prefix + e.name);
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${prefix}${e.name}/`);
    }
  }
  try {
    await walk(dir, "");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

function isCode(code: string) {
  return (e: unknown) => e instanceof BundleError && e.code === code;
}

Deno.test("extractTarball() writes files and reports the executable", async () => {
  await withDirs(async (dest) => {
    const tar = await makeTar([
      { name: "conf/", type: "directory" },
      { name: "conf/a.json", body: "{}", mode: 0o644 },
      { name: "bin/miner", body: "\x7fELF...", mode: 0o755 },
    ]);
    const r = await extractTarball(tar, dest);
    assert.equal(r.executable, `${dest}/bin/miner`);
    assert.deepEqual(r.files, [`${dest}/conf/a.json`, `${dest}/bin/miner`]);
    assert.equal((await Deno.stat(`${dest}/bin/miner`)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(`${dest}/conf/a.json`)).mode! & 0o777, 0o644);
    assert.deepEqual(await list(dest), [
      "bin",
      "bin/miner",
      "conf",
      "conf/a.json",
    ]);
  });
});

Deno.test("extractTarball() restores the execute bit Go's bundles lose", async () => {
  await withDirs(async (dest) => {
    const tar = await makeTar([
      { name: "readme", body: "text", mode: 0o600 },
      { name: "xmrig", body: "#!/bin/sh\necho\n", mode: 0o600 },
    ]);
    const r = await extractTarball(tar, dest);
    assert.equal(r.executable, `${dest}/xmrig`);
    assert.equal((await Deno.stat(`${dest}/xmrig`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dest}/readme`)).mode! & 0o777, 0o600);
    const off = await extractTarball(tar, `${dest}2`, {
      restoreExecutable: false,
    });
    assert.equal(off.executable, "");
  });
});

for (
  const [label, name, code] of [
    ["../ traversal", "../evil", "path_traversal"],
    ["nested ../ traversal", "a/../../evil", "path_traversal"],
    ["absolute path", "/tmp/evil", "absolute_path"],
  ] as const
) {
  Deno.test(`extractTarball() rejects ${label} and leaves nothing`, async () => {
    await withDirs(async (dest, _outside, root) => {
      const tar = await makeTar([
        { name: "ok/first", body: "1" },
        { name, body: "evil" },
      ]);
      await assert.rejects(extractTarball(tar, dest), isCode(code));
      assert.deepEqual(await list(root), ["outside"]);
    });
  });
}

Deno.test("extractTarball() checks names of skipped entry types too", async () => {
  await withDirs(async (dest, _o, root) => {
    const tar = await makeTar([{
      name: "../link",
      type: "symlink",
      linkname: "x",
    }]);
    await assert.rejects(extractTarball(tar, dest), isCode("path_traversal"));
    assert.deepEqual(await list(root), ["outside"]);
  });
});

Deno.test("extractTarball() skips symlink and hard-link entries", async () => {
  await withDirs(async (dest, outside) => {
    const tar = await makeTar([
      { name: "link", type: "symlink", linkname: outside },
      { name: "hard", type: "link", linkname: "/etc/passwd" },
      { name: "link/evil", body: "x" },
      { name: "fifo", type: "fifo" },
    ]);
    const r = await extractTarball(tar, dest);
    assert.deepEqual(r.files, [`${dest}/link/evil`]);
    assert.deepEqual(await list(outside), []);
    assert.ok((await Deno.lstat(`${dest}/link`)).isDirectory);
    assert.deepEqual(await list(dest), ["link", "link/evil"]);
  });
});

Deno.test("extractTarball() does not follow symlinked parents in the destination", async () => {
  await withDirs(async (dest, outside) => {
    await Deno.mkdir(dest);
    await Deno.symlink(outside, `${dest}/sub`);
    const tar = await makeTar([{ name: "sub/evil", body: "x" }]);
    await assert.rejects(extractTarball(tar, dest), isCode("path_escape"));
    assert.deepEqual(await list(outside), []);
  });
});

Deno.test("extractTarball() replaces a planted file symlink instead of writing through it", async () => {
  await withDirs(async (dest, outside) => {
    await Deno.mkdir(dest);
    await Deno.writeTextFile(`${outside}/target`, "original");
    await Deno.symlink(`${outside}/target`, `${dest}/f`);
    await extractTarball(await makeTar([{ name: "f", body: "new" }]), dest);
    assert.equal(await Deno.readTextFile(`${outside}/target`), "original");
    assert.ok((await Deno.lstat(`${dest}/f`)).isFile);
    assert.equal(await Deno.readTextFile(`${dest}/f`), "new");
  });
});

Deno.test("extractTarball() enforces the caps and removes partial files", async () => {
  await withDirs(async (dest, _o, root) => {
    const big = new Uint8Array(3000).fill(1);
    const tar = await makeTar([
      { name: "small", body: "ok" },
      { name: "dir/big", body: big },
    ]);
    await assert.rejects(
      extractTarball(tar, dest, { maxFileBytes: 2000 }),
      isCode("file_too_large"),
    );
    assert.deepEqual(await list(root), ["outside"]);
    await assert.rejects(
      extractTarball(tar, dest, { maxTotalBytes: 2500 }),
      isCode("total_too_large"),
    );
    assert.deepEqual(await list(root), ["outside"]);
    await assert.rejects(
      extractTarball(tar, dest, { maxEntries: 1 }),
      isCode("too_many_entries"),
    );
    assert.deepEqual(await list(root), ["outside"]);
    const r = await extractTarball(tar, dest, {
      maxFileBytes: 3000,
      maxTotalBytes: 3002,
      maxEntries: 2,
    });
    assert.equal(r.files.length, 2);
  });
});

Deno.test("extractTarball() keeps pre-existing files when it fails", async () => {
  await withDirs(async (dest) => {
    await Deno.mkdir(dest);
    await Deno.writeTextFile(`${dest}/keep`, "mine");
    const tar = await makeTar([{ name: "new", body: "1" }, {
      name: "../x",
      body: "2",
    }]);
    await assert.rejects(extractTarball(tar, dest), BundleError);
    assert.deepEqual(await list(dest), ["keep"]);
  });
});

Deno.test("extractTarball() rejects malformed archives", async () => {
  await withDirs(async (dest, _o, root) => {
    const tar = await makeTar([{ name: "a", body: "x".repeat(1000) }]);
    await assert.rejects(
      extractTarball(tar.subarray(0, 700), dest),
      isCode("invalid_tar"),
    );
    assert.deepEqual(await list(root), ["outside"]);
    const bad = tar.slice();
    bad[150]! ^= 0x11;
    await assert.rejects(extractTarball(bad, dest), isCode("invalid_tar"));
  });
});

Deno.test("extractTarball() refuses PAX sparse files (GNU 0.0, 0.1 and 1.0) and writes nothing", async () => {
  const variants: Record<string, string>[] = [
    // 1.0: the entry's data starts with the sparse map; the name is a stand-in.
    {
      "GNU.sparse.major": "1",
      "GNU.sparse.minor": "0",
      "GNU.sparse.name": "xmrig",
      "GNU.sparse.realsize": String(101 * 1024 * 1024),
    },
    // 0.1: the map in one record.
    {
      "GNU.sparse.size": String(101 * 1024 * 1024),
      "GNU.sparse.numblocks": "1",
      "GNU.sparse.map": "0,513",
    },
    // 0.0: offset/numbytes pairs.
    {
      "GNU.sparse.size": String(101 * 1024 * 1024),
      "GNU.sparse.numblocks": "1",
      "GNU.sparse.offset": "0",
      "GNU.sparse.numbytes": "513",
    },
  ];
  for (const pax of variants) {
    await withDirs(async (dest) => {
      const tar = await makeTar([
        { name: "ok.txt", body: "fine" },
        {
          name: "GNUSparseFile.0/xmrig",
          body: new Uint8Array(513).fill(0x31),
          mode: 0o755,
          pax,
        },
      ]);
      await assert.rejects(
        extractTarball(tar, dest),
        (e) =>
          isCode("unsupported_entry")(e) &&
          (e as Error).message.includes("sparse file"),
      );
      assert.deepEqual(await list(dest), [], "nothing left behind");
    });
  }
});
