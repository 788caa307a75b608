import {
  decodeHeader,
  decodeStorage,
  encodeMoneroHandshake,
  encodeStorage,
  HEADER_SIZE,
  type Section,
} from "@lthn/p2p/levin";

const frame = Deno.readFileSync(
  new URL("../testdata/levin/handshake-request.bin", import.meta.url),
);
const handshake = frame.slice(HEADER_SIZE);
const handshakeRoot = decodeStorage(handshake);

// 1 MB blob: one 1 MiB string value (a block or transaction body).
const blobRoot: Section = new Map([
  ["blob", { type: "string", value: new Uint8Array(1 << 20).fill(7) }],
]);
const blob = encodeStorage(blobRoot);

// ~1 MB of structure: 20 000 peer-list-like objects.
const peers: Section[] = [];
for (let i = 0; i < 20_000; i++) {
  peers.push(
    new Map([
      ["adr", {
        type: "object",
        value: new Map([
          ["addr", {
            type: "object",
            value: new Map([
              ["m_ip", { type: "uint32", value: i }],
              ["m_port", { type: "uint16", value: 18080 }],
            ]),
          }],
          ["type", { type: "uint8", value: 1 }],
        ]),
      }],
      ["id", { type: "uint64", value: BigInt(i) }],
    ]),
  );
}
const manyRoot: Section = new Map([["peers", {
  type: "array",
  of: "object",
  value: peers,
}]]);
const many = encodeStorage(manyRoot);
const limits = { maxObjects: 100_000, maxFields: 200_000 };

Deno.bench({
  group: "handshake",
  name: "decodeStorage handshake request (318 B)",
  baseline: true,
  fn: () => {
    decodeStorage(handshake);
  },
});
Deno.bench({
  group: "handshake",
  name: "encodeStorage handshake request (318 B)",
  fn: () => {
    encodeStorage(handshakeRoot);
  },
});
Deno.bench({
  group: "handshake",
  name: "encodeMoneroHandshake (typed shape → bytes)",
  fn: () => {
    encodeMoneroHandshake({
      nodeData: {
        networkId: handshake.subarray(0, 16),
        peerId: 1n,
        myPort: 0,
        supportFlags: 1,
      },
      syncData: {
        currentHeight: 1n,
        cumulativeDifficulty: 1n,
        cumulativeDifficultyTop64: 0n,
        topId: handshake.subarray(0, 32),
        topVersion: 1,
      },
    });
  },
});
Deno.bench({
  group: "handshake",
  name: "decodeHeader",
  fn: () => {
    decodeHeader(frame);
  },
});
Deno.bench({
  group: "1 MB",
  name: "decodeStorage 1 MiB string blob",
  baseline: true,
  fn: () => {
    decodeStorage(blob);
  },
});
Deno.bench({
  group: "1 MB",
  name: "encodeStorage 1 MiB string blob",
  fn: () => {
    encodeStorage(blobRoot);
  },
});
Deno.bench({
  group: "1 MB",
  name: `decodeStorage ${(many.length / 1e6).toFixed(2)} MB of 20 000 objects`,
  fn: () => {
    decodeStorage(many, limits);
  },
});
Deno.bench({
  group: "1 MB",
  name: `encodeStorage ${(many.length / 1e6).toFixed(2)} MB of 20 000 objects`,
  fn: () => {
    encodeStorage(manyRoot, {});
  },
});
