/**
 * Borg DataNode: an in-memory file map that travels as a tar archive
 * (crypto-formats.md §7.2). Tar reading and writing use the npm
 * `tar-stream` library.
 *
 * @module
 */

import { tar } from "./_tar.ts";
import { Buffer } from "node:buffer";
import { BorgError } from "./errors.ts";

/** One stored file. */
export interface DataNodeFile {
  /** The content. */
  data: Uint8Array;
  /** When the file was added (written as the tar mtime). */
  mtime: Date;
}

/** Limits for {@linkcode DataNode.fromTar}. */
export interface DataNodeFromTarOptions {
  /** Maximum number of tar entries (default 100 000). */
  maxEntries?: number;
  /** Maximum total bytes of file content kept (default 1 GiB). */
  maxTotalBytes?: number;
}

/** Default entry cap of {@linkcode DataNode.fromTar}. */
export const DATANODE_MAX_ENTRIES = 100_000;
/** Default content cap of {@linkcode DataNode.fromTar}. */
export const DATANODE_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;

/**
 * A Borg DataNode: paths (no leading `/`) to file contents.
 *
 * `toTar` writes one USTAR entry per file (mode 0600, uid/gid 0, mtime of
 * the file) in insertion order (Go uses random map order) and no directory
 * entries; an empty DataNode is 1024 zero bytes. `fromTar` keeps regular
 * files only, strips one leading `/`, ignores names that are empty or end in
 * `/`, lets a later entry replace an earlier one and drops modes.
 *
 * @example Round trip through tar
 * ```ts
 * import { DataNode } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dn = new DataNode();
 * dn.addFile("bin/miner", new TextEncoder().encode("#!/bin/sh\n"));
 * const back = await DataNode.fromTar(await dn.toTar());
 * assert.deepEqual(back.paths(), ["bin/miner"]);
 * assert.equal(new TextDecoder().decode(back.getFile("bin/miner")), "#!/bin/sh\n");
 * ```
 */
export class DataNode {
  #files = new Map<string, DataNodeFile>();

  /**
   * Adds or replaces a file. The data is kept by reference.
   *
   * @param path The path; one leading `/` is stripped.
   * @param data The content.
   * @param mtime Modification time (default now).
   * @throws {RangeError} When the path is empty or ends in `/`.
   */
  addFile(path: string, data: Uint8Array, mtime: Date = new Date()): void {
    const p = path.startsWith("/") ? path.slice(1) : path;
    if (p === "" || p.endsWith("/")) {
      throw new RangeError(
        `Cannot add file to DataNode: invalid path "${path}"`,
      );
    }
    this.#files.set(p, { data, mtime });
  }

  /**
   * Returns a file's content.
   *
   * @param path The stored path.
   * @returns The content, or undefined.
   */
  getFile(path: string): Uint8Array | undefined {
    return this.#files.get(path)?.data;
  }

  /**
   * Lists the stored paths in insertion order.
   *
   * @returns The paths.
   */
  paths(): string[] {
    return [...this.#files.keys()];
  }

  /** Number of files. */
  get size(): number {
    return this.#files.size;
  }

  /**
   * Serialises the DataNode as Go's `(*DataNode).ToTar` does.
   *
   * @returns The tar archive.
   */
  async toTar(): Promise<Uint8Array<ArrayBuffer>> {
    const pack = tar.pack();
    const done = collect(pack);
    for (const [name, file] of this.#files) {
      await new Promise<void>((resolve, reject) => {
        pack.entry(
          {
            name,
            mode: 0o600,
            size: file.data.length,
            mtime: new Date(Math.floor(file.mtime.getTime() / 1000) * 1000),
            uid: 0,
            gid: 0,
            uname: "",
            gname: "",
            type: "file",
          },
          toBuffer(file.data),
          (err) => (err ? reject(err) : resolve()),
        );
      });
    }
    pack.finalize();
    return await done;
  }

  /**
   * Reads a tar archive as Go's `datanode.FromTar` does (USTAR, PAX and GNU
   * long names).
   *
   * @param archive The tar bytes.
   * @param options Entry and size caps.
   * @returns The DataNode.
   * @throws {BorgError} `invalid_tar` when the archive is malformed or over
   *   a cap.
   */
  static async fromTar(
    archive: Uint8Array,
    options: DataNodeFromTarOptions = {},
  ): Promise<DataNode> {
    const maxEntries = options.maxEntries ?? DATANODE_MAX_ENTRIES;
    const maxTotal = options.maxTotalBytes ?? DATANODE_MAX_TOTAL_BYTES;
    const dn = new DataNode();
    const extract = tar.extract({ allowUnknownFormat: true });
    extract.end(toBuffer(archive));
    let entries = 0;
    let total = 0;
    try {
      for await (const entry of extract) {
        const h = entry.header;
        if (++entries > maxEntries) {
          throw new BorgError(
            "invalid_tar",
            `Cannot read tar: more than ${maxEntries} entries`,
          );
        }
        let name = h.name;
        if (name.startsWith("/")) name = name.slice(1);
        const keep = h.type === "file" && name !== "" && !name.endsWith("/");
        const chunks: Uint8Array[] = [];
        let size = 0;
        for await (const chunk of entry as AsyncIterable<Uint8Array>) {
          if (!keep) continue;
          size += chunk.length;
          total += chunk.length;
          if (total > maxTotal) {
            throw new BorgError(
              "invalid_tar",
              `Cannot read tar: content exceeds ${maxTotal} bytes`,
            );
          }
          chunks.push(chunk);
        }
        if (keep) {
          dn.#files.set(name, {
            data: concat(chunks, size),
            mtime: new Date(),
          });
        }
      }
    } catch (cause) {
      extract.destroy();
      if (cause instanceof BorgError) throw cause;
      throw new BorgError("invalid_tar", "Cannot read tar: malformed archive", {
        cause,
      });
    }
    return dn;
  }
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function concat(chunks: Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function collect(
  stream: AsyncIterable<Uint8Array>,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of stream) {
    chunks.push(c);
    size += c.length;
  }
  return concat(chunks, size);
}
