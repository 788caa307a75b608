/**
 * Miner stop escalation (issue 15): how long `stopMiner` takes for an `sh`
 * miner that defers SIGTERM while its `sleep 30` child runs, with a 1 s
 * grace period. Compare with another checkout's manager:
 *
 *     deno run -A bench/daemon/miner_stop.ts
 *     deno run -A bench/daemon/miner_stop.ts --manager /tmp/base/node/managers/process_miner.ts
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    manager: {
      type: "string",
      default: fileURLToPath(
        new URL("../../node/managers/process_miner.ts", import.meta.url),
      ),
    },
  },
  strict: true,
});
const { ProcessMinerManager } = await import(
  pathToFileURL(flags.manager!).href
) as typeof import("../../node/managers/process_miner.ts");

const dataDir = await Deno.makeTempDir({ prefix: "miner_stop_bench_" });
try {
  await Deno.mkdir(`${dataDir}/miners/stubborn`, { recursive: true });
  const script = `${dataDir}/miners/stubborn/stubborn`;
  await Deno.writeTextFile(
    script,
    "#!/bin/sh\ntrap 'echo deferring' TERM\necho running\nsleep 30\n",
  );
  await Deno.chmod(script, 0o755);
  const mm = new ProcessMinerManager({ dataDir, stopGraceMs: 1_000 });
  try {
    await mm.startMiner("stubborn", {});
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await mm.stopMiner("stubborn");
    console.log(
      `stopMiner with grace 1 s: ${(performance.now() - t0).toFixed(0)} ms`,
    );
  } finally {
    await mm.close();
  }
} finally {
  await Deno.remove(dataDir, { recursive: true });
}
