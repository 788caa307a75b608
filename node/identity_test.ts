import assert from "node:assert/strict";
import {
  CHALLENGE_SIZE,
  computeSharedSecret,
  decodePublicKey,
  deriveNodeId,
  encodePublicKey,
  generateChallenge,
  generateKeyPair,
  IdentityError,
  nodeIdMatchesKey,
  publicKeyFromPrivate,
  secretToPassword,
  signChallenge,
  verifyChallenge,
} from "./identity.ts";
import { createHash } from "node:crypto";
import { fromHex, toHex } from "./_base64.ts";
import { x25519 } from "@noble/curves/ed25519.js";

const spec = JSON.parse(
  await Deno.readTextFile(
    new URL("../testdata/identity/spec-vectors.json", import.meta.url),
  ),
);
const go = JSON.parse(
  await Deno.readTextFile(
    new URL("../testdata/identity/primitives.json", import.meta.url),
  ),
).identity;

Deno.test("publicKeyFromPrivate() and deriveNodeId() match the spec vectors", () => {
  const a = publicKeyFromPrivate(fromHex(spec.privateA));
  const b = publicKeyFromPrivate(fromHex(spec.privateB));
  assert.equal(encodePublicKey(a), spec.publicA);
  assert.equal(encodePublicKey(b), spec.publicB);
  assert.equal(deriveNodeId(a), spec.nodeIdA);
  assert.equal(deriveNodeId(spec.publicB), spec.nodeIdB);
});

Deno.test("computeSharedSecret() matches the spec vectors from both ends", () => {
  const ab = computeSharedSecret(fromHex(spec.privateA), spec.publicB);
  const ba = computeSharedSecret(
    fromHex(spec.privateB),
    decodePublicKey(spec.publicA),
  );
  assert.equal(toHex(ab), spec.secret);
  assert.deepEqual(ab, ba);
  assert.equal(secretToPassword(ab), spec.password);
  // The raw X25519 output before hashing, checked with an independent library.
  const raw = x25519.getSharedSecret(
    fromHex(spec.privateA),
    decodePublicKey(spec.publicB),
  );
  assert.equal(toHex(raw), spec.rawX25519);
});

Deno.test("signChallenge() matches the spec and Go vectors", () => {
  const secret = fromHex(spec.secret);
  const challenge = decodePublicKey(spec.challenge); // 32 bytes of base64
  const response = signChallenge(challenge, secret);
  assert.equal(toHex(response), spec.response);
  assert.equal(encodePublicKey(response), spec.responseBase64);

  const goSecret = fromHex(go.shared_secret_hex);
  assert.equal(
    toHex(signChallenge(fromHex(go.challenge_hex), goSecret)),
    go.challenge_response_hex,
  );
});

Deno.test("the Go-made identity vectors derive the same IDs, secret, password and key", () => {
  for (const node of [go.nodeA, go.nodeB]) {
    const pub = publicKeyFromPrivate(fromHex(node.private_key_hex));
    assert.equal(encodePublicKey(pub), node.public_key_b64);
    assert.equal(deriveNodeId(pub), node.node_id);
  }
  const s1 = computeSharedSecret(
    fromHex(go.nodeA.private_key_hex),
    go.nodeB.public_key_b64,
  );
  const s2 = computeSharedSecret(
    fromHex(go.nodeB.private_key_hex),
    go.nodeA.public_key_b64,
  );
  assert.equal(toHex(s1), go.shared_secret_hex);
  assert.deepEqual(s1, s2);
  const password = secretToPassword(s1);
  assert.equal(password, go.smsg_password);
  assert.equal(
    createHash("sha256").update(password).digest("hex"),
    go.smsg_key_hex,
  );
});

Deno.test("computeSharedSecret() rejects low-order and malformed peer keys", () => {
  const priv = generateKeyPair().privateKey;
  // All-zero and order-8 points give an all-zero X25519 output.
  const lowOrder = [
    new Uint8Array(32),
    fromHex("0100000000000000000000000000000000000000000000000000000000000000"),
    fromHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
  ];
  for (const key of lowOrder) {
    assert.throws(
      () => computeSharedSecret(priv, key),
      (e: unknown) => e instanceof IdentityError && e.code === "low_order_key",
    );
  }
  for (
    const bad of [
      "",
      "abc",
      "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9_AsrhtHHw=",
      "AAAA",
    ]
  ) {
    assert.throws(
      () => computeSharedSecret(priv, bad),
      (e: unknown) =>
        e instanceof IdentityError && e.code === "invalid_peer_key",
    );
  }
  assert.throws(
    () => computeSharedSecret(priv, new Uint8Array(31)),
    (e: unknown) => e instanceof IdentityError && e.code === "invalid_peer_key",
  );
});

Deno.test("decodePublicKey() is strict: unpadded, URL-safe and wrong lengths fail", () => {
  const ok = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";
  assert.equal(decodePublicKey(ok).length, 32);
  for (
    const bad of [ok.slice(0, -1), ok.replace("/", "_"), ok + "AAAA", " " + ok]
  ) {
    assert.throws(() => decodePublicKey(bad), RangeError);
  }
});

Deno.test("generateChallenge() gives 32 random bytes, never repeating", () => {
  const a = generateChallenge();
  const b = generateChallenge();
  assert.equal(a.length, CHALLENGE_SIZE);
  assert.ok(a.some((x) => x !== 0));
  assert.notDeepEqual(a, b);
});

Deno.test("verifyChallenge() fails for another challenge, secret, flipped byte or length", () => {
  const secret = generateChallenge();
  const c = generateChallenge();
  const r = signChallenge(c, secret);
  assert.ok(verifyChallenge(c, r, secret));
  assert.ok(!verifyChallenge(generateChallenge(), r, secret));
  assert.ok(!verifyChallenge(c, r, generateChallenge()));
  for (let i = 0; i < r.length; i++) {
    const flipped = r.slice();
    flipped[i]! ^= 0x01;
    assert.ok(!verifyChallenge(c, flipped, secret));
  }
  assert.ok(!verifyChallenge(c, r.subarray(0, 31), secret));
  assert.ok(!verifyChallenge(c, new Uint8Array(64), secret));
});

Deno.test("a response signed with B's secret verifies with A's secret", () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const c = generateChallenge();
  const r = signChallenge(c, computeSharedSecret(b.privateKey, a.publicKey));
  assert.ok(
    verifyChallenge(c, r, computeSharedSecret(a.privateKey, b.publicKey)),
  );
});

Deno.test("nodeIdMatchesKey() binds IDs to keys", () => {
  const k = generateKeyPair();
  const pub = encodePublicKey(k.publicKey);
  assert.ok(nodeIdMatchesKey(deriveNodeId(pub), pub));
  assert.ok(!nodeIdMatchesKey("0".repeat(32), pub));
  assert.ok(!nodeIdMatchesKey(deriveNodeId(pub), "garbage"));
});

Deno.test("publicKeyFromPrivate() rejects a wrong-length key", () => {
  assert.throws(() => publicKeyFromPrivate(new Uint8Array(31)), RangeError);
});
