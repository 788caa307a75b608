/**
 * The 4-lane WebAssembly SIMD keystream kernel, instantiated: four
 * consecutive keystream blocks are hashed at once, one per 32-bit lane of
 * each `v128` (multi-buffer SHA-256), then transposed, byte-swapped to
 * big-endian and XOR-ed into the data in place.
 *
 * The module's bytes are in `keystream_wasm.gen.ts`, generated from
 * `scripts/kernels/keystream_wasm.ts`; `keystream.ts` falls back to its
 * scalar kernel when the runtime has no WebAssembly SIMD.
 *
 * Memory layout (see `constants.ts`): the prefix of `keystream.ts` at address
 * 0, the data window at {@linkcode DATA_OFFSET}, {@linkcode CHUNK_BYTES}
 * long. Exported function `xor(ptr, groups, counter)` processes `groups`
 * 128-byte groups at `ptr`, block counters `counter`, `counter + 1`, ...
 *
 * @module
 */

import { CHUNK_BYTES, DATA_OFFSET } from "./constants.ts";
import { KEYSTREAM_WASM } from "./keystream_wasm.gen.ts";

export { CHUNK_BYTES, DATA_OFFSET };

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
    if (!WebAssembly.validate(KEYSTREAM_WASM)) return undefined;
    const instance = new WebAssembly.Instance(
      new WebAssembly.Module(KEYSTREAM_WASM),
    );
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
