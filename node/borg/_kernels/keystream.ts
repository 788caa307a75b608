/**
 * The Enchantrix XOR pre-obfuscation keystream (crypto-formats.md §3.3):
 *
 * ```
 * block_i = SHA-256( nonce(24) || u64be(i) )   for i = 0, 1, 2, ...
 * ```
 *
 * Each block hashes exactly 32 bytes, so the SHA-256 input is one 64-byte
 * block whose words are:
 *
 * | Words   | Content                               | Varies            |
 * | ------- | ------------------------------------- | ----------------- |
 * | W0..W5  | the 24-byte nonce                     | per message       |
 * | W6      | high 32 bits of the counter           | every 2^32 blocks |
 * | W7      | low 32 bits of the counter            | every block       |
 * | W8      | `0x80000000` (padding bit)            | never             |
 * | W9..W14 | zero                                  | never             |
 * | W15     | `256` (message length in bits)        | never             |
 *
 * So rounds 0..6 and schedule words W16..W21 are fixed per (nonce, high
 * counter) and are computed once; each block runs rounds 7..63 only, with the
 * round constants of the fixed words pre-added. Verified against `node:crypto`
 * on random inputs in the tests.
 *
 * The rounds are generated (see `README.md` in this folder): the scalar
 * kernel in `keystream_js.gen.ts`, the 4-lane WebAssembly SIMD one (used when
 * the runtime has WebAssembly SIMD) in `keystream_wasm.gen.ts`, both from
 * descriptions in `scripts/kernels/`. This file computes the per-message
 * prefix both start from and drives them.
 *
 * @module
 */

import {
  CHUNK_BYTES,
  DATA_OFFSET,
  PREFIX_A8,
  PREFIX_AB,
  PREFIX_C,
  PREFIX_E8,
  PREFIX_KW,
  PREFIX_STATE,
  PREFIX_WORDS,
  SHA256_IV,
  SHA256_K,
} from "./constants.ts";
import { keystreamBlock, OUT } from "./keystream_js.gen.ts";
import { type KeystreamWasm, keystreamWasm } from "./keystream_wasm.ts";

const K = new Uint32Array(SHA256_K);
const IV = new Uint32Array(SHA256_IV);

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

function sigma0(x: number): number {
  return rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
}

function sigma1(x: number): number {
  return rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10);
}

/**
 * Precomputes what is fixed per (nonce, high counter word), in the layout of
 * `constants.ts` (`PREFIX_*`): W0..W21 (W7 left zero), K[t] + W[t] for
 * t = 16..21, the working variables a..h after rounds 0..6, for t = 22..37
 * the sum of the schedule terms of W[t] that do not depend on W7; then e and
 * a after round 7 less W7, and a ^ b after round 6. Both kernels start from
 * it: the scalar one ({@linkcode keystreamBlock}) and the SIMD one.
 */
function computePrefix(
  nonce: Uint8Array,
  high: number,
  p: Int32Array = new Int32Array(PREFIX_WORDS),
): Int32Array {
  const w = p; // W0..W21 at 0..21
  for (let i = 0; i < 6; i++) {
    const o = i * 4;
    w[i] = (nonce[o]! << 24) | (nonce[o + 1]! << 16) | (nonce[o + 2]! << 8) |
      nonce[o + 3]!;
  }
  w[6] = high | 0;
  w[7] = 0;
  w[8] = 0x80000000 | 0;
  for (let t = 9; t < 15; t++) w[t] = 0;
  w[15] = 256;
  // W16..W21 do not depend on W7.
  for (let t = 16; t < 22; t++) {
    w[t] = (sigma1(w[t - 2]!) + w[t - 7]! + sigma0(w[t - 15]!) + w[t - 16]!) |
      0;
  }
  let a = IV[0]! | 0, b = IV[1]! | 0, c = IV[2]! | 0, d = IV[3]! | 0;
  let e = IV[4]! | 0, f = IV[5]! | 0, g = IV[6]! | 0, h = IV[7]! | 0;
  for (let t = 0; t < 7; t++) {
    const s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + K[t]! + w[t]!) | 0;
    const s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (s0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  for (let t = 16; t < 22; t++) p[PREFIX_KW + t - 16] = (K[t]! + w[t]!) | 0;
  // The per-message constant part of W22..W37: every term of the schedule
  // sum whose word does not depend on W7 (the kernels add the rest).
  const fixed = (i: number) => i !== 7 && i < 22;
  for (let t = 22; t < 38; t++) {
    let sum = 0;
    if (fixed(t - 2)) sum += sigma1(w[t - 2]!);
    if (fixed(t - 7)) sum += w[t - 7]!;
    if (fixed(t - 15)) sum += sigma0(w[t - 15]!);
    if (fixed(t - 16)) sum += w[t - 16]!;
    p[PREFIX_C + t - 22] = sum | 0;
  }
  // Round 7 with W7 = 0: its T1 and T2 only lack W7 (the SIMD kernel adds it).
  const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
    ((e & f) ^ (~e & g)) + K[7]!) | 0;
  const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
    ((a & b) ^ (a & c) ^ (b & c));
  p[PREFIX_E8] = (d + t1) | 0;
  p[PREFIX_A8] = (t1 + t2) | 0;
  p[PREFIX_AB] = a ^ b;
  const s = PREFIX_STATE;
  p[s] = a;
  p[s + 1] = b;
  p[s + 2] = c;
  p[s + 3] = d;
  p[s + 4] = e;
  p[s + 5] = f;
  p[s + 6] = g;
  p[s + 7] = h;
  return p;
}

/**
 * XORs `input` with the keystream derived from `nonce` and writes the result
 * to `output` (which may be `input` itself, or a same-length view). Uses the
 * 4-lane WebAssembly SIMD code when the runtime has it.
 *
 * @param nonce The 24-byte nonce (entropy).
 * @param input The data.
 * @param output Where the result goes; at least `input.length` bytes.
 */
export function xorKeystream(
  nonce: Uint8Array,
  input: Uint8Array,
  output: Uint8Array,
): void {
  if (keystreamWasm !== undefined && input.length >= WASM_THRESHOLD) {
    xorKeystreamWasm(keystreamWasm, nonce, input, output);
  } else {
    xorKeystreamScalar(nonce, input, output);
  }
}

/**
 * XORs the keystream into the first `length` bytes of the SIMD module's data
 * window, in place (no copies): for callers that already work in that
 * memory, such as the WebAssembly AEAD. Bytes past `length`, up to the next
 * multiple of 128, are changed too.
 *
 * @param nonce The 24-byte nonce.
 * @param length At most {@linkcode CHUNK_BYTES}.
 * @throws {RangeError} Without the SIMD module or when `length` is too big.
 */
export function xorKeystreamInWindow(nonce: Uint8Array, length: number): void {
  const wasm = keystreamWasm;
  if (wasm === undefined || length > CHUNK_BYTES) {
    throw new RangeError("Cannot XOR keystream in window");
  }
  if (length === 0) return;
  computePrefix(nonce, 0, wasm.mem32);
  wasm.xor(DATA_OFFSET, Math.ceil(length / 128), 0);
}

/** Below this many bytes the scalar code is used (call overhead). */
const WASM_THRESHOLD = 96;

function xorKeystreamWasm(
  wasm: KeystreamWasm,
  nonce: Uint8Array,
  input: Uint8Array,
  output: Uint8Array,
): void {
  const n = input.length;
  const { mem8, mem32, xor } = wasm;
  let high = -1;
  for (let off = 0; off < n; off += CHUNK_BYTES) {
    const len = Math.min(CHUNK_BYTES, n - off);
    const firstBlock = off / 32;
    const hi = Math.floor(firstBlock / 0x100000000);
    if (hi !== high) {
      high = hi;
      computePrefix(nonce, hi, mem32);
    }
    mem8.set(input.subarray(off, off + len), DATA_OFFSET);
    xor(DATA_OFFSET, Math.ceil(len / 128), firstBlock | 0);
    output.set(mem8.subarray(DATA_OFFSET, DATA_OFFSET + len), off);
  }
}

/**
 * The portable scalar keystream XOR (same contract as
 * {@linkcode xorKeystream}); kept for runtimes without WebAssembly SIMD and
 * as a cross-check in tests.
 *
 * @param nonce The 24-byte nonce (entropy).
 * @param input The data.
 * @param output Where the result goes.
 */
export function xorKeystreamScalar(
  nonce: Uint8Array,
  input: Uint8Array,
  output: Uint8Array,
): void {
  const n = input.length;
  if (n === 0) return;
  const blocks = Math.ceil(n / 32);
  let high = 0;
  let prefix = computePrefix(nonce, 0);
  const out = OUT;
  for (let i = 0; i < blocks; i++) {
    const hi = Math.floor(i / 0x100000000);
    if (hi !== high) {
      high = hi;
      prefix = computePrefix(nonce, hi);
    }
    keystreamBlock(prefix, i | 0);
    const p = i * 32;
    if (p + 32 <= n) {
      for (let j = 0; j < 8; j++) {
        const v = out[j]!;
        const q = p + j * 4;
        output[q] = input[q]! ^ (v >>> 24);
        output[q + 1] = input[q + 1]! ^ (v >>> 16);
        output[q + 2] = input[q + 2]! ^ (v >>> 8);
        output[q + 3] = input[q + 3]! ^ v;
      }
    } else {
      for (let q = p; q < n; q++) {
        const v = out[(q - p) >> 2]!;
        output[q] = input[q]! ^ (v >>> (24 - 8 * ((q - p) & 3)));
      }
    }
  }
}

/**
 * The keystream itself (the XOR of zero bytes), for tests and vectors.
 *
 * @param nonce The 24-byte nonce.
 * @param length How many bytes.
 * @returns The keystream bytes.
 */
export function keystream(
  nonce: Uint8Array,
  length: number,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  xorKeystream(nonce, out, out);
  return out;
}
