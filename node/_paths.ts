/**
 * XDG base directories as the Go reference resolves them (adrg/xdg): only
 * absolute environment values count, `~` and `$HOME` prefixes are expanded.
 *
 * @module
 */

import { join } from "node:path";

function home(): string {
  return Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
}

function fromEnv(name: string): string | undefined {
  let v = Deno.env.get(name);
  if (!v) return undefined;
  if (v === "~" || v.startsWith("~/")) v = home() + v.slice(1);
  else if (v.startsWith("$HOME")) v = home() + v.slice(5);
  return v.startsWith("/") || /^[A-Za-z]:[\\/]/.test(v) ? v : undefined;
}

/**
 * The XDG data home (`$XDG_DATA_HOME`, else `~/.local/share`; macOS
 * `~/Library/Application Support`; Windows `%LOCALAPPDATA%`).
 *
 * @returns The directory.
 */
export function dataHome(): string {
  const env = fromEnv("XDG_DATA_HOME");
  if (env) return env;
  if (Deno.build.os === "darwin") {
    return join(home(), "Library", "Application Support");
  }
  if (Deno.build.os === "windows") {
    return Deno.env.get("LOCALAPPDATA") ?? join(home(), "AppData", "Local");
  }
  return join(home(), ".local", "share");
}

/**
 * The XDG config home (`$XDG_CONFIG_HOME`, else `~/.config`; macOS
 * `~/Library/Application Support`; Windows `%LOCALAPPDATA%`).
 *
 * @returns The directory.
 */
export function configHome(): string {
  const env = fromEnv("XDG_CONFIG_HOME");
  if (env) return env;
  if (Deno.build.os === "darwin") {
    return join(home(), "Library", "Application Support");
  }
  if (Deno.build.os === "windows") {
    return Deno.env.get("LOCALAPPDATA") ?? join(home(), "AppData", "Local");
  }
  return join(home(), ".config");
}

/** The application folder name used by Go nodes. */
export const APP_DIR = "lethean-desktop";

/**
 * Default paths of every file a node keeps, as Go nodes use them.
 *
 * @returns The paths.
 */
export function defaultPaths(): {
  privateKey: string;
  identity: string;
  peers: string;
  dataDir: string;
  configDir: string;
} {
  const dataDir = join(dataHome(), APP_DIR);
  const configDir = join(configHome(), APP_DIR);
  return {
    privateKey: join(dataDir, "node", "private.key"),
    identity: join(configDir, "node.json"),
    peers: join(configDir, "peers.json"),
    dataDir,
    configDir,
  };
}
