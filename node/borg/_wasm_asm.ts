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
