/**
 * The process-wide logger that library code falls back to.
 *
 * @module
 */

import { type LogFields, Logger, type LogLevel } from "./logger.ts";

let globalLogger = new Logger();

/**
 * Returns the global logger (standard error, INFO by default).
 *
 * @returns The global logger.
 *
 * @example Scoping the global logger
 * ```ts
 * import { getGlobalLogger } from "@lthn/p2p/logging";
 * import assert from "node:assert/strict";
 *
 * assert.equal(getGlobalLogger().withComponent("x").component, "x");
 * ```
 */
export function getGlobalLogger(): Logger {
  return globalLogger;
}

/**
 * Replaces the global logger.
 *
 * @param logger The new global logger.
 */
export function setGlobalLogger(logger: Logger): void {
  globalLogger = logger;
}

/**
 * Changes the global logger's level.
 *
 * @param level The new level.
 */
export function setGlobalLevel(level: LogLevel): void {
  globalLogger.setLevel(level);
}

/**
 * Logs at DEBUG through the global logger.
 *
 * @param message The message.
 * @param fields Field maps.
 */
export function debug(message: string, ...fields: LogFields[]): void {
  globalLogger.debug(message, ...fields);
}

/**
 * Logs at INFO through the global logger.
 *
 * @param message The message.
 * @param fields Field maps.
 */
export function info(message: string, ...fields: LogFields[]): void {
  globalLogger.info(message, ...fields);
}

/**
 * Logs at WARN through the global logger.
 *
 * @param message The message.
 * @param fields Field maps.
 */
export function warn(message: string, ...fields: LogFields[]): void {
  globalLogger.warn(message, ...fields);
}

/**
 * Logs at ERROR through the global logger.
 *
 * @param message The message.
 * @param fields Field maps.
 */
export function error(message: string, ...fields: LogFields[]): void {
  globalLogger.error(message, ...fields);
}
