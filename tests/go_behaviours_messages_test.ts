/**
 * The Go test behaviours of node.md §11.2 (messages) and §11.3 (the wire
 * JSON encoder) that node/message_test.ts does not already assert, through
 * the public API (`@lthn/p2p/node`).
 *
 * Go's §11.3 tests exercise a pooled `bytes.Buffer` behind its encoder; we
 * have no buffer pool (strings are immutable, one isolate runs one encode at
 * a time), so what is tested here is the encoder's observable contract.
 */

import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessage,
  type JsonValue,
  type Message,
  newMessage,
  parsePayload,
  parseResponse,
} from "@lthn/p2p/node";

function raw(payload: JsonValue): Message {
  return {
    id: "id-1",
    type: "custom",
    from: "a",
    to: "b",
    ts: "2026-02-20T10:00:00Z",
    payload,
  };
}

Deno.test("§11.2 a nil payload stays absent: it encodes as null and parsing it is a no-op", () => {
  const msg = newMessage("get_stats", { from: "a", to: "b" });
  assert.equal(msg.payload, null);
  const json = encodeMessage(msg);
  assert.ok(json.includes(',"payload":null'), json);
  const back = decodeMessage(json);
  assert.equal(back.payload, null);
  assert.equal(parsePayload(back, "get_stats"), null);
  assert.equal(parseResponse(back, "get_stats"), null);
  // A typed target given a null payload keeps its zero value, as Go's
  // ParsePayload leaves the struct untouched.
  assert.deepEqual(parsePayload(back, "stop_miner"), { minerName: "" });
});

Deno.test("§11.3 the encoder is JSON-equivalent to the standard encoder for every kind of value", () => {
  const values: [string, JsonValue][] = [
    ["string", 'hello "world" \\ \n\t ünï 😀'],
    ["int", 42],
    ["negative int", -9_007_199_254_740_991],
    ["float", 3.14159],
    ["tiny float", 1e-7],
    ["huge float", 1e21],
    ["bool", true],
    ["null", null],
    ["struct", { name: "x", value: 1, nested: { ok: false } }],
    ["map", { zeta: 1, alpha: 2, "": 3 }],
    ["slice", [1, "two", null, [3], { four: 4 }]],
    ["empty slice", []],
    ["empty map", {}],
  ];
  for (const [label, value] of values) {
    const json = encodeMessage(raw(value));
    assert.deepEqual(JSON.parse(json).payload, value, label);
    assert.equal(
      json,
      JSON.stringify({ ...raw(value) }),
      `${label}: same text as JSON.stringify`,
    );
  }
});

Deno.test("§11.3 output has no trailing newline and <script> is emitted literally", () => {
  const json = encodeMessage(
    raw({ html: "<script>alert('x')</script> & more" }),
  );
  assert.ok(!json.endsWith("\n"));
  assert.ok(json.endsWith("}"));
  assert.ok(json.includes("<script>alert('x')</script> & more"), json);
  assert.ok(!json.includes("\\u003c"));
  assert.ok(!json.includes("\\u0026"));
});

Deno.test("§11.3 each call returns its own result, unaffected by later calls", () => {
  const first = encodeMessage(raw({ n: 1 }));
  const copy = first.slice();
  const second = encodeMessage(raw({ n: 2, more: "x".repeat(70_000) }));
  assert.equal(first, copy);
  assert.notEqual(first, second);
  assert.equal(JSON.parse(first).payload.n, 1);
  assert.equal(JSON.parse(second).payload.more.length, 70_000);
});

Deno.test("§11.3 encoding a value JSON cannot hold fails (Go: a channel)", () => {
  // Typed payloads are checked when the message is built.
  assert.throws(
    () =>
      newMessage("stats", {
        from: "a",
        payload: {
          nodeId: "",
          nodeName: "",
          miners: [{
            name: "x",
            type: "xmrig",
            hashrate: Number.NaN,
            shares: 0,
            rejected: 0,
            uptime: 0,
            pool: "",
            algorithm: "",
            cpuThreads: 0,
          }],
          uptime: 0,
        },
      }),
    RangeError,
  );
  assert.throws(() => encodeMessage(raw({ v: 10n } as unknown as JsonValue)));
});

// Go's encoder (and our marshalGo) fail on NaN and ±Infinity with
// "unsupported value"; JSON.stringify would silently write null.
Deno.test("§11.3 encodeMessage() fails on NaN/Infinity in a raw payload instead of writing null", () => {
  for (const v of [Number.NaN, Infinity, -Infinity]) {
    assert.throws(
      () => encodeMessage(raw({ v })),
      RangeError,
      `payload {v: ${v}} encoded as ${
        (() => {
          try {
            return encodeMessage(raw({ v }));
          } catch {
            return "(threw)";
          }
        })()
      }`,
    );
  }
});

Deno.test("§11.3 fifty encodes in flight at once all come out right", async () => {
  const results = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i % 5));
      const msg = newMessage("ping", { from: `n${i}`, payload: { sentAt: i } });
      return [i, decodeMessage(encodeMessage(msg))] as const;
    }),
  );
  for (const [i, back] of results) {
    assert.equal(back.from, `n${i}`);
    assert.equal(parsePayload(back, "ping").sentAt, i);
  }
});
