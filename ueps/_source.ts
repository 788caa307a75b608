/**
 * Reading from a `ReadableStream<Uint8Array>` for the UEPS readers.
 *
 * Byte streams (`type: "bytes"`, such as `Deno.FsFile.readable` and
 * `Deno.Conn.readable`) are read with a BYOB reader that asks for exactly the
 * bytes needed, so nothing past a packet is taken from the stream. Other
 * streams are read chunk by chunk into a buffer; bytes left over after the
 * last packet read stay in that buffer until it is released.
 *
 * @module
 */

/** Exact-length reads from a byte stream through a BYOB reader. */
export class ExactSource {
  #reader: ReadableStreamBYOBReader;

  /**
   * Wraps a locked BYOB reader.
   *
   * @param reader The reader.
   */
  constructor(reader: ReadableStreamBYOBReader) {
    this.#reader = reader;
  }

  /**
   * Reads up to `n` bytes (n ≥ 1) into a new buffer, stopping early only at
   * the end of the stream. Errors from the stream are thrown unchanged.
   *
   * @returns The bytes read; shorter than `n` only at the end of the stream.
   */
  async read(n: number): Promise<Uint8Array> {
    let buffer = new ArrayBuffer(n);
    let got = 0;
    while (got < n) {
      const { value, done } = await this.#reader.read(
        new Uint8Array(buffer, got, n - got),
      );
      if (value !== undefined) {
        // The view's buffer was transferred; continue in the new one.
        buffer = value.buffer as ArrayBuffer;
        got += value.byteLength;
      }
      if (done) break;
    }
    return new Uint8Array(buffer, 0, got);
  }

  /** Releases the stream's lock. */
  release(): void {
    this.#reader.releaseLock();
  }
}

const EMPTY = new Uint8Array(0);

/** A growing window of bytes read chunk by chunk from a stream. */
export class BufferedSource {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Bytes held; `#owned` tells whether this source may write into it. */
  #buf: Uint8Array = EMPTY;
  #owned = false;
  #start = 0;
  #end = 0;
  #done = false;

  /**
   * Wraps a locked default reader.
   *
   * @param reader The reader.
   */
  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  /** The bytes buffered and not yet consumed (a view; valid until `pull`). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Whether the stream has ended. */
  get done(): boolean {
    return this.#done;
  }

  /** Marks `n` buffered bytes as consumed. */
  consume(n: number): void {
    this.#start += n;
  }

  /**
   * Reads one more chunk into the buffer.
   *
   * @returns `false` when the stream has ended.
   */
  async pull(): Promise<boolean> {
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        return false;
      }
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(
          `Cannot read UEPS packet: stream chunk must be a Uint8Array, got ${typeof value}`,
        );
      }
      if (value.byteLength === 0) continue;
      this.#append(value);
      return true;
    }
  }

  #append(chunk: Uint8Array): void {
    const held = this.#end - this.#start;
    if (held === 0) {
      // Borrow the chunk; nothing is copied in the common case.
      this.#buf = chunk;
      this.#owned = false;
      this.#start = 0;
      this.#end = chunk.byteLength;
      return;
    }
    const need = held + chunk.byteLength;
    if (!this.#owned || this.#buf.byteLength - this.#start < need) {
      const next = new Uint8Array(Math.max(need, 2 * held, 4096));
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#owned = true;
      this.#start = 0;
      this.#end = held;
    } else if (this.#buf.byteLength - this.#end < chunk.byteLength) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = held;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }

  /** Releases the stream's lock; buffered leftover bytes are dropped. */
  release(): void {
    this.#buf = EMPTY;
    this.#start = this.#end = 0;
    this.#reader.releaseLock();
  }
}

/**
 * Locks a stream for reading, exactly (BYOB) when it is a byte stream.
 *
 * @param stream The stream.
 * @returns The source.
 */
export function openSource(
  stream: ReadableStream<Uint8Array>,
): ExactSource | BufferedSource {
  try {
    return new ExactSource(stream.getReader({ mode: "byob" }));
  } catch {
    return new BufferedSource(stream.getReader());
  }
}
