import assert from "node:assert/strict";
import fc from "fast-check";
import { deriveNodeId, encodePublicKey, generateKeyPair } from "../identity.ts";
import { TrustError } from "./errors.ts";
import {
  isPairingCode,
  pairingCode,
  parseControllerKey,
  parsePairingCode,
} from "./pairing.ts";

const KEY = "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=";

function invalidCode(e: unknown): boolean {
  return e instanceof TrustError && e.code === "invalid_code";
}

Deno.test("pairingCode() is prefix, key, ID check and name; safe unquoted in a shell", () => {
  const code = pairingCode({ publicKey: KEY, name: "my node" });
  assert.equal(code, `lthn-pair1.${KEY}.aaa8fff7.my%20node`);
  assert.match(code, /^[A-Za-z0-9+/=.%_-]+$/);
  assert.equal(pairingCode({ publicKey: KEY }), `lthn-pair1.${KEY}.aaa8fff7`);
  assert.throws(() => pairingCode({ publicKey: "short" }), RangeError);
});

Deno.test("parsePairingCode() reads codes back, ignoring surrounding white space", () => {
  const c = parsePairingCode(
    `  ${pairingCode({ publicKey: KEY, name: "my node" })}\n`,
  );
  assert.deepEqual(c, {
    publicKey: KEY,
    nodeId: deriveNodeId(KEY),
    name: "my node",
  });
  assert.equal(parsePairingCode(`lthn-pair1.${KEY}.AAA8FFF7`).name, "");
});

Deno.test("parsePairingCode() catches typos, truncation and wrong versions", () => {
  const good = pairingCode({ publicKey: KEY, name: "alpha" });
  const bad = [
    good.replace("B6N8", "B6N9"), // a typo in the key: the check no longer matches
    good.replace(".aaa8fff7.", ".aaa8fff8."),
    good.slice(0, 30),
    good.replace("lthn-pair1", "lthn-pair2"),
    `${good}.extra`,
    `lthn-pair1.${KEY}`,
    good.replace("alpha", "al%ZZpha"),
    good.replace("alpha", "bad%40name"),
    "lthn-pair1." + "A".repeat(600),
  ];
  for (const b of bad) assert.throws(() => parsePairingCode(b), invalidCode, b);
});

Deno.test("parseControllerKey() takes a code or a key, in standard, unpadded or URL-safe base64", () => {
  const urlSafe = KEY.replace("/", "_").replace(/=$/, "");
  for (const t of [KEY, ` ${KEY} `, urlSafe, pairingCode({ publicKey: KEY })]) {
    assert.equal(parseControllerKey(t).publicKey, KEY, t);
  }
  for (const t of ["", "x", KEY.slice(1), KEY + "AAAA"]) {
    assert.throws(
      () => parseControllerKey(t),
      (e) => e instanceof TrustError && e.code === "invalid_key",
      t,
    );
  }
  assert.throws(() => parseControllerKey("LTHN-PAIR1.x"), invalidCode);
  assert.equal(isPairingCode(KEY), false);
});

Deno.test("pairing codes round-trip for any key and valid name (property)", () => {
  const name = fc.stringMatching(
    /^[A-Za-z0-9]([A-Za-z0-9_ -]{0,20}[A-Za-z0-9])?$/,
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      name,
      (raw, n) => {
        const publicKey = encodePublicKey(raw);
        const c = parsePairingCode(pairingCode({ publicKey, name: n }));
        assert.equal(c.publicKey, publicKey);
        assert.equal(c.name, n);
      },
    ),
  );
});

Deno.test("parsePairingCode() on arbitrary text yields a key or a TrustError (fuzz)", () => {
  const key = encodePublicKey(generateKeyPair().publicKey);
  const code = pairingCode({ publicKey: key, name: "n" });
  fc.assert(
    fc.property(fc.string(), fc.nat(code.length), (junk, at) => {
      for (const t of [junk, code.slice(0, at) + junk + code.slice(at)]) {
        try {
          parseControllerKey(t);
        } catch (e) {
          assert.ok(e instanceof TrustError, String(e));
        }
      }
    }),
  );
});
