/**
 * The shape shared by every subcommand of the `lthn-p2p` CLI.
 *
 * @module
 */

/** Exit code for success. */
export const EXIT_OK = 0;
/** Exit code for a failure while doing the work. */
export const EXIT_FAILURE = 1;
/** Exit code for a misuse of the command line. */
export const EXIT_USAGE = 2;

/** One subcommand. */
export interface Command {
  /** One-line summary shown by `--help`. */
  summary: string;
  /** Runs the command with its own arguments; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** Thrown for a bad invocation; the CLI prints it in one line and exits 2. */
export class UsageError extends Error {
  /**
   * Creates a usage error.
   *
   * @param message What was wrong and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Writes one line to standard output.
 *
 * @param line The text.
 */
export function out(line: string): void {
  console.log(line);
}

/**
 * Writes one line to standard error.
 *
 * @param line The text.
 */
export function err(line: string): void {
  console.error(line);
}
