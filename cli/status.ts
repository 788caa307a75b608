/**
 * `lthn-p2p status`: the running node's identity, peers and counters.
 *
 * @module
 */

import type { NodeStatus } from "../node/mod.ts";
import { type Command, EXIT_OK, out } from "./_command.ts";
import { CLIENT_HELP, operatorCommand, printJson, table } from "./_common.ts";

const HELP = `Usage: lthn-p2p status [options]

Shows the running node: identity, listen URL, peers, connections and counters.

Options:
  --metrics              print the Prometheus metrics instead
${CLIENT_HELP}`;

export const statusCommand: Command = operatorCommand({
  summary: "show the running node's status (or its metrics)",
  help: HELP,
  options: { metrics: { type: "boolean" } },
  positionals: [0, 0, ""],
  async run({ values, client }): Promise<number> {
    const c = await client();
    if (values.metrics) {
      out((await c.metrics()).trimEnd());
      return EXIT_OK;
    }
    const s = await c.status() as NodeStatus;
    if (values.json) {
      printJson(s);
      return EXIT_OK;
    }
    const drops = Object.entries(s.counters.drops).filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}=${n}`).join(" ") || "none";
    out(
      `node "${s.identity.name}" ${s.identity.id} (role ${s.role}, pid ${s.pid}, up ${s.uptime}s)`,
    );
    out(`  public key   ${s.identity.publicKey}`);
    out(`  listen       ${s.listen}`);
    out(`  auth         ${s.authMode}`);
    if (s.commands) {
      const c = s.commands;
      out(
        `  commands     ${
          c.policy === "any"
            ? "ANY PEER (--trust-any-controller)"
            : c.policy === "none"
            ? "none (no worker)"
            : c.policy === "custom"
            ? "custom policy"
            : `${c.trusted} trusted controller${c.trusted === 1 ? "" : "s"}`
        }`,
      );
    }
    out(
      `  peers        ${s.peers.known} known, ${s.peers.connected} connected`,
    );
    out(
      `  messages     ${s.counters.messagesIn} in, ${s.counters.messagesOut} out`,
    );
    out(`  drops        ${drops}`);
    out(`  handshakes   ${s.counters.handshakeFailures} failed`);
    out(`  miners       ${s.miners.map((m) => m.name).join(", ") || "none"}`);
    if (s.connections.length > 0) {
      out(
        table(
          ["PEER", "NAME", "DIRECTION", "REMOTE", "STATE"],
          s.connections.map((
            c,
          ) => [c.peerId, c.name, c.direction, c.remoteAddress, c.state]),
        ),
      );
    }
    return EXIT_OK;
  },
});
