/**
 * Frame buffers carved out of shared slabs, so sealing an outgoing frame
 * allocates no `ArrayBuffer` of its own (a fresh, zero-filled, separately
 * tracked backing store per frame was a measurable part of the send path).
 *
 * A slab is never reused: every frame gets bytes no other frame has, and a
 * slab goes back to the garbage collector once no frame views it. Frames
 * larger than a quarter of a slab get a buffer of their own. The views are
 * internal to the transport (both sockets copy a frame out before it could
 * be touched again), so no caller ever sees a shared `buffer`.
 *
 * @module
 */

/** Default slab size in bytes. */
const SLAB_BYTES = 64 * 1024;

/** Hands out frame buffers from shared slabs. */
export class FramePool {
  readonly #slabBytes: number;
  #slab: ArrayBuffer;
  #offset = 0;

  /**
   * Creates a pool.
   *
   * @param slabBytes Slab size (a multiple of 8).
   */
  constructor(slabBytes: number = SLAB_BYTES) {
    this.#slabBytes = slabBytes;
    this.#slab = new ArrayBuffer(slabBytes);
  }

  /**
   * Returns `size` bytes nobody else has been given (aligned to 8 bytes).
   * Usable as the `allocate` option of `smsgSealBody`.
   *
   * @param size Bytes wanted.
   * @returns A view of exactly `size` bytes.
   */
  readonly allocate = (size: number): Uint8Array<ArrayBuffer> => {
    if (size > this.#slabBytes >>> 2) return new Uint8Array(size);
    if (this.#offset + size > this.#slabBytes) {
      this.#slab = new ArrayBuffer(this.#slabBytes);
      this.#offset = 0;
    }
    const view = new Uint8Array(this.#slab, this.#offset, size);
    this.#offset += (size + 7) & ~7;
    return view;
  };
}
