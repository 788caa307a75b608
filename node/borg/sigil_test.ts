import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import fc from "fast-check";
import { atOddOffset, fromHex, readSidecar } from "./_test_util.ts";
import { BorgError } from "./errors.ts";
import { ChaChaPolySigil } from "./sigil.ts";
import {
  keystream,
  xorKeystream,
  xorKeystreamScalar,
} from "./_kernels/keystream.ts";
import { keystreamWasm } from "./_kernels/keystream_wasm.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function referenceKeystream(nonce: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i * 32 < length; i++) {
    const m = new Uint8Array(32);
    m.set(nonce);
    new DataView(m.buffer).setBigUint64(24, BigInt(i), false);
    const h = createHash("sha256").update(m).digest();
    out.set(h.subarray(0, Math.min(32, length - i * 32)), i * 32);
  }
  return out;
}

Deno.test("keystream() matches the primitives vector", () => {
  const v: Json = readSidecar("primitives.json");
  const ks = v.xor_keystream;
  assert.deepEqual(
    keystream(fromHex(ks.entropy_hex), ks.length),
    fromHex(ks.keystream_hex),
  );
});

Deno.test("WebAssembly SIMD keystream is available", () => {
  assert.ok(keystreamWasm !== undefined);
});

Deno.test("xorKeystream() SIMD and scalar paths equal node:crypto SHA-256", () => {
  const lengths = [
    0,
    1,
    31,
    32,
    33,
    95,
    96,
    127,
    128,
    129,
    1000,
    65535,
    65536,
    65537,
    140_000,
  ];
  for (const n of lengths) {
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    const data = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff);
    const want = referenceKeystream(nonce, n).map((k, i) => k ^ data[i]!);
    const a = new Uint8Array(n);
    xorKeystream(nonce, atOddOffset(data), a);
    assert.deepEqual(a, want, `simd ${n}`);
    const b = data.slice();
    xorKeystreamScalar(nonce, b, b);
    assert.deepEqual(b, want, `scalar ${n}`);
  }
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.integer({ min: 0, max: 3000 }),
      (nonce, n) => {
        assert.deepEqual(keystream(nonce, n), referenceKeystream(nonce, n));
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("ChaChaPolySigil.seal() matches the primitives vector", () => {
  const v: Json = readSidecar("primitives.json");
  const s = v.sigil;
  const sigil = new ChaChaPolySigil(fromHex(s.key_hex));
  const pt = new TextEncoder().encode(s.plaintext_utf8);
  assert.deepEqual(
    sigil.seal(pt, { nonce: fromHex(s.nonce_hex) }),
    fromHex(s.output_hex),
  );
  assert.equal(
    new TextDecoder().decode(sigil.open(atOddOffset(fromHex(s.output_hex)))),
    s.plaintext_utf8,
  );
  // Without the obfuscation the output would be different.
  assert.deepEqual(
    xchacha20poly1305(fromHex(s.key_hex), fromHex(s.nonce_hex)).encrypt(pt),
    fromHex(s.output_without_obfuscation_hex_for_contrast).subarray(24),
  );
  const empty = sigil.seal(new Uint8Array(), {
    nonce: fromHex(s.empty_plaintext_nonce_hex),
  });
  assert.deepEqual(empty, fromHex(s.empty_plaintext_output_hex));
  assert.deepEqual(sigil.open(empty), new Uint8Array());
});

Deno.test("ChaChaPolySigil agrees with @noble/ciphers xchacha20poly1305", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.uint8Array({ maxLength: 2000 }),
      (key, nonce, pt) => {
        const sealed = new ChaChaPolySigil(key).seal(pt, { nonce });
        const obfuscated = pt.map((b, i) =>
          b ^ referenceKeystream(nonce, pt.length)[i]!
        );
        const ref = xchacha20poly1305(key, nonce).encrypt(obfuscated);
        assert.deepEqual(sealed.subarray(24), ref);
        assert.deepEqual(new ChaChaPolySigil(key).open(sealed), pt);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("ChaChaPolySigil.open() rejects tampering and short input", () => {
  const sigil = new ChaChaPolySigil(new Uint8Array(32).fill(1));
  const sealed = sigil.seal(new TextEncoder().encode("some secret text"));
  for (let i = 0; i < sealed.length; i++) {
    const t = sealed.slice();
    t[i]! ^= 0x80;
    assert.throws(
      () => sigil.open(t),
      (e: unknown) => e instanceof BorgError && e.code === "decryption_failed",
    );
  }
  for (let n = 0; n < 40; n++) {
    assert.throws(
      () => sigil.open(sealed.subarray(0, n)),
      (e: unknown) =>
        e instanceof BorgError && e.code === "ciphertext_too_short",
    );
  }
  const other = new ChaChaPolySigil(new Uint8Array(32).fill(2));
  assert.throws(() => other.open(sealed), BorgError);
});

Deno.test("ChaChaPolySigil validates its inputs", () => {
  assert.throws(() => new ChaChaPolySigil(new Uint8Array(31)), RangeError);
  const sigil = new ChaChaPolySigil(new Uint8Array(32), {
    random: (b) => b.fill(9),
  });
  assert.throws(
    () => sigil.seal(new Uint8Array(1), { nonce: new Uint8Array(12) }),
    RangeError,
  );
  assert.deepEqual(
    sigil.seal(new Uint8Array(1)).subarray(0, 24),
    new Uint8Array(24).fill(9),
  );
  const withRoom = sigil.seal(new Uint8Array(3), { headroom: 5 });
  assert.equal(withRoom.length, 5 + 3 + 40);
  assert.equal(sigil.open(withRoom.subarray(5)).length, 3);
});

Deno.test("ChaChaPolySigil agrees with @noble/ciphers on both sides of the WebAssembly/node:crypto switch", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sigil = new ChaChaPolySigil(key);
  const sizes = [6143, 6144, 6145, 8192, 65536, 70000];
  for (let i = 0; i < 6; i++) sizes.push(Math.floor(Math.random() * 70001));
  for (const n of sizes) {
    const nonce = crypto.getRandomValues(new Uint8Array(24));
    const pt = new Uint8Array(n);
    for (let o = 0; o < n; o += 65536) {
      crypto.getRandomValues(pt.subarray(o, Math.min(n, o + 65536)));
    }
    const sealed = sigil.seal(pt, { nonce });
    const ks = referenceKeystream(nonce, n);
    const ref = xchacha20poly1305(key, nonce).encrypt(
      pt.map((b, i) => b ^ ks[i]!),
    );
    assert.deepEqual(sealed.subarray(24), ref, `${n} bytes`);
    assert.deepEqual(sigil.open(sealed), pt);
    const t = sealed.slice();
    t[24 + (n >> 1)]! ^= 1;
    assert.throws(() => sigil.open(t), BorgError);
  }
});

Deno.test("ChaChaPolySigil default nonces are distinct across the random pool refills", () => {
  const sigil = new ChaChaPolySigil(new Uint8Array(32));
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const nonce = sigil.seal(new Uint8Array(1)).subarray(0, 24);
    assert.notDeepEqual(nonce, new Uint8Array(24));
    seen.add(nonce.join(","));
  }
  assert.equal(seen.size, 1000);
});

Deno.test("ChaChaPolySigil.openText() equals decoding open() on both paths, and fails the same way", () => {
  const sigil = new ChaChaPolySigil(new Uint8Array(32).fill(3));
  const decoder = new TextDecoder();
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 6000, maxLength: 7000 }),
        fc.string({ unit: "grapheme", maxLength: 200 }).map((s) =>
          new TextEncoder().encode(s)
        ),
      ),
      (plain) => {
        const sealed = sigil.seal(plain);
        assert.equal(
          sigil.openText(sealed),
          decoder.decode(sigil.open(sealed)),
        );
        assert.equal(
          sigil.openText(atOddOffset(sealed)),
          decoder.decode(plain),
        );
      },
    ),
    { numRuns: 200 },
  );
  const sealed = sigil.seal(new TextEncoder().encode("some secret text"));
  for (let i = 0; i < sealed.length; i++) {
    const t = sealed.slice();
    t[i]! ^= 0x80;
    assert.throws(
      () => sigil.openText(t),
      (e: unknown) => e instanceof BorgError && e.code === "decryption_failed",
    );
  }
  for (let n = 0; n < 40; n++) {
    assert.throws(
      () => sigil.openText(sealed.subarray(0, n)),
      (e: unknown) =>
        e instanceof BorgError && e.code === "ciphertext_too_short",
    );
  }
  // Failed opens leave the sigil usable.
  assert.equal(sigil.openText(sealed), "some secret text");
});

Deno.test("ChaChaPolySigil.seal() builds into the caller's buffer on both paths, byte for byte", () => {
  const key = fromHex(
    "0101010101010101010101010101010101010101010101010101010101010101",
  );
  const sigil = new ChaChaPolySigil(key);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 6000, maxLength: 7000 }),
      ),
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.integer({ min: 0, max: 9 }),
      (plaintext, nonce, headroom) => {
        const expected = sigil.seal(plaintext, { nonce, headroom });
        // A pooled view full of junk, at an odd place in a bigger buffer.
        const backing = new Uint8Array(expected.length + 11).fill(0xa5);
        let asked = -1;
        const got = sigil.seal(plaintext, {
          nonce,
          headroom,
          allocate: (size) => {
            asked = size;
            return backing.subarray(5, 5 + size);
          },
        });
        assert.equal(asked, expected.length);
        assert.equal(got.byteOffset, 5);
        assert.deepEqual(got.subarray(headroom), expected.subarray(headroom));
        // Nothing outside the view was touched.
        assert.deepEqual([...backing.subarray(0, 5)], [
          0xa5,
          0xa5,
          0xa5,
          0xa5,
          0xa5,
        ]);
        assert.deepEqual(
          [...backing.subarray(5 + expected.length)],
          [0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5],
        );
        assert.deepEqual(sigil.open(got.subarray(headroom)), plaintext);
      },
    ),
    { numRuns: 200 },
  );
  assert.throws(
    () =>
      sigil.seal(new Uint8Array(3), { allocate: (n) => new Uint8Array(n + 1) }),
    RangeError,
  );
});

Deno.test("ChaChaPolySigil.prepare(): the next seal uses the prepared nonce and equals @noble/ciphers", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 0, max: 6144 }),
      fc.integer({ min: 0, max: 6144 }),
      fc.integer({ min: 0, max: 3 }),
      (key, prepared, size, headroom) => {
        // Nonces from a counter, so the test knows which one each seal gets.
        let counter = 0;
        const sigil = new ChaChaPolySigil(key, {
          random: (b) => b.fill(++counter),
        });
        sigil.prepare(prepared);
        const pt = crypto.getRandomValues(new Uint8Array(size));
        const sealed = sigil.seal(pt, { headroom }).subarray(headroom);
        const nonce = sealed.subarray(0, 24);
        // A fitting message takes the prepared nonce (drawn first); a bigger
        // one draws a fresh nonce and leaves the preparation for later.
        assert.deepEqual(
          nonce,
          new Uint8Array(24).fill(size <= prepared ? 1 : 2),
        );
        const ks = referenceKeystream(nonce, size);
        const ref = xchacha20poly1305(key, nonce).encrypt(
          pt.map((b, i) => b ^ ks[i]!),
        );
        assert.deepEqual(sealed.subarray(24), ref);
        assert.deepEqual(new ChaChaPolySigil(key).open(sealed), pt);
        // Used once: the next (empty) seal draws a new nonce, or takes the
        // preparation the big message left.
        const next = sigil.seal(new Uint8Array(0)).subarray(0, 24);
        assert.deepEqual(
          next,
          new Uint8Array(24).fill(size <= prepared ? 2 : 1),
        );
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("ChaChaPolySigil.prepare(): fixed nonces bypass it, dropPrepared() discards it, bad sizes are refused", () => {
  const key = new Uint8Array(32).fill(3);
  let counter = 0;
  const sigil = new ChaChaPolySigil(key, { random: (b) => b.fill(++counter) });
  const plain = new ChaChaPolySigil(key);
  const pt = new TextEncoder().encode("fixed nonce message");
  const nonce = new Uint8Array(24).fill(0x77);
  sigil.prepare(100);
  assert.deepEqual(sigil.seal(pt, { nonce }), plain.seal(pt, { nonce }));
  // The preparation (nonce 1) is still there for a seal without a nonce.
  assert.deepEqual(sigil.seal(pt).subarray(0, 24), new Uint8Array(24).fill(1));
  sigil.prepare(100); // nonce 2
  sigil.prepare(50); // smaller: keeps nonce 2
  sigil.dropPrepared();
  assert.deepEqual(sigil.seal(pt).subarray(0, 24), new Uint8Array(24).fill(3));
  sigil.prepare(10); // nonce 4
  sigil.prepare(200); // bigger: replaced by nonce 5
  assert.deepEqual(sigil.seal(pt).subarray(0, 24), new Uint8Array(24).fill(5));
  sigil.prepare(7000); // above the WebAssembly size: nothing prepared
  assert.deepEqual(sigil.seal(pt).subarray(0, 24), new Uint8Array(24).fill(6));
  assert.throws(() => sigil.prepare(-1), RangeError);
  assert.throws(() => sigil.prepare(1.5), RangeError);
  // Tampering with a prepared seal is caught like any other.
  sigil.prepare(64);
  const sealed = sigil.seal(pt);
  sealed[30]! ^= 1;
  assert.throws(() => plain.open(sealed), BorgError);
});

Deno.test("ChaChaPolySigil: an allocator that seals with the same sigil cannot mix two messages", () => {
  const key = new Uint8Array(32).fill(5);
  const sigil = new ChaChaPolySigil(key);
  const plain = new ChaChaPolySigil(key);
  for (const prepared of [false, true]) {
    for (const size of [10, 7000]) {
      if (prepared) sigil.prepare(Math.min(size, 6144));
      const outer = crypto.getRandomValues(new Uint8Array(size));
      const inner = crypto.getRandomValues(new Uint8Array(size >> 1));
      let innerSealed: Uint8Array | undefined;
      const sealed = sigil.seal(outer, {
        allocate: (n) => {
          innerSealed = sigil.seal(inner);
          return new Uint8Array(n);
        },
      });
      assert.deepEqual(plain.open(sealed), outer);
      assert.deepEqual(plain.open(innerSealed!), inner);
      assert.notDeepEqual(sealed.subarray(0, 24), innerSealed!.subarray(0, 24));
    }
  }
});
