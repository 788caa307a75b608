import assert from "node:assert/strict";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import fc from "fast-check";
import {
  AEAD_CHUNK,
  AEAD_DATA,
  AEAD_WINDOW_MAX,
  chachaPolyWasm,
} from "./chacha_wasm.ts";

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) {
    crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  }
  return out;
}

function words(key: Uint8Array): Uint32Array {
  const w = new Uint32Array(8);
  const v = new DataView(key.buffer, key.byteOffset, 32);
  for (let i = 0; i < 8; i++) w[i] = v.getUint32(i * 4, true);
  return w;
}

function check(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array): void {
  const aead = chachaPolyWasm!;
  const ref = chacha20poly1305(key, nonce).encrypt(pt);
  const data = pt.slice();
  const tag = new Uint8Array(16);
  aead.seal(words(key), nonce, data, tag);
  assert.deepEqual(
    data,
    ref.subarray(0, pt.length),
    `ciphertext, ${pt.length} bytes`,
  );
  assert.deepEqual(tag, ref.subarray(pt.length), `tag, ${pt.length} bytes`);
  const out = new Uint8Array(pt.length);
  assert.equal(aead.open(words(key), nonce, data, tag, out), true);
  assert.deepEqual(out, pt);
  // in place
  const again = data.slice();
  assert.equal(aead.open(words(key), nonce, again, tag, again), true);
  assert.deepEqual(again, pt);
}

Deno.test("WebAssembly ChaCha20-Poly1305 is available", () => {
  assert.ok(chachaPolyWasm !== undefined);
});

Deno.test("WebAssembly ChaCha20-Poly1305 equals @noble/ciphers at block and chunk edges", () => {
  const sizes = [0, 1, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 255, 256, 257];
  for (const s of [1023, 1024, 1025, 1456, 4096, 6144]) sizes.push(s);
  for (
    const s of [AEAD_CHUNK - 1, AEAD_CHUNK, AEAD_CHUNK + 1, 2 * AEAD_CHUNK + 5]
  ) {
    sizes.push(s);
  }
  for (const n of sizes) {
    check(randomBytes(32), randomBytes(12), randomBytes(n));
  }
});

Deno.test("WebAssembly ChaCha20-Poly1305 equals @noble/ciphers for random sizes 0..70000", () => {
  for (let i = 0; i < 40; i++) {
    const n = Math.floor(Math.random() * 70001);
    check(randomBytes(32), randomBytes(12), randomBytes(n));
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ maxLength: 3000 }),
      (key, nonce, pt) => check(key, nonce, pt),
    ),
    { numRuns: 100 },
  );
});

Deno.test("WebAssembly ChaCha20-Poly1305 Poly1305 reduction edge: all-0xff data", () => {
  // Large limbs exercise the final carry and the h >= p selection.
  for (const n of [16, 32, 48, 1024, 4096]) {
    check(
      new Uint8Array(32).fill(0xff),
      new Uint8Array(12).fill(0xff),
      new Uint8Array(n).fill(0xff),
    );
    check(new Uint8Array(32), new Uint8Array(12), new Uint8Array(n).fill(0xff));
  }
});

Deno.test("WebAssembly ChaCha20-Poly1305 rejects every flipped byte and zeroes the output", () => {
  const aead = chachaPolyWasm!;
  for (const n of [0, 1, 100, 300]) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const pt = randomBytes(n);
    const ct = pt.slice();
    const tag = new Uint8Array(16);
    aead.seal(words(key), nonce, ct, tag);
    const sealed = new Uint8Array(n + 16);
    sealed.set(ct);
    sealed.set(tag, n);
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const t = sealed.slice();
        t[i]! ^= bit;
        const out = new Uint8Array(n).fill(0x5a);
        const ok = aead.open(
          words(key),
          nonce,
          t.subarray(0, n),
          t.subarray(n),
          out,
        );
        assert.equal(ok, false, `byte ${i} of ${n + 16}`);
        assert.deepEqual(out, new Uint8Array(n));
      }
    }
    const wrongNonce = nonce.slice();
    wrongNonce[0]! ^= 1;
    assert.equal(
      aead.open(words(key), wrongNonce, ct, tag, new Uint8Array(n)),
      false,
    );
  }
});

Deno.test("WebAssembly ChaCha20-Poly1305 one-shot window calls equal @noble/ciphers", () => {
  const aead = chachaPolyWasm!;
  const m8 = aead.mem8;
  const sizes = [0, 1, 15, 16, 17, 63, 64, 65, 191, 192, 193, 255, 256, 257];
  for (let i = 0; i < 40; i++) {
    sizes.push(Math.floor(Math.random() * (AEAD_WINDOW_MAX + 1)));
  }
  sizes.push(AEAD_WINDOW_MAX);
  for (const n of sizes) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const pt = randomBytes(n);
    const ref = chacha20poly1305(key, nonce).encrypt(pt);
    m8.set(pt, AEAD_DATA);
    const tag = new Uint8Array(16);
    aead.sealWindow(words(key), nonce, n, tag);
    assert.deepEqual(m8.slice(AEAD_DATA, AEAD_DATA + n), ref.subarray(0, n));
    assert.deepEqual(tag, ref.subarray(n));
    assert.equal(aead.openWindow(words(key), nonce, n, tag), true);
    assert.deepEqual(m8.slice(AEAD_DATA, AEAD_DATA + n), pt);
    // every flipped ciphertext or tag byte is rejected and the window wiped
    for (const i of [0, n >> 1, n - 1, n, n + 15]) {
      if (i < 0 || i >= n + 16) continue;
      const bad = ref.slice();
      bad[i]! ^= 0x40;
      m8.set(bad.subarray(0, n), AEAD_DATA);
      assert.equal(
        aead.openWindow(words(key), nonce, n, bad.subarray(n)),
        false,
      );
      assert.deepEqual(m8.slice(AEAD_DATA, AEAD_DATA + n), new Uint8Array(n));
    }
  }
  assert.throws(
    () =>
      aead.sealWindow(
        new Uint32Array(8),
        new Uint8Array(12),
        AEAD_WINDOW_MAX + 1,
        new Uint8Array(16),
      ),
    RangeError,
  );
  assert.throws(
    () =>
      aead.openWindow(
        new Uint32Array(8),
        new Uint8Array(12),
        -1,
        new Uint8Array(16),
      ),
    RangeError,
  );
});
