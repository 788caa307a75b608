/**
 * The composed {@linkcode Node} in process: pairing, allowlist refusals
 * counted as handshake failures on both sides, status counters, metrics
 * and a graceful stop that flushes the registry.
 */

import assert from "node:assert/strict";
import { Node, type NodeOptions } from "../node/node.ts";
import { TransportError } from "../node/transport/errors.ts";
import { Logger, LogLevel } from "../logging/mod.ts";
import { parsePrometheus } from "./_prometheus.ts";

const quiet = new Logger({ level: LogLevel.Error, sink: { write: () => {} } });

function options(dir: string, name: string): NodeOptions {
  return {
    dataDir: `${dir}/${name}/data`,
    configDir: `${dir}/${name}/config`,
    name,
    transport: { listenAddr: "127.0.0.1:0", reconnect: false },
    control: false,
    minerManager: null,
    profileManager: null,
    logger: quiet,
    registrySaveDelayMs: 60_000,
  };
}

Deno.test("Node pairs, pings, counts messages and flushes its registry on stop", async () => {
  const dir = await Deno.makeTempDir();
  const a = await Node.create(options(dir, "a"));
  const b = await Node.create(options(dir, "b"));
  try {
    await a.start();
    await b.start();
    const peer = await a.addPeer({ address: b.transport.addr, name: "bee" });
    assert.equal(peer.id, b.identity.id);
    assert.equal(a.resolvePeer("bee").id, b.identity.id);
    assert.equal(a.resolvePeer(b.identity.id.slice(0, 6)).id, b.identity.id);
    assert.throws(() => a.resolvePeer("nobody"), /Unknown peer/);
    assert.ok((await a.ping("bee")) > 0);
    await b.trust.trust(a.identity.publicKey); // b obeys a
    const stats = await a.stats("bee");
    assert.equal(stats.nodeName, "b");
    const st = await a.status();
    assert.equal(st.peers.connected, 1);
    assert.equal(st.counters.messagesOut, 2);
    assert.equal(st.counters.messagesIn, 2);
    assert.equal(st.connections[0]?.direction, "outbound");
    const m = parsePrometheus(a.metrics.render());
    assert.equal(
      m.get('p2p_messages_total{direction="out",type="get_stats"}'),
      1,
    );
    assert.equal(m.get('p2p_request_duration_seconds_count{op="ping"}'), 1);
    assert.equal(m.get("p2p_connections"), 1);
    const mb = parsePrometheus(b.metrics.render());
    assert.equal(mb.get('p2p_messages_total{direction="out",type="pong"}'), 1);
    assert.equal(mb.get('p2p_messages_total{direction="out",type="stats"}'), 1);
    assert.equal(
      mb.get('p2p_commands_total{command="get_stats",outcome="ok"}'),
      1,
    );
    assert.equal(mb.get('p2p_commands_total{command="ping",outcome="ok"}'), 1);
    assert.equal(mb.get("p2p_trusted_controllers"), 1);
  } finally {
    await a.stop();
    await b.stop();
  }
  // The 60 s debounce never fired: stop() wrote the registry.
  const saved = JSON.parse(await Deno.readTextFile(a.paths.peersPath));
  assert.equal(saved[0].id, b.identity.id);
  assert.equal(saved[0].name, "bee");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Node counts handshakes refused by the allowlist on both sides", async () => {
  const dir = await Deno.makeTempDir();
  const a = await Node.create(options(dir, "a"));
  const b = await Node.create({ ...options(dir, "b"), authMode: "allowlist" });
  try {
    await a.start();
    await b.start();
    await assert.rejects(
      a.addPeer({ address: b.transport.addr }),
      (e) => e instanceof TransportError && e.code === "handshake_rejected",
    );
    const ma = parsePrometheus(a.metrics.render());
    assert.equal(
      ma.get(
        'p2p_handshake_failures_total{direction="outbound",reason="handshake_rejected"}',
      ),
      1,
    );
    const mb = parsePrometheus(b.metrics.render());
    assert.equal(
      mb.get(
        'p2p_handshake_failures_total{direction="inbound",reason="not_allowed"}',
      ),
      1,
    );
    assert.equal((await b.status()).counters.handshakeFailures, 1);

    // Allowed now: the same dial succeeds.
    await b.registry.allowPublicKey(a.identity.publicKey);
    const peer = await a.addPeer({ address: b.transport.addr });
    assert.equal(peer.id, b.identity.id);
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Node.create refuses a corrupt identity instead of replacing it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const o = options(dir, "x");
    await Deno.mkdir(o.configDir!, { recursive: true });
    await Deno.writeTextFile(`${o.configDir}/node.json`, "{not json");
    await Deno.mkdir(`${o.dataDir}/node`, { recursive: true });
    await Deno.writeFile(
      `${o.dataDir}/node/private.key`,
      new Uint8Array(32).fill(1),
    );
    await assert.rejects(Node.create(o));
    assert.equal(
      await Deno.readTextFile(`${o.configDir}/node.json`),
      "{not json",
    );
    await assert.rejects(
      Node.create({ ...o, role: "boss" as never }),
      RangeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
