import assert from "node:assert/strict";
import fc from "fast-check";
import { NodeManager } from "../identity_store.ts";
import { signChallenge } from "../identity.ts";
import {
  decodeMessage,
  encodeMessage,
  newMessage,
  parsePayload,
} from "../message.ts";
import { TransportError } from "./errors.ts";
import {
  createHandshake,
  isOriginAllowed,
  type ResponderContext,
  respondToHandshake,
  verifyHandshakeAck,
} from "./handshake.ts";

const a = NodeManager.fromPrivateKey(new Uint8Array(32).fill(5), {
  name: "a",
  role: "controller",
});
const b = NodeManager.fromPrivateKey(new Uint8Array(32).fill(6), {
  name: "b",
  role: "worker",
});
const c = NodeManager.fromPrivateKey(new Uint8Array(32).fill(7), {
  name: "c",
  role: "worker",
});
const A = a.getIdentity()!;
const B = b.getIdentity()!;
const challenge = new Uint8Array(32).fill(0xab);

function ctx(over: Partial<ResponderContext> = {}): ResponderContext {
  return {
    identity: B,
    deriveSecret: (k) => b.deriveSharedSecret(k),
    isAllowed: () => true,
    registeredKey: () => undefined,
    ...over,
  };
}

const hsText = encodeMessage(createHandshake(A, { to: B.id, challenge }));

Deno.test("respondToHandshake() accepts and answers HMAC(secret, challenge)", () => {
  const d = respondToHandshake(hsText, ctx());
  assert.equal(d.action, "accept");
  if (d.action !== "accept") return;
  const ack = parsePayload(d.ack, "handshake_ack");
  assert.equal(ack.accepted, true);
  assert.deepEqual(
    ack.challengeResponse,
    signChallenge(challenge, a.deriveSharedSecret(B.publicKey)),
  );
  assert.deepEqual(ack.identity, B);
  assert.equal(d.ack.from, B.id);
  assert.equal(d.ack.to, A.id);
  const v = verifyHandshakeAck(encodeMessage(d.ack), {
    challenge,
    deriveSecret: (k) => a.deriveSharedSecret(k),
  });
  assert.equal(v.peer.id, B.id);
  assert.deepEqual(v.secret, d.secret);
});

Deno.test("respondToHandshake() closes silently on malformed input", () => {
  const cases = [
    "",
    "{",
    "[]",
    encodeMessage(newMessage("ping", { from: A.id, payload: { sentAt: 1 } })),
    '{"type":"handshake","payload":{"identity":"x"}}',
    encodeMessage(newMessage("handshake", {
      from: A.id,
      payload: {
        identity: { ...A, publicKey: "AAAA" },
        challenge,
        version: "1.0",
      },
    })),
    encodeMessage(newMessage("handshake", {
      from: A.id,
      payload: {
        identity: { ...A, publicKey: btoa("\0".repeat(32)) },
        challenge,
        version: "1.0",
      },
    })),
  ];
  for (const text of cases) {
    assert.equal(respondToHandshake(text, ctx()).action, "close", text);
  }
  assert.equal(
    respondToHandshake(hsText, ctx({ identity: undefined })).action,
    "close",
  );
});

Deno.test("respondToHandshake() rejects with Go's reasons", () => {
  const reason = (text: string, over: Partial<ResponderContext> = {}) => {
    const d = respondToHandshake(text, ctx(over));
    assert.equal(d.action, "reject");
    const p = parsePayload(
      (d as { ack: ReturnType<typeof newMessage> }).ack,
      "handshake_ack",
    );
    assert.equal(p.accepted, false);
    assert.equal(p.challengeResponse, undefined);
    return p.reason;
  };
  const versioned = (version: string) =>
    encodeMessage(
      newMessage("handshake", {
        from: A.id,
        payload: { identity: A, challenge, version },
      }),
    );
  assert.equal(
    reason(versioned("2.0")),
    "incompatible protocol version 2.0, supported: [1.0]",
  );
  assert.equal(
    reason(versioned("")),
    "incompatible protocol version , supported: [1.0]",
  );
  assert.equal(
    reason('{"type":"handshake","payload":null}'),
    "incompatible protocol version , supported: [1.0]",
  );
  assert.equal(
    reason(hsText, { isAllowed: () => false }),
    "peer not authorized",
  );
  // A claimed ID that is not derived from the key (impersonation).
  const forged = encodeMessage(newMessage("handshake", {
    from: B.id,
    payload: {
      identity: { ...A, id: c.getIdentity()!.id },
      challenge,
      version: "1.0",
    },
  }));
  assert.equal(reason(forged), "peer not authorized");
  // A registered ID with another key.
  assert.equal(
    reason(hsText, { registeredKey: () => c.getIdentity()!.publicKey }),
    "peer not authorized",
  );
  // Challenges must be exactly 32 bytes.
  for (const len of [0, 1, 31, 33, 1024]) {
    const text = encodeMessage(newMessage("handshake", {
      from: A.id,
      payload: { identity: A, challenge: new Uint8Array(len), version: "1.0" },
    }));
    assert.equal(reason(text), "invalid challenge", `length ${len}`);
  }
});

Deno.test("verifyHandshakeAck() refuses forged, mismatched or unverifiable acks", () => {
  const d = respondToHandshake(hsText, ctx());
  if (d.action !== "accept") throw new Error("expected accept");
  const good = encodeMessage(d.ack);
  const base = {
    challenge,
    deriveSecret: (k: string) => a.deriveSharedSecret(k),
  };
  const fails = (
    text: string,
    code: string,
    extra: Record<string, string> = {},
  ) =>
    assert.throws(
      () => verifyHandshakeAck(text, { ...base, ...extra }),
      (e) => e instanceof TransportError && e.code === code,
      text.slice(0, 60),
    );
  fails("nope", "handshake_failed");
  fails(hsText, "handshake_failed"); // wrong type
  fails(good, "peer_mismatch", {
    expectedPublicKey: c.getIdentity()!.publicKey,
  });
  fails(good, "peer_mismatch", { expectedId: c.getIdentity()!.id });
  assert.throws(
    () => verifyHandshakeAck(good, { ...base, challenge: new Uint8Array(32) }),
    (e) =>
      e instanceof TransportError &&
      e.message.includes("challenge response verification failed"),
  );
  const msg = decodeMessage(good);
  const p = msg.payload as Record<string, unknown>;
  fails(
    encodeMessage({
      ...msg,
      payload: { ...p, challengeResponse: undefined } as never,
    }),
    "handshake_failed",
  );
  fails(
    encodeMessage({
      ...msg,
      payload: {
        ...p,
        identity: { ...(p.identity as object), id: A.id },
      } as never,
    }),
    "handshake_failed",
  );
  fails(
    encodeMessage({
      ...msg,
      payload: { ...p, accepted: false, reason: "x" } as never,
    }),
    "handshake_rejected",
  );
});

Deno.test("handshake decoders fail only in typed ways on arbitrary input", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
      const d = respondToHandshake(text, ctx());
      assert.ok(["close", "reject", "accept"].includes(d.action));
      try {
        verifyHandshakeAck(text, {
          challenge,
          deriveSecret: (k) => a.deriveSharedSecret(k),
        });
      } catch (err) {
        assert.ok(err instanceof TransportError);
      }
    }),
    { numRuns: 1000 },
  );
});

Deno.test("isOriginAllowed() follows Go's rule", () => {
  for (
    const o of [
      null,
      "",
      "http://localhost:8080",
      "http://127.0.0.1:8080",
      "http://[::1]:8080",
      "https://localhost",
    ]
  ) {
    assert.equal(isOriginAllowed(o), true, String(o));
  }
  for (
    const o of [
      "http://evil.example.com",
      "://not-a-url",
      "null",
      "http://127.0.0.2",
      "http://localhost.evil.com",
    ]
  ) {
    assert.equal(isOriginAllowed(o), false, o);
  }
});
