/**
 * Real Go traffic (testdata/go-node, captured between two running Go
 * go-p2p nodes): our server, holding the captured server key, answers the
 * Go controller's captured frames; our dialler, holding the controller key,
 * accepts the Go server's captured answers. The transport clock is set to
 * the capture time so the timestamp window accepts the captured messages.
 */

import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  NodeManager,
  parsePayload,
  parseResponse,
  reply,
  SmsgKey,
  smsgOpenBody,
  TransportError,
  verifyHandshakeAck,
} from "../node/mod.ts";
import { decodeBase64Strict } from "../node/_base64.ts";
import { FileProfileManager } from "../node/managers/profile_manager.ts";
import { Worker } from "../node/worker.ts";
import { parseGoTime } from "../node/_go_time.ts";
import { memoryLogger, Stack, waitFor } from "./transport_helpers.ts";

const dir = new URL("../testdata/go-node/", import.meta.url);

interface Frame {
  dir: "c2s" | "s2c";
  opcode: "text" | "binary";
  bytes: Uint8Array;
  text?: string;
}

async function frames(name: string): Promise<Frame[]> {
  const out: Frame[] = [];
  const text = await Deno.readTextFile(new URL(`${name}.jsonl`, dir));
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const r = JSON.parse(line);
    if (r.kind !== "ws_frame") continue;
    const f: Frame = {
      dir: r.dir,
      opcode: r.opcode,
      bytes: decodeBase64Strict(r.payload_b64)!,
    };
    if (r.payload_text !== undefined) f.text = r.payload_text;
    out.push(f);
  }
  return out;
}

async function decrypted(
  name: string,
): Promise<{ dir: string; message: Record<string, unknown> }[]> {
  const text = await Deno.readTextFile(new URL(`${name}.decrypted.jsonl`, dir));
  return text.split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l)
  )
    .filter((r) => r.event === "decrypted");
}

async function keyNode(which: "server" | "controller"): Promise<NodeManager> {
  const key = await Deno.readFile(new URL(`keys/${which}/private.key`, dir));
  const id = JSON.parse(
    await Deno.readTextFile(new URL(`keys/${which}/node.json`, dir)),
  );
  return NodeManager.fromPrivateKey(key, {
    name: id.name,
    role: id.role,
    createdAt: id.createdAt,
  });
}

const server = await keyNode("server");
const controller = await keyNode("controller");
const SERVER_ID = "300c9c9603b92a4b39ed3958bf924011";
const SERVER_KEY = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
const CONTROLLER_ID = "f35e5616160a30bf3c6e79fa73c576d4";
const smsgKey = SmsgKey.fromPassword(
  "3q1FodQ9aQKqkkC0PA11oLX8dQZgWQ1tRUYcv8QBBoQ=",
);

/** A clock that starts at `startMs` and advances with real time. */
function clockAt(startMs: number): () => number {
  const t0 = Date.now();
  return () => startMs + (Date.now() - t0);
}

function handshakeOf(
  fs: Frame[],
): { text: string; challenge: Uint8Array; timeMs: number } {
  const hs = fs.find((f) => f.dir === "c2s" && f.opcode === "text")!;
  const msg = decodeMessage(hs.text!);
  const payload = parsePayload(msg, "handshake");
  return {
    text: hs.text!,
    challenge: payload.challenge!,
    timeMs: parseGoTime(msg.ts)!,
  };
}

/** Answers the three requests the Go controller sent, as a worker would. */
function answer(msg: Message, now: number): Message | undefined {
  switch (msg.type) {
    case "ping": {
      const p = parsePayload(msg, "ping");
      return reply(msg, "pong", {
        payload: { sentAt: p.sentAt, receivedAt: now },
        now,
      });
    }
    case "get_stats":
      return reply(msg, "stats", {
        payload: {
          nodeId: SERVER_ID,
          nodeName: "go-server",
          miners: [],
          uptime: 0,
        },
        now,
      });
    case "deploy": {
      const p = parsePayload(msg, "deploy");
      return reply(msg, "deploy_ack", {
        payload: { success: true, name: p.name },
        now,
      });
    }
  }
  return undefined;
}

const SCENARIOS = [
  { name: "handshake-ping", request: "ping", answer: "pong" },
  { name: "stats", request: "get_stats", answer: "stats" },
  { name: "deploy-profile", request: "deploy", answer: "deploy_ack" },
] as const;

for (const sc of SCENARIOS) {
  Deno.test(`Go capture ${sc.name}: our server answers the Go controller's frames`, async () => {
    const stack = new Stack();
    try {
      const fs = await frames(sc.name);
      const hs = handshakeOf(fs);
      const now = clockAt(hs.timeMs);
      const { transport, registry } = await stack.server(server, {}, { now });
      const seen: Message[] = [];
      transport.onMessage(async (conn, msg) => {
        seen.push(msg);
        const a = answer(msg, now());
        if (a) await conn.send(a);
      });
      const client = await stack.raw(`ws://${transport.addr}/ws`);
      client.ws.sendText(hs.text);
      const ack = await client.next();
      assert.equal(typeof ack, "string");
      // The ack verifies against the Go controller's own challenge and key.
      const { peer } = verifyHandshakeAck(ack as string, {
        challenge: hs.challenge,
        deriveSecret: (k) => controller.deriveSharedSecret(k),
        expectedId: SERVER_ID,
        expectedPublicKey: SERVER_KEY,
      });
      assert.equal(peer.name, "go-server");
      // Send the Go request frame byte for byte.
      const binaries = fs.filter((f) =>
        f.dir === "c2s" && f.opcode === "binary"
      );
      const request = binaries[0]!;
      const requestMsg = decodeMessage(smsgOpenBody(request.bytes, smsgKey));
      assert.equal(requestMsg.type, sc.request);
      client.ws.sendBinary(request.bytes);
      const resp = await client.next();
      assert.ok(resp instanceof Uint8Array);
      const answerMsg = decodeMessage(smsgOpenBody(resp, smsgKey));
      assert.equal(answerMsg.type, sc.answer);
      assert.equal(answerMsg.replyTo, requestMsg.id);
      assert.equal(answerMsg.from, SERVER_ID);
      assert.equal(answerMsg.to, CONTROLLER_ID);
      // The inbound peer proved itself: established and auto-registered.
      await waitFor(() => transport.connectedPeers().includes(CONTROLLER_ID));
      assert.equal(registry.getPeer(CONTROLLER_ID)?.name, "go-controller");
      // The Go disconnect frame is accepted too.
      client.ws.sendBinary(binaries[1]!.bytes);
      await waitFor(() => seen.length === 2, 2_000, "disconnect");
      assert.equal(seen[1]!.type, "disconnect");
      assert.deepEqual(parsePayload(seen[1]!, "disconnect"), {
        reason: "server shutdown",
        code: 1004,
      });
    } finally {
      await stack.close();
    }
  });

  Deno.test(`Go capture ${sc.name}: our dialler accepts the Go server's answers`, async () => {
    const stack = new Stack();
    try {
      const fs = await frames(sc.name);
      const hs = handshakeOf(fs);
      const ackFrame = fs.find((f) => f.dir === "s2c" && f.opcode === "text")!;
      const answerFrame = fs.find((f) =>
        f.dir === "s2c" && f.opcode === "binary"
      )!;
      const dec = await decrypted(sc.name);
      const req = dec.find((d) => d.dir === "c2s")!.message;
      // A replay of the Go server: answers with its captured frames.
      const got: string[] = [];
      const srv = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (r) => {
          const { socket, response } = Deno.upgradeWebSocket(r, {
            idleTimeout: 0,
          });
          socket.onmessage = (ev) => {
            if (typeof ev.data === "string") {
              got.push(ev.data);
              socket.send(ackFrame.text!);
            } else {
              got.push(
                smsgOpenBody(new Uint8Array(ev.data as ArrayBuffer), smsgKey),
              );
              socket.send(answerFrame.bytes as Uint8Array<ArrayBuffer>);
            }
          };
          return response;
        },
      );
      stack.defer(() => srv.shutdown());
      const { transport, registry } = await stack.transport(controller, {}, {
        now: clockAt(hs.timeMs),
        challenge: () => hs.challenge,
      });
      const conn = await transport.connect({
        address: `127.0.0.1:${srv.addr.port}`,
        id: SERVER_ID,
        publicKey: SERVER_KEY,
      });
      assert.equal(conn.peerId, SERVER_ID);
      assert.equal(conn.peer.name, "go-server");
      assert.equal(
        registry.getPeer(SERVER_ID)?.address,
        `127.0.0.1:${srv.addr.port}`,
      );
      // Our handshake carried the (injected) Go challenge.
      const ourHs = parsePayload(decodeMessage(got[0]!), "handshake");
      assert.deepEqual(ourHs.challenge, hs.challenge);
      assert.equal(ourHs.version, "1.0");
      // Ask with the captured request ID; the Go answer resolves the request.
      const request: Message = {
        id: req.id as string,
        type: req.type as string,
        from: CONTROLLER_ID,
        to: SERVER_ID,
        ts: req.ts as string,
        payload: req.payload as Message["payload"],
      };
      const answerMsg = await transport.request(SERVER_ID, request, {
        timeout: 5_000,
      });
      assert.equal(answerMsg.type, sc.answer);
      assert.equal(answerMsg.replyTo, request.id);
      // The Go server decrypted what we sent (checked here with the same key).
      assert.equal(decodeMessage(got[1]!).id, request.id);
      if (sc.answer === "stats") {
        const call = JSON.parse(
          await Deno.readTextFile(new URL("stats.call.json", dir)),
        );
        assert.deepEqual(parseResponse(answerMsg, "stats"), call.result);
      } else if (sc.answer === "deploy_ack") {
        assert.deepEqual(parseResponse(answerMsg, "deploy_ack"), {
          success: true,
          name: "p1",
        });
      } else {
        const pong = parseResponse(answerMsg, "pong");
        assert.equal(pong.sentAt, 1795466931752);
      }
    } finally {
      await stack.close();
    }
  });
}

Deno.test("Go capture rejected-allowlist: our server refuses the Go controller like Go does", async () => {
  const stack = new Stack();
  try {
    const fs = await frames("rejected-allowlist");
    const hs = handshakeOf(fs);
    const goAck = decodeMessage(fs.find((f) => f.dir === "s2c")!.text!);
    const { transport, registry } = await stack.server(server, {}, {
      now: clockAt(hs.timeMs),
    });
    registry.setAuthMode("allowlist");
    const client = await stack.raw(`ws://${transport.addr}/ws`);
    client.ws.sendText(hs.text);
    const ack = decodeMessage((await client.next()) as string);
    assert.equal(ack.type, "handshake_ack");
    assert.equal(ack.from, goAck.from);
    assert.equal(ack.to, goAck.to);
    // Same payload as the Go server's, byte for byte.
    assert.equal(JSON.stringify(ack.payload), JSON.stringify(goAck.payload));
    assert.equal(
      await client.next(),
      null,
      "the socket closes after the rejection",
    );
    assert.equal(transport.connectedPeers().length, 0);
    assert.equal(registry.getPeer(CONTROLLER_ID), undefined);
  } finally {
    await stack.close();
  }
});

Deno.test("Go capture rejected-allowlist: our dialler reports the Go rejection", async () => {
  const stack = new Stack();
  try {
    const fs = await frames("rejected-allowlist");
    const hs = handshakeOf(fs);
    const ackText = fs.find((f) => f.dir === "s2c")!.text!;
    const srv = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (r) => {
        const { socket, response } = Deno.upgradeWebSocket(r, {
          idleTimeout: 0,
        });
        socket.onmessage = () => {
          socket.send(ackText);
          socket.close();
        };
        return response;
      },
    );
    stack.defer(() => srv.shutdown());
    const { transport, registry } = await stack.transport(controller, {}, {
      now: clockAt(hs.timeMs),
      challenge: () => hs.challenge,
    });
    await assert.rejects(
      transport.connect({
        address: `127.0.0.1:${srv.addr.port}`,
        id: SERVER_ID,
      }),
      (err) =>
        err instanceof TransportError && err.code === "handshake_rejected" &&
        err.message.includes("handshake rejected: peer not authorized"),
    );
    assert.equal(transport.connectedPeers().length, 0);
    assert.equal(registry.getPeer(SERVER_ID), undefined);
  } finally {
    await stack.close();
  }
});

Deno.test("Go capture: a captured frame replayed after the timestamp window is dropped", async () => {
  const stack = new Stack();
  try {
    const fs = await frames("handshake-ping");
    const hs = handshakeOf(fs);
    const { logger, lines } = memoryLogger();
    // Six minutes after the capture: outside the 5-minute window.
    const { transport } = await stack.server(server, {}, {
      now: clockAt(hs.timeMs + 6 * 60_000),
      logger,
    });
    const seen: Message[] = [];
    transport.onMessage((_c, m) => {
      seen.push(m);
    });
    const client = await stack.raw(`ws://${transport.addr}/ws`);
    client.ws.sendText(hs.text);
    assert.equal(typeof await client.next(), "string");
    client.ws.sendBinary(
      fs.find((f) => f.dir === "c2s" && f.opcode === "binary")!.bytes,
    );
    assert.ok(await client.silentFor(300), "no pong for a stale ping");
    assert.equal(seen.length, 0);
    assert.ok(lines.some((l) => l.includes("outside the timestamp window")));
    // Still provisional: an unproven inbound connection is not in the table.
    assert.equal(transport.connectedPeers().length, 0);
  } finally {
    await stack.close();
  }
});

Deno.test("Go capture: our encoder writes the Go request bodies unchanged", async () => {
  for (const sc of SCENARIOS) {
    const fs = await frames(sc.name);
    for (const f of fs.filter((x) => x.opcode === "binary")) {
      const body = smsgOpenBody(f.bytes, smsgKey);
      assert.equal(encodeMessage(decodeMessage(body)), body);
    }
    for (const f of fs.filter((x) => x.opcode === "text")) {
      assert.equal(encodeMessage(decodeMessage(f.text!)), f.text);
    }
  }
});

/**
 * Replays the Go controller's captured request against our real Worker
 * (holding the Go server's key) and returns the decrypted answer.
 */
async function replayToWorker(
  name: string,
  trusted: boolean,
): Promise<{ request: Message; answer: Message; profiles: string[] }> {
  const stack = new Stack();
  const dir = await Deno.makeTempDir({ prefix: "go_worker_" });
  try {
    const fs = await frames(name);
    const hs = handshakeOf(fs);
    const now = clockAt(hs.timeMs);
    const { transport } = await stack.server(server, {}, { now });
    const profiles = new FileProfileManager({ dir: `${dir}/profiles` });
    const { logger } = memoryLogger();
    const worker = new Worker(server, {
      profileManager: profiles,
      dataDir: dir,
      logger,
      now,
      trust: trusted ? [controller.getIdentity()!.publicKey] : [],
    });
    worker.register(transport);
    stack.defer(() => worker.close());
    const client = await stack.raw(`ws://${transport.addr}/ws`);
    client.ws.sendText(hs.text);
    assert.equal(typeof await client.next(), "string");
    const reqFrame = fs.find((f) => f.dir === "c2s" && f.opcode === "binary")!;
    client.ws.sendBinary(reqFrame.bytes);
    const resp = await client.next();
    assert.ok(resp instanceof Uint8Array);
    return {
      request: decodeMessage(smsgOpenBody(reqFrame.bytes, smsgKey)),
      answer: decodeMessage(smsgOpenBody(resp, smsgKey)),
      profiles: await profiles.listProfiles(),
    };
  } finally {
    await stack.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Go controller vs our worker: untrusted, its get_stats and deploy get Go's unauthorised error (1002); ping is answered", async () => {
  for (const sc of SCENARIOS) {
    const { request, answer, profiles } = await replayToWorker(sc.name, false);
    assert.equal(answer.replyTo, request.id);
    assert.equal(answer.from, SERVER_ID);
    assert.equal(answer.to, CONTROLLER_ID);
    if (sc.request === "ping") {
      assert.equal(answer.type, "pong");
      continue;
    }
    // What a Go controller's ValidateResponse turns into ProtocolError(1002, …).
    assert.equal(answer.type, "error");
    assert.deepEqual(parsePayload(answer, "error"), {
      code: 1002,
      message:
        `Worker.authorize: peer ${CONTROLLER_ID} is not authorized for ${sc.request}`,
    });
    assert.throws(
      () => parseResponse(answer, sc.answer),
      (e) => e instanceof Error && e.message.startsWith("remote error (1002)"),
    );
    assert.deepEqual(profiles, [], "nothing deployed");
  }
});

Deno.test("Go controller vs our worker: trusted, its captured requests work as with a Go worker", async () => {
  for (const sc of SCENARIOS) {
    const { request, answer, profiles } = await replayToWorker(sc.name, true);
    assert.equal(answer.type, sc.answer);
    assert.equal(answer.replyTo, request.id);
    assert.equal(answer.from, SERVER_ID);
    assert.equal(answer.to, CONTROLLER_ID);
    const goAnswer = (await decrypted(sc.name)).find((d) => d.dir === "s2c")!
      .message;
    if (sc.answer === "deploy_ack") {
      // The same acknowledgement the Go worker sent, and the profile is stored.
      assert.deepEqual(answer.payload, goAnswer.payload);
      assert.deepEqual(profiles, ["p1"]);
    } else if (sc.answer === "stats") {
      const st = parseResponse(answer, "stats");
      assert.equal(st.nodeId, SERVER_ID);
      assert.equal(st.nodeName, "go-server");
    } else {
      assert.equal(parseResponse(answer, "pong").sentAt, 1795466931752);
    }
  }
});

Deno.test("Go capture: the Go controller's whole TCP stream against our listener gets Go's 101 byte for byte, then the ack and the pong", async () => {
  const stack = new Stack();
  try {
    const fs = await frames("handshake-ping");
    const hs = handshakeOf(fs);
    const now = clockAt(hs.timeMs);
    // Without our limit header, the upgrade is byte-identical to Go's.
    const { transport } = await stack.server(server, {
      advertiseMaxMessageSize: false,
    }, { now });
    transport.onMessage(async (conn, msg) => {
      const a = answer(msg, now());
      if (a) await conn.send(a);
    });
    const records = (await Deno.readTextFile(
      new URL("handshake-ping.jsonl", dir),
    )).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
    const goResponse = records.find((r) => r.kind === "http" && r.dir === "s2c")
      .text as string;
    const c2s = await Deno.readFile(
      new URL("handshake-ping.conn1.c2s.bin", dir),
    );
    const [hostname, port] = transport.addr.split(":");
    const conn = await Deno.connect({
      hostname: hostname!,
      port: Number(port),
    });
    stack.defer(() => {
      try {
        conn.close();
      } catch { /* closed */ }
    });
    // Every byte the Go controller sent, in one write (head and frames).
    await conn.write(c2s);
    let got = new Uint8Array(0);
    const buf = new Uint8Array(65536);
    const parsed: { opcode: number; payload: Uint8Array }[] = [];
    let headLen = -1;
    const end = Date.now() + 10_000;
    while (parsed.length < 2 && Date.now() < end) {
      const n = await conn.read(buf);
      if (n === null) break;
      const next = new Uint8Array(got.length + n);
      next.set(got);
      next.set(buf.subarray(0, n), got.length);
      got = next;
      const text = new TextDecoder().decode(got);
      if (headLen < 0) {
        const i = text.indexOf("\r\n\r\n");
        if (i < 0) continue;
        headLen = i + 4;
      }
      // Server frames: unmasked, lengths below 64 KiB here.
      parsed.length = 0;
      let p = headLen;
      while (p + 2 <= got.length) {
        let len = got[p + 1]! & 0x7f;
        let h = 2;
        if (len === 126) {
          len = (got[p + 2]! << 8) | got[p + 3]!;
          h = 4;
        }
        if (p + h + len > got.length) break;
        parsed.push({
          opcode: got[p]! & 0x0f,
          payload: got.subarray(p + h, p + h + len),
        });
        p += h + len;
      }
    }
    assert.equal(
      new TextDecoder().decode(got.subarray(0, headLen)),
      goResponse,
      "the 101 response equals the Go server's",
    );
    assert.equal(parsed[0]!.opcode, 1, "the ack is a text frame");
    const { peer } = verifyHandshakeAck(
      new TextDecoder().decode(parsed[0]!.payload),
      {
        challenge: hs.challenge,
        deriveSecret: (k) => controller.deriveSharedSecret(k),
        expectedId: SERVER_ID,
      },
    );
    assert.equal(peer.id, SERVER_ID);
    assert.equal(parsed[1]!.opcode, 2, "the pong is a binary frame");
    const pong = decodeMessage(smsgOpenBody(parsed[1]!.payload, smsgKey));
    assert.equal(pong.type, "pong");
    const ping = decodeMessage(
      smsgOpenBody(
        fs.find((f) => f.dir === "c2s" && f.opcode === "binary")!.bytes,
        smsgKey,
      ),
    );
    assert.equal(pong.replyTo, ping.id);
  } finally {
    await stack.close();
  }
});
