/**
 * The dialler over real loopback transports: known peers are dialled on
 * start, redialled with capped back-off after failures and drops, never
 * while an inbound connection stands, not when marked, and given up on
 * after `maxAttempts` until refreshed.
 */

import assert from "node:assert/strict";
import { Dialler, type DiallerConfig } from "../node/transport/dialler.ts";
import type { PeerRegistry } from "../node/peer_registry.ts";
import type { Transport } from "../node/transport/transport.ts";
import type { NodeManager } from "../node/identity_store.ts";
import { LogLevel } from "../logging/mod.ts";
import {
  makeNode,
  memoryLogger,
  sleep,
  Stack,
  waitFor,
} from "./transport_helpers.ts";

const ctl = makeNode(61, "ctl", "controller");
const workers = [62, 63, 64].map((s) => makeNode(s, `w${s}`, "worker"));
const idOf = (n: NodeManager) => n.getIdentity()!.id;

function register(reg: PeerRegistry, node: NodeManager, address: string) {
  const id = node.getIdentity()!;
  reg.addPeer({
    id: id.id,
    name: id.name,
    publicKey: id.publicKey,
    address,
  });
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function dialler(
  s: Stack,
  transport: Transport,
  registry: PeerRegistry,
  config: Partial<DiallerConfig> = {},
  isDisabled?: (id: string) => boolean,
): Dialler {
  const d = new Dialler({
    transport,
    registry,
    config: { initialDelay: 20, maxDelay: 200, sweepInterval: 50, ...config },
    logger: memoryLogger(LogLevel.Error).logger,
    ...(isDisabled ? { isDisabled } : {}),
  });
  s.defer(() => d.stop());
  return d;
}

Deno.test("Dialler.start() dials every registered peer with an address, and none that is marked", async () => {
  const s = new Stack();
  try {
    const { transport: a, registry } = await s.server(ctl, {
      reconnect: false,
    });
    const servers = [];
    for (const w of workers) servers.push((await s.server(w)).transport);
    register(registry, workers[0]!, servers[0]!.addr);
    register(registry, workers[1]!, servers[1]!.addr);
    register(registry, workers[2]!, servers[2]!.addr);
    registry.registerSeenPeer({
      id: idOf(makeNode(65, "inbound-only")),
      name: "inbound-only",
      publicKey: makeNode(65, "inbound-only").getIdentity()!.publicKey,
      role: "worker",
    });
    const off = idOf(workers[2]!);
    const d = dialler(s, a, registry, {}, (id) => id === off);
    d.start();
    await waitFor(
      () => a.connectedPeers().length === 2,
      5_000,
      "two connections",
    );
    assert.deepEqual(
      a.connectedPeers().sort(),
      [idOf(workers[0]!), idOf(workers[1]!)].sort(),
    );
    assert.equal(d.status(idOf(workers[0]!)).state, "connected");
    assert.equal(d.status(off).state, "disabled");
    assert.equal(
      d.status(idOf(makeNode(65, "inbound-only"))).state,
      "no_address",
    );
    await sleep(200); // several sweeps: still not dialled
    assert.equal(servers[2]!.connections().length, 0);
  } finally {
    await s.close();
  }
});

Deno.test("Dialler backs off on failures (capped, with the error kept) and connects once the peer listens", async () => {
  const s = new Stack();
  try {
    const { transport: a, registry } = await s.server(ctl, {
      reconnect: false,
    });
    const port = freePort();
    const address = `127.0.0.1:${port}`;
    register(registry, workers[0]!, address);
    const id = idOf(workers[0]!);
    const d = dialler(s, a, registry, { initialDelay: 40, maxDelay: 160 });
    d.start();
    const gaps: number[] = [];
    let last = 0;
    await waitFor(
      () => {
        const st = d.status(id);
        if (st.lastAttemptAt !== undefined && st.lastAttemptAt !== last) {
          if (last !== 0) gaps.push(st.lastAttemptAt - last);
          last = st.lastAttemptAt;
        }
        return st.failures >= 5;
      },
      10_000,
      "five failures",
    );
    const st = d.status(id);
    assert.match(st.lastError ?? "", /Cannot connect to peer at 127\.0\.0\.1/);
    // 40, 80, 160, 160 ms ± 20 % jitter (and timer slack): growing, capped.
    assert.ok(gaps.length >= 3, `gaps ${gaps}`);
    assert.ok(gaps[0]! >= 30, `first gap ${gaps[0]}`);
    assert.ok(gaps[2]! >= 120, `third gap ${gaps[2]}`);
    assert.ok(
      gaps.every((g) => g < 160 * 1.2 + 1_000),
      `capped: ${gaps.join(", ")}`,
    );
    await s.server(workers[0]!, { listenAddr: address });
    await waitFor(() => a.connectedPeers().includes(id), 5_000, "connect");
    assert.equal(d.status(id).state, "connected");
    assert.equal(d.status(id).failures, 0);
    assert.equal(d.status(id).lastError, undefined);
  } finally {
    await s.close();
  }
});

Deno.test("Dialler redials a peer whose connection dropped, and not one that dials in", async () => {
  const s = new Stack();
  try {
    const { transport: a, registry } = await s.server(ctl, {
      reconnect: false,
    });
    const first = (await s.server(workers[0]!)).transport;
    const address = first.addr;
    const id = idOf(workers[0]!);
    register(registry, workers[0]!, address);
    const d = dialler(s, a, registry);
    d.start();
    await waitFor(() => a.connectedPeers().includes(id), 5_000, "connect");
    await first.stop();
    await waitFor(() => !a.connectedPeers().includes(id), 5_000, "drop");
    const second = (await s.server(workers[0]!, { listenAddr: address }))
      .transport;
    await waitFor(() => a.connectedPeers().includes(id), 5_000, "redial");
    assert.equal(a.getConnection(id)!.direction, "outbound");

    // A peer that dials us is connected: no second connection from us.
    const other = workers[1]!;
    const { transport: b } = await s.server(other, { reconnect: false });
    register(registry, other, b.addr);
    await b.connect({ address: a.addr });
    await b.send(idOf(ctl), {
      id: crypto.randomUUID(),
      type: "hello",
      from: idOf(other),
      to: idOf(ctl),
      ts: new Date().toISOString(),
      payload: null,
    });
    await waitFor(() => a.connectedPeers().includes(idOf(other)));
    d.refresh();
    await sleep(300);
    assert.equal(a.getConnection(idOf(other))!.direction, "inbound");
    assert.equal(b.connections().length, 1, "no dial back");
    assert.equal(second.connections().length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("Dialler gives up after maxAttempts and tries again on refresh()", async () => {
  const s = new Stack();
  try {
    const { transport: a, registry } = await s.server(ctl, {
      reconnect: false,
    });
    const address = `127.0.0.1:${freePort()}`;
    const id = idOf(workers[1]!);
    register(registry, workers[1]!, address);
    const d = dialler(s, a, registry, { maxAttempts: 2, initialDelay: 20 });
    d.start();
    await waitFor(() => d.status(id).state === "gave_up", 5_000, "give up");
    assert.equal(d.status(id).failures, 2);
    await sleep(200);
    assert.equal(d.status(id).state, "gave_up", "sweeps do not revive it");
    await s.server(workers[1]!, { listenAddr: address });
    d.refresh(id);
    await waitFor(() => a.connectedPeers().includes(id), 5_000, "refresh");
  } finally {
    await s.close();
  }
});
