/**
 * `lthn-p2p deploy <peer>`: send a profile, a miner or a ready bundle to a
 * worker through the running node, with a progress indicator on a terminal.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { basename, extname } from "node:path";
import type { ControlDeployParams } from "../node/mod.ts";
import { type Command, EXIT_OK, out, UsageError } from "./_command.ts";
import {
  CLIENT_HELP,
  intFlag,
  operatorCommand,
  printJson,
  readInput,
} from "./_common.ts";

const HELP =
  `Usage: lthn-p2p deploy <peer> (--profile <file> | --miner <file> | --bundle <file>) [options]

Sends a deployment to a worker. Profile and miner bundles are built and
encrypted by the running node for that peer (with the pair's shared secret,
as Go nodes expect); --bundle sends one made with "lthn-p2p bundle create".

  --profile <file>       a mining profile (JSON); with --miner, bundled as its config
  --miner <file>         a miner executable, installed on the worker in
                         <data dir>/miners/<name> (name it after the miner type)
  --bundle <file>        a ready bundle JSON
  --name <name>          bundle name (default: the profile's "id", else the file name)
  --max-frame <bytes>    the worker's frame limit (default: what the worker
                         advertised on connecting, 16 MiB for ours; 1 MiB for Go
                         workers, which cannot take bundles above ~760 KiB)
${CLIENT_HELP}`;

const OPTIONS = {
  profile: { type: "string" },
  miner: { type: "string" },
  bundle: { type: "string" },
  name: { type: "string" },
  "max-frame": { type: "string" },
} as const;

function stem(path: string): string {
  const b = basename(path);
  const e = extname(b);
  return e && e !== b ? b.slice(0, -e.length) : b;
}

function mib(n: number): string {
  return n >= 1024 * 1024
    ? `${(n / 1024 / 1024).toFixed(1)} MiB`
    : `${(n / 1024).toFixed(1)} KiB`;
}

/** A one-line progress display on standard error (terminals only). */
class Progress {
  readonly #on: boolean;
  readonly #enc = new TextEncoder();
  readonly #frames = ["|", "/", "-", "\\"];
  #text = "";
  #i = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(on: boolean) {
    this.#on = on;
    if (on) this.#timer = setInterval(() => this.#draw(), 120);
  }

  set(text: string): void {
    this.#text = text;
    this.#draw();
  }

  #draw(): void {
    if (!this.#on) return;
    const f = this.#frames[this.#i++ % this.#frames.length];
    Deno.stderr.writeSync(this.#enc.encode(`\r\x1b[K${f} ${this.#text}`));
  }

  done(): void {
    if (!this.#on) return;
    clearInterval(this.#timer);
    Deno.stderr.writeSync(this.#enc.encode("\r\x1b[K"));
  }
}

export const deployCommand: Command = operatorCommand({
  summary: "deploy a profile, miner or bundle to a worker",
  help: HELP,
  options: OPTIONS,
  positionals: [1, 1, "the peer to deploy to"],
  async run({ values, positionals, client }): Promise<number> {
    const { profile, miner, bundle } = values;
    if (
      bundle !== undefined && (profile !== undefined || miner !== undefined)
    ) {
      throw new UsageError(
        "--bundle cannot be combined with --profile or --miner",
      );
    }
    if (bundle === undefined && profile === undefined && miner === undefined) {
      throw new UsageError(
        "give --profile <file>, --miner <file> or --bundle <file>",
      );
    }
    const maxFrame = intFlag("max-frame", values["max-frame"], 1024);
    const body: ControlDeployParams = {
      peer: positionals[0]!,
      kind: "profile",
    };
    if (maxFrame !== undefined) body.peerMaxMessageSize = maxFrame;
    let name = values.name;
    if (bundle !== undefined) {
      body.kind = "bundle";
      body.bundle = new TextDecoder().decode(await readInput(bundle));
    } else {
      if (profile !== undefined) {
        const text = new TextDecoder().decode(await readInput(profile));
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new UsageError(`--profile ${profile} is not valid JSON`);
        }
        body.profile = text;
        const id = (parsed as { id?: unknown })?.id;
        if (name === undefined && miner === undefined) {
          name = typeof id === "string" && id !== "" ? id : stem(profile);
        }
      }
      if (miner !== undefined) {
        const data = await readInput(miner);
        body.kind = "miner";
        body.miner = {
          fileName: basename(miner),
          data: Buffer.from(data).toString("base64"),
        };
        name ??= stem(miner);
      } else {
        body.kind = "profile";
      }
      if (name !== undefined) body.name = name;
    }
    const tty = !values.json && Deno.stderr.isTerminal();
    const progress = new Progress(tty);
    const label = name ?? "bundle";
    progress.set(`deploying ${label}: contacting the node`);
    let result;
    try {
      result = await (await client()).call("deploy", body, {
        onProgress: (p) => {
          if (p.stage === "sending") {
            progress.set(
              `deploying ${label}: sending ${
                mib(p.bytes ?? 0)
              }, waiting for the worker`,
            );
          } else progress.set(`deploying ${label}: ${p.stage}`);
        },
      });
    } finally {
      progress.done();
    }
    if (values.json) printJson(result);
    else {out(
        `deployed ${result.name} (${mib(result.bytes)}) to ${positionals[0]}`,
      );}
    return EXIT_OK;
  },
});
