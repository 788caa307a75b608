import assert from "node:assert/strict";
import {
  DEFAULT_TRANSPORT_CONFIG,
  parseListenAddr,
  resolveTransportConfig,
} from "./config.ts";

Deno.test("resolveTransportConfig() keeps Go's defaults", () => {
  const c = resolveTransportConfig();
  assert.equal(c.listenAddr, ":9091");
  assert.equal(c.wsPath, "/ws");
  assert.equal(c.maxConns, 100);
  assert.equal(c.maxMessageSize, 16 * 1024 * 1024); // Go: 1 MiB
  assert.equal(c.unadvertisedPeerMaxMessageSize, 1_048_576);
  assert.equal(c.advertiseMaxMessageSize, true);
  assert.equal(c.pingInterval, 30_000);
  assert.equal(c.pongTimeout, 10_000);
  assert.equal(c.handshakeTimeout, 10_000);
  assert.equal(c.dedupTtl, 300_000);
  assert.equal(c.rateLimitBurst, 100);
  assert.equal(c.rateLimitPerSecond, 50);
  assert.deepEqual(c, { ...DEFAULT_TRANSPORT_CONFIG });
});

Deno.test("resolveTransportConfig() turns zero and empty values into defaults", () => {
  const c = resolveTransportConfig({
    maxConns: 0,
    maxMessageSize: 0,
    pingInterval: 0,
    wsPath: "",
    listenAddr: "",
  });
  assert.equal(c.maxConns, 100);
  assert.equal(c.maxMessageSize, 16 * 1024 * 1024);
  assert.equal(c.pingInterval, 30_000);
  assert.equal(c.wsPath, "/ws");
  assert.equal(c.listenAddr, ":9091");
});

Deno.test("resolveTransportConfig() rejects nonsense", () => {
  const bad: [
    Record<string, unknown>,
    ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor,
  ][] = [
    [{ maxConns: -1 }, RangeError],
    [{ maxConns: 1.5 }, RangeError],
    [{ pingInterval: Number.POSITIVE_INFINITY }, RangeError],
    [{ pingInterval: Number.NaN }, RangeError],
    [{ maxMessageSize: 10 }, RangeError],
    [{ maxMessageSize: "1" }, TypeError],
    [{ wsPath: "ws" }, RangeError],
    [{ tlsCertPath: "a.pem" }, RangeError],
    [{ listenAddr: "nohost" }, RangeError],
    [{ listenAddr: "host:70000" }, RangeError],
    [{ reconnect: "yes" }, TypeError],
    [{ tlsCaCerts: [1] }, TypeError],
    [{ bogus: 1 }, TypeError],
  ];
  for (const [cfg, type] of bad) {
    assert.throws(() => resolveTransportConfig(cfg), type, JSON.stringify(cfg));
  }
});

Deno.test("parseListenAddr() reads host:port forms", () => {
  assert.deepEqual(parseListenAddr(":9091"), { hostname: "", port: 9091 });
  assert.deepEqual(parseListenAddr("127.0.0.1:0"), {
    hostname: "127.0.0.1",
    port: 0,
  });
  assert.deepEqual(parseListenAddr("[::1]:8080"), {
    hostname: "::1",
    port: 8080,
  });
  assert.deepEqual(parseListenAddr("node.example:1"), {
    hostname: "node.example",
    port: 1,
  });
  for (const bad of ["", "1.2.3.4", "::1:80", "[::1]", "a:b", "a :1"]) {
    assert.throws(() => parseListenAddr(bad), RangeError, bad);
  }
});
