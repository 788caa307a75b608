/**
 * `lthn-p2p peers …`: the running node's peer registry and admission policy.
 *
 * @module
 */

import type { ControlParams, Peer, PeerView } from "../node/mod.ts";
import { type Command, err, EXIT_OK, out, UsageError } from "./_command.ts";
import {
  CLIENT_HELP,
  expectPositionals,
  intFlag,
  operatorCommand,
  printJson,
  table,
} from "./_common.ts";

const HELP = `Usage: lthn-p2p peers <action> [arguments] [options]

Acts on the running node's peer registry.

  list                      list known peers (default)
  add <host:port>           connect, learn the peer's identity and register it
      [--name <name>] [--id <node id>] [--key <public key>]  (pin who it must be)
  remove <peer>             forget a peer and close its connection
  dial <peer> [on|off]      keep a peer connected (on, the default) or not
  allow <public key>        add a key to the allowlist
  revoke <public key>       remove a key from the allowlist
  mode [open|allowlist]     show or set who may connect (kept across restarts;
                            start --auth overrides it for one run)
  trust <key|code>          obey commands (deploy, miners, stats, logs) from this
      [--name <name>]       controller: its public key, or the pairing code that
                            "lthn-p2p identity show --pairing" prints on it; saved
                            in <config dir>/trusted-controllers.json at once
  distrust <key|code|id|name>  stop obeying a trusted controller (saved at once)
  trusted                   list the trusted controllers
  best [--count <n>]        the best peers by latency, hops, distance and score

<peer> is a node ID, a unique ID prefix (4+ characters) or a peer name.

Options:
${CLIENT_HELP}`;

const OPTIONS = {
  name: { type: "string" },
  id: { type: "string" },
  key: { type: "string" },
  count: { type: "string" },
} as const;

interface Trusted {
  publicKey: string;
  nodeId: string;
  name: string;
  source: string;
  peer?: string;
}

function trustedRows(list: Trusted[]): string {
  if (list.length === 0) {
    return 'trusted controllers: none (this node obeys no one; see "lthn-p2p peers trust")';
  }
  return `trusted controllers: ${list.length}\n` + table(
    ["ID", "NAME", "PUBLIC KEY", "FROM"],
    list.map((c) => [
      c.nodeId,
      c.name || c.peer || "-",
      c.publicKey,
      c.source === "config" ? "start --trust" : "peers trust",
    ]),
  );
}

/** A peer as `peers.list` returns it (older nodes send plain records). */
type ListedPeer =
  & Peer
  & Partial<Pick<PeerView, "state" | "dial" | "lastError" | "healthy">>;

function peerRows(peers: ListedPeer[]): string {
  if (peers.length === 0) return "no peers";
  const rows = table(
    ["ID", "NAME", "ADDRESS", "ROLE", "SCORE", "PING", "STATE", "LAST SEEN"],
    peers.map((p) => [
      p.id,
      p.name,
      p.address || "-",
      p.role || "-",
      String(Math.round(p.score * 10) / 10),
      p.pingMs > 0 ? `${p.pingMs.toFixed(1)} ms` : "-",
      peerState(p),
      ago(p.lastSeen),
    ]),
  );
  const errors = peers.filter((p) => p.lastError && p.state !== "connected")
    .map((p) => `  ${p.name || p.id}: ${p.lastError}`);
  return errors.length === 0
    ? rows
    : `${rows}\nlast dial errors:\n${errors.join("\n")}`;
}

function peerState(p: ListedPeer): string {
  const s = p.state ?? (p.connected ? "connected" : "-");
  const label = s === "connected" && p.healthy === false
    ? "not answering"
    : s.replace("_", " ");
  return p.dial === false && s !== "disabled" ? `${label} (no dial)` : label;
}

function ago(rfc3339: string): string {
  const t = Date.parse(rfc3339);
  if (!Number.isFinite(t) || t <= 0) return "never";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export const peersCommand: Command = operatorCommand({
  summary:
    "list, add, remove, dial, allow, revoke peers; auth mode; trust and distrust controllers; best peers",
  help: HELP,
  options: OPTIONS,
  async run({ values, positionals, json, client }): Promise<number> {
    const action = positionals[0] ?? "list";
    const rest = positionals.slice(1);
    const only = (flags: string[]) => {
      for (const f of ["name", "id", "key", "count"] as const) {
        if (values[f] !== undefined && !flags.includes(f)) {
          throw new UsageError(`--${f} does not apply to "peers ${action}"`);
        }
      }
    };
    switch (action) {
      case "list": {
        expectPositionals(rest, 0, 0, "");
        only([]);
        const c = await client();
        const peers: ListedPeer[] = await c.call("peers.list", {});
        if (json) printJson(peers);
        else {
          out(peerRows(peers));
          const trusted: Trusted[] = await c.call("peers.trusted", {});
          out("");
          out(trustedRows(trusted));
        }
        return EXIT_OK;
      }
      case "add": {
        expectPositionals(rest, 1, 1, "the peer address (host:port)");
        only(["name", "id", "key"]);
        const address = rest[0]!;
        if (
          !/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(address) &&
          !/^wss?:\/\//.test(address)
        ) {
          throw new UsageError(
            `the address must be host:port or a ws:// URL, got "${address}"`,
          );
        }
        const body: ControlParams<"peers.add"> = { address };
        if (values.name) body.name = values.name;
        if (values.id) body.id = values.id;
        if (values.key) body.publicKey = values.key;
        const p: Peer = await (await client()).call("peers.add", body);
        if (json) printJson(p);
        else out(`added peer ${p.name || "(unnamed)"} ${p.id} at ${p.address}`);
        return EXIT_OK;
      }
      case "remove": {
        expectPositionals(rest, 1, 1, "the peer to remove");
        only([]);
        const p: Peer = await (await client()).call("peers.remove", {
          peer: rest[0]!,
        });
        if (json) printJson(p);
        else out(`removed peer ${p.name || "(unnamed)"} ${p.id}`);
        return EXIT_OK;
      }
      case "dial": {
        expectPositionals(rest, 1, 2, "the peer");
        only([]);
        const want = rest[1];
        if (want !== undefined && want !== "on" && want !== "off") {
          throw new UsageError(`dial takes on or off, got "${want}"`);
        }
        const body: ControlParams<"peers.dial"> = { peer: rest[0]! };
        if (want !== undefined) body.enabled = want === "on";
        const p: ListedPeer = await (await client()).call("peers.dial", body);
        if (json) printJson(p);
        else {
          out(
            `${p.name || p.id}: dial ${p.dial === false ? "off" : "on"}, ${
              peerState(p)
            }`,
          );
        }
        return EXIT_OK;
      }
      case "allow":
      case "revoke": {
        expectPositionals(rest, 1, 1, "the public key (base64)");
        only([]);
        const r = await (await client()).call(
          action === "allow" ? "peers.allow" : "peers.revoke",
          { publicKey: rest[0]! },
        );
        if (json) printJson(r);
        else {
          out(`${action === "allow" ? "allowed" : "revoked"} ${rest[0]}`);
          out(`allowlist: ${r.allowed.length} key(s)`);
        }
        return EXIT_OK;
      }
      case "mode": {
        expectPositionals(rest, 0, 1, "");
        only([]);
        const mode = rest[0];
        if (mode !== undefined && mode !== "open" && mode !== "allowlist") {
          throw new UsageError(`mode must be open or allowlist, got "${mode}"`);
        }
        const r = await (await client()).call(
          "peers.mode",
          mode ? { mode } : {},
        );
        if (json) printJson(r);
        else {
          out(`auth mode: ${r.mode}`);
          for (const k of r.allowed) out(`  allowed ${k}`);
        }
        return EXIT_OK;
      }
      case "trust": {
        expectPositionals(
          rest,
          1,
          1,
          "the controller's public key or pairing code",
        );
        only(["name"]);
        const body: ControlParams<"peers.trust"> = { publicKey: rest[0]! };
        if (values.name) body.name = values.name;
        const r: {
          changed: boolean;
          controller: Trusted;
          trusted: Trusted[];
          policy?: string;
        } = await (await client()).call("peers.trust", body);
        if (json) printJson(r);
        else {
          if (r.policy === "any") {
            err(
              "lthn-p2p: note: this node runs with --trust-any-controller and obeys every peer anyway",
            );
          } else if (r.policy === "none") {
            err(
              "lthn-p2p: note: this node runs no worker (role controller); the trust applies once it runs as worker or dual",
            );
          }
          const who = `${
            r.controller.name || "(unnamed)"
          } ${r.controller.nodeId}`;
          out(
            r.changed ? `trusted controller ${who}` : `already trusted: ${who}`,
          );
          out(`trusted controllers: ${r.trusted.length}`);
        }
        return EXIT_OK;
      }
      case "distrust": {
        expectPositionals(
          rest,
          1,
          1,
          "the controller's public key, pairing code, ID or name",
        );
        only([]);
        const r = await (await client()).call("peers.distrust", {
          publicKey: rest[0]!,
        });
        if (json) printJson(r);
        else {
          out(
            `distrusted controller ${
              r.controller.name || "(unnamed)"
            } ${r.controller.nodeId}`,
          );
          out(`trusted controllers: ${r.trusted.length}`);
        }
        return EXIT_OK;
      }
      case "trusted": {
        expectPositionals(rest, 0, 0, "");
        only([]);
        const r: Trusted[] = await (await client()).call("peers.trusted", {});
        if (json) printJson(r);
        else out(trustedRows(r));
        return EXIT_OK;
      }
      case "best": {
        expectPositionals(rest, 0, 0, "");
        only(["count"]);
        const count = intFlag("count", values.count) ?? 1;
        const peers = await (await client()).call("peers.best", { count });
        if (json) printJson(peers);
        else out(peerRows(peers));
        return EXIT_OK;
      }
      default:
        throw new UsageError(
          `unknown peers action "${action}": use list, add, remove, dial, allow, revoke, mode, trust, distrust, trusted or best`,
        );
    }
  },
});
