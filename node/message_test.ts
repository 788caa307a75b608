import assert from "node:assert/strict";
import fc from "fast-check";
import { marshalGo } from "./_go_json.ts";
import {
  decodeMessage,
  encodeMessage,
  ErrorCode,
  getProtocolErrorCode,
  isProtocolError,
  isProtocolVersionSupported,
  type JsonValue,
  type Message,
  MESSAGE_TYPES,
  MessageError,
  messageFromJson,
  messageTime,
  newErrorMessage,
  newMessage,
  parsePayload,
  parseResponse,
  type PayloadMap,
  payloadToJson,
  PROTOCOL_VERSION,
  ProtocolError,
  reply,
  SUPPORTED_PROTOCOL_VERSIONS,
  validateResponse,
} from "./message.ts";

const identity = {
  id: "aaa8fff703b50b2297f4f6e13508f724",
  name: "node-a",
  publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
  createdAt: "2026-02-19T09:30:00.5+01:00",
  role: "controller" as const,
};

const SAMPLES: { [K in keyof PayloadMap]: PayloadMap[K] } = {
  handshake: {
    identity,
    challenge: new Uint8Array(32).fill(1),
    version: "1.0",
  },
  handshake_ack: {
    identity,
    challengeResponse: new Uint8Array(32).fill(2),
    accepted: true,
  },
  ping: { sentAt: 1771581600123 },
  pong: { sentAt: 1771581600123, receivedAt: 1771581600200 },
  disconnect: { reason: "server shutdown", code: 1004 },
  get_stats: null,
  stats: {
    nodeId: "n",
    nodeName: "w",
    miners: [{
      name: "xmrig-0",
      type: "xmrig",
      hashrate: 1234.56,
      shares: 1,
      rejected: 0,
      uptime: 5,
      pool: "p:1",
      algorithm: "rx/0",
      cpuThreads: 4,
    }],
    uptime: 42,
  },
  start_miner: { minerType: "xmrig", profileId: "p", config: null },
  stop_miner: { minerName: "xmrig-0" },
  miner_ack: { success: true, minerName: "xmrig-0" },
  deploy: {
    type: "miner",
    data: new Uint8Array([1, 2, 3]),
    checksum: "00",
    name: "m",
  },
  deploy_ack: { success: false, error: "bad checksum" },
  get_logs: { minerName: "xmrig-0", lines: 10, since: 1 },
  logs: { minerName: "xmrig-0", lines: null, hasMore: false },
  error: { code: 1004, message: "failed", details: "more" },
};

Deno.test("protocol version: exact membership of 1.0", () => {
  assert.equal(PROTOCOL_VERSION, "1.0");
  assert.deepEqual(SUPPORTED_PROTOCOL_VERSIONS, ["1.0"]);
  assert.equal(isProtocolVersionSupported("1.0"), true);
  for (const v of ["", "1", "1.0.0", "99.99", " 1.0"]) {
    assert.equal(isProtocolVersionSupported(v), false, v);
  }
});

Deno.test("newMessage() sets a UUID v4, the time, from and to", () => {
  const msg = newMessage("ping", {
    from: "a",
    to: "b",
    payload: { sentAt: 7 },
    now: Date.UTC(2026, 1, 20, 10, 0, 0, 120),
  });
  assert.match(
    msg.id,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(msg.ts, "2026-02-20T10:00:00.12Z");
  assert.equal(msg.from, "a");
  assert.equal(msg.to, "b");
  assert.equal(msg.replyTo, undefined);
  assert.equal(
    newMessage("get_stats", { from: "a", now: 0 }).ts,
    "1970-01-01T00:00:00Z",
  );
  assert.notEqual(
    newMessage("ping", { from: "a" }).id,
    newMessage("ping", { from: "a" }).id,
  );
  assert.throws(
    () => newMessage("ping", { from: "a", now: Number.NaN }),
    RangeError,
  );
  assert.throws(
    () => newMessage("ping", { from: "a", payload: { sentAt: 1.5 } }),
    RangeError,
  );
});

Deno.test("all 15 message types can be constructed and survive the wire", () => {
  assert.equal(MESSAGE_TYPES.length, 15);
  for (const type of MESSAGE_TYPES) {
    const msg = newMessage(type, {
      from: "a",
      to: "b",
      payload: SAMPLES[type] as never,
    });
    const back = decodeMessage(encodeMessage(msg));
    assert.deepEqual(back, msg);
    assert.deepEqual(parsePayload(back, type), SAMPLES[type], type);
  }
});

Deno.test("payloads follow Go's field order and omitempty", () => {
  const cases: [keyof PayloadMap, unknown, string][] = [
    ["pong", { receivedAt: 2, sentAt: 1 }, '{"sentAt":1,"receivedAt":2}'],
    [
      "miner_ack",
      { success: true, minerName: "", error: "" },
      '{"success":true}',
    ],
    [
      "start_miner",
      { minerType: "x", config: null },
      '{"minerType":"x","config":null}',
    ],
    ["start_miner", { minerType: "x" }, '{"minerType":"x"}'],
    [
      "deploy",
      { type: "profile", data: null, checksum: "", name: "" },
      '{"type":"profile","data":null,"checksum":"","name":""}',
    ],
    [
      "logs",
      { minerName: "m", lines: null, hasMore: false },
      '{"minerName":"m","lines":null,"hasMore":false}',
    ],
    [
      "stats",
      { nodeId: "", nodeName: "", miners: [], uptime: 0 },
      '{"nodeId":"","nodeName":"","miners":[],"uptime":0}',
    ],
    [
      "get_logs",
      { minerName: "m", lines: 5, since: 0 },
      '{"minerName":"m","lines":5}',
    ],
    ["error", { code: 1001, message: "x" }, '{"code":1001,"message":"x"}'],
    [
      "handshake_ack",
      { identity, accepted: false, reason: "peer not authorized" },
      `{"identity":${
        JSON.stringify(identity)
      },"accepted":false,"reason":"peer not authorized"}`,
    ],
  ];
  for (const [type, payload, json] of cases) {
    assert.equal(
      JSON.stringify(payloadToJson(type, payload as never)),
      json,
      type,
    );
  }
});

Deno.test("reply() swaps from/to (echoing the request's to) and sets replyTo", () => {
  const req = newMessage("get_stats", { from: "ctrl", to: "" });
  const rep = reply(req, "stats", { payload: SAMPLES.stats });
  assert.equal(rep.replyTo, req.id);
  assert.equal(rep.from, "");
  assert.equal(rep.to, "ctrl");
  assert.equal(rep.type, "stats");
  assert.ok(encodeMessage(rep).endsWith(`,"replyTo":"${req.id}"}`));
});

Deno.test("newErrorMessage() builds {code, message} with the given replyTo", () => {
  const msg = newErrorMessage({
    from: "w",
    to: "c",
    code: ErrorCode.OperationFailed,
    message: "boom",
    replyTo: "r",
  });
  assert.equal(msg.type, "error");
  assert.equal(msg.replyTo, "r");
  assert.deepEqual(msg.payload, { code: 1004, message: "boom" });
  for (const code of Object.values(ErrorCode)) {
    assert.ok(code >= 1000 && code <= 1999);
  }
  assert.equal(
    newErrorMessage({ from: "w", to: "c", code: 1000, message: "x" }).replyTo,
    undefined,
  );
});

Deno.test("encodeMessage(): HTML escaping off, U+2028 escaped, lone surrogates replaced", () => {
  const msg: Message = {
    id: "i",
    type: "t",
    from: "<script>&",
    to: "",
    ts: "2026-01-01T00:00:00Z",
    payload: { s: "a\u2028b\u2029c", bad: "x\ud800y", ok: "😀", "<k>": 1 },
  };
  const json = encodeMessage(msg);
  assert.ok(json.includes('"from":"<script>&"'));
  assert.ok(json.includes('"s":"a\\u2028b\\u2029c"'));
  assert.ok(json.includes('"bad":"x\ufffdy"'));
  assert.ok(json.includes('"ok":"😀"'));
  assert.ok(!json.endsWith("\n"));
  assert.equal(json, marshalGo({ ...msg }, { escapeHtml: false }));
});

const jsonValue: fc.Arbitrary<JsonValue> = fc.jsonValue() as fc.Arbitrary<
  JsonValue
>;

Deno.test("encodeMessage() equals Go's encoder (marshalGo) for any JSON payload", () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.string({ unit: "binary" }),
      jsonValue,
      fc.option(fc.string({ unit: "binary" }), { nil: undefined }),
      fc.constantFrom("a", "<b>&", "c\u2028", "\ud800", 'd"\\e'),
      (id, type, payload, replyTo, from) => {
        const msg: Message = {
          id,
          type,
          from,
          to: "b",
          ts: "2026-01-01T00:00:00Z",
          payload,
        };
        if (replyTo) msg.replyTo = replyTo;
        const envelope: Record<string, unknown> = { ...msg };
        if (!replyTo) delete envelope.replyTo;
        // Objects with integer-like keys are ordered by JavaScript, not by us.
        fc.pre(!/"\d+":/.test(JSON.stringify(payload)));
        assert.equal(
          encodeMessage(msg),
          marshalGo(envelope, { escapeHtml: false }),
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("decodeMessage() is lenient like Go: folded keys, unknown keys, nulls", () => {
  const m = decodeMessage(
    '{"ID":"x","Type":"ping","FROM":"a","to":null,"ts":null,"extra":[1],"payload":{"SENTAT":5},"replyto":"r"}',
  );
  assert.equal(m.id, "x");
  assert.equal(m.type, "ping");
  assert.equal(m.from, "a");
  assert.equal(m.to, "");
  assert.equal(m.ts, "0001-01-01T00:00:00Z");
  assert.equal(m.replyTo, "r");
  assert.equal(parsePayload(m, "ping").sentAt, 5);
  assert.equal(decodeMessage("{}").payload, null);
  // Duplicate keys: the last wins, as in Go.
  assert.equal(decodeMessage('{"id":"a","id":"b"}').id, "b");
  assert.equal(decodeMessage('{"id":"a","ID":"b"}').id, "b");
});

Deno.test("messageFromJson(): the exact-keys fast path equals the general reader", () => {
  // An unknown key sends the same object down the general (Go-folding)
  // reader; both must give the same message or the same error.
  const outcome = (v: unknown) => {
    try {
      return { ok: messageFromJson(v) };
    } catch (e) {
      return { err: (e as MessageError).code };
    }
  };
  const other = fc.oneof(fc.constant(null), fc.integer(), fc.boolean());
  const str = fc.oneof(
    { arbitrary: fc.string(), weight: 8 },
    { arbitrary: other, weight: 1 },
  );
  const time = fc.oneof(
    {
      arbitrary: fc.constantFrom(
        "2026-02-20T10:00:00Z",
        "2026-02-20T10:00:00.123456789Z",
        "2026-02-20T10:00:00+01:00",
      ),
      weight: 8,
    },
    { arbitrary: fc.constantFrom("2026-02-30T10:00:00Z", "", "x"), weight: 1 },
    { arbitrary: other, weight: 1 },
  );
  let fast = 0;
  fc.assert(
    fc.property(
      fc.record({
        id: str,
        type: str,
        from: str,
        to: str,
        ts: time,
        payload: jsonValue,
        replyTo: str,
      }, { requiredKeys: [] }),
      (obj) => {
        if (
          ["id", "type", "from", "to", "ts"].every((k) =>
            typeof (obj as Record<string, unknown>)[k] === "string"
          )
        ) fast++;
        const general = { ...obj, zzUnknown: 1 };
        assert.deepStrictEqual(outcome(obj), outcome(general));
      },
    ),
    { numRuns: 2000 },
  );
  assert.ok(fast > 200, `only ${fast} runs took the fast path`);
});

Deno.test("decodeMessage() rejects what Go's decoder rejects", () => {
  const bad: [string, string][] = [
    ["not json", "invalid_json"],
    ["", "invalid_json"],
    ["[]", "invalid_message"],
    ["null", "invalid_message"],
    ['"x"', "invalid_message"],
    ['{"id":7}', "invalid_message"],
    ['{"type":true}', "invalid_message"],
    ['{"ts":""}', "invalid_message"],
    ['{"ts":"2026-13-01T00:00:00Z"}', "invalid_message"],
    ['{"ts":"2026-02-30T00:00:00Z"}', "invalid_message"],
    ['{"ts":12}', "invalid_message"],
    ['{"replyTo":{}}', "invalid_message"],
  ];
  for (const [text, code] of bad) {
    assert.throws(
      () => decodeMessage(text),
      (e) => e instanceof MessageError && e.code === code,
      text,
    );
  }
  assert.throws(() => decodeMessage(42 as unknown as string), TypeError);
  assert.throws(() => messageFromJson([1]), MessageError);
});

Deno.test("parsePayload() checks field types as Go does", () => {
  const bad: [keyof PayloadMap, JsonValue][] = [
    ["ping", { sentAt: 1.5 }],
    ["ping", { sentAt: "1" }],
    ["ping", [1]],
    ["ping", "x"],
    ["pong", { receivedAt: 2 ** 60 }],
    ["handshake", { challenge: "AAEC-w==" }],
    ["handshake", { challenge: "AAECAw" }],
    ["handshake", { identity: { createdAt: "" } }],
    ["handshake", { identity: "x" }],
    ["handshake_ack", { accepted: "yes" }],
    ["stats", { miners: {} }],
    ["stats", { miners: [{ hashrate: "fast" }] }],
    ["stats", { miners: [7] }],
    ["deploy", { data: 5 }],
    ["logs", { lines: [1] }],
    ["logs", { lines: "a" }],
    ["error", { code: "1004" }],
  ];
  for (const [type, payload] of bad) {
    assert.throws(
      () => parsePayload({ payload }, type),
      (e) => e instanceof MessageError && e.code === "invalid_payload",
      `${type} ${JSON.stringify(payload)}`,
    );
  }
  // null payload: zero value (Go leaves the target untouched).
  assert.deepEqual(parsePayload({ payload: null }, "ping"), { sentAt: 0 });
  assert.deepEqual(parsePayload({ payload: null }, "logs"), {
    minerName: "",
    lines: null,
    hasMore: false,
  });
  assert.equal(parsePayload({ payload: { x: 1 } }, "get_stats"), null);
  // "" is an empty byte array in Go.
  assert.deepEqual(
    parsePayload({ payload: { data: "" } }, "deploy").data,
    new Uint8Array(),
  );
  // config: null is kept (non-nil raw message in Go), absent stays absent.
  assert.equal(
    parsePayload({ payload: { minerType: "x", config: null } }, "start_miner")
      .config,
    null,
  );
  assert.equal(
    "config" in parsePayload({ payload: { minerType: "x" } }, "start_miner"),
    false,
  );
  assert.throws(
    () => parsePayload({ payload: null }, "nope" as "ping"),
    TypeError,
  );
});

Deno.test("decodeMessage() and parsePayload() fail only with MessageError on any input", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.json(), fc.constant('{"payload":')),
      (text) => {
        try {
          const msg = decodeMessage(text);
          for (const type of MESSAGE_TYPES) {
            try {
              parsePayload(msg, type);
            } catch (err) {
              if (!(err instanceof MessageError)) throw err;
            }
          }
        } catch (err) {
          if (!(err instanceof MessageError)) throw err;
        }
      },
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...MESSAGE_TYPES),
      jsonValue,
      (type, payload) => {
        try {
          parsePayload({ payload }, type);
        } catch (err) {
          assert.ok(err instanceof MessageError);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("deeply nested JSON is refused with a typed error", () => {
  const deep = '{"payload":' + "[".repeat(100_000) + "]".repeat(100_000) + "}";
  try {
    const m = decodeMessage(deep);
    assert.ok(Array.isArray(m.payload));
  } catch (err) {
    assert.ok(err instanceof MessageError);
  }
});

Deno.test("messageTime() reads RFC 3339 with offsets and nanoseconds", () => {
  const m = (ts: string) => ({
    id: "",
    type: "",
    from: "",
    to: "",
    ts,
    payload: null,
  });
  assert.equal(
    messageTime(m("2026-02-19T09:30:00.5+01:00")),
    Date.UTC(2026, 1, 19, 8, 30, 0, 500),
  );
  assert.equal(
    messageTime(m("2026-11-23T20:48:51.755131282Z")),
    Date.UTC(2026, 10, 23, 20, 48, 51, 755),
  );
  assert.equal(messageTime(m("garbage")), undefined);
});

Deno.test("validateResponse() and parseResponse() behave like Go's helpers", () => {
  assert.throws(
    () => validateResponse(undefined, "stats"),
    (e) => e instanceof MessageError && e.code === "missing_response",
  );
  const err = newErrorMessage({
    from: "w",
    to: "c",
    code: 1004,
    message: "failed",
  });
  assert.throws(
    () => validateResponse(err, "stats"),
    (e) =>
      isProtocolError(e) && getProtocolErrorCode(e) === 1004 &&
      e.message === "remote error (1004): failed",
  );
  const badErr: Message = { ...err, payload: "nope" };
  assert.throws(
    () => validateResponse(badErr, "stats"),
    (e) => getProtocolErrorCode(e) === 1000,
  );
  const wrong = newMessage("pong", {
    from: "w",
    payload: { sentAt: 1, receivedAt: 2 },
  });
  assert.throws(
    () => validateResponse(wrong, "stats"),
    (e) =>
      e instanceof MessageError && e.code === "unexpected_type" &&
      !isProtocolError(e) && e.message.includes("expected stats, got pong"),
  );
  validateResponse(wrong, "pong");
  assert.deepEqual(
    parseResponse(
      newMessage("stats", { from: "w", payload: SAMPLES.stats }),
      "stats",
    ),
    SAMPLES.stats,
  );
  assert.deepEqual(
    parseResponse(
      newMessage("miner_ack", { from: "w", payload: { success: true } }),
      "miner_ack",
    ),
    { success: true },
  );
  assert.throws(() => parseResponse(err, "miner_ack"), ProtocolError);
  assert.throws(
    () => parseResponse({ ...wrong, payload: { sentAt: "x" } }, "pong"),
    (e) => e instanceof MessageError && e.code === "invalid_payload",
  );
  assert.equal(
    new ProtocolError(1001, "test error").message,
    "remote error (1001): test error",
  );
  assert.equal(getProtocolErrorCode(new Error("x")), 0);
});

Deno.test("messageTime() agrees with the reference RFC 3339 parser", async () => {
  const { parseGoTime } = await import("./_go_time.ts");
  const m = (ts: string) => ({
    id: "",
    type: "",
    from: "",
    to: "",
    ts,
    payload: null,
  });
  const ts = fc.tuple(
    fc.date({
      min: new Date(0),
      max: new Date("2999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
    fc.stringMatching(/^(\.\d{1,9})?$/),
    fc.constantFrom("Z", "+01:00", "-05:30", "z", ""),
  ).map(([d, frac, zone]) => d.toISOString().slice(0, 19) + frac + zone);
  fc.assert(
    fc.property(
      fc.oneof(ts, fc.string(), ts.map((s) => s.replace(/\d(?=\d*Z$)/, "x"))),
      (text) => {
        // Twice: the second call is served from the one-entry cache.
        assert.equal(messageTime(m(text)), parseGoTime(text));
        assert.equal(messageTime(m(text)), parseGoTime(text));
      },
    ),
    { numRuns: 3000 },
  );
});
