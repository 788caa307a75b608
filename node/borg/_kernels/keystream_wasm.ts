/**
 * A 4-lane WebAssembly SIMD version of the keystream in `keystream.ts`:
 * four consecutive keystream blocks are hashed at once, one per 32-bit lane
 * of each `v128` (multi-buffer SHA-256), then transposed, byte-swapped to
 * big-endian and XOR-ed into the data in place.
 *
 * The module is assembled here, at load time, from the instruction list
 * below (no binary blob is shipped); `keystream.ts` falls back to its scalar
 * code when the runtime has no WebAssembly SIMD.
 *
 * Memory layout: the 36-word prefix of `keystream.ts` at address 0, the data
 * window at {@linkcode DATA_OFFSET}, {@linkcode CHUNK_BYTES} long. Exported
 * function `xor(ptr, groups, counter)` processes `groups` 128-byte groups at
 * `ptr`, block counters `counter`, `counter + 1`, ...
 *
 * @module
 */

import {
  ADD,
  type Code,
  get,
  i32,
  name,
  OR,
  section,
  set,
  SHL,
  SHR_U,
  SHUFFLE,
  simd,
  SPLAT,
  transposeXorStore,
  uleb,
  XOR,
} from "./wasm_asm.ts";

/** Where the data window starts in the module's memory. */
export const DATA_OFFSET = 256;
/** Data window size; a multiple of 128 that divides 2^37 (block counters never straddle a 2^32 boundary). */
export const CHUNK_BYTES = 64 * 1024;

const splatConst = (n: number): Code => {
  const b: Code = [];
  for (let i = 0; i < 4; i++) {
    b.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  return [...simd(0x0c), ...b];
};
/** Lanes of a shuffle that byte-swaps each 32-bit word of its first input. */
const BSWAP = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];
const AND = simd(0x4e);
const BITSELECT = simd(0x52);

/** The SHA-256 round constants (FIPS 180-4 §4.2.2). */
export const SHA256_K: readonly number[] = [
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
];
const K = SHA256_K;
const IV = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

// Fixed message words W8..W15 (padding bit and length).
function fixedWord(t: number): number | undefined {
  if (t === 8) return 0x80000000 | 0;
  if (t >= 9 && t <= 14) return 0;
  if (t === 15) return 256;
  return undefined;
}

/** Whether message word t depends on the block counter (W7). */
function varies(t: number): boolean {
  return t === 7 || t >= 22;
}

function rotrScalar(x: number, n: number): number {
  return ((x >>> n) | (x << (32 - n))) | 0;
}

// Locals: 0 ptr, 1 groups, 2 counter (params); v128 locals from 3.
let nextLocal = 3;
const alloc = (): number => nextLocal++;
// Per-message constant part of W[t], t = 22..37: the terms of the schedule
// sum that come from W0..W6 or W8..W21 (prefix words 36..51).
const C: Record<number, number> = {};
for (let t = 22; t < 38; t++) C[t] = alloc();
const KW: Record<number, number> = {}; // K + W for t = 16..21
for (let t = 16; t < 22; t++) KW[t] = alloc();
const S0 = Array.from({ length: 8 }, alloc); // state after rounds 0..6
const E8 = alloc(); // e after round 7, less W7
const A8 = alloc(); // a after round 7, less W7
const AB0 = alloc(); // a ^ b after round 6
const LOW = alloc(); // counters of the four lanes
const V = Array.from({ length: 8 }, alloc); // working variables
const T1 = alloc();
const AB = [alloc(), alloc()]; // a ^ b of this round and of the previous one
const WL: Record<number, number> = {};
for (let t = 22; t < 64; t++) WL[t] = alloc();
const TR = Array.from({ length: 4 }, alloc); // transpose temporaries
const V128_LOCALS = nextLocal - 3;

function rotr(x: Code, n: number): Code {
  return [...x, ...i32(n), ...SHR_U, ...x, ...i32(32 - n), ...SHL, ...OR];
}

function shr(x: Code, n: number): Code {
  return [...x, ...i32(n), ...SHR_U];
}

/** Code pushing message word t (a v128), or undefined for a zero word. */
function word(t: number): Code | undefined {
  const f = fixedWord(t);
  if (f !== undefined) return f === 0 ? undefined : splatConst(f);
  if (t === 7) return get(LOW);
  return get(WL[t]!);
}

function sigmaSmall(
  t: number,
  r1: number,
  r2: number,
  s: number,
): Code | undefined {
  const f = fixedWord(t);
  if (f !== undefined) {
    const v = rotrScalar(f, r1) ^ rotrScalar(f, r2) ^ (f >>> s);
    return v === 0 ? undefined : splatConst(v);
  }
  const x = word(t)!;
  return [...rotr(x, r1), ...rotr(x, r2), ...XOR, ...shr(x, s), ...XOR];
}

function sum(terms: (Code | undefined)[]): Code {
  const present = terms.filter((c): c is Code => c !== undefined);
  const out: Code = [...present[0]!];
  for (let i = 1; i < present.length; i++) out.push(...present[i]!, ...ADD);
  return out;
}

/**
 * Adds the IV to the final state `fin` (a..h, four blocks, one per lane),
 * byte-swaps, transposes (temporaries `TR`) and XORs the four 32-byte
 * blocks into memory at local 0 (ptr).
 */
function output(fin: number[], TR: number[]): Code {
  const c: Code = [];
  for (let i = 0; i < 8; i++) {
    c.push(...get(fin[i]!), ...splatConst(IV[i]! | 0), ...ADD);
    // Byte-swap each word here (a one-input shuffle), so the transpose
    // below is made of plain word and quad-word interleaves.
    c.push(0x22, ...uleb(fin[i]!), ...get(fin[i]!), ...SHUFFLE(BSWAP));
    c.push(...set(fin[i]!));
  }
  // Transpose 4x4 words, XOR into memory. Block j sits at
  // ptr + 32 j: words 0..3 from (a, b, c, d), words 4..7 from (e, f, g, h).
  for (let half = 0; half < 2; half++) {
    transposeXorStore(
      c,
      fin.slice(half * 4, half * 4 + 4),
      TR,
      (j) => j * 32 + half * 16,
    );
  }
  return c;
}

/**
 * One SHA-256 round on the locals in `roles` (a..h): h and d receive the new
 * a and e. `kw` pushes K[t] + W[t]; `ab` holds a ^ b of the previous round
 * (index t + 1 & 1) and receives this round's (index t & 1).
 */
function round(
  t: number,
  roles: number[],
  kw: Code,
  T1: number,
  AB: number[],
): Code {
  const [a, b, _c, d, e, f, g, h] = roles as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const c: Code = [];
  const E = get(e), A = get(a);
  const bigSigma1 = [
    ...rotr(E, 6),
    ...rotr(E, 11),
    ...XOR,
    ...rotr(E, 25),
    ...XOR,
  ];
  const ch = [...get(f), ...get(g), ...E, ...BITSELECT];
  c.push(
    ...get(h),
    ...bigSigma1,
    ...ADD,
    ...ch,
    ...ADD,
    ...kw,
    ...ADD,
    ...set(T1),
  );
  c.push(...get(d), ...get(T1), ...ADD, ...set(d));
  const bigSigma0 = [
    ...rotr(A, 2),
    ...rotr(A, 13),
    ...XOR,
    ...rotr(A, 22),
    ...XOR,
  ];
  const cur = AB[t & 1]!, prev = AB[(t + 1) & 1]!;
  const maj = [
    ...get(b),
    ...A,
    ...get(b),
    ...XOR,
    0x22,
    ...uleb(cur),
    ...get(prev),
    ...AND,
    ...XOR,
  ];
  c.push(...get(T1), ...bigSigma0, ...ADD, ...maj, ...ADD, ...set(h));
  return c;
}

function body(): Code {
  const c: Code = [];
  // Splat the prefix scalars (Int32 words at address 0) into locals.
  const load = (index: number, local: number) =>
    c.push(...i32(0), 0x28, 2, ...uleb(index * 4), ...SPLAT, ...set(local));
  for (let t = 22; t < 38; t++) load(t + 14, C[t]!);
  for (let t = 16; t < 22; t++) load(t + 6, KW[t]!);
  for (const i of [0, 1, 2, 4, 5, 6]) load(28 + i, S0[i]!);
  load(52, E8);
  load(53, A8);
  load(54, AB0);
  // LOW = splat(counter) + [0, 1, 2, 3]
  c.push(...get(2), ...SPLAT, ...simd(0x0c));
  for (let i = 0; i < 4; i++) c.push(i, 0, 0, 0);
  c.push(...ADD, ...set(LOW));
  // block $done { loop $next {
  c.push(0x02, 0x40, 0x03, 0x40);
  c.push(...get(1), 0x45, 0x0d, 1); // groups == 0 -> br $done
  // Round 7 only adds W7 to two precomputed sums: the state after it is
  // (A8 + W7, a6, b6, c6, E8 + W7, e6, f6, g6) (roles rotated by one).
  for (const i of [0, 1, 2, 4, 5, 6]) c.push(...get(S0[i]!), ...set(V[i]!));
  c.push(...get(E8), ...get(LOW), ...ADD, ...set(V[3]!));
  c.push(...get(A8), ...get(LOW), ...ADD, ...set(V[7]!));
  // Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and each round's a ^ b is the
  // next round's b ^ c; b ^ c before round 8 is a6 ^ b6 (prefix word 54).
  c.push(...get(AB0), ...set(AB[1]!));
  let rot = 1;
  const role = (r: number) => V[((r - rot) % 8 + 8) % 8]!;
  for (let t = 8; t < 64; t++) {
    if (t >= 22) {
      c.push(
        ...sum([
          t < 38 ? get(C[t]!) : undefined,
          varies(t - 2) ? sigmaSmall(t - 2, 17, 19, 10) : undefined,
          varies(t - 7) ? word(t - 7) : undefined,
          varies(t - 15) ? sigmaSmall(t - 15, 7, 18, 3) : undefined,
          varies(t - 16) ? word(t - 16) : undefined,
        ]),
        ...set(WL[t]!),
      );
    }
    let kw: Code;
    const fw = fixedWord(t);
    if (fw !== undefined) kw = splatConst((K[t]! + fw) | 0);
    else if (t >= 16 && t < 22) kw = get(KW[t]!);
    else kw = [...splatConst(K[t]! | 0), ...word(t)!, ...ADD];
    c.push(...round(t, [0, 1, 2, 3, 4, 5, 6, 7].map(role), kw, T1, AB));
    rot++;
  }
  c.push(...output([0, 1, 2, 3, 4, 5, 6, 7].map(role), TR));
  // ptr += 128; groups -= 1; LOW += 4; continue
  c.push(...get(0), ...i32(128), 0x6a, 0x21, 0);
  c.push(...get(1), ...i32(1), 0x6b, 0x21, 1);
  c.push(...get(LOW), ...splatConst(4), ...ADD, ...set(LOW));
  c.push(0x0c, 0, 0x0b, 0x0b); // br $next; end loop; end block
  c.push(0x0b); // end function
  return c;
}

function assemble(): Uint8Array<ArrayBuffer> {
  const fn = [1, ...uleb(V128_LOCALS), 0x7b, ...body()];
  const pages = Math.ceil((DATA_OFFSET + CHUNK_BYTES) / 65536);
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, ...uleb(pages)]),
    ...section(7, [2, ...name("memory"), 2, 0, ...name("xor"), 0, 0]),
    ...section(10, [1, ...uleb(fn.length), ...fn]),
  ];
  return new Uint8Array(bytes);
}

/** The instantiated module, or undefined when SIMD is unavailable. */
export interface KeystreamWasm {
  /** The module memory as bytes. */
  readonly mem8: Uint8Array;
  /** The module memory as native-endian words (prefix at index 0). */
  readonly mem32: Int32Array;
  /** XORs `groups` 128-byte groups at `ptr` with blocks from `counter`. */
  readonly xor: (ptr: number, groups: number, counter: number) => void;
  /** The module memory itself (the AEAD module of `chacha_wasm.ts` shares it). */
  readonly memory: WebAssembly.Memory;
}

function instantiate(): KeystreamWasm | undefined {
  try {
    const bytes = assemble();
    if (!WebAssembly.validate(bytes)) return undefined;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const memory = instance.exports.memory as WebAssembly.Memory;
    return {
      memory,
      mem8: new Uint8Array(memory.buffer),
      mem32: new Int32Array(memory.buffer),
      xor: instance.exports.xor as (p: number, g: number, c: number) => void,
    };
  } catch {
    return undefined;
  }
}

/** The SIMD keystream module, or undefined without WebAssembly SIMD. */
export const keystreamWasm: KeystreamWasm | undefined = instantiate();
