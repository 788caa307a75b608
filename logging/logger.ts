/**
 * The levelled, structured logger.
 *
 * Text lines have the same shape as the Go reference's logger:
 * `YYYY/MM/DD HH:MM:SS [LEVEL] [component] message | k1=v1 k2=v2`.
 * JSON-lines output is available for log shippers.
 *
 * @module
 */

import { format } from "node:util";

/** Numeric log levels, ordered from most to least verbose. */
export const LogLevel = {
  /** Diagnostic detail. */
  Debug: 0,
  /** Normal operational messages. */
  Info: 1,
  /** Something unexpected that the node recovered from. */
  Warn: 2,
  /** A failure an operator should look at. */
  Error: 3,
} as const;

/** One of the {@linkcode LogLevel} values. */
export type LogLevel = typeof LogLevel[keyof typeof LogLevel];

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Output format of a logger: Go-compatible text lines or JSON lines. */
export type LogFormat = "text" | "json";

/** Where a logger writes its lines. Each call receives one whole line ending in `\n`. */
export interface LogSink {
  /** Writes one complete line. */
  write(line: string): void;
}

/** Options for {@linkcode Logger}. */
export interface LoggerOptions {
  /** Destination; defaults to standard error. */
  sink?: LogSink;
  /** Minimum level written; defaults to {@linkcode LogLevel.Info}. */
  level?: LogLevel;
  /** Component name shown as `[component]`; defaults to none. */
  component?: string;
  /** `"text"` (default) or `"json"`. */
  format?: LogFormat;
  /** Clock used for timestamps; defaults to `() => new Date()`. */
  now?: () => Date;
}

const LEVEL_NAMES = ["DEBUG", "INFO", "WARN", "ERROR"] as const;

/**
 * Returns the upper-case name of a level, or `UNKNOWN` for any other value.
 *
 * @param level The level.
 * @returns `DEBUG`, `INFO`, `WARN`, `ERROR` or `UNKNOWN`.
 *
 * @example Level names
 * ```ts
 * import { levelName, LogLevel } from "@lthn/p2p/logging";
 * import assert from "node:assert/strict";
 *
 * assert.equal(levelName(LogLevel.Warn), "WARN");
 * ```
 */
export function levelName(level: number): string {
  return LEVEL_NAMES[level] ?? "UNKNOWN";
}

/**
 * Parses a level name, case-insensitively: `DEBUG`, `INFO`, `WARN`, `WARNING`
 * or `ERROR`.
 *
 * @param text The level name.
 * @returns The level.
 * @throws {RangeError} When the name is not a known level.
 *
 * @example Parsing levels
 * ```ts
 * import { LogLevel, parseLevel } from "@lthn/p2p/logging";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseLevel("warning"), LogLevel.Warn);
 * assert.throws(() => parseLevel("loud"), RangeError);
 * ```
 */
export function parseLevel(text: string): LogLevel {
  switch (text.toUpperCase()) {
    case "DEBUG":
      return LogLevel.Debug;
    case "INFO":
      return LogLevel.Info;
    case "WARN":
    case "WARNING":
      return LogLevel.Warn;
    case "ERROR":
      return LogLevel.Error;
    default:
      throw new RangeError(
        `Cannot parse log level: unknown log level: ${JSON.stringify(text)}`,
      );
  }
}

/** Field names whose values are never written (matched case-insensitively). */
const SECRET_FIELD =
  /secret|password|passwd|passphrase|private|token|credential|cookie|authorization|^key$|^psk$|^challenge_?response$|^hmac$|^plaintext$/i;

/** The text written instead of a secret value. */
export const REDACTED = "[redacted]";

/**
 * A value that must never reach a log. Wrap secrets in it; loggers print
 * `[redacted]` whatever the field is called.
 *
 * @example Wrapping a secret
 * ```ts
 * import { Secret } from "@lthn/p2p/logging";
 * import assert from "node:assert/strict";
 *
 * const s = new Secret(new Uint8Array(32));
 * assert.equal(String(s), "[redacted]");
 * ```
 */
export class Secret<T = unknown> {
  readonly #value: T;
  /**
   * Wraps a secret value.
   *
   * @param value The secret.
   */
  constructor(value: T) {
    this.#value = value;
  }
  /**
   * Returns the wrapped value.
   *
   * @returns The secret.
   */
  reveal(): T {
    return this.#value;
  }
  /**
   * Returns the redaction marker, never the value.
   *
   * @returns `[redacted]`.
   */
  toString(): string {
    return REDACTED;
  }
  /**
   * Returns the redaction marker, never the value.
   *
   * @returns `[redacted]`.
   */
  toJSON(): string {
    return REDACTED;
  }
}

/**
 * Makes one field value safe to log: secrets are redacted, byte arrays are
 * reduced to their length, errors to their message.
 */
function safeValue(key: string, value: unknown): unknown {
  if (value instanceof Secret || SECRET_FIELD.test(key)) return REDACTED;
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

function textValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "<nil>";
  if (typeof value === "object") {
    try {
      return JSON.stringify(value, (k, v) => k === "" ? v : safeValue(k, v));
    } catch {
      return String(value);
    }
  }
  return String(value);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

function goTimestamp(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${
    pad(d.getHours())
  }:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const encoder = new TextEncoder();

/** The default sink: synchronous writes to standard error. */
export const stderrSink: LogSink = {
  write(line: string): void {
    try {
      const bytes = encoder.encode(line);
      let off = 0;
      while (off < bytes.length) {
        off += Deno.stderr.writeSync(bytes.subarray(off));
      }
    } catch {
      // A closed stderr must never crash the node.
    }
  },
};

/** Shared, mutable level cell so children can be given a copy. */
interface LoggerState {
  sink: LogSink;
  format: LogFormat;
  now: () => Date;
}

/**
 * A levelled logger with an optional component scope.
 *
 * @example Logging with fields
 * ```ts
 * import { Logger, LogLevel } from "@lthn/p2p/logging";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const log = new Logger({
 *   sink: { write: (l) => lines.push(l) },
 *   level: LogLevel.Debug,
 *   now: () => new Date(2026, 1, 20, 10, 0, 0),
 * }).withComponent("dispatcher");
 * log.warn("packet dropped: unknown intent", { intent_id: "0x42" });
 * assert.equal(
 *   lines[0],
 *   "2026/02/20 10:00:00 [WARN] [dispatcher] packet dropped: unknown intent | intent_id=0x42\n",
 * );
 * ```
 */
export class Logger {
  #state: LoggerState;
  #level: LogLevel;
  #component: string;

  /**
   * Creates a logger.
   *
   * @param options Sink, level, component, format and clock.
   */
  constructor(options: LoggerOptions = {}) {
    this.#state = {
      sink: options.sink ?? stderrSink,
      format: options.format ?? "text",
      now: options.now ?? (() => new Date()),
    };
    this.#level = options.level ?? LogLevel.Info;
    this.#component = options.component ?? "";
  }

  /** The component name, or `""`. */
  get component(): string {
    return this.#component;
  }

  /** The output format. */
  get format(): LogFormat {
    return this.#state.format;
  }

  /**
   * Returns a logger with the same output, a copy of the current level and
   * the given component.
   *
   * @param component The component name.
   * @returns A new logger.
   */
  withComponent(component: string): Logger {
    const child = new Logger({ level: this.#level, component });
    child.#state = this.#state;
    return child;
  }

  /**
   * Alias of {@linkcode Logger.withComponent}.
   *
   * @param component The component name.
   * @returns A new logger.
   */
  child(component: string): Logger {
    return this.withComponent(component);
  }

  /**
   * Sets the minimum level written.
   *
   * @param level The new level.
   */
  setLevel(level: LogLevel): void {
    this.#level = level;
  }

  /**
   * Returns the minimum level written.
   *
   * @returns The level.
   */
  getLevel(): LogLevel {
    return this.#level;
  }

  /**
   * Tells whether a message at this level would be written, so callers can
   * skip computing expensive fields.
   *
   * @param level The level to test.
   * @returns `true` when enabled.
   */
  enabled(level: LogLevel): boolean {
    return level >= this.#level;
  }

  /**
   * Logs at DEBUG. Field maps are merged left to right.
   *
   * @param message The message.
   * @param fields Field maps.
   */
  debug(message: string, ...fields: LogFields[]): void {
    this.log(LogLevel.Debug, message, fields);
  }

  /**
   * Logs at INFO.
   *
   * @param message The message.
   * @param fields Field maps.
   */
  info(message: string, ...fields: LogFields[]): void {
    this.log(LogLevel.Info, message, fields);
  }

  /**
   * Logs at WARN.
   *
   * @param message The message.
   * @param fields Field maps.
   */
  warn(message: string, ...fields: LogFields[]): void {
    this.log(LogLevel.Warn, message, fields);
  }

  /**
   * Logs at ERROR.
   *
   * @param message The message.
   * @param fields Field maps.
   */
  error(message: string, ...fields: LogFields[]): void {
    this.log(LogLevel.Error, message, fields);
  }

  /**
   * Logs a printf-style message at DEBUG, without fields.
   *
   * @param template The format string (`%s`, `%d`, `%j`, `%o`).
   * @param args The values.
   */
  debugf(template: string, ...args: unknown[]): void {
    if (this.enabled(LogLevel.Debug)) {
      this.log(LogLevel.Debug, format(template, ...args), []);
    }
  }

  /**
   * Logs a printf-style message at INFO.
   *
   * @param template The format string.
   * @param args The values.
   */
  infof(template: string, ...args: unknown[]): void {
    if (this.enabled(LogLevel.Info)) {
      this.log(LogLevel.Info, format(template, ...args), []);
    }
  }

  /**
   * Logs a printf-style message at WARN.
   *
   * @param template The format string.
   * @param args The values.
   */
  warnf(template: string, ...args: unknown[]): void {
    if (this.enabled(LogLevel.Warn)) {
      this.log(LogLevel.Warn, format(template, ...args), []);
    }
  }

  /**
   * Logs a printf-style message at ERROR.
   *
   * @param template The format string.
   * @param args The values.
   */
  errorf(template: string, ...args: unknown[]): void {
    if (this.enabled(LogLevel.Error)) {
      this.log(LogLevel.Error, format(template, ...args), []);
    }
  }

  /**
   * Writes one line when `level` is enabled.
   *
   * @param level The level.
   * @param message The message.
   * @param fields Field maps, merged left to right.
   */
  log(level: LogLevel, message: string, fields: LogFields[] = []): void {
    if (level < this.#level) return;
    const merged: LogFields = {};
    for (const map of fields) {
      for (const [k, v] of Object.entries(map)) merged[k] = safeValue(k, v);
    }
    const state = this.#state;
    const now = state.now();
    let line: string;
    if (state.format === "json") {
      const record: Record<string, unknown> = {
        time: now.toISOString(),
        level: levelName(level),
      };
      if (this.#component) record.component = this.#component;
      record.msg = message;
      for (const [k, v] of Object.entries(merged)) {
        if (!(k in record)) record[k] = v;
      }
      line = safeStringify(record) + "\n";
    } else {
      line = `${goTimestamp(now)} [${levelName(level)}]`;
      if (this.#component) line += ` [${this.#component}]`;
      line += ` ${message}`;
      const keys = Object.keys(merged);
      if (keys.length > 0) {
        line += " |";
        for (const k of keys) line += ` ${k}=${textValue(merged[k])}`;
      }
      line += "\n";
    }
    state.sink.write(line);
  }
}

function safeStringify(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(
      record,
      (k, v) => k === "" ? v : safeValue(k, v),
    );
  } catch {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(record)) flat[k] = textValue(v);
    return JSON.stringify(flat);
  }
}
