import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileIfExists, removeStaleTemps } from "./_fs.ts";
import { writeFileAtomic } from "./files.ts";

Deno.test("writeFileAtomic() replaces the file whole and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "f.json");
    await writeFileAtomic(path, "one", { mode: 0o600 });
    await writeFileAtomic(path, "two");
    assert.equal(await Deno.readTextFile(path), "two");
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name),
      ["f.json"],
    );
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() into a missing parent that cannot be created fails and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "file"), "x");
    await assert.rejects(writeFileAtomic(join(dir, "file", "child.json"), "y"));
    assert.equal(await Deno.readTextFile(join(dir, "file")), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readFileIfExists() tells absent apart from other failures", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readFileIfExists(join(dir, "none")), undefined);
    await assert.rejects(readFileIfExists(dir)); // a directory is not readable as a file
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("removeStaleTemps() removes only leftovers of dead writers", async () => {
  if (Deno.build.os !== "linux") return;
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "peers.json");
    // A process that has exited: its PID is free (a reused PID only keeps the file).
    const child = new Deno.Command("true").spawn();
    const deadPid = child.pid;
    await child.status;
    await Deno.writeTextFile(`${path}.${deadPid}.1.tmp`, "partial");
    await Deno.writeTextFile(`${path}.${Deno.pid}.9.tmp`, "mine, in progress");
    await Deno.writeTextFile(
      `${path}.allowlist.json.${deadPid}.1.tmp`,
      "other file",
    );
    await Deno.writeTextFile(join(dir, "unrelated.tmp"), "x");
    const removed = await removeStaleTemps(path);
    assert.deepEqual(removed, [`peers.json.${deadPid}.1.tmp`]);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(
      left,
      [
        `peers.json.${Deno.pid}.9.tmp`,
        `peers.json.allowlist.json.${deadPid}.1.tmp`,
        "unrelated.tmp",
      ].sort(),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
