/**
 * The UEPS intent dispatcher with its threat circuit breaker (go-p2p node
 * spec §8.5).
 *
 * @module
 */

import { CodedError } from "../errors.ts";
import { Logger, LogLevel } from "../logging/mod.ts";
import type { UepsPacket } from "../ueps/mod.ts";

/** Intent `0x01`: handshake. */
export const INTENT_HANDSHAKE = 0x01;
/** Intent `0x20`: compute. */
export const INTENT_COMPUTE = 0x20;
/** Intent `0x30`: rehab (pause execution). */
export const INTENT_REHAB = 0x30;
/** Intent `0xFF`: custom / extended. */
export const INTENT_CUSTOM = 0xff;

/**
 * Packets whose threat score is strictly greater than this are dropped before
 * routing; a score of exactly 50 000 passes.
 */
export const THREAT_SCORE_THRESHOLD = 50_000;

/**
 * Handles the packets of one intent. Throwing (or rejecting) makes
 * {@linkcode Dispatcher.dispatch} reject with the same error.
 */
export type IntentHandler = (packet: UepsPacket) => void | Promise<void>;

/**
 * Why the dispatcher refused a packet; each matches one of Go's sentinel
 * errors.
 *
 * - `threat_exceeded`: the threat score is above the threshold (checked
 *   first, even for unknown intents).
 * - `unknown_intent`: no handler is registered for the intent.
 * - `missing_packet`: `dispatch` was given `null` or `undefined` (Go's nil
 *   packet).
 */
export type DispatchErrorCode =
  | "threat_exceeded"
  | "unknown_intent"
  | "missing_packet";

/** Options for {@linkcode DispatchError}. */
export interface DispatchErrorOptions {
  /** The packet's intent, when there was a packet. */
  intentId?: number;
  /** The packet's threat score, when there was a packet. */
  threatScore?: number;
}

/**
 * The dispatcher refused a packet. Handler errors are never wrapped in this
 * class; they propagate unchanged.
 *
 * @example Telling the breaker from an unknown intent
 * ```ts
 * import { DispatchError, Dispatcher } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const dispatcher = new Dispatcher();
 * const header = { version: 9, currentLayer: 5, targetLayer: 5, intentId: 0x42, threatScore: 60_000 };
 * await assert.rejects(
 *   dispatcher.dispatch({ header, payload: new Uint8Array(0) }),
 *   (e) => e instanceof DispatchError && e.code === "threat_exceeded",
 * );
 * ```
 */
export class DispatchError extends CodedError<DispatchErrorCode> {
  /** Always `"DispatchError"`. */
  override readonly name = "DispatchError";
  /** The packet's intent, or `undefined` for a missing packet. */
  readonly intentId: number | undefined;
  /** The packet's threat score, or `undefined` for a missing packet. */
  readonly threatScore: number | undefined;

  /**
   * Creates a dispatch error.
   *
   * @param code Why the packet was refused.
   * @param message A sentence-case message.
   * @param options The packet's intent and threat score.
   */
  constructor(
    code: DispatchErrorCode,
    message: string,
    options: DispatchErrorOptions = {},
  ) {
    super(code, message);
    this.intentId = options.intentId;
    this.threatScore = options.threatScore;
  }
}

/** Options for {@linkcode Dispatcher}. */
export interface DispatcherOptions {
  /**
   * Where to log, scoped to component `dispatcher`. Defaults to a private
   * logger at DEBUG level writing to standard error, as Go's dispatcher has
   * (independent of the global logger).
   */
  logger?: Logger;
  /**
   * Threat scores strictly above this are dropped; 0–65 535, default
   * {@linkcode THREAT_SCORE_THRESHOLD}.
   */
  threatScoreThreshold?: number;
}

function intentHex(intentId: number): string {
  return "0x" + intentId.toString(16).toUpperCase().padStart(2, "0");
}

/**
 * Routes verified UEPS packets to one handler per intent byte, after a
 * threat-score circuit breaker, as Go's `node.Dispatcher` does.
 *
 * `dispatch` checks, in order: a missing packet, the threat score (strictly
 * greater than the threshold is dropped with a WARN log, whatever the
 * intent), a handler for the intent (none: WARN log and an error); then it
 * calls the handler and settles as it does. Registration may happen at any
 * time, also while dispatches are in flight; a dispatch uses the handler
 * registered when it starts.
 *
 * @example Routing by intent
 * ```ts
 * import { Dispatcher, INTENT_COMPUTE } from "@lthn/p2p/node";
 * import { PacketBuilder, readAndVerify } from "@lthn/p2p/ueps";
 * import assert from "node:assert/strict";
 *
 * const key = new TextEncoder().encode("pairwise secret");
 * const seen: string[] = [];
 * const dispatcher = new Dispatcher();
 * dispatcher.registerHandler(INTENT_COMPUTE, (packet) => {
 *   seen.push(new TextDecoder().decode(packet.payload));
 * });
 * const frame = new PacketBuilder(INTENT_COMPUTE, new TextEncoder().encode("job 1"))
 *   .marshalAndSign(key);
 * await dispatcher.dispatch(await readAndVerify(frame, key));
 * assert.deepEqual(seen, ["job 1"]);
 * ```
 */
export class Dispatcher {
  #handlers = new Map<number, IntentHandler>();
  #log: Logger;
  #threshold: number;

  /**
   * Creates a dispatcher with no handlers.
   *
   * @param options The logger and threat threshold.
   * @throws {RangeError} When `threatScoreThreshold` is not an integer in
   * 0–65 535.
   * @throws {TypeError} When `logger` is not a {@linkcode Logger}.
   */
  constructor(options: DispatcherOptions = {}) {
    const threshold = options.threatScoreThreshold ?? THREAT_SCORE_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > 0xffff) {
      throw new RangeError(
        `Cannot create dispatcher: threatScoreThreshold must be an integer in 0-65535, got ${
          String(threshold)
        }`,
      );
    }
    if (options.logger !== undefined && !(options.logger instanceof Logger)) {
      throw new TypeError(
        "Cannot create dispatcher: logger must be a Logger",
      );
    }
    this.#threshold = threshold;
    this.#log = options.logger?.withComponent("dispatcher") ??
      new Logger({ level: LogLevel.Debug, component: "dispatcher" });
  }

  /** The threat score above which packets are dropped. */
  get threatScoreThreshold(): number {
    return this.#threshold;
  }

  /**
   * Registers the handler for one intent, replacing any earlier one, and
   * logs `handler registered` at DEBUG.
   *
   * @param intentId The intent byte (0–255).
   * @param handler Called with each accepted packet of that intent.
   * @throws {RangeError} When `intentId` is not an integer in 0–255.
   * @throws {TypeError} When `handler` is not a function.
   *
   * @example Replacing a handler
   * ```ts
   * import { Dispatcher, INTENT_REHAB } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dispatcher = new Dispatcher();
   * const first = () => {};
   * const second = () => {};
   * dispatcher.registerHandler(INTENT_REHAB, first);
   * dispatcher.registerHandler(INTENT_REHAB, second);
   * assert.deepEqual([...dispatcher.handlers()], [[INTENT_REHAB, second]]);
   * ```
   */
  registerHandler(intentId: number, handler: IntentHandler): void {
    if (!Number.isInteger(intentId) || intentId < 0 || intentId > 0xff) {
      throw new RangeError(
        `Cannot register handler: intentId must be an integer in 0-255, got ${
          String(intentId)
        }`,
      );
    }
    if (typeof handler !== "function") {
      throw new TypeError(
        `Cannot register handler: handler must be a function, got ${typeof handler}`,
      );
    }
    this.#handlers.set(intentId, handler);
    this.#log.debug("handler registered", { intent_id: intentHex(intentId) });
  }

  /**
   * Lists the registered handlers, as a snapshot taken now.
   *
   * @returns `[intentId, handler]` pairs in registration order.
   *
   * @example Listing intents
   * ```ts
   * import { Dispatcher, INTENT_COMPUTE, INTENT_HANDSHAKE } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * const dispatcher = new Dispatcher();
   * dispatcher.registerHandler(INTENT_HANDSHAKE, () => {});
   * dispatcher.registerHandler(INTENT_COMPUTE, () => {});
   * assert.deepEqual([...dispatcher.handlers()].map(([id]) => id), [0x01, 0x20]);
   * ```
   */
  handlers(): IterableIterator<[number, IntentHandler]> {
    return [...this.#handlers].values();
  }

  /**
   * Routes one verified packet.
   *
   * @param packet The packet (from `readAndVerify`).
   * @returns Resolves when the handler has finished.
   * @throws {DispatchError} `missing_packet` for `null`/`undefined`,
   * `threat_exceeded` when the threat score is above the threshold,
   * `unknown_intent` when no handler is registered for the intent.
   * @throws {TypeError} When `packet` is not a packet.
   * @throws Whatever the handler throws, unchanged.
   *
   * @example The breaker lets 50 000 through and drops 50 001
   * ```ts
   * import { Dispatcher, DispatchError, INTENT_COMPUTE } from "@lthn/p2p/node";
   * import assert from "node:assert/strict";
   *
   * let calls = 0;
   * const dispatcher = new Dispatcher();
   * dispatcher.registerHandler(INTENT_COMPUTE, () => void calls++);
   * const packet = (threatScore: number) => ({
   *   header: { version: 9, currentLayer: 5, targetLayer: 5, intentId: INTENT_COMPUTE, threatScore },
   *   payload: new Uint8Array(0),
   * });
   * await dispatcher.dispatch(packet(50_000));
   * await assert.rejects(dispatcher.dispatch(packet(50_001)), DispatchError);
   * assert.equal(calls, 1);
   * ```
   */
  async dispatch(packet: UepsPacket | null | undefined): Promise<void> {
    if (packet === null || packet === undefined) {
      throw new DispatchError(
        "missing_packet",
        "Cannot dispatch packet: nil packet",
      );
    }
    const header = typeof packet === "object" ? packet.header : undefined;
    if (typeof header !== "object" || header === null) {
      throw new TypeError(
        `Cannot dispatch packet: expected a UEPS packet with a header, got ${typeof packet}`,
      );
    }
    const { intentId, threatScore, version } = header;
    if (threatScore > this.#threshold) {
      this.#log.warn("packet dropped: threat score exceeds safety threshold", {
        threat_score: threatScore,
        threshold: this.#threshold,
        intent_id: intentHex(intentId),
        version,
      });
      throw new DispatchError(
        "threat_exceeded",
        `Cannot dispatch packet: threat score exceeds safety threshold (${this.#threshold})`,
        { intentId, threatScore },
      );
    }
    const handler = this.#handlers.get(intentId);
    if (handler === undefined) {
      this.#log.warn("packet dropped: unknown intent", {
        intent_id: intentHex(intentId),
        version,
      });
      throw new DispatchError(
        "unknown_intent",
        `Cannot dispatch packet: unknown intent ${intentHex(intentId)}`,
        { intentId, threatScore },
      );
    }
    await handler(packet);
  }
}
