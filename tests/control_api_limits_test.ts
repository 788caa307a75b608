/**
 * The control API's own limits over loopback: request heads, body size
 * (declared and streamed) and the body deadline.
 */

import assert from "node:assert/strict";
import { ControlServer } from "../node/control_api.ts";

async function server(): Promise<{ s: ControlServer; calls: unknown[] }> {
  const calls: unknown[] = [];
  const s = await ControlServer.start({
    port: 0,
    maxBodyBytes: 4096,
    bodyTimeout: 300,
    handlers: {
      status: () => ({}),
      metrics: () => "",
      call: (op, body) => {
        calls.push(body);
        return Promise.resolve({ op });
      },
    },
  });
  return { s, calls };
}

Deno.test("control API: bodies above the cap are refused (413) before the handler runs", async () => {
  const { s, calls } = await server();
  try {
    const auth = { authorization: `Bearer ${s.info.token}` };
    const declared = await fetch(`${s.url}/api/x`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ pad: "a".repeat(8000) }),
    });
    assert.equal(declared.status, 413);
    assert.equal((await declared.json()).error.code, "too_large");
    // Streamed without a length: cut off once it passes the cap.
    const streamed = await fetch(`${s.url}/api/x`, {
      method: "POST",
      headers: auth,
      body: new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(1000).fill(32));
          c.close();
        },
      }),
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
    const fits = await fetch(`${s.url}/api/x`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ pad: "a".repeat(1000) }),
    });
    assert.equal(fits.status, 200);
    await fits.body?.cancel();
    assert.equal(calls.length, 1);
  } finally {
    await s.stop();
  }
});

Deno.test("control API: a head above 16 KiB gets 431; a body that stalls gets 408", async () => {
  const { s, calls } = await server();
  try {
    const big = await fetch(`${s.url}/healthz`, {
      headers: { "x-pad": "a".repeat(20_000) },
    });
    assert.equal(big.status, 431);
    await big.body?.cancel();
    // A body that starts and never finishes.
    const url = new URL(s.url);
    const conn = await Deno.connect({
      hostname: url.hostname,
      port: Number(url.port),
    });
    try {
      await conn.write(new TextEncoder().encode(
        `POST /api/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.info.token}\r\n` +
          `Content-Length: 100\r\n\r\n{"a":`,
      ));
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      assert.match(
        new TextDecoder().decode(buf.subarray(0, n!)),
        /^HTTP\/1\.1 408 /,
      );
    } finally {
      conn.close();
    }
    assert.equal(calls.length, 0);
  } finally {
    await s.stop();
  }
});
