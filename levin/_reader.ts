/**
 * Buffered exact-length reads from a Deno connection (internal).
 *
 * @module
 */

/** Thrown by {@linkcode ByteReader.readExact} when the stream ends. */
export class EndOfStream extends Error {
  /** Bytes of the requested run that had arrived before the end. */
  readonly received: number;

  /**
   * Creates the marker.
   *
   * @param received Bytes of the requested run already read.
   */
  constructor(received: number) {
    super("end of stream");
    this.received = received;
  }
}

/** Reads exact byte runs from a connection, buffering small reads. */
export class ByteReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(16384);
  #start = 0;
  #end = 0;
  #inflight: Promise<unknown> = Promise.resolve();

  /**
   * Wraps a connection.
   *
   * @param conn The connection to read from.
   */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Settles once no read is pending on the connection. */
  get idle(): Promise<unknown> {
    return this.#inflight;
  }

  #read(target: Uint8Array): Promise<number | null> {
    const p = this.#conn.read(target);
    this.#inflight = p.catch(() => null);
    return p;
  }

  /**
   * Reads exactly `n` bytes into a new buffer.
   *
   * @param n How many bytes.
   * @returns The bytes.
   * @throws {EndOfStream} When the stream ends first.
   */
  async readExact(n: number): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#start === this.#end) {
        if (n - filled >= this.#buf.length) {
          const r = await this.#read(out.subarray(filled));
          if (r === null) throw new EndOfStream(filled);
          filled += r;
          continue;
        }
        const r = await this.#read(this.#buf);
        if (r === null) throw new EndOfStream(filled);
        this.#start = 0;
        this.#end = r;
      }
      const take = Math.min(n - filled, this.#end - this.#start);
      out.set(this.#buf.subarray(this.#start, this.#start + take), filled);
      this.#start += take;
      filled += take;
    }
    return out;
  }
}
