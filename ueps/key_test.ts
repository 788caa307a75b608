import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { deriveUepsKey, HmacKey, UEPS_KEY_SALT } from "./key.ts";

const enc = new TextEncoder();

Deno.test("deriveUepsKey() is HKDF-SHA256 with the UEPS salt and the context as info", () => {
  const secret = enc.encode("test-shared-secret-32-bytes!!!!!");
  for (const context of ["", "miner-control", "ünïcode"]) {
    assert.deepEqual(
      deriveUepsKey(secret, context),
      hkdf(sha256, secret, enc.encode(UEPS_KEY_SALT), enc.encode(context), 32),
    );
  }
  assert.deepEqual(deriveUepsKey(secret), deriveUepsKey(secret, ""));
});

Deno.test("deriveUepsKey() never equals the handshake oracle's HMAC of its labels", () => {
  // A Go responder returns HMAC(secret, challenge) for any challenge; the
  // derived key must not be one of those answers.
  const secret = new Uint8Array(32).fill(9);
  const key = deriveUepsKey(secret, "ctx");
  for (
    const label of [UEPS_KEY_SALT, "ctx", UEPS_KEY_SALT + "ctx", "ctx\x01"]
  ) {
    assert.notDeepEqual(key, hmac(sha256, secret, enc.encode(label)));
  }
  assert.notDeepEqual(key, secret);
});

Deno.test("deriveUepsKey() returns a fresh 32-byte buffer and checks its arguments", () => {
  const secret = new Uint8Array(32);
  const a = deriveUepsKey(secret);
  const b = deriveUepsKey(secret);
  assert.equal(a.byteLength, 32);
  assert.notEqual(a.buffer, b.buffer);
  assert.deepEqual(deriveUepsKey(new Uint8Array(0)).byteLength, 32);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => deriveUepsKey("secret"), TypeError);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => deriveUepsKey(secret, 1), TypeError);
});

Deno.test("HmacKey rejects a secret that is not bytes", () => {
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new HmacKey("secret"), TypeError);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new HmacKey(null), TypeError);
});

Deno.test("HmacKey does not keep a reference to the secret", () => {
  const secret = new Uint8Array(32).fill(1);
  const key = new HmacKey(secret);
  const before = key.digest(enc.encode("m"));
  secret.fill(0);
  assert.deepEqual(key.digest(enc.encode("m")), before);
});

Deno.test("property: HmacKey.digest() equals HMAC-SHA256 for any key and split message", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 5 }),
      (secret, parts) => {
        const key = new HmacKey(secret);
        const whole = new Uint8Array(
          parts.reduce((n, p) => n + p.byteLength, 0),
        );
        let at = 0;
        for (const p of parts) {
          whole.set(p, at);
          at += p.byteLength;
        }
        const expected = hmac(sha256, secret, whole);
        assert.deepEqual(key.digest(...parts), expected);
        // Reusable: a second digest gives the same tag.
        assert.deepEqual(key.digest(whole), expected);
        assert.deepEqual(
          new Uint8Array(createHmac("sha256", secret).update(whole).digest()),
          expected,
        );
      },
    ),
    { numRuns: 300 },
  );
});
