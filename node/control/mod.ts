/**
 * The local control API of a running node: the typed contract (every
 * method, its parameters and result).
 *
 * @example The methods a node serves
 * ```ts
 * import { CONTROL_METHODS } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * assert.ok(CONTROL_METHODS.includes("ping"));
 * ```
 *
 * @module
 */

export * from "./methods.ts";
