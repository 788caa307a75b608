/**
 * `lthn-p2p stats [peer]`: a worker's stats, or every connected worker's.
 *
 * @module
 */

import type { FleetReport, StatsPayload } from "../node/mod.ts";
import { type Command, EXIT_OK, out } from "./_command.ts";
import { CLIENT_HELP, operatorCommand, printJson, table } from "./_common.ts";

const HELP = `Usage: lthn-p2p stats [peer] [options]

Asks one worker (or, without <peer>, every connected worker) for its stats:
name, uptime and each miner's hashrate, shares and pool. Without <peer>,
workers that are not answering are not waited for: they are listed, with
the registered workers that are not connected.

Options:
${CLIENT_HELP}`;

function render(s: StatsPayload): string {
  const head =
    `${s.nodeName} ${s.nodeId}  up ${s.uptime}s  ${s.miners.length} miner(s)`;
  if (s.miners.length === 0) return head;
  return head + "\n" + table(
    [
      "MINER",
      "TYPE",
      "HASHRATE",
      "SHARES",
      "REJECTED",
      "UPTIME",
      "POOL",
      "ALGO",
    ],
    s.miners.map((m) => [
      m.name,
      m.type,
      `${m.hashrate.toFixed(1)} H/s`,
      String(m.shares),
      String(m.rejected),
      `${m.uptime}s`,
      m.pool || "-",
      m.algorithm || "-",
    ]),
  ).split("\n").map((l) => "  " + l).join("\n");
}

function renderFleet(f: FleetReport): string {
  const list = Object.values(f.stats ?? {});
  const lines = list.map(render);
  const missing = f.missing ?? [];
  const away = f.notConnected ?? [];
  if (missing.length > 0) {
    lines.push(`no answer from ${missing.length} connected worker(s):`);
    for (const m of missing) {
      lines.push(`  ${m.name || "-"} ${m.peerId}  ${m.reason}: ${m.error}`);
    }
  }
  if (away.length > 0) {
    lines.push(`${away.length} registered worker(s) not connected:`);
    for (const a of away) {
      const why = a.lastError ? `, ${a.lastError}` : "";
      lines.push(
        `  ${a.name || "-"} ${a.peerId} at ${a.address}  ${
          a.state.replace("_", " ")
        }${why}`,
      );
    }
  }
  if (lines.length === 0) {
    return 'no workers: connect one with "lthn-p2p peers add <host:port>"';
  }
  return lines.join("\n");
}

export const statsCommand: Command = operatorCommand({
  summary: "show a worker's stats (or every connected worker's)",
  help: HELP,
  options: {},
  positionals: [0, 1, ""],
  async run({ values, positionals, client }): Promise<number> {
    const c = await client();
    if (positionals[0] !== undefined) {
      const s = await c.call("stats", { peer: positionals[0] }) as StatsPayload;
      if (values.json) printJson(s);
      else out(render(s));
      return EXIT_OK;
    }
    const fleet = await c.call("stats", {}) as FleetReport;
    if (values.json) printJson(fleet);
    else out(renderFleet(fleet));
    return EXIT_OK;
  },
});
