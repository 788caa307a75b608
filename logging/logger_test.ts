import assert from "node:assert/strict";
import {
  getGlobalLogger,
  info,
  levelName,
  Logger,
  LogLevel,
  parseLevel,
  REDACTED,
  Secret,
  setGlobalLevel,
  setGlobalLogger,
  warn,
} from "./mod.ts";

function capture(options: ConstructorParameters<typeof Logger>[0] = {}) {
  const lines: string[] = [];
  const log = new Logger({
    sink: { write: (l) => lines.push(l) },
    now: () => new Date(2026, 1, 20, 10, 0, 5),
    ...options,
  });
  return { lines, log };
}

Deno.test("Logger writes Go's line format with component and fields", () => {
  const { lines, log } = capture();
  log.withComponent("dispatcher").warn("packet dropped: unknown intent", {
    intent_id: "0x42",
  }, { version: 9 });
  assert.deepEqual(lines, [
    "2026/02/20 10:00:05 [WARN] [dispatcher] packet dropped: unknown intent | intent_id=0x42 version=9\n",
  ]);
});

Deno.test("Logger omits the component and the field section when empty", () => {
  const { lines, log } = capture();
  log.info("started");
  log.info("started", {});
  assert.deepEqual(lines, [
    "2026/02/20 10:00:05 [INFO] started\n",
    "2026/02/20 10:00:05 [INFO] started\n",
  ]);
});

Deno.test("Logger filters by level: a message is written when level >= logger level", () => {
  const { lines, log } = capture({ level: LogLevel.Warn });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.equal(lines.length, 2);
  assert.ok(lines[0]!.includes("[WARN] w"));
  assert.ok(lines[1]!.includes("[ERROR] e"));
  assert.equal(log.enabled(LogLevel.Info), false);
  log.setLevel(LogLevel.Debug);
  assert.equal(log.getLevel(), LogLevel.Debug);
  log.debug("now");
  assert.equal(lines.length, 3);
});

Deno.test("later field maps override earlier keys", () => {
  const { lines, log } = capture();
  log.info("m", { a: 1, b: 2 }, { a: 3 });
  assert.ok(lines[0]!.endsWith("| a=3 b=2\n"));
});

Deno.test("printf-style variants format without fields", () => {
  const { lines, log } = capture({ level: LogLevel.Debug });
  log.debugf("peer %s at %d ms", "ab", 12);
  log.infof("%s", "x");
  log.warnf("w%d", 1);
  log.errorf("e%s", "!");
  assert.deepEqual(lines.map((l) => l.slice(20)), [
    "[DEBUG] peer ab at 12 ms\n",
    "[INFO] x\n",
    "[WARN] w1\n",
    "[ERROR] e!\n",
  ]);
});

Deno.test("withComponent() copies the level; changing the child leaves the parent", () => {
  const { lines, log } = capture({ level: LogLevel.Warn });
  const child = log.child("transport");
  assert.equal(child.getLevel(), LogLevel.Warn);
  child.setLevel(LogLevel.Debug);
  assert.equal(log.getLevel(), LogLevel.Warn);
  child.debug("x");
  log.debug("y");
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.includes("[DEBUG] [transport] x"));
});

Deno.test("levelName() and parseLevel() follow the reference", () => {
  assert.equal(levelName(0), "DEBUG");
  assert.equal(levelName(3), "ERROR");
  assert.equal(levelName(7), "UNKNOWN");
  assert.equal(parseLevel("Debug"), LogLevel.Debug);
  assert.equal(parseLevel("INFO"), LogLevel.Info);
  assert.equal(parseLevel("warn"), LogLevel.Warn);
  assert.equal(parseLevel("WARNING"), LogLevel.Warn);
  assert.equal(parseLevel("error"), LogLevel.Error);
  assert.throws(() => parseLevel("verbose"), /unknown log level/);
});

Deno.test("secret-looking fields, Secret values and bytes never reach the output", () => {
  for (const format of ["text", "json"] as const) {
    const { lines, log } = capture({ format });
    log.info("handshake", {
      sharedSecret: "deadbeef",
      password: "hunter2",
      privateKey: "k",
      token: "t",
      nested: { password: "inner" },
      key: new Secret("x"),
      challenge: new Uint8Array([1, 2, 3]),
      peer: "ab12",
    });
    const line = lines[0]!;
    for (
      const leaked of ["deadbeef", "hunter2", "inner", '"k"', "=k ", "=t "]
    ) {
      assert.ok(!line.includes(leaked), `${format} leaked ${leaked}: ${line}`);
    }
    assert.ok(line.includes(REDACTED));
    assert.ok(line.includes("[3 bytes]"));
    assert.ok(line.includes("ab12"));
  }
});

Deno.test("JSON mode writes one parseable record per line", () => {
  const { lines, log } = capture({ format: "json" });
  log.child("registry").error("save failed", {
    err: new Error("disk full"),
    n: 2,
  });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith("\n"));
  const rec = JSON.parse(lines[0]!);
  assert.equal(rec.level, "ERROR");
  assert.equal(rec.component, "registry");
  assert.equal(rec.msg, "save failed");
  assert.equal(rec.err, "disk full");
  assert.equal(rec.n, 2);
  assert.equal(typeof rec.time, "string");
});

Deno.test("the global logger can be replaced and its level set", () => {
  const before = getGlobalLogger();
  const { lines, log } = capture();
  try {
    setGlobalLogger(log);
    info("hello", { a: 1 });
    setGlobalLevel(LogLevel.Error);
    warn("hidden");
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.includes("[INFO] hello | a=1"));
  } finally {
    setGlobalLogger(before);
  }
});

Deno.test("a throwing sink value and circular fields do not crash logging", () => {
  const { lines, log } = capture();
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  log.info("m", { circular });
  assert.equal(lines.length, 1);
});
