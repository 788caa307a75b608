/**
 * `lthn-p2p identity show|init|delete`: manage the node's identity files.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  NodeManager,
  type NodeManagerOptions,
  type NodeRole,
} from "../node/mod.ts";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";

const HELP = `Usage: lthn-p2p identity <show|init|delete> [options]

  show                 print the node's identity
  init                 create an identity if none exists
  delete               remove the identity files

Options:
  --name <name>        name for init (default: the host name)
  --role <role>        controller, worker or dual (default: dual)
  --key-path <path>    private key file (default: XDG data dir)
  --config-path <path> identity JSON file (default: XDG config dir)
  --json               machine-readable output
  -h, --help           show this help`;

export const identityCommand: Command = {
  summary: "show, create or delete the node identity",
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: "string" },
        role: { type: "string" },
        "key-path": { type: "string" },
        "config-path": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      out(HELP);
      return EXIT_OK;
    }
    const action = positionals[0] ?? "show";
    const opts: NodeManagerOptions = {};
    if (values["key-path"]) opts.keyPath = values["key-path"];
    if (values["config-path"]) opts.configPath = values["config-path"];
    const role = (values.role ?? "dual") as NodeRole;
    if (!["controller", "worker", "dual"].includes(role)) {
      throw new UsageError(
        `--role must be controller, worker or dual, got "${values.role}"`,
      );
    }
    switch (action) {
      case "show": {
        const nm = await NodeManager.open(opts);
        if (nm.loadError) throw nm.loadError;
        const id = nm.getIdentity();
        if (!id) {
          throw new Error(
            "No identity yet: run `lthn-p2p identity init` or `lthn-p2p start`",
          );
        }
        print(id, values.json === true, nm);
        return EXIT_OK;
      }
      case "init": {
        const nm = await NodeManager.open(opts);
        if (nm.loadError) throw nm.loadError;
        if (!nm.hasIdentity()) {
          if (values.name) await nm.generateIdentity(values.name, role);
          else {
            const created = await NodeManager.loadOrCreate(opts);
            print(created.getIdentity()!, values.json === true, created);
            return EXIT_OK;
          }
        }
        print(nm.getIdentity()!, values.json === true, nm);
        return EXIT_OK;
      }
      case "delete": {
        const nm = await NodeManager.open(opts);
        await nm.delete();
        if (!values.json) out("identity deleted");
        else out(JSON.stringify({ deleted: true }));
        return EXIT_OK;
      }
      default:
        throw new UsageError(
          `unknown identity action "${action}": use show, init or delete`,
        );
    }
  },
};

function print(
  id: {
    id: string;
    name: string;
    publicKey: string;
    role: string;
    createdAt: string;
  },
  json: boolean,
  nm: NodeManager,
): void {
  if (json) {
    out(
      JSON.stringify({ ...id, keyPath: nm.keyPath, configPath: nm.configPath }),
    );
    return;
  }
  out(`node ID     ${id.id}`);
  out(`name        ${id.name}`);
  out(`role        ${id.role}`);
  out(`public key  ${id.publicKey}`);
  out(`created     ${id.createdAt}`);
  out(`key file    ${nm.keyPath}`);
  out(`identity    ${nm.configPath}`);
}
