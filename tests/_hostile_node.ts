/**
 * The node under attack in the hostile-network tests and benchmark, run as
 * a child process (so its descriptors, memory and survival are its own):
 * a worker `Node` with default settings except those given as a JSON
 * argument, listening on 127.0.0.1 and with its control API on.
 *
 * Prints one JSON line `{addr, id, publicKey, pid, control}` once
 * listening. Each `stats` line on stdin is answered with one JSON line:
 * the transport stats, the process RSS in bytes, its open descriptors and
 * the worst event-loop lag since the previous sample.
 * Exits (stopping the node) when stdin closes.
 *
 * Usage: `deno run -A tests/_hostile_node.ts '{"maxUnproven": 32}'`
 *
 * @module
 */

import { Logger, LogLevel } from "../logging/mod.ts";
import { Node } from "../node/node.ts";

const config = JSON.parse(Deno.args[0] ?? "{}");
const quiet = new Logger({ level: LogLevel.Error, sink: { write: () => {} } });
const dir = await Deno.makeTempDir({ prefix: "p2p-hostile-target-" });
const node = await Node.create({
  dataDir: `${dir}/data`,
  configDir: `${dir}/config`,
  name: "target",
  role: "worker",
  transport: { listenAddr: "127.0.0.1:0", ...config },
  control: { port: 0 },
  minerManager: null,
  profileManager: null,
  logger: quiet,
  registrySaveDelayMs: 60_000,
});
await node.start();

/** Open descriptors; -1 when none is free to count them with. */
function openDescriptors(): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return -1;
  }
}

// Event-loop lag: how late a 10 ms timer fires (the worst since the last
// sample).
let lagMax = 0;
let expected = performance.now() + 10;
const lagTimer = setInterval(() => {
  const now = performance.now();
  lagMax = Math.max(lagMax, now - expected);
  expected = now + 10;
}, 10);

const encoder = new TextEncoder();
const out = (v: unknown) =>
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(v) + "\n"));
out({
  addr: node.transport.addr,
  id: node.identity.id,
  publicKey: node.identity.publicKey,
  pid: Deno.pid,
  control: node.control?.url ?? "",
  controlFile: node.paths.controlFile,
});

let pending = "";
for await (
  const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === "stats") {
      out({
        stats: node.transport.stats(),
        connections: node.transport.connections().length,
        rss: Deno.memoryUsage().rss,
        fds: openDescriptors(),
        lagMaxMs: lagMax,
      });
      lagMax = 0;
    }
  }
}
clearInterval(lagTimer);
await node.stop();
await Deno.remove(dir, { recursive: true });
