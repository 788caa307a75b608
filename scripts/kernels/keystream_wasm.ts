/**
 * Description of the 4-lane WebAssembly SIMD keystream kernel
 * (`node/borg/_kernels/keystream_wasm.gen.ts`): four consecutive keystream
 * blocks `SHA-256(nonce || u64be(i))` are hashed at once, one per 32-bit lane
 * of each `v128` (multi-buffer SHA-256), then transposed, byte-swapped to
 * big-endian and XOR-ed into the data in place.
 *
 * Exported function `xor(ptr, groups, counter)` processes `groups` 128-byte
 * groups at `ptr`, block counters `counter`, `counter + 1`, … It reads the
 * prefix that `computePrefix` (`keystream.ts`) leaves at address 0: what is
 * fixed per nonce (message words, rounds 0..6, the parts of W22..W37 that do
 * not depend on the counter W7), so each block runs rounds 7..63 only, and
 * round 7 is two additions.
 *
 * @module
 */

import {
  KEYSTREAM_PAGES,
  PREFIX_A8,
  PREFIX_AB,
  PREFIX_C,
  PREFIX_E8,
  PREFIX_KW,
  PREFIX_STATE,
  SHA256_IV,
  SHA256_K,
} from "../../node/borg/_kernels/constants.ts";
import {
  assemble,
  type Assembled,
  BLOCK,
  BR,
  BR_IF,
  type Code,
  END,
  Func,
  get,
  i32,
  I32_ADD,
  I32_EQZ,
  I32_LOAD,
  I32_SUB,
  I32X4_ADD,
  I32X4_CONST,
  I32X4_SHL,
  I32X4_SHR_U,
  I32X4_SPLAT,
  I32X4_SPLAT_CONST,
  I8X16_SHUFFLE,
  LOOP,
  set,
  tee,
  transposeXorStore,
  V128_AND,
  V128_BITSELECT,
  V128_OR,
  V128_XOR,
} from "./wasm.ts";

const K = SHA256_K;

/** Lanes of a shuffle that byte-swaps each 32-bit word of its first input. */
const BSWAP = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];

/** The fixed message words W8..W15 (padding bit and length), else undefined. */
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

function rotr(x: Code, n: number): Code {
  return [
    ...x,
    ...i32(n),
    ...I32X4_SHR_U,
    ...x,
    ...i32(32 - n),
    ...I32X4_SHL,
    ...V128_OR,
  ];
}

function shr(x: Code, n: number): Code {
  return [...x, ...i32(n), ...I32X4_SHR_U];
}

/** Sums the present terms. */
function sum(terms: (Code | undefined)[]): Code {
  const present = terms.filter((c): c is Code => c !== undefined);
  const out: Code = [...present[0]!];
  for (let i = 1; i < present.length; i++) {
    out.push(...present[i]!, ...I32X4_ADD);
  }
  return out;
}

/** Assembles the module. */
export function keystreamWasm(): Assembled {
  const f = new Func("xor", [
    ["ptr", "i32"],
    ["groups", "i32"],
    ["counter", "i32"],
  ]);
  // The per-message constant part of W[t], t = 22..37.
  const C = f.locals("c", 16, "v128", 22);
  const c = (t: number) => C[t - 22]!;
  // K[t] + W[t] for t = 16..21.
  const KW = f.locals("kw", 6, "v128", 16);
  const S0 = f.locals("s", 8, "v128"); // state after rounds 0..6 (3, 7 unused)
  const E8 = f.local("e8", "v128"); // e after round 7, less W7
  const A8 = f.local("a8", "v128"); // a after round 7, less W7
  const AB0 = f.local("ab6", "v128"); // a ^ b after round 6
  const LOW = f.local("low", "v128"); // counters of the four lanes (W7)
  const V = f.locals("v", 8, "v128"); // working variables
  const T1 = f.local("t1", "v128");
  const AB = f.locals("ab", 2, "v128"); // a ^ b of this round and the previous
  const WL = f.locals("w", 42, "v128", 22); // W22..W63
  const w = (t: number) => WL[t - 22]!;
  const TR = f.locals("tr", 4, "v128"); // transpose temporaries

  /**
   * Code pushing message word t (a v128), or undefined for a zero word. Only
   * the fixed words and those that vary with W7 are here; the others are in
   * the prefix sums.
   */
  const word = (t: number): Code | undefined => {
    const fw = fixedWord(t);
    if (fw !== undefined) return fw === 0 ? undefined : I32X4_SPLAT_CONST(fw);
    if (t === 7) return get(LOW);
    if (t < 22) throw new Error(`Cannot describe: W${t} is in the prefix`);
    return get(w(t));
  };

  /** σ0 / σ1 of message word t (constant-folded for the fixed words). */
  const sigmaSmall = (
    t: number,
    r1: number,
    r2: number,
    s: number,
  ): Code | undefined => {
    const fw = fixedWord(t);
    if (fw !== undefined) {
      const v = rotrScalar(fw, r1) ^ rotrScalar(fw, r2) ^ (fw >>> s);
      return v === 0 ? undefined : I32X4_SPLAT_CONST(v);
    }
    const x = word(t)!;
    return [
      ...rotr(x, r1),
      ...rotr(x, r2),
      ...V128_XOR,
      ...shr(x, s),
      ...V128_XOR,
    ];
  };

  /**
   * One SHA-256 round on the locals in `roles` (a..h): h and d receive the
   * new a and e. `kw` pushes K[t] + W[t]. Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)),
   * and each round's a ^ b is the next round's b ^ c: `AB[t & 1]` receives
   * this round's, `AB[(t + 1) & 1]` holds the previous one.
   */
  const round = (t: number, roles: number[], kw: Code): void => {
    f.comment(`round ${t}`);
    const [a, b, , d, e, fv, g, h] = roles as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const E = get(e), A = get(a);
    const bigSigma1 = [
      ...rotr(E, 6),
      ...rotr(E, 11),
      ...V128_XOR,
      ...rotr(E, 25),
      ...V128_XOR,
    ];
    const ch = [...get(fv), ...get(g), ...E, ...V128_BITSELECT];
    // T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]; d += T1
    f.emit(
      get(h),
      bigSigma1,
      I32X4_ADD,
      ch,
      I32X4_ADD,
      kw,
      I32X4_ADD,
      set(T1),
    );
    f.emit(get(d), get(T1), I32X4_ADD, set(d));
    // h = T1 + Σ0(a) + Maj(a, b, c)
    const bigSigma0 = [
      ...rotr(A, 2),
      ...rotr(A, 13),
      ...V128_XOR,
      ...rotr(A, 22),
      ...V128_XOR,
    ];
    const cur = AB[t & 1]!, prev = AB[(t + 1) & 1]!;
    const maj = [
      ...get(b),
      ...A,
      ...get(b),
      ...V128_XOR,
      ...tee(cur),
      ...get(prev),
      ...V128_AND,
      ...V128_XOR,
    ];
    f.emit(get(T1), bigSigma0, I32X4_ADD, maj, I32X4_ADD, set(h));
  };

  /**
   * Adds the IV to the final state `fin` (a..h, four blocks, one per lane),
   * byte-swaps, transposes and XORs the four 32-byte blocks into memory at
   * `ptr`.
   */
  const output = (fin: number[]): void => {
    f.comment("output: + IV, byte swap, transpose, XOR into memory");
    for (let i = 0; i < 8; i++) {
      f.emit(get(fin[i]!), I32X4_SPLAT_CONST(SHA256_IV[i]! | 0), I32X4_ADD);
      // Byte-swap each word here (a one-input shuffle), so the transpose
      // below is made of plain word and quad-word interleaves.
      f.emit(tee(fin[i]!), get(fin[i]!), I8X16_SHUFFLE(BSWAP), set(fin[i]!));
    }
    // Block j sits at ptr + 32 j: words 0..3 from (a, b, c, d), words 4..7
    // from (e, f, g, h).
    for (let half = 0; half < 2; half++) {
      transposeXorStore(
        f,
        fin.slice(half * 4, half * 4 + 4),
        TR,
        (j) => j * 32 + half * 16,
      );
    }
  };

  // Splat the prefix words (Int32 at address 0) into locals.
  f.comment("the prefix, splat into locals");
  const load = (index: number, local: number) =>
    f.emit(i32(0), I32_LOAD(index * 4), I32X4_SPLAT, set(local));
  for (let t = 22; t < 38; t++) load(PREFIX_C + t - 22, c(t));
  for (let t = 16; t < 22; t++) load(PREFIX_KW + t - 16, KW[t - 16]!);
  for (const i of [0, 1, 2, 4, 5, 6]) load(PREFIX_STATE + i, S0[i]!);
  load(PREFIX_E8, E8);
  load(PREFIX_A8, A8);
  load(PREFIX_AB, AB0);
  // LOW = splat(counter) + [0, 1, 2, 3]
  f.emit(get(2), I32X4_SPLAT, I32X4_CONST([0, 1, 2, 3]), I32X4_ADD, set(LOW));
  f.emit(BLOCK, LOOP);
  f.emit(get(1), I32_EQZ, BR_IF(1)); // groups == 0: done
  f.comment("round 7: the prefix's sums plus W7");
  // Round 7 only adds W7 to two precomputed sums: the state after it is
  // (A8 + W7, a6, b6, c6, E8 + W7, e6, f6, g6) (roles rotated by one).
  for (const i of [0, 1, 2, 4, 5, 6]) f.emit(get(S0[i]!), set(V[i]!));
  f.emit(get(E8), get(LOW), I32X4_ADD, set(V[3]!));
  f.emit(get(A8), get(LOW), I32X4_ADD, set(V[7]!));
  // b ^ c before round 8 is a6 ^ b6.
  f.emit(get(AB0), set(AB[1]!));
  let rot = 1;
  const role = (r: number) => V[((r - rot) % 8 + 8) % 8]!;
  for (let t = 8; t < 64; t++) {
    if (t >= 22) {
      // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], the terms that
      // do not depend on W7 being in c(t) for t < 38.
      f.comment(`W${t}`);
      f.emit(
        sum([
          t < 38 ? get(c(t)) : undefined,
          varies(t - 2) ? sigmaSmall(t - 2, 17, 19, 10) : undefined,
          varies(t - 7) ? word(t - 7) : undefined,
          varies(t - 15) ? sigmaSmall(t - 15, 7, 18, 3) : undefined,
          varies(t - 16) ? word(t - 16) : undefined,
        ]),
        set(w(t)),
      );
    }
    let kw: Code;
    const fw = fixedWord(t);
    if (fw !== undefined) kw = I32X4_SPLAT_CONST((K[t]! + fw) | 0);
    else if (t >= 16 && t < 22) kw = get(KW[t - 16]!);
    else kw = [...I32X4_SPLAT_CONST(K[t]! | 0), ...word(t)!, ...I32X4_ADD];
    round(t, [0, 1, 2, 3, 4, 5, 6, 7].map(role), kw);
    rot++;
  }
  output([0, 1, 2, 3, 4, 5, 6, 7].map(role));
  // ptr += 128; groups -= 1; LOW += 4; next group
  f.comment("next group");
  f.emit(get(0), i32(128), I32_ADD, set(0));
  f.emit(get(1), i32(1), I32_SUB, set(1));
  f.emit(get(LOW), I32X4_SPLAT_CONST(4), I32X4_ADD, set(LOW));
  f.emit(BR(0), END, END);
  return assemble({
    memory: { export: "memory", minPages: KEYSTREAM_PAGES },
    funcs: [f],
  });
}
