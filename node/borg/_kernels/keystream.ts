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
 * @module
 */

import {
  CHUNK_BYTES,
  DATA_OFFSET,
  type KeystreamWasm,
  keystreamWasm,
  SHA256_K,
} from "./keystream_wasm.ts";

const K = new Uint32Array(SHA256_K);

const IV = new Uint32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

const IV0 = 0x6a09e667 | 0, IV1 = 0xbb67ae85 | 0, IV2 = 0x3c6ef372 | 0;
const IV3 = 0xa54ff53a | 0, IV4 = 0x510e527f | 0, IV5 = 0x9b05688c | 0;
const IV6 = 0x1f83d9ab | 0, IV7 = 0x5be0cd19 | 0;

function rotr(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

function sigma0(x: number): number {
  return rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
}

function sigma1(x: number): number {
  return rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10);
}

/** Words of a prefix from {@linkcode computePrefix}. */
const PREFIX_WORDS = 55;

/**
 * Precomputes what is fixed per (nonce, high counter word): W0..W21 (W7 left
 * zero) at 0..21, K[t] + W[t] for t = 16..21 at 22..27, the working
 * variables a..h after rounds 0..6 at 28..35, and for t = 22..37 the sum of
 * the schedule terms of W[t] that do not depend on W7 at t + 14 (36..51);
 * then e and a after round 7 less W7 (52, 53) and a ^ b after round 6 (54).
 */
function computePrefix(
  nonce: Uint8Array,
  high: number,
  w: Int32Array = new Int32Array(PREFIX_WORDS),
): Int32Array {
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
  for (let t = 16; t < 22; t++) w[t + 6] = (K[t]! + w[t]!) | 0;
  // The per-message constant part of W22..W37: every term of the schedule
  // sum whose word does not depend on W7 (the SIMD module adds the rest).
  const fixed = (i: number) => i !== 7 && i < 22;
  for (let t = 22; t < 38; t++) {
    let sum = 0;
    if (fixed(t - 2)) sum += sigma1(w[t - 2]!);
    if (fixed(t - 7)) sum += w[t - 7]!;
    if (fixed(t - 15)) sum += sigma0(w[t - 15]!);
    if (fixed(t - 16)) sum += w[t - 16]!;
    w[t + 14] = sum | 0;
  }
  // Round 7 with W7 = 0: its T1 and T2 only lack W7 (the SIMD module adds it).
  const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
    ((e & f) ^ (~e & g)) + K[7]!) | 0;
  const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
    ((a & b) ^ (a & c) ^ (b & c));
  w[52] = (d + t1) | 0;
  w[53] = (t1 + t2) | 0;
  w[54] = a ^ b;
  w[28] = a;
  w[29] = b;
  w[30] = c;
  w[31] = d;
  w[32] = e;
  w[33] = f;
  w[34] = g;
  w[35] = h;
  return w;
}

const OUT = new Int32Array(8);

/**
 * Computes one keystream block into {@linkcode OUT}: rounds 7..63 of the
 * SHA-256 compression, fully unrolled (the working variables rotate by name
 * instead of being moved), with fixed message words folded into the round
 * constants. `p` is a prefix from {@linkcode computePrefix}; `low` is the
 * low 32 bits of the block counter (message word W7).
 */
function block(p: Int32Array, low: number): void {
  const p6 = p[6]!, p16 = p[16]!, p17 = p[17]!, p18 = p[18]!, p19 = p[19]!;
  const p20 = p[20]!, p21 = p[21]!;
  const k16 = p[22]!, k17 = p[23]!, k18 = p[24]!, k19 = p[25]!, k20 = p[26]!;
  const k21 = p[27]!;
  let a = p[28]!, b = p[29]!, c = p[30]!, d = p[31]!;
  let e = p[32]!, f = p[33]!, g = p[34]!, h = p[35]!;
  let t1 = 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0xab1c5ed5 + low) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + 0x5807aa98) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + 0x12835b01) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + 0x243185be) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + 0x550c7dc3) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + 0x72be5d74) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + 0x80deb1fe) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0x9bdc06a7) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0xc19bf274) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + k16) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + k17) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + k18) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + k19) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + k20) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + k21) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  const w22 = ((((p20 >>> 17) | (p20 << 15)) ^ ((p20 >>> 19) | (p20 << 13)) ^
    (p20 >>> 10)) +
    256 +
    (((low >>> 7) | (low << 25)) ^ ((low >>> 18) | (low << 14)) ^
      (low >>> 3)) +
    p6) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0x5cb0a9dc + w22) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  const w23 = ((((p21 >>> 17) | (p21 << 15)) ^ ((p21 >>> 19) | (p21 << 13)) ^
    (p21 >>> 10)) + p16 + 285220864 + low) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0x76f988da + w23) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  const w24 = ((((w22 >>> 17) | (w22 << 15)) ^ ((w22 >>> 19) | (w22 << 13)) ^
    (w22 >>> 10)) + p17 + -2147483648) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + 0x983e5152 + w24) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  const w25 = ((((w23 >>> 17) | (w23 << 15)) ^ ((w23 >>> 19) | (w23 << 13)) ^
    (w23 >>> 10)) + p18) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + 0xa831c66d + w25) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  const w26 = ((((w24 >>> 17) | (w24 << 15)) ^ ((w24 >>> 19) | (w24 << 13)) ^
    (w24 >>> 10)) + p19) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + 0xb00327c8 + w26) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  const w27 = ((((w25 >>> 17) | (w25 << 15)) ^ ((w25 >>> 19) | (w25 << 13)) ^
    (w25 >>> 10)) + p20) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + 0xbf597fc7 + w27) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  const w28 = ((((w26 >>> 17) | (w26 << 15)) ^ ((w26 >>> 19) | (w26 << 13)) ^
    (w26 >>> 10)) + p21) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + 0xc6e00bf3 + w28) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  const w29 = ((((w27 >>> 17) | (w27 << 15)) ^ ((w27 >>> 19) | (w27 << 13)) ^
    (w27 >>> 10)) + w22) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + 0xd5a79147 + w29) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  const w30 = ((((w28 >>> 17) | (w28 << 15)) ^ ((w28 >>> 19) | (w28 << 13)) ^
    (w28 >>> 10)) + w23 + 4194338) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0x06ca6351 + w30) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  const w31 = ((((w29 >>> 17) | (w29 << 15)) ^ ((w29 >>> 19) | (w29 << 13)) ^
    (w29 >>> 10)) +
    w24 +
    (((p16 >>> 7) | (p16 << 25)) ^ ((p16 >>> 18) | (p16 << 14)) ^
      (p16 >>> 3)) +
    256) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0x14292967 + w31) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  const w32 = ((((w30 >>> 17) | (w30 << 15)) ^ ((w30 >>> 19) | (w30 << 13)) ^
    (w30 >>> 10)) +
    w25 +
    (((p17 >>> 7) | (p17 << 25)) ^ ((p17 >>> 18) | (p17 << 14)) ^
      (p17 >>> 3)) +
    p16) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + 0x27b70a85 + w32) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  const w33 = ((((w31 >>> 17) | (w31 << 15)) ^ ((w31 >>> 19) | (w31 << 13)) ^
    (w31 >>> 10)) +
    w26 +
    (((p18 >>> 7) | (p18 << 25)) ^ ((p18 >>> 18) | (p18 << 14)) ^
      (p18 >>> 3)) +
    p17) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + 0x2e1b2138 + w33) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  const w34 = ((((w32 >>> 17) | (w32 << 15)) ^ ((w32 >>> 19) | (w32 << 13)) ^
    (w32 >>> 10)) +
    w27 +
    (((p19 >>> 7) | (p19 << 25)) ^ ((p19 >>> 18) | (p19 << 14)) ^
      (p19 >>> 3)) +
    p18) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + 0x4d2c6dfc + w34) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  const w35 = ((((w33 >>> 17) | (w33 << 15)) ^ ((w33 >>> 19) | (w33 << 13)) ^
    (w33 >>> 10)) +
    w28 +
    (((p20 >>> 7) | (p20 << 25)) ^ ((p20 >>> 18) | (p20 << 14)) ^
      (p20 >>> 3)) +
    p19) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + 0x53380d13 + w35) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  const w36 = ((((w34 >>> 17) | (w34 << 15)) ^ ((w34 >>> 19) | (w34 << 13)) ^
    (w34 >>> 10)) +
    w29 +
    (((p21 >>> 7) | (p21 << 25)) ^ ((p21 >>> 18) | (p21 << 14)) ^
      (p21 >>> 3)) +
    p20) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + 0x650a7354 + w36) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  const w37 = ((((w35 >>> 17) | (w35 << 15)) ^ ((w35 >>> 19) | (w35 << 13)) ^
    (w35 >>> 10)) +
    w30 +
    (((w22 >>> 7) | (w22 << 25)) ^ ((w22 >>> 18) | (w22 << 14)) ^
      (w22 >>> 3)) +
    p21) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + 0x766a0abb + w37) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  const w38 = ((((w36 >>> 17) | (w36 << 15)) ^ ((w36 >>> 19) | (w36 << 13)) ^
    (w36 >>> 10)) +
    w31 +
    (((w23 >>> 7) | (w23 << 25)) ^ ((w23 >>> 18) | (w23 << 14)) ^
      (w23 >>> 3)) +
    w22) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0x81c2c92e + w38) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  const w39 = ((((w37 >>> 17) | (w37 << 15)) ^ ((w37 >>> 19) | (w37 << 13)) ^
    (w37 >>> 10)) +
    w32 +
    (((w24 >>> 7) | (w24 << 25)) ^ ((w24 >>> 18) | (w24 << 14)) ^
      (w24 >>> 3)) +
    w23) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0x92722c85 + w39) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  const w40 = ((((w38 >>> 17) | (w38 << 15)) ^ ((w38 >>> 19) | (w38 << 13)) ^
    (w38 >>> 10)) +
    w33 +
    (((w25 >>> 7) | (w25 << 25)) ^ ((w25 >>> 18) | (w25 << 14)) ^
      (w25 >>> 3)) +
    w24) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + 0xa2bfe8a1 + w40) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  const w41 = ((((w39 >>> 17) | (w39 << 15)) ^ ((w39 >>> 19) | (w39 << 13)) ^
    (w39 >>> 10)) +
    w34 +
    (((w26 >>> 7) | (w26 << 25)) ^ ((w26 >>> 18) | (w26 << 14)) ^
      (w26 >>> 3)) +
    w25) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + 0xa81a664b + w41) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  const w42 = ((((w40 >>> 17) | (w40 << 15)) ^ ((w40 >>> 19) | (w40 << 13)) ^
    (w40 >>> 10)) +
    w35 +
    (((w27 >>> 7) | (w27 << 25)) ^ ((w27 >>> 18) | (w27 << 14)) ^
      (w27 >>> 3)) +
    w26) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + 0xc24b8b70 + w42) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  const w43 = ((((w41 >>> 17) | (w41 << 15)) ^ ((w41 >>> 19) | (w41 << 13)) ^
    (w41 >>> 10)) +
    w36 +
    (((w28 >>> 7) | (w28 << 25)) ^ ((w28 >>> 18) | (w28 << 14)) ^
      (w28 >>> 3)) +
    w27) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + 0xc76c51a3 + w43) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  const w44 = ((((w42 >>> 17) | (w42 << 15)) ^ ((w42 >>> 19) | (w42 << 13)) ^
    (w42 >>> 10)) +
    w37 +
    (((w29 >>> 7) | (w29 << 25)) ^ ((w29 >>> 18) | (w29 << 14)) ^
      (w29 >>> 3)) +
    w28) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + 0xd192e819 + w44) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  const w45 = ((((w43 >>> 17) | (w43 << 15)) ^ ((w43 >>> 19) | (w43 << 13)) ^
    (w43 >>> 10)) +
    w38 +
    (((w30 >>> 7) | (w30 << 25)) ^ ((w30 >>> 18) | (w30 << 14)) ^
      (w30 >>> 3)) +
    w29) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + 0xd6990624 + w45) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  const w46 = ((((w44 >>> 17) | (w44 << 15)) ^ ((w44 >>> 19) | (w44 << 13)) ^
    (w44 >>> 10)) +
    w39 +
    (((w31 >>> 7) | (w31 << 25)) ^ ((w31 >>> 18) | (w31 << 14)) ^
      (w31 >>> 3)) +
    w30) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0xf40e3585 + w46) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  const w47 = ((((w45 >>> 17) | (w45 << 15)) ^ ((w45 >>> 19) | (w45 << 13)) ^
    (w45 >>> 10)) +
    w40 +
    (((w32 >>> 7) | (w32 << 25)) ^ ((w32 >>> 18) | (w32 << 14)) ^
      (w32 >>> 3)) +
    w31) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0x106aa070 + w47) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  const w48 = ((((w46 >>> 17) | (w46 << 15)) ^ ((w46 >>> 19) | (w46 << 13)) ^
    (w46 >>> 10)) +
    w41 +
    (((w33 >>> 7) | (w33 << 25)) ^ ((w33 >>> 18) | (w33 << 14)) ^
      (w33 >>> 3)) +
    w32) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + 0x19a4c116 + w48) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  const w49 = ((((w47 >>> 17) | (w47 << 15)) ^ ((w47 >>> 19) | (w47 << 13)) ^
    (w47 >>> 10)) +
    w42 +
    (((w34 >>> 7) | (w34 << 25)) ^ ((w34 >>> 18) | (w34 << 14)) ^
      (w34 >>> 3)) +
    w33) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + 0x1e376c08 + w49) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  const w50 = ((((w48 >>> 17) | (w48 << 15)) ^ ((w48 >>> 19) | (w48 << 13)) ^
    (w48 >>> 10)) +
    w43 +
    (((w35 >>> 7) | (w35 << 25)) ^ ((w35 >>> 18) | (w35 << 14)) ^
      (w35 >>> 3)) +
    w34) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + 0x2748774c + w50) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  const w51 = ((((w49 >>> 17) | (w49 << 15)) ^ ((w49 >>> 19) | (w49 << 13)) ^
    (w49 >>> 10)) +
    w44 +
    (((w36 >>> 7) | (w36 << 25)) ^ ((w36 >>> 18) | (w36 << 14)) ^
      (w36 >>> 3)) +
    w35) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + 0x34b0bcb5 + w51) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  const w52 = ((((w50 >>> 17) | (w50 << 15)) ^ ((w50 >>> 19) | (w50 << 13)) ^
    (w50 >>> 10)) +
    w45 +
    (((w37 >>> 7) | (w37 << 25)) ^ ((w37 >>> 18) | (w37 << 14)) ^
      (w37 >>> 3)) +
    w36) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + 0x391c0cb3 + w52) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  const w53 = ((((w51 >>> 17) | (w51 << 15)) ^ ((w51 >>> 19) | (w51 << 13)) ^
    (w51 >>> 10)) +
    w46 +
    (((w38 >>> 7) | (w38 << 25)) ^ ((w38 >>> 18) | (w38 << 14)) ^
      (w38 >>> 3)) +
    w37) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + 0x4ed8aa4a + w53) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  const w54 = ((((w52 >>> 17) | (w52 << 15)) ^ ((w52 >>> 19) | (w52 << 13)) ^
    (w52 >>> 10)) +
    w47 +
    (((w39 >>> 7) | (w39 << 25)) ^ ((w39 >>> 18) | (w39 << 14)) ^
      (w39 >>> 3)) +
    w38) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0x5b9cca4f + w54) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  const w55 = ((((w53 >>> 17) | (w53 << 15)) ^ ((w53 >>> 19) | (w53 << 13)) ^
    (w53 >>> 10)) +
    w48 +
    (((w40 >>> 7) | (w40 << 25)) ^ ((w40 >>> 18) | (w40 << 14)) ^
      (w40 >>> 3)) +
    w39) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0x682e6ff3 + w55) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  const w56 = ((((w54 >>> 17) | (w54 << 15)) ^ ((w54 >>> 19) | (w54 << 13)) ^
    (w54 >>> 10)) +
    w49 +
    (((w41 >>> 7) | (w41 << 25)) ^ ((w41 >>> 18) | (w41 << 14)) ^
      (w41 >>> 3)) +
    w40) | 0;
  t1 = (g +
    (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^
      ((d >>> 25) | (d << 7))) +
    ((d & e) ^ (~d & f)) + 0x748f82ee + w56) | 0;
  c = (c + t1) | 0;
  g = (t1 +
    (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^
      ((h >>> 22) | (h << 10))) +
    ((h & a) ^ (h & b) ^ (a & b))) | 0;
  const w57 = ((((w55 >>> 17) | (w55 << 15)) ^ ((w55 >>> 19) | (w55 << 13)) ^
    (w55 >>> 10)) +
    w50 +
    (((w42 >>> 7) | (w42 << 25)) ^ ((w42 >>> 18) | (w42 << 14)) ^
      (w42 >>> 3)) +
    w41) | 0;
  t1 = (f +
    (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^
      ((c >>> 25) | (c << 7))) +
    ((c & d) ^ (~c & e)) + 0x78a5636f + w57) | 0;
  b = (b + t1) | 0;
  f = (t1 +
    (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^
      ((g >>> 22) | (g << 10))) +
    ((g & h) ^ (g & a) ^ (h & a))) | 0;
  const w58 = ((((w56 >>> 17) | (w56 << 15)) ^ ((w56 >>> 19) | (w56 << 13)) ^
    (w56 >>> 10)) +
    w51 +
    (((w43 >>> 7) | (w43 << 25)) ^ ((w43 >>> 18) | (w43 << 14)) ^
      (w43 >>> 3)) +
    w42) | 0;
  t1 = (e +
    (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^
      ((b >>> 25) | (b << 7))) +
    ((b & c) ^ (~b & d)) + 0x84c87814 + w58) | 0;
  a = (a + t1) | 0;
  e = (t1 +
    (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^
      ((f >>> 22) | (f << 10))) +
    ((f & g) ^ (f & h) ^ (g & h))) | 0;
  const w59 = ((((w57 >>> 17) | (w57 << 15)) ^ ((w57 >>> 19) | (w57 << 13)) ^
    (w57 >>> 10)) +
    w52 +
    (((w44 >>> 7) | (w44 << 25)) ^ ((w44 >>> 18) | (w44 << 14)) ^
      (w44 >>> 3)) +
    w43) | 0;
  t1 = (d +
    (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^
      ((a >>> 25) | (a << 7))) +
    ((a & b) ^ (~a & c)) + 0x8cc70208 + w59) | 0;
  h = (h + t1) | 0;
  d = (t1 +
    (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^
      ((e >>> 22) | (e << 10))) +
    ((e & f) ^ (e & g) ^ (f & g))) | 0;
  const w60 = ((((w58 >>> 17) | (w58 << 15)) ^ ((w58 >>> 19) | (w58 << 13)) ^
    (w58 >>> 10)) +
    w53 +
    (((w45 >>> 7) | (w45 << 25)) ^ ((w45 >>> 18) | (w45 << 14)) ^
      (w45 >>> 3)) +
    w44) | 0;
  t1 = (c +
    (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^
      ((h >>> 25) | (h << 7))) +
    ((h & a) ^ (~h & b)) + 0x90befffa + w60) | 0;
  g = (g + t1) | 0;
  c = (t1 +
    (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^
      ((d >>> 22) | (d << 10))) +
    ((d & e) ^ (d & f) ^ (e & f))) | 0;
  const w61 = ((((w59 >>> 17) | (w59 << 15)) ^ ((w59 >>> 19) | (w59 << 13)) ^
    (w59 >>> 10)) +
    w54 +
    (((w46 >>> 7) | (w46 << 25)) ^ ((w46 >>> 18) | (w46 << 14)) ^
      (w46 >>> 3)) +
    w45) | 0;
  t1 = (b +
    (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^
      ((g >>> 25) | (g << 7))) +
    ((g & h) ^ (~g & a)) + 0xa4506ceb + w61) | 0;
  f = (f + t1) | 0;
  b = (t1 +
    (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^
      ((c >>> 22) | (c << 10))) +
    ((c & d) ^ (c & e) ^ (d & e))) | 0;
  const w62 = ((((w60 >>> 17) | (w60 << 15)) ^ ((w60 >>> 19) | (w60 << 13)) ^
    (w60 >>> 10)) +
    w55 +
    (((w47 >>> 7) | (w47 << 25)) ^ ((w47 >>> 18) | (w47 << 14)) ^
      (w47 >>> 3)) +
    w46) | 0;
  t1 = (a +
    (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^
      ((f >>> 25) | (f << 7))) +
    ((f & g) ^ (~f & h)) + 0xbef9a3f7 + w62) | 0;
  e = (e + t1) | 0;
  a = (t1 +
    (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^
      ((b >>> 22) | (b << 10))) +
    ((b & c) ^ (b & d) ^ (c & d))) | 0;
  const w63 = ((((w61 >>> 17) | (w61 << 15)) ^ ((w61 >>> 19) | (w61 << 13)) ^
    (w61 >>> 10)) +
    w56 +
    (((w48 >>> 7) | (w48 << 25)) ^ ((w48 >>> 18) | (w48 << 14)) ^
      (w48 >>> 3)) +
    w47) | 0;
  t1 = (h +
    (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^
      ((e >>> 25) | (e << 7))) +
    ((e & f) ^ (~e & g)) + 0xc67178f2 + w63) | 0;
  d = (d + t1) | 0;
  h = (t1 +
    (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^
      ((a >>> 22) | (a << 10))) +
    ((a & b) ^ (a & c) ^ (b & c))) | 0;
  OUT[0] = h + IV0;
  OUT[1] = a + IV1;
  OUT[2] = b + IV2;
  OUT[3] = c + IV3;
  OUT[4] = d + IV4;
  OUT[5] = e + IV5;
  OUT[6] = f + IV6;
  OUT[7] = g + IV7;
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
    block(prefix, i | 0);
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
