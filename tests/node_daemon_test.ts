/**
 * A node as a long-running daemon (issue 15, item 8): the peer's
 * `disconnect` is logged with its reason and code the same way whichever
 * side dialled, a node refuses to register itself, `--name` renames an
 * existing identity, and an empty registry is written on stop.
 */

import assert from "node:assert/strict";
import { LogLevel } from "../logging/mod.ts";
import { newMessage } from "../node/message.ts";
import { Node, type NodeOptions } from "../node/node.ts";
import { NodeManager } from "../node/identity_store.ts";
import { ControlApiError, ControlClient } from "../node/control_api.ts";
import { DirectoryLockedError } from "../node/dir_lock.ts";
import { TransportError } from "../node/transport/errors.ts";
import { GoPeer } from "./_go_peer.ts";
import { makeNode, memoryLogger, Stack, waitFor } from "./transport_helpers.ts";

const ours = makeNode(41, "ours", "dual");
const goNode = makeNode(42, "go-node", "worker");

Deno.test("a Go peer's shutdown is logged with its disconnect reason and code, 1006 on both sides", async () => {
  for (const direction of ["inbound", "outbound"] as const) {
    const s = new Stack();
    const go = GoPeer.start(goNode, {
      pingInterval: 30_000,
      pongTimeout: 10_000,
    });
    try {
      const { logger, lines } = memoryLogger(LogLevel.Info);
      const { transport } = await s.server(ours, { reconnect: false }, {
        logger,
      });
      if (direction === "outbound") {
        await transport.connect({ address: go.addr });
      } else {
        // Our side holds an inbound connection as provisional until its
        // first good frame.
        const c = await go.connect(transport.addr);
        c.send(newMessage("ping", {
          from: go.id,
          to: c.peerId,
          payload: { sentAt: Date.now() },
        }));
      }
      await waitFor(() => transport.connectedPeers().length === 1);
      await go.shutdown();
      await waitFor(() => transport.connectedPeers().length === 0);
      const line = lines.find((l) => l.includes("peer disconnected"));
      assert.ok(line, lines.join("\n"));
      assert.match(line, new RegExp(`direction=${direction}`));
      assert.match(line, /code=1006/, line);
      assert.match(line, /reason="?server shutdown/, line);
      assert.match(line, /by=peer/, line);
      assert.match(line, /peer_code=1004/, line);
    } finally {
      await go.shutdown();
      await s.close();
    }
  }
});

const quiet = memoryLogger(LogLevel.Error).logger;

function nodeOptions(dir: string, name: string): NodeOptions {
  return {
    dataDir: `${dir}/${name}/data`,
    configDir: `${dir}/${name}/config`,
    name,
    transport: { listenAddr: "127.0.0.1:0", reconnect: false },
    control: false,
    minerManager: null,
    profileManager: null,
    logger: quiet,
  };
}

Deno.test("a node refuses to add its own address as a peer", async () => {
  const dir = await Deno.makeTempDir();
  const a = await Node.create(nodeOptions(dir, "a"));
  try {
    await a.start();
    await assert.rejects(
      a.addPeer({ address: a.transport.addr }),
      (e) =>
        e instanceof TransportError && e.code === "self_connection" &&
        /leads back to this node/.test(e.message),
    );
    assert.equal(a.registry.count, 0);
    assert.equal(a.transport.connectedPeers().length, 0);
  } finally {
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Node.create with another name renames the existing identity", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await Node.create(nodeOptions(dir, "first"));
    const id = first.identity.id;
    await first.stop();
    const o = { ...nodeOptions(dir, "first"), name: "second" };
    const again = await Node.create(o);
    try {
      assert.equal(again.identity.id, id);
      assert.equal(again.identity.name, "second");
    } finally {
      await again.stop();
    }
    const stored = JSON.parse(
      await Deno.readTextFile(`${o.configDir}/node.json`),
    );
    assert.equal(stored.name, "second");
    assert.equal(stored.id, id);
    const reopened = await NodeManager.open({
      keyPath: `${o.dataDir}/node/private.key`,
      configPath: `${o.configDir}/node.json`,
    });
    assert.equal(reopened.getIdentity()?.name, "second");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stop() writes the registry even when it is empty", async () => {
  const dir = await Deno.makeTempDir();
  const o = nodeOptions(dir, "empty");
  const n = await Node.create(o);
  await n.start();
  await n.stop();
  try {
    assert.equal(await Deno.readTextFile(`${o.configDir}/peers.json`), "null");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the control API answers a self-add with bad_request", async () => {
  const dir = await Deno.makeTempDir();
  const a = await Node.create({
    ...nodeOptions(dir, "a"),
    control: { port: 0 },
  });
  try {
    await a.start();
    const client = new ControlClient(a.control!.info);
    await assert.rejects(
      client.call("peers.add", { address: a.transport.addr }),
      (e) => e instanceof ControlApiError && e.code === "bad_request",
    );
  } finally {
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one node per directory: a second Node.create is refused and touches nothing", async () => {
  const dir = await Deno.makeTempDir();
  const o = { ...nodeOptions(dir, "a"), control: { port: 0 } };
  const first = await Node.create(o);
  try {
    await first.start();
    const controlFile = `${o.configDir}/control.json`;
    const before = await Deno.readTextFile(controlFile);
    await assert.rejects(
      Node.create({ ...o, transport: { listenAddr: "127.0.0.1:0" } }),
      (e) =>
        e instanceof DirectoryLockedError && e.holder.pid === Deno.pid &&
        e.holder.control === first.control!.url &&
        e.message.includes(`pid ${Deno.pid}`) &&
        e.message.includes(first.control!.url),
    );
    // Sharing only the data directory is refused too.
    await assert.rejects(
      Node.create({ ...o, configDir: `${dir}/other-config` }),
      DirectoryLockedError,
    );
    assert.equal(await Deno.readTextFile(controlFile), before);
    const client = new ControlClient(first.control!.info);
    assert.ok(await client.health());
  } finally {
    await first.stop();
  }
  // Released on stop.
  const again = await Node.create(o);
  await again.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("leftovers of an interrupted run are removed at start; installed miners stay", async () => {
  const dir = await Deno.makeTempDir();
  const o = nodeOptions(dir, "w");
  const d = o.dataDir!, c = o.configDir!;
  await Deno.mkdir(`${d}/miners/xmrig`, { recursive: true });
  await Deno.writeTextFile(`${d}/miners/xmrig/xmrig`, "#!/bin/sh\n");
  await Deno.mkdir(`${d}/miners/.xmrig.deploy-a1b2c3`, { recursive: true });
  await Deno.writeTextFile(`${d}/miners/.xmrig.deploy-a1b2c3/half`, "x");
  await Deno.mkdir(`${d}/tmp/deploy-zz`, { recursive: true });
  await Deno.writeTextFile(`${d}/tmp/deploy-zz/miner`, "x");
  await Deno.mkdir(`${d}/run`, { recursive: true });
  await Deno.writeTextFile(`${d}/run/xmrig.json`, "{}");
  await Deno.mkdir(c, { recursive: true });
  // A temp file of a writer that no longer runs (pid far above pid_max).
  await Deno.writeTextFile(`${c}/peers.json.999999999.1.tmp`, "[");
  const n = await Node.create(o);
  try {
    const left = (p: string) =>
      [...Deno.readDirSync(p)].map((e) => e.name).sort();
    assert.deepEqual(left(`${d}/miners`), ["xmrig"]);
    assert.deepEqual(left(`${d}/tmp`), []);
    assert.deepEqual(left(`${d}/run`), []);
    assert.ok(!left(c).some((f) => f.endsWith(".tmp")), left(c).join(" "));
    assert.equal(
      await Deno.readTextFile(`${d}/miners/xmrig/xmrig`),
      "#!/bin/sh\n",
    );
  } finally {
    await n.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("peers dial off is kept across restarts and the peer is not dialled; remove forgets it", async () => {
  const dir = await Deno.makeTempDir();
  const withDial = (name: string): NodeOptions => ({
    ...nodeOptions(dir, name),
    transport: {
      listenAddr: "127.0.0.1:0",
      reconnectInitialDelay: 50,
      reconnectMaxDelay: 100,
    },
    control: { port: 0 },
  });
  const b = await Node.create(withDial("b"));
  await b.start();
  let a = await Node.create(withDial("a"));
  try {
    await a.start();
    const peer = await a.addPeer({ address: b.transport.addr, name: "bee" });
    const client = new ControlClient(a.control!.info);
    const view = await client.call("peers.dial", {
      peer: "bee",
      enabled: false,
    }) as { dial: boolean };
    assert.equal(view.dial, false);
    await a.stop();
    a = await Node.create(withDial("a"));
    await a.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(a.transport.connectedPeers().length, 0, "not dialled");
    assert.equal(a.dialler?.status(peer.id).state, "disabled");
    await a.settings.setDial(peer.id, true);
    a.dialler?.refresh(peer.id);
    await waitFor(() => a.transport.connectedPeers().length === 1);
    await a.settings.setDial(peer.id, false);
    await a.removePeer("bee");
    assert.equal(a.settings.isDialDisabled(peer.id), false, "forgotten");
    const saved = JSON.parse(
      await Deno.readTextFile(`${dir}/a/config/peers.json`),
    );
    assert.equal(saved, null, "removal written before it was acknowledged");
  } finally {
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
