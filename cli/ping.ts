/**
 * `lthn-p2p ping <peer>`: round trip to a peer through the running node.
 *
 * @module
 */

import { type Command, EXIT_OK, out } from "./_command.ts";
import { CLIENT_HELP, intFlag, operatorCommand, printJson } from "./_common.ts";

const HELP = `Usage: lthn-p2p ping <peer> [options]

Sends ping to a peer (connecting first if needed) and prints the round trip.
<peer> is a node ID, a unique ID prefix or a peer name.

Options:
  --count <n>            pings to send (default 1)
${CLIENT_HELP}`;

export const pingCommand: Command = operatorCommand({
  summary: "measure the round trip to a peer",
  help: HELP,
  options: { count: { type: "string" } },
  positionals: [1, 1, "the peer to ping"],
  async run({ values, positionals, client }): Promise<number> {
    const count = intFlag("count", values.count) ?? 1;
    const c = await client();
    const results = [];
    for (let i = 0; i < count; i++) {
      const r = await c.call("ping", { peer: positionals[0]! });
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
});
