/**
 * Strikes: how many frames in a row a peer may send that fail (decrypt,
 * parse, format, timestamp, replay, rate) before it is disconnected. A good
 * frame clears the count, so a well-behaved peer that occasionally loses a
 * frame is never at risk, while one that sends only garbage (or floods
 * past the rate limit) is dropped after a bounded number of frames.
 *
 * A provisional inbound connection (handshake answered, key not yet used)
 * (A frame above the size limit needs no strike: the socket closes with
 * 1009 at its header.) A provisional inbound connection (handshake
 * answered, key not yet used) gets no second chance: its first failed frame ends it, since nothing a
 * peer holding the key sends first can fail.
 *
 * @module
 */

/** Why a frame failed, for the strike log line. */
export type StrikeReason =
  | "rate_limit"
  | "decrypt_failed"
  | "parse_failed"
  | "stale_timestamp"
  | "duplicate"
  | "unsupported_format";

/** Consecutive failed frames of one connection. */
export class Strikes {
  #count = 0;

  /** Failed frames since the last good one. */
  get count(): number {
    return this.#count;
  }

  /**
   * Records a failed frame.
   *
   * @param limit Failed frames in a row allowed (1 for provisional peers).
   * @returns `true` when the peer must be disconnected.
   */
  fail(limit: number): boolean {
    return ++this.#count >= limit;
  }

  /** A good frame arrived. */
  clear(): void {
    this.#count = 0;
  }
}
