/**
 * {@linkcode NodeManager}: keeps a node's identity on disk in the files and
 * formats Go nodes use (`private.key` as 32 raw bytes, `node.json` as
 * indented JSON) and derives pairwise secrets from it.
 *
 * @module
 */

import { hostname } from "node:os";
import { marshalGo } from "./_go_json.ts";
import { readFileIfExists } from "./_fs.ts";
import { writeFileAtomic } from "./files.ts";
import { defaultPaths } from "./_paths.ts";
import {
  computeSharedSecret,
  deriveNodeId,
  encodePublicKey,
  generateKeyPair,
  IdentityError,
  KEY_SIZE,
  NODE_ROLES,
  type NodeIdentity,
  type NodeRole,
  publicKeyFromPrivate,
} from "./identity.ts";
import { formatGoTime } from "./_go_time.ts";

/** Options for {@linkcode NodeManager.open}. */
export interface NodeManagerOptions {
  /** Path of the raw private key (default `<XDG data>/lethean-desktop/node/private.key`). */
  keyPath?: string;
  /** Path of the identity JSON (default `<XDG config>/lethean-desktop/node.json`). */
  configPath?: string;
  /** Clock for `createdAt`; defaults to `() => new Date()`. */
  now?: () => Date;
}

/** Options for {@linkcode NodeManager.fromPrivateKey}. */
export interface InMemoryIdentityOptions {
  /** The node's name. */
  name: string;
  /** The node's role. */
  role: NodeRole;
  /** RFC 3339 creation time; defaults to now. */
  createdAt?: string;
}

/** The name used when the host name is unavailable. */
export const DEFAULT_NODE_NAME = "lethean-node";

/**
 * Turns a host name into a name that passes peer-name validation (letters,
 * digits, `-`, `_`, space; at most 64 bytes; alphanumeric at both ends), so
 * Go responders can auto-register the node.
 *
 * @param name The raw name (for example a host name with dots).
 * @returns A valid peer name, or `lethean-node`.
 *
 * @example Dots become hyphens
 * ```ts
 * import { safeNodeName } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(safeNodeName("miner-01.example.org"), "miner-01-example-org");
 * assert.equal(safeNodeName("..."), "lethean-node");
 * ```
 */
export function safeNodeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_ -]/g, "-").slice(0, 64)
    .replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
  return cleaned.length > 0 ? cleaned : DEFAULT_NODE_NAME;
}

function isRole(v: unknown): v is NodeRole {
  return typeof v === "string" && (NODE_ROLES as readonly string[]).includes(v);
}

/**
 * Owns a node's identity: loads it from disk, generates and saves it, and
 * derives shared secrets with peers.
 *
 * Differences from the Go reference: the private key is created with mode
 * 0600 from its first byte and every write is atomic; a corrupt or
 * mismatched identity is reported (see {@linkcode NodeManager.loadError}) and
 * never silently replaced; the in-memory identity changes only after both
 * files are written.
 *
 * @example Generating an identity in a temporary directory
 * ```ts
 * import { NodeManager } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const nm = await NodeManager.open({
 *   keyPath: `${dir}/private.key`,
 *   configPath: `${dir}/node.json`,
 * });
 * assert.equal(nm.getIdentity(), undefined);
 * const id = await nm.generateIdentity("alpha", "worker");
 * assert.equal(id.id.length, 32);
 * const again = await NodeManager.open({
 *   keyPath: `${dir}/private.key`,
 *   configPath: `${dir}/node.json`,
 * });
 * assert.equal(again.getIdentity()?.id, id.id);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class NodeManager {
  readonly #keyPath: string | undefined;
  readonly #configPath: string | undefined;
  readonly #now: () => Date;
  #identity: NodeIdentity | undefined;
  #privateKey: Uint8Array | undefined;
  #loadError: IdentityError | undefined;

  private constructor(
    keyPath: string | undefined,
    configPath: string | undefined,
    now: () => Date,
  ) {
    this.#keyPath = keyPath;
    this.#configPath = configPath;
    this.#now = now;
  }

  /**
   * Opens the identity at the given (or default XDG) paths. Never throws for
   * missing or broken files: with no files there is no identity; with broken
   * files there is no identity and {@linkcode NodeManager.loadError} says why.
   *
   * @param options Paths and clock.
   * @returns The manager.
   */
  static async open(options: NodeManagerOptions = {}): Promise<NodeManager> {
    const defaults = options.keyPath && options.configPath
      ? undefined
      : defaultPaths();
    const nm = new NodeManager(
      options.keyPath ?? defaults!.privateKey,
      options.configPath ?? defaults!.identity,
      options.now ?? (() => new Date()),
    );
    await nm.#load();
    return nm;
  }

  /**
   * Opens the identity and generates one (role `dual`, named after the host)
   * when neither file exists. An identity that exists but cannot be loaded is
   * never overwritten: this fails with the load error instead.
   *
   * @param options Paths and clock.
   * @returns The manager, with an identity.
   * @throws {IdentityError} `corrupt_identity` or `identity_mismatch` naming
   * the file; `write_failed` when the new files cannot be written.
   */
  static async loadOrCreate(
    options: NodeManagerOptions = {},
  ): Promise<NodeManager> {
    const nm = await NodeManager.open(options);
    if (nm.#loadError) throw nm.#loadError;
    if (!nm.#identity) {
      let host = "";
      try {
        host = hostname();
      } catch {
        // unavailable
      }
      await nm.generateIdentity(safeNodeName(host), "dual");
    }
    return nm;
  }

  /**
   * Builds a manager that holds an identity in memory only (no files), from
   * an existing raw private key.
   *
   * @param privateKey The 32-byte private key (copied).
   * @param options Name, role and creation time.
   * @returns The manager.
   * @throws {RangeError} When the key is not 32 bytes.
   */
  static fromPrivateKey(
    privateKey: Uint8Array,
    options: InMemoryIdentityOptions,
  ): NodeManager {
    const nm = new NodeManager(undefined, undefined, () => new Date());
    const publicKey = publicKeyFromPrivate(privateKey);
    nm.#privateKey = privateKey.slice();
    nm.#identity = {
      id: deriveNodeId(publicKey),
      name: options.name,
      publicKey: encodePublicKey(publicKey),
      createdAt: options.createdAt ?? formatGoTime(new Date()),
      role: options.role,
    };
    return nm;
  }

  /** Path of the private key file, when the identity lives on disk. */
  get keyPath(): string | undefined {
    return this.#keyPath;
  }

  /** Path of the identity JSON file, when the identity lives on disk. */
  get configPath(): string | undefined {
    return this.#configPath;
  }

  /** Why the files on disk could not be loaded, if they could not. */
  get loadError(): IdentityError | undefined {
    return this.#loadError;
  }

  /**
   * Tells whether an identity is loaded.
   *
   * @returns `true` when there is an identity.
   */
  hasIdentity(): boolean {
    return this.#identity !== undefined;
  }

  /**
   * Returns a copy of the identity, or `undefined` when there is none.
   *
   * @returns The identity.
   */
  getIdentity(): NodeIdentity | undefined {
    return this.#identity ? { ...this.#identity } : undefined;
  }

  async #load(): Promise<void> {
    const keyPath = this.#keyPath!;
    const configPath = this.#configPath!;
    let keyBytes: Uint8Array | undefined;
    let json: Uint8Array | undefined;
    try {
      keyBytes = await readFileIfExists(keyPath);
    } catch (err) {
      this.#loadError = new IdentityError(
        "corrupt_identity",
        `Cannot load identity: cannot read private key ${keyPath}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
      return;
    }
    try {
      json = await readFileIfExists(configPath);
    } catch (err) {
      this.#loadError = new IdentityError(
        "corrupt_identity",
        `Cannot load identity: cannot read ${configPath}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
      return;
    }
    if (keyBytes === undefined && json === undefined) return;
    if (keyBytes === undefined) {
      this.#loadError = new IdentityError(
        "corrupt_identity",
        `Cannot load identity: ${configPath} exists but the private key ${keyPath} is missing`,
      );
      return;
    }
    if (json === undefined) {
      this.#loadError = new IdentityError(
        "corrupt_identity",
        `Cannot load identity: the private key ${keyPath} exists but ${configPath} is missing`,
      );
      return;
    }
    if (keyBytes.length !== KEY_SIZE) {
      this.#loadError = new IdentityError(
        "corrupt_identity",
        `Cannot load identity: private key ${keyPath} is ${keyBytes.length} bytes, expected 32`,
      );
      return;
    }
    let parsed: Record<string, unknown>;
    try {
      const v = JSON.parse(
        new TextDecoder("utf-8", { fatal: true }).decode(json),
      );
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        throw new TypeError("not a JSON object");
      }
      parsed = v as Record<string, unknown>;
    } catch (err) {
      this.#loadError = new IdentityError(
        "corrupt_identity",
        `Cannot load identity: ${configPath} is not valid identity JSON: ${
          (err as Error).message
        }`,
        { cause: err },
      );
      return;
    }
    const publicKey = encodePublicKey(publicKeyFromPrivate(keyBytes));
    const id = deriveNodeId(publicKey);
    if (
      (typeof parsed.publicKey === "string" &&
        parsed.publicKey !== publicKey) ||
      (typeof parsed.id === "string" && parsed.id !== id)
    ) {
      this.#loadError = new IdentityError(
        "identity_mismatch",
        `Cannot load identity: ${configPath} names a different key than ${keyPath}`,
      );
      return;
    }
    this.#privateKey = keyBytes;
    this.#identity = {
      id,
      name: typeof parsed.name === "string" ? parsed.name : "",
      publicKey,
      createdAt: typeof parsed.createdAt === "string"
        ? parsed.createdAt
        : "0001-01-01T00:00:00Z",
      role: isRole(parsed.role) ? parsed.role : "dual",
    };
  }

  /**
   * Generates a new identity and writes both files (the key atomically with
   * mode 0600, then `node.json`). The in-memory identity changes only when
   * both writes succeed. Refuses to replace files that failed to load: call
   * {@linkcode NodeManager.delete} first.
   *
   * @param name The node's name.
   * @param role The node's role.
   * @returns A copy of the new identity.
   * @throws {IdentityError} `corrupt_identity` when broken files are present,
   * `write_failed` when writing fails.
   * @throws {TypeError} When the role is not a known role.
   */
  async generateIdentity(name: string, role: NodeRole): Promise<NodeIdentity> {
    if (!isRole(role)) {
      throw new TypeError(
        `Cannot generate identity: role must be controller, worker or dual, got ${
          JSON.stringify(role)
        }`,
      );
    }
    if (this.#loadError) throw this.#loadError;
    const pair = generateKeyPair();
    const publicKey = encodePublicKey(pair.publicKey);
    const identity: NodeIdentity = {
      id: deriveNodeId(pair.publicKey),
      name,
      publicKey,
      createdAt: formatGoTime(this.#now()),
      role,
    };
    if (this.#keyPath && this.#configPath) {
      try {
        await writeFileAtomic(this.#keyPath, pair.privateKey, {
          mode: 0o600,
          dirMode: 0o700,
        });
      } catch (err) {
        throw new IdentityError(
          "write_failed",
          `Cannot save private key ${this.#keyPath}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      try {
        await writeFileAtomic(this.#configPath, identityJson(identity), {
          mode: 0o644,
        });
      } catch (err) {
        throw new IdentityError(
          "write_failed",
          `Cannot save identity ${this.#configPath}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    this.#privateKey?.fill(0);
    this.#privateKey = pair.privateKey;
    this.#identity = identity;
    return { ...identity };
  }

  /**
   * Renames the identity: `node.json` is rewritten atomically (when the
   * manager has files) and the in-memory identity changes only after the
   * write succeeded. The key, ID and creation time stay.
   *
   * @param name The new name.
   * @returns A copy of the renamed identity.
   * @throws {IdentityError} `no_identity`, or `write_failed`.
   * @throws {TypeError} When the name is not a string.
   *
   * @example Renaming an in-memory identity
   * ```ts
   * import { NodeManager } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const m = NodeManager.fromPrivateKey(new Uint8Array(32).fill(3), { name: "old", role: "worker" });
   * const id = m.getIdentity()!.id;
   * assert.equal((await m.rename("new")).name, "new");
   * assert.equal(m.getIdentity()!.id, id);
   * ```
   */
  async rename(name: string): Promise<NodeIdentity> {
    if (typeof name !== "string") {
      throw new TypeError("Cannot rename identity: the name must be a string");
    }
    if (!this.#identity) {
      throw new IdentityError(
        "no_identity",
        "Cannot rename identity: node identity not initialized",
      );
    }
    const renamed: NodeIdentity = { ...this.#identity, name };
    if (this.#configPath) {
      try {
        await writeFileAtomic(this.#configPath, identityJson(renamed), {
          mode: 0o644,
        });
      } catch (err) {
        throw new IdentityError(
          "write_failed",
          `Cannot save identity ${this.#configPath}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    this.#identity = renamed;
    return { ...renamed };
  }

  /**
   * Derives the shared secret with a peer: SHA-256 of the X25519 result.
   *
   * @param peerPublicKey The peer's base64 public key.
   * @returns The 32-byte secret (the caller owns it).
   * @throws {IdentityError} `no_identity`, `invalid_peer_key` or `low_order_key`.
   */
  deriveSharedSecret(peerPublicKey: string): Uint8Array<ArrayBuffer> {
    if (!this.#privateKey) {
      throw new IdentityError(
        "no_identity",
        "Cannot derive shared secret: node identity not initialized",
      );
    }
    return computeSharedSecret(this.#privateKey, peerPublicKey);
  }

  /**
   * Removes both files (absent files are fine) and forgets the identity.
   *
   * @returns Resolves when the files are gone.
   * @throws {Error} File-system errors other than not-found.
   */
  async delete(): Promise<void> {
    for (const path of [this.#keyPath, this.#configPath]) {
      if (!path) continue;
      try {
        await Deno.remove(path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    this.#privateKey?.fill(0);
    this.#privateKey = undefined;
    this.#identity = undefined;
    this.#loadError = undefined;
  }
}

/**
 * Serialises an identity as Go writes `node.json`: 2-space indentation,
 * HTML escaping on, keys `id, name, publicKey, createdAt, role`, no trailing
 * newline.
 *
 * @param identity The identity.
 * @returns The JSON text.
 *
 * @example Go's layout
 * ```ts
 * import { identityJson } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const text = identityJson({
 *   id: "aaa8fff703b50b2297f4f6e13508f724",
 *   name: "node-a",
 *   publicKey: "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=",
 *   createdAt: "2026-02-19T09:30:00.5+01:00",
 *   role: "controller",
 * });
 * assert.ok(text.startsWith('{\n  "id": "aaa8fff703b50b2297f4f6e13508f724",\n  "name"'));
 * ```
 */
export function identityJson(identity: NodeIdentity): string {
  return marshalGo({
    id: identity.id,
    name: identity.name,
    publicKey: identity.publicKey,
    createdAt: identity.createdAt,
    role: identity.role,
  }, { escapeHtml: true, indent: "  " });
}
