/**
 * The spare connections of peers that do not run our crossing-dial
 * tie-break (Go nodes). Go deletes its table entry for a peer whenever any
 * of its connections to that peer closes (node.md §4.12, §13.3 item 17), so
 * closing the losing one of two crossing connections makes Go forget the
 * one that survived, dial again on its next request, and so on. Instead the
 * older connection is kept open (the keepalive's heartbeats keep it inside
 * Go's read deadline) and takes over if the one in the table dies. A peer
 * gets at most {@linkcode MAX_SPARES_PER_PEER}; beyond that the oldest is
 * closed.
 *
 * @module
 */

import type { Connection } from "./_connection.ts";

/** Most spare connections kept per peer. */
export const MAX_SPARES_PER_PEER = 2;

/** Spare connections by peer, oldest first. */
export class SpareConnections {
  readonly #byPeer = new Map<string, Connection[]>();
  readonly #evict: (conn: Connection) => void;
  #size = 0;

  /**
   * @param evict Closes a spare beyond the per-peer cap.
   */
  constructor(evict: (conn: Connection) => void) {
    this.#evict = evict;
  }

  /** Spare connections in all. */
  get size(): number {
    return this.#size;
  }

  /**
   * Keeps a connection that left the table as a spare.
   *
   * @param conn The connection.
   */
  keep(conn: Connection): void {
    const list = this.#byPeer.get(conn.peerId) ?? [];
    if (list.includes(conn)) return;
    list.push(conn);
    this.#size++;
    this.#byPeer.set(conn.peerId, list);
    while (list.length > MAX_SPARES_PER_PEER) {
      const oldest = list.shift()!;
      this.#size--;
      this.#evict(oldest);
    }
  }

  /**
   * Forgets a connection (it closed). No-op for others.
   *
   * @param conn The connection.
   * @returns Whether it was a spare.
   */
  delete(conn: Connection): boolean {
    const list = this.#byPeer.get(conn.peerId);
    const i = list?.indexOf(conn) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.#size--;
    if (list!.length === 0) this.#byPeer.delete(conn.peerId);
    return true;
  }

  /**
   * Takes the newest live spare of a peer, to put it in the table.
   *
   * @param peerId The peer.
   * @returns The connection, or `undefined`.
   */
  take(peerId: string): Connection | undefined {
    const list = this.#byPeer.get(peerId);
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      this.#size--;
      if (list.length === 0) this.#byPeer.delete(peerId);
      if (c.state === "established") return c;
    }
    return undefined;
  }
}
