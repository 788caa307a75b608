/**
 * `lthn-p2p stop`: asks the running node to shut down gracefully (as
 * Ctrl+C would) and waits until it is gone.
 *
 * @module
 */

import {
  ControlApiError,
  controlFilePath,
  readControlFile,
} from "../node/mod.ts";
import { type Command, EXIT_OK, out } from "./_command.ts";
import { CLIENT_HELP, intFlag, operatorCommand, printJson } from "./_common.ts";

const HELP = `Usage: lthn-p2p stop [options]

Asks the running node to stop gracefully, as Ctrl+C does: peers get a
disconnect, miners are stopped, the registry is written and the control file
removed. Waits until the node is gone.

Options:
  --timeout <seconds>    how long to wait for the node to finish (default 60)
${CLIENT_HELP}`;

export const stopCommand: Command = operatorCommand({
  summary: "stop the running node gracefully",
  help: HELP,
  options: { timeout: { type: "string" } },
  positionals: [0, 0, ""],
  async run({ values, client }): Promise<number> {
    const timeoutMs = (intFlag("timeout", values.timeout) ?? 60) * 1000;
    const file = values["control-file"] ??
      controlFilePath(values["config-dir"]);
    const c = await client();
    const token = (await readControlFile(file)).token;
    const answer = await c.call("node.stop", {});
    // Gone once the control file no longer names that node (the node
    // removes it last but one step of its shutdown) and it stops answering.
    const end = Date.now() + timeoutMs;
    for (;;) {
      let stillThere: boolean;
      try {
        stillThere = (await readControlFile(file)).token === token;
      } catch (err) {
        if (!(err instanceof ControlApiError)) throw err;
        stillThere = false;
      }
      if (!stillThere) {
        try {
          await c.health();
          stillThere = true;
        } catch {
          // unreachable: gone
        }
      }
      if (!stillThere) break;
      if (Date.now() > end) {
        throw new Error(
          `the node (pid ${answer.pid}) is still stopping after ${
            timeoutMs / 1000
          } s; wait longer with --timeout or check its log`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (values.json) printJson({ stopped: true, ...answer });
    else out(`stopped node "${answer.name}" (pid ${answer.pid})`);
    return EXIT_OK;
  },
});
