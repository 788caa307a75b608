/**
 * Helpers shared by the subcommands: the one command prologue
 * ({@linkcode defineCommand}, {@linkcode operatorCommand}: flag parsing,
 * `--help`, the positional count, the running node's client), output and
 * error hints. The CLI imports only the package's public modules.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  ControlApiError,
  ControlClient,
  controlFilePath,
  nodePaths,
} from "../node/mod.ts";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flag values of a set of options. */
export type Values<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>
>["values"];

/** Flags every operator command accepts. */
export const CLIENT_OPTIONS = {
  "control-file": { type: "string" },
  "config-dir": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

/** Help lines for {@linkcode CLIENT_OPTIONS}. */
export const CLIENT_HELP =
  `  --control-file <path>  the node's control file (default: <config dir>/control.json)
  --config-dir <dir>     the node's config directory (default: XDG config/lethean-desktop)
  --json                 machine-readable output
  -h, --help             show this help`;

/** Parsed flags and positionals. */
export interface Parsed<V> {
  /** Flag values. */
  values: V;
  /** Positional arguments. */
  positionals: string[];
}

/**
 * Parses a command's arguments strictly.
 *
 * @param args The arguments.
 * @param options The flags.
 * @returns Values and positionals.
 * @throws {UsageError} For unknown flags or missing values.
 */
export function parse<O extends Options>(
  args: string[],
  options: O,
): Parsed<Values<O>> {
  try {
    const r = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: r.values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(
      (err as Error).message.split("\n")[0]!.replace(/\.$/, ""),
    );
  }
}

/**
 * Checks the number of positionals.
 *
 * @param positionals What was given.
 * @param min Least allowed.
 * @param max Most allowed.
 * @param what Describes the expected arguments.
 * @throws {UsageError} When the count is off.
 */
export function expectPositionals(
  positionals: string[],
  min: number,
  max: number,
  what: string,
): void {
  if (positionals.length < min) throw new UsageError(`missing ${what}`);
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument "${positionals[max]}"`);
  }
}

/**
 * Opens a client of the running node.
 *
 * @param values `--control-file` and `--config-dir`.
 * @returns The client.
 * @throws {ControlApiError} `not_running` or `invalid_file`.
 */
export function client(
  values: {
    "control-file"?: string | undefined;
    "config-dir"?: string | undefined;
  },
): Promise<ControlClient> {
  const path = values["control-file"] ?? controlFilePath(values["config-dir"]);
  return ControlClient.fromFile(path);
}

/**
 * Prints a value as one JSON line.
 *
 * @param value The value.
 */
export function printJson(value: unknown): void {
  out(
    JSON.stringify(
      value,
      (_k, v) => (typeof v === "bigint" ? v.toString() : v),
    ),
  );
}

/**
 * Formats rows as an aligned table.
 *
 * @param header Column titles.
 * @param rows Cells.
 * @returns The lines.
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (r: string[]) =>
    r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * Adds what to do to an error message.
 *
 * @param err The error.
 * @returns One line.
 */
export function explain(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof ControlApiError) {
    switch (err.code) {
      case "not_running":
        return `${msg}; start a node with "lthn-p2p start", or point at one with --control-file or --config-dir`;
      case "unreachable":
        return `${msg}; is the node still running? (a stale control file is left only if it crashed)`;
      case "unauthorized":
        return `${msg}; the control file does not belong to the running node; restart it or use --control-file`;
      case "timeout":
        return `${msg}; the peer did not answer in time: check it is running and reachable`;
      case "refused":
        return `${msg}; the worker does not trust this node: on the worker run "lthn-p2p peers trust <code>" with the code "lthn-p2p identity show --pairing" prints here`;
      default:
        return msg;
    }
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return `${msg}; run with the needed permissions (deno run -A, or the compiled binary)`;
  }
  return msg.split("\n")[0]!;
}

/**
 * Reads a whole file or standard input (`-`).
 *
 * @param path The path, or `-`.
 * @returns The bytes.
 * @throws {Error} When the file cannot be read (the message names it).
 */
export async function readInput(path: string): Promise<Uint8Array> {
  if (path === "-") {
    return new Uint8Array(
      await new Response(Deno.stdin.readable).arrayBuffer(),
    );
  }
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot read ${path}: no such file`);
    }
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Parses a positive integer flag.
 *
 * @param name The flag.
 * @param v Its text.
 * @param min Least value.
 * @returns The number, or `undefined` when absent.
 * @throws {UsageError} When it is not an integer ≥ `min`.
 */
export function intFlag(
  name: string,
  v: string | undefined,
  min = 1,
): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  }
  return Number(v);
}

/**
 * The default directories (for help texts and `--data-dir` defaults).
 *
 * @returns Data and config directories.
 */
export function defaultDirs(): { dataDir: string; configDir: string } {
  const p = nodePaths();
  return { dataDir: p.dataDir, configDir: p.configDir };
}

/**
 * Prints help when asked.
 *
 * @param values Parsed flags.
 * @param help The help text.
 * @returns Whether help was printed.
 */
export function helped(
  values: { help?: boolean | undefined },
  help: string,
): boolean {
  if (values.help) out(help);
  return values.help === true;
}

/** A subcommand: its help and flags, and what it does with them. */
export interface CommandSpec<O extends Options, A> {
  /** One-line summary shown by `lthn-p2p --help`. */
  summary: string;
  /** The text `--help` prints. */
  help: string;
  /** The command's own flags. */
  options: O;
  /** Least and most positionals, and what they are (checked when given). */
  positionals?: readonly [min: number, max: number, what: string];
  /** Does the work; resolves to the exit code. */
  run(args: A): Promise<number>;
}

/**
 * Builds a subcommand from its spec: parses the flags strictly, prints the
 * help for `--help`, checks the positionals, then runs it.
 *
 * @param spec The command.
 * @returns The command.
 */
export function defineCommand<O extends Options>(
  spec: CommandSpec<O, Parsed<Values<O>>>,
): Command {
  return {
    summary: spec.summary,
    async run(args: string[]): Promise<number> {
      const parsed = parse(args, spec.options);
      if (helped(parsed.values, spec.help)) return EXIT_OK;
      if (spec.positionals) {
        expectPositionals(parsed.positionals, ...spec.positionals);
      }
      return await spec.run(parsed);
    },
  };
}

/** What an operator command gets: flags, positionals and the node's client. */
export interface OperatorArgs<V> extends Parsed<V> {
  /** Whether `--json` was given. */
  json: boolean;
  /**
   * The client of the running node (found through `--control-file` or
   * `--config-dir`), opened on first use.
   */
  client(): Promise<ControlClient>;
}

/**
 * Builds an operator command (one that acts through the running node): as
 * {@linkcode defineCommand}, with {@linkcode CLIENT_OPTIONS} added to its
 * flags and the node's client at hand.
 *
 * @param spec The command.
 * @returns The command.
 */
export function operatorCommand<O extends Options>(
  spec: CommandSpec<O, OperatorArgs<Values<typeof CLIENT_OPTIONS & O>>>,
): Command {
  const options = { ...CLIENT_OPTIONS, ...spec.options };
  return defineCommand({
    ...spec,
    options,
    run: ({ values, positionals }) => {
      const flags = values as Values<typeof CLIENT_OPTIONS>;
      let opened: Promise<ControlClient> | undefined;
      return spec.run({
        values: values as Values<typeof CLIENT_OPTIONS & O>,
        positionals,
        json: flags.json === true,
        client: () => opened ??= client(flags),
      });
    },
  });
}
