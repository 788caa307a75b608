import assert from "node:assert/strict";
import {
  addressGroup,
  Admission,
  PHASE_HANDSHAKE,
  PHASE_PROVISIONAL,
} from "./_admission.ts";

Deno.test("addressGroup() keeps IPv4, unmaps IPv4-mapped and cuts IPv6 to /64", () => {
  assert.equal(addressGroup("127.0.0.1"), "127.0.0.1");
  assert.equal(addressGroup("::ffff:10.0.0.1"), "10.0.0.1");
  assert.equal(addressGroup("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(addressGroup("2001:0db8:0001:0002::7"), "2001:db8:1:2::/64");
  assert.equal(addressGroup("[2001:db8::1]"), "2001:db8:0:0::/64");
  assert.equal(addressGroup("::1"), "0:0:0:0::/64");
  assert.equal(addressGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
});

Deno.test("Admission displaces the least advanced, oldest connection and never the newcomer", () => {
  const evicted: string[] = [];
  const a = new Admission({ maxUnproven: 3, maxPerAddress: 3 });
  const t1 = a.admit("10.0.0.1", () => evicted.push("t1"));
  const t2 = a.admit("10.0.0.2", () => evicted.push("t2"));
  const t3 = a.admit("10.0.0.3", () => evicted.push("t3"));
  t1.advance(PHASE_PROVISIONAL);
  t2.advance(PHASE_HANDSHAKE);
  // Full: the newcomer displaces t3 (still reading its head).
  const t4 = a.admit("10.0.0.4", () => evicted.push("t4"));
  assert.equal(t4.held, true);
  assert.deepEqual(evicted, ["t3"]);
  assert.equal(t3.held, false);
  // t4 is in the head phase alone: t2 (handshake) goes next.
  a.admit("10.0.0.5", () => evicted.push("t5"));
  assert.deepEqual(evicted, ["t3", "t4"]);
  assert.equal(a.size, 3);
  t1.release();
  t1.release();
  assert.equal(a.size, 2);
  assert.equal(a.count(PHASE_HANDSHAKE), 1);
});

Deno.test("Admission caps one address group without touching others", () => {
  const evicted: string[] = [];
  const a = new Admission({ maxUnproven: 100, maxPerAddress: 2 });
  const other = a.admit("10.0.0.9", () => evicted.push("other"));
  for (let i = 0; i < 5; i++) a.admit("10.0.0.1", () => evicted.push(`a${i}`));
  assert.deepEqual(evicted, ["a0", "a1", "a2"]);
  assert.equal(a.countAddress("10.0.0.1"), 2);
  assert.equal(other.held, true);
  assert.equal(a.size, 3);
});

Deno.test("AdmissionTicket.deadline() fires only while the ticket is held", async () => {
  const a = new Admission({ maxUnproven: 4, maxPerAddress: 4 });
  let fired = 0;
  const t = a.admit("10.0.0.1", () => {});
  t.deadline(10, () => fired++);
  const u = a.admit("10.0.0.1", () => {});
  u.deadline(10, () => fired += 10);
  u.release();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired, 1);
  t.release();
});
