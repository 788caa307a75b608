/**
 * UEPS codec benchmarks. Run with `deno bench -A ueps/packet_bench.ts`.
 *
 * Each `read+verify` group has as its baseline a bare one-shot HMAC-SHA256
 * (`node:crypto` `createHmac`) over exactly the bytes the reader must hash
 * (the 21 header bytes plus the payload), so the codec's own cost shows as
 * the ratio. The `hmac` groups compare the HMAC implementations the hot path
 * could use.
 */

import { createHmac } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { HmacKey } from "./key.ts";
import { PacketBuilder, readAndVerify, readAndVerifySync } from "./packet.ts";

const KEY = new TextEncoder().encode("test-shared-secret-32-bytes!!!!!");
const PREPARED = new HmacKey(KEY);
const WEB_KEY = await crypto.subtle.importKey(
  "raw",
  KEY,
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["sign"],
);
const NOBLE_PREPARED = hmac.create(sha256, KEY);

const SIZES: [string, number][] = [["64 B", 64], ["1 KB", 1024], [
  "64 KB",
  65_535,
]];

for (const [label, size] of SIZES) {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31) & 0xff;
  const builder = new PacketBuilder(0x20, payload);
  const frame = builder.marshalAndSign(KEY);
  const signed = new Uint8Array(21 + size);
  signed.set(frame.subarray(0, 21));
  signed.set(payload, 21);

  Deno.bench({
    group: `marshal+sign ${label}`,
    name: "bare createHmac over header+payload",
    baseline: true,
    fn() {
      createHmac("sha256", KEY).update(signed).digest();
    },
  });
  Deno.bench({
    group: `marshal+sign ${label}`,
    name: "marshalAndSign (raw key)",
    fn() {
      builder.marshalAndSign(KEY);
    },
  });
  Deno.bench({
    group: `marshal+sign ${label}`,
    name: "marshalAndSign (HmacKey)",
    fn() {
      builder.marshalAndSign(PREPARED);
    },
  });

  Deno.bench({
    group: `read+verify ${label}`,
    name: "bare createHmac over header+payload",
    baseline: true,
    fn() {
      createHmac("sha256", KEY).update(signed).digest();
    },
  });
  Deno.bench({
    group: `read+verify ${label}`,
    name: "bare HmacKey.digest over header+payload",
    fn() {
      PREPARED.digest(signed);
    },
  });
  Deno.bench({
    group: `read+verify ${label}`,
    name: "readAndVerifySync (raw key)",
    fn() {
      readAndVerifySync(frame, KEY);
    },
  });
  Deno.bench({
    group: `read+verify ${label}`,
    name: "readAndVerifySync (HmacKey)",
    fn() {
      readAndVerifySync(frame, PREPARED);
    },
  });
  Deno.bench({
    group: `read+verify ${label}`,
    name: "readAndVerify (bytes, raw key)",
    async fn() {
      await readAndVerify(frame, KEY);
    },
  });
  Deno.bench({
    group: `read+verify ${label}`,
    name: "readAndVerify (stream, one chunk)",
    async fn() {
      await readAndVerify(ReadableStream.from([frame]), KEY);
    },
  });

  Deno.bench({
    group: `hmac ${label}`,
    name: "node:crypto createHmac",
    baseline: true,
    fn() {
      createHmac("sha256", KEY).update(signed).digest();
    },
  });
  Deno.bench({
    group: `hmac ${label}`,
    name: "HmacKey (node:crypto, prepared pads)",
    fn() {
      PREPARED.digest(signed);
    },
  });
  Deno.bench({
    group: `hmac ${label}`,
    name: "@noble/hashes hmac",
    fn() {
      hmac(sha256, KEY, signed);
    },
  });
  Deno.bench({
    group: `hmac ${label}`,
    name: "@noble/hashes hmac (prepared, cloned)",
    fn() {
      NOBLE_PREPARED.clone().update(signed).digest();
    },
  });
  Deno.bench({
    group: `hmac ${label}`,
    name: "WebCrypto subtle.sign",
    async fn() {
      await crypto.subtle.sign("HMAC", WEB_KEY, signed);
    },
  });
}
