/**
 * `lthn-p2p stop`: asks the running node to shut down gracefully (as
 * Ctrl+C would) and waits until it is gone.
 *
 * @module
 */

import { ControlApiError, readControlFile } from "../node/control_api.ts";
import { controlFilePath } from "../node/control_api.ts";
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

const HELP = `Usage: lthn-p2p stop [options]

Asks the running node to stop gracefully, as Ctrl+C does: peers get a
disconnect, miners are stopped, the registry is written and the control file
removed. Waits until the node is gone.

Options:
  --timeout <seconds>    how long to wait for the node to finish (default 60)
${CLIENT_HELP}`;

const OPTIONS = { ...CLIENT_OPTIONS, timeout: { type: "string" } } as const;

/** What `node.stop` answers. */
interface StopAnswer {
  /** The node's process ID. */
  pid: number;
  /** Its name. */
  name: string;
}

export const stopCommand: Command = {
  summary: "stop the running node gracefully",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, OPTIONS);
    if (helped(values, HELP)) return EXIT_OK;
    expectPositionals(positionals, 0, 0, "");
    const timeoutMs = (intFlag("timeout", values.timeout) ?? 60) * 1000;
    const file = values["control-file"] ??
      controlFilePath(values["config-dir"]);
    const c = await client(values);
    const token = (await readControlFile(file)).token;
    const answer = await c.call("node.stop") as StopAnswer;
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
};
