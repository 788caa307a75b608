/**
 * The small WebAssembly encoder the kernel descriptions are written with:
 * LEB128 integers, the instructions the kernels use (named after their
 * text-format mnemonics), a module builder, and a disassembler that turns the
 * module into the listing the generated files carry (one line per
 * instruction: its bytes in hex, then the instruction in text format).
 *
 * Only the instructions in {@linkcode OPS} exist here; a kernel that needs
 * another one adds it to that table, so the listing can always name every
 * instruction it contains.
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

// ------------------------------------------------------------ instructions

/** How an instruction's immediates are encoded. */
type Immediate =
  | "none"
  | "blocktype" // one byte: 0x40 (no result)
  | "index" // a local index or a label depth, unsigned LEB128
  | "i32" // signed LEB128
  | "i64" // signed LEB128 (the kernels only use small values)
  | "memarg" // alignment exponent, offset (both unsigned LEB128)
  | "bytes16"; // 16 raw bytes (v128.const, i8x16.shuffle)

interface Op {
  /** The text-format mnemonic. */
  readonly name: string;
  /** Whether the opcode follows the 0xfd (SIMD) prefix. */
  readonly simd: boolean;
  readonly code: number;
  readonly imm: Immediate;
  /** Natural alignment exponent of a memory access. */
  readonly align?: number;
}

const op = (
  name: string,
  code: number,
  imm: Immediate = "none",
  align?: number,
): Op => ({
  name,
  simd: false,
  code,
  imm,
  ...(align === undefined ? {} : { align }),
});
const simdOp = (
  name: string,
  code: number,
  imm: Immediate = "none",
  align?: number,
): Op => ({
  name,
  simd: true,
  code,
  imm,
  ...(align === undefined ? {} : { align }),
});

/** Every instruction the kernels may use. */
export const OPS: readonly Op[] = [
  op("block", 0x02, "blocktype"),
  op("loop", 0x03, "blocktype"),
  op("end", 0x0b),
  op("br", 0x0c, "index"),
  op("br_if", 0x0d, "index"),
  op("local.get", 0x20, "index"),
  op("local.set", 0x21, "index"),
  op("local.tee", 0x22, "index"),
  op("i32.load", 0x28, "memarg", 2),
  op("i64.load", 0x29, "memarg", 3),
  op("i64.load32_u", 0x35, "memarg", 2),
  op("i64.store32", 0x3e, "memarg", 2),
  op("i32.const", 0x41, "i32"),
  op("i64.const", 0x42, "i64"),
  op("i32.eqz", 0x45),
  op("i32.add", 0x6a),
  op("i32.sub", 0x6b),
  op("i64.add", 0x7c),
  op("i64.mul", 0x7e),
  op("i64.and", 0x83),
  op("i64.or", 0x84),
  op("i64.shl", 0x86),
  op("i64.shr_u", 0x88),
  simdOp("v128.load", 0x00, "memarg", 4),
  simdOp("v128.store", 0x0b, "memarg", 4),
  simdOp("v128.const", 0x0c, "bytes16"),
  simdOp("i8x16.shuffle", 0x0d, "bytes16"),
  simdOp("i32x4.splat", 0x11),
  simdOp("v128.and", 0x4e),
  simdOp("v128.or", 0x50),
  simdOp("v128.xor", 0x51),
  simdOp("v128.bitselect", 0x52),
  simdOp("i32x4.shl", 0xab),
  simdOp("i32x4.shr_u", 0xad),
  simdOp("i32x4.add", 0xae),
];

const BY_NAME = new Map(OPS.map((o) => [o.name, o]));

function opcode(name: string): Code {
  const o = BY_NAME.get(name);
  if (o === undefined) throw new Error(`Cannot encode ${name}: not in OPS`);
  return o.simd ? [0xfd, ...uleb(o.code)] : [o.code];
}

function memory(name: string, offset: number): Code {
  return [...opcode(name), BY_NAME.get(name)!.align!, ...uleb(offset)];
}

/** `block` (no result). */
export const BLOCK: Code = [...opcode("block"), 0x40];
/** `loop` (no result). */
export const LOOP: Code = [...opcode("loop"), 0x40];
/** `end` of a block, loop or function. */
export const END: Code = opcode("end");
/** `br depth`. */
export const BR = (depth: number): Code => [...opcode("br"), ...uleb(depth)];
/** `br_if depth`. */
export const BR_IF = (depth: number): Code => [
  ...opcode("br_if"),
  ...uleb(depth),
];
/** `local.get i`. */
export const get = (i: number): Code => [...opcode("local.get"), ...uleb(i)];
/** `local.set i`. */
export const set = (i: number): Code => [...opcode("local.set"), ...uleb(i)];
/** `local.tee i`. */
export const tee = (i: number): Code => [...opcode("local.tee"), ...uleb(i)];
/** `i32.const n`. */
export const i32 = (n: number): Code => [...opcode("i32.const"), ...sleb(n)];
/** `i64.const n` (a 32-bit value). */
export const i64 = (n: number): Code => [...opcode("i64.const"), ...sleb(n)];
/** `i32.load offset=…` (natural alignment). */
export const I32_LOAD = (offset: number): Code => memory("i32.load", offset);
/** `i64.load offset=…`. */
export const I64_LOAD = (offset: number): Code => memory("i64.load", offset);
/** `i64.load32_u offset=…`. */
export const I64_LOAD32_U = (offset: number): Code =>
  memory("i64.load32_u", offset);
/** `i64.store32 offset=…`. */
export const I64_STORE32 = (offset: number): Code =>
  memory("i64.store32", offset);
/** `i32.eqz`. */
export const I32_EQZ: Code = opcode("i32.eqz");
/** `i32.add`. */
export const I32_ADD: Code = opcode("i32.add");
/** `i32.sub`. */
export const I32_SUB: Code = opcode("i32.sub");
/** `i64.add`. */
export const I64_ADD: Code = opcode("i64.add");
/** `i64.mul`. */
export const I64_MUL: Code = opcode("i64.mul");
/** `i64.and`. */
export const I64_AND: Code = opcode("i64.and");
/** `i64.or`. */
export const I64_OR: Code = opcode("i64.or");
/** `i64.shl`. */
export const I64_SHL: Code = opcode("i64.shl");
/** `i64.shr_u`. */
export const I64_SHR_U: Code = opcode("i64.shr_u");
/** `v128.load offset=…` (16-byte alignment). */
export const V128_LOAD = (offset: number): Code => memory("v128.load", offset);
/** `v128.store offset=…` (16-byte alignment). */
export const V128_STORE = (offset: number): Code =>
  memory("v128.store", offset);
/** `v128.const i32x4 a b c d`. */
export const I32X4_CONST = (lanes: readonly number[]): Code => [
  ...opcode("v128.const"),
  ...lanes.flatMap((n) => [
    n & 0xff,
    (n >>> 8) & 0xff,
    (n >>> 16) & 0xff,
    (n >>> 24) & 0xff,
  ]),
];
/** `v128.const i32x4 n n n n`. */
export const I32X4_SPLAT_CONST = (n: number): Code => I32X4_CONST([n, n, n, n]);
/** `i8x16.shuffle` with the given byte lanes (0..15 first input, 16..31 second). */
export const I8X16_SHUFFLE = (lanes: readonly number[]): Code => {
  if (lanes.length !== 16) throw new RangeError("Cannot shuffle: 16 lanes");
  return [...opcode("i8x16.shuffle"), ...lanes];
};
/** `i32x4.splat`. */
export const I32X4_SPLAT: Code = opcode("i32x4.splat");
/** `v128.and`. */
export const V128_AND: Code = opcode("v128.and");
/** `v128.or`. */
export const V128_OR: Code = opcode("v128.or");
/** `v128.xor`. */
export const V128_XOR: Code = opcode("v128.xor");
/** `v128.bitselect` (first input where the mask is set, else the second). */
export const V128_BITSELECT: Code = opcode("v128.bitselect");
/** `i32x4.shl`. */
export const I32X4_SHL: Code = opcode("i32x4.shl");
/** `i32x4.shr_u`. */
export const I32X4_SHR_U: Code = opcode("i32x4.shr_u");
/** `i32x4.add`. */
export const I32X4_ADD: Code = opcode("i32x4.add");

// ---------------------------------------------------------------- functions

/** A value type. */
export type ValType = "i32" | "i64" | "v128";

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, v128: 0x7b };

/**
 * A function being described: its parameters and named locals, allocated in
 * order (local indices follow the parameters), and its body.
 */
export class Func {
  /** The name of each local, parameters first. */
  readonly names: string[] = [];
  readonly #types: ValType[] = [];
  readonly #params: number;
  /** Groups of locals for the listing: first index, count, label. */
  readonly #groups: { first: number; count: number; label: string }[] = [];
  /** The body, without the final `end` (added by the module). */
  readonly body: Code = [];
  /** Comments for the listing, by body offset. */
  readonly comments: Map<number, string[]> = new Map();

  /**
   * @param name The exported name.
   * @param params Parameter names and types.
   */
  constructor(readonly name: string, params: [string, ValType][]) {
    for (const [n, t] of params) {
      this.names.push(n);
      this.#types.push(t);
    }
    this.#params = params.length;
  }

  /** The parameter types. */
  get paramTypes(): ValType[] {
    return this.#types.slice(0, this.#params);
  }

  /** Allocates one local named `name`. */
  local(name: string, type: ValType): number {
    const i = this.names.length;
    this.names.push(name);
    this.#types.push(type);
    this.#groups.push({ first: i, count: 1, label: `$${name} ${type}` });
    return i;
  }

  /** Allocates `count` locals named `prefix0`, `prefix1`, … (or `prefix${first}` …). */
  locals(prefix: string, count: number, type: ValType, first = 0): number[] {
    const start = this.names.length;
    const out: number[] = [];
    for (let k = 0; k < count; k++) {
      this.names.push(`${prefix}${first + k}`);
      this.#types.push(type);
      out.push(start + k);
    }
    this.#groups.push({
      first: start,
      count,
      label: `$${prefix}${first} .. $${prefix}${first + count - 1} ${type}`,
    });
    return out;
  }

  /** Appends code to the body. */
  emit(...code: Code[]): void {
    for (const c of code) for (const b of c) this.body.push(b);
  }

  /** Puts a comment in the listing before the next instruction. */
  comment(text: string): void {
    const at = this.body.length;
    this.comments.set(at, [...(this.comments.get(at) ?? []), text]);
  }

  /** The local declarations: runs of one type. */
  declarations(): { bytes: Code; notes: string[] } {
    const runs: [number, ValType][] = [];
    for (const t of this.#types.slice(this.#params)) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const bytes = [
      ...uleb(runs.length),
      ...runs.flatMap(([n, t]) => [...uleb(n), VALTYPE[t]]),
    ];
    const notes = this.#groups.map((g) =>
      g.count === 1
        ? `local ${g.first}: ${g.label}`
        : `locals ${g.first}..${g.first + g.count - 1}: ${g.label}`
    );
    return { bytes, notes };
  }
}

// ------------------------------------------------------------------ module

/** Where the module's memory comes from. */
export type MemorySpec =
  | { readonly import: [string, string]; readonly minPages: number }
  | { readonly export: string; readonly minPages: number };

/** A module: one memory and some exported functions (no results). */
export interface ModuleSpec {
  readonly memory: MemorySpec;
  readonly funcs: readonly Func[];
}

/** One line of a listing: bytes and what they are. */
export interface ListingLine {
  readonly bytes: Code;
  readonly note: string;
}

/** An assembled module and its listing. */
export interface Assembled {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly lines: readonly ListingLine[];
}

const SECTION_NAMES: Record<number, string> = {
  1: "type",
  2: "import",
  3: "function",
  5: "memory",
  7: "export",
  10: "code",
};

function name(s: string): Code {
  return [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
}

function funcType(params: ValType[]): string {
  return params.length === 0 ? "(func)" : `(func (param ${params.join(" ")}))`;
}

/** Assembles a module and its listing. */
export function assemble(spec: ModuleSpec): Assembled {
  const lines: ListingLine[] = [];
  lines.push({ bytes: [0x00, 0x61, 0x73, 0x6d], note: "magic" });
  lines.push({ bytes: [0x01, 0x00, 0x00, 0x00], note: "version 1" });
  const section = (id: number, items: ListingLine[], count: number) => {
    const size = uleb(count).length +
      items.reduce((n, l) => n + l.bytes.length, 0);
    lines.push({
      bytes: [id, ...uleb(size)],
      note: `section ${id} (${SECTION_NAMES[id]}), ${size} bytes`,
    });
    lines.push({
      bytes: uleb(count),
      note: count === 1 ? "1 entry" : `${count} entries`,
    });
    lines.push(...items);
  };
  // Types, in order of first use.
  const types: string[] = [];
  const typeOf = spec.funcs.map((f) => {
    const t = funcType(f.paramTypes);
    if (!types.includes(t)) types.push(t);
    return types.indexOf(t);
  });
  section(
    1,
    types.map((t, i) => {
      const params = spec.funcs[typeOf.indexOf(i)]!.paramTypes;
      return {
        bytes: [
          0x60,
          ...uleb(params.length),
          ...params.map((p) => VALTYPE[p]),
          0,
        ],
        note: `type ${i}: ${t}`,
      };
    }),
    types.length,
  );
  const mem = spec.memory;
  if ("import" in mem) {
    const [m, n] = mem.import;
    section(2, [{
      bytes: [...name(m), ...name(n), 2, 0, ...uleb(mem.minPages)],
      note: `import "${m}" "${n}" (memory ${mem.minPages})`,
    }], 1);
  }
  section(
    3,
    spec.funcs.map((f, i) => ({
      bytes: uleb(typeOf[i]!),
      note: `func ${i} $${f.name}: type ${typeOf[i]}`,
    })),
    spec.funcs.length,
  );
  const exports: ListingLine[] = [];
  if ("export" in mem) {
    section(5, [{
      bytes: [0, ...uleb(mem.minPages)],
      note: `memory 0: ${mem.minPages} pages`,
    }], 1);
    exports.push({
      bytes: [...name(mem.export), 2, 0],
      note: `export "${mem.export}" (memory 0)`,
    });
  }
  spec.funcs.forEach((f, i) =>
    exports.push({
      bytes: [...name(f.name), 0, ...uleb(i)],
      note: `export "${f.name}" (func ${i})`,
    })
  );
  section(7, exports, exports.length);
  const code: ListingLine[] = [];
  spec.funcs.forEach((f, i) => {
    const decl = f.declarations();
    const body = disassemble([...f.body, ...END], f.names, f.comments);
    const size = decl.bytes.length +
      body.reduce((n, l) => n + l.bytes.length, 0);
    const params = f.paramTypes.map((t, k) => `(param $${f.names[k]} ${t})`);
    code.push({
      bytes: uleb(size),
      note: `func ${i} $${f.name} ${params.join(" ")}: ${size} bytes`,
    });
    code.push({ bytes: decl.bytes, note: "local declarations:" });
    for (const note of decl.notes) code.push({ bytes: [], note: `  ${note}` });
    code.push(...body);
  });
  section(10, code, spec.funcs.length);
  const bytes = new Uint8Array(lines.flatMap((l) => l.bytes));
  if (!WebAssembly.validate(bytes)) {
    throw new Error("Cannot assemble: the module does not validate");
  }
  return { bytes, lines };
}

// ----------------------------------------------------------- disassembler

const BY_CODE = new Map(OPS.map((o) => [`${o.simd ? "fd" : ""}${o.code}`, o]));

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/**
 * Decodes a function body (ending with its `end`) into one listing line per
 * instruction, naming locals and indenting by block depth.
 *
 * @throws {Error} On an instruction missing from {@linkcode OPS}.
 */
export function disassemble(
  code: Code,
  names: readonly string[],
  comments: ReadonlyMap<number, readonly string[]> = new Map(),
): ListingLine[] {
  const out: ListingLine[] = [];
  let p = 0;
  let depth = 1;
  const readU = (): number => {
    let n = 0, shift = 0, b: number;
    do {
      b = code[p++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return n;
  };
  const readS = (): number => {
    let n = 0, shift = 0, b: number;
    do {
      b = code[p++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return b & 0x40 ? n - 2 ** shift : n;
  };
  while (p < code.length) {
    const start = p;
    for (const text of comments.get(start) ?? []) {
      out.push({ bytes: [], note: `${"  ".repeat(depth)};; ${text}` });
    }
    let key = `${code[p++]}`;
    if (key === "253") key = `fd${readU()}`;
    const o = BY_CODE.get(key);
    if (o === undefined) {
      throw new Error(`Cannot list opcode ${key} at ${start}: not in OPS`);
    }
    let text = o.name;
    switch (o.imm) {
      case "none":
        break;
      case "blocktype":
        if (code[p++] !== 0x40) throw new Error("Cannot list a typed block");
        break;
      case "index": {
        const i = readU();
        text += o.name.startsWith("local.") ? ` $${names[i]}` : ` ${i}`;
        break;
      }
      case "i32":
      case "i64":
        text += ` ${readS()}`;
        break;
      case "memarg": {
        const align = readU(), offset = readU();
        if (offset !== 0) text += ` offset=${offset}`;
        if (align !== o.align) text += ` align=${2 ** align}`;
        break;
      }
      case "bytes16": {
        const b = code.slice(p, p + 16);
        p += 16;
        if (o.name === "v128.const") {
          const w = [0, 1, 2, 3].map((k) =>
            b[4 * k]! | (b[4 * k + 1]! << 8) | (b[4 * k + 2]! << 16) |
            (b[4 * k + 3]! << 24)
          );
          text += ` i32x4 ${w.map(hex32).join(" ")}`;
        } else {
          text += ` ${b.join(" ")}`;
        }
        break;
      }
    }
    if (o.name === "end") depth--;
    out.push({
      bytes: code.slice(start, p),
      note: `${"  ".repeat(Math.max(depth, 0))}${text}`,
    });
    if (o.name === "block" || o.name === "loop") depth++;
  }
  if (depth !== 0) throw new Error("Cannot list: unbalanced blocks");
  return out;
}

/**
 * Renders a listing as text: each line the bytes in hex, padded to a column,
 * then `;;` and the note. `decodeListing` (`node/borg/_kernels/listing.ts`)
 * reads it back.
 */
export function renderListing(lines: readonly ListingLine[]): string {
  const width = 24;
  return lines.map((l) => {
    const hex = l.bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    return `${hex.padEnd(width)} ;; ${l.note}`.trimEnd();
  }).join("\n");
}

// ------------------------------------------------------- shared SIMD code

/** Shuffle lanes taking 32-bit lane `l` of input `v` (0 or 1) for each spec entry. */
function wordLanes(spec: [number, number][]): number[] {
  return spec.flatMap(([v, l]) => [0, 1, 2, 3].map((k) => v * 16 + l * 4 + k));
}

/**
 * Transposes four `v128` locals holding word `i` of four blocks (one block
 * per lane) back to block order and XORs the result into memory at the
 * address in local 0: block `j`'s 16 bytes go to `offsetOf(j)`.
 *
 * @param f The function to append to.
 * @param words The four locals, in word order.
 * @param temps Four scratch `v128` locals.
 * @param offsetOf The constant memory offset of block `j`'s 16 bytes.
 */
export function transposeXorStore(
  f: Func,
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
    f.emit(get(x), get(y), I8X16_SHUFFLE(wordLanes(spec)), set(temps[i]!));
  });
  const rows: [number, number, [number, number][]][] = [
    [0, 2, [[0, 0], [0, 1], [1, 0], [1, 1]]],
    [0, 2, [[0, 2], [0, 3], [1, 2], [1, 3]]],
    [1, 3, [[0, 0], [0, 1], [1, 0], [1, 1]]],
    [1, 3, [[0, 2], [0, 3], [1, 2], [1, 3]]],
  ];
  rows.forEach(([x, y, spec], j) => {
    const offset = offsetOf(j);
    f.emit(get(0)); // address for the store
    f.emit(get(0), V128_LOAD(offset));
    f.emit(
      get(temps[x]!),
      get(temps[y]!),
      I8X16_SHUFFLE(wordLanes(spec)),
      V128_XOR,
    );
    f.emit(V128_STORE(offset));
  });
}
