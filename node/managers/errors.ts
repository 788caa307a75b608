/**
 * Error classes of the miner and profile managers.
 *
 * @module
 */

import { CodedError } from "../../errors.ts";

/**
 * What went wrong in a miner manager.
 *
 * - `invalid_config`: the start configuration is not usable.
 * - `invalid_name`: a miner type, instance or executable name is unsafe.
 * - `not_found`: no miner of that name.
 * - `already_running`: a running miner already has that name.
 * - `executable_not_found`: no executable for the miner type.
 * - `spawn_failed`: the operating system refused to start the process.
 * - `limit_reached`: too many miners.
 * - `closed`: the manager was closed.
 */
export type MinerErrorCode =
  | "invalid_config"
  | "invalid_name"
  | "not_found"
  | "already_running"
  | "executable_not_found"
  | "spawn_failed"
  | "limit_reached"
  | "closed";

/**
 * A miner manager failure.
 *
 * @example Telling failures apart
 * ```ts
 * import { MinerError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = new MinerError("not_found", "Cannot stop miner: not found: xmrig");
 * assert.equal(err.name, "MinerError");
 * assert.equal(err.code, "not_found");
 * ```
 */
export class MinerError extends CodedError<MinerErrorCode> {
  /** Always `"MinerError"`. */
  override readonly name = "MinerError";
}

/**
 * What went wrong in a profile manager.
 *
 * - `invalid_id`: the profile ID is missing or unsafe as a file name.
 * - `invalid_profile`: the profile is not a JSON object, or too large.
 * - `not_found`: no profile with that ID.
 * - `corrupt`: the stored file is not valid JSON.
 */
export type ProfileErrorCode =
  | "invalid_id"
  | "invalid_profile"
  | "not_found"
  | "corrupt";

/**
 * A profile manager failure.
 *
 * @example Telling failures apart
 * ```ts
 * import { ProfileError } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const err = new ProfileError("not_found", "Cannot load profile: not found: p1");
 * assert.equal(err.name, "ProfileError");
 * assert.equal(err.code, "not_found");
 * ```
 */
export class ProfileError extends CodedError<ProfileErrorCode> {
  /** Always `"ProfileError"`. */
  override readonly name = "ProfileError";
}
