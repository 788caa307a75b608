/**
 * Hostile-load benchmark (issue 14): each attack of `tests/_attack.ts` runs
 * for a bounded time, from its own process (`_attacker.ts`), against a node
 * in its own process (default settings, `ulimit -n 1024`), while a
 * legitimate peer in this process pings the node at 40 per second.
 * Reported per attack, beside the same peer with no attack:
 *
 * - the legitimate peer's ping round trip (p50, p99, max) and failed pings;
 * - the node's peak RSS, peak open descriptors and CPU time during the
 *   attack;
 * - time to recover: from the end of the attack until the node's
 *   descriptors are back to their count before it and a ping is again
 *   within twice the no-attack p99;
 * - what the guards counted.
 *
 * Then the measurement that decided the listener: `Deno.serve` +
 * `Deno.upgradeWebSocket` (the previous listener) under the half-sent
 * upgrade attack with the same descriptor limit.
 *
 * Usage: `deno run -A bench/hostile/run.ts [--quick] [--seconds n]
 * [--only half-sent|silent|oversized|compressed|failing] [--json]`
 * (also `deno task bench:hostile`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  HalfSentUpgrades,
  LegitPeer,
  quantile,
  Target,
  type TargetInfo,
  type TargetSample,
} from "../../tests/_attack.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    json: { type: "boolean" },
    seconds: { type: "string" },
    only: { type: "string" },
  },
  strict: true,
});
const SECONDS = Number(flags.seconds ?? (flags.quick ? 3 : 10));
const PING_EVERY_MS = 25;
const NOFILE = 1024;
const MiB = 1024 * 1024;

function log(...a: unknown[]): void {
  if (!flags.json) console.error(...a);
}

/** CPU seconds (user + system) of a process, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The attacks, by the name `_attacker.ts` knows them. */
const ATTACKS: [string, string][] = [
  ["half-sent", "half-sent HTTP upgrades"],
  ["silent", "silent handshakes"],
  ["oversized", "oversized frames before the handshake (15 MiB each)"],
  ["compressed", "compressed SMSG (61 KB → 60 MiB gzip)"],
  ["failing", "failing frames (random bytes)"],
];

/** The attacker process, prepared and waiting for the go. */
interface Attacker {
  go(): Promise<void>;
  done: Promise<Record<string, number>>;
}

async function attacker(
  name: string,
  target: TargetInfo,
): Promise<Attacker> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_attacker.ts", import.meta.url).pathname,
      name,
      JSON.stringify(target),
      String(SECONDS),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buf = "";
  const line = async (): Promise<string> => {
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`attacker ${name} exited`);
      buf += value;
    }
    const nl = buf.indexOf("\n");
    const l = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    return l;
  };
  if (JSON.parse(await line()) !== "ready") {
    throw new Error("attacker not ready");
  }
  const writer = child.stdin.getWriter();
  return {
    async go() {
      await writer.write(new TextEncoder().encode("go\n"));
    },
    done: (async () => {
      const counts = JSON.parse(await line());
      await writer.close().catch(() => {});
      await lines.cancel().catch(() => {});
      await child.status;
      return counts;
    })(),
  };
}

interface Row {
  attack: string;
  pings: number;
  failed: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  peakRssMiB: number;
  peakFds: number;
  baseFds: number;
  cpuSeconds: number;
  lagMaxMs: number;
  pingerLagMaxMs: number;
  recoverMs: number | null;
  guard: Record<string, number>;
  handshakeFailures: Record<string, number>;
  drops: Record<string, number>;
  attacker: Record<string, number>;
}

async function scenario(
  attack: [string, string] | undefined,
  baselineP99: number,
): Promise<Row> {
  const name = attack?.[1] ?? "no attack";
  log(`\n${name}: ${SECONDS} s`);
  const target = await Target.spawn({ nofile: NOFILE });
  const legit = await LegitPeer.create();
  try {
    await legit.connect(target.info, performance.now() + 30_000);
    for (let i = 0; i < 50; i++) await legit.ping(target.info);
    const evil = attack ? await attacker(attack[0], target.info) : undefined;
    const base = await target.sample();
    const cpu0 = await cpuSeconds(target.info.pid);
    let peakRss = base.rss;
    let peakFds = base.fds;
    let lagMax = 0;
    // This process's own event-loop lag: a late pong may be ours.
    let selfLag = 0;
    let expected = performance.now() + 10;
    const selfTimer = setInterval(() => {
      const now = performance.now();
      if (now < until) selfLag = Math.max(selfLag, now - expected);
      expected = now + 10;
    }, 10);
    let last: TargetSample = base;
    let sampling = true;
    let until = Infinity;
    const sampler = (async () => {
      while (sampling) {
        try {
          last = await target.sample();
          peakRss = Math.max(peakRss, last.rss);
          peakFds = Math.max(peakFds, last.fds);
          if (performance.now() < until) {
            lagMax = Math.max(lagMax, last.lagMaxMs);
          }
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const t0 = performance.now();
    until = t0 + SECONDS * 1000;
    await evil?.go();
    const rtts: number[] = [];
    let failed = 0;
    let next = performance.now();
    while (performance.now() < until) {
      next += PING_EVERY_MS;
      try {
        rtts.push(await legit.ping(target.info, 5_000));
      } catch {
        failed++;
        // Reconnect if the connection went (it should not).
        await legit.connect(target.info, performance.now() + 5_000).catch(
          () => {},
        );
      }
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const counts = evil ? await evil.done : {};
    const cpu = (await cpuSeconds(target.info.pid)) - cpu0;
    const stopped = performance.now();
    let recoverMs: number | null = null;
    while (performance.now() - stopped < 30_000) {
      const s = await target.sample();
      let rtt = Infinity;
      try {
        rtt = await legit.ping(target.info, 5_000);
      } catch {
        // not yet
      }
      if (s.fds <= base.fds && rtt <= 2 * baselineP99) {
        recoverMs = performance.now() - stopped;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    sampling = false;
    clearInterval(selfTimer);
    await sampler;
    const end = await target.sample();
    rtts.sort((a, b) => a - b);
    const row: Row = {
      attack: name,
      pings: rtts.length,
      failed,
      p50ms: quantile(rtts, 0.5),
      p99ms: quantile(rtts, 0.99),
      maxms: rtts[rtts.length - 1] ?? NaN,
      peakRssMiB: peakRss / MiB,
      peakFds,
      baseFds: base.fds,
      cpuSeconds: cpu,
      lagMaxMs: lagMax,
      pingerLagMaxMs: selfLag,
      recoverMs,
      guard: end.stats.guard,
      handshakeFailures: end.stats.handshakeFailures.inbound,
      drops: end.stats.drops,
      attacker: counts,
    };
    log(
      `  pings ${row.pings} (${row.failed} failed)  p50 ${
        row.p50ms.toFixed(2)
      } ms  p99 ${row.p99ms.toFixed(2)} ms  max ${
        row.maxms.toFixed(1)
      } ms\n  peak RSS ${
        row.peakRssMiB.toFixed(0)
      } MiB  peak fds ${row.peakFds} (before ${row.baseFds})  node CPU ${
        row.cpuSeconds.toFixed(2)
      } s  worst event-loop lag: node ${row.lagMaxMs.toFixed(0)} ms, pinger ${
        row.pingerLagMaxMs.toFixed(0)
      } ms  recovered in ${
        row.recoverMs === null ? "—" : row.recoverMs.toFixed(0) + " ms"
      }`,
    );
    const nonzero = (o: Record<string, number>) =>
      Object.entries(o).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`)
        .join(" ");
    log(
      `  guard: ${nonzero(row.guard) || "-"}; handshake failures: ${
        nonzero(row.handshakeFailures) || "-"
      }; drops: ${nonzero(row.drops) || "-"}; attacker: ${
        nonzero(row.attacker) || "-"
      }`,
    );
    return row;
  } finally {
    await legit.close();
    const status = await target.close();
    if (!status.success) {
      log(
        `  the node exited with ${status.code}: ${target.stderr.slice(0, 300)}`,
      );
    }
  }
}

/**
 * The previous listener (`Deno.serve` + `Deno.upgradeWebSocket`, no
 * timeouts to set) under the half-sent upgrade attack, same limit.
 */
async function denoServeUnderAttack(): Promise<{
  survived: boolean;
  opened: number;
  peakFds: number;
  stderr: string;
}> {
  const script = `
    const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: (a) => console.log(JSON.stringify({ addr: "127.0.0.1:" + a.port, id: "", publicKey: "" })) },
      (req) => { const { response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 }); return response; });
    for await (const _ of Deno.stdin.readable) {}
  `;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${NOFILE} && exec "$0" eval "$1"`,
      Deno.execPath(),
      script,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let head = "";
  while (!head.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    head += value;
  }
  const info = JSON.parse(head.split("\n")[0]!) as TargetInfo;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const attack = new HalfSentUpgrades(info);
  let peakFds = 0;
  const t = setInterval(async () => {
    try {
      let n = 0;
      for await (const _ of Deno.readDir(`/proc/${child.pid}/fd`)) n++;
      peakFds = Math.max(peakFds, n);
    } catch {
      // gone
    }
  }, 100);
  await attack.run({ total: 2_000, concurrency: 64 });
  await new Promise((r) => setTimeout(r, 1_000));
  clearInterval(t);
  const survived = !exited;
  await attack.stop();
  if (!exited) await child.stdin.close();
  await status;
  await reader.cancel();
  const stderr = await new Response(child.stderr).text();
  return { survived, opened: attack.counts.opened, peakFds, stderr };
}

const rows: Row[] = [];
const baseline = await scenario(undefined, Infinity);
rows.push(baseline);
for (const attack of ATTACKS) {
  if (flags.only !== undefined && attack[0] !== flags.only) continue;
  rows.push(await scenario(attack, Math.max(baseline.p99ms, 1)));
}
log(
  "\nlistener choice: Deno.serve + Deno.upgradeWebSocket, 2,000 half-sent upgrades, ulimit -n 1024",
);
const serve = await denoServeUnderAttack();
log(
  `  survived: ${serve.survived}; sockets opened ${serve.opened}; peak fds ${serve.peakFds}; stderr: ${
    serve.stderr.split("\n").find((l) => /error/i.test(l))?.replace(
      // deno-lint-ignore no-control-regex
      /\x1b\[[0-9;]*m/g,
      "",
    ).slice(0, 160) ?? "-"
  }`,
);
if (flags.json) {
  console.log(JSON.stringify({ seconds: SECONDS, rows, denoServe: serve }));
}
