// The kernels beside their fallbacks and references (see README.md here):
// deno bench -A node/borg/_kernels/kernels_bench.ts
import { createHash } from "node:crypto";
import { decodeListing } from "./listing.ts";
import { xorKeystream, xorKeystreamScalar } from "./keystream.ts";

const nonce = new Uint8Array(24).fill(1);

/** The keystream as the format defines it: one node:crypto SHA-256 per block. */
function referenceXor(data: Uint8Array): void {
  const m = new Uint8Array(32);
  m.set(nonce);
  const view = new DataView(m.buffer);
  for (let i = 0; i * 32 < data.length; i++) {
    view.setUint32(28, i, false);
    const h = createHash("sha256").update(m).digest();
    const end = Math.min(32, data.length - i * 32);
    for (let j = 0; j < end; j++) data[i * 32 + j]! ^= h[j]!;
  }
}

const SIZES = [["128 B", 128], ["1 KB", 1024], ["64 KB", 65536]] as const;

for (const [label, size] of SIZES) {
  const group = `keystream ${label}`;
  const data = new Uint8Array(size).fill(0x61);
  Deno.bench({
    group,
    name: `xorKeystream (SIMD kernel from 96 B) ${label}`,
    baseline: true,
    fn() {
      xorKeystream(nonce, data, data);
    },
  });
  Deno.bench({
    group,
    name: `xorKeystreamScalar (generated JavaScript; the fallback) ${label}`,
    fn() {
      xorKeystreamScalar(nonce, data, data);
    },
  });
  Deno.bench({
    group,
    name: `node:crypto SHA-256 per 32-byte block (reference) ${label}`,
    fn() {
      referenceXor(data);
    },
  });
}

// Start-up: what loading a generated module costs (the listing decoded,
// compiled and instantiated).
const listings = await Promise.all(
  ["keystream_wasm.gen.ts", "chacha_wasm.gen.ts"].map(async (file) => {
    const src = await Deno.readTextFile(new URL(file, import.meta.url));
    return src.slice(
      src.indexOf("decodeListing(`") + 15,
      src.lastIndexOf("`)"),
    );
  }),
);
Deno.bench({
  group: "load",
  name: "decode the keystream module's listing",
  baseline: true,
  fn() {
    decodeListing(listings[0]!);
  },
});
Deno.bench({
  group: "load",
  name: "decode and compile the keystream module",
  fn() {
    new WebAssembly.Module(decodeListing(listings[0]!));
  },
});
Deno.bench({
  group: "load",
  name: "decode and compile the AEAD module",
  fn() {
    new WebAssembly.Module(decodeListing(listings[1]!));
  },
});
