import assert from "node:assert/strict";
import fc from "fast-check";
import { dialWebSocket, maskInPlace, websocketAccept } from "./_ws_client.ts";
import { TransportError } from "./errors.ts";

Deno.test("websocketAccept() matches RFC 6455 §1.3", () => {
  assert.equal(
    websocketAccept("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});

Deno.test("maskInPlace() equals the byte-wise definition at any alignment", () => {
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 300 }),
    fc.uint8Array({ minLength: 4, maxLength: 4 }),
    fc.integer({ min: 0, max: 7 }),
    (data, mask, shift) => {
      const buf = new Uint8Array(data.length + shift + 3);
      buf.set(data, shift);
      maskInPlace(buf, shift, data.length, mask);
      for (let i = 0; i < data.length; i++) {
        assert.equal(buf[shift + i], data[i]! ^ mask[i & 3]!);
      }
    },
  ));
});

/** A raw TCP server that completes the upgrade and then writes `reply`. */
async function withServer(
  reply: Uint8Array | ((conn: Deno.Conn) => Promise<void>),
  fn: (url: URL, received: Promise<Uint8Array>) => Promise<void>,
  status = 101,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    const chunks: Uint8Array[] = [];
    try {
      const buf = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return new Uint8Array();
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const key = /sec-websocket-key: (\S+)/i.exec(head)![1]!;
      const res = status === 101
        ? `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${
          websocketAccept(key)
        }\r\n\r\n`
        : `HTTP/1.1 ${status} Nope\r\nContent-Length: 0\r\n\r\n`;
      await conn.write(new TextEncoder().encode(res));
      if (typeof reply === "function") await reply(conn);
      else await conn.write(reply);
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
    } catch {
      // reset by the client
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    return all;
  })();
  try {
    await fn(
      new URL(`ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/ws`),
      served,
    );
  } finally {
    listener.close();
    await served;
  }
}

async function closeCodeFor(
  bytes: Uint8Array,
  maxMessageSize = 1024,
): Promise<number> {
  let code = -1;
  const writeThenClose = async (conn: Deno.Conn) => {
    await conn.write(bytes);
    await new Promise((r) => setTimeout(r, 20));
    conn.close();
  };
  await withServer(writeThenClose, async (url) => {
    const ws = await dialWebSocket(url, { maxMessageSize });
    const closed = new Promise<number>((r) =>
      ws.setHandlers({ onText() {}, onBinary() {}, onClose: (c) => r(c) })
    );
    code = await closed;
    await ws.done;
  });
  return code;
}

Deno.test("the client reads unmasked frames, fragmented messages and answers pings", async () => {
  const frames = new Uint8Array([
    0x81,
    0x02,
    0x68,
    0x69, // text "hi"
    0x89,
    0x01,
    0x50, // ping "P" (between data frames)
    0x02,
    0x01,
    0x01, // binary fragment 1
    0x00,
    0x01,
    0x02, // continuation
    0x80,
    0x01,
    0x03, // final continuation
    0x88,
    0x02,
    0x03,
    0xe8, // close 1000
  ]);
  await withServer(frames, async (url, received) => {
    const ws = await dialWebSocket(url, { maxMessageSize: 1024 });
    const got: (string | number[])[] = [];
    const closed = new Promise<number>((r) =>
      ws.setHandlers({
        onText: (t) => got.push(t),
        onBinary: (b) => got.push([...b]),
        onClose: (c) => r(c),
      })
    );
    assert.equal(await closed, 1000);
    await ws.done;
    assert.deepEqual(got, ["hi", [1, 2, 3]]);
    const sent = await received;
    // A masked pong echoing "P", then a masked close.
    assert.equal(sent[0], 0x8a);
    assert.equal(sent[1], 0x81);
    assert.equal(sent[6]! ^ sent[2]!, 0x50);
    assert.equal(sent[7], 0x88);
  });
});

Deno.test("the client closes with 1002/1009 on hostile frames", async () => {
  assert.equal(
    await closeCodeFor(new Uint8Array([0xc2, 0x00])),
    1002,
    "reserved bit",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x80, 0x00])),
    1002,
    "continuation first",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x89, 0x7e, 0x00, 0x7e])),
    1002,
    "long ping",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x09, 0x00])),
    1002,
    "fragmented ping",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x83, 0x00])),
    1002,
    "unknown opcode",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x02, 0x01, 0x00, 0x82, 0x00])),
    1002,
    "interleaved",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0])),
    1009,
    "2^32 bytes",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x82, 0x7e, 0x08, 0x00])),
    1009,
    "2048 > 1024",
  );
  assert.equal(
    await closeCodeFor(new Uint8Array([0x82, 0x05, 1, 2])),
    1006,
    "truncated then EOF",
  );
});

Deno.test("the client survives arbitrary server bytes", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
      const code = await closeCodeFor(bytes);
      assert.ok(
        [1000, 1002, 1005, 1006, 1009].includes(code) || code >= 1000,
        String(code),
      );
    }),
    { numRuns: 40 },
  );
});

Deno.test("dialWebSocket() reports HTTP failures with the status", async () => {
  await withServer(new Uint8Array(), async (url) => {
    await assert.rejects(
      dialWebSocket(url, { maxMessageSize: 1024 }),
      (e) =>
        e instanceof TransportError && e.code === "upgrade_failed" &&
        e.status === 503,
    );
  }, 503);
  await assert.rejects(
    dialWebSocket(new URL("http://127.0.0.1:1/"), { maxMessageSize: 1024 }),
    TypeError,
  );
});

Deno.test("the client writes masked frames of every length class", async () => {
  const sizes = [0, 125, 126, 65535, 65536, 200_000];
  await withServer(async () => {}, async (url, received) => {
    const ws = await dialWebSocket(url, { maxMessageSize: 1024 });
    ws.setHandlers({ onText() {}, onBinary() {}, onClose() {} });
    for (const n of sizes) ws.sendBinary(new Uint8Array(n).fill(n & 0xff));
    await ws.waitForDrain(0);
    ws.close();
    await ws.done;
    const buf = await received;
    let p = 0;
    for (const n of sizes) {
      assert.equal(buf[p], 0x82);
      let len = buf[p + 1]! & 0x7f;
      assert.equal(buf[p + 1]! & 0x80, 0x80, "masked");
      p += 2;
      if (len === 126) {
        len = (buf[p]! << 8) | buf[p + 1]!;
        p += 2;
      } else if (len === 127) {
        len = new DataView(buf.buffer, buf.byteOffset + p, 8).getUint32(
          4,
          false,
        );
        p += 8;
      }
      assert.equal(len, n);
      const mask = buf.subarray(p, p + 4);
      p += 4;
      for (let i = 0; i < n; i += 997) {
        assert.equal(buf[p + i]! ^ mask[i & 3]!, n & 0xff);
      }
      p += n;
    }
    assert.equal(buf[p], 0x88);
  });
});
