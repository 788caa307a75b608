/**
 * The `lthn-p2p` command: run a node, manage its identity and peers, and
 * operate remote nodes through the running node's local control API.
 *
 * @module
 */

import {
  type Command,
  err,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  out,
  UsageError,
} from "./cli/_command.ts";
import { explain } from "./cli/_common.ts";
import { bundleCommand } from "./cli/bundle.ts";
import { deployCommand } from "./cli/deploy.ts";
import { identityCommand } from "./cli/identity.ts";
import { levinCommand } from "./cli/levin.ts";
import { logsCommand } from "./cli/logs.ts";
import { minerCommand } from "./cli/miner.ts";
import { peersCommand } from "./cli/peers.ts";
import { pingCommand } from "./cli/ping.ts";
import { startCommand } from "./cli/start.ts";
import { statsCommand } from "./cli/stats.ts";
import { statusCommand } from "./cli/status.ts";
import { stopCommand } from "./cli/stop.ts";

/** Every subcommand, by name. */
export const COMMANDS: Record<string, Command> = {
  start: startCommand,
  stop: stopCommand,
  status: statusCommand,
  identity: identityCommand,
  peers: peersCommand,
  ping: pingCommand,
  stats: statsCommand,
  miner: minerCommand,
  logs: logsCommand,
  deploy: deployCommand,
  bundle: bundleCommand,
  levin: levinCommand,
};

/** The version printed by `--version`. */
export const VERSION = "0.1.0";

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return `Usage: lthn-p2p <command> [options]

Commands:
${lines.join("\n")}

Run "lthn-p2p <command> --help" for a command's options. Operator commands
(stop, status, peers, ping, stats, miner, logs, deploy) act through the node that
"lthn-p2p start" runs, found via <config dir>/control.json.
Exit codes: 0 success, 1 failure, 2 misuse.`;
}

/**
 * Runs the CLI with the given arguments.
 *
 * @param args The command line, without the program name.
 * @returns The exit code: 0 success, 1 failure, 2 misuse.
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "-h" || name === "--help" || name === "help") {
    out(usage());
    return EXIT_OK;
  }
  if (name === "--version" || name === "-V") {
    out(`lthn-p2p ${VERSION}`);
    return EXIT_OK;
  }
  if (name === undefined) {
    err(
      'lthn-p2p: missing command; run "lthn-p2p --help" for the list, or "lthn-p2p start" to run a node',
    );
    return EXIT_USAGE;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    err(
      `lthn-p2p: unknown command "${name}"; run "lthn-p2p --help" for the list`,
    );
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`lthn-p2p ${name}: ${e.message}; see "lthn-p2p ${name} --help"`);
      return EXIT_USAGE;
    }
    err(`lthn-p2p ${name}: ${explain(e)}`);
    return EXIT_FAILURE;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
