import assert from "node:assert/strict";
import { Logger, LogLevel } from "../../logging/logger.ts";
import { CommandCounts } from "./command_audit.ts";
import {
  CommandLog,
  REFUSAL_BURST,
  REFUSAL_INTERVAL_MS,
} from "./_command_log.ts";

function logger(level: LogLevel): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: new Logger({
      level,
      sink: { write: (l: string) => void lines.push(l) },
    }),
  };
}

Deno.test("CommandCounts: every command and outcome is a series from the start", () => {
  const c = new CommandCounts();
  assert.ok(c.samples().every((s) => s.value === 0));
  c.record({ command: "deploy", outcome: "refused" });
  c.record({ command: "deploy", outcome: "refused" });
  c.record({ command: "ping", outcome: "ok" });
  assert.equal(c.get("deploy", "refused"), 2);
  assert.equal(c.get("ping", "ok"), 1);
  assert.equal(c.get("ping", "failed"), 0);
  const s = c.samples().find((x) =>
    x.labels?.command === "deploy" && x.labels.outcome === "refused"
  );
  assert.equal(s?.value, 2);
});

Deno.test("CommandLog: changes at info with peer ID and name; reads and pings at debug; failures with the error", () => {
  const { log, lines } = logger(LogLevel.Info);
  const cl = new CommandLog(log, () => 0);
  cl.write({
    peerId: "p1",
    peerName: "alpha",
    command: "deploy",
    outcome: "ok",
  });
  cl.write({
    peerId: "p1",
    peerName: "alpha",
    command: "get_stats",
    outcome: "ok",
  });
  cl.write({ peerId: "p1", peerName: "alpha", command: "ping", outcome: "ok" });
  cl.write({
    peerId: "p1",
    peerName: "alpha",
    command: "start_miner",
    outcome: "failed",
    errorCode: 1004,
    error: "no such miner",
  });
  assert.equal(lines.length, 2, lines.join(""));
  assert.match(
    lines[0]!,
    /\[INFO\].*command obeyed.*peer_id=p1 peer_name=alpha command=deploy outcome=ok/,
  );
  assert.match(
    lines[1]!,
    /command failed.*command=start_miner outcome=failed code=1004 error=no such miner/,
  );
});

Deno.test("CommandLog: refusals are warnings, limited per peer, and say how many were left out", () => {
  const { log, lines } = logger(LogLevel.Info);
  let now = 1_000_000;
  const cl = new CommandLog(log, () => now);
  const refuse = (peerId: string) =>
    cl.write({ peerId, peerName: "x", command: "deploy", outcome: "refused" });
  for (let i = 0; i < 100; i++) refuse("attacker");
  assert.equal(lines.length, REFUSAL_BURST);
  assert.ok(
    lines.every((l) => /\[WARN\].*command refused.*peer_id=attacker/.test(l)),
  );
  // Another peer has its own budget.
  refuse("other");
  assert.equal(lines.length, REFUSAL_BURST + 1);
  // Time passes: one more line, counting the ones left out.
  now += REFUSAL_INTERVAL_MS;
  refuse("attacker");
  assert.equal(lines.length, REFUSAL_BURST + 2);
  assert.match(lines.at(-1)!, new RegExp(`suppressed=${100 - REFUSAL_BURST}`));
});
