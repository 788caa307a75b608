/**
 * Description of the scalar keystream kernel
 * (`node/borg/_kernels/keystream_js.gen.ts`): one keystream block
 * `SHA-256(nonce || u64be(i))` as rounds 7..63 of the SHA-256 compression,
 * unrolled into straight-line JavaScript.
 *
 * The hashed message is one 64-byte block whose words are the 24-byte nonce
 * (W0..W5), the block counter (W6 high, W7 low), the padding bit (W8 =
 * 0x80000000), zeros (W9..W14) and the bit length (W15 = 256). Everything that
 * does not depend on W7 is in the prefix `computePrefix` (`keystream.ts`)
 * computes once per nonce: W0..W21, K + W for rounds 16..21, the state after
 * rounds 0..6. This description walks the rounds and the message schedule
 * and, for each:
 *
 * - names each message word: `p6`, `p16`.. from the prefix, `low` for W7, a
 *   number for the fixed words, `w22`.. for the words computed here;
 * - folds what is constant: K[t] + W[t] of the fixed words into one literal,
 *   σ0 and σ1 of the fixed words into literals, and drops zero terms;
 * - rotates the working variables by name (round t writes the variables that
 *   play d and h), so nothing is moved between rounds.
 *
 * @module
 */

import {
  PREFIX_KW,
  PREFIX_STATE,
  SHA256_IV,
  SHA256_K,
} from "../../node/borg/_kernels/constants.ts";

/** A message word: a variable, or a constant (fixed words). */
type Word = { name: string } | { value: number };

/** Message word t as the kernel sees it, for t < 22. */
function inputWord(t: number): Word {
  if (t === 7) return { name: "low" };
  if (t === 8) return { value: 0x80000000 | 0 };
  if (t >= 9 && t <= 14) return { value: 0 };
  if (t === 15) return { value: 256 };
  return { name: `p${t}` };
}

function rotr(x: number, n: number): number {
  return ((x >>> n) | (x << (32 - n))) | 0;
}

/** σ0 (r1 = 7, r2 = 18, s = 3) or σ1 (17, 19, 10) of a word. */
function sigma(x: Word, r1: number, r2: number, s: number): Word | string {
  if ("value" in x) {
    return { value: rotr(x.value, r1) ^ rotr(x.value, r2) ^ (x.value >>> s) };
  }
  const v = x.name;
  const r = (n: number) => `((${v} >>> ${n}) | (${v} << ${32 - n}))`;
  return `(${r(r1)} ^ ${r(r2)} ^\n(${v} >>> ${s}))`;
}

/** Σ0 (2, 13, 22) or Σ1 (6, 11, 25) of a variable. */
function bigSigma(v: string, r1: number, r2: number, r3: number): string {
  const r = (n: number) => `((${v} >>> ${n}) | (${v} << ${32 - n}))`;
  return `(${r(r1)} ^ ${r(r2)} ^ ${r(r3)})`;
}

/** A term of a sum: a string expression, a variable, a constant or nothing (zero). */
function term(x: Word | string): string | undefined {
  if (typeof x === "string") return x;
  if ("name" in x) return x.name;
  return x.value === 0 ? undefined : `${x.value}`;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/** Declarations `kind a = x, b = y, …;` packed into lines of at most 80 columns. */
function declare(
  kind: string,
  items: string[],
  perLine = Infinity,
  indent = "  ",
): string[] {
  const lines: string[] = [];
  let cur: string[] = [];
  const flush = () => {
    if (cur.length > 0) lines.push(`${indent}${kind} ${cur.join(", ")};`);
    cur = [];
  };
  for (const item of items) {
    const next = `${indent}${kind} ${[...cur, item].join(", ")};`;
    if (cur.length > 0 && (next.length > 80 || cur.length >= perLine)) flush();
    cur.push(item);
  }
  flush();
  return lines;
}

/** The body of `keystreamBlock(p, low)`: statements, one per line. */
function blockBody(): string[] {
  const out: string[] = [];
  const K = SHA256_K;
  // Message words: W0..W21 from the prefix (or constants), W22.. computed.
  const W: Word[] = [];
  for (let t = 0; t < 22; t++) W.push(inputWord(t));
  const used = new Set<number>();
  const schedule: string[] = [];
  for (let t = 22; t < 64; t++) {
    // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]
    const parts = [
      sigma(W[t - 2]!, 17, 19, 10),
      W[t - 7]!,
      sigma(W[t - 15]!, 7, 18, 3),
      W[t - 16]!,
    ];
    for (const i of [t - 2, t - 7, t - 15, t - 16]) if (i < 22) used.add(i);
    const terms = parts.map(term).filter((s): s is string => s !== undefined);
    // (Line breaks as deno fmt keeps them: one term per line when both
    // σ terms are expressions.)
    const sep = terms.filter((s) => s.includes("\n")).length > 1
      ? " +\n"
      : " + ";
    schedule.push(`const w${t} = (${terms.join(sep)}) | 0;`);
    W.push({ name: `w${t}` });
  }
  // Prefix words the schedule reads, K + W of rounds 16..21, the state.
  const prefix = [...used].filter((i) => "name" in W[i]! && i !== 7);
  prefix.sort((x, y) => x - y);
  out.push(...declare("const", prefix.map((i) => `p${i} = p[${i}]!`)));
  const kw16 = [16, 17, 18, 19, 20, 21];
  out.push(
    ...declare("const", kw16.map((t) => `k${t} = p[${PREFIX_KW + t - 16}]!`)),
  );
  const names = ["a", "b", "c", "d", "e", "f", "g", "h"];
  out.push(
    ...declare("let", names.map((v, i) => `${v} = p[${PREFIX_STATE + i}]!`), 4),
  );
  out.push("let t1 = 0;");
  // Rounds 7..63, the roles a..h rotating by one name per round.
  for (let t = 7; t < 64; t++) {
    const role = (i: number) => names[(i - (t - 7) + 64) % 8]!;
    const a = role(0), b = role(1), c = role(2), d = role(3);
    const e = role(4), f = role(5), g = role(6), h = role(7);
    if (t >= 22) out.push(schedule[t - 22]!);
    // K[t] + W[t]: one literal for the fixed words, the prefix's sum for
    // rounds 16..21, else the constant plus the word.
    const w = W[t]!;
    let kw: string;
    if ("value" in w) kw = hex((K[t]! + w.value) | 0);
    else if (t >= 16 && t < 22) kw = `k${t}`;
    else kw = `${hex(K[t]!)} + ${w.name}`;
    // T1 = h + Σ1(e) + Ch(e, f, g) + K[t] + W[t]; d += T1;
    // h = T1 + Σ0(a) + Maj(a, b, c): h and d are the next round's a and e.
    const sigma1 = bigSigma(e, 6, 11, 25);
    const ch = `((${e} & ${f}) ^ (~${e} & ${g}))`;
    out.push(`t1 = (${h} +\n${sigma1} +\n${ch} + ${kw}) | 0;`);
    out.push(`${d} = (${d} + t1) | 0;`);
    const sigma0 = bigSigma(a, 2, 13, 22);
    const maj = `((${a} & ${b}) ^ (${a} & ${c}) ^ (${b} & ${c}))`;
    out.push(`${h} = (t1 +\n${sigma0} +\n${maj}) | 0;`);
  }
  // The final a..h, plus the IV.
  const fin = (i: number) => names[(i - (64 - 7) + 64) % 8]!;
  for (let i = 0; i < 8; i++) out.push(`OUT[${i}] = ${fin(i)} + IV${i};`);
  return out;
}

/** The module text (formatted afterwards by `deno fmt`). */
export function keystreamJs(): string {
  const iv = SHA256_IV.map((v, i) => `IV${i} = ${hex(v)} | 0`);
  return `/**
 * One keystream block, \`SHA-256(nonce || u64be(i))\`, in straight-line
 * JavaScript: rounds 7..63 of the compression, with the fixed message words
 * folded into the round constants and the working variables rotating by name.
 * Described in \`scripts/kernels/keystream_js.ts\`; the prefix comes from
 * \`computePrefix\` in \`keystream.ts\`.
 *
 * @module
 */

/** Receives the eight words of the block {@linkcode keystreamBlock} computes. */
export const OUT: Int32Array = new Int32Array(8);

${declare("const", iv, 3, "").join("\n")}

/**
 * Computes one keystream block into {@linkcode OUT}.
 *
 * @param p A prefix from \`computePrefix\` (\`keystream.ts\`).
 * @param low The low 32 bits of the block counter (message word W7).
 */
export function keystreamBlock(p: Int32Array, low: number): void {
${blockBody().map((l) => l.startsWith("  ") ? l : `  ${l}`).join("\n")}
}
`;
}
