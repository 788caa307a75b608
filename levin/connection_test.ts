import assert from "node:assert/strict";
import { LevinError } from "./errors.ts";
import {
  COMMAND_GET_TXPOOL_COMPLEMENT,
  COMMAND_HANDSHAKE,
  COMMAND_NEW_TRANSACTIONS,
  COMMAND_PING,
  COMMAND_TIMED_SYNC,
  encodeFrame,
  FLAG_BEGIN,
  FLAG_END,
  FLAG_REQUEST,
  FLAG_RESPONSE,
  HEADER_SIZE,
} from "./header.ts";
import {
  LevinConnection,
  type LevinConnectionOptions,
  type LevinFrame,
} from "./connection.ts";
import { Logger } from "../logging/mod.ts";

const quiet = new Logger({ sink: { write: () => {} } });

/** A connected pair over 127.0.0.1: `client` wrapped, `server` a raw LevinConnection too. */
async function pair(
  clientOptions: LevinConnectionOptions = {},
  serverOptions: LevinConnectionOptions = {},
): Promise<
  {
    client: LevinConnection;
    server: LevinConnection;
    done: () => Promise<void>;
  }
> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await LevinConnection.connect(
    { hostname: "127.0.0.1", port: listener.addr.port },
    { logger: quiet, ...clientOptions },
  );
  const server = new LevinConnection(await accepted, {
    logger: quiet,
    ...serverOptions,
  });
  listener.close();
  return {
    client,
    server,
    done: async () => {
      await client.close();
      await server.close();
    },
  };
}

function code(c: string): (e: unknown) => boolean {
  return (e) => e instanceof LevinError && e.code === c;
}

Deno.test("LevinConnection invoke() matches the response; default success is return code 1", async () => {
  const { client, server, done } = await pair({}, {
    onRequest: (f) =>
      f.header.command === COMMAND_PING
        ? { payload: new Uint8Array([1, 2, 3]) }
        : undefined,
  });
  try {
    server.start();
    const reply = await client.invoke(COMMAND_PING, new Uint8Array(0));
    assert.equal(reply.header.returnCode, 1);
    assert.equal(reply.header.flags, FLAG_RESPONSE);
    assert.equal(reply.header.expectResponse, false);
    assert.equal(reply.header.protocolVersion, 1);
    assert.deepEqual(reply.payload, new Uint8Array([1, 2, 3]));
    // unknown command: -6 with an empty payload, connection stays open
    await assert.rejects(
      client.invoke(9999, new Uint8Array(0)),
      (e) =>
        e instanceof LevinError && e.code === "request_failed" &&
        e.returnCode === -6,
    );
    assert.equal(
      (await client.invoke(COMMAND_PING, new Uint8Array(0))).header.returnCode,
      1,
    );
  } finally {
    await done();
  }
});

Deno.test("LevinConnection writes request, notification and response headers as the spec says", async () => {
  const { client, server, done } = await pair();
  try {
    const pending = client.invoke(COMMAND_PING, new Uint8Array([9]));
    const req = await server.readFrame();
    assert.deepEqual(req.header, {
      payloadSize: 1,
      expectResponse: true,
      command: COMMAND_PING,
      returnCode: 0,
      flags: FLAG_REQUEST,
      protocolVersion: 1,
    });
    await client.notify(COMMAND_NEW_TRANSACTIONS, new Uint8Array(0));
    const note = await server.readFrame();
    assert.equal(note.header.expectResponse, false);
    assert.equal(note.header.flags, FLAG_REQUEST);
    assert.equal(note.payload.length, 0);
    await server.writeFrame({
      command: COMMAND_PING,
      flags: FLAG_RESPONSE,
      returnCode: 1,
    }, new Uint8Array(0));
    assert.equal((await pending).payload.length, 0);
  } finally {
    await done();
  }
});

Deno.test("LevinConnection handles a notification and a request arriving before the response", async () => {
  const notes: LevinFrame[] = [];
  const { client, server, done } = await pair({
    onNotification: (f) => {
      notes.push(f);
    },
    onRequest: (f) =>
      f.header.command === COMMAND_TIMED_SYNC
        ? { payload: new Uint8Array([42]) }
        : undefined,
  });
  try {
    const pending = client.invoke(COMMAND_HANDSHAKE, new Uint8Array([1]));
    const req = await server.readFrame();
    assert.equal(req.header.command, COMMAND_HANDSHAKE);
    // like monerod: 2010 before the 1001 reply, then its own timed sync
    await server.notify(COMMAND_GET_TXPOOL_COMPLEMENT, new Uint8Array(0));
    await server.writeFrame({
      command: COMMAND_TIMED_SYNC,
      expectResponse: true,
    }, new Uint8Array(0));
    await server.writeFrame({
      command: COMMAND_HANDSHAKE,
      flags: FLAG_RESPONSE,
      returnCode: 1,
    }, new Uint8Array([5]));
    const reply = await pending;
    assert.deepEqual(reply.payload, new Uint8Array([5]));
    assert.equal(client.handshaked, true);
    const answer = await server.readFrame();
    assert.equal(answer.header.command, COMMAND_TIMED_SYNC);
    assert.equal(answer.header.flags, FLAG_RESPONSE);
    assert.equal(answer.header.returnCode, 1);
    assert.deepEqual(answer.payload, new Uint8Array([42]));
    assert.equal(notes.length, 1);
    assert.equal(notes[0]!.header.command, COMMAND_GET_TXPOOL_COMPLEMENT);
  } finally {
    await done();
  }
});

Deno.test("LevinConnection answers requests in arrival order even when handlers finish out of order", async () => {
  const { client, server, done } = await pair({
    onRequest: async (f) => {
      await new Promise((r) => setTimeout(r, f.payload[0]!));
      return { payload: f.payload };
    },
  });
  try {
    client.start();
    for (const delay of [60, 0, 30]) {
      await server.writeFrame(
        { command: 1003, expectResponse: true },
        new Uint8Array([delay]),
      );
    }
    const order = [];
    for (let i = 0; i < 3; i++) {
      order.push((await server.readFrame()).payload[0]);
    }
    assert.deepEqual(order, [60, 0, 30]);
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: a handler error answers -1, a LevinError's returnCode is used", async () => {
  const { client, server, done } = await pair({}, {
    onRequest: (f) => {
      if (f.header.command === 1) throw new Error("boom");
      throw new LevinError("protocol_error", "bad", { returnCode: -7 });
    },
  });
  try {
    server.start();
    await assert.rejects(
      client.invoke(1, new Uint8Array(0)),
      (e) => e instanceof LevinError && e.returnCode === -1,
    );
    await assert.rejects(
      client.invoke(2, new Uint8Array(0)),
      (e) => e instanceof LevinError && e.returnCode === -7,
    );
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: a response to another command is a protocol error", async () => {
  const { client, server, done } = await pair();
  try {
    const pending = client.invoke(COMMAND_PING, new Uint8Array(0));
    await server.readFrame();
    await server.writeFrame({
      command: COMMAND_TIMED_SYNC,
      flags: FLAG_RESPONSE,
      returnCode: 1,
    }, new Uint8Array(0));
    await assert.rejects(pending, code("protocol_error"));
    assert.equal((await client.closed).code, "protocol_error");
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: invoke timeout keeps FIFO order; a late answer is discarded", async () => {
  const { client, server, done } = await pair();
  try {
    await assert.rejects(
      client.invoke(COMMAND_PING, new Uint8Array([1]), { timeout: 50 }),
      code("timeout"),
    );
    const controller = new AbortController();
    const aborted = client.invoke(COMMAND_PING, new Uint8Array([2]), {
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(aborted, code("aborted"));
    const third = client.invoke(COMMAND_PING, new Uint8Array([3]));
    for (let i = 1; i <= 3; i++) {
      const f = await server.readFrame();
      await server.writeFrame({
        command: COMMAND_PING,
        flags: FLAG_RESPONSE,
        returnCode: 1,
      }, f.payload);
    }
    assert.deepEqual((await third).payload, new Uint8Array([3]));
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: readFrame() times out and closes the connection", async () => {
  const { client, done } = await pair({ readTimeout: 50 });
  try {
    await assert.rejects(client.readFrame(), code("timeout"));
    assert.equal(client.isClosed, true);
    await assert.rejects(client.invoke(1, new Uint8Array(0)), code("timeout"));
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: write timeout closes a connection whose peer stops reading", async () => {
  const { client, done } = await pair({ writeTimeout: 200 });
  try {
    // 64 MiB the peer never reads: the kernel buffers fill up.
    const big = new Uint8Array(64 * 1024 * 1024);
    await assert.rejects(
      client.notify(COMMAND_NEW_TRANSACTIONS, big),
      code("timeout"),
    );
    assert.equal(client.isClosed, true);
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: pre-handshake, per-command and general receive limits", async () => {
  // Before the handshake: 2002 announcing 300 000 bytes is cut off, 200 000 is not.
  {
    const notes: number[] = [];
    const { client, server, done } = await pair({
      onNotification: (f) => void notes.push(f.payload.length),
    });
    try {
      client.start();
      await server.notify(COMMAND_NEW_TRANSACTIONS, new Uint8Array(200_000));
      await server.writeFrame(
        { command: COMMAND_NEW_TRANSACTIONS },
        new Uint8Array(300_000),
      ).catch(() => {});
      assert.equal((await client.closed).code, "payload_too_big");
      assert.deepEqual(notes, [200_000]);
    } finally {
      await done();
    }
  }
  // After the handshake the general cap applies; 1003 stays capped at 4 096.
  {
    const notes: number[] = [];
    const { client, server, done } = await pair({
      onNotification: (f) => void notes.push(f.payload.length),
    }, { commandPayloadLimits: new Map() }); // the sender must not refuse
    try {
      client.markHandshaked();
      client.start();
      await server.notify(COMMAND_NEW_TRANSACTIONS, new Uint8Array(300_000));
      await server.writeFrame({ command: COMMAND_PING }, new Uint8Array(4097))
        .catch(() => {});
      assert.equal((await client.closed).code, "payload_too_big");
      assert.deepEqual(notes, [300_000]);
    } finally {
      await done();
    }
  }
});

Deno.test("LevinConnection refuses to send above the peer's limits", async () => {
  const { client, done } = await pair({ maxPayloadSize: 1000 });
  try {
    await assert.rejects(
      client.invoke(COMMAND_PING, new Uint8Array(4097)),
      code("payload_too_big"),
    );
    await assert.rejects(
      client.notify(77, new Uint8Array(1001)),
      code("payload_too_big"),
    );
    await client.notify(77, new Uint8Array(1000));
    assert.equal(client.isClosed, false);
  } finally {
    await done();
  }
});

Deno.test("LevinConnection drops noise and reassembles fragments", async () => {
  const notes: LevinFrame[] = [];
  const { client, server, done } = await pair({
    onNotification: (f) => void notes.push(f),
  });
  try {
    client.start();
    await server.writeFrame(
      { command: 0, flags: FLAG_BEGIN | FLAG_END },
      new Uint8Array(64),
    );
    const inner = encodeFrame(
      { command: 2002 },
      new Uint8Array([1, 2, 3, 4, 5]),
    );
    await server.writeFrame(
      { command: 0, flags: FLAG_BEGIN },
      inner.subarray(0, 10),
    );
    await server.writeFrame({ command: 0, flags: 0 }, inner.subarray(10, 30));
    await server.writeFrame(
      { command: 0, flags: FLAG_END },
      inner.subarray(30),
    );
    await server.notify(2001, new Uint8Array([9]));
    while (notes.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal(notes[0]!.header.command, 2002);
    assert.deepEqual(notes[0]!.payload, new Uint8Array([1, 2, 3, 4, 5]));
    assert.equal(notes[1]!.header.command, 2001);
    // a bad reassembled frame is a protocol error
    await server.writeFrame(
      { command: 0, flags: FLAG_BEGIN | 0 },
      inner.subarray(0, HEADER_SIZE - 1),
    );
    await server.writeFrame({ command: 0, flags: FLAG_END }, new Uint8Array(0));
    assert.equal((await client.closed).code, "protocol_error");
  } finally {
    await done();
  }
});

Deno.test("LevinConnection never interleaves concurrent writes", async () => {
  const { client, server, done } = await pair();
  try {
    const sizes = Array.from({ length: 40 }, (_, i) => (i * 7919) % 50_000);
    await Promise.all(
      sizes.map((n, i) => client.notify(3000 + i, new Uint8Array(n).fill(i))),
    );
    for (let i = 0; i < sizes.length; i++) {
      const f = await server.readFrame();
      assert.equal(f.header.command, 3000 + i);
      assert.equal(f.payload.length, sizes[i]);
      assert.ok(f.payload.every((b) => b === i));
    }
  } finally {
    await done();
  }
});

Deno.test("LevinConnection: peer closing, bad signature and EOF inside a frame", async () => {
  {
    const { client, server, done } = await pair();
    try {
      const pending = client.invoke(COMMAND_PING, new Uint8Array(0));
      await server.readFrame();
      await server.close();
      await assert.rejects(pending, code("connection_closed"));
    } finally {
      await done();
    }
  }
  {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const client = await LevinConnection.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    }, { logger: quiet });
    const raw = await accepted;
    listener.close();
    try {
      client.start();
      const frame = encodeFrame({ command: 1 }, new Uint8Array(10));
      await raw.write(frame.subarray(0, 40)); // header + 7 of 10 payload bytes
      raw.close();
      const reason = await client.closed;
      assert.equal(reason.code, "connection_closed");
      assert.match(reason.message, /inside a frame/);
    } finally {
      await client.close();
    }
  }
  {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const client = await LevinConnection.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    }, { logger: quiet });
    const raw = await accepted;
    listener.close();
    try {
      client.start();
      await raw.write(new Uint8Array(33).fill(0x42));
      assert.equal((await client.closed).code, "bad_signature");
    } finally {
      raw.close();
      await client.close();
    }
  }
});

Deno.test("LevinConnection close() rejects pending requests and is idempotent", async () => {
  const { client, done } = await pair();
  try {
    const pending = assert.rejects(
      client.invoke(COMMAND_PING, new Uint8Array(0)),
      code("connection_closed"),
    );
    await client.close();
    await client.close();
    await pending;
    await assert.rejects(
      client.notify(1, new Uint8Array(0)),
      code("connection_closed"),
    );
    assert.throws(() => client.readFrame(), TypeError); // dispatcher owns it
  } finally {
    await done();
  }
});

Deno.test("LevinConnection.connect() honours its abort signal and validates options", async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    LevinConnection.connect({ hostname: "127.0.0.1", port: 9 }, {
      signal: controller.signal,
    }),
    code("aborted"),
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const other = await accepted;
  listener.close();
  try {
    assert.throws(
      () => new LevinConnection(conn, { readTimeout: -1 }),
      RangeError,
    );
  } finally {
    conn.close();
    other.close();
  }
});
