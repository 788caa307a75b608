/**
 * `lthn-p2p miner start|stop`: run or stop a miner on a worker.
 *
 * @module
 */

import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";
import {
  client,
  CLIENT_HELP,
  CLIENT_OPTIONS,
  expectPositionals,
  helped,
  parse,
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

const OPTIONS = {
  ...CLIENT_OPTIONS,
  profile: { type: "string" },
  config: { type: "string" },
} as const;

export const minerCommand: Command = {
  summary: "start or stop a miner on a worker",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, OPTIONS);
    if (helped(values, HELP)) return EXIT_OK;
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
      const body: Record<string, unknown> = {
        peer: rest[0],
        minerType: rest[1],
      };
      if (values.profile) body.profileId = values.profile;
      if (values.config !== undefined) {
        const text = new TextDecoder().decode(await readInput(values.config));
        try {
          body.config = JSON.parse(text);
        } catch {
          throw new UsageError(`--config ${values.config} is not valid JSON`);
        }
      }
      const r = await (await client(values)).call("miner.start", body) as {
        minerName: string;
      };
      if (values.json) printJson(r);
      else out(`started miner ${r.minerName}`);
      return EXIT_OK;
    }
    expectPositionals(rest, 2, 2, "<peer> and <miner name>");
    if (values.profile !== undefined || values.config !== undefined) {
      throw new UsageError("--profile and --config only apply to miner start");
    }
    const r = await (await client(values)).call("miner.stop", {
      peer: rest[0],
      minerName: rest[1],
    });
    if (values.json) printJson(r);
    else out(`stopped miner ${rest[1]}`);
    return EXIT_OK;
  },
};
