/**
 * `lthn-p2p identity show|init|delete`: manage the node's identity files
 * (offline; the files a node uses, at the Go reference's default paths).
 *
 * @module
 */

import {
  NodeManager,
  type NodeManagerOptions,
  nodePaths,
  type NodeRole,
  pairingCode,
  safeNodeName,
} from "../node/mod.ts";
import { hostname } from "node:os";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";
import { defineCommand, printJson } from "./_common.ts";

const HELP = `Usage: lthn-p2p identity [show|init|delete] [options]

  show                 print the node's identity (default)
  show --pairing       print only the pairing code: one line that a worker's
                       operator gives to "lthn-p2p peers trust" to obey this node
  init                 create an identity if none exists, then print it
  delete --yes         remove the identity files (the node gets a new ID next start)

Options:
  --name <name>        name for init (default: the host name)
  --role <role>        role for init: dual (default), worker or controller
  --data-dir <dir>     data directory (default: $XDG_DATA_HOME/lethean-desktop)
  --config-dir <dir>   config directory (default: $XDG_CONFIG_HOME/lethean-desktop)
  --key-path <path>    private key file (overrides --data-dir)
  --config-path <path> identity JSON file (overrides --config-dir)
  --pairing            show: print only the pairing code
  --yes                confirm delete
  --json               machine-readable output
  -h, --help           show this help`;

const OPTIONS = {
  name: { type: "string" },
  role: { type: "string" },
  "data-dir": { type: "string" },
  "config-dir": { type: "string" },
  "key-path": { type: "string" },
  "config-path": { type: "string" },
  yes: { type: "boolean" },
  pairing: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export const identityCommand: Command = defineCommand({
  summary: "show, create or delete the node identity",
  help: HELP,
  options: OPTIONS,
  positionals: [0, 1, "action"],
  async run({ values, positionals }): Promise<number> {
    const action = positionals[0] ?? "show";
    if (!["show", "init", "delete"].includes(action)) {
      throw new UsageError(
        `unknown identity action "${action}": use show, init or delete`,
      );
    }
    const role = (values.role ?? "dual") as NodeRole;
    if (!["controller", "worker", "dual"].includes(role)) {
      throw new UsageError(
        `--role must be controller, worker or dual, got "${values.role}"`,
      );
    }
    const paths = nodePaths(values["data-dir"], values["config-dir"]);
    const opts: NodeManagerOptions = {
      keyPath: values["key-path"] ?? paths.keyPath,
      configPath: values["config-path"] ?? paths.identityPath,
    };
    const json = values.json === true;
    if (values.pairing && action !== "show") {
      throw new UsageError("--pairing applies to identity show only");
    }
    const nm = await NodeManager.open(opts);
    switch (action) {
      case "show": {
        if (nm.loadError) throw nm.loadError;
        if (!nm.hasIdentity()) {
          throw new Error(
            `No identity at ${opts.configPath}: create one with "lthn-p2p identity init" or "lthn-p2p start"`,
          );
        }
        if (values.pairing && !json) out(pairingCode(nm.getIdentity()!));
        else print(nm, json, false);
        return EXIT_OK;
      }
      case "init": {
        if (nm.loadError) throw nm.loadError;
        let created = false;
        if (!nm.hasIdentity()) {
          let host = "";
          try {
            host = hostname();
          } catch {
            // unavailable
          }
          await nm.generateIdentity(values.name ?? safeNodeName(host), role);
          created = true;
        }
        print(nm, json, created);
        return EXIT_OK;
      }
      default: {
        if (!values.yes) {
          throw new UsageError(
            "identity delete removes the node's key for good: add --yes to confirm",
          );
        }
        const had = nm.hasIdentity();
        await nm.delete();
        if (json) {
          printJson({
            deleted: had,
            keyPath: nm.keyPath,
            configPath: nm.configPath,
          });
        } else out(had ? "identity deleted" : "no identity to delete");
        return EXIT_OK;
      }
    }
  },
});

function print(nm: NodeManager, json: boolean, created: boolean): void {
  const id = nm.getIdentity()!;
  if (json) {
    printJson({
      ...id,
      pairingCode: pairingCode(id),
      keyPath: nm.keyPath,
      configPath: nm.configPath,
      created,
    });
    return;
  }
  if (created) out("created a new identity");
  out(`node ID      ${id.id}`);
  out(`name         ${id.name}`);
  out(`role         ${id.role}`);
  out(`public key   ${id.publicKey}`);
  out(`pairing code ${pairingCode(id)}`);
  out(`created      ${id.createdAt}`);
  out(`private key  ${nm.keyPath}`);
  out(`identity     ${nm.configPath}`);
}
