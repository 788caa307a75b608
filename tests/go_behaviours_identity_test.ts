/**
 * The Go test behaviours of node.md §11.1 (identity) not already pinned by
 * node/identity_test.ts and node/identity_store_test.ts, through the public
 * API (`@lthn/p2p/node`), with identities on disk in a temporary directory.
 */

import assert from "node:assert/strict";
import {
  generateChallenge,
  NODE_ROLES,
  NodeManager,
  signChallenge,
  verifyChallenge,
} from "@lthn/p2p/node";

Deno.test("§11.1 role strings are controller, worker and dual", () => {
  assert.deepEqual([...NODE_ROLES], ["controller", "worker", "dual"]);
});

Deno.test("§11.1 signing is deterministic for fixed inputs", () => {
  const challenge = new Uint8Array(32).map((_, i) => i);
  const secret = new Uint8Array(32).fill(0xab);
  const a = signChallenge(challenge, secret);
  const b = signChallenge(challenge.slice(), secret.slice());
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.ok(verifyChallenge(challenge, a, secret));
});

Deno.test("§11.1 two nodes generated on disk agree on a 32-byte secret; B's response verifies with A's secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gb_identity_" });
  try {
    const a = await NodeManager.open({
      keyPath: `${dir}/a/private.key`,
      configPath: `${dir}/a/node.json`,
    });
    const b = await NodeManager.open({
      keyPath: `${dir}/b/private.key`,
      configPath: `${dir}/b/node.json`,
    });
    const ia = await a.generateIdentity("node-a", "controller");
    const ib = await b.generateIdentity("node-b", "worker");
    assert.notEqual(ia.id, ib.id);
    const sa = a.deriveSharedSecret(ib.publicKey);
    const sb = b.deriveSharedSecret(ia.publicKey);
    assert.equal(sa.length, 32);
    assert.deepEqual(sa, sb);
    const challenge = generateChallenge();
    assert.ok(verifyChallenge(challenge, signChallenge(challenge, sb), sa));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
