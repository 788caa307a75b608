/**
 * A test peer that behaves like a Go go-p2p node where it matters for
 * connection management (node.md §4.4, §4.7, §4.9, §4.11, §4.12 and §13.3
 * item 17), built from our own primitives:
 *
 * - the upgrade carries no `X-Lthn-Max-Message-Size` header (a bare Go
 *   `Go-http-client/1.1` upgrade, as in the captures);
 * - one connection table keyed by peer ID: a new connection (either
 *   direction) **replaces** the entry without closing the old socket, and
 *   the death of **any** connection deletes the entry for that ID, whoever
 *   owns it;
 * - `Connect` never looks for an existing connection; requests dial only
 *   when the table has no entry (the controller's lazy reconnect, §5.2);
 * - every data frame counts as activity; a connection without one for
 *   `pingInterval + pongTimeout` is dropped; pings go out every
 *   `pingInterval`;
 * - a worker handler answers `ping` and `get_stats` on the connection the
 *   request came in on; replies settle requests by `replyTo`;
 * - shutdown sends `disconnect {server shutdown, 1004}` and drops TCP
 *   without a WebSocket close frame.
 *
 * The server side is a minimal RFC 6455 server over `Deno.listen`, so that
 * it can drop TCP the way Go does (Deno's own upgrade always sends a close
 * frame).
 *
 * @module
 */

import {
  createHandshake,
  decodeMessage,
  encodeMessage,
  type Message,
  newMessage,
  type NodeIdentity,
  type NodeManager,
  reply,
  respondToHandshake,
  secretToPassword,
  SmsgKey,
  smsgOpenBody,
  smsgSealBody,
  verifyHandshakeAck,
} from "../node/mod.ts";
import {
  dialWebSocket,
  maskInPlace,
  websocketAccept,
} from "../node/transport/_ws_client.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The little a connection needs from a WebSocket. */
interface Wire {
  sendText(text: string): void;
  sendBinary(data: Uint8Array): void;
  /** Drops TCP without a close frame (what Go does). */
  drop(): void;
  setHandlers(h: {
    onText(t: string): void;
    onBinary(b: Uint8Array): void;
    onClose(): void;
  }): void;
}

/** Server side: a bare RFC 6455 endpoint over one TCP connection. */
class ServerWire implements Wire {
  readonly #conn: Deno.Conn;
  #buf: Uint8Array;
  #h: Parameters<Wire["setHandlers"]>[0] | undefined;
  #early: (string | Uint8Array)[] = [];
  #closed = false;
  #writes: Promise<void> = Promise.resolve();

  constructor(conn: Deno.Conn, rest: Uint8Array) {
    this.#conn = conn;
    this.#buf = rest;
    void this.#read();
  }

  setHandlers(h: Parameters<Wire["setHandlers"]>[0]): void {
    this.#h = h;
    for (const m of this.#early.splice(0)) {
      if (typeof m === "string") h.onText(m);
      else h.onBinary(m);
    }
    if (this.#closed) h.onClose();
  }

  async #read(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        this.#parse();
        if (this.#closed) return;
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(this.#buf.length + n);
        next.set(this.#buf);
        next.set(chunk.subarray(0, n), this.#buf.length);
        this.#buf = next;
      }
    } catch {
      // reset or dropped
    }
    this.#end();
  }

  #parse(): void {
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = (b[2]! << 8) | b[3]!;
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(
          new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0),
        );
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = b.slice(off, off + len);
      if (masked) {
        maskInPlace(payload, 0, len, b.subarray(maskOff, maskOff + 4));
      }
      this.#buf = b.subarray(off + len);
      if (opcode === 0x1) this.#deliver(dec.decode(payload));
      else if (opcode === 0x2) this.#deliver(payload);
      else if (opcode === 0x9) this.#frame(0xa, payload);
      else if (opcode === 0x8) {
        // gorilla answers a close frame with one, then the socket ends.
        this.#frame(0x8, payload.subarray(0, 2));
        this.drop();
        return;
      }
    }
  }

  #deliver(m: string | Uint8Array): void {
    if (this.#h === undefined) this.#early.push(m);
    else if (typeof m === "string") this.#h.onText(m);
    else this.#h.onBinary(m);
  }

  #frame(opcode: number, payload: Uint8Array): void {
    if (this.#closed) return;
    const len = payload.length;
    const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
    const out = new Uint8Array(head + len);
    out[0] = 0x80 | opcode;
    if (len < 126) out[1] = len;
    else if (len < 65536) {
      out[1] = 126;
      out[2] = len >> 8;
      out[3] = len & 0xff;
    } else {
      out[1] = 127;
      new DataView(out.buffer).setBigUint64(2, BigInt(len));
    }
    out.set(payload, head);
    this.#writes = this.#writes.then(async () => {
      try {
        let o = 0;
        while (o < out.length) o += await this.#conn.write(out.subarray(o));
      } catch {
        this.drop();
      }
    });
  }

  sendText(text: string): void {
    this.#frame(0x1, enc.encode(text));
  }

  sendBinary(data: Uint8Array): void {
    this.#frame(0x2, data);
  }

  drop(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#h?.onClose();
  }

  #end(): void {
    this.drop();
  }
}

/** Client side: our own dialler, without our upgrade header. */
async function clientWire(address: string): Promise<Wire> {
  const ws = await dialWebSocket(new URL(`ws://${address}/ws`), {
    maxMessageSize: 1 << 20,
  });
  return {
    sendText: (t) => ws.sendText(t),
    sendBinary: (b) => ws.sendBinary(b),
    drop: () => ws.close(1006),
    setHandlers: (h) =>
      ws.setHandlers({
        onText: h.onText,
        onBinary: (b) => h.onBinary(b.slice()),
        onClose: () => h.onClose(),
      }),
  };
}

/** Reads the first text frame of a wire (the handshake or its ack). */
function firstText(wire: Wire, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("no handshake frame")),
      timeoutMs,
    );
    wire.setHandlers({
      onText: (t) => {
        clearTimeout(timer);
        resolve(t);
      },
      onBinary: () => {},
      onClose: () => {
        clearTimeout(timer);
        reject(new Error("closed during the handshake"));
      },
    });
  });
}

/** One connection of a {@linkcode GoPeer}. */
export class GoConn {
  readonly peer: NodeIdentity;
  readonly direction: "inbound" | "outbound";
  readonly #wire: Wire;
  readonly #key: SmsgKey;
  readonly #owner: GoPeer;
  #lastActivity = Date.now();
  #keepalive: ReturnType<typeof setInterval>;
  alive = true;
  /** Frames received on this connection. */
  framesIn = 0;

  constructor(
    owner: GoPeer,
    wire: Wire,
    peer: NodeIdentity,
    secret: Uint8Array,
    direction: "inbound" | "outbound",
  ) {
    this.#owner = owner;
    this.#wire = wire;
    this.peer = peer;
    this.direction = direction;
    this.#key = SmsgKey.fromPassword(secretToPassword(secret));
    secret.fill(0);
    wire.setHandlers({
      onText: () => this.#activity(),
      onBinary: (b) => this.#frame(b),
      onClose: () => this.#gone(),
    });
    const { pingInterval, pongTimeout } = owner.config;
    this.#keepalive = setInterval(() => {
      if (Date.now() - this.#lastActivity > pingInterval + pongTimeout) {
        owner.log.push(`keepalive timeout ${this.direction}`);
        this.drop();
        return;
      }
      this.send(newMessage("ping", {
        from: owner.id,
        to: peer.id,
        payload: { sentAt: Date.now() },
      }));
    }, pingInterval);
  }

  get peerId(): string {
    return this.peer.id;
  }

  #activity(): void {
    this.framesIn++;
    this.#lastActivity = Date.now();
  }

  #frame(b: Uint8Array): void {
    this.#activity();
    let msg: Message;
    try {
      msg = decodeMessage(smsgOpenBody(b, this.#key));
    } catch {
      return;
    }
    this.#owner.handle(this, msg);
  }

  send(msg: Message): void {
    if (!this.alive) throw new Error("connection closed");
    this.#wire.sendBinary(
      smsgSealBody(encodeMessage(msg), this.#key, {
        timestamp: Math.floor(Date.now() / 1000),
      }),
    );
  }

  /** Go's removal: drop the socket; the table entry goes with it (by ID). */
  drop(): void {
    this.#wire.drop();
  }

  #gone(): void {
    if (!this.alive) return;
    this.alive = false;
    clearInterval(this.#keepalive);
    this.#owner.removed(this);
  }
}

/** Settings of a {@linkcode GoPeer}. */
export interface GoPeerConfig {
  /** Keepalive period (Go: 30 s). */
  pingInterval: number;
  /** Added to it for the read deadline (Go: 10 s). */
  pongTimeout: number;
}

/** A node with Go's connection-table semantics (see the module doc). */
export class GoPeer {
  readonly config: GoPeerConfig;
  readonly identity: NodeIdentity;
  /** Go's connection table: peer ID → the last connection registered. */
  readonly table = new Map<string, GoConn>();
  /** Every connection ever opened, in order. */
  readonly connections: GoConn[] = [];
  /** Events, for assertions and failure messages. */
  readonly log: string[] = [];
  /** How many times `connect` dialled. */
  dials = 0;
  readonly #node: NodeManager;
  readonly #listener: Deno.Listener;
  readonly #pending = new Map<string, (m: Message) => void>();
  readonly #started = Date.now();

  private constructor(
    node: NodeManager,
    listener: Deno.Listener,
    config: GoPeerConfig,
  ) {
    this.#node = node;
    this.identity = node.getIdentity()!;
    this.#listener = listener;
    this.config = config;
    void this.#accept();
  }

  /**
   * Listens on 127.0.0.1:0.
   *
   * @param node The identity.
   * @param config Keepalive settings.
   * @returns The running peer.
   */
  static start(node: NodeManager, config: GoPeerConfig): GoPeer {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return new GoPeer(node, l, config);
  }

  get id(): string {
    return this.identity.id;
  }

  /** `host:port` to dial. */
  get addr(): string {
    const a = this.#listener.addr as Deno.NetAddr;
    return `${a.hostname}:${a.port}`;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      void this.#upgrade(conn).catch(() => {
        try {
          conn.close();
        } catch {
          // gone
        }
      });
    }
  }

  async #upgrade(conn: Deno.Conn): Promise<void> {
    let head = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    let end = -1;
    while (end < 0) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("closed before the upgrade");
      const next = new Uint8Array(head.length + n);
      next.set(head);
      next.set(chunk.subarray(0, n), head.length);
      head = next;
      end = dec.decode(head).indexOf("\r\n\r\n");
      if (head.length > 16_384) throw new Error("head too large");
    }
    const text = dec.decode(head.subarray(0, end));
    const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(text)?.[1];
    if (!text.startsWith("GET /ws ") || key === undefined) {
      throw new Error("not an upgrade");
    }
    this.log.push(
      `upgrade ${
        /x-lthn-max-message-size/i.test(text) ? "with" : "without"
      } our header`,
    );
    await conn.write(enc.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${
          websocketAccept(key)
        }\r\n\r\n`,
    ));
    const wire = new ServerWire(conn, head.slice(end + 4));
    const first = await firstText(wire);
    const d = respondToHandshake(first, {
      identity: this.identity,
      deriveSecret: (k) => this.#node.deriveSharedSecret(k),
      isAllowed: () => true,
      registeredKey: () => undefined,
    });
    if (d.action !== "accept") {
      wire.drop();
      return;
    }
    wire.sendText(encodeMessage(d.ack));
    this.#register(new GoConn(this, wire, d.peer, d.secret, "inbound"));
  }

  /**
   * Go's `Connect`: dials whatever the table holds, and registers the new
   * connection over any existing entry.
   *
   * @param address `host:port`.
   * @returns The connection.
   */
  async connect(address: string): Promise<GoConn> {
    this.dials++;
    const wire = await clientWire(address);
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const reading = firstText(wire);
    wire.sendText(encodeMessage(
      createHandshake(this.identity, { to: "", challenge }),
    ));
    const ack = verifyHandshakeAck(await reading, {
      challenge,
      deriveSecret: (k) => this.#node.deriveSharedSecret(k),
    });
    const conn = new GoConn(this, wire, ack.peer, ack.secret, "outbound");
    this.#register(conn);
    return conn;
  }

  #register(conn: GoConn): void {
    // §4.12: replace the entry without closing the old socket.
    this.table.set(conn.peerId, conn);
    this.connections.push(conn);
    this.log.push(`registered ${conn.direction}`);
  }

  /** Called by a connection that died: Go deletes the entry by ID. */
  removed(conn: GoConn): void {
    const had = this.table.get(conn.peerId);
    this.table.delete(conn.peerId);
    this.log.push(
      `removed ${conn.direction} (${
        had === conn ? "its own" : had ? "another live" : "no"
      } entry)`,
    );
  }

  /** The worker and controller handlers. */
  handle(conn: GoConn, msg: Message): void {
    if (msg.replyTo) {
      const settle = this.#pending.get(msg.replyTo);
      if (settle) {
        this.#pending.delete(msg.replyTo);
        settle(msg);
      }
      return;
    }
    if (msg.type === "ping") {
      conn.send(reply(msg, "pong", {
        payload: {
          sentAt: (msg.payload as { sentAt: number }).sentAt,
          receivedAt: Date.now(),
        },
      }));
    } else if (msg.type === "get_stats") {
      conn.send(reply(msg, "stats", {
        payload: {
          nodeId: this.id,
          nodeName: this.identity.name,
          miners: [],
          uptime: Math.floor((Date.now() - this.#started) / 1000),
        },
      }));
    }
  }

  /**
   * Go's controller `sendRequest`: connects when the table has no entry
   * for the peer, sends on the table's connection, waits for the reply.
   *
   * @param peerId The peer.
   * @param address Where to dial it.
   * @param type The request type.
   * @param payload Its payload.
   * @param timeoutMs How long to wait.
   * @returns The reply.
   */
  async request(
    peerId: string,
    address: string,
    type: "ping" | "get_stats",
    timeoutMs = 5_000,
  ): Promise<Message> {
    const conn = this.table.get(peerId) ?? await this.connect(address);
    const msg = type === "ping"
      ? newMessage("ping", {
        from: this.id,
        to: peerId,
        payload: { sentAt: Date.now() },
      })
      : newMessage("get_stats", { from: this.id, to: peerId, payload: null });
    const { promise, resolve, reject } = Promise.withResolvers<Message>();
    const timer = setTimeout(() => {
      this.#pending.delete(msg.id);
      reject(new Error(`${type} timed out`));
    }, timeoutMs);
    this.#pending.set(msg.id, (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    conn.send(msg);
    return await promise;
  }

  /**
   * Go's `Stop`: `disconnect {server shutdown, 1004}` on every connection,
   * then TCP dropped without a close frame.
   */
  async shutdown(): Promise<void> {
    for (const c of this.connections) {
      if (!c.alive) continue;
      try {
        c.send(newMessage("disconnect", {
          from: this.id,
          to: c.peerId,
          payload: { reason: "server shutdown", code: 1004 },
        }));
      } catch {
        // already gone
      }
    }
    // Let the frames reach the kernel, then drop every socket.
    await new Promise((r) => setTimeout(r, 50));
    for (const c of this.connections) c.drop();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}
