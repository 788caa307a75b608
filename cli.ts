/**
 * The `lthn-p2p` command: run a node, manage its identity and peers, and
 * operate remote nodes.
 *
 * @module
 */

import {
  type Command,
  err,
  EXIT_OK,
  EXIT_USAGE,
  out,
  UsageError,
} from "./cli/_command.ts";
import { identityCommand } from "./cli/identity.ts";
import { startCommand } from "./cli/start.ts";

/** Every subcommand, by name. */
export const COMMANDS: Record<string, Command> = {
  start: startCommand,
  identity: identityCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) =>
    `  ${name.padEnd(width)}  ${c.summary}`
  );
  return `Usage: lthn-p2p <command> [options]\n\nCommands:\n${
    lines.join("\n")
  }\n\nRun "lthn-p2p <command> --help" for a command's options.`;
}

/**
 * Runs the CLI with the given arguments.
 *
 * @param args The command line, without the program name.
 * @returns The exit code: 0 success, 1 failure, 2 misuse.
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (
    name === undefined || name === "-h" || name === "--help" || name === "help"
  ) {
    out(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    err(
      `lthn-p2p: unknown command "${name}"; run "lthn-p2p --help" for the list`,
    );
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      err(
        `lthn-p2p ${name}: ${
          (e as Error).message
        }; see "lthn-p2p ${name} --help"`,
      );
      return EXIT_USAGE;
    }
    err(`lthn-p2p ${name}: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  }
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
