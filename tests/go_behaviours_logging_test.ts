/**
 * The Go test behaviours of node.md §11.12 (logging), each asserted exactly
 * as the Go suite states it, through the public API (`@lthn/p2p/logging`).
 * logging/logger_test.ts covers the line format itself; this file pins the
 * remaining details (INFO-level suppression, the configured component, all
 * level names and spellings, field merging).
 */

import assert from "node:assert/strict";
import {
  debug,
  error,
  getGlobalLogger,
  info,
  levelName,
  type LogFields,
  Logger,
  LogLevel,
  parseLevel,
  setGlobalLevel,
  setGlobalLogger,
  warn,
} from "@lthn/p2p/logging";

function capture(
  options: { level?: LogLevel; component?: string } = {},
): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const log = new Logger({ sink: { write: (l) => lines.push(l) }, ...options });
  return { lines, log };
}

Deno.test("§11.12 at INFO, DEBUG is suppressed and INFO/WARN/ERROR carry their tag and text", () => {
  const { lines, log } = capture({ level: LogLevel.Info });
  log.debug("debug message");
  log.info("info message");
  log.warn("warn message");
  log.error("error message");
  assert.equal(lines.length, 3);
  const all = lines.join("");
  assert.ok(!all.includes("[DEBUG]"));
  assert.ok(!all.includes("debug message"));
  assert.ok(lines[0]!.includes("[INFO]") && lines[0]!.includes("info message"));
  assert.ok(lines[1]!.includes("[WARN]") && lines[1]!.includes("warn message"));
  assert.ok(
    lines[2]!.includes("[ERROR]") && lines[2]!.includes("error message"),
  );
});

Deno.test("§11.12 at DEBUG, [DEBUG] appears", () => {
  const { lines, log } = capture({ level: LogLevel.Debug });
  log.debug("debug message");
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.includes("[DEBUG]"));
  assert.ok(lines[0]!.includes("debug message"));
});

// Go's test logs a field named "key"; ours redacts fields whose names look
// secret (`key`, `password`, `…secret…`; logging/logger.ts), so the plain
// rendering is checked on another name and "key" on its redaction.
Deno.test("§11.12 fields render as name=value and num=42 (a field named key is redacted here)", () => {
  const { lines, log } = capture();
  log.info("test message", { name: "value", num: 42, key: "value" });
  assert.ok(lines[0]!.includes("name=value"), lines[0]);
  assert.ok(lines[0]!.includes("num=42"), lines[0]);
  assert.ok(lines[0]!.includes("key=[redacted]"), lines[0]);
  assert.ok(!lines[0]!.includes("key=value"), lines[0]);
});

Deno.test("§11.12 a configured component renders as [TestComponent]; a derived logger renders its own", () => {
  const { lines, log } = capture({ component: "TestComponent" });
  assert.equal(log.component, "TestComponent");
  log.info("message");
  log.withComponent("ChildComponent").info("child message");
  assert.ok(lines[0]!.includes("[TestComponent]"), lines[0]);
  assert.ok(lines[1]!.includes("[ChildComponent]"), lines[1]);
  assert.ok(!lines[1]!.includes("[TestComponent]"), lines[1]);
});

Deno.test("§11.12 printf-style messages are formatted", () => {
  const { lines, log } = capture();
  log.infof("formatted %s %d", "string", 123);
  assert.ok(lines[0]!.includes("formatted string 123"), lines[0]);
});

Deno.test("§11.12 raising the level from ERROR to INFO enables INFO output; the level reads back", () => {
  const { lines, log } = capture({ level: LogLevel.Error });
  log.info("hidden");
  assert.equal(lines.length, 0);
  assert.equal(log.getLevel(), LogLevel.Error);
  log.setLevel(LogLevel.Info);
  assert.equal(log.getLevel(), LogLevel.Info);
  log.info("visible");
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.includes("visible"));
});

Deno.test("§11.12 parseLevel accepts Go's spellings and rejects invalid", () => {
  const cases: [string, LogLevel][] = [
    ["DEBUG", LogLevel.Debug],
    ["debug", LogLevel.Debug],
    ["INFO", LogLevel.Info],
    ["info", LogLevel.Info],
    ["WARN", LogLevel.Warn],
    ["WARNING", LogLevel.Warn],
    ["ERROR", LogLevel.Error],
    ["error", LogLevel.Error],
  ];
  for (const [text, level] of cases) {
    assert.equal(parseLevel(text), level, text);
  }
  assert.throws(() => parseLevel("invalid"), RangeError);
  assert.throws(() => parseLevel(""), RangeError);
});

Deno.test("§11.12 the replaceable global logger writes and its level can be changed", () => {
  const before = getGlobalLogger();
  const { lines, log } = capture({ level: LogLevel.Debug });
  try {
    setGlobalLogger(log);
    assert.equal(getGlobalLogger(), log);
    debug("global debug");
    info("global info");
    warn("global warn");
    error("global error");
    assert.equal(lines.length, 4);
    setGlobalLevel(LogLevel.Error);
    assert.equal(getGlobalLogger().getLevel(), LogLevel.Error);
    info("suppressed");
    error("still written");
    assert.equal(lines.length, 5);
    assert.ok(lines[4]!.includes("still written"));
  } finally {
    setGlobalLogger(before);
  }
});

Deno.test("§11.12 level names are DEBUG, INFO, WARN, ERROR and UNKNOWN otherwise", () => {
  assert.equal(levelName(LogLevel.Debug), "DEBUG");
  assert.equal(levelName(LogLevel.Info), "INFO");
  assert.equal(levelName(LogLevel.Warn), "WARN");
  assert.equal(levelName(LogLevel.Error), "ERROR");
  for (const other of [-1, 4, 99]) assert.equal(levelName(other), "UNKNOWN");
});

Deno.test("§11.12 field merging: none, one, several, later keys override", () => {
  const fieldsOf = (...maps: LogFields[]): string => {
    const { lines, log } = capture();
    log.info("m", ...maps);
    const line = lines[0]!;
    const bar = line.indexOf(" | ");
    return bar < 0 ? "" : line.slice(bar + 3, -1);
  };
  assert.equal(fieldsOf(), "");
  assert.equal(fieldsOf({ mode: "value" }), "mode=value");
  assert.equal(fieldsOf({ a: 1 }, { b: 2 }), "a=1 b=2");
  assert.equal(fieldsOf({ mode: "first" }, { mode: "second" }), "mode=second");
  assert.equal(fieldsOf({ a: 1, b: 2 }, { c: 3 }, { a: 4 }), "a=4 b=2 c=3");
});
