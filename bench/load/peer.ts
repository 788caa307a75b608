/**
 * The far end of the load benchmark (run by `bench/load/run.ts` as a child
 * process): a transport that echoes `bench_echo` requests and counts
 * `bench_stream` messages, and a raw, unencrypted Deno WebSocket endpoint
 * that does the same with binary frames. Prints one JSON line with its
 * addresses, then serves until stdin closes.
 *
 * @module
 */

import { Logger, LogLevel } from "../../logging/mod.ts";
import { NodeManager } from "../../node/identity_store.ts";
import { PeerRegistry } from "../../node/peer_registry.ts";
import { type Message, reply } from "../../node/message.ts";
import { Transport } from "../../node/transport/mod.ts";

const quiet = new Logger({ level: LogLevel.Error });
const dir = await Deno.makeTempDir({ prefix: "p2p-bench-" });
const registry = await PeerRegistry.open(`${dir}/peers.json`, {
  logger: quiet,
  saveDelayMs: 60_000,
});
const node = NodeManager.fromPrivateKey(new Uint8Array(32).fill(0x42), {
  name: "bench-peer",
  role: "worker",
});
const transport = new Transport({
  node,
  registry,
  logger: quiet,
  config: {
    listenAddr: "127.0.0.1:0",
    rateLimitDisabled: true,
    handlerQueueSize: 1 << 20,
  },
});

let rssPeak = 0;
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
}, 20);

interface Counter {
  count: number;
  bytes: number;
  first: number;
  last: number;
}
const fresh = (): Counter => ({ count: 0, bytes: 0, first: 0, last: 0 });
let enc = fresh();

transport.onMessage((conn, msg: Message) => {
  switch (msg.type) {
    case "bench_echo":
      return conn.send(
        reply(msg, "bench_echo_reply", { payload: msg.payload }),
      );
    case "bench_stream": {
      const now = performance.now();
      if (enc.count === 0) enc.first = now;
      enc.last = now;
      enc.count++;
      return;
    }
    case "bench_report": {
      const r = { ...enc, rssPeak };
      enc = fresh();
      return conn.send(reply(msg, "bench_report_reply", { payload: r }));
    }
  }
});
await transport.start();

let raw = fresh();
const encoder = new TextEncoder();
const rawServer = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => {
      const data = new Uint8Array(ev.data as ArrayBuffer);
      switch (data[0]) {
        case 1:
          socket.send(data);
          break;
        case 2: {
          const now = performance.now();
          if (raw.count === 0) raw.first = now;
          raw.last = now;
          raw.count++;
          raw.bytes += data.length;
          break;
        }
        case 3:
          socket.send(encoder.encode(JSON.stringify({ ...raw, rssPeak })));
          raw = fresh();
          break;
        case 4: // a notification: no answer
          break;
      }
    };
    return response;
  },
);

console.log(JSON.stringify({
  addr: transport.addr,
  rawAddr: `127.0.0.1:${rawServer.addr.port}`,
  id: node.getIdentity()!.id,
  publicKey: node.getIdentity()!.publicKey,
}));

// Serve until the parent closes stdin.
for await (const _ of Deno.stdin.readable) { /* ignore input */ }
clearInterval(sampler);
await transport.stop();
await rawServer.shutdown();
await registry.close();
await Deno.remove(dir, { recursive: true });
