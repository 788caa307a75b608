/**
 * `lthn-p2p logs <peer> <miner>`: a miner's console lines from a worker.
 *
 * @module
 */

import type { ControlParams } from "../node/mod.ts";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";
import { CLIENT_HELP, intFlag, operatorCommand, printJson } from "./_common.ts";

const HELP = `Usage: lthn-p2p logs <peer> <miner name> [options]

Prints the newest console lines of a miner running on a worker.

Options:
  --lines <n>            how many lines (default 100, at most 10000)
  --since <time>         only lines from this time on (RFC 3339, or e.g. 5m, 2h)
${CLIENT_HELP}`;

function parseSince(v: string): number {
  const rel = /^(\d+)(s|m|h|d)$/.exec(v);
  if (rel) {
    const unit =
      { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as "s" | "m" | "h" | "d"];
    return Date.now() - Number(rel[1]) * unit;
  }
  const t = Date.parse(v);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(v)) {
    throw new UsageError(
      `--since must be an RFC 3339 time or a duration like 5m, got "${v}"`,
    );
  }
  return t;
}

export const logsCommand: Command = operatorCommand({
  summary: "show a miner's console output from a worker",
  help: HELP,
  options: { lines: { type: "string" }, since: { type: "string" } },
  positionals: [2, 2, "<peer> and <miner name>"],
  async run({ values, positionals, client }): Promise<number> {
    const lines = intFlag("lines", values.lines) ?? 100;
    if (lines > 10_000) {
      throw new UsageError(`--lines must be at most 10000, got ${lines}`);
    }
    const params: ControlParams<"logs"> = {
      peer: positionals[0]!,
      minerName: positionals[1]!,
      lines,
    };
    if (values.since !== undefined) params.since = parseSince(values.since);
    const r = await (await client()).call("logs", params);
    if (values.json) printJson(r);
    else for (const l of r.lines) out(l);
    return EXIT_OK;
  },
});
