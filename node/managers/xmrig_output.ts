/**
 * Reads the hashrate, shares, pool and algorithm from XMRig-style console
 * lines, for miners whose HTTP API is off.
 *
 * Lines understood (after stripping ANSI colour codes and the
 * `[YYYY-MM-DD hh:mm:ss.mmm]` prefix and backend tag):
 *
 * | line | yields |
 * |---|---|
 * | `speed 10s/60s/15m 1234.5 n/a n/a H/s max 1300.0 H/s` | hashrate (first of 10s, 60s, 15m that is a number) |
 * | `accepted (12/1) diff 1000 (23 ms)` | shares 12, rejected 1 |
 * | `rejected (12/2) diff 1000 "Low difficulty" (23 ms)` | shares 12, rejected 2 |
 * | `use pool pool.example.com:3333 1.2.3.4` | pool |
 * | `new job from pool.example.com:3333 diff 1000 algo rx/0 height 7` | pool, algorithm |
 *
 * Unit prefixes `k`, `M`, `G` on `H/s` are applied. Anything else is ignored.
 *
 * @module
 */

/** Lines longer than this are ignored by the parser (they are not XMRig status lines). */
export const MAX_PARSED_LINE_LENGTH = 4096;

/** A fact read from one console line. */
export type XmrigEvent =
  | {
    /** A periodic speed report. */
    kind: "speed";
    /** The best current estimate in H/s (10 s, else 60 s, else 15 min). */
    hashrate: number;
    /** The 10-second average, when known. */
    h10?: number;
    /** The 60-second average, when known. */
    h60?: number;
    /** The 15-minute average, when known. */
    h15m?: number;
    /** The highest rate seen, when reported. */
    max?: number;
  }
  | {
    /** A share result. */
    kind: "accepted" | "rejected";
    /** Accepted shares so far. */
    accepted: number;
    /** Rejected shares so far. */
    rejected: number;
    /** The share difficulty, when reported. */
    diff?: number;
  }
  | {
    /** The pool in use changed. */
    kind: "pool";
    /** `host:port`. */
    pool: string;
  }
  | {
    /** A new job arrived. */
    kind: "job";
    /** `host:port`. */
    pool: string;
    /** Algorithm name, when reported (e.g. `rx/0`). */
    algorithm?: string;
    /** Job difficulty, when reported. */
    diff?: number;
    /** Block height, when reported. */
    height?: number;
  };

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const PREFIX = /^\s*\[\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,9})?\]\s*/;
const SPEED =
  /\bspeed\s+10s\/60s\/15m\s+(\S+)\s+(\S+)\s+(\S+)\s+([kMG]?)H\/s(?:\s+max\s+(\S+)\s+([kMG]?)H\/s)?/;
const SHARE =
  /\b(accepted|rejected)\s+\((\d{1,15})\/(\d{1,15})\)(?:\s+diff\s+(\d{1,20}))?/;
const USE_POOL = /\buse\s+pool\s+(\S{1,255})/;
const NEW_JOB = /\bnew\s+job\s+from\s+(\S{1,255})(.*)$/;
const JOB_ALGO = /\balgo\s+(\S{1,64})/;
const JOB_DIFF = /\bdiff\s+(\d{1,20})/;
const JOB_HEIGHT = /\bheight\s+(\d{1,15})/;

const UNIT: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9 };

function rate(text: string | undefined, unit: string): number | undefined {
  if (text === undefined || !/^\d{1,15}(?:\.\d{1,15})?$/.test(text)) {
    return undefined;
  }
  const v = Number(text) * (UNIT[unit] ?? 1);
  return Number.isFinite(v) ? v : undefined;
}

function int(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * Removes ANSI escape sequences (XMRig colours its output unless started
 * with `--no-color`).
 *
 * @param line A console line.
 * @returns The line without escape sequences.
 *
 * @example Stripping colours
 * ```ts
 * import { stripAnsi } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.equal(stripAnsi("\x1b[1;32maccepted\x1b[0m (1/0)"), "accepted (1/0)");
 * ```
 */
export function stripAnsi(line: string): string {
  return line.replace(ANSI, "");
}

/**
 * Parses one XMRig-style console line. Never throws: lines that are not
 * understood (or longer than {@linkcode MAX_PARSED_LINE_LENGTH}) give
 * `undefined`.
 *
 * @param line One line of miner output.
 * @returns The fact it reports, or `undefined`.
 *
 * @example Reading a speed line
 * ```ts
 * import { parseXmrigLine } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const ev = parseXmrigLine(
 *   "[2026-02-20 10:00:00.000]  miner    speed 10s/60s/15m 1234.5 n/a n/a H/s max 1300.0 H/s",
 * );
 * assert.equal(ev?.kind, "speed");
 * assert.equal(ev?.kind === "speed" ? ev.hashrate : 0, 1234.5);
 * ```
 */
export function parseXmrigLine(line: string): XmrigEvent | undefined {
  if (typeof line !== "string" || line.length > MAX_PARSED_LINE_LENGTH) {
    return undefined;
  }
  const text = stripAnsi(line).replace(PREFIX, "");

  const speed = SPEED.exec(text);
  if (speed) {
    const unit = speed[4] ?? "";
    const h10 = rate(speed[1], unit);
    const h60 = rate(speed[2], unit);
    const h15m = rate(speed[3], unit);
    const ev: XmrigEvent = { kind: "speed", hashrate: h10 ?? h60 ?? h15m ?? 0 };
    if (h10 !== undefined) ev.h10 = h10;
    if (h60 !== undefined) ev.h60 = h60;
    if (h15m !== undefined) ev.h15m = h15m;
    const max = rate(speed[5], speed[6] ?? "");
    if (max !== undefined) ev.max = max;
    return ev;
  }

  const share = SHARE.exec(text);
  if (share) {
    const accepted = int(share[2]);
    const rejected = int(share[3]);
    if (accepted === undefined || rejected === undefined) return undefined;
    const ev: XmrigEvent = {
      kind: share[1] === "accepted" ? "accepted" : "rejected",
      accepted,
      rejected,
    };
    const diff = int(share[4]);
    if (diff !== undefined) ev.diff = diff;
    return ev;
  }

  const job = NEW_JOB.exec(text);
  if (job && job[1]) {
    const ev: XmrigEvent = { kind: "job", pool: job[1] };
    const rest = job[2] ?? "";
    const algo = JOB_ALGO.exec(rest)?.[1];
    if (algo) ev.algorithm = algo;
    const diff = int(JOB_DIFF.exec(rest)?.[1]);
    if (diff !== undefined) ev.diff = diff;
    const height = int(JOB_HEIGHT.exec(rest)?.[1]);
    if (height !== undefined) ev.height = height;
    return ev;
  }

  const pool = USE_POOL.exec(text);
  if (pool && pool[1]) return { kind: "pool", pool: pool[1] };
  return undefined;
}

/** Mining figures accumulated from console output. */
export interface XmrigOutputStats {
  /** Latest hashrate in H/s (0 until the first speed line). */
  hashrate: number;
  /** Accepted shares. */
  shares: number;
  /** Rejected shares. */
  rejected: number;
  /** Pool `host:port` ("" until known). */
  pool: string;
  /** Algorithm ("" until known). */
  algorithm: string;
}

/**
 * Accumulates {@linkcode XmrigOutputStats} from a stream of console lines.
 *
 * @example Following a miner's output
 * ```ts
 * import { XmrigOutputParser } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const p = new XmrigOutputParser();
 * p.push("[2026-02-20 10:00:00.000]  net      new job from pool.example:3333 diff 1000 algo rx/0 height 1");
 * p.push("[2026-02-20 10:00:01.000]  cpu      accepted (1/0) diff 1000 (20 ms)");
 * p.push("[2026-02-20 10:00:02.000]  miner    speed 10s/60s/15m 1234.5 n/a n/a H/s max 1300.0 H/s");
 * assert.deepEqual(p.stats(), {
 *   hashrate: 1234.5, shares: 1, rejected: 0, pool: "pool.example:3333", algorithm: "rx/0",
 * });
 * ```
 */
export class XmrigOutputParser {
  #stats: XmrigOutputStats = {
    hashrate: 0,
    shares: 0,
    rejected: 0,
    pool: "",
    algorithm: "",
  };

  /**
   * Reads one line and updates the figures.
   *
   * @param line One line of miner output.
   * @returns The fact the line reported, or `undefined`.
   */
  push(line: string): XmrigEvent | undefined {
    const ev = parseXmrigLine(line);
    if (!ev) return undefined;
    const s = this.#stats;
    switch (ev.kind) {
      case "speed":
        s.hashrate = ev.hashrate;
        break;
      case "accepted":
      case "rejected":
        s.shares = ev.accepted;
        s.rejected = ev.rejected;
        break;
      case "pool":
        s.pool = ev.pool;
        break;
      case "job":
        s.pool = ev.pool;
        if (ev.algorithm) s.algorithm = ev.algorithm;
        break;
    }
    return ev;
  }

  /**
   * Returns the current figures.
   *
   * @returns A copy of the figures.
   */
  stats(): XmrigOutputStats {
    return { ...this.#stats };
  }
}
