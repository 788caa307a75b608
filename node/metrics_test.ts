import assert from "node:assert/strict";
import { MetricsRegistry } from "./metrics.ts";
import { parsePrometheus } from "../tests/_prometheus.ts";

Deno.test("MetricsRegistry renders counters, gauges and histograms in the text format", () => {
  const m = new MetricsRegistry();
  const c = m.counter("p2p_messages_total", "Messages by direction");
  c.inc({ direction: "in" });
  c.inc({ direction: "in" }, 2);
  c.inc({ direction: "out" });
  c.inc({ direction: "out" }, -5); // ignored: counters never go down
  m.gauge("p2p_connections", "Open connections", () => 3);
  const g = m.gauge("p2p_peers", "Known peers");
  g.set(7);
  const h = m.histogram("p2p_request_seconds", "Request latency", [
    0.001,
    0.01,
    0.1,
  ]);
  h.observe(0.0005);
  h.observe(0.05);
  h.observe(5);
  const s = parsePrometheus(m.render());
  assert.equal(s.get('p2p_messages_total{direction="in"}'), 3);
  assert.equal(s.get('p2p_messages_total{direction="out"}'), 1);
  assert.equal(s.get("p2p_connections"), 3);
  assert.equal(s.get("p2p_peers"), 7);
  assert.equal(s.get('p2p_request_seconds_bucket{le="0.001"}'), 1);
  assert.equal(s.get('p2p_request_seconds_bucket{le="0.01"}'), 1);
  assert.equal(s.get('p2p_request_seconds_bucket{le="0.1"}'), 2);
  assert.equal(s.get('p2p_request_seconds_bucket{le="+Inf"}'), 3);
  assert.equal(s.get("p2p_request_seconds_count"), 3);
  assert.ok(Math.abs(s.get("p2p_request_seconds_sum")! - 5.0505) < 1e-9);
});

Deno.test("label values are escaped and label order is stable", () => {
  const m = new MetricsRegistry();
  const c = m.counter("x_total", "help with \\ and\nnewline");
  c.inc({ b: 'q"uote', a: "back\\slash\nnl" });
  const text = m.render();
  assert.ok(text.includes('x_total{a="back\\\\slash\\nnl",b="q\\"uote"} 1'));
  assert.ok(text.includes("# HELP x_total help with \\\\ and\\nnewline"));
  parsePrometheus(text);
});

Deno.test("registering a name twice returns the same metric; another kind is refused", () => {
  const m = new MetricsRegistry();
  assert.equal(m.counter("a_total", "x"), m.counter("a_total", "x"));
  assert.throws(() => m.gauge("a_total", "x"), RangeError);
  assert.throws(() => m.counter("bad name", "x"), RangeError);
});

Deno.test("empty metrics still render a zero sample", () => {
  const m = new MetricsRegistry();
  m.counter("z_total", "z");
  m.histogram("h_seconds", "h", [1]);
  const s = parsePrometheus(m.render());
  assert.equal(s.get("z_total"), 0);
  assert.equal(s.get('h_seconds_bucket{le="+Inf"}'), 0);
});

Deno.test("a failing gauge callback renders NaN instead of throwing", () => {
  const m = new MetricsRegistry();
  m.gauge("g", "g", () => {
    throw new Error("boom");
  });
  assert.equal(parsePrometheus(m.render()).get("g"), NaN);
});
