import assert from "node:assert/strict";
import { join } from "node:path";
import { identityJson, NodeManager, safeNodeName } from "./identity_store.ts";
import { deriveNodeId, IdentityError, NODE_ROLES } from "./identity.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lthn-identity-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function paths(dir: string) {
  return {
    keyPath: join(dir, "data", "node", "private.key"),
    configPath: join(dir, "config", "node.json"),
  };
}

Deno.test("NodeManager.open() on empty paths has no identity", async () => {
  await withDir(async (dir) => {
    const nm = await NodeManager.open(paths(dir));
    assert.equal(nm.hasIdentity(), false);
    assert.equal(nm.getIdentity(), undefined);
    assert.equal(nm.loadError, undefined);
    assert.throws(
      () =>
        nm.deriveSharedSecret("B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw="),
      (e: unknown) => e instanceof IdentityError && e.code === "no_identity",
    );
  });
});

Deno.test("generateIdentity() writes both files; a second manager loads the same identity", async () => {
  await withDir(async (dir) => {
    const p = paths(dir);
    const nm = await NodeManager.open(p);
    const id = await nm.generateIdentity("alpha", "controller");
    assert.equal(id.name, "alpha");
    assert.equal(id.role, "controller");
    assert.equal(id.id, deriveNodeId(id.publicKey));
    assert.match(id.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    const key = await Deno.readFile(p.keyPath);
    assert.equal(key.length, 32);
    const text = await Deno.readTextFile(p.configPath);
    assert.equal(text, identityJson(id));
    assert.ok(!text.endsWith("\n"));

    const again = await NodeManager.open(p);
    assert.deepEqual(again.getIdentity(), id);
    const third = await NodeManager.open({
      keyPath: join(dir, "x", "k"),
      configPath: join(dir, "x", "n.json"),
    });
    const other = await third.generateIdentity("gamma", "worker");
    assert.deepEqual(
      again.deriveSharedSecret(other.publicKey),
      nm.deriveSharedSecret(other.publicKey),
    );
    assert.deepEqual(
      again.deriveSharedSecret(other.publicKey),
      third.deriveSharedSecret(id.publicKey),
    );
    assert.equal(nm.deriveSharedSecret(other.publicKey).length, 32);
  });
});

Deno.test("the private key is created 0600 and its directory 0700", async () => {
  if (Deno.build.os === "windows") return;
  await withDir(async (dir) => {
    const p = paths(dir);
    const nm = await NodeManager.open(p);
    await nm.generateIdentity("alpha", "worker");
    assert.equal((await Deno.stat(p.keyPath)).mode! & 0o777, 0o600);
    assert.equal(
      (await Deno.stat(join(dir, "data", "node"))).mode! & 0o777,
      0o700,
    );
    assert.equal((await Deno.stat(p.configPath)).mode! & 0o777, 0o644);
    // No temporary files are left beside the key.
    const names = [...Deno.readDirSync(join(dir, "data", "node"))].map((e) =>
      e.name
    );
    assert.deepEqual(names, ["private.key"]);
  });
});

Deno.test("a Go-written identity loads with its ID, name, key, time and role", async () => {
  await withDir(async (dir) => {
    const p = paths(dir);
    await Deno.mkdir(join(dir, "data", "node"), { recursive: true });
    await Deno.mkdir(join(dir, "config"), { recursive: true });
    await Deno.copyFile(
      new URL("../testdata/identity/go-server-private.key", import.meta.url),
      p.keyPath,
    );
    const goJson = await Deno.readTextFile(
      new URL("../testdata/identity/go-server-node.json", import.meta.url),
    );
    await Deno.writeTextFile(p.configPath, goJson);
    const nm = await NodeManager.open(p);
    const id = nm.getIdentity();
    assert.deepEqual(id, JSON.parse(goJson));
    // We write it back exactly as Go did.
    assert.equal(identityJson(id!), goJson);
  });
});

Deno.test("delete() clears memory and files; deleting with no files succeeds", async () => {
  await withDir(async (dir) => {
    const p = paths(dir);
    const nm = await NodeManager.open(p);
    await nm.delete();
    await nm.generateIdentity("a", "dual");
    await nm.delete();
    assert.equal(nm.getIdentity(), undefined);
    await assert.rejects(Deno.stat(p.keyPath), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(p.configPath), Deno.errors.NotFound);
  });
});

Deno.test("loadOrCreate() on empty paths creates a dual identity with a valid name", async () => {
  await withDir(async (dir) => {
    const p = paths(dir);
    const nm = await NodeManager.loadOrCreate(p);
    const id = nm.getIdentity()!;
    assert.equal(id.role, "dual");
    assert.ok(id.name.length > 0);
    assert.match(id.name, /^[A-Za-z0-9]([A-Za-z0-9_ -]{0,62}[A-Za-z0-9])?$/);
    await Deno.stat(p.keyPath);
    await Deno.stat(p.configPath);
    const again = await NodeManager.loadOrCreate(p);
    assert.equal(again.getIdentity()!.id, id.id);
  });
});

async function corruptCase(
  damage: (p: { keyPath: string; configPath: string }) => Promise<void>,
  code: string,
  mention: "key" | "config",
) {
  await withDir(async (dir) => {
    const p = paths(dir);
    const nm = await NodeManager.open(p);
    await nm.generateIdentity("alpha", "worker");
    await damage(p);
    const keyBefore = await Deno.readFile(p.keyPath).catch(() => undefined);
    const jsonBefore = await Deno.readFile(p.configPath).catch(() => undefined);

    const opened = await NodeManager.open(p);
    assert.equal(opened.hasIdentity(), false);
    assert.ok(opened.loadError instanceof IdentityError);
    assert.equal(opened.loadError.code, code);
    assert.ok(
      opened.loadError.message.includes(
        mention === "key" ? p.keyPath : p.configPath,
      ),
      opened.loadError.message,
    );
    await assert.rejects(
      NodeManager.loadOrCreate(p),
      (e: unknown) => e instanceof IdentityError && e.code === code,
    );
    await assert.rejects(
      opened.generateIdentity("beta", "dual"),
      IdentityError,
    );
    // Nothing was overwritten.
    assert.deepEqual(
      await Deno.readFile(p.keyPath).catch(() => undefined),
      keyBefore,
    );
    assert.deepEqual(
      await Deno.readFile(p.configPath).catch(() => undefined),
      jsonBefore,
    );
  });
}

Deno.test("a corrupt node.json is a clear error and the key is kept", async () => {
  await corruptCase(
    (p) => Deno.writeTextFile(p.configPath, "{not json"),
    "corrupt_identity",
    "config",
  );
});

Deno.test("a truncated private.key is a clear error and nothing is overwritten", async () => {
  await corruptCase(
    async (p) => {
      const key = await Deno.readFile(p.keyPath);
      await Deno.writeFile(p.keyPath, key.subarray(0, 17));
    },
    "corrupt_identity",
    "key",
  );
});

Deno.test("a node.json naming another key is refused", async () => {
  await corruptCase(
    async (p) => {
      const j = JSON.parse(await Deno.readTextFile(p.configPath));
      j.publicKey = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
      await Deno.writeTextFile(p.configPath, JSON.stringify(j));
    },
    "identity_mismatch",
    "config",
  );
});

Deno.test("a missing node.json beside a key is refused, not replaced", async () => {
  await corruptCase(
    (p) => Deno.remove(p.configPath),
    "corrupt_identity",
    "config",
  );
});

async function makeReadOnly(dir: string): Promise<() => Promise<void>> {
  if (Deno.uid() === 0) {
    // Root ignores permission bits; the immutable attribute stops it.
    const set = await new Deno.Command("chattr", { args: ["+i", dir] })
      .output();
    assert.ok(
      set.success,
      "chattr +i is needed to make a directory read-only for root",
    );
    return async () => {
      await new Deno.Command("chattr", { args: ["-i", dir] }).output();
    };
  }
  await Deno.chmod(dir, 0o500);
  return () => Deno.chmod(dir, 0o700);
}

Deno.test("generateIdentity() in a read-only directory fails clearly and changes nothing", async () => {
  if (Deno.build.os === "windows") return;
  await withDir(async (dir) => {
    const p = paths(dir);
    const first = await NodeManager.open(p);
    const before = await first.generateIdentity("alpha", "worker");
    const keyBefore = await Deno.readFile(p.keyPath);
    const restore = await makeReadOnly(join(dir, "data", "node"));
    try {
      await assert.rejects(
        first.generateIdentity("beta", "worker"),
        (e: unknown) =>
          e instanceof IdentityError && e.code === "write_failed" &&
          e.message.includes(p.keyPath),
      );
      // The in-memory identity and the key on disk are unchanged.
      assert.deepEqual(first.getIdentity(), before);
      assert.deepEqual(await Deno.readFile(p.keyPath), keyBefore);
    } finally {
      await restore();
    }
    const names = [...Deno.readDirSync(join(dir, "data", "node"))].map((e) =>
      e.name
    );
    assert.deepEqual(names, ["private.key"]);
  });
});

Deno.test("generateIdentity() rejects an unknown role", async () => {
  const nm = NodeManager.fromPrivateKey(new Uint8Array(32).fill(3), {
    name: "x",
    role: "dual",
  });
  for (const role of NODE_ROLES) assert.ok(typeof role === "string");
  await assert.rejects(
    nm.generateIdentity("x", "boss" as unknown as "dual"),
    TypeError,
  );
});

Deno.test("fromPrivateKey() builds an in-memory identity", () => {
  const priv = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const nm = NodeManager.fromPrivateKey(priv, {
    name: "a",
    role: "controller",
  });
  assert.equal(nm.getIdentity()!.id, "aaa8fff703b50b2297f4f6e13508f724");
  assert.equal(nm.keyPath, undefined);
});

Deno.test("safeNodeName() makes host names valid peer names", () => {
  assert.equal(safeNodeName("host.local"), "host-local");
  assert.equal(safeNodeName(""), "lethean-node");
  assert.equal(safeNodeName("x".repeat(100)).length, 64);
  assert.equal(safeNodeName("-a-"), "a");
});

Deno.test("the default paths follow XDG_DATA_HOME and XDG_CONFIG_HOME", async () => {
  await withDir(async (dir) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { NodeManager } from "${new URL("./mod.ts", import.meta.url)}";
         const nm = await NodeManager.loadOrCreate();
         console.log(JSON.stringify({ k: nm.keyPath, c: nm.configPath }));`,
      ],
      env: { XDG_DATA_HOME: join(dir, "d"), XDG_CONFIG_HOME: join(dir, "c") },
      stdout: "piped",
      stderr: "piped",
    });
    const out = await child.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(
      got.k,
      join(dir, "d", "lethean-desktop", "node", "private.key"),
    );
    assert.equal(got.c, join(dir, "c", "lethean-desktop", "node.json"));
    assert.equal((await Deno.readFile(got.k)).length, 32);
  });
});
