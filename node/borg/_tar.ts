/**
 * The npm `tar-stream` library with minimal local type declarations (the
 * package ships none, and `@types/tar-stream` drags in `@types/node`).
 * Only what the DataNode and the extraction policy use is declared.
 *
 * @module
 */

import tarStream from "tar-stream";

/** A tar entry header as `tar-stream` reads and writes it. */
export interface TarHeader {
  /** Entry path. */
  name: string;
  /** Entry kind. */
  type?:
    | "file"
    | "link"
    | "symlink"
    | "directory"
    | "character-device"
    | "block-device"
    | "fifo"
    | "contiguous-file"
    | "pax-header"
    | "pax-global-header"
    | "gnu-long-link-path"
    | "gnu-long-path"
    | null;
  /** Permission bits. */
  mode?: number;
  /** Content length. */
  size?: number;
  /** Modification time. */
  mtime?: Date;
  /** Owner id. */
  uid?: number;
  /** Group id. */
  gid?: number;
  /** Owner name. */
  uname?: string;
  /** Group name. */
  gname?: string;
  /** Link target. */
  linkname?: string | null;
  /** PAX extended header records of this entry (read and write). */
  pax?: Record<string, string> | null;
}

/** One entry being read: its header and a stream of its content. */
export interface TarReadEntry extends AsyncIterable<Uint8Array> {
  /** The header. */
  header: TarHeader;
}

/** A tar reader fed with `end(bytes)` and iterated for entries. */
export interface TarExtract extends AsyncIterable<TarReadEntry> {
  /** Supplies the whole archive. */
  end(chunk: Uint8Array): void;
  /** Stops reading. */
  destroy(): void;
}

/** A tar writer: add entries, finalize, iterate the output chunks. */
export interface TarPack extends AsyncIterable<Uint8Array> {
  /** Adds an entry. */
  entry(
    header: TarHeader,
    body?: Uint8Array | string,
    callback?: (err?: Error | null) => void,
  ): unknown;
  /** Writes the end-of-archive blocks. */
  finalize(): void;
}

interface TarStreamModule {
  pack(): TarPack;
  extract(options?: { allowUnknownFormat?: boolean }): TarExtract;
}

/** The `tar-stream` module. */
export const tar: TarStreamModule = tarStream as unknown as TarStreamModule;
