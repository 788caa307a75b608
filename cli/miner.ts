/**
 * `lthn-p2p miner start|stop`: run or stop a miner on a worker.
 *
 * @module
 */

import type { ControlParams, JsonValue } from "../node/mod.ts";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";
import {
  CLIENT_HELP,
  expectPositionals,
  operatorCommand,
  printJson,
  readInput,
} from "./_common.ts";

const HELP = `Usage: lthn-p2p miner <start|stop> <peer> <arg> [options]

  start <peer> <miner type>   start a miner (e.g. xmrig) on the worker, with a
                              stored profile (--profile) or a config (--config)
  stop <peer> <miner name>    stop a miner by the name start printed

Options:
  --profile <id>         profile stored on the worker (deploy one first)
  --config <file>        miner config JSON (a file, or - for standard input)
${CLIENT_HELP}`;

export const minerCommand: Command = operatorCommand({
  summary: "start or stop a miner on a worker",
  help: HELP,
  options: { profile: { type: "string" }, config: { type: "string" } },
  async run({ values, positionals, client }): Promise<number> {
    const action = positionals[0];
    if (action !== "start" && action !== "stop") {
      throw new UsageError(
        action === undefined
          ? "missing action: use miner start or miner stop"
          : `unknown miner action "${action}": use start or stop`,
      );
    }
    const rest = positionals.slice(1);
    if (action === "start") {
      expectPositionals(rest, 2, 2, "<peer> and <miner type>");
      if (values.profile === undefined && values.config === undefined) {
        throw new UsageError(
          "give --profile <id> or --config <file> so the worker knows how to mine",
        );
      }
      const params: ControlParams<"miner.start"> = {
        peer: rest[0]!,
        minerType: rest[1]!,
      };
      if (values.profile) params.profileId = values.profile;
      if (values.config !== undefined) {
        const text = new TextDecoder().decode(await readInput(values.config));
        try {
          params.config = JSON.parse(text) as JsonValue;
        } catch {
          throw new UsageError(`--config ${values.config} is not valid JSON`);
        }
      }
      const r = await (await client()).call("miner.start", params);
      if (values.json) printJson(r);
      else out(`started miner ${r.minerName}`);
      return EXIT_OK;
    }
    expectPositionals(rest, 2, 2, "<peer> and <miner name>");
    if (values.profile !== undefined || values.config !== undefined) {
      throw new UsageError("--profile and --config only apply to miner start");
    }
    const r = await (await client()).call("miner.stop", {
      peer: rest[0]!,
      minerName: rest[1]!,
    });
    if (values.json) printJson(r);
    else out(`stopped miner ${rest[1]}`);
    return EXIT_OK;
  },
});
