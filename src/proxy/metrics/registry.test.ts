/**
 * Unit tests for the hand-rolled metrics registry. The rendered text is read back with a strict parser
 * for the Prometheus text exposition format 0.0.4 written here, so a formatting slip (an unescaped
 * label, a non-cumulative bucket, a sample without a TYPE) fails the test rather than a scrape.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLabels, Histogram, LATENCY_BUCKETS_MS, MetricsRegistry } from './registry.ts';
import { RequestMetrics } from './request-metrics.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface ParsedFamily {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses exposition text, throwing on anything the format does not allow. */
function parseExposition(text: string): Map<string, ParsedFamily> {
  assert.ok(text.endsWith('\n'), 'exposition must end with a newline');
  const families = new Map<string, ParsedFamily>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split('\n');
  for (const [n, line] of lines.entries()) {
    const where = `line ${n + 1}: ${JSON.stringify(line)}`;
    // The format ignores empty lines (an empty registry renders as one).
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      assert.ok(m, where);
      const name = m[1] as string;
      assert.equal(families.has(name), false, `${where}: family declared twice`);
      families.set(name, { type: 'untyped', help: m[2] as string, samples: [] });
      current = name;
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      assert.ok(m, where);
      const family = families.get(m[1] as string);
      assert.ok(family, `${where}: TYPE before HELP`);
      assert.equal(family.samples.length, 0, `${where}: TYPE after samples`);
      family.type = m[2] as string;
      continue;
    }
    assert.ok(!line.startsWith('#'), `${where}: unexpected comment`);
    const sample = parseSample(line, where);
    const base = sample.name.replace(/_(bucket|sum|count)$/, '');
    const family = families.get(sample.name) ?? families.get(base);
    assert.ok(family, `${where}: sample of an undeclared family`);
    assert.equal(
      current,
      families.get(sample.name) ? sample.name : base,
      `${where}: sample outside its family`,
    );
    family.samples.push(sample);
  }
  return families;
}

function parseSample(line: string, where: string): Sample {
  const name = NAME.exec(line)?.[0];
  assert.ok(name, `${where}: bad metric name`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const ln = LABEL_NAME.exec(line.slice(i))?.[0];
      assert.ok(ln, `${where}: bad label name at ${i}`);
      i += ln.length;
      assert.equal(line.slice(i, i + 2), '="', `${where}: expected =" at ${i}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i++];
        assert.ok(c !== undefined, `${where}: unterminated label value`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else assert.fail(`${where}: bad escape \\${e}`);
        } else value += c;
      }
      assert.equal(Object.hasOwn(labels, ln), false, `${where}: label ${ln} repeated`);
      labels[ln] = value;
      if (line[i] === ',') i++;
      else assert.equal(line[i], '}', `${where}: expected , or } at ${i}`);
    }
    i++;
  }
  const m = /^ (\S+)$/.exec(line.slice(i));
  assert.ok(m, `${where}: expected one space and a value`);
  const raw = m[1] as string;
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
  assert.ok(raw === 'NaN' || !Number.isNaN(value), `${where}: bad value ${raw}`);
  return { name, labels, value };
}

function withoutLe(labels: Record<string, string>): string {
  const { le: _le, ...rest } = labels;
  return formatLabels(rest);
}

/** Checks a histogram family: per series, cumulative buckets ending in +Inf == _count, and a _sum. */
function checkHistogram(family: ParsedFamily, name: string) {
  assert.equal(family.type, 'histogram');
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const key = withoutLe(s.labels);
    let entry = series.get(key);
    if (!entry) series.set(key, (entry = { buckets: [] }));
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le;
      assert.ok(le !== undefined, 'bucket without le');
      entry.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    } else if (s.name === `${name}_sum`) entry.sum = s.value;
    else if (s.name === `${name}_count`) entry.count = s.value;
    else assert.fail(`unexpected sample ${s.name} in histogram ${name}`);
  }
  for (const [key, e] of series) {
    assert.ok(e.buckets.length > 0, `${key}: no buckets`);
    for (let i = 1; i < e.buckets.length; i++) {
      const [prevLe, prevCount] = e.buckets[i - 1] as [number, number];
      const [le, count] = e.buckets[i] as [number, number];
      assert.ok(le > prevLe, `${key}: le not increasing`);
      assert.ok(count >= prevCount, `${key}: buckets not cumulative at le=${le}`);
    }
    const last = e.buckets.at(-1) as [number, number];
    assert.equal(last[0], Infinity, `${key}: last bucket is not +Inf`);
    assert.equal(last[1], e.count, `${key}: +Inf bucket differs from _count`);
    assert.ok(e.sum !== undefined, `${key}: no _sum`);
  }
  return series;
}

describe('render', () => {
  test('counters and gauges', () => {
    const r = new MetricsRegistry();
    r.counter('weft_things_total', 'Things.', { kind: 'a' }).inc();
    r.counter('weft_things_total', 'Things.', { kind: 'b' }).inc(5);
    const g = r.gauge('weft_open', 'Open things.');
    g.inc(3);
    g.dec();
    const families = parseExposition(r.render());
    const things = families.get('weft_things_total');
    assert.equal(things?.type, 'counter');
    assert.equal(things?.help, 'Things.');
    assert.deepEqual(things?.samples, [
      { name: 'weft_things_total', labels: { kind: 'a' }, value: 1 },
      { name: 'weft_things_total', labels: { kind: 'b' }, value: 5 },
    ]);
    assert.deepEqual(families.get('weft_open')?.samples, [{ name: 'weft_open', labels: {}, value: 2 }]);
    assert.equal(families.get('weft_open')?.type, 'gauge');
  });

  test('histograms have cumulative buckets and +Inf equals the count', () => {
    const r = new MetricsRegistry();
    const h = r.histogram('weft_latency_ms', 'Latency.', { route: 'r1' }, [1, 5, 10]);
    for (const v of [0.5, 1, 2, 5, 7, 10, 11, 1000]) h.observe(v);
    const empty = r.histogram('weft_latency_ms', 'Latency.', { route: 'r2' }, [1, 5, 10]);
    assert.equal(empty.count, 0);
    const families = parseExposition(r.render());
    const series = checkHistogram(families.get('weft_latency_ms') as ParsedFamily, 'weft_latency_ms');
    const r1 = series.get('route="r1"');
    assert.deepEqual(r1?.buckets, [
      [1, 2],
      [5, 4],
      [10, 6],
      [Infinity, 8],
    ]);
    assert.equal(r1?.count, 8);
    assert.equal(r1?.sum, 0.5 + 1 + 2 + 5 + 7 + 10 + 11 + 1000);
    const r2 = series.get('route="r2"');
    assert.deepEqual(
      r2?.buckets.map(([, c]) => c),
      [0, 0, 0, 0],
    );
    assert.equal(r2?.count, 0);
    assert.equal(r2?.sum, 0);
  });

  test('the default latency buckets render in order', () => {
    const r = new MetricsRegistry();
    const h = r.histogram('weft_d', 'D.');
    for (const v of [0, 3, 40, 99_999]) h.observe(v);
    const series = checkHistogram(parseExposition(r.render()).get('weft_d') as ParsedFamily, 'weft_d');
    const only = series.get('');
    assert.deepEqual(
      only?.buckets.map(([le]) => le),
      [...LATENCY_BUCKETS_MS, Infinity],
    );
  });

  test('label values with backslashes, quotes and newlines are escaped and read back intact', () => {
    const r = new MetricsRegistry();
    const nasty = 'a\\b "quoted"\nnext line, {braces}=';
    r.counter('weft_x_total', 'X.', { path: nasty, plain: 'ok' }).inc();
    r.histogram('weft_h', 'H.', { path: nasty }, [1]).observe(2);
    const text = r.render();
    // The raw newline must never reach the output inside a label.
    assert.equal(
      text.split('\n').every((l) => l === '' || /^(# |weft_)/.test(l)),
      true,
    );
    const families = parseExposition(text);
    assert.deepEqual(families.get('weft_x_total')?.samples[0]?.labels, { path: nasty, plain: 'ok' });
    const series = checkHistogram(families.get('weft_h') as ParsedFamily, 'weft_h');
    assert.equal(series.size, 1);
    for (const s of families.get('weft_h')?.samples ?? []) assert.equal(s.labels.path, nasty);
  });

  test('labels are sorted by name, so the same set always renders the same series', () => {
    const r = new MetricsRegistry();
    const a = r.counter('weft_y_total', 'Y.', { b: '2', a: '1' });
    const b = r.counter('weft_y_total', 'Y.', { a: '1', b: '2' });
    assert.equal(a, b);
    assert.match(r.render(), /^weft_y_total\{a="1",b="2"\} 0$/m);
  });

  test('an empty registry renders a valid (empty) exposition', () => {
    assert.equal(parseExposition(new MetricsRegistry().render()).size, 0);
  });
});

describe('MetricsRegistry', () => {
  test('returns the same handle for the same name and labels', () => {
    const r = new MetricsRegistry();
    assert.equal(r.counter('c', 'C.', { x: '1' }), r.counter('c', 'C.', { x: '1' }));
    assert.notEqual(r.counter('c', 'C.', { x: '1' }), r.counter('c', 'C.', { x: '2' }));
    assert.equal(r.histogram('h', 'H.'), r.histogram('h', 'H.'));
  });

  test('refuses to reuse a name with another kind', () => {
    const r = new MetricsRegistry();
    r.counter('weft_z', 'Z.');
    assert.throws(() => r.gauge('weft_z', 'Z.'), /is a counter, not a gauge/);
  });
});

describe('Histogram', () => {
  test('a value above every bound counts only towards +Inf', () => {
    const h = new Histogram('', [1, 2]);
    h.observe(3);
    assert.deepEqual([...h.counts], [0, 0]);
    assert.equal(h.count, 1);
    assert.equal(h.sum, 3);
  });

  test('a value on a bound falls into that bucket (le is inclusive)', () => {
    const h = new Histogram('', [1, 2]);
    h.observe(1);
    h.observe(2);
    assert.deepEqual([...h.counts], [1, 1]);
  });
});

describe('RequestMetrics', () => {
  test('records requests by method, status and error code in valid exposition', () => {
    const r = new MetricsRegistry();
    const m = new RequestMetrics(r, { service: 'api', route: 'r', backend: 'b' });
    m.record('GET', 200, 3, undefined);
    m.record('GET', 200, 30, undefined);
    m.record('PURGE', 200, 1, undefined);
    m.record('POST', 503, 2, 'NO_ENDPOINT');
    m.record('POST', 503, 2, 'NO_ENDPOINT');
    const families = parseExposition(r.render());
    const requests = families.get('weft_requests_total');
    assert.equal(requests?.type, 'counter');
    const byKey = new Map(
      requests?.samples.map((s) => [
        `${s.labels.method} ${s.labels.response_code} ${s.labels.response_flags}`,
        s,
      ]),
    );
    assert.equal(byKey.get('GET 200 -')?.value, 2);
    assert.equal(byKey.get('OTHER 200 -')?.value, 1);
    assert.equal(byKey.get('POST 503 NO_ENDPOINT')?.value, 2);
    assert.deepEqual(byKey.get('GET 200 -')?.labels, {
      backend: 'b',
      method: 'GET',
      response_code: '200',
      response_flags: '-',
      route: 'r',
      service: 'api',
    });
    const series = checkHistogram(
      families.get('weft_request_duration_milliseconds') as ParsedFamily,
      'weft_request_duration_milliseconds',
    );
    assert.equal(series.get('backend="b",route="r",service="api"')?.count, 5);
    assert.equal(families.get('weft_request_bytes_total')?.type, 'counter');
    assert.equal(families.get('weft_response_bytes_total')?.type, 'counter');
  });
});
