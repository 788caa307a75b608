import { hchacha, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { ChaChaPolySigil } from "./sigil.ts";
import { SmsgKey, smsgOpenBody, smsgSealBody } from "./smsg.ts";
import { xorKeystream } from "./_kernels/keystream.ts";
import { chachaPolyWasm } from "./_kernels/chacha_wasm.ts";

const key = SmsgKey.fromPassword(
  "uL2eovqajg4HUim6Pc6Zq6eRoKv18AZYHECR5/HP94M=",
);
const rawKey = new Uint8Array(32).fill(7);
const sigil = new ChaChaPolySigil(rawKey);
const nonce = new Uint8Array(24).fill(1);

const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
const keyWords = new Uint32Array(rawKey.buffer.slice(0));

/** Bare XChaCha20-Poly1305: HChaCha20 (@noble/ciphers) + node:crypto bulk. */
function nodeXChaCha(data: Uint8Array): Uint8Array {
  const sub = new Uint32Array(8);
  hchacha(SIGMA, keyWords, new Uint32Array(nonce.buffer.slice(0, 16)), sub);
  const subkey = new Uint8Array(sub.buffer);
  const iv = new Uint8Array(12);
  iv.set(nonce.subarray(16), 4);
  const c = createCipheriv("chacha20-poly1305", subkey, iv, {
    authTagLength: 16,
  });
  const ct = c.update(data);
  c.final();
  const tag = c.getAuthTag();
  const d = createDecipheriv("chacha20-poly1305", subkey, iv, {
    authTagLength: 16,
  });
  d.setAuthTag(tag);
  const pt = d.update(ct);
  d.final();
  return pt;
}

for (
  const [label, size] of [["1 KB", 1024], ["4 KB", 4096], ["64 KB", 65536], [
    "1 MB",
    1048576,
  ]] as const
) {
  const group = `seal+open ${label}`;
  // An ASCII body without characters Go escapes, so the plaintext is size + 34 bytes.
  const body = "a".repeat(size);
  const data = new Uint8Array(size).fill(0x61);
  Deno.bench({
    group,
    name: `SMSG smsgSealBody+smsgOpenBody ${label}`,
    baseline: true,
    fn() {
      smsgOpenBody(smsgSealBody(body, key), key);
    },
  });
  Deno.bench({
    group,
    name: `sigil seal+open (keystream + AEAD) ${label}`,
    fn() {
      sigil.open(sigil.seal(data));
    },
  });
  Deno.bench({
    group,
    name: `bare XChaCha20-Poly1305 @noble/ciphers ${label}`,
    fn() {
      const c = xchacha20poly1305(rawKey, nonce);
      xchacha20poly1305(rawKey, nonce).decrypt(c.encrypt(data));
    },
  });
  Deno.bench({
    group,
    name: `bare XChaCha20-Poly1305 HChaCha20 + node:crypto ${label}`,
    fn() {
      nodeXChaCha(data);
    },
  });
  const subkeyWords = new Uint32Array(8);
  const iv = new Uint8Array(12);
  const tag = new Uint8Array(16);
  const buf = new Uint8Array(size);
  Deno.bench({
    group,
    name: `bare ChaCha20-Poly1305 WebAssembly (no HChaCha20) ${label}`,
    fn() {
      chachaPolyWasm!.seal(subkeyWords, iv, buf, tag);
      chachaPolyWasm!.open(subkeyWords, iv, buf, tag, buf);
    },
  });
  Deno.bench({
    group,
    name: `XOR keystream only, twice ${label}`,
    fn() {
      xorKeystream(nonce, data, data);
      xorKeystream(nonce, data, data);
    },
  });
}
