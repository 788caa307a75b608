/**
 * `lthn-p2p start`: load or create the identity and run a node.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { NodeManager } from "../node/mod.ts";
import { type Command, EXIT_OK, out } from "./_command.ts";

const HELP = `Usage: lthn-p2p start [options]

Loads (or creates) the node identity and runs a node.

Options:
  --json        print the summary as JSON
  -h, --help    show this help`;

export const startCommand: Command = {
  summary: "run a node (creates an identity on first start)",
  async run(args: string[]): Promise<number> {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      out(HELP);
      return EXIT_OK;
    }
    const nm = await NodeManager.loadOrCreate();
    const id = nm.getIdentity()!;
    if (values.json) {
      out(
        JSON.stringify({
          ...id,
          keyPath: nm.keyPath,
          configPath: nm.configPath,
        }),
      );
    } else {
      out(`lthn-p2p node ${id.name} (${id.role})`);
      out(`  node ID     ${id.id}`);
      out(`  public key  ${id.publicKey}`);
      out(`  identity    ${nm.configPath}`);
    }
    return EXIT_OK;
  },
};
