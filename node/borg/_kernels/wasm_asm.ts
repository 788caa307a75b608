/**
 * The small WebAssembly encoder the SIMD modules are assembled with at load
 * time: LEB128 integers, instruction helpers and section framing.
 *
 * @module
 */

/** A run of encoded bytes. */
export type Code = number[];

/** Unsigned LEB128. */
export function uleb(n: number): Code {
  const out: Code = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit value. */
export function sleb(n: number): Code {
  const out: Code = [];
  n |= 0;
  while (true) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** A SIMD (0xfd-prefixed) instruction. */
export const simd = (op: number): Code => [0xfd, ...uleb(op)];
/** `local.get i`. */
export const get = (i: number): Code => [0x20, ...uleb(i)];
/** `local.set i`. */
export const set = (i: number): Code => [0x21, ...uleb(i)];
/** `i32.const n`. */
export const i32 = (n: number): Code => [0x41, ...sleb(n)];
/** `v128.load` with 16-byte alignment at a constant offset. */
export const V_LOAD = (offset: number): Code => [
  ...simd(0x00),
  4,
  ...uleb(offset),
];
/** `v128.store` with 16-byte alignment at a constant offset. */
export const V_STORE = (offset: number): Code => [
  ...simd(0x0b),
  4,
  ...uleb(offset),
];
/** `i8x16.shuffle` with the given lanes. */
export const SHUFFLE = (lanes: number[]): Code => [...simd(0x0d), ...lanes];
/** `i32x4.splat`. */
export const SPLAT: Code = simd(0x11);
/** `v128.or`. */
export const OR: Code = simd(0x50);
/** `v128.xor`. */
export const XOR: Code = simd(0x51);
/** `i32x4.shl`. */
export const SHL: Code = simd(0xab);
/** `i32x4.shr_u`. */
export const SHR_U: Code = simd(0xad);
/** `i32x4.add`. */
export const ADD: Code = simd(0xae);

/** A module section: its id, then its length-prefixed content. */
export function section(id: number, content: Code): Code {
  return [id, ...uleb(content.length), ...content];
}

/** A length-prefixed ASCII name. */
export function name(s: string): Code {
  return [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
}

/** Shuffle lanes taking 32-bit lane `l` of input `v` (0 or 1) for each spec entry. */
function wordLanes(spec: [number, number][]): number[] {
  return spec.flatMap(([v, l]) => [0, 1, 2, 3].map((k) => v * 16 + l * 4 + k));
}

/**
 * Transposes four `v128` locals holding word `i` of four blocks (one block
 * per lane) back to block order and XORs the result into memory at the
 * address in local 0: block `j`'s 16 bytes go to `offsetOf(j)`.
 *
 * @param c The code to append to.
 * @param words The four locals, in word order.
 * @param temps Four scratch `v128` locals.
 * @param offsetOf The constant memory offset of block `j`'s 16 bytes.
 */
export function transposeXorStore(
  c: Code,
  words: readonly number[],
  temps: readonly number[],
  offsetOf: (j: number) => number,
): void {
  const [w0, w1, w2, w3] = words as [number, number, number, number];
  // T0 = w0[0] w1[0] w0[1] w1[1], T1 = w0[2] w1[2] w0[3] w1[3], T2/T3 likewise for w2, w3.
  const pairs: [number, number, [number, number][]][] = [
    [w0, w1, [[0, 0], [1, 0], [0, 1], [1, 1]]],
    [w0, w1, [[0, 2], [1, 2], [0, 3], [1, 3]]],
    [w2, w3, [[0, 0], [1, 0], [0, 1], [1, 1]]],
    [w2, w3, [[0, 2], [1, 2], [0, 3], [1, 3]]],
  ];
  pairs.forEach(([x, y, spec], i) => {
    c.push(
      ...get(x),
      ...get(y),
      ...SHUFFLE(wordLanes(spec)),
      ...set(temps[i]!),
    );
  });
  const rows: [number, number, [number, number][]][] = [
    [0, 2, [[0, 0], [0, 1], [1, 0], [1, 1]]],
    [0, 2, [[0, 2], [0, 3], [1, 2], [1, 3]]],
    [1, 3, [[0, 0], [0, 1], [1, 0], [1, 1]]],
    [1, 3, [[0, 2], [0, 3], [1, 2], [1, 3]]],
  ];
  rows.forEach(([x, y, spec], j) => {
    const offset = offsetOf(j);
    c.push(...get(0)); // address for the store
    c.push(...get(0), ...V_LOAD(offset));
    c.push(
      ...get(temps[x]!),
      ...get(temps[y]!),
      ...SHUFFLE(wordLanes(spec)),
      ...XOR,
    );
    c.push(...V_STORE(offset));
  });
}
