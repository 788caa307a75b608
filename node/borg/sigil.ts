/**
 * Enchantrix `ChaChaPolySigil`: XChaCha20-Poly1305 with the XOR
 * pre-obfuscation of crypto-formats.md §3.
 *
 * Output layout of {@linkcode ChaChaPolySigil.seal}:
 *
 * | Offset | Size | Content                                       |
 * | ------ | ---- | --------------------------------------------- |
 * | 0      | 24   | nonce                                         |
 * | 24     | n    | XChaCha20 ciphertext of XOR(plaintext, nonce) |
 * | 24 + n | 16   | Poly1305 tag (no associated data)             |
 *
 * @module
 */

import { createCipheriv, createDecipheriv } from "node:crypto";
import { BorgError } from "./errors.ts";
import { xorKeystream, xorKeystreamInWindow } from "./_kernels/keystream.ts";
import {
  AEAD_DATA,
  type ChaChaPolyWasm,
  chachaPolyWasm,
} from "./_kernels/chacha_wasm.ts";

/** Nonce length of the sigil (XChaCha20). */
export const SIGIL_NONCE_SIZE = 24;
/** Poly1305 tag length. */
export const SIGIL_TAG_SIZE = 16;
/** Bytes a sealed blob adds to its plaintext (nonce + tag). */
export const SIGIL_OVERHEAD = 40;

/** Fills a buffer with random bytes (the nonce source). */
export type SigilRandomSource = (out: Uint8Array<ArrayBuffer>) => void;

/** Options for {@linkcode ChaChaPolySigil}. */
export interface ChaChaPolySigilOptions {
  /**
   * Nonce source; defaults to `crypto.getRandomValues` (drawn in 4 KiB
   * batches). Replace it only in tests.
   */
  random?: SigilRandomSource;
}

/** Options for {@linkcode ChaChaPolySigil.seal}. */
export interface SigilSealOptions {
  /** A fixed 24-byte nonce (tests and vectors only; never reuse one). */
  nonce?: Uint8Array;
  /**
   * Free bytes to leave at the start of the returned buffer, before the
   * nonce, so a container header can be written there without a copy.
   */
  headroom?: number;
  /**
   * Where the result is built: called once with its size, it must return a
   * buffer of exactly that many bytes (for example a view into a pool).
   * Every byte after the headroom is overwritten; the headroom is left as
   * returned. Default: a new zero-filled buffer.
   */
  allocate?: (size: number) => Uint8Array<ArrayBuffer>;
}

/**
 * Largest message sealed with the WebAssembly AEAD. Above it `node:crypto`
 * wins: its per-call cost (~6 µs) is repaid by its faster bulk cipher
 * (measured crossover near 7 KB).
 */
const WASM_AEAD_MAX = 6 * 1024;
const textDecoder = new TextDecoder();

/** Random bytes drawn in 4 KiB batches: one `getRandomValues` call per ~170 nonces. */
let randomPool = new Uint8Array(0);
let randomOff = 0;

function defaultRandom(out: Uint8Array<ArrayBuffer>): void {
  const n = out.length;
  if (n > 1024) {
    crypto.getRandomValues(out);
    return;
  }
  if (randomOff + n > randomPool.length) {
    randomPool = new Uint8Array(4096);
    crypto.getRandomValues(randomPool);
    randomOff = 0;
  }
  const pool = randomPool;
  for (let i = 0, j = randomOff; i < n; i++, j++) {
    out[i] = pool[j]!;
    pool[j] = 0; // never hand the same bytes out twice
  }
  randomOff += n;
}

/** What {@linkcode ChaChaPolySigil.prepare} keeps for the next seal. */
interface Prepared {
  /** Largest plaintext it covers. */
  length: number;
  nonce: Uint8Array;
  /** ChaCha20 (blocks 1..) XOR SHA-256 pre-obfuscation keystream. */
  stream: Uint32Array;
  polyKey: Uint8Array;
}

function wipe(p: Prepared): void {
  p.nonce.fill(0);
  p.stream.fill(0);
  p.polyKey.fill(0);
}

/** The result buffer of a seal: the caller's allocator, checked, or new. */
function allocate(
  options: SigilSealOptions,
  size: number,
): Uint8Array<ArrayBuffer> {
  if (options.allocate === undefined) return new Uint8Array(size);
  const out = options.allocate(size);
  if (!(out instanceof Uint8Array) || out.length !== size) {
    throw new RangeError(
      `Cannot seal: the allocator must return a Uint8Array of ${size} bytes`,
    );
  }
  return out;
}

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== SIGIL_NONCE_SIZE) {
    throw new RangeError(
      `Cannot seal: nonce must be 24 bytes, got ${nonce.length}`,
    );
  }
}

const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/**
 * HChaCha20: derives the XChaCha20 subkey from the key words and the first 16
 * nonce bytes (draft-irtf-cfrg-xchacha §2.2).
 */
function hchacha20(
  keyWords: Uint32Array,
  nonce: Uint8Array,
  out: Uint32Array,
): void {
  const n = (o: number): number =>
    nonce[o]! | (nonce[o + 1]! << 8) | (nonce[o + 2]! << 16) |
    (nonce[o + 3]! << 24);
  let x0 = SIGMA[0]!, x1 = SIGMA[1]!, x2 = SIGMA[2]!, x3 = SIGMA[3]!;
  let x4 = keyWords[0]!, x5 = keyWords[1]!, x6 = keyWords[2]!;
  let x7 = keyWords[3]!, x8 = keyWords[4]!, x9 = keyWords[5]!;
  let x10 = keyWords[6]!, x11 = keyWords[7]!;
  let x12 = n(0), x13 = n(4), x14 = n(8), x15 = n(12);
  for (let r = 0; r < 10; r++) {
    // Column rounds.
    x0 = (x0 + x4) | 0, x12 = rotl(x12 ^ x0, 16);
    x8 = (x8 + x12) | 0, x4 = rotl(x4 ^ x8, 12);
    x0 = (x0 + x4) | 0, x12 = rotl(x12 ^ x0, 8);
    x8 = (x8 + x12) | 0, x4 = rotl(x4 ^ x8, 7);
    x1 = (x1 + x5) | 0, x13 = rotl(x13 ^ x1, 16);
    x9 = (x9 + x13) | 0, x5 = rotl(x5 ^ x9, 12);
    x1 = (x1 + x5) | 0, x13 = rotl(x13 ^ x1, 8);
    x9 = (x9 + x13) | 0, x5 = rotl(x5 ^ x9, 7);
    x2 = (x2 + x6) | 0, x14 = rotl(x14 ^ x2, 16);
    x10 = (x10 + x14) | 0, x6 = rotl(x6 ^ x10, 12);
    x2 = (x2 + x6) | 0, x14 = rotl(x14 ^ x2, 8);
    x10 = (x10 + x14) | 0, x6 = rotl(x6 ^ x10, 7);
    x3 = (x3 + x7) | 0, x15 = rotl(x15 ^ x3, 16);
    x11 = (x11 + x15) | 0, x7 = rotl(x7 ^ x11, 12);
    x3 = (x3 + x7) | 0, x15 = rotl(x15 ^ x3, 8);
    x11 = (x11 + x15) | 0, x7 = rotl(x7 ^ x11, 7);
    // Diagonal rounds.
    x0 = (x0 + x5) | 0, x15 = rotl(x15 ^ x0, 16);
    x10 = (x10 + x15) | 0, x5 = rotl(x5 ^ x10, 12);
    x0 = (x0 + x5) | 0, x15 = rotl(x15 ^ x0, 8);
    x10 = (x10 + x15) | 0, x5 = rotl(x5 ^ x10, 7);
    x1 = (x1 + x6) | 0, x12 = rotl(x12 ^ x1, 16);
    x11 = (x11 + x12) | 0, x6 = rotl(x6 ^ x11, 12);
    x1 = (x1 + x6) | 0, x12 = rotl(x12 ^ x1, 8);
    x11 = (x11 + x12) | 0, x6 = rotl(x6 ^ x11, 7);
    x2 = (x2 + x7) | 0, x13 = rotl(x13 ^ x2, 16);
    x8 = (x8 + x13) | 0, x7 = rotl(x7 ^ x8, 12);
    x2 = (x2 + x7) | 0, x13 = rotl(x13 ^ x2, 8);
    x8 = (x8 + x13) | 0, x7 = rotl(x7 ^ x8, 7);
    x3 = (x3 + x4) | 0, x14 = rotl(x14 ^ x3, 16);
    x9 = (x9 + x14) | 0, x4 = rotl(x4 ^ x9, 12);
    x3 = (x3 + x4) | 0, x14 = rotl(x14 ^ x3, 8);
    x9 = (x9 + x14) | 0, x4 = rotl(x4 ^ x9, 7);
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  out[4] = x12;
  out[5] = x13;
  out[6] = x14;
  out[7] = x15;
}

/**
 * The Enchantrix `ChaChaPolySigil` with its XOR pre-obfuscator: seals with
 * XChaCha20-Poly1305 (no associated data) after XOR-ing the plaintext with a
 * SHA-256 keystream derived from the nonce. The bulk cipher is
 * ChaCha20-Poly1305 keyed with an HChaCha20 subkey: the WebAssembly SIMD
 * module of `_kernels/chacha_wasm.ts` (no per-frame cipher object), or
 * `node:crypto` `chacha20-poly1305` on runtimes without WebAssembly SIMD.
 * `@noble/ciphers` `xchacha20poly1305` is the reference both are tested
 * against.
 *
 * @example Sealing and opening
 * ```ts
 * import { ChaChaPolySigil } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const sigil = new ChaChaPolySigil(new Uint8Array(32).fill(7));
 * const sealed = sigil.seal(new TextEncoder().encode("hi"));
 * assert.equal(sealed.length, 2 + 40);
 * assert.equal(new TextDecoder().decode(sigil.open(sealed)), "hi");
 * ```
 */
export class ChaChaPolySigil {
  #keyWords: Uint32Array;
  #random: SigilRandomSource;
  /** Scratch: the per-message subkey and IV (`0000 || nonce[16..24]`). */
  readonly #subkey = new Uint32Array(8);
  readonly #iv = new Uint8Array(12);
  /** Keystreams computed ahead by {@linkcode prepare} for the next seal. */
  #prepared: Prepared | undefined;

  /**
   * Creates a sigil for a 32-byte key. The key is copied.
   *
   * @param key The 32-byte key.
   * @param options The nonce source.
   * @throws {RangeError} When the key is not 32 bytes.
   */
  constructor(key: Uint8Array, options: ChaChaPolySigilOptions = {}) {
    if (!(key instanceof Uint8Array)) {
      throw new TypeError("Cannot create sigil: key must be a Uint8Array");
    }
    if (key.length !== 32) {
      throw new RangeError(
        `Cannot create sigil: key must be 32 bytes, got ${key.length}`,
      );
    }
    this.#keyWords = new Uint32Array(8);
    for (let i = 0; i < 8; i++) {
      const o = i * 4;
      this.#keyWords[i] = key[o]! | (key[o + 1]! << 8) | (key[o + 2]! << 16) |
        (key[o + 3]! << 24);
    }
    this.#random = options.random ?? defaultRandom;
  }

  /**
   * Seals a plaintext (Enchantrix `In`): `nonce || ciphertext || tag`.
   *
   * @param plaintext The data (may be empty).
   * @param options A fixed nonce for tests.
   * @returns A new buffer of `headroom + plaintext.length + 40` bytes.
   * @throws {RangeError} When a fixed nonce is not 24 bytes or the headroom
   *   is not a non-negative integer.
   */
  seal(
    plaintext: Uint8Array,
    options: SigilSealOptions = {},
  ): Uint8Array<ArrayBuffer> {
    const n = plaintext.length;
    const headroom = options.headroom ?? 0;
    if (!Number.isSafeInteger(headroom) || headroom < 0) {
      throw new RangeError(`Cannot seal: invalid headroom ${headroom}`);
    }
    const aead = chachaPolyWasm;
    if (aead !== undefined && n <= WASM_AEAD_MAX) {
      return this.#sealWasm(aead, plaintext, headroom, options);
    }
    if (options.nonce !== undefined) checkNonce(options.nonce);
    const whole = allocate(options, headroom + n + SIGIL_OVERHEAD);
    const out = whole.subarray(headroom);
    const nonce = out.subarray(0, SIGIL_NONCE_SIZE);
    if (options.nonce !== undefined) {
      nonce.set(options.nonce);
    } else {
      this.#random(nonce);
    }
    const body = out.subarray(SIGIL_NONCE_SIZE, SIGIL_NONCE_SIZE + n);
    const tag = out.subarray(SIGIL_NONCE_SIZE + n);
    this.#derive(nonce);
    xorKeystream(nonce, plaintext, body);
    const cipher = createCipheriv(
      "chacha20-poly1305",
      this.#subkeyBytes(),
      this.#iv,
      { authTagLength: SIGIL_TAG_SIZE },
    );
    body.set(cipher.update(body));
    cipher.final();
    tag.set(cipher.getAuthTag());
    return whole;
  }

  /**
   * Small messages: one copy in, keystream + ChaCha20 + Poly1305 in place in
   * WebAssembly memory, one copy out; the nonce and the tag are written
   * straight into the result.
   */
  #sealWasm(
    aead: ChaChaPolyWasm,
    plaintext: Uint8Array,
    headroom: number,
    options: SigilSealOptions,
  ): Uint8Array<ArrayBuffer> {
    const n = plaintext.length;
    const prepared = this.#prepared;
    if (
      prepared !== undefined && options.nonce === undefined &&
      n <= prepared.length
    ) {
      return this.#sealPrepared(aead, prepared, plaintext, headroom, options);
    }
    const fixedNonce = options.nonce;
    if (fixedNonce !== undefined) checkNonce(fixedNonce);
    // Callers' code (allocator, nonce source) runs before any shared state
    // (scratch, WebAssembly window) is touched, so even a call back into
    // this sigil from it cannot mix two messages.
    const whole = allocate(options, headroom + n + SIGIL_OVERHEAD);
    const nonce = whole.subarray(headroom, headroom + SIGIL_NONCE_SIZE);
    if (fixedNonce !== undefined) nonce.set(fixedNonce);
    else this.#random(nonce);
    this.#derive(nonce);
    const m8 = aead.mem8;
    m8.set(plaintext, AEAD_DATA);
    xorKeystreamInWindow(nonce, n);
    const body = headroom + SIGIL_NONCE_SIZE;
    aead.sealWindow(this.#subkey, this.#iv, n, whole, body + n);
    whole.set(m8.subarray(AEAD_DATA, AEAD_DATA + n), body);
    m8.fill(0, AEAD_DATA, AEAD_DATA + n);
    return whole;
  }

  /**
   * Computes, ahead of time, everything the next {@linkcode seal} of up to
   * `length` bytes needs that does not depend on the plaintext: a fresh
   * random nonce, its SHA-256 pre-obfuscation keystream and the XChaCha20
   * keystream with the Poly1305 key. That seal then only XORs and
   * authenticates. Call it when there is idle time (the transport does so
   * right after a frame went to the kernel); the result is used once, by
   * the next seal without a fixed nonce that fits, and is wiped after use
   * or by {@linkcode dropPrepared}. A no-op without WebAssembly SIMD, above
   * 6 KiB, or when a big enough preparation is already waiting.
   *
   * @param length The largest plaintext it should cover.
   * @throws {RangeError} When `length` is not a non-negative integer.
   */
  prepare(length: number): void {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`Cannot prepare a seal of ${length} bytes`);
    }
    const aead = chachaPolyWasm;
    if (aead === undefined || length > WASM_AEAD_MAX) return;
    if (this.#prepared !== undefined) {
      if (this.#prepared.length >= length) return;
      this.dropPrepared();
    }
    const nonce = new Uint8Array(SIGIL_NONCE_SIZE);
    this.#random(nonce);
    this.#derive(nonce);
    const polyKey = new Uint8Array(32);
    aead.keystreamWindow(this.#subkey, this.#iv, length, polyKey);
    // Window = ChaCha20 keystream XOR the pre-obfuscation keystream: one XOR
    // at seal time applies both.
    xorKeystreamInWindow(nonce, length);
    const words = (length + 3) >> 2;
    const stream = new Uint32Array(words);
    const m8 = aead.mem8;
    stream.set(new Uint32Array(m8.buffer, AEAD_DATA, words));
    m8.fill(
      0,
      AEAD_DATA - 64,
      AEAD_DATA + Math.ceil((length + 64) / 256) * 256,
    );
    this.#prepared = { length, nonce, stream, polyKey };
  }

  /** Wipes and forgets a preparation made by {@linkcode prepare}, if any. */
  dropPrepared(): void {
    const p = this.#prepared;
    this.#prepared = undefined;
    if (p !== undefined) wipe(p);
  }

  /** A seal from a preparation: XOR, Poly1305, copy out; then the wipe. */
  #sealPrepared(
    aead: ChaChaPolyWasm,
    prepared: Prepared,
    plaintext: Uint8Array,
    headroom: number,
    options: SigilSealOptions,
  ): Uint8Array<ArrayBuffer> {
    // Taken before any caller code runs (the allocator), so it is used once
    // whatever happens.
    this.#prepared = undefined;
    try {
      const n = plaintext.length;
      const whole = allocate(options, headroom + n + SIGIL_OVERHEAD);
      whole.set(prepared.nonce, headroom);
      const m8 = aead.mem8;
      m8.set(plaintext, AEAD_DATA);
      aead.xorWindow(prepared.stream, n);
      const body = headroom + SIGIL_NONCE_SIZE;
      aead.macWindow(prepared.polyKey, n, whole, body + n);
      whole.set(m8.subarray(AEAD_DATA, AEAD_DATA + n), body);
      m8.fill(0, AEAD_DATA, AEAD_DATA + ((n + 15) & ~15));
      return whole;
    } finally {
      wipe(prepared);
    }
  }

  /**
   * Opens a sealed blob (Enchantrix `Out`).
   *
   * @param sealed `nonce || ciphertext || tag`.
   * @returns The plaintext in a new buffer.
   * @throws {BorgError} `ciphertext_too_short` below 40 bytes,
   *   `decryption_failed` when authentication fails.
   */
  open(sealed: Uint8Array): Uint8Array<ArrayBuffer> {
    if (sealed.length < SIGIL_OVERHEAD) {
      throw new BorgError(
        "ciphertext_too_short",
        `Cannot open sealed data: expected at least 40 bytes, got ${sealed.length}`,
      );
    }
    const nonce = sealed.subarray(0, SIGIL_NONCE_SIZE);
    const n = sealed.length - SIGIL_OVERHEAD;
    this.#derive(nonce);
    const ct = sealed.subarray(SIGIL_NONCE_SIZE, SIGIL_NONCE_SIZE + n);
    const tag = sealed.subarray(SIGIL_NONCE_SIZE + n);
    const aead = chachaPolyWasm;
    if (aead !== undefined && n <= WASM_AEAD_MAX) {
      const m8 = aead.mem8;
      m8.set(ct, AEAD_DATA);
      if (!aead.openWindow(this.#subkey, this.#iv, n, tag)) {
        throw new BorgError(
          "decryption_failed",
          "Cannot open sealed data: authentication failed",
        );
      }
      xorKeystreamInWindow(nonce, n);
      const plain = m8.slice(AEAD_DATA, AEAD_DATA + n);
      m8.fill(0, AEAD_DATA, AEAD_DATA + n);
      return plain;
    }
    const out = new Uint8Array(n);
    const decipher = createDecipheriv(
      "chacha20-poly1305",
      this.#subkeyBytes(),
      this.#iv,
      { authTagLength: SIGIL_TAG_SIZE },
    );
    decipher.setAuthTag(tag);
    let pt: Uint8Array;
    try {
      pt = decipher.update(ct);
      decipher.final();
    } catch (cause) {
      throw new BorgError(
        "decryption_failed",
        "Cannot open sealed data: authentication failed",
        { cause },
      );
    }
    // The keystream pass writes straight into `out` (no extra copy).
    xorKeystream(nonce, pt, out);
    pt.fill(0);
    return out;
  }

  /**
   * Opens a sealed blob and decodes the plaintext as UTF-8 (invalid bytes
   * become U+FFFD, as `new TextDecoder().decode(sigil.open(sealed))`). Up
   * to 6 KB the text is decoded straight from the working buffer, so no
   * plaintext buffer is allocated.
   *
   * @param sealed `nonce || ciphertext || tag`.
   * @returns The plaintext as text.
   * @throws {BorgError} `ciphertext_too_short` below 40 bytes,
   *   `decryption_failed` when authentication fails.
   *
   * @example Opening text
   * ```ts
   * import { ChaChaPolySigil } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const sigil = new ChaChaPolySigil(new Uint8Array(32).fill(7));
   * const sealed = sigil.seal(new TextEncoder().encode("hi"));
   * assert.equal(sigil.openText(sealed), "hi");
   * ```
   */
  openText(sealed: Uint8Array): string {
    const n = sealed.length - SIGIL_OVERHEAD;
    const aead = chachaPolyWasm;
    if (aead === undefined || n < 0 || n > WASM_AEAD_MAX) {
      return textDecoder.decode(this.open(sealed));
    }
    const nonce = sealed.subarray(0, SIGIL_NONCE_SIZE);
    this.#derive(nonce);
    const m8 = aead.mem8;
    m8.set(sealed.subarray(SIGIL_NONCE_SIZE, SIGIL_NONCE_SIZE + n), AEAD_DATA);
    if (
      !aead.openWindow(
        this.#subkey,
        this.#iv,
        n,
        sealed.subarray(SIGIL_NONCE_SIZE + n),
      )
    ) {
      throw new BorgError(
        "decryption_failed",
        "Cannot open sealed data: authentication failed",
      );
    }
    xorKeystreamInWindow(nonce, n);
    const text = textDecoder.decode(m8.subarray(AEAD_DATA, AEAD_DATA + n));
    m8.fill(0, AEAD_DATA, AEAD_DATA + n);
    return text;
  }

  /** Sets the HChaCha20 subkey and the 12-byte IV for a 24-byte nonce. */
  #derive(nonce: Uint8Array): void {
    hchacha20(this.#keyWords, nonce, this.#subkey);
    this.#iv.set(nonce.subarray(16, 24), 4);
  }

  /** The subkey as bytes, for `node:crypto`. */
  #subkeyBytes(): Uint8Array {
    const k = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      const v = this.#subkey[i]!;
      k[i * 4] = v;
      k[i * 4 + 1] = v >>> 8;
      k[i * 4 + 2] = v >>> 16;
      k[i * 4 + 3] = v >>> 24;
    }
    return k;
  }
}
