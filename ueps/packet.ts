/**
 * The UEPS packet builder and the verifying reader.
 *
 * @module
 */

import { checkByte, checkValueLength } from "./_check.ts";
import { checkKey, type HmacKey, hmacParts, tagsEqual } from "./_hmac.ts";
import { type BufferedSource, ExactSource, openSource } from "./_source.ts";
import { UepsError } from "./errors.ts";
import {
  DEFAULT_LAYER,
  DEFAULT_VERSION,
  FRAME_OVERHEAD_BYTES,
  HEADER_BYTES,
  HMAC_BYTES,
  MAX_TLV_VALUE_BYTES,
  TAG_CURRENT_LAYER,
  TAG_HMAC,
  TAG_INTENT,
  TAG_PAYLOAD,
  TAG_TARGET_LAYER,
  TAG_THREAT_SCORE,
  TAG_VERSION,
  TLV_HEADER_BYTES,
} from "./tlv.ts";

/** The header fields of a UEPS packet. All are unsigned integers. */
export interface UepsHeader {
  /** Protocol version (1 byte); the builder writes `0x09`. */
  version: number;
  /** Layer the packet comes from (1 byte); the builder writes 5. */
  currentLayer: number;
  /** Layer the packet is for (1 byte); the builder writes 5. */
  targetLayer: number;
  /** Intent byte that selects the handler (see the node dispatcher). */
  intentId: number;
  /** Threat score, 0–65 535 (2 bytes, big-endian); the builder writes 0. */
  threatScore: number;
}

/** A verified UEPS packet. */
export interface UepsPacket {
  /** The header fields (a field whose TLV was absent reads 0). */
  header: UepsHeader;
  /** The payload, possibly empty. */
  payload: Uint8Array;
}

/** A secret accepted by the UEPS functions: raw key bytes or a prepared key. */
export type UepsSecret = Uint8Array | HmacKey;

/** Default cap on the bytes of all TLVs before the payload. */
export const DEFAULT_MAX_HEADER_BYTES = 65_536;
/** Default cap on the number of TLVs before the payload. */
export const DEFAULT_MAX_TLVS = 64;
/** Default cap on the number of unknown-tag TLVs before the payload. */
export const DEFAULT_MAX_UNKNOWN_TLVS = 16;

/**
 * Limits applied by the readers, so that no input can make them read or keep
 * more than about `maxHeaderBytes + maxPayloadBytes` bytes per packet. Go
 * has no such limits (go-p2p node spec §13 item 12); the defaults are far
 * above anything a Go node writes.
 */
export interface ReadOptions {
  /** Largest payload accepted, 0–65 535; default 65 535. */
  maxPayloadBytes?: number;
  /** Largest total size of the TLVs before the payload; default 65 536. */
  maxHeaderBytes?: number;
  /** Most TLVs before the payload (header, HMAC, unknown); default 64. */
  maxTlvs?: number;
  /** Most unknown-tag TLVs before the payload; default 16. */
  maxUnknownTlvs?: number;
}

interface Limits {
  readonly maxPayloadBytes: number;
  readonly maxHeaderBytes: number;
  readonly maxTlvs: number;
  readonly maxUnknownTlvs: number;
}

const DEFAULT_LIMITS: Limits = Object.freeze({
  maxPayloadBytes: MAX_TLV_VALUE_BYTES,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  maxTlvs: DEFAULT_MAX_TLVS,
  maxUnknownTlvs: DEFAULT_MAX_UNKNOWN_TLVS,
});

function limitOption(
  options: ReadOptions,
  name: keyof ReadOptions,
  fallback: number,
  max: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `Cannot read UEPS packet: option ${name} must be an integer in 0-${max}, got ${
        String(value)
      }`,
    );
  }
  return value;
}

function resolveLimits(options: ReadOptions | undefined): Limits {
  if (options === undefined) return DEFAULT_LIMITS;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot read UEPS packet: options must be an object, got ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  return {
    maxPayloadBytes: limitOption(
      options,
      "maxPayloadBytes",
      MAX_TLV_VALUE_BYTES,
      MAX_TLV_VALUE_BYTES,
    ),
    maxHeaderBytes: limitOption(
      options,
      "maxHeaderBytes",
      DEFAULT_MAX_HEADER_BYTES,
      Number.MAX_SAFE_INTEGER,
    ),
    maxTlvs: limitOption(
      options,
      "maxTlvs",
      DEFAULT_MAX_TLVS,
      Number.MAX_SAFE_INTEGER,
    ),
    maxUnknownTlvs: limitOption(
      options,
      "maxUnknownTlvs",
      DEFAULT_MAX_UNKNOWN_TLVS,
      Number.MAX_SAFE_INTEGER,
    ),
  };
}

/**
 * Builds and signs UEPS packets, byte for byte as Go's `ueps.NewBuilder` and
 * `MarshalAndSign` do.
 *
 * The frame is the five header TLVs (version, current layer, target layer,
 * intent, threat score), then the HMAC TLV carrying
 * `HMAC-SHA256(secret, headerTlvs ‖ payload)`, then the payload TLV (tag
 * `0xFF`, 2-byte length). The header fields are public and may be changed
 * before signing.
 *
 * @example Building the node spec §8 vector
 * ```ts
 * import { PacketBuilder } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const enc = new TextEncoder();
 * const frame = new PacketBuilder(0x20, enc.encode("hello UEPS"))
 *   .marshalAndSign(enc.encode("test-shared-secret-32-bytes!!!!!"));
 * assert.equal(frame.byteLength, 69);
 * assert.equal(
 *   Array.from(frame.subarray(24, 28), (b) => b.toString(16).padStart(2, "0")).join(""),
 *   "f8da7d9f",
 * );
 * ```
 */
export class PacketBuilder {
  /** The header to write; defaults as Go's (version 9, layers 5, threat 0). */
  header: UepsHeader;
  /** The payload; `null` is written as an empty payload, as Go's nil is. */
  payload: Uint8Array | null;

  /**
   * Starts a packet with Go's default header.
   *
   * @param intentId The intent byte (0–255).
   * @param payload The payload, at most 65 535 bytes; `null` or omitted
   * means empty. It is read when signing, not copied now.
   * @throws {RangeError} When `intentId` is not an integer in 0–255.
   * @throws {TypeError} When `payload` is neither bytes nor `null`.
   */
  constructor(intentId: number, payload: Uint8Array | null = null) {
    checkByte("intent", intentId);
    if (payload !== null && !(payload instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot build UEPS packet: payload must be a Uint8Array or null, got ${typeof payload}`,
      );
    }
    this.header = {
      version: DEFAULT_VERSION,
      currentLayer: DEFAULT_LAYER,
      targetLayer: DEFAULT_LAYER,
      intentId,
      threatScore: 0,
    };
    this.payload = payload;
  }

  /**
   * Writes the frame and signs it.
   *
   * @param secret The HMAC key: the pairwise shared secret for Go peers, or a
   * prepared {@linkcode HmacKey}.
   * @returns A new buffer of `59 + payload length` bytes.
   * @throws {TypeError} When `secret` or the payload has the wrong type.
   * @throws {RangeError} When a header field is out of range (bytes 0–255,
   * threat score 0–65 535).
   * @throws {UepsError} With code `value_too_large` when the payload is
   * longer than 65 535 bytes.
   *
   * @example Changing the threat score before signing
   * ```ts
   * import { PacketBuilder, readAndVerify } from "@lthn/p2p/ueps";
   * import assert from "node:assert/strict";
   *
   * const key = new TextEncoder().encode("k");
   * const builder = new PacketBuilder(0x30);
   * builder.header.threatScore = 42;
   * const packet = await readAndVerify(builder.marshalAndSign(key), key);
   * assert.equal(packet.header.threatScore, 42);
   * assert.equal(packet.payload.byteLength, 0);
   * ```
   */
  marshalAndSign(secret: UepsSecret): Uint8Array<ArrayBuffer> {
    checkKey(secret, "sign UEPS packet");
    const h = this.header;
    checkByte("version", h.version);
    checkByte("currentLayer", h.currentLayer);
    checkByte("targetLayer", h.targetLayer);
    checkByte("intent", h.intentId);
    if (
      !Number.isInteger(h.threatScore) || h.threatScore < 0 ||
      h.threatScore > 0xffff
    ) {
      throw new RangeError(
        `Cannot encode UEPS threatScore: expected an integer in 0-65535, got ${
          String(h.threatScore)
        }`,
      );
    }
    const payload = this.payload ?? new Uint8Array(0);
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot build UEPS packet: payload must be a Uint8Array or null, got ${typeof payload}`,
      );
    }
    checkValueLength(payload.byteLength);

    const n = payload.byteLength;
    const out = new Uint8Array(FRAME_OVERHEAD_BYTES + n);
    // deno-fmt-ignore
    out.set([
      TAG_VERSION, 0, 1, h.version,
      TAG_CURRENT_LAYER, 0, 1, h.currentLayer,
      TAG_TARGET_LAYER, 0, 1, h.targetLayer,
      TAG_INTENT, 0, 1, h.intentId,
      TAG_THREAT_SCORE, 0, 2, h.threatScore >>> 8, h.threatScore & 0xff,
      TAG_HMAC, 0, HMAC_BYTES,
    ]);
    const payloadAt = HEADER_BYTES + TLV_HEADER_BYTES + HMAC_BYTES;
    out[payloadAt] = TAG_PAYLOAD;
    out[payloadAt + 1] = n >>> 8;
    out[payloadAt + 2] = n & 0xff;
    out.set(payload, payloadAt + TLV_HEADER_BYTES);
    const tag = hmacParts(secret, [out.subarray(0, HEADER_BYTES), payload]);
    out.set(tag, HEADER_BYTES + TLV_HEADER_BYTES);
    return out;
  }
}

/** Counters shared by the byte and stream readers while admitting TLVs. */
interface Counts {
  tlvs: number;
  unknown: number;
  headerBytes: number;
}

function hex2(n: number): string {
  return "0x" + n.toString(16).padStart(2, "0");
}

/**
 * Checks a TLV's tag and declared length against the limits and the field
 * sizes, before any of its value is read.
 */
function admitTlv(
  counts: Counts,
  limits: Limits,
  tag: number,
  length: number,
  offset: number,
): void {
  if (tag === TAG_PAYLOAD) {
    if (length > limits.maxPayloadBytes) {
      throw new UepsError(
        "value_too_large",
        `Cannot read UEPS packet: payload of ${length} bytes exceeds the limit of ${limits.maxPayloadBytes}`,
        { offset },
      );
    }
    return;
  }
  if (++counts.tlvs > limits.maxTlvs) {
    throw new UepsError(
      "too_many_tlvs",
      `Cannot read UEPS packet: more than ${limits.maxTlvs} TLVs before the payload`,
      { offset },
    );
  }
  if (
    (tag === 0 || tag > TAG_HMAC) && ++counts.unknown > limits.maxUnknownTlvs
  ) {
    throw new UepsError(
      "too_many_tlvs",
      `Cannot read UEPS packet: more than ${limits.maxUnknownTlvs} unknown TLVs before the payload`,
      { offset },
    );
  }
  counts.headerBytes += TLV_HEADER_BYTES + length;
  if (counts.headerBytes > limits.maxHeaderBytes) {
    throw new UepsError(
      "header_too_large",
      `Cannot read UEPS packet: TLVs before the payload exceed ${limits.maxHeaderBytes} bytes`,
      { offset },
    );
  }
  const need = tag === TAG_THREAT_SCORE
    ? 2
    : tag >= TAG_VERSION && tag <= TAG_INTENT
    ? 1
    : 0;
  if (length < need) {
    throw new UepsError(
      "malformed",
      `Cannot read UEPS packet: tag ${
        hex2(tag)
      } needs ${need} value bytes, got ${length}`,
      { offset },
    );
  }
}

function truncated(what: string, offset: number): UepsError {
  return new UepsError(
    "truncated",
    `Cannot read UEPS packet: input ended inside a TLV ${what}`,
    { offset },
  );
}

function endOfStream(): UepsError {
  return new UepsError(
    "end_of_stream",
    "Cannot read UEPS packet: end of stream before the first byte",
    { offset: 0 },
  );
}

/**
 * Parses and verifies one frame at the start of `bytes`.
 *
 * @returns The packet (payload a view into `bytes`) and the frame length.
 */
function decodeFrame(
  bytes: Uint8Array,
  key: UepsSecret,
  limits: Limits,
): { packet: UepsPacket; frameLength: number } {
  const len = bytes.byteLength;
  const header: UepsHeader = {
    version: 0,
    currentLayer: 0,
    targetLayer: 0,
    intentId: 0,
    threatScore: 0,
  };
  const counts: Counts = { tlvs: 0, unknown: 0, headerBytes: 0 };
  const parts: Uint8Array[] = [];
  let signature: Uint8Array | undefined;
  let runStart = 0;
  let runEnd = -1;
  let pos = 0;
  for (;;) {
    if (pos >= len) throw pos === 0 ? endOfStream() : truncated("tag", pos);
    if (pos + TLV_HEADER_BYTES > len) throw truncated("length", pos);
    const tag = bytes[pos]!;
    const length = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
    admitTlv(counts, limits, tag, length, pos);
    const start = pos + TLV_HEADER_BYTES;
    const end = start + length;
    if (end > len) throw truncated("value", pos);
    if (tag === TAG_PAYLOAD) {
      if (signature === undefined) {
        throw new UepsError(
          "missing_hmac",
          "Cannot read UEPS packet: UEPS packet missing HMAC signature",
          { offset: pos },
        );
      }
      if (runEnd >= 0) parts.push(bytes.subarray(runStart, runEnd));
      const payload = bytes.subarray(start, end);
      parts.push(payload);
      if (!tagsEqual(hmacParts(key, parts), signature)) {
        throw new UepsError(
          "hmac_mismatch",
          "Cannot read UEPS packet: integrity violation: HMAC mismatch (ThreatScore +100)",
        );
      }
      return { packet: { header, payload }, frameLength: end };
    }
    switch (tag) {
      case TAG_HMAC:
        signature = bytes.subarray(start, end);
        break;
      case TAG_VERSION:
        header.version = bytes[start]!;
        break;
      case TAG_CURRENT_LAYER:
        header.currentLayer = bytes[start]!;
        break;
      case TAG_TARGET_LAYER:
        header.targetLayer = bytes[start]!;
        break;
      case TAG_INTENT:
        header.intentId = bytes[start]!;
        break;
      case TAG_THREAT_SCORE:
        header.threatScore = (bytes[start]! << 8) | bytes[start + 1]!;
        break;
    }
    if (tag !== TAG_HMAC) {
      // Signed data: every non-HMAC TLV in order. Adjacent TLVs are hashed
      // as one run, straight from the input.
      if (pos !== runEnd) {
        if (runEnd >= 0) parts.push(bytes.subarray(runStart, runEnd));
        runStart = pos;
      }
      runEnd = end;
    }
    pos = end;
  }
}

/**
 * Finds the end of the frame at the start of `bytes`, applying the same
 * admission checks as the decoder, without reading values.
 *
 * @returns The frame length, or -1 when more bytes are needed.
 */
function scanFrame(bytes: Uint8Array, limits: Limits): number {
  const counts: Counts = { tlvs: 0, unknown: 0, headerBytes: 0 };
  const len = bytes.byteLength;
  let pos = 0;
  for (;;) {
    if (pos + TLV_HEADER_BYTES > len) return -1;
    const tag = bytes[pos]!;
    const length = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
    admitTlv(counts, limits, tag, length, pos);
    pos += TLV_HEADER_BYTES + length;
    if (tag === TAG_PAYLOAD) return pos <= len ? pos : -1;
  }
}

/**
 * Reads one frame's bytes from a byte stream, admitting each TLV before
 * reading its value, and taking nothing after the payload. Returns
 * `undefined` when the stream ends before the first byte.
 */
async function readExactFrame(
  source: ExactSource,
  limits: Limits,
): Promise<Uint8Array | undefined> {
  const pieces: Uint8Array[] = [];
  const counts: Counts = { tlvs: 0, unknown: 0, headerBytes: 0 };
  let total = 0;
  for (;;) {
    const head = await source.read(TLV_HEADER_BYTES);
    if (head.byteLength < TLV_HEADER_BYTES) {
      if (total === 0 && head.byteLength === 0) return undefined;
      throw truncated(head.byteLength === 0 ? "tag" : "length", total);
    }
    const tag = head[0]!;
    const length = (head[1]! << 8) | head[2]!;
    admitTlv(counts, limits, tag, length, total);
    pieces.push(head);
    total += TLV_HEADER_BYTES;
    if (length > 0) {
      const value = await source.read(length);
      if (value.byteLength < length) {
        throw truncated("value", total - TLV_HEADER_BYTES);
      }
      pieces.push(value);
      total += length;
    }
    if (tag === TAG_PAYLOAD) break;
  }
  const frame = new Uint8Array(total);
  let at = 0;
  for (const piece of pieces) {
    frame.set(piece, at);
    at += piece.byteLength;
  }
  return frame;
}

/**
 * Reads and verifies the next packet from a stream. Returns `undefined` when
 * the stream ends cleanly before the first byte of a packet.
 */
async function nextPacket(
  source: ExactSource | BufferedSource,
  key: UepsSecret,
  limits: Limits,
): Promise<UepsPacket | undefined> {
  if (source instanceof ExactSource) {
    const frame = await readExactFrame(source, limits);
    return frame === undefined
      ? undefined
      : decodeFrame(frame, key, limits).packet;
  }
  for (;;) {
    const bytes = source.bytes;
    const n = bytes.byteLength === 0 ? -1 : scanFrame(bytes, limits);
    if (n >= 0) {
      const { packet } = decodeFrame(bytes.subarray(0, n), key, limits);
      source.consume(n);
      // The buffer is reused or belongs to the stream's producer: copy.
      packet.payload = packet.payload.slice();
      return packet;
    }
    if (!source.done && await source.pull()) continue;
    if (source.bytes.byteLength === 0) return undefined;
    // Ended inside a packet: the decoder names the truncated field.
    decodeFrame(source.bytes, key, limits);
    throw truncated("tag", source.bytes.byteLength);
  }
}

function checkInput(input: unknown): void {
  if (!(input instanceof Uint8Array) && !(input instanceof ReadableStream)) {
    throw new TypeError(
      `Cannot read UEPS packet: input must be a Uint8Array or ReadableStream, got ${
        input === null ? "null" : typeof input
      }`,
    );
  }
}

/**
 * Reads and verifies one packet from the start of a byte array, synchronously
 * (the same reader as {@linkcode readAndVerify}, without the promise).
 *
 * Bytes after the payload TLV are ignored, as Go leaves them in its stream.
 *
 * @param bytes The frame.
 * @param secret The HMAC key (raw bytes or a prepared {@linkcode HmacKey}).
 * @param options Reader limits.
 * @returns The packet; its `payload` is a view into `bytes` (copy it to keep
 * it past a reuse of the buffer).
 * @throws {TypeError} When an argument has the wrong type.
 * @throws {RangeError} When an option is out of range.
 * @throws {UepsError} When the frame is empty, truncated, malformed, over a
 * limit, unsigned or forged.
 *
 * @example Verifying a frame synchronously
 * ```ts
 * import { PacketBuilder, readAndVerifySync } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const key = new TextEncoder().encode("k");
 * const frame = new PacketBuilder(0x01, new Uint8Array([0, 255])).marshalAndSign(key);
 * assert.deepEqual(readAndVerifySync(frame, key).payload, new Uint8Array([0, 255]));
 * ```
 */
export function readAndVerifySync(
  bytes: Uint8Array,
  secret: UepsSecret,
  options?: ReadOptions,
): UepsPacket {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot read UEPS packet: input must be a Uint8Array, got ${
        bytes === null ? "null" : typeof bytes
      }`,
    );
  }
  checkKey(secret, "read UEPS packet");
  return decodeFrame(bytes, secret, resolveLimits(options)).packet;
}

/**
 * Reads one UEPS packet and verifies its HMAC, as Go's `ueps.ReadAndVerify`
 * does: header TLVs in any order (the last of a repeated tag wins; a missing
 * one reads 0), unknown tags accepted and signed, the HMAC TLV anywhere before
 * the payload, and the payload TLV ending the packet.
 *
 * From a `Uint8Array`, bytes after the payload are ignored. From a byte
 * stream (`type: "bytes"`, e.g. `Deno.Conn.readable`) exactly the packet's
 * bytes are read, so the stream can be read on; from any other stream the
 * bytes after the packet in its last chunk are dropped — use
 * {@linkcode readPackets} to read a sequence. The stream's lock is released
 * afterwards; errors from the stream itself are thrown unchanged.
 *
 * @param input The frame bytes or a stream that carries it.
 * @param secret The HMAC key (raw bytes or a prepared {@linkcode HmacKey}).
 * @param options Reader limits.
 * @returns The packet. From a `Uint8Array` the payload is a view into it.
 * @throws {TypeError} When an argument has the wrong type.
 * @throws {RangeError} When an option is out of range.
 * @throws {UepsError} `end_of_stream` for empty input, `truncated`,
 * `malformed`, `value_too_large`, `too_many_tlvs`, `header_too_large`,
 * `missing_hmac` or `hmac_mismatch`.
 *
 * @example Reading from a stream
 * ```ts
 * import { PacketBuilder, readAndVerify } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const key = new TextEncoder().encode("k");
 * const frame = new PacketBuilder(0x20, new TextEncoder().encode("hi")).marshalAndSign(key);
 * const packet = await readAndVerify(ReadableStream.from([frame.slice(0, 10), frame.slice(10)]), key);
 * assert.equal(new TextDecoder().decode(packet.payload), "hi");
 * assert.equal(packet.header.version, 9);
 * ```
 */
export async function readAndVerify(
  input: Uint8Array | ReadableStream<Uint8Array>,
  secret: UepsSecret,
  options?: ReadOptions,
): Promise<UepsPacket> {
  checkInput(input);
  checkKey(secret, "read UEPS packet");
  const limits = resolveLimits(options);
  if (input instanceof Uint8Array) {
    return decodeFrame(input, secret, limits).packet;
  }
  const source = openSource(input);
  try {
    const packet = await nextPacket(source, secret, limits);
    if (packet === undefined) throw endOfStream();
    return packet;
  } finally {
    source.release();
  }
}

/**
 * Reads packets one after another until the input ends, verifying each.
 * Frames are self-delimiting, so any number may be concatenated.
 *
 * The iteration ends when the input ends cleanly between packets; it throws
 * on the first bad packet (packets before it have been yielded). A stream is
 * locked while iterating and released when the iteration ends, including by
 * `break`; it is not cancelled.
 *
 * @param input Concatenated frames, or a stream carrying them.
 * @param secret The HMAC key (raw bytes or a prepared {@linkcode HmacKey}).
 * @param options Reader limits, applied to each packet.
 * @returns An async iterator of packets. From a `Uint8Array` payloads are
 * views into it.
 * @throws {TypeError} When an argument has the wrong type.
 * @throws {RangeError} When an option is out of range.
 * @throws {UepsError} As {@linkcode readAndVerify}, except that a clean end
 * between packets ends the iteration.
 *
 * @example Reading three packets from one stream
 * ```ts
 * import { PacketBuilder, readPackets } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const key = new TextEncoder().encode("k");
 * const frames = [0x01, 0x20, 0x30].map((i) => new PacketBuilder(i).marshalAndSign(key));
 * const intents: number[] = [];
 * for await (const p of readPackets(ReadableStream.from(frames), key)) {
 *   intents.push(p.header.intentId);
 * }
 * assert.deepEqual(intents, [0x01, 0x20, 0x30]);
 * ```
 */
export function readPackets(
  input: Uint8Array | ReadableStream<Uint8Array>,
  secret: UepsSecret,
  options?: ReadOptions,
): AsyncGenerator<UepsPacket, void, undefined> {
  checkInput(input);
  checkKey(secret, "read UEPS packet");
  const limits = resolveLimits(options);
  return input instanceof Uint8Array
    ? packetsFromBytes(input, secret, limits)
    : packetsFromStream(input, secret, limits);
}

async function* packetsFromBytes(
  bytes: Uint8Array,
  key: UepsSecret,
  limits: Limits,
): AsyncGenerator<UepsPacket, void, undefined> {
  let at = 0;
  while (at < bytes.byteLength) {
    const { packet, frameLength } = decodeFrame(
      bytes.subarray(at),
      key,
      limits,
    );
    at += frameLength;
    yield packet;
  }
}

async function* packetsFromStream(
  stream: ReadableStream<Uint8Array>,
  key: UepsSecret,
  limits: Limits,
): AsyncGenerator<UepsPacket, void, undefined> {
  const source = openSource(stream);
  try {
    for (;;) {
      const packet = await nextPacket(source, key, limits);
      if (packet === undefined) return;
      yield packet;
    }
  } finally {
    source.release();
  }
}
