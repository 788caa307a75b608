import assert from "node:assert/strict";
import { Logger, LogLevel } from "../logging/mod.ts";
import {
  PacketBuilder,
  readAndVerify,
  type UepsHeader,
  type UepsPacket,
} from "../ueps/mod.ts";
import {
  Dispatcher,
  DispatchError,
  type DispatchErrorCode,
  INTENT_COMPUTE,
  INTENT_CUSTOM,
  INTENT_HANDSHAKE,
  INTENT_REHAB,
  type IntentHandler,
  THREAT_SCORE_THRESHOLD,
} from "./dispatcher.ts";

const KEY = new TextEncoder().encode("test-shared-secret-32-bytes!!!!!");

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = new Logger({
    sink: { write: (line) => lines.push(line) },
    level: LogLevel.Debug,
    now: () => new Date(2026, 1, 20, 10, 0, 0),
  });
  return { logger, lines };
}

function quiet(): Dispatcher {
  return new Dispatcher({ logger: capture().logger });
}

/** A real packet: built, signed, read back and verified. */
async function packet(
  intentId: number,
  payload: Uint8Array | null = new TextEncoder().encode("payload"),
  threatScore = 0,
): Promise<UepsPacket> {
  const b = new PacketBuilder(intentId, payload);
  b.header.threatScore = threatScore;
  return await readAndVerify(b.marshalAndSign(KEY), KEY);
}

function fakePacket(header: Partial<UepsHeader>): UepsPacket {
  return {
    header: {
      version: 9,
      currentLayer: 5,
      targetLayer: 5,
      intentId: 0,
      threatScore: 0,
      ...header,
    },
    payload: new Uint8Array(0),
  };
}

function isCode(code: DispatchErrorCode): (e: unknown) => boolean {
  return (e) => e instanceof DispatchError && e.code === code;
}

Deno.test("intent constants and the threshold match Go", () => {
  assert.equal(INTENT_HANDSHAKE, 0x01);
  assert.equal(INTENT_COMPUTE, 0x20);
  assert.equal(INTENT_REHAB, 0x30);
  assert.equal(INTENT_CUSTOM, 0xff);
  assert.equal(THREAT_SCORE_THRESHOLD, 50_000);
  assert.equal(new Dispatcher().threatScoreThreshold, 50_000);
});

Deno.test("dispatch() hands the registered handler the exact packet", async () => {
  const d = quiet();
  const received: UepsPacket[] = [];
  d.registerHandler(INTENT_COMPUTE, (p) => void received.push(p));
  const p = await packet(INTENT_COMPUTE);
  await d.dispatch(p);
  assert.equal(received.length, 1);
  assert.equal(received[0], p);
  assert.equal(new TextDecoder().decode(received[0]!.payload), "payload");
});

Deno.test("dispatch() returns a handler's error unchanged, thrown or rejected", async () => {
  const d = quiet();
  const boom = new Error("handler failed");
  d.registerHandler(INTENT_COMPUTE, () => {
    throw boom;
  });
  d.registerHandler(INTENT_REHAB, () => Promise.reject(boom));
  await assert.rejects(
    d.dispatch(await packet(INTENT_COMPUTE)),
    (e) => e === boom,
  );
  await assert.rejects(
    d.dispatch(await packet(INTENT_REHAB)),
    (e) => e === boom,
  );
});

Deno.test("dispatch() waits for an async handler", async () => {
  const d = quiet();
  let done = false;
  d.registerHandler(INTENT_COMPUTE, async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    done = true;
  });
  await d.dispatch(await packet(INTENT_COMPUTE));
  assert.equal(done, true);
});

Deno.test("threat scores 0 and 50000 pass; 50001 and 65535 are dropped before the handler", async () => {
  const { logger, lines } = capture();
  const d = new Dispatcher({ logger });
  let calls = 0;
  d.registerHandler(INTENT_COMPUTE, () => void calls++);
  for (const score of [0, 50_000]) {
    await d.dispatch(await packet(INTENT_COMPUTE, null, score));
  }
  assert.equal(calls, 2);
  for (const score of [50_001, 65_535]) {
    await assert.rejects(
      d.dispatch(await packet(INTENT_COMPUTE, null, score)),
      (e) =>
        isCode("threat_exceeded")(e) &&
        (e as DispatchError).threatScore === score &&
        (e as DispatchError).intentId === INTENT_COMPUTE &&
        (e as Error).message.includes(
          "threat score exceeds safety threshold (50000)",
        ),
    );
  }
  assert.equal(calls, 2);
  const warn = lines.filter((l) => l.includes("[WARN]"));
  assert.equal(warn.length, 2);
  assert.equal(
    warn[0],
    "2026/02/20 10:00:00 [WARN] [dispatcher] packet dropped: threat score exceeds safety threshold | threat_score=50001 threshold=50000 intent_id=0x20 version=9\n",
  );
});

Deno.test("an unregistered intent returns the unknown_intent error and logs a warning", async () => {
  const { logger, lines } = capture();
  const d = new Dispatcher({ logger });
  await assert.rejects(
    d.dispatch(await packet(0x42)),
    (e) =>
      isCode("unknown_intent")(e) && (e as DispatchError).intentId === 0x42,
  );
  assert.deepEqual(lines, [
    "2026/02/20 10:00:00 [WARN] [dispatcher] packet dropped: unknown intent | intent_id=0x42 version=9\n",
  ]);
});

Deno.test("the breaker runs before routing: over-threshold unknown intents get the threat error", async () => {
  const d = quiet();
  await assert.rejects(
    d.dispatch(fakePacket({ intentId: 0x42, threatScore: 50_001 })),
    isCode("threat_exceeded"),
  );
});

Deno.test("four handlers each receive only their own intent", async () => {
  const d = quiet();
  const seen = new Map<number, number[]>();
  for (
    const intent of [
      INTENT_HANDSHAKE,
      INTENT_COMPUTE,
      INTENT_REHAB,
      INTENT_CUSTOM,
    ]
  ) {
    seen.set(intent, []);
    d.registerHandler(
      intent,
      (p) => void seen.get(intent)!.push(p.header.intentId),
    );
  }
  for (
    const intent of [
      INTENT_CUSTOM,
      INTENT_HANDSHAKE,
      INTENT_REHAB,
      INTENT_COMPUTE,
      INTENT_REHAB,
    ]
  ) {
    await d.dispatch(await packet(intent));
  }
  assert.deepEqual([...seen], [
    [INTENT_HANDSHAKE, [INTENT_HANDSHAKE]],
    [INTENT_COMPUTE, [INTENT_COMPUTE]],
    [INTENT_REHAB, [INTENT_REHAB, INTENT_REHAB]],
    [INTENT_CUSTOM, [INTENT_CUSTOM]],
  ]);
});

Deno.test("a missing packet returns the missing_packet error", async () => {
  const d = quiet();
  let calls = 0;
  d.registerHandler(0, () => void calls++);
  await assert.rejects(d.dispatch(null), isCode("missing_packet"));
  await assert.rejects(d.dispatch(undefined), isCode("missing_packet"));
  assert.equal(calls, 0);
});

Deno.test("null and empty payloads are delivered as empty payloads", async () => {
  const d = quiet();
  const sizes: number[] = [];
  d.registerHandler(
    INTENT_COMPUTE,
    (p) => void sizes.push(p.payload.byteLength),
  );
  await d.dispatch(await packet(INTENT_COMPUTE, null));
  await d.dispatch(await packet(INTENT_COMPUTE, new Uint8Array(0)));
  assert.deepEqual(sizes, [0, 0]);
});

Deno.test("100 concurrent dispatches all reach the handler", async () => {
  const d = quiet();
  let calls = 0;
  d.registerHandler(INTENT_COMPUTE, async () => {
    await Promise.resolve();
    calls++;
  });
  const p = await packet(INTENT_COMPUTE);
  await Promise.all(Array.from({ length: 100 }, () => d.dispatch(p)));
  assert.equal(calls, 100);
});

Deno.test("concurrent registration and dispatch interleave safely", async () => {
  const d = quiet();
  const counts = new Array<number>(256).fill(0);
  const register = async (intent: number) => {
    await Promise.resolve();
    d.registerHandler(intent, () => void counts[intent]!++);
  };
  const tasks: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) {
    const intent = i % 10;
    tasks.push(register(intent));
    tasks.push(
      d.dispatch(fakePacket({ intentId: intent })).catch((e) => {
        if (!isCode("unknown_intent")(e)) throw e;
      }),
    );
  }
  await Promise.all(tasks);
  assert.deepEqual([...d.handlers()].map(([id]) => id).sort((a, b) => a - b), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ]);
  for (let intent = 0; intent < 10; intent++) {
    await d.dispatch(fakePacket({ intentId: intent }));
  }
  assert.ok(counts.slice(0, 10).every((n) => n >= 1));
});

Deno.test("re-registering an intent replaces the previous handler", async () => {
  const { logger, lines } = capture();
  const d = new Dispatcher({ logger });
  const calls: string[] = [];
  d.registerHandler(INTENT_COMPUTE, () => void calls.push("first"));
  d.registerHandler(INTENT_COMPUTE, () => void calls.push("second"));
  await d.dispatch(await packet(INTENT_COMPUTE));
  assert.deepEqual(calls, ["second"]);
  assert.equal([...d.handlers()].length, 1);
  assert.deepEqual(lines, [
    "2026/02/20 10:00:00 [DEBUG] [dispatcher] handler registered | intent_id=0x20\n",
    "2026/02/20 10:00:00 [DEBUG] [dispatcher] handler registered | intent_id=0x20\n",
  ]);
});

Deno.test("handlers() is a snapshot of intent and handler pairs", () => {
  const d = quiet();
  const h: IntentHandler = () => {};
  d.registerHandler(0xff, h);
  const snapshot = d.handlers();
  d.registerHandler(0x01, h);
  assert.deepEqual([...snapshot], [[0xff, h]]);
  assert.deepEqual([...d.handlers()], [[0xff, h], [0x01, h]]);
});

Deno.test("intent IDs are logged as 0x%02X", () => {
  const { logger, lines } = capture();
  const d = new Dispatcher({ logger });
  d.registerHandler(0x0a, () => {});
  d.registerHandler(0xab, () => {});
  assert.match(lines[0]!, /intent_id=0x0A\n$/);
  assert.match(lines[1]!, /intent_id=0xAB\n$/);
});

Deno.test("a custom threshold applies; bad arguments are caller errors", async () => {
  const d = new Dispatcher({
    logger: capture().logger,
    threatScoreThreshold: 10,
  });
  d.registerHandler(1, () => {});
  await d.dispatch(fakePacket({ intentId: 1, threatScore: 10 }));
  await assert.rejects(
    d.dispatch(fakePacket({ intentId: 1, threatScore: 11 })),
    isCode("threat_exceeded"),
  );
  for (const bad of [-1, 65_536, 1.5, NaN]) {
    assert.throws(
      () => new Dispatcher({ threatScoreThreshold: bad }),
      RangeError,
    );
  }
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new Dispatcher({ logger: console }), TypeError);
  for (const bad of [-1, 256, 1.5]) {
    assert.throws(() => d.registerHandler(bad, () => {}), RangeError);
  }
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => d.registerHandler(1, "handler"), TypeError);
  // @ts-expect-error: wrong type on purpose
  await assert.rejects(d.dispatch({ payload: new Uint8Array(0) }), TypeError);
  // @ts-expect-error: wrong type on purpose
  await assert.rejects(d.dispatch(42), TypeError);
});

Deno.test("the default logger is a private DEBUG logger, not the global one", async () => {
  // Run in a child process so the test can read what reaches stderr.
  const code = `
    import { Dispatcher } from ${
    JSON.stringify(new URL("./dispatcher.ts", import.meta.url).href)
  };
    import { setGlobalLevel, LogLevel } from ${
    JSON.stringify(new URL("../logging/mod.ts", import.meta.url).href)
  };
    setGlobalLevel(LogLevel.Error);
    const d = new Dispatcher();
    d.registerHandler(0x20, () => {});
    await d.dispatch({ header: { version: 9, currentLayer: 5, targetLayer: 5, intentId: 0x42, threatScore: 0 }, payload: new Uint8Array(0) }).catch(() => {});
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.match(
    stderr,
    /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[DEBUG\] \[dispatcher\] handler registered \| intent_id=0x20$/m,
  );
  assert.match(
    stderr,
    /\[WARN\] \[dispatcher\] packet dropped: unknown intent \| intent_id=0x42 version=9$/m,
  );
});
