/**
 * `lthn-p2p ping <peer>`: round trip to a peer through the running node.
 *
 * @module
 */

import { type Command, EXIT_OK, out } from "./_command.ts";
import {
  client,
  CLIENT_HELP,
  CLIENT_OPTIONS,
  expectPositionals,
  helped,
  intFlag,
  parse,
  printJson,
} from "./_common.ts";

const HELP = `Usage: lthn-p2p ping <peer> [options]

Sends ping to a peer (connecting first if needed) and prints the round trip.
<peer> is a node ID, a unique ID prefix or a peer name.

Options:
  --count <n>            pings to send (default 1)
${CLIENT_HELP}`;

const OPTIONS = { ...CLIENT_OPTIONS, count: { type: "string" } } as const;

export const pingCommand: Command = {
  summary: "measure the round trip to a peer",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, OPTIONS);
    if (helped(values, HELP)) return EXIT_OK;
    expectPositionals(positionals, 1, 1, "the peer to ping");
    const count = intFlag("count", values.count) ?? 1;
    const c = await client(values);
    const results: { peerId: string; name: string; rttMs: number }[] = [];
    for (let i = 0; i < count; i++) {
      const r = await c.call("ping", { peer: positionals[0] }) as {
        peerId: string;
        name: string;
        rttMs: number;
      };
      results.push(r);
      if (!values.json) {
        out(
          `pong from ${r.name || "(unnamed)"} ${r.peerId}: ${
            r.rttMs.toFixed(2)
          } ms`,
        );
      }
    }
    if (values.json) printJson(count === 1 ? results[0] : results);
    return EXIT_OK;
  },
};
