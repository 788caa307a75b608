import assert from "node:assert/strict";
import { WORKER_COMMANDS, type WorkerCommand } from "../authorization.ts";
import { newMessage } from "../message.ts";
import {
  allowTrustedControllers,
  CHANGING_COMMANDS,
  READ_ONLY_COMMANDS,
  resolveCommandPolicy,
  trustKeys,
} from "./command_policy.ts";

const TRUSTED = { id: "t", publicKey: "trusted-key" };
const STRANGER = { id: "s", publicKey: "stranger-key" };

async function allowed(
  policy: ReturnType<typeof allowTrustedControllers>,
  command: WorkerCommand,
  peer: typeof TRUSTED | undefined,
): Promise<boolean> {
  const message = newMessage(command, { from: peer?.id ?? "" });
  return await policy({ peer, command, message });
}

Deno.test("allowTrustedControllers(): ping from anyone, everything else only from a trusted key", async () => {
  const policy = allowTrustedControllers(trustKeys([TRUSTED.publicKey]));
  for (const c of WORKER_COMMANDS) {
    assert.equal(await allowed(policy, c, TRUSTED), true, `trusted ${c}`);
    assert.equal(
      await allowed(policy, c, STRANGER),
      c === "ping",
      `stranger ${c}`,
    );
    assert.equal(
      await allowed(policy, c, undefined),
      c === "ping",
      `no peer ${c}`,
    );
  }
  // An empty key is never trusted, even if the set holds "".
  const odd = allowTrustedControllers(trustKeys([""]));
  assert.equal(await allowed(odd, "deploy", { id: "x", publicKey: "" }), false);
});

Deno.test("allowTrustedControllers(): read-only commands can be opened, changing ones cannot", async () => {
  const policy = allowTrustedControllers(trustKeys([]), {
    openCommands: ["ping", ...READ_ONLY_COMMANDS],
  });
  for (const c of WORKER_COMMANDS) {
    assert.equal(
      await allowed(policy, c, STRANGER),
      !CHANGING_COMMANDS.includes(c),
      c,
    );
  }
  for (const c of CHANGING_COMMANDS) {
    assert.throws(
      () => allowTrustedControllers(trustKeys([]), { openCommands: [c] }),
      RangeError,
    );
  }
  // Closing ping too is allowed.
  const closed = allowTrustedControllers(trustKeys([]), { openCommands: [] });
  assert.equal(await allowed(closed, "ping", STRANGER), false);
});

Deno.test("allowTrustedControllers() reads the trust at each request (changes apply at once)", async () => {
  const keys = new Set<string>();
  const policy = allowTrustedControllers({ isTrusted: (k) => keys.has(k) });
  assert.equal(await allowed(policy, "deploy", TRUSTED), false);
  keys.add(TRUSTED.publicKey);
  assert.equal(await allowed(policy, "deploy", TRUSTED), true);
  keys.delete(TRUSTED.publicKey);
  assert.equal(await allowed(policy, "deploy", TRUSTED), false);
});

Deno.test("resolveCommandPolicy(): authorize wins, then trustAnyController, then the trust list (default nobody)", async () => {
  const custom = () => false;
  const c = resolveCommandPolicy({
    authorize: custom,
    trustAnyController: true,
    trust: [TRUSTED.publicKey],
  });
  assert.equal(c.kind, "custom");
  assert.equal(c.authorize, custom);
  const any = resolveCommandPolicy({ trustAnyController: true });
  assert.equal(any.kind, "any");
  assert.equal(await allowed(any.authorize, "deploy", STRANGER), true);
  const def = resolveCommandPolicy({});
  assert.equal(def.kind, "trusted");
  for (const cmd of WORKER_COMMANDS) {
    assert.equal(await allowed(def.authorize, cmd, TRUSTED), cmd === "ping");
  }
  const listed = resolveCommandPolicy({ trust: [TRUSTED.publicKey] });
  assert.equal(await allowed(listed.authorize, "deploy", TRUSTED), true);
  assert.equal(await allowed(listed.authorize, "deploy", STRANGER), false);
  assert.throws(
    () => resolveCommandPolicy({ trust: "one key" as unknown as string[] }),
    TypeError,
  );
  assert.throws(
    () => resolveCommandPolicy({ openCommands: ["deploy"] }),
    RangeError,
  );
});
