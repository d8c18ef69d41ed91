/**
 * Every VirtualService, DestinationRule, ServiceEntry and EnvoyFilter in the compat samples (Istio's own
 * samples and the objects of its task pages, as users write them) is valid as it is. A failure names the
 * file, the line where the document starts, and each issue with its path.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { LineCounter, parseAllDocuments } from 'yaml';
import { validateResource } from '../registry.ts';
import { ISTIO_NETWORKING_KINDS, isIstioNetworkingKind } from './index.ts';

const SAMPLES =
  process.env.WEFT_COMPAT_SAMPLES ??
  new URL('../../../../test/fixtures/compat/samples', import.meta.url).pathname;
const noSamples = existsSync(SAMPLES) ? false : `compat samples not found at ${SAMPLES}`;

interface Located {
  file: string;
  line: number;
  doc: { apiVersion?: unknown; kind?: unknown };
}

/** Every YAML document of the tree under `dir`, with its file and first line. */
function documents(dir: string): Located[] {
  const out: Located[] = [];
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
  for (const f of files.sort()) {
    const lineCounter = new LineCounter();
    for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'), { lineCounter })) {
      const doc = d.toJS() as Located['doc'] | null;
      if (doc === null || typeof doc !== 'object') continue;
      const start = d.contents?.range?.[0] ?? 0;
      out.push({ file: relative(SAMPLES, join(dir, f)), line: lineCounter.linePos(start).line, doc });
    }
  }
  return out;
}

describe('compat samples', { skip: noSamples }, () => {
  const all = noSamples ? [] : documents(SAMPLES);
  const found = all.filter((d) => isIstioNetworkingKind(d.doc.apiVersion, d.doc.kind));

  test('every networking.istio.io document of the four kinds is valid as written', () => {
    const failures = found.flatMap(({ file, line, doc }) => {
      const v = validateResource(doc);
      return v.state === 'valid'
        ? []
        : [
            `${file}:${line} ${String(doc.kind)} ${v.state}: ${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
          ];
    });
    assert.deepEqual(failures, []);

    const count = (kind: string) => found.filter((d) => d.doc.kind === kind).length;
    // The samples hold 37 VirtualServices, 15 DestinationRules, 12 ServiceEntries and 6 EnvoyFilters.
    assert.ok(count('VirtualService') >= 37, `${count('VirtualService')} VirtualServices`);
    assert.ok(count('DestinationRule') >= 15, `${count('DestinationRule')} DestinationRules`);
    assert.ok(count('ServiceEntry') >= 12, `${count('ServiceEntry')} ServiceEntries`);
    assert.ok(count('EnvoyFilter') >= 6, `${count('EnvoyFilter')} EnvoyFilters`);
  });

  test('the Bookinfo networking files and the task files are among them', () => {
    const files = new Set(found.map((d) => d.file));
    for (const f of [
      'istio/bookinfo/networking/virtual-service-ratings-test-delay.yaml',
      'istio/bookinfo/networking/destination-rule-all-mtls.yaml',
      'istio/bookinfo/networking/egress-rule-google-apis.yaml',
      'istio/tasks/circuit-breaking-destinationrule.yaml',
      'istio/tasks/mirroring.yaml',
      'istio/tasks/local-rate-limit.yaml',
      'istio/ratelimit/local-rate-limit-service.yaml',
      'istio/external/github.yaml',
    ]) {
      assert.ok(files.has(f), `${f} has no document of the four kinds`);
    }
  });

  test("the group's other kinds (Istio's Gateway) stay unsupported", () => {
    const gateways = all.filter(
      (d) => d.doc.kind === 'Gateway' && String(d.doc.apiVersion).startsWith('networking.istio.io/'),
    );
    assert.ok(gateways.length > 0);
    for (const g of gateways) assert.equal(validateResource(g.doc).state, 'unsupported');
    assert.deepEqual(
      ISTIO_NETWORKING_KINDS.map((k) => k.kind),
      ['VirtualService', 'DestinationRule', 'ServiceEntry', 'EnvoyFilter'],
    );
  });
});
