/**
 * Hand-rolled Prometheus metrics for the request path. prom-client costs 1–2 µs per observation; here a
 * series handle (a counter or histogram for one label set) is bound when the snapshot compiles, and an
 * observation is a field increment. The registry lives outside the snapshot, so series survive reloads:
 * asking for the same name and labels again returns the same handle.
 */

export const LATENCY_BUCKETS_MS = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
] as const;

export class Counter {
  value = 0;
  readonly labels: string;
  constructor(labels: string) {
    this.labels = labels;
  }
  inc(n = 1): void {
    this.value += n;
  }
}

/** A counter that can also go down. */
export class Gauge extends Counter {
  dec(n = 1): void {
    this.value -= n;
  }
}

export class Histogram {
  readonly labels: string;
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(labels: string, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= (b[i] as number)) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

type Kind = 'counter' | 'gauge' | 'histogram';
interface Family {
  kind: Kind;
  help: string;
  series: Map<string, Counter | Gauge | Histogram>;
}

export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  counter(name: string, help: string, labels: Record<string, string> = {}): Counter {
    return this.#get(name, 'counter', help, labels, (l) => new Counter(l)) as Counter;
  }
  gauge(name: string, help: string, labels: Record<string, string> = {}): Gauge {
    return this.#get(name, 'gauge', help, labels, (l) => new Gauge(l)) as Gauge;
  }
  histogram(
    name: string,
    help: string,
    labels: Record<string, string> = {},
    bounds: readonly number[] = LATENCY_BUCKETS_MS,
  ): Histogram {
    return this.#get(name, 'histogram', help, labels, (l) => new Histogram(l, bounds)) as Histogram;
  }

  #get(
    name: string,
    kind: Kind,
    help: string,
    labels: Record<string, string>,
    create: (l: string) => Counter | Gauge | Histogram,
  ) {
    let family = this.#families.get(name);
    if (!family) {
      family = { kind, help, series: new Map() };
      this.#families.set(name, family);
    } else if (family.kind !== kind) {
      throw new Error(`metric ${name} is a ${family.kind}, not a ${kind}`);
    }
    const key = formatLabels(labels);
    let s = family.series.get(key);
    if (!s) {
      s = create(key);
      family.series.set(key, s);
    }
    return s;
  }

  /** Renders every family in the Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.#families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.kind}`);
      for (const s of f.series.values()) {
        if (s instanceof Histogram) {
          let cum = 0;
          for (let i = 0; i < s.bounds.length; i++) {
            cum += s.counts[i] as number;
            out.push(`${name}_bucket${withLabel(s.labels, 'le', String(s.bounds[i]))} ${cum}`);
          }
          out.push(`${name}_bucket${withLabel(s.labels, 'le', '+Inf')} ${s.count}`);
          out.push(`${name}_sum${braces(s.labels)} ${s.sum}`, `${name}_count${braces(s.labels)} ${s.count}`);
        } else {
          out.push(`${name}${braces(s.labels)} ${s.value}`);
        }
      }
    }
    return `${out.join('\n')}\n`;
  }
}

export function formatLabels(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] as string)}"`)
    .join(',');
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
function braces(labels: string): string {
  return labels ? `{${labels}}` : '';
}
function withLabel(labels: string, k: string, v: string): string {
  return `{${labels ? `${labels},` : ''}${k}="${v}"}`;
}
