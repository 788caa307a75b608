/**
 * What the kernels and the code around them agree on: the SHA-256 constants,
 * the layout of the keystream prefix, and the memory layout of the two
 * WebAssembly modules. The kernel descriptions (`scripts/kernels/`) read these
 * when generating, and the hand-written code here reads them at run time, so
 * a change shows up in both (and `deno task gen:kernels --check` fails until
 * the kernels are regenerated).
 *
 * The keystream module's memory, shared with the AEAD module:
 *
 * | Address            | Size | Content                                            |
 * | ------------------ | ---- | -------------------------------------------------- |
 * | 0                  | 220  | keystream prefix ({@linkcode PREFIX_WORDS} words)  |
 * | 256                | 64 K | data window ({@linkcode DATA_OFFSET})              |
 * | 256 + 64 K         | 512  | slack: partial group, Poly1305 length block        |
 * | `AEAD_STATE`       | 64   | ChaCha20 state words (word 12, the counter, unused)|
 * | `AEAD_STATE` + 64  | 20   | Poly1305 `r` limbs (u32)                           |
 * | `AEAD_STATE` + 84  | 16   | `5 r1 .. 5 r4` (u32)                               |
 * | `AEAD_STATE` + 128 | 20   | Poly1305 accumulator `h` limbs (u32)               |
 * | `AEAD_STATE` + 256 | 256  | scratch for the one-time Poly1305 key              |
 *
 * @module
 */

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

/** The SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
export const SHA256_IV: readonly number[] = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

// The keystream prefix: what is fixed per (nonce, high counter word), as
// Int32 words (written by `computePrefix` in `keystream.ts`, at address 0 of
// the keystream module's memory for the SIMD kernel). It starts with the
// message words W0..W21 at index t (W7, the block counter, left zero).

/** `K[t] + W[t]` for t = 16..21 at `PREFIX_KW + t - 16`. */
export const PREFIX_KW = 22;
/** The working variables a..h after rounds 0..6. */
export const PREFIX_STATE = 28;
/**
 * For t = 22..37, at `PREFIX_C + t - 22`: the sum of the schedule terms of
 * W[t] that do not depend on W7.
 */
export const PREFIX_C = 36;
/** e after round 7, less W7. */
export const PREFIX_E8 = 52;
/** a after round 7, less W7. */
export const PREFIX_A8 = 53;
/** a ^ b after round 6. */
export const PREFIX_AB = 54;
/** Words in a prefix. */
export const PREFIX_WORDS = 55;

/** Where the data window starts in the keystream module's memory. */
export const DATA_OFFSET = 256;
/**
 * Data window size: a multiple of 256 (four ChaCha20 blocks) that divides
 * 2^37 (keystream block counters never straddle a 2^32 boundary).
 */
export const CHUNK_BYTES: number = 64 * 1024;
/** Pages of the keystream module's memory. */
export const KEYSTREAM_PAGES: number = Math.ceil(
  (DATA_OFFSET + CHUNK_BYTES) / 65536,
);

/** ChaCha20 state words of the AEAD module (word 12, the counter, unused). */
export const AEAD_STATE = 0x10400;
/** Poly1305 `r` limbs. */
export const AEAD_POLY_R: number = AEAD_STATE + 64;
/** `5 r1 .. 5 r4`. */
export const AEAD_POLY_S: number = AEAD_STATE + 84;
/** The Poly1305 accumulator `h` limbs. */
export const AEAD_POLY_H: number = AEAD_STATE + 128;
/** Scratch for the one-time Poly1305 key. */
export const AEAD_SCRATCH: number = AEAD_STATE + 256;
/** Pages the AEAD module needs of the shared memory. */
export const AEAD_PAGES: number = Math.ceil((AEAD_SCRATCH + 256) / 65536);
