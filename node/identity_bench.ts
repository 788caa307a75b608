import {
  computeSharedSecret,
  generateChallenge,
  generateKeyPair,
  signChallenge,
  verifyChallenge,
} from "./identity.ts";
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
} from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";

const a = generateKeyPair();
const b = generateKeyPair();
const PKCS8 = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);
const SPKI = Uint8Array.from([
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x03,
  0x21,
  0x00,
]);
const nodePriv = createPrivateKey({
  key: Buffer.concat([PKCS8, a.privateKey]),
  format: "der",
  type: "pkcs8",
});
const nodePub = createPublicKey({
  key: Buffer.concat([SPKI, b.publicKey]),
  format: "der",
  type: "spki",
});
const webPriv = await crypto.subtle.importKey(
  "pkcs8",
  new Uint8Array([...PKCS8, ...a.privateKey]),
  { name: "X25519" },
  false,
  ["deriveBits"],
);
const webPub = await crypto.subtle.importKey(
  "raw",
  b.publicKey,
  { name: "X25519" },
  false,
  [],
);

Deno.bench({
  group: "keygen",
  name: "generateKeyPair (ours: node:crypto X25519)",
  baseline: true,
  fn: () => {
    generateKeyPair();
  },
});
Deno.bench({
  group: "keygen",
  name: "node:crypto generateKeyPairSync x25519",
  fn: () => {
    generateKeyPairSync("x25519");
  },
});

Deno.bench({
  group: "shared secret",
  name: "computeSharedSecret (ours: node:crypto + SHA-256)",
  baseline: true,
  fn: () => {
    computeSharedSecret(a.privateKey, b.publicKey);
  },
});
Deno.bench({
  group: "shared secret",
  name: "raw X25519 noble",
  fn: () => {
    x25519.getSharedSecret(a.privateKey, b.publicKey);
  },
});
Deno.bench({
  group: "shared secret",
  name: "raw X25519 node:crypto diffieHellman",
  fn: () => {
    diffieHellman({ privateKey: nodePriv, publicKey: nodePub });
  },
});
Deno.bench({
  group: "shared secret",
  name: "raw X25519 WebCrypto deriveBits",
  fn: async () => {
    await crypto.subtle.deriveBits(
      { name: "X25519", public: webPub },
      webPriv,
      256,
    );
  },
});

const secret = computeSharedSecret(a.privateKey, b.publicKey);
const challenge = generateChallenge();
const response = signChallenge(challenge, secret);
Deno.bench({
  group: "challenge",
  name: "generateChallenge",
  fn: () => {
    generateChallenge();
  },
});
Deno.bench({
  group: "challenge",
  name: "signChallenge + verifyChallenge",
  baseline: true,
  fn: () => {
    verifyChallenge(challenge, signChallenge(challenge, secret), secret);
  },
});
Deno.bench({
  group: "challenge",
  name: "verifyChallenge",
  fn: () => {
    verifyChallenge(challenge, response, secret);
  },
});
