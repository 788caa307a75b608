/**
 * Per-message cost of the two listening sides, measured as a 1 KB binary
 * echo round trip over loopback from our dialler: Deno's server WebSocket
 * (`Deno.serve` + `Deno.upgradeWebSocket`, the previous listener and the
 * `handleRequest` path) against our own server frame reader
 * (`_ws_frames.ts` in the server role behind `_server.ts`'s head reader).
 * Both servers and the client share this process, so each iteration pays
 * both ends; the client is the same in both groups.
 *
 * @module
 */

import { dialWebSocket } from "./_ws_client.ts";
import { WebSocketConn } from "./_ws_frames.ts";
import { readRequestHead, switchingProtocols } from "./_http.ts";
import type { FrameSocket } from "./_socket.ts";

const payload = crypto.getRandomValues(new Uint8Array(1024));

// Deno's server.
const denoServer = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, {
      idleTimeout: 0,
    });
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => socket.send(ev.data as ArrayBuffer);
    return response;
  },
);

// Ours: the head reader, the 101 and the server-role frame codec.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const served: WebSocketConn[] = [];
void (async () => {
  for await (const conn of listener) {
    conn.setNoDelay(true);
    const r = await readRequestHead(conn, 8192);
    if (r === null) continue;
    await conn.write(
      switchingProtocols(r.head.headers.get("sec-websocket-key")!),
    );
    const ws = new WebSocketConn(conn, r.rest, {
      role: "server",
      maxMessageSize: 1 << 20,
      remoteAddress: "bench",
    });
    ws.setHandlers({
      onText() {},
      onBinary: (b) => ws.sendBinary(b.slice()),
      onClose() {},
    });
    served.push(ws);
  }
})();

async function client(port: number): Promise<{
  ws: FrameSocket;
  roundTrip: () => Promise<void>;
}> {
  const ws = await dialWebSocket(new URL(`ws://127.0.0.1:${port}/`), {
    maxMessageSize: 1 << 20,
  });
  let wake: (() => void) | undefined;
  ws.setHandlers({
    onText() {},
    onBinary: () => wake?.(),
    onClose() {},
  });
  return {
    ws,
    roundTrip: () =>
      new Promise<void>((r) => {
        wake = r;
        ws.sendBinary(payload);
      }),
  };
}

const viaDeno = await client(denoServer.addr.port);
const viaOurs = await client((listener.addr as Deno.NetAddr).port);

Deno.bench({
  group: "listener echo 1 KB",
  name: "Deno.upgradeWebSocket server",
  baseline: true,
  n: 20_000,
  warmup: 2_000,
  async fn() {
    await viaDeno.roundTrip();
  },
});

Deno.bench({
  group: "listener echo 1 KB",
  name: "our server (_server.ts / _ws_frames.ts)",
  n: 20_000,
  warmup: 2_000,
  async fn() {
    await viaOurs.roundTrip();
  },
});

globalThis.addEventListener("unload", () => {
  viaDeno.ws.close(1006);
  viaOurs.ws.close(1006);
  for (const s of served) s.close(1006);
  listener.close();
  void denoServer.shutdown();
});
