/**
 * The RFC 6455 frame codec both ends of our WebSockets share: the dialling
 * client (`_ws_client.ts`) and the listening server (`server.ts`). One class,
 * {@linkcode WebSocketConn}, reads and writes frames on a `Deno.Conn` in
 * either role:
 *
 * - a client masks what it sends and refuses masked frames; a server sends
 *   unmasked frames and refuses unmasked ones (RFC 6455 §5.1);
 * - a frame's declared length is checked against the current message limit
 *   at its header, before any of its payload is buffered (the limit can be
 *   raised once a handshake has succeeded, see `setMaxMessageSize`);
 * - control frames (ping, pong, close) are answered; at most one pong waits
 *   in the write queue, so a peer that pings and never reads cannot grow it;
 * - fragmented messages are reassembled under the same limit;
 * - a close is a close handshake with a deadline: our close frame goes out,
 *   and the TCP connection is dropped when the peer's close frame arrives or
 *   `closeTimeout` passes, whichever is first. Code 1006 drops at once.
 *
 * Frame header (RFC 6455 §5.2):
 *
 * | offset | size | meaning |
 * |---|---|---|
 * | 0 | 1 | FIN (0x80), RSV1-3 (0x70, must be 0), opcode (0x0f) |
 * | 1 | 1 | MASK (0x80), payload length 0-125, 126 (u16be follows), 127 (u64be follows) |
 * | 2 | 0/2/8 | extended payload length, big-endian |
 * | … | 0/4 | masking key (client to server only) |
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { FrameHandlers, FrameSocket } from "./_socket.ts";

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const BATCH_BYTES = 256 * 1024;
const READ_CHUNK = 64 * 1024;
/** Default wait for the peer's answer to our close frame. */
export const DEFAULT_CLOSE_TIMEOUT = 1_000;

type Timer = ReturnType<typeof setTimeout>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Computes `Sec-WebSocket-Accept` for a key.
 *
 * @param key The `Sec-WebSocket-Key` value.
 * @returns The expected accept value.
 */
export function websocketAccept(key: string): string {
  return createHash("sha1").update(key + WS_GUID).digest("base64");
}

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

/**
 * XORs `len` bytes at `off` of `buf` with the 4-byte mask, in place.
 *
 * @param buf The buffer.
 * @param off Start offset.
 * @param len Byte count.
 * @param mask The 4 mask bytes.
 */
export function maskInPlace(
  buf: Uint8Array,
  off: number,
  len: number,
  mask: Uint8Array,
): void {
  const m0 = mask[0]!, m1 = mask[1]!, m2 = mask[2]!, m3 = mask[3]!;
  let i = 0;
  const abs = buf.byteOffset + off;
  // leading bytes up to 4-byte alignment
  while (i < len && ((abs + i) & 3) !== 0) {
    buf[off + i]! ^= mask[i & 3]!;
    i++;
  }
  const words = (len - i) >>> 2;
  if (words > 0 && LITTLE_ENDIAN) {
    const k = i & 3;
    const rm = [m0, m1, m2, m3];
    const w = rm[k]! | (rm[(k + 1) & 3]! << 8) | (rm[(k + 2) & 3]! << 16) |
      (rm[(k + 3) & 3]! << 24);
    const u32 = new Uint32Array(buf.buffer, abs + i, words);
    for (let j = 0; j < words; j++) u32[j]! ^= w;
    i += words * 4;
  }
  for (; i < len; i++) buf[off + i]! ^= mask[i & 3]!;
}

/**
 * Writes a frame header at `off` and returns the offset after it (and after
 * the mask key when `mask` is given; the caller masks the payload).
 *
 * @param out The buffer (needs up to 14 bytes at `off`).
 * @param off Where to write.
 * @param opcode The opcode (FIN is always set: we never fragment).
 * @param len The payload length.
 * @param mask The client's 4-byte mask, or `undefined` for a server frame.
 * @returns The offset of the payload.
 */
export function writeFrameHeader(
  out: Uint8Array,
  off: number,
  opcode: number,
  len: number,
  mask: Uint8Array | undefined,
): number {
  const m = mask === undefined ? 0 : 0x80;
  out[off++] = 0x80 | opcode;
  if (len < 126) out[off++] = m | len;
  else if (len < 65536) {
    out[off++] = m | 126;
    out[off++] = len >> 8;
    out[off++] = len & 0xff;
  } else {
    out[off++] = m | 127;
    // Lengths here stay below 2^32 (the message limits are far smaller).
    out[off++] = 0;
    out[off++] = 0;
    out[off++] = 0;
    out[off++] = 0;
    out[off++] = (len >>> 24) & 0xff;
    out[off++] = (len >>> 16) & 0xff;
    out[off++] = (len >>> 8) & 0xff;
    out[off++] = len & 0xff;
  }
  if (mask !== undefined) {
    out.set(mask, off);
    off += 4;
  }
  return off;
}

interface Pending {
  opcode: number;
  payload: Uint8Array;
}

/** Options of {@linkcode WebSocketConn}. */
export interface WebSocketConnOptions {
  /** `client` masks what it sends; `server` requires masked frames. */
  role: "client" | "server";
  /** Largest accepted message in bytes; bigger ones close with 1009. */
  maxMessageSize: number;
  /** `host:port` of the remote end, for logs. */
  remoteAddress: string;
  /** Milliseconds to wait for the peer's close frame after ours (default 1 s). */
  closeTimeout?: number;
  /** Initial read buffer in bytes (default 128 KiB; grows to fit a frame). */
  initialBufferBytes?: number;
  /** Called when the peer did not answer our close frame in time. */
  onCloseTimeout?: () => void;
}

/**
 * An open WebSocket over a `Deno.Conn` (after the HTTP upgrade), in the
 * client or the server role. Implements the transport's `FrameSocket`.
 */
export class WebSocketConn implements FrameSocket {
  readonly remoteAddress: string;
  readonly done: Promise<void>;
  readonly #conn: Deno.Conn;
  readonly #client: boolean;
  readonly #closeTimeout: number;
  readonly #onCloseTimeout: (() => void) | undefined;
  #max: number;
  #handlers: FrameHandlers | undefined;
  #early: (string | Uint8Array)[] = [];
  #closeInfo: [number, string] | undefined;
  #closing = false;
  #connClosed = false;
  #closeSent = false;
  #closeReceived = false;
  #closeTimer: Timer | undefined;
  #localClose: [number, string] | undefined;

  // reading
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #fragOpcode = 0;
  #frags: Uint8Array[] = [];
  #fragBytes = 0;
  #wantBuffer = 0;

  // writing
  #queue: Pending[] = [];
  #queued = 0;
  #pongQueued = false;
  #writing = false;
  #scheduled = false;
  #writeBuf = new Uint8Array(0);
  #maskPool = new Uint8Array(0);
  #maskOff = 0;
  #drainWaiters: { limit: number; resolve: () => void }[] = [];
  #readDone: Promise<void>;
  #writeDone: Promise<void> = Promise.resolve();

  /**
   * Wraps an upgraded connection and starts reading.
   *
   * @param conn The connection (after the upgrade's head).
   * @param rest Bytes read past the upgrade head (the first frames).
   * @param options Role, limits and the remote address.
   */
  constructor(
    conn: Deno.Conn,
    rest: Uint8Array,
    options: WebSocketConnOptions,
  ) {
    this.#conn = conn;
    this.#client = options.role === "client";
    this.#max = options.maxMessageSize;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#onCloseTimeout = options.onCloseTimeout;
    this.remoteAddress = options.remoteAddress;
    const initial = options.initialBufferBytes ?? READ_CHUNK * 2;
    this.#buf = new Uint8Array(Math.max(initial, rest.length * 2, 1024));
    this.#buf.set(rest);
    this.#end = rest.length;
    this.#readDone = this.#readLoop();
    this.done = this.#readDone.then(() => this.#writeDone).then(() => {});
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  get closed(): boolean {
    return this.#closing || this.#closeInfo !== undefined;
  }

  /** The current message limit in bytes. */
  get maxMessageSize(): number {
    return this.#max;
  }

  /**
   * Changes the message limit (e.g. from the 64 KiB allowed before a
   * handshake to the configured limit after it). Applies to frames whose
   * header has not been read yet.
   *
   * @param bytes The new limit.
   */
  setMaxMessageSize(bytes: number): void {
    const raised = bytes > this.#max;
    this.#max = bytes;
    // A socket started small (before a handshake) reads in full-size
    // chunks once a frame outgrows its buffer (not before: most sockets of
    // an attack never get that far).
    if (raised) this.#wantBuffer = READ_CHUNK * 2;
  }

  setHandlers(handlers: FrameHandlers): void {
    this.#handlers = handlers;
    const early = this.#early;
    this.#early = [];
    for (const m of early) {
      if (typeof m === "string") handlers.onText(m);
      else handlers.onBinary(m);
    }
    if (this.#closeInfo !== undefined) {
      handlers.onClose(this.#closeInfo[0], this.#closeInfo[1]);
    }
  }

  // ---- reading

  async #readLoop(): Promise<void> {
    let code = 1006;
    let reason = "";
    try {
      while (true) {
        const result = this.#parse();
        if (result !== undefined) {
          [code, reason] = result;
          break;
        }
        if (this.#connClosed) break;
        if (this.#end === this.#buf.length) this.#makeRoom(READ_CHUNK);
        const n = await this.#conn.read(this.#buf.subarray(this.#end));
        if (n === null) break;
        this.#end += n;
      }
    } catch {
      // reset, closed locally or aborted
    }
    await this.#flushBeforeClose();
    this.#closeConn();
    await this.#writeDone.catch(() => {});
    if (code === 1006 && this.#localClose !== undefined) {
      [code, reason] = this.#localClose;
    }
    this.#finish(code, reason);
  }

  /** Lets queued frames (a pong, the close echo) go out, for at most 1 s. */
  async #flushBeforeClose(): Promise<void> {
    const deadline = Date.now() + 1000;
    while (
      !this.#connClosed && Date.now() < deadline &&
      (this.#queue.length > 0 || this.#writing || this.#scheduled)
    ) {
      let timer: Timer | undefined;
      await Promise.race([
        this.#writeDone.catch(() => {}).then(() =>
          new Promise((r) => setTimeout(r, 0))
        ),
        new Promise((
          r,
        ) => (timer = setTimeout(r, Math.max(1, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
    }
  }

  #makeRoom(need: number): void {
    const live = this.#end - this.#start;
    if (this.#start > 0 && this.#buf.length - live >= need) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const next = new Uint8Array(
        Math.max(this.#buf.length * 2, live + need, this.#wantBuffer),
      );
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    }
    this.#end = live;
    this.#start = 0;
  }

  /** Parses complete frames; returns close info when the stream must end. */
  #parse(): [number, string] | undefined {
    while (true) {
      const buf = this.#buf;
      const avail = this.#end - this.#start;
      if (avail < 2) break;
      const p = this.#start;
      const b0 = buf[p]!;
      const b1 = buf[p + 1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if ((b0 & 0x70) !== 0) return this.#fail(1002, "reserved bits set");
      const masked = (b1 & 0x80) !== 0;
      if (masked === this.#client) {
        return this.#fail(
          1002,
          this.#client ? "masked frame from server" : "unmasked frame",
        );
      }
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (avail < 4) break;
        len = (buf[p + 2]! << 8) | buf[p + 3]!;
        head = 4;
      } else if (len === 127) {
        if (avail < 10) break;
        const hi = ((buf[p + 2]! << 24) | (buf[p + 3]! << 16) |
          (buf[p + 4]! << 8) | buf[p + 5]!) >>> 0;
        const lo = ((buf[p + 6]! << 24) | (buf[p + 7]! << 16) |
          (buf[p + 8]! << 8) | buf[p + 9]!) >>> 0;
        if (hi !== 0) return this.#tooLarge();
        len = lo;
        head = 10;
      }
      if (masked) head += 4;
      const control = opcode >= 0x8;
      if (control && (!fin || len > 125)) {
        return this.#fail(1002, "invalid control frame");
      }
      // The limit is checked here, at the header, before buffering.
      if (!control && this.#fragBytes + len > this.#max) {
        return this.#tooLarge();
      }
      if (avail < head + len) {
        if (this.#buf.length - this.#start < head + len) {
          this.#makeRoom(head + len - avail);
        }
        break;
      }
      const payload = this.#buf.subarray(p + head, p + head + len);
      if (masked) {
        maskInPlace(
          this.#buf,
          p + head,
          len,
          this.#buf.subarray(p + head - 4, p + head),
        );
      }
      this.#start = p + head + len;
      if (control) {
        const r = this.#control(opcode, payload);
        if (r !== undefined) return r;
        continue;
      }
      if (opcode === OP_CONT) {
        if (this.#fragOpcode === 0) {
          return this.#fail(1002, "unexpected continuation");
        }
        this.#frags.push(payload.slice());
        this.#fragBytes += len;
        if (!fin) continue;
        const whole = new Uint8Array(this.#fragBytes);
        let off = 0;
        for (const f of this.#frags) {
          whole.set(f, off);
          off += f.length;
        }
        const op = this.#fragOpcode;
        this.#frags = [];
        this.#fragBytes = 0;
        this.#fragOpcode = 0;
        this.#deliver(op, whole);
      } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
        if (this.#fragOpcode !== 0) {
          return this.#fail(1002, "expected continuation");
        }
        if (fin) this.#deliver(opcode, payload);
        else {
          this.#fragOpcode = opcode;
          this.#frags = [payload.slice()];
          this.#fragBytes = len;
        }
      } else {
        return this.#fail(1002, "unknown opcode");
      }
      if (this.#connClosed) return [1006, ""];
    }
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
    return undefined;
  }

  #tooLarge(): [number, string] {
    try {
      this.#handlers?.onTooLarge?.();
    } catch {
      // the owner's bookkeeping never stops the close
    }
    return this.#fail(1009, "message too big");
  }

  #control(opcode: number, payload: Uint8Array): [number, string] | undefined {
    if (opcode === OP_PING) {
      // One pong at a time: a peer that pings without reading cannot make
      // the write queue grow (RFC 6455 §5.5.3 allows answering the last).
      if (!this.#pongQueued && !this.#closing) {
        this.#pongQueued = true;
        this.#enqueue(OP_PONG, payload.slice());
      }
      return undefined;
    }
    if (opcode === OP_PONG) return undefined;
    if (opcode === OP_CLOSE) {
      let code = 1005;
      let reason = "";
      if (payload.length >= 2) {
        code = (payload[0]! << 8) | payload[1]!;
        reason = decoder.decode(payload.subarray(2));
      }
      this.#closeReceived = true;
      if (!this.#closeSent) this.#sendClose(code === 1005 ? 1000 : code, "");
      this.#closing = true;
      return [code, reason];
    }
    return this.#fail(1002, "unknown control opcode");
  }

  #deliver(opcode: number, payload: Uint8Array): void {
    if (this.#closing) return;
    const h = this.#handlers;
    if (opcode === OP_TEXT) {
      const text = decoder.decode(payload);
      if (h) h.onText(text);
      else this.#early.push(text);
    } else if (h) h.onBinary(payload);
    else this.#early.push(payload.slice());
  }

  #fail(code: number, reason: string): [number, string] {
    if (!this.#closeSent) this.#sendClose(code, reason);
    this.#closing = true;
    return [code, reason];
  }

  #finish(code: number, reason: string): void {
    if (this.#closeInfo !== undefined) return;
    clearTimeout(this.#closeTimer);
    this.#closeInfo = [code, reason];
    this.#closing = true;
    this.#queue = [];
    this.#queued = 0;
    this.#releaseDrain();
    this.#handlers?.onClose(code, reason);
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    clearTimeout(this.#closeTimer);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  // ---- writing

  sendText(text: string): void {
    this.#enqueue(OP_TEXT, encoder.encode(text));
  }

  sendBinary(data: Uint8Array): void {
    this.#enqueue(OP_BINARY, data);
  }

  #sendClose(code: number, reason: string): void {
    this.#closeSent = true;
    // The deadline runs from now, not from the write: a peer that reads
    // nothing would otherwise hold the socket with our close frame unsent.
    if (
      !this.#closeReceived && this.#closeTimer === undefined &&
      !this.#connClosed
    ) {
      this.#closeTimer = setTimeout(() => {
        this.#closeTimer = undefined;
        if (this.#connClosed) return;
        try {
          this.#onCloseTimeout?.();
        } catch {
          // counting never stops the drop
        }
        this.#closeConn();
      }, this.#closeTimeout);
    }
    const r = encoder.encode(reason).subarray(0, 123);
    const p = new Uint8Array(2 + r.length);
    p[0] = code >> 8;
    p[1] = code & 0xff;
    p.set(r, 2);
    this.#enqueue(OP_CLOSE, p, true);
  }

  #enqueue(opcode: number, payload: Uint8Array, force = false): void {
    if (
      this.#connClosed || (this.#closing && !force) ||
      (this.#closeSent && !force)
    ) return;
    this.#queue.push({ opcode, payload });
    this.#queued += payload.length + 14;
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        if (!this.#writing) this.#writeDone = this.#flush();
      });
    }
  }

  #mask(): Uint8Array {
    if (this.#maskOff + 4 > this.#maskPool.length) {
      this.#maskPool = randomBytes(4096);
      this.#maskOff = 0;
    }
    const m = this.#maskPool.subarray(this.#maskOff, this.#maskOff + 4);
    this.#maskOff += 4;
    return m;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#connClosed) {
        let size = 0;
        let count = 0;
        for (const f of this.#queue) {
          const add = f.payload.length + 14;
          if (count > 0 && size + add > BATCH_BYTES) break;
          size += add;
          count++;
        }
        if (this.#writeBuf.length < size) {
          // Grown as needed: a socket that only ever writes a close frame
          // (most hostile ones) never holds a whole batch buffer.
          this.#writeBuf = new Uint8Array(
            Math.max(
              size,
              Math.min(BATCH_BYTES + 64, 2 * this.#writeBuf.length || 4096),
            ),
          );
        }
        const out = this.#writeBuf;
        let off = 0;
        let accounted = 0;
        let closeFrame = false;
        for (let i = 0; i < count; i++) {
          const f = this.#queue[i]!;
          const len = f.payload.length;
          accounted += len + 14;
          const mask = this.#client ? this.#mask() : undefined;
          off = writeFrameHeader(out, off, f.opcode, len, mask);
          out.set(f.payload, off);
          if (mask !== undefined) maskInPlace(out, off, len, mask);
          off += len;
          if (f.opcode === OP_CLOSE) closeFrame = true;
          else if (f.opcode === OP_PONG) this.#pongQueued = false;
        }
        this.#queue.splice(0, count);
        const written = writeAll(this.#conn, out.subarray(0, off));
        // The first write call has reached the kernel: the frames are on
        // their way while we wait, so the owner may use the time.
        try {
          this.#handlers?.onWritten?.();
        } catch {
          // The owner's idle-time work never stops a write.
        }
        await written;
        this.#queued -= accounted;
        this.#checkDrain();
        if (closeFrame) {
          this.#queue = [];
          this.#queued = 0;
          // The peer's close already came: nothing more to wait for.
          if (this.#closeReceived) this.#closeConn();
        }
      }
    } catch {
      this.#closeConn();
    } finally {
      this.#writing = false;
      this.#checkDrain();
    }
  }

  waitForDrain(limit: number): Promise<void> {
    if (this.closed || this.#queued <= limit) return Promise.resolve();
    return new Promise((resolve) =>
      this.#drainWaiters.push({ limit, resolve })
    );
  }

  #checkDrain(): void {
    if (this.#drainWaiters.length === 0) return;
    const q = this.#queued;
    const closed = this.closed || this.#connClosed;
    this.#drainWaiters = this.#drainWaiters.filter((w) => {
      if (!closed && q > w.limit) return true;
      w.resolve();
      return false;
    });
  }

  #releaseDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  close(code = 1000, reason = ""): void {
    if (code === 1006) {
      // Abrupt: drop TCP now, even in the middle of a close handshake.
      this.#localClose ??= [code, reason];
      this.#closing = true;
      this.#closeConn();
      this.#releaseDrain();
      return;
    }
    if (this.#closing || this.#closeInfo !== undefined) return;
    this.#localClose = [code, reason];
    this.#sendClose(code, reason);
    this.#closing = true;
    this.#releaseDrain();
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
