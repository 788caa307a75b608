// Helpers for the Borg tests: vector loading and odd-offset copies.
import { tar, type TarHeader } from "./_tar.ts";
import { Buffer } from "node:buffer";
import { fromHex } from "../_base64.ts";

const ROOT = new URL("../../testdata/borg/", import.meta.url);

/** Reads a vector file's bytes. */
export function readVector(path: string): Uint8Array<ArrayBuffer> {
  return Deno.readFileSync(new URL(path, ROOT));
}

/** Reads a JSON sidecar. */
export function readSidecar(path: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(new URL(path, ROOT)));
}

/** Copies bytes into a larger buffer at an odd offset and returns the view. */
export function atOddOffset(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(bytes.length + 7);
  big.fill(0xa5);
  big.set(bytes, 3);
  return big.subarray(3, 3 + bytes.length);
}

export { fromHex };

/** A tar entry for {@linkcode makeTar}; `body` for files. */
export interface TarEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "fifo";
  body?: string | Uint8Array;
  linkname?: string;
  mode?: number;
  /** PAX extended header records. */
  pax?: Record<string, string>;
}

/** Builds a tar archive with tar-stream (for hostile-input tests). */
export async function makeTar(
  entries: TarEntry[],
): Promise<Uint8Array<ArrayBuffer>> {
  const pack = tar.pack();
  for (const e of entries) {
    const header: TarHeader = { name: e.name, type: e.type ?? "file" };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    if (e.mode !== undefined) header.mode = e.mode;
    if (e.pax !== undefined) header.pax = e.pax;
    if ((e.type ?? "file") === "file") {
      const body = typeof e.body === "string" || e.body === undefined
        ? Buffer.from(e.body ?? "")
        : Buffer.from(e.body);
      pack.entry(header, body);
    } else {
      pack.entry(header);
    }
  }
  pack.finalize();
  const chunks: Uint8Array[] = [];
  for await (const c of pack) chunks.push(c);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
