/**
 * `lthn-p2p bundle create|extract|verify`: deployment bundles, offline.
 *
 * @module
 */

import { dirname } from "node:path";
import {
  type Bundle,
  createMinerBundle,
  createProfileBundle,
  createProfileBundleUnencrypted,
  encodeBundle,
  extractMinerBundle,
  extractProfileBundle,
  NodeManager,
  nodePaths,
  readBundle,
  secretToPassword,
  verifyBundle,
  writeFileAtomic,
} from "../node/mod.ts";
import {
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  out,
  UsageError,
} from "./_command.ts";
import {
  defineCommand,
  expectPositionals,
  printJson,
  readInput,
  type Values,
} from "./_common.ts";

const HELP = `Usage: lthn-p2p bundle <create|extract|verify> … [options]

Works on bundle files without a running node.

  create profile <profile.json>   a profile bundle
  create miner <executable>       a miner bundle (add --profile <file> as its config)
  extract <bundle.json>           profile: print (or --output) the JSON;
                                  miner: install into --output <dir>
  verify <bundle.json>            check the bundle's SHA-256 checksum

A bundle is encrypted with a password. For go-p2p peers the password is
derived from the pair's shared secret: use --for <peer public key> when
creating (and --from <peer public key> when extracting) with this machine's
identity, or give --password yourself.

Options:
  --name <name>          bundle name (create; default: the file name)
  --profile <file>       profile JSON to bundle with a miner (create miner)
  --password <text>      the encryption password
  --for <public key>     derive the password for that peer (create)
  --from <public key>    derive the password for that peer (extract)
  --plain                create an unencrypted profile bundle (Go accepts these)
  -o, --output <path>    write here instead of standard output (extract miner: a directory)
  --data-dir <dir>       identity location for --for/--from
  --config-dir <dir>     identity location for --for/--from
  --json                 machine-readable output
  -h, --help             show this help`;

const OPTIONS = {
  name: { type: "string" },
  profile: { type: "string" },
  password: { type: "string" },
  for: { type: "string" },
  from: { type: "string" },
  plain: { type: "boolean" },
  output: { type: "string", short: "o" },
  "data-dir": { type: "string" },
  "config-dir": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type BundleValues = Values<typeof OPTIONS>;

function baseName(path: string): string {
  const b = path.split(/[\\/]/).pop() ?? path;
  return b.replace(/\.json$/i, "");
}

async function password(
  values: BundleValues,
  peerKey: string | undefined,
): Promise<string> {
  if (values.password !== undefined && peerKey !== undefined) {
    throw new UsageError(
      "give either --password or a peer key (--for/--from), not both",
    );
  }
  if (values.password !== undefined) {
    if (values.password === "") {
      throw new UsageError("--password must not be empty");
    }
    return values.password;
  }
  if (peerKey === undefined) {
    throw new UsageError(
      "give --password, or --for/--from <peer public key> to derive it",
    );
  }
  const p = nodePaths(values["data-dir"], values["config-dir"]);
  const nm = await NodeManager.open({
    keyPath: p.keyPath,
    configPath: p.identityPath,
  });
  if (nm.loadError) throw nm.loadError;
  if (!nm.hasIdentity()) {
    throw new Error(
      `No identity at ${p.identityPath} to derive the password: run "lthn-p2p identity init"`,
    );
  }
  let secret: Uint8Array;
  try {
    secret = nm.deriveSharedSecret(peerKey);
  } catch {
    throw new UsageError(
      `"${peerKey}" is not a valid base64 X25519 public key`,
    );
  }
  try {
    return secretToPassword(secret);
  } finally {
    secret.fill(0);
  }
}

async function emit(path: string | undefined, text: string): Promise<void> {
  if (path === undefined || path === "-") {
    out(text.endsWith("\n") ? text.slice(0, -1) : text);
  } else {
    await writeFileAtomic(path, text, { mode: 0o600 });
  }
}

async function load(path: string): Promise<Bundle> {
  const bytes = await readInput(path);
  try {
    return await readBundle(bytes);
  } catch (e) {
    throw new Error(`Cannot read bundle ${path}: ${(e as Error).message}`);
  }
}

export const bundleCommand: Command = defineCommand({
  summary: "create, extract or verify deployment bundles (offline)",
  help: HELP,
  options: OPTIONS,
  async run({ values, positionals }): Promise<number> {
    const action = positionals[0];
    switch (action) {
      case "create": {
        const kind = positionals[1];
        if (kind !== "profile" && kind !== "miner") {
          throw new UsageError(
            kind === undefined
              ? "missing bundle kind: use bundle create profile|miner <file>"
              : `unknown bundle kind "${kind}": use profile or miner`,
          );
        }
        expectPositionals(positionals.slice(2), 1, 1, `the ${kind} file`);
        if (values.from !== undefined) {
          throw new UsageError("--from applies to extract; use --for");
        }
        const file = positionals[2]!;
        const name = values.name ?? baseName(file);
        let b: Bundle;
        if (kind === "profile") {
          if (values.profile !== undefined) {
            throw new UsageError("--profile applies to create miner");
          }
          const text = new TextDecoder().decode(await readInput(file));
          try {
            JSON.parse(text);
          } catch {
            throw new UsageError(`${file} is not valid JSON`);
          }
          if (values.plain) {
            if (values.password !== undefined || values.for !== undefined) {
              throw new UsageError("--plain bundles have no password");
            }
            b = createProfileBundleUnencrypted(text, name);
          } else {
            b = await createProfileBundle(
              text,
              name,
              await password(values, values.for),
            );
          }
        } else {
          if (values.plain) {
            throw new UsageError("--plain applies to profile bundles only");
          }
          let profile: string | undefined;
          if (values.profile !== undefined) {
            profile = new TextDecoder().decode(await readInput(values.profile));
            try {
              JSON.parse(profile);
            } catch {
              throw new UsageError(
                `--profile ${values.profile} is not valid JSON`,
              );
            }
          }
          await readInput(file); // clear error for a missing file
          b = await createMinerBundle(
            file,
            profile,
            name,
            await password(values, values.for),
          );
        }
        await emit(values.output, encodeBundle(b));
        if (values.output !== undefined && values.output !== "-") {
          if (values.json) {
            printJson({
              type: b.type,
              name: b.name,
              bytes: b.data.byteLength,
              checksum: b.checksum,
              output: values.output,
            });
          } else {out(
              `wrote ${b.type} bundle ${b.name} (${b.data.byteLength} bytes) to ${values.output}`,
            );}
        }
        return EXIT_OK;
      }
      case "extract": {
        expectPositionals(positionals.slice(1), 1, 1, "the bundle file");
        if (values.for !== undefined) {
          throw new UsageError("--for applies to create; use --from");
        }
        const b = await load(positionals[1]!);
        if (b.type === "profile") {
          const first = b.data[0];
          const plain = first === 0x7b || first === 0x5b;
          const pw =
            plain && values.password === undefined && values.from === undefined
              ? "unused"
              : await password(values, values.from);
          const json = await extractProfileBundle(b, pw);
          await emit(values.output, new TextDecoder().decode(json));
          return EXIT_OK;
        }
        if (values.output === undefined || values.output === "-") {
          throw new UsageError(
            "a miner bundle needs --output <directory> to extract into",
          );
        }
        const pw = await password(values, values.from);
        await Deno.mkdir(dirname(values.output), { recursive: true });
        const r = await extractMinerBundle(b, pw, values.output);
        if (values.json) {
          printJson({
            type: b.type,
            name: b.name,
            minerPath: r.minerPath,
            configBytes: r.config.byteLength,
          });
        } else {
          out(`extracted ${b.type} bundle ${b.name} into ${values.output}`);
          if (r.minerPath) out(`miner: ${r.minerPath}`);
        }
        return EXIT_OK;
      }
      case "verify": {
        expectPositionals(positionals.slice(1), 1, 1, "the bundle file");
        const b = await load(positionals[1]!);
        const ok = verifyBundle(b);
        if (values.json) {
          printJson({
            ok,
            type: b.type,
            name: b.name,
            bytes: b.data.byteLength,
            checksum: b.checksum,
          });
        } else if (ok) {
          out(
            `ok: ${b.type} bundle ${b.name}, ${b.data.byteLength} bytes, sha256 ${b.checksum}`,
          );
        } else {out(
            `checksum mismatch: ${b.type} bundle ${b.name} is corrupted`,
          );}
        return ok ? EXIT_OK : EXIT_FAILURE;
      }
      default:
        throw new UsageError(
          action === undefined
            ? "missing action: use bundle create, extract or verify"
            : `unknown bundle action "${action}": use create, extract or verify`,
        );
    }
  },
});
