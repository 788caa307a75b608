/**
 * A small metrics registry that renders the Prometheus text exposition
 * format (version 0.0.4): counters, gauges and histograms with labels.
 *
 * @module
 */

/** Label values of one series. */
export type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return "{" +
    keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",") + "}";
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new RangeError(
      `Cannot register metric: invalid name ${JSON.stringify(name)}`,
    );
  }
}

/** One series of a metric read at render time. */
export interface Sample {
  /** The series labels (none for a single series). */
  labels?: Labels;
  /** The value. */
  value: number;
}

/**
 * A monotonically increasing counter, optionally split by labels. A counter
 * built with a `collect` callback reads its series from it at render time
 * (for counts kept elsewhere, such as the transport's).
 */
export class Counter {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  readonly #values = new Map<string, number>();
  readonly #maxSeries: number;
  readonly #collect: (() => Iterable<Sample>) | undefined;

  /**
   * Creates a counter (use {@linkcode MetricsRegistry.counter}).
   *
   * @param name The metric name.
   * @param help The help text.
   * @param maxSeries The cap on distinct label sets.
   * @param collect Optional callback that supplies every series at render time.
   */
  constructor(
    name: string,
    help: string,
    maxSeries = 1000,
    collect?: () => Iterable<Sample>,
  ) {
    checkName(name);
    this.name = name;
    this.help = help;
    this.#maxSeries = maxSeries;
    this.#collect = collect;
  }

  #series(): Map<string, number> {
    if (this.#collect === undefined) return this.#values;
    const out = new Map<string, number>();
    let n = 0;
    for (const s of this.#collect()) {
      if (++n > this.#maxSeries) break;
      out.set(labelKey(s.labels), s.value);
    }
    return out;
  }

  /**
   * Adds to the counter.
   *
   * @param labels The series labels.
   * @param by The amount (non-negative, default 1).
   */
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) return;
    const key = labelKey(labels);
    const cur = this.#values.get(key);
    if (cur === undefined && this.#values.size >= this.#maxSeries) return;
    this.#values.set(key, (cur ?? 0) + by);
  }

  /**
   * Returns the current value of one series.
   *
   * @param labels The series labels.
   * @returns The value (0 when never incremented).
   */
  get(labels?: Labels): number {
    return this.#series().get(labelKey(labels)) ?? 0;
  }

  /**
   * Renders the counter in the text format.
   *
   * @returns The lines.
   */
  render(): string {
    let out = `# HELP ${this.name} ${
      escapeHelp(this.help)
    }\n# TYPE ${this.name} counter\n`;
    let series: Map<string, number>;
    try {
      series = this.#series();
    } catch {
      series = new Map([["", NaN]]);
    }
    if (series.size === 0) out += `${this.name} 0\n`;
    for (const [k, v] of series) {
      out += `${this.name}${k} ${formatValue(v)}\n`;
    }
    return out;
  }
}

/** A value that goes up and down, or is read from a callback at render time. */
export class Gauge {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  readonly #values = new Map<string, number>();
  readonly #collect: (() => number) | undefined;

  /**
   * Creates a gauge (use {@linkcode MetricsRegistry.gauge}).
   *
   * @param name The metric name.
   * @param help The help text.
   * @param collect Optional callback read at render time.
   */
  constructor(name: string, help: string, collect?: () => number) {
    checkName(name);
    this.name = name;
    this.help = help;
    this.#collect = collect;
  }

  /**
   * Sets a series.
   *
   * @param value The value.
   * @param labels The series labels.
   */
  set(value: number, labels?: Labels): void {
    this.#values.set(labelKey(labels), value);
  }

  /**
   * Returns a series' value (or the callback's value).
   *
   * @param labels The series labels.
   * @returns The value.
   */
  get(labels?: Labels): number {
    if (this.#collect && !labels) return this.#collect();
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  /**
   * Renders the gauge in the text format.
   *
   * @returns The lines.
   */
  render(): string {
    let out = `# HELP ${this.name} ${
      escapeHelp(this.help)
    }\n# TYPE ${this.name} gauge\n`;
    if (this.#collect) {
      let v: number;
      try {
        v = this.#collect();
      } catch {
        v = NaN;
      }
      return out + `${this.name} ${formatValue(v)}\n`;
    }
    if (this.#values.size === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.#values) {
      out += `${this.name}${k} ${formatValue(v)}\n`;
    }
    return out;
  }
}

/** Default latency buckets in seconds: 100 µs to 30 s. */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** A histogram of observations with fixed bucket bounds. */
export class Histogram {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  readonly #bounds: number[];
  readonly #series = new Map<
    string,
    { counts: number[]; sum: number; count: number; labels: Labels | undefined }
  >();

  /**
   * Creates a histogram (use {@linkcode MetricsRegistry.histogram}).
   *
   * @param name The metric name.
   * @param help The help text.
   * @param buckets Upper bounds, ascending.
   */
  constructor(
    name: string,
    help: string,
    buckets: readonly number[] = DEFAULT_LATENCY_BUCKETS,
  ) {
    checkName(name);
    this.name = name;
    this.help = help;
    this.#bounds = [...buckets].sort((a, b) => a - b);
  }

  /**
   * Records one observation.
   *
   * @param value The observed value.
   * @param labels The series labels.
   */
  observe(value: number, labels?: Labels): void {
    if (!Number.isFinite(value)) return;
    const key = labelKey(labels);
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= 1000) return;
      s = {
        counts: new Array(this.#bounds.length).fill(0),
        sum: 0,
        count: 0,
        labels,
      };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.#bounds.length; i++) {
      if (value <= this.#bounds[i]!) s.counts[i]!++;
    }
    s.sum += value;
    s.count++;
  }

  /**
   * Returns the number of observations of a series.
   *
   * @param labels The series labels.
   * @returns The count.
   */
  count(labels?: Labels): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }

  /**
   * Renders the histogram in the text format.
   *
   * @returns The lines.
   */
  render(): string {
    let out = `# HELP ${this.name} ${
      escapeHelp(this.help)
    }\n# TYPE ${this.name} histogram\n`;
    const series = this.#series.size > 0 ? [...this.#series.values()] : [{
      counts: new Array(this.#bounds.length).fill(0),
      sum: 0,
      count: 0,
      labels: undefined,
    }];
    for (const s of series) {
      for (let i = 0; i < this.#bounds.length; i++) {
        out += `${this.name}_bucket${
          labelKey({ ...s.labels, le: formatValue(this.#bounds[i]!) })
        } ${s.counts[i]}\n`;
      }
      out += `${this.name}_bucket${
        labelKey({ ...s.labels, le: "+Inf" })
      } ${s.count}\n`;
      out += `${this.name}_sum${labelKey(s.labels)} ${formatValue(s.sum)}\n`;
      out += `${this.name}_count${labelKey(s.labels)} ${s.count}\n`;
    }
    return out;
  }
}

/**
 * Holds a node's metrics and renders them for a Prometheus scrape.
 *
 * @example Counting and rendering
 * ```ts
 * import { MetricsRegistry } from "@lthn/p2p/node";
 * import assert from "node:assert/strict";
 *
 * const m = new MetricsRegistry();
 * const drops = m.counter("p2p_drops_total", "Frames dropped");
 * drops.inc({ reason: "rate_limit" });
 * assert.match(m.render(), /p2p_drops_total\{reason="rate_limit"\} 1/);
 * ```
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();

  /**
   * Registers (or returns the existing) counter.
   *
   * @param name The metric name.
   * @param help The help text.
   * @param collect Optional callback that supplies every series at render
   * time (the counter's own `inc` is then unused).
   * @returns The counter.
   * @throws {RangeError} For an invalid name or a name taken by another kind.
   */
  counter(
    name: string,
    help: string,
    collect?: () => Iterable<Sample>,
  ): Counter {
    return this.#register(
      name,
      () => new Counter(name, help, 1000, collect),
      Counter,
    );
  }

  /**
   * Registers (or returns the existing) gauge.
   *
   * @param name The metric name.
   * @param help The help text.
   * @param collect Optional callback read at render time.
   * @returns The gauge.
   * @throws {RangeError} For an invalid name or a name taken by another kind.
   */
  gauge(name: string, help: string, collect?: () => number): Gauge {
    return this.#register(name, () => new Gauge(name, help, collect), Gauge);
  }

  /**
   * Registers (or returns the existing) histogram.
   *
   * @param name The metric name.
   * @param help The help text.
   * @param buckets Upper bounds.
   * @returns The histogram.
   * @throws {RangeError} For an invalid name or a name taken by another kind.
   */
  histogram(
    name: string,
    help: string,
    buckets?: readonly number[],
  ): Histogram {
    return this.#register(
      name,
      () => new Histogram(name, help, buckets),
      Histogram,
    );
  }

  #register<T extends Counter | Gauge | Histogram>(
    name: string,
    make: () => T,
    // deno-lint-ignore no-explicit-any
    kind: new (...args: any[]) => T,
  ): T {
    const existing = this.#metrics.get(name);
    if (existing) {
      if (!(existing instanceof kind)) {
        throw new RangeError(
          `Cannot register metric: ${name} is already another kind`,
        );
      }
      return existing;
    }
    const m = make();
    this.#metrics.set(name, m);
    return m;
  }

  /**
   * Renders every metric in the Prometheus text format.
   *
   * @returns The exposition text (`text/plain; version=0.0.4`).
   */
  render(): string {
    let out = "";
    for (const m of this.#metrics.values()) out += m.render();
    return out;
  }
}

/** The content type of {@linkcode MetricsRegistry.render} output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
