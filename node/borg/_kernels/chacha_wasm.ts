/**
 * ChaCha20-Poly1305 (RFC 8439 AEAD, no associated data) in WebAssembly, so a
 * sigil seals or opens a frame without a per-frame `node:crypto` cipher
 * object and its buffer copies.
 *
 * - `chacha(ptr, groups, counter)` XORs `groups` 256-byte groups at `ptr`
 *   with the ChaCha20 keystream, four blocks at once (one per 32-bit lane of
 *   each `v128`, block counters `counter .. counter + 3`), then transposes
 *   the lanes back to block order (little-endian, no byte swap).
 * - `poly(ptr, blocks)` absorbs `blocks` 16-byte blocks (high bit set) into
 *   the Poly1305 accumulator, with 26-bit limbs and 64-bit products.
 *
 * The key setup (clamping `r`), the final reduction and the tag are done in
 * JavaScript, once per message. The module's bytes are in
 * `chacha_wasm.gen.ts`, generated from `scripts/kernels/chacha_wasm.ts`;
 * callers fall back to `node:crypto` when the runtime has no WebAssembly SIMD.
 *
 * The module imports the memory of the SIMD keystream module
 * (`keystream_wasm.ts`) and works in its data window, so a sigil can copy a
 * small message in once, XOR the keystream, encrypt and authenticate it in
 * place, and copy it out once. The memory layout is in `constants.ts`: the
 * shared window at {@linkcode AEAD_DATA}, then the ChaCha20 state, the
 * Poly1305 key limbs and accumulator, and a scratch area.
 *
 * The one-shot calls (`sealWindow`, `openWindow`) run ChaCha20 from block 0
 * over the 64 bytes before the window (zeroed; block 0 is the Poly1305 key)
 * and the message in one pass; `openWindow` first copies the ciphertext to
 * `AEAD_DATA + 17 K` for the MAC.
 *
 * @module
 */

import {
  AEAD_POLY_H,
  AEAD_POLY_R,
  AEAD_SCRATCH,
  AEAD_STATE,
  CHUNK_BYTES,
  DATA_OFFSET,
} from "./constants.ts";
import { CHACHA_WASM } from "./chacha_wasm.gen.ts";
import { type KeystreamWasm, keystreamWasm } from "./keystream_wasm.ts";

/** Where the data window starts (the keystream module's window). */
export const AEAD_DATA: number = DATA_OFFSET;
/** Bytes processed per window fill: a multiple of 256 (four ChaCha blocks). */
export const AEAD_CHUNK: number = CHUNK_BYTES;
const STATE = AEAD_STATE;
const POLY_R = AEAD_POLY_R;
const POLY_H = AEAD_POLY_H;
const SCRATCH = AEAD_SCRATCH;
/** Largest message for the one-shot window calls. */
export const AEAD_WINDOW_MAX = 16 * 1024;
/** Where `openWindow` keeps the ciphertext for the MAC. */
const MAC_COPY = AEAD_DATA + AEAD_WINDOW_MAX + 1024;

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
const ST = STATE >> 2;

/**
 * The instantiated AEAD module. Not re-entrant (one shared memory), which is
 * fine: every call runs to completion synchronously.
 */
export class ChaChaPolyWasm {
  /** The shared memory as bytes (the window starts at {@linkcode AEAD_DATA}). */
  readonly mem8: Uint8Array;
  readonly #mem32: Uint32Array;
  readonly #chacha: (ptr: number, groups: number, counter: number) => void;
  readonly #poly: (ptr: number, blocks: number) => void;
  readonly #s = new Uint32Array(4);
  readonly #got = new Uint8Array(16);

  /**
   * Instantiates the assembled module on the keystream module's memory.
   *
   * @param module The compiled module.
   * @param keystream The keystream module whose memory is shared.
   */
  constructor(module: WebAssembly.Module, keystream: KeystreamWasm) {
    const instance = new WebAssembly.Instance(module, {
      env: { memory: keystream.memory },
    });
    this.mem8 = keystream.mem8;
    this.#mem32 = new Uint32Array(keystream.memory.buffer);
    this.#chacha = instance.exports.chacha as (
      p: number,
      g: number,
      c: number,
    ) => void;
    this.#poly = instance.exports.poly as (p: number, b: number) => void;
  }

  /** Loads the key and the 12-byte nonce into the ChaCha20 state. */
  #load(keyWords: Uint32Array, nonce: Uint8Array): void {
    const m32 = this.#mem32;
    for (let i = 0; i < 4; i++) m32[ST + i] = SIGMA[i]!;
    for (let i = 0; i < 8; i++) m32[ST + 4 + i] = keyWords[i]!;
    for (let i = 0; i < 3; i++) {
      const o = i * 4;
      m32[ST + 13 + i] = (nonce[o]! | (nonce[o + 1]! << 8) |
        (nonce[o + 2]! << 16) | (nonce[o + 3]! << 24)) >>> 0;
    }
  }

  /**
   * Takes the one-time Poly1305 key from keystream block 0 (at `at`, 32
   * bytes), clamps `r` into 26-bit limbs, clears the accumulator, and wipes
   * the block.
   */
  #polyKey(at: number): void {
    const m32 = this.#mem32;
    const sc = at >> 2;
    const t0 = m32[sc]!, t1 = m32[sc + 1]!, t2 = m32[sc + 2]!;
    const t3 = m32[sc + 3]!;
    const r0 = t0 & 0x3ffffff;
    const r1 = ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03;
    const r2 = ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff;
    const r3 = ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff;
    const r4 = (t3 >>> 8) & 0x00fffff;
    const base = POLY_R >> 2;
    m32[base] = r0;
    m32[base + 1] = r1;
    m32[base + 2] = r2;
    m32[base + 3] = r3;
    m32[base + 4] = r4;
    m32[base + 5] = r1 * 5;
    m32[base + 6] = r2 * 5;
    m32[base + 7] = r3 * 5;
    m32[base + 8] = r4 * 5;
    m32.fill(0, POLY_H >> 2, (POLY_H >> 2) + 5);
    const s = this.#s;
    for (let i = 0; i < 4; i++) s[i] = m32[sc + 4 + i]!;
    m32.fill(0, sc, sc + 16);
  }

  /** Loads key and nonce and derives the Poly1305 key (block 0) alone. */
  #setup(keyWords: Uint32Array, nonce: Uint8Array): void {
    this.#load(keyWords, nonce);
    this.#mem32.fill(0, SCRATCH >> 2, (SCRATCH >> 2) + 64);
    this.#chacha(SCRATCH, 1, 0);
    this.#polyKey(SCRATCH);
    this.#mem32.fill(0, SCRATCH >> 2, (SCRATCH >> 2) + 64);
  }

  /**
   * One ChaCha20 pass from block 0 over the 64 zero bytes just before the
   * window and the window's `len` bytes: block 0 becomes the Poly1305 key
   * and blocks 1.. en/decrypt the data, in a single call.
   */
  #keyAndCrypt(keyWords: Uint32Array, nonce: Uint8Array, len: number): void {
    this.#load(keyWords, nonce);
    const k0 = AEAD_DATA - 64;
    this.#mem32.fill(0, k0 >> 2, AEAD_DATA >> 2);
    this.#chacha(k0, Math.ceil((len + 64) / 256), 0);
    this.#polyKey(k0);
  }

  /**
   * Absorbs the window's `len` bytes, zero-padded to 16, and when `last` the
   * length block for `total` ciphertext bytes too.
   */
  #mac(
    len: number,
    last: boolean,
    total: number,
    base: number = AEAD_DATA,
  ): void {
    const m8 = this.mem8;
    const padded = (len + 15) & ~15;
    m8.fill(0, base + len, base + padded);
    let blocks = padded >> 4;
    if (last) {
      const p = base + padded;
      m8.fill(0, p, p + 16);
      const m32 = this.#mem32;
      m32[(p >> 2) + 2] = total >>> 0;
      m32[(p >> 2) + 3] = Math.floor(total / 0x100000000);
      blocks++;
    }
    this.#poly(base, blocks);
  }

  /** Final reduction of h, plus s; writes the 16-byte tag at `at`. */
  #tag(out: Uint8Array, at = 0): void {
    const m32 = this.#mem32;
    const b = POLY_H >> 2;
    let h0 = m32[b]!, h1 = m32[b + 1]!, h2 = m32[b + 2]!;
    let h3 = m32[b + 3]!, h4 = m32[b + 4]!;
    let c: number;
    c = h1 >>> 26, h1 &= 0x3ffffff, h2 += c;
    c = h2 >>> 26, h2 &= 0x3ffffff, h3 += c;
    c = h3 >>> 26, h3 &= 0x3ffffff, h4 += c;
    c = h4 >>> 26, h4 &= 0x3ffffff, h0 += c * 5;
    c = h0 >>> 26, h0 &= 0x3ffffff, h1 += c;
    // g = h + 5 - 2^130; use it when it does not borrow (h >= p).
    let g0 = h0 + 5;
    c = g0 >>> 26, g0 &= 0x3ffffff;
    let g1 = h1 + c;
    c = g1 >>> 26, g1 &= 0x3ffffff;
    let g2 = h2 + c;
    c = g2 >>> 26, g2 &= 0x3ffffff;
    let g3 = h3 + c;
    c = g3 >>> 26, g3 &= 0x3ffffff;
    const g4 = h4 + c - (1 << 26);
    if (g4 >= 0) {
      h0 = g0, h1 = g1, h2 = g2, h3 = g3, h4 = g4;
    }
    // h mod 2^128 as four 32-bit words, plus s.
    const s = this.#s;
    const f0 = ((h0 | (h1 << 26)) >>> 0) + s[0]!;
    const f1 = (((h1 >>> 6) | (h2 << 20)) >>> 0) + s[1]! +
      Math.floor(f0 / 0x100000000);
    const f2 = (((h2 >>> 12) | (h3 << 14)) >>> 0) + s[2]! +
      Math.floor(f1 / 0x100000000);
    const f3 = (((h3 >>> 18) | (h4 << 8)) >>> 0) + s[3]! +
      Math.floor(f2 / 0x100000000);
    put32(out, at, f0);
    put32(out, at + 4, f1);
    put32(out, at + 8, f2);
    put32(out, at + 12, f3);
  }

  /**
   * Encrypts the first `len` bytes of the window in place and writes the
   * tag (one-shot; `len` at most {@linkcode AEAD_WINDOW_MAX}).
   *
   * @param keyWords The 32-byte key as eight little-endian words.
   * @param nonce The 12-byte nonce.
   * @param len Message length.
   * @param tag Where the 16-byte tag goes.
   * @param tagAt Offset of the tag in `tag` (so it can be the output frame).
   * @throws {RangeError} When `len` is out of range.
   */
  sealWindow(
    keyWords: Uint32Array,
    nonce: Uint8Array,
    len: number,
    tag: Uint8Array,
    tagAt = 0,
  ): void {
    checkWindow(len);
    this.#keyAndCrypt(keyWords, nonce, len);
    this.#mac(len, true, len);
    this.#tag(tag, tagAt);
    this.#wipe();
  }

  /**
   * Checks the tag over the first `len` bytes of the window and, when it is
   * valid, leaves them decrypted in place (one-shot; `len` at most
   * {@linkcode AEAD_WINDOW_MAX}). On a bad tag the window is zeroed.
   *
   * @param keyWords The 32-byte key as eight little-endian words.
   * @param nonce The 12-byte nonce.
   * @param len Message length.
   * @param tag The received 16-byte tag.
   * @returns Whether the tag was valid.
   * @throws {RangeError} When `len` is out of range.
   */
  openWindow(
    keyWords: Uint32Array,
    nonce: Uint8Array,
    len: number,
    tag: Uint8Array,
  ): boolean {
    checkWindow(len);
    // Keep the ciphertext for the MAC: the single pass decrypts the window.
    const m8 = this.mem8;
    m8.copyWithin(MAC_COPY, AEAD_DATA, AEAD_DATA + len);
    this.#keyAndCrypt(keyWords, nonce, len);
    this.#mac(len, true, len, MAC_COPY);
    const ok = this.#tagMatches(tag);
    this.#wipe();
    if (!ok) {
      m8.fill(0, AEAD_DATA, AEAD_DATA + len);
      return false;
    }
    return true;
  }

  /**
   * Writes the ChaCha20 keystream for a message of `len` bytes (blocks 1..)
   * to the start of the window and the one-time Poly1305 key (block 0) to
   * `polyKey`, so a later {@linkcode macWindow} can finish a seal whose
   * data was XOR-ed with that keystream. Bytes of the window past `len`, up
   * to the next multiple of 256, hold keystream too (the caller wipes them).
   *
   * @param keyWords The 32-byte key as eight little-endian words.
   * @param nonce The 12-byte nonce.
   * @param len Message length.
   * @param polyKey Receives the 32-byte Poly1305 key.
   * @throws {RangeError} When `len` is out of range.
   */
  keystreamWindow(
    keyWords: Uint32Array,
    nonce: Uint8Array,
    len: number,
    polyKey: Uint8Array,
  ): void {
    checkWindow(len);
    this.#load(keyWords, nonce);
    const k0 = AEAD_DATA - 64;
    const groups = Math.ceil((len + 64) / 256);
    this.#mem32.fill(0, k0 >> 2, (k0 >> 2) + groups * 64);
    this.#chacha(k0, groups, 0);
    polyKey.set(this.mem8.subarray(k0, k0 + 32));
    this.#mem32.fill(0, k0 >> 2, AEAD_DATA >> 2);
    this.#mem32.fill(0, ST + 4, ST + 12);
  }

  /**
   * XORs the first `len` bytes of the window with `stream` (4-byte words;
   * the window's bytes up to the next multiple of 4 change too).
   *
   * @param stream Keystream words, at least `ceil(len / 4)` of them.
   * @param len Bytes to XOR.
   */
  xorWindow(stream: Uint32Array, len: number): void {
    checkWindow(len);
    const m32 = this.#mem32;
    const base = AEAD_DATA >> 2;
    const words = (len + 3) >> 2;
    for (let i = 0; i < words; i++) m32[base + i]! ^= stream[i]!;
  }

  /**
   * Authenticates the first `len` bytes of the window (the ciphertext) with
   * a one-time Poly1305 key from {@linkcode keystreamWindow} and writes the
   * tag.
   *
   * @param polyKey The 32-byte Poly1305 key.
   * @param len Ciphertext length.
   * @param tag Where the tag goes.
   * @param tagAt Offset of the tag in `tag`.
   * @throws {RangeError} When `len` is out of range.
   */
  macWindow(
    polyKey: Uint8Array,
    len: number,
    tag: Uint8Array,
    tagAt = 0,
  ): void {
    checkWindow(len);
    this.mem8.set(polyKey.subarray(0, 32), SCRATCH);
    this.#polyKey(SCRATCH);
    this.#mac(len, true, len);
    this.#tag(tag, tagAt);
    this.#wipe();
  }

  /** Clears the key words, the Poly1305 key and the accumulator. */
  #wipe(): void {
    this.#mem32.fill(0, ST + 4, ST + 12);
    this.#mem32.fill(0, POLY_R >> 2, (POLY_H >> 2) + 5);
    this.#s.fill(0);
  }

  #tagMatches(tag: Uint8Array): boolean {
    const got = this.#got;
    this.#tag(got);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= got[i]! ^ tag[i]!;
    got.fill(0);
    return diff === 0;
  }

  /**
   * Encrypts `data` (any length) in place and writes the tag.
   *
   * @param keyWords The 32-byte key as eight little-endian words.
   * @param nonce The 12-byte nonce.
   * @param data Plaintext in, ciphertext out.
   * @param tag Where the 16-byte tag goes.
   */
  seal(
    keyWords: Uint32Array,
    nonce: Uint8Array,
    data: Uint8Array,
    tag: Uint8Array,
  ): void {
    this.#setup(keyWords, nonce);
    const m8 = this.mem8;
    const n = data.length;
    let counter = 1;
    let off = 0;
    do {
      const len = Math.min(AEAD_CHUNK, n - off);
      if (len > 0) {
        m8.set(data.subarray(off, off + len), AEAD_DATA);
        const groups = Math.ceil(len / 256);
        this.#chacha(AEAD_DATA, groups, counter);
        counter += groups * 4;
        data.set(m8.subarray(AEAD_DATA, AEAD_DATA + len), off);
      }
      off += len;
      this.#mac(len, off >= n, n);
    } while (off < n);
    this.#tag(tag);
    this.#wipe();
    m8.fill(0, AEAD_DATA, AEAD_DATA + Math.min(n, AEAD_CHUNK) + 16);
  }

  /**
   * Checks the tag and decrypts `input` (any length) into `output`, which may
   * be the same buffer. On a bad tag `output` is zeroed.
   *
   * @param keyWords The 32-byte key as eight little-endian words.
   * @param nonce The 12-byte nonce.
   * @param input Ciphertext.
   * @param tag The received 16-byte tag.
   * @param output Where the plaintext goes (input.length bytes).
   * @returns Whether the tag was valid.
   */
  open(
    keyWords: Uint32Array,
    nonce: Uint8Array,
    input: Uint8Array,
    tag: Uint8Array,
    output: Uint8Array,
  ): boolean {
    this.#setup(keyWords, nonce);
    const m8 = this.mem8;
    const n = input.length;
    let counter = 1;
    let off = 0;
    do {
      const len = Math.min(AEAD_CHUNK, n - off);
      if (len > 0) m8.set(input.subarray(off, off + len), AEAD_DATA);
      this.#mac(len, off + len >= n, n); // reads the window only
      if (len > 0) {
        const groups = Math.ceil(len / 256);
        this.#chacha(AEAD_DATA, groups, counter);
        counter += groups * 4;
        output.set(m8.subarray(AEAD_DATA, AEAD_DATA + len), off);
      }
      off += len;
    } while (off < n);
    m8.fill(0, AEAD_DATA, AEAD_DATA + Math.min(n, AEAD_CHUNK) + 16);
    const ok = this.#tagMatches(tag);
    this.#wipe();
    if (!ok) {
      output.fill(0, 0, n);
      return false;
    }
    return true;
  }
}

function checkWindow(len: number): void {
  if (!(len >= 0 && len <= AEAD_WINDOW_MAX)) {
    throw new RangeError(`Cannot use the AEAD window for ${len} bytes`);
  }
}

function put32(out: Uint8Array, at: number, v: number): void {
  out[at] = v;
  out[at + 1] = v >>> 8;
  out[at + 2] = v >>> 16;
  out[at + 3] = v >>> 24;
}

function instantiate(): ChaChaPolyWasm | undefined {
  if (keystreamWasm === undefined) return undefined;
  try {
    if (!WebAssembly.validate(CHACHA_WASM)) return undefined;
    return new ChaChaPolyWasm(
      new WebAssembly.Module(CHACHA_WASM),
      keystreamWasm,
    );
  } catch {
    return undefined;
  }
}

/**
 * The AEAD module on the keystream module's memory, or undefined without
 * WebAssembly SIMD.
 */
export const chachaPolyWasm: ChaChaPolyWasm | undefined = instantiate();
