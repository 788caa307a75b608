/**
 * Byte-exact wire vectors: the Go-made `p2p-disconnect.smsg` frame and the
 * handshake examples of node.md §3.8.
 */

import assert from "node:assert/strict";
import {
  computeSharedSecret,
  createHandshake,
  decodeMessage,
  encodeMessage,
  type Message,
  NodeManager,
  parsePayload,
  respondToHandshake,
  secretToPassword,
  SmsgKey,
  smsgOpenBody,
  smsgSealBody,
  verifyHandshakeAck,
} from "../node/mod.ts";
import { fromHex } from "../node/_base64.ts";

const dir = new URL("../testdata/go-node/wire/", import.meta.url);
const frame = await Deno.readFile(new URL("p2p-disconnect.smsg", dir));
const sidecar = JSON.parse(
  await Deno.readTextFile(new URL("p2p-disconnect.smsg.json", dir)),
);
const primitives = JSON.parse(
  await Deno.readTextFile(new URL("primitives.json", dir)),
);

Deno.test("p2p-disconnect: the password is base64(SHA-256(X25519(A, B)))", () => {
  const secret = computeSharedSecret(
    fromHex(primitives.identity.nodeA.private_key_hex),
    primitives.identity.nodeB.public_key_b64,
  );
  assert.equal(secretToPassword(secret), sidecar.password);
});

Deno.test("p2p-disconnect: encodeMessage() reproduces Go's message JSON", () => {
  const msg = decodeMessage(sidecar.p2p_message_json);
  assert.equal(encodeMessage(msg), sidecar.p2p_message_json);
  assert.deepEqual(parsePayload(msg, "disconnect"), {
    reason: "shutting down <maintenance> & restart",
    code: 1004,
  });
});

Deno.test("p2p-disconnect: smsgSealBody() reproduces the Go frame byte for byte", () => {
  const msg: Message = {
    id: "0b4f5c1e-8a43-4c55-9a57-2a9f1e6b7c10",
    type: "disconnect",
    from: "4a63fac152791226d445202f6d7c6f94",
    to: "e9bd51b80de2633cdf573c751a9f6367",
    ts: "2026-01-02T03:04:05.123456789Z",
    payload: { reason: "shutting down <maintenance> & restart", code: 1004 },
  };
  const key = SmsgKey.fromPassword(sidecar.password);
  const sealed = smsgSealBody(encodeMessage(msg), key, {
    nonce: fromHex(sidecar.nonce_hex),
    timestamp: 1767323045,
  });
  assert.equal(sealed.length, sidecar.file_len);
  assert.deepEqual(sealed, frame);
});

Deno.test("p2p-disconnect: smsgOpenBody() + decodeMessage() read the Go frame", () => {
  const key = SmsgKey.fromPassword(sidecar.password);
  const body = smsgOpenBody(frame, key);
  assert.equal(body, sidecar.p2p_message_json);
  const msg = decodeMessage(body);
  assert.equal(msg.type, "disconnect");
  assert.equal(msg.id, "0b4f5c1e-8a43-4c55-9a57-2a9f1e6b7c10");
  // Also from an odd offset inside a larger buffer.
  const shifted = new Uint8Array(frame.length + 3);
  shifted.set(frame, 3);
  assert.equal(
    smsgOpenBody(shifted.subarray(3), key),
    sidecar.p2p_message_json,
  );
});

// node.md §3.8, verbatim.
const HANDSHAKE_EXAMPLE =
  '{"id":"3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b","type":"handshake","from":"aaa8fff703b50b2297f4f6e13508f724","to":"4457134794559182226754e9dd2f1083","ts":"2026-02-20T10:00:00.123456789Z","payload":{"identity":{"id":"aaa8fff703b50b2297f4f6e13508f724","name":"node-a","publicKey":"B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=","createdAt":"2026-02-19T09:30:00.5+01:00","role":"controller"},"challenge":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","version":"1.0"}}';
const ACK_EXAMPLE =
  '{"id":"b7e4a9d2-1c3f-4a5b-9e8d-7f6a5b4c3d2e","type":"handshake_ack","from":"4457134794559182226754e9dd2f1083","to":"aaa8fff703b50b2297f4f6e13508f724","ts":"2026-02-20T10:00:00.130001Z","payload":{"identity":{"id":"4457134794559182226754e9dd2f1083","name":"node-b","publicKey":"WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=","createdAt":"2026-01-01T00:00:00Z","role":"worker"},"challengeResponse":"HGcHAVkPvsqd9MLZLxnerVjph2Sf5nUuNHLHQUq/EhI=","accepted":true}}';

const nodeA = NodeManager.fromPrivateKey(
  fromHex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"),
  {
    name: "node-a",
    role: "controller",
    createdAt: "2026-02-19T09:30:00.5+01:00",
  },
);
const nodeB = NodeManager.fromPrivateKey(
  fromHex("2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40"),
  { name: "node-b", role: "worker", createdAt: "2026-01-01T00:00:00Z" },
);
const challenge = Uint8Array.from({ length: 32 }, (_, i) => i);

Deno.test("createHandshake() matches the node.md §3.8 handshake frame", () => {
  const msg = createHandshake(nodeA.getIdentity()!, {
    to: "4457134794559182226754e9dd2f1083",
    challenge,
    id: "3f2b8c1e-9d4a-4e6b-8f1a-2c3d4e5f6a7b",
  });
  msg.ts = "2026-02-20T10:00:00.123456789Z"; // Go writes nanoseconds
  assert.equal(encodeMessage(msg), HANDSHAKE_EXAMPLE);
});

Deno.test("respondToHandshake() answers the §3.8 handshake with the §3.8 ack", () => {
  const d = respondToHandshake(HANDSHAKE_EXAMPLE, {
    identity: nodeB.getIdentity(),
    deriveSecret: (k) => nodeB.deriveSharedSecret(k),
    isAllowed: () => true,
    registeredKey: () => undefined,
    id: "b7e4a9d2-1c3f-4a5b-9e8d-7f6a5b4c3d2e",
  });
  assert.equal(d.action, "accept");
  if (d.action !== "accept") return;
  d.ack.ts = "2026-02-20T10:00:00.130001Z";
  assert.equal(encodeMessage(d.ack), ACK_EXAMPLE);
  assert.equal(d.peer.id, "aaa8fff703b50b2297f4f6e13508f724");
});

Deno.test("verifyHandshakeAck() accepts the §3.8 ack for the §3.8 challenge", () => {
  const { peer, secret } = verifyHandshakeAck(ACK_EXAMPLE, {
    challenge,
    deriveSecret: (k) => nodeA.deriveSharedSecret(k),
    expectedId: "4457134794559182226754e9dd2f1083",
  });
  assert.equal(peer.name, "node-b");
  assert.equal(
    secretToPassword(secret),
    "Vegyp+19DwO0bpCNnMp5XeLSvxQP2AMI6FoGBprit6Q=",
  );
});
