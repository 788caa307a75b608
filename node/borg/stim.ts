/**
 * STIM: a TIM (config + rootfs) sealed with the sigil in a Trix container
 * (crypto-formats.md §7.1 and §7.3).
 *
 * | Part      | Content                                                    |
 * | --------- | ---------------------------------------------------------- |
 * | container | Trix magic `STIM`, header (sizes, labels), payload         |
 * | payload   | u32be C, sealed config (C bytes), sealed rootfs tar (rest) |
 * | header    | `config_size`, `encryption_algorithm`, `rootfs_size`, `tim`, `version` (ignored when reading) |
 *
 * The key is SHA-256 of the UTF-8 password, as for SMSG.
 *
 * @module
 */

import { GoMap, marshalGo } from "../_go_json.ts";
import { DataNode, type DataNodeFromTarOptions } from "./datanode.ts";
import { BorgError } from "./errors.ts";
import { SmsgKey } from "./smsg.ts";
import { trixDecode, trixEncodeRaw } from "./trix.ts";

/** `tim.New()`'s config: Go `json.Marshal` of an empty Enchantrix Trix struct. */
export const TIM_DEFAULT_CONFIG = '{"Header":{},"Payload":null}';

/** A TIM: opaque config bytes and a root file system. */
export interface Tim {
  /** Config bytes (normally JSON). */
  config: Uint8Array;
  /** Root file system. */
  rootfs: DataNode;
}

/** The two parts of an opened STIM before the tar is parsed. */
export interface StimParts {
  /** Decrypted config bytes. */
  config: Uint8Array<ArrayBuffer>;
  /** Decrypted rootfs tar bytes. */
  rootfsTar: Uint8Array<ArrayBuffer>;
}

/** Options for {@linkcode stimSeal} and {@linkcode stimEncrypt}. */
export interface StimEncryptOptions {
  /** Fixed 24-byte nonces (tests and vectors only). */
  nonces?: { config: Uint8Array; rootfs: Uint8Array };
}

/** Options for {@linkcode stimDecrypt}. */
export type StimDecryptOptions = DataNodeFromTarOptions;

const encoder = new TextEncoder();
const MAGIC = encoder.encode("STIM");

/**
 * Creates a TIM as Go's `tim.New()`: the default config and an empty rootfs.
 *
 * @returns The TIM.
 * @example A new TIM
 * ```ts
 * import { newTim } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const tim = newTim();
 * assert.equal(new TextDecoder().decode(tim.config), '{"Header":{},"Payload":null}');
 * assert.equal(tim.rootfs.size, 0);
 * ```
 */
export function newTim(): Tim {
  return { config: encoder.encode(TIM_DEFAULT_CONFIG), rootfs: new DataNode() };
}

function toKey(password: string | SmsgKey): SmsgKey {
  return password instanceof SmsgKey
    ? password
    : SmsgKey.fromPassword(password);
}

/**
 * Seals an already serialised TIM (Go `(*TIM).ToSigil` after `ToTar`).
 *
 * @param parts The config bytes and the rootfs tar.
 * @param password The password or a derived key.
 * @param options Fixed nonces (tests only).
 * @returns The STIM container.
 * @throws {RangeError} When the password is empty or a nonce is invalid.
 * @example Sealing and opening
 * ```ts
 * import { stimOpen, stimSeal } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const stim = stimSeal({ config: new Uint8Array([123, 125]), rootfsTar: new Uint8Array(1024) }, "pw");
 * assert.deepEqual([...stimOpen(stim, "pw").config], [123, 125]);
 * ```
 */
export function stimSeal(
  parts: { config: Uint8Array; rootfsTar: Uint8Array },
  password: string | SmsgKey,
  options: StimEncryptOptions = {},
): Uint8Array<ArrayBuffer> {
  const sigil = toKey(password).sigil;
  const n = options.nonces;
  const encConfig = sigil.seal(parts.config, n ? { nonce: n.config } : {});
  const encRootfs = sigil.seal(parts.rootfsTar, n ? { nonce: n.rootfs } : {});
  const header = marshalGo(
    new GoMap({
      config_size: encConfig.length,
      encryption_algorithm: "chacha20poly1305",
      rootfs_size: encRootfs.length,
      tim: true,
      version: "1.0",
    }),
  );
  const payload = new Uint8Array(4 + encConfig.length + encRootfs.length);
  new DataView(payload.buffer).setUint32(0, encConfig.length, false);
  payload.set(encConfig, 4);
  payload.set(encRootfs, 4 + encConfig.length);
  return trixEncodeRaw(MAGIC, encoder.encode(header), payload);
}

/**
 * Opens a STIM container into its config and rootfs tar as Go's
 * `tim.FromSigil` does (the header is ignored), with a non-wrapping bounds
 * check on the config length (Go panics on `FF FF FF FF`).
 *
 * @param bytes The STIM container.
 * @param password The password or a derived key.
 * @returns The decrypted parts.
 * @throws {BorgError} Trix errors, `invalid_payload` for a bad length
 *   prefix, `ciphertext_too_short` / `decryption_failed` for either part.
 * @throws {RangeError} When the password is empty.
 * @example Rejecting a hostile length prefix
 * ```ts
 * import { BorgError, stimOpen, trixEncode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const bad = trixEncode({ magic: "STIM", header: {}, payload: new Uint8Array([255, 255, 255, 255, 0, 0]) });
 * assert.throws(() => stimOpen(bad, "pw"), (e) => e instanceof BorgError && e.code === "invalid_payload");
 * ```
 */
export function stimOpen(
  bytes: Uint8Array,
  password: string | SmsgKey,
): StimParts {
  const sigil = toKey(password).sigil;
  const { payload } = trixDecode(bytes, "STIM");
  if (payload.length < 4) {
    throw new BorgError(
      "invalid_payload",
      `Cannot open STIM: payload needs at least 4 bytes, got ${payload.length}`,
    );
  }
  const c = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
    .getUint32(0, false);
  if (c > payload.length - 4) {
    throw new BorgError(
      "invalid_payload",
      `Cannot open STIM: config size ${c} exceeds payload of ${
        payload.length - 4
      } bytes`,
    );
  }
  const open = (part: Uint8Array, what: string) => {
    try {
      return sigil.open(part);
    } catch (cause) {
      if (cause instanceof BorgError) {
        throw new BorgError(
          cause.code,
          `Cannot open STIM: ${what} decryption failed`,
          { cause },
        );
      }
      throw cause;
    }
  };
  const config = open(payload.subarray(4, 4 + c), "config");
  const rootfsTar = open(payload.subarray(4 + c), "rootfs");
  return { config, rootfsTar };
}

/**
 * Encrypts a TIM (Go `(*TIM).ToSigil`).
 *
 * @param tim The config and rootfs.
 * @param password The password or a derived key.
 * @param options Fixed nonces (tests only).
 * @returns The STIM container.
 * @throws {RangeError} When the password is empty.
 * @example Round trip
 * ```ts
 * import { newTim, stimDecrypt, stimEncrypt } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const tim = newTim();
 * tim.rootfs.addFile("a.txt", new Uint8Array([1, 2]));
 * const back = await stimDecrypt(await stimEncrypt(tim, "pw"), "pw");
 * assert.deepEqual(back.rootfs.getFile("a.txt"), new Uint8Array([1, 2]));
 * ```
 */
export async function stimEncrypt(
  tim: Tim,
  password: string | SmsgKey,
  options: StimEncryptOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const key = toKey(password);
  return stimSeal(
    { config: tim.config, rootfsTar: await tim.rootfs.toTar() },
    key,
    options,
  );
}

/**
 * Decrypts a STIM container into a TIM (Go `tim.FromSigil`).
 *
 * @param bytes The STIM container.
 * @param password The password or a derived key.
 * @param options Caps for reading the rootfs tar.
 * @returns The TIM.
 * @throws {BorgError} As {@linkcode stimOpen}, plus `invalid_tar`.
 * @throws {RangeError} When the password is empty.
 * @example Decrypting
 * ```ts
 * import { newTim, stimDecrypt, stimEncrypt } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const back = await stimDecrypt(await stimEncrypt(newTim(), "pw"), "pw");
 * assert.equal(back.rootfs.size, 0);
 * ```
 */
export async function stimDecrypt(
  bytes: Uint8Array,
  password: string | SmsgKey,
  options: StimDecryptOptions = {},
): Promise<Tim> {
  const { config, rootfsTar } = stimOpen(bytes, password);
  return { config, rootfs: await DataNode.fromTar(rootfsTar, options) };
}
