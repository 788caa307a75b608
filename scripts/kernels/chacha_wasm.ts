/**
 * Description of the WebAssembly ChaCha20-Poly1305 kernels
 * (`node/borg/_kernels/chacha_wasm.gen.ts`), on the memory of the keystream
 * module (see the layout in `node/borg/_kernels/constants.ts`):
 *
 * - `chacha(ptr, groups, counter)` XORs `groups` 256-byte groups at `ptr`
 *   with the ChaCha20 keystream (RFC 8439 §2.3), four blocks at once (one per
 *   32-bit lane of each `v128`, block counters `counter .. counter + 3`),
 *   then transposes the lanes back to block order (little-endian, no byte
 *   swap). The key and nonce words are read from `AEAD_STATE`.
 * - `poly(ptr, blocks)` absorbs `blocks` 16-byte blocks (high bit set) into
 *   the Poly1305 accumulator at `AEAD_POLY_H` (RFC 8439 §2.5), with 26-bit
 *   limbs and 64-bit products.
 *
 * The key setup, the final reduction and the tag are in JavaScript
 * (`chacha_wasm.ts`), once per message.
 *
 * @module
 */

import {
  AEAD_PAGES,
  AEAD_POLY_H,
  AEAD_POLY_R,
  AEAD_POLY_S,
  AEAD_STATE,
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
  i64,
  I64_ADD,
  I64_AND,
  I64_LOAD,
  I64_LOAD32_U,
  I64_MUL,
  I64_OR,
  I64_SHL,
  I64_SHR_U,
  I64_STORE32,
  I8X16_SHUFFLE,
  LOOP,
  set,
  tee,
  transposeXorStore,
  V128_OR,
  V128_XOR,
} from "./wasm.ts";

const MASK26 = 0x3ffffff;

/** The `chacha` function. */
function chacha(): Func {
  const f = new Func("chacha", [
    ["ptr", "i32"],
    ["groups", "i32"],
    ["counter", "i32"],
  ]);
  const X = f.locals("x", 16, "v128"); // input state
  const V = f.locals("v", 16, "v128"); // working state
  const T = f.locals("tr", 4, "v128"); // transpose temporaries
  const R = f.local("rounds", "i32"); // double rounds left
  f.comment("the state, splat into locals (lane k: block counter + k)");
  for (let i = 0; i < 16; i++) {
    if (i === 12) {
      // counters of the four lanes: splat(counter) + [0, 1, 2, 3]
      f.emit(
        get(2),
        I32X4_SPLAT,
        I32X4_CONST([0, 1, 2, 3]),
        I32X4_ADD,
        set(X[12]!),
      );
    } else {
      f.emit(i32(0), I32_LOAD(AEAD_STATE + i * 4), I32X4_SPLAT, set(X[i]!));
    }
  }
  /** x <<< n; 16 and 8 are byte shuffles. */
  const rotl = (x: number, n: number): Code => {
    if (n === 16 || n === 8) {
      const lanes: number[] = [];
      for (let k = 0; k < 4; k++) {
        const b = 4 * k;
        if (n === 16) lanes.push(b + 2, b + 3, b, b + 1);
        else lanes.push(b + 3, b, b + 1, b + 2);
      }
      return [...get(x), ...get(x), ...I8X16_SHUFFLE(lanes)];
    }
    return [
      ...get(x),
      ...i32(n),
      ...I32X4_SHL,
      ...get(x),
      ...i32(32 - n),
      ...I32X4_SHR_U,
      ...V128_OR,
    ];
  };
  /** a += b */
  const addTo = (a: number, b: number): Code => [
    ...get(a),
    ...get(b),
    ...I32X4_ADD,
    ...set(a),
  ];
  /** d ^= a; d <<<= n */
  const xorRot = (d: number, a: number, n: number): Code => [
    ...get(d),
    ...get(a),
    ...V128_XOR,
    ...set(d),
    ...rotl(d, n),
    ...set(d),
  ];
  /** The quarter round (RFC 8439 §2.1) on state words a, b, c, d. */
  const qr = (a: number, b: number, c: number, d: number): Code => [
    ...addTo(V[a]!, V[b]!),
    ...xorRot(V[d]!, V[a]!, 16),
    ...addTo(V[c]!, V[d]!),
    ...xorRot(V[b]!, V[c]!, 12),
    ...addTo(V[a]!, V[b]!),
    ...xorRot(V[d]!, V[a]!, 8),
    ...addTo(V[c]!, V[d]!),
    ...xorRot(V[b]!, V[c]!, 7),
  ];
  f.emit(BLOCK, LOOP);
  f.emit(get(1), I32_EQZ, BR_IF(1)); // groups == 0: done
  for (let i = 0; i < 16; i++) f.emit(get(X[i]!), set(V[i]!));
  // 10 double rounds, as a loop: the code stays small (about 1 KB of machine
  // code instead of 10), which matters more than loop overhead when frames
  // arrive one at a time to a cold cache.
  f.emit(i32(10), set(R));
  f.emit(LOOP);
  f.comment("double round: columns, then diagonals");
  f.emit(qr(0, 4, 8, 12), qr(1, 5, 9, 13)); // columns
  f.emit(qr(2, 6, 10, 14), qr(3, 7, 11, 15));
  f.emit(qr(0, 5, 10, 15), qr(1, 6, 11, 12)); // diagonals
  f.emit(qr(2, 7, 8, 13), qr(3, 4, 9, 14));
  f.emit(get(R), i32(1), I32_SUB, tee(R)); // rounds -= 1
  f.emit(BR_IF(0), END);
  f.comment("add the input state");
  for (let i = 0; i < 16; i++) f.emit(addTo(V[i]!, X[i]!));
  f.comment("transpose, XOR into memory");
  // Transpose each row of four words; block j, words 4q..4q+3 go to
  // ptr + 64 j + 16 q.
  for (let q = 0; q < 4; q++) {
    transposeXorStore(
      f,
      [V[4 * q]!, V[4 * q + 1]!, V[4 * q + 2]!, V[4 * q + 3]!],
      T,
      (j) => j * 64 + q * 16,
    );
  }
  // ptr += 256; groups -= 1; counters += 4; next group
  f.comment("next group");
  f.emit(get(0), i32(256), I32_ADD, set(0));
  f.emit(get(1), i32(1), I32_SUB, set(1));
  f.emit(get(X[12]!), I32X4_SPLAT_CONST(4), I32X4_ADD, set(X[12]!));
  f.emit(BR(0), END, END);
  return f;
}

/** The `poly` function. */
function poly(): Func {
  const f = new Func("poly", [["ptr", "i32"], ["blocks", "i32"]]);
  const H = f.locals("h", 5, "i64"); // accumulator limbs
  const R = f.locals("r", 5, "i64"); // key limbs
  const S = [-1, ...f.locals("s", 4, "i64", 1)]; // S[1..4] = 5 r[i]
  const D = f.locals("d", 5, "i64"); // product limbs
  const C = f.local("carry", "i64");
  const LO = f.local("lo", "i64"), HI = f.local("hi", "i64");
  f.comment("load h, r and 5 r");
  for (let i = 0; i < 5; i++) {
    f.emit(i32(0), I64_LOAD32_U(AEAD_POLY_H + 4 * i), set(H[i]!));
    f.emit(i32(0), I64_LOAD32_U(AEAD_POLY_R + 4 * i), set(R[i]!));
    if (i > 0) {
      f.emit(i32(0), I64_LOAD32_U(AEAD_POLY_S + 4 * (i - 1)), set(S[i]!));
    }
  }
  const m26 = i64(MASK26);
  /** h += bits */
  const addLimb = (h: number, bits: Code): Code => [
    ...get(h),
    ...bits,
    ...I64_ADD,
    ...set(h),
  ];
  f.emit(BLOCK, LOOP);
  f.emit(get(1), I32_EQZ, BR_IF(1)); // blocks == 0: done
  // h += the block as 26-bit limbs, plus 2^128.
  f.comment("h += the block (26-bit limbs) + 2^128");
  f.emit(get(0), I64_LOAD(0), set(LO));
  f.emit(get(0), I64_LOAD(8), set(HI));
  f.emit(addLimb(H[0]!, [...get(LO), ...m26, ...I64_AND]));
  f.emit(
    addLimb(H[1]!, [...get(LO), ...i64(26), ...I64_SHR_U, ...m26, ...I64_AND]),
  );
  f.emit(
    addLimb(H[2]!, [
      ...get(LO),
      ...i64(52),
      ...I64_SHR_U,
      ...get(HI),
      ...i64(12),
      ...I64_SHL,
      ...I64_OR,
      ...m26,
      ...I64_AND,
    ]),
  );
  f.emit(
    addLimb(H[3]!, [...get(HI), ...i64(14), ...I64_SHR_U, ...m26, ...I64_AND]),
  );
  f.emit(
    addLimb(H[4]!, [
      ...get(HI),
      ...i64(40),
      ...I64_SHR_U,
      ...i64(1 << 24),
      ...I64_OR,
    ]),
  );
  // d_k = sum_i h_i * (i <= k ? r_{k-i} : 5 r_{5+k-i})
  f.comment("d = h * r");
  for (let k = 0; k < 5; k++) {
    for (let i = 0; i < 5; i++) {
      const j = k - i;
      const m = j >= 0 ? R[j]! : S[5 + j]!;
      f.emit(get(H[i]!), get(m), I64_MUL);
      if (i > 0) f.emit(I64_ADD);
    }
    f.emit(set(D[k]!));
  }
  // carry: h_k = d_k mod 2^26, into d_{k+1}; the top wraps with * 5
  f.comment("carry");
  for (let k = 0; k < 5; k++) {
    if (k > 0) f.emit(get(D[k]!), get(C), I64_ADD, set(D[k]!));
    f.emit(get(D[k]!), i64(26), I64_SHR_U, set(C));
    f.emit(get(D[k]!), m26, I64_AND, set(H[k]!));
  }
  f.emit(get(H[0]!), get(C), i64(5), I64_MUL, I64_ADD, set(H[0]!));
  f.emit(get(H[0]!), i64(26), I64_SHR_U, set(C));
  f.emit(get(H[0]!), m26, I64_AND, set(H[0]!));
  f.emit(get(H[1]!), get(C), I64_ADD, set(H[1]!));
  // ptr += 16; blocks -= 1; next block
  f.comment("next block");
  f.emit(get(0), i32(16), I32_ADD, set(0));
  f.emit(get(1), i32(1), I32_SUB, set(1));
  f.emit(BR(0), END, END);
  f.comment("store h");
  for (let i = 0; i < 5; i++) {
    f.emit(i32(0), get(H[i]!), I64_STORE32(AEAD_POLY_H + 4 * i));
  }
  return f;
}

/** Assembles the module. */
export function chachaWasm(): Assembled {
  return assemble({
    memory: { import: ["env", "memory"], minPages: AEAD_PAGES },
    funcs: [chacha(), poly()],
  });
}
