/**
 * PeerSettings: durable before resolving, damaged files kept aside,
 * bad values refused.
 */

import assert from "node:assert/strict";
import { Logger, LogLevel } from "../../logging/mod.ts";
import { PEER_SETTINGS_SUFFIX, PeerSettings } from "./settings.ts";

const quiet = new Logger({ level: LogLevel.Error, sink: { write() {} } });

Deno.test("PeerSettings writes each change before resolving", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = await PeerSettings.open(`${dir}/peers.json`, { logger: quiet });
    await s.setDial("p1", false);
    await s.setDial("p2", false);
    await s.setAuthMode("allowlist");
    const onDisk = () =>
      JSON.parse(
        Deno.readTextFileSync(`${dir}/peers.json${PEER_SETTINGS_SUFFIX}`),
      );
    assert.deepEqual(onDisk(), { noDial: ["p1", "p2"], authMode: "allowlist" });
    await s.setDial("p1", true);
    await s.forget("p2");
    assert.deepEqual(onDisk(), { noDial: [], authMode: "allowlist" });
    assert.equal(s.isDialDisabled("p1"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PeerSettings keeps a damaged file aside and starts empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/peers.json${PEER_SETTINGS_SUFFIX}`;
    for (
      const bad of ["{nope", "[]", '{"authMode":"sometimes"}', '{"noDial":[1]}']
    ) {
      await Deno.writeTextFile(path, bad);
      const s = await PeerSettings.open(`${dir}/peers.json`, { logger: quiet });
      assert.equal(s.authMode, undefined, bad);
      assert.deepEqual(s.listNoDial(), [], bad);
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    }
    const aside = [...Deno.readDirSync(dir)].filter((e) =>
      e.name.includes(".corrupt-")
    );
    assert.ok(aside.length >= 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PeerSettings refuses bad values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = await PeerSettings.open(`${dir}/peers.json`, { logger: quiet });
    await assert.rejects(s.setAuthMode("closed" as never), TypeError);
    await assert.rejects(s.setDial("", false), RangeError);
    await assert.rejects(s.setDial("x".repeat(200), false), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
