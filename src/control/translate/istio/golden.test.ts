/**
 * Golden tests from every Istio networking sample to compiled ProxyConfig (issue 5). Every YAML file under
 * test/fixtures/compat/samples/istio that holds a networking.istio.io kind is loaded into the index with the
 * application manifests it is written for (and, where Istio's task pages apply them first, the networking
 * files it builds on), one ready instance per Deployment, and the view of one client sidecar the sample
 * affects is built and run through the proxy's own validator. The golden file of the sample,
 * test/fixtures/control/istio-golden/<sample path>.json, holds:
 *
 * - `resources`: the state, issues and notes of every resource of the sample file, each with its
 *   file:line:column (repository-relative), and `replaced`: documents a later document of the same
 *   kind, namespace and name replaces (task files list their steps in order, and `kubectl apply` of
 *   each step in turn leaves the last);
 * - `proxy`: the sidecar's ProxyConfig as the proxy's validator returns it (defaults filled in), trimmed to
 *   the outbound entries of the hosts the sample names and the backends they use (plus the inbound entries
 *   for samples that patch the sidecar's inbound side), without the values that depend on the rest of
 *   the run: the service's virtual IP and the content version. Endpoint addresses are derived from the
 *   instance's name, so they do not move when another sample adds a workload.
 *
 * Regenerate after a deliberate change to a translation, then read the diff:
 *
 *     WEFT_UPDATE_GOLDEN=1 node --test src/control/translate/istio/golden.test.ts
 *
 * Samples and what each is loaded with. Paths are below test/fixtures/compat/samples/istio; samples without
 * a folder are in bookinfo/networking. Applications: Bookinfo is bookinfo/platform/kube/bookinfo.yaml, and
 * details-v2, ratings-v2, db, mysql… are its bookinfo-<name>.yaml beside it; curl, httpbin, helloworld,
 * tcp-echo and ratelimit are curl/curl, httpbin/httpbin, helloworld/helloworld, tcp-echo/tcp-echo-services
 * and ratelimit/rate-limit-service; fortio is httpbin/sample-client/fortio-deploy. After "+": networking
 * files applied before the sample; DR is bookinfo/networking/destination-rule-all.yaml, applied first for
 * the samples that route to the subsets it defines, as Istio's task pages do. The sidecar is the client
 * whose view is kept ("+inbound": its inbound entries too, for the EnvoyFilters that patch SIDECAR_INBOUND
 * of the workload they select).
 *
 * | Sample                                   | Applications + applied first           | Sidecar             |
 * | ---------------------------------------- | -------------------------------------- | ------------------- |
 * | bookinfo-gateway, certmanager-gateway    | Bookinfo                               | productpage         |
 * | destination-rule-all(-mtls), -reviews    | Bookinfo                               | productpage         |
 * | egress-rule-google-apis                  | Bookinfo                               | productpage         |
 * | fault-injection-details-v1               | Bookinfo (its own DestinationRule)     | productpage         |
 * | virtual-service-all-v1                   | Bookinfo + DR                          | productpage         |
 * | virtual-service-details-v2               | Bookinfo, details-v2 + DR              | productpage         |
 * | virtual-service-ratings-db               | Bookinfo, ratings-v2, db + DR          | productpage         |
 * | virtual-service-ratings-mysql            | Bookinfo, ratings-v2-mysql, mysql + DR | productpage         |
 * | virtual-service-ratings-mysql-vm         | Bookinfo, ratings-v2-mysql-vm + DR     | productpage         |
 * | virtual-service-ratings-test-abort/delay | Bookinfo + DR                          | productpage         |
 * | virtual-service-reviews-*                | Bookinfo + DR                          | productpage         |
 * | ../policy/productpage_envoy_ratelimit    | Bookinfo, ratelimit                    | productpage         |
 * | extauthz/local-ext-authz                 | (its own httpbin), curl                | curl                |
 * | external/aptget, github, pypi            | curl                                   | curl                |
 * | helloworld/helloworld-gateway            | helloworld, curl                       | curl                |
 * | httpbin/httpbin-gateway                  | httpbin, curl                          | curl                |
 * | ratelimit/local-rate-limit-service       | Bookinfo                               | productpage+inbound |
 * | tasks/circuit-breaking-destinationrule   | httpbin, fortio                        | fortio-deploy       |
 * | tasks/egress-control                     | curl                                   | curl                |
 * | tasks/egress-gateway-http                | curl                                   | curl                |
 * | tasks/global-rate-limit                  | Bookinfo, ratelimit                    | productpage         |
 * | tasks/ingress-httpbin                    | httpbin, curl                          | curl                |
 * | tasks/local-rate-limit                   | Bookinfo                               | productpage+inbound |
 * | tasks/mirroring                          | (own Service), httpbin-v1/v2 (*), curl | curl                |
 * | tasks/request-timeouts                   | Bookinfo + DR, virtual-service-all-v1  | productpage         |
 * | tcp-echo/tcp-echo-all-v1                 | tcp-echo, curl                         | curl                |
 * | tcp-echo/tcp-echo-20-v2                  | tcp-echo, curl + tcp-echo-all-v1       | curl                |
 * | websockets/route                         | websockets/app, curl                   | curl                |
 *
 * (*) test/fixtures/control/istio-golden/apps/httpbin-v1-v2.yaml: the two Deployments the mirroring task
 * page creates inline.
 *
 * Images without a local stand-in (fortio, MongoDB, MySQL, Redis, the rate-limit service, ext-authz,
 * tornado) are given a placeholder command: the goldens are about traffic translation, and in a cluster
 * those pods run. The samples are read from this repository's copy (WEFT_COMPAT_SAMPLES is not used), so the
 * paths in the goldens are the same on every machine.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type ProxyConfig, validateProxyConfig } from '../../../api/index.ts';
import type { IndexedResource, MeshIndex } from '../../index/index.ts';
import { parseDocuments } from '../../sources/file/parse.ts';
import type { SourcedDocument } from '../../sources/types.ts';
import { fixedImages } from '../../testing.ts';
import { buildView } from '../../views/build.ts';
import type { ImageResolver } from '../kubernetes/workloads.ts';
import { resolveHost } from './hosts.ts';
import { istioMesh } from './testing.ts';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const SAMPLES = 'test/fixtures/compat/samples/istio';
const GOLDEN = 'test/fixtures/control/istio-golden';
const UPDATE = process.env.WEFT_UPDATE_GOLDEN === '1';
const REGENERATE = 'WEFT_UPDATE_GOLDEN=1 node --test src/control/translate/istio/golden.test.ts';

/** A path below the samples, repository-relative. */
const s = (p: string) => `${SAMPLES}/${p}`;
const BOOKINFO = s('bookinfo/platform/kube/bookinfo.yaml');
const DR_ALL = s('bookinfo/networking/destination-rule-all.yaml');
const ALL_V1 = s('bookinfo/networking/virtual-service-all-v1.yaml');
const CURL = s('curl/curl.yaml');
const HTTPBIN = s('httpbin/httpbin.yaml');
const RATELIMIT = s('ratelimit/rate-limit-service.yaml');
const TCP_ECHO = s('tcp-echo/tcp-echo-services.yaml');
const PRODUCTPAGE = 'default/productpage-v1-0';
const CURL_SIDECAR = 'default/curl-0';

interface Setup {
  /** Application manifests (repository-relative). */
  apps: string[];
  /** Networking files applied before the sample. */
  before?: string[];
  /** The node id of the sidecar whose view is kept. */
  sidecar: string;
  /** Keep the sidecar's inbound entries too (EnvoyFilters patching SIDECAR_INBOUND). */
  inbound?: boolean;
}

const bookinfo = (before: string[] = [], apps: string[] = []): Setup => ({
  apps: [BOOKINFO, ...apps.map(s)],
  before,
  sidecar: PRODUCTPAGE,
});
const curl = (apps: string[] = [], before: string[] = []): Setup => ({
  apps: [...apps, CURL],
  before,
  sidecar: CURL_SIDECAR,
});

/** Every networking sample (by path below the samples) and what it is loaded with. */
const SETUPS: Record<string, Setup> = {
  'bookinfo/networking/bookinfo-gateway.yaml': bookinfo(),
  'bookinfo/networking/certmanager-gateway.yaml': bookinfo(),
  'bookinfo/networking/destination-rule-all-mtls.yaml': bookinfo(),
  'bookinfo/networking/destination-rule-all.yaml': bookinfo(),
  'bookinfo/networking/destination-rule-reviews.yaml': bookinfo(),
  'bookinfo/networking/egress-rule-google-apis.yaml': bookinfo(),
  'bookinfo/networking/fault-injection-details-v1.yaml': bookinfo(),
  'bookinfo/networking/virtual-service-all-v1.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-details-v2.yaml': bookinfo(
    [DR_ALL],
    ['bookinfo/platform/kube/bookinfo-details-v2.yaml'],
  ),
  'bookinfo/networking/virtual-service-ratings-db.yaml': bookinfo(
    [DR_ALL],
    ['bookinfo/platform/kube/bookinfo-ratings-v2.yaml', 'bookinfo/platform/kube/bookinfo-db.yaml'],
  ),
  'bookinfo/networking/virtual-service-ratings-mysql.yaml': bookinfo(
    [DR_ALL],
    ['bookinfo/platform/kube/bookinfo-ratings-v2-mysql.yaml', 'bookinfo/platform/kube/bookinfo-mysql.yaml'],
  ),
  'bookinfo/networking/virtual-service-ratings-mysql-vm.yaml': bookinfo(
    [DR_ALL],
    ['bookinfo/platform/kube/bookinfo-ratings-v2-mysql-vm.yaml'],
  ),
  'bookinfo/networking/virtual-service-ratings-test-abort.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-ratings-test-delay.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-50-v3.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-80-20.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-90-10.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-jason-v2-v3.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-test-v2.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-v2-v3.yaml': bookinfo([DR_ALL]),
  'bookinfo/networking/virtual-service-reviews-v3.yaml': bookinfo([DR_ALL]),
  'bookinfo/policy/productpage_envoy_ratelimit.yaml': { apps: [BOOKINFO, RATELIMIT], sidecar: PRODUCTPAGE },
  'extauthz/local-ext-authz.yaml': curl(),
  'external/aptget.yaml': curl(),
  'external/github.yaml': curl(),
  'external/pypi.yaml': curl(),
  'helloworld/helloworld-gateway.yaml': curl([s('helloworld/helloworld.yaml')]),
  'httpbin/httpbin-gateway.yaml': curl([HTTPBIN]),
  'ratelimit/local-rate-limit-service.yaml': { ...bookinfo(), inbound: true },
  'tasks/circuit-breaking-destinationrule.yaml': {
    apps: [HTTPBIN, s('httpbin/sample-client/fortio-deploy.yaml')],
    sidecar: 'default/fortio-deploy-0',
  },
  'tasks/egress-control.yaml': curl(),
  'tasks/egress-gateway-http.yaml': curl(),
  'tasks/global-rate-limit.yaml': { apps: [BOOKINFO, RATELIMIT], sidecar: PRODUCTPAGE },
  'tasks/ingress-httpbin.yaml': curl([HTTPBIN]),
  'tasks/local-rate-limit.yaml': { ...bookinfo(), inbound: true },
  'tasks/mirroring.yaml': curl([`${GOLDEN}/apps/httpbin-v1-v2.yaml`]),
  'tasks/request-timeouts.yaml': bookinfo([DR_ALL, ALL_V1]),
  'tcp-echo/tcp-echo-all-v1.yaml': curl([TCP_ECHO]),
  'tcp-echo/tcp-echo-20-v2.yaml': curl([TCP_ECHO], [s('tcp-echo/tcp-echo-all-v1.yaml')]),
  'websockets/route.yaml': curl([s('websockets/app.yaml')]),
};

/** The built-in stand-ins, and a placeholder for every other image (see the module comment). */
const images: ImageResolver = {
  ...fixedImages,
  lookup: (image) => fixedImages.lookup(image) ?? { command: ['/bin/true'] },
};

const isNetworking = (doc: unknown) =>
  typeof (doc as { apiVersion?: unknown })?.apiVersion === 'string' &&
  (doc as { apiVersion: string }).apiVersion.startsWith('networking.istio.io/');

function read(file: string): SourcedDocument[] {
  return parseDocuments(readFileSync(path.join(ROOT, file), 'utf8'), file);
}

/** Every YAML file below the samples with a networking.istio.io document, by path below the samples. */
function networkingSamples(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name) && read(p).some((d) => isNetworking(d.doc)))
        out.push(p.slice(SAMPLES.length + 1));
    }
  };
  walk(SAMPLES);
  return out.sort();
}

/** Every golden file, by path below the golden folder, without `.json`. */
function goldenFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(path.join(ROOT, dir))) return;
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json')) out.push(p.slice(GOLDEN.length + 1, -'.json'.length));
    }
  };
  walk(GOLDEN);
  return out.sort();
}

const goldenPath = (sample: string) => `${GOLDEN}/${sample.replace(/\.ya?ml$/, '')}.json`;

function keyOf(doc: unknown): string | undefined {
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | undefined;
  if (typeof d?.kind !== 'string' || typeof d.metadata?.name !== 'string') return undefined;
  const ns = typeof d.metadata.namespace === 'string' ? d.metadata.namespace : 'default';
  return `${d.kind}/${ns}/${d.metadata.name}`;
}

const at = (o: { file: string; line: number; column: number }) => `${o.file}:${o.line}:${o.column}`;

/** A stable address per instance (FNV-1a of its id), whatever else the mesh holds. */
function addressOf(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return `10.77.${((h >>> 8) % 250) + 1}.${(h % 250) + 1}`;
}

interface Loaded {
  index: MeshIndex;
  replaced: Array<{ resource: string; at: string; replacedBy: string }>;
}

/**
 * The applications, the networking files applied before, then the sample, in that order: a later document
 * with the same kind, namespace and name replaces an earlier one, as `kubectl apply` of each in turn would.
 */
function load(sample: string, setup: Setup): Loaded {
  const byKey = new Map<string, SourcedDocument>();
  const docs: SourcedDocument[] = [];
  const replaced: Loaded['replaced'] = [];
  for (const file of [...setup.apps, ...(setup.before ?? []), s(sample)]) {
    for (const d of read(file)) {
      const k = keyOf(d.doc);
      const earlier = k === undefined ? undefined : byKey.get(k);
      if (k !== undefined && earlier) {
        docs.splice(docs.indexOf(earlier), 1);
        replaced.push({ resource: k, at: at(earlier.origin), replacedBy: at(d.origin) });
      }
      if (k !== undefined) byKey.set(k, d);
      docs.push(d);
    }
  }
  const index = istioMesh(docs, { images, addressOf: (id) => addressOf(id) });
  const instances = index.model.instances;
  assert.equal(new Set(instances.map((i) => i.address)).size, instances.length, 'two instances, one address');
  index.setInstances(instances);
  return { index, replaced };
}

/** The view of one sidecar as the proxy takes it: after its validator, defaults filled in. */
function checkedView(index: MeshIndex, node: string): ProxyConfig {
  const view = buildView(index.model, node, { trustDomain: 'cluster.local' });
  assert.ok(view, `no sidecar ${node}`);
  // Trust bundles come from the control plane's CA, never from the view builder.
  assert.equal('identity' in view, false, 'buildView put identity (trust bundles) in the view');
  const checked = validateProxyConfig(structuredClone(view));
  assert.deepEqual(checked.ok ? [] : checked.issues, [], `the proxy would refuse the view of ${node}`);
  assert.ok(checked.ok);
  return checked.config;
}

/** The host names in the sample's networking resources: hosts, destinations, rule hosts, cluster names. */
function namedHosts(docs: readonly SourcedDocument[]): Array<{ host: string; namespace: string }> {
  const out: Array<{ host: string; namespace: string }> = [];
  for (const d of docs) {
    if (!isNetworking(d.doc)) continue;
    const doc = d.doc as { metadata?: { namespace?: string }; spec?: unknown };
    const namespace = doc.metadata?.namespace ?? 'default';
    const add = (host: string) => out.push({ host, namespace });
    const walk = (v: unknown, key: string | undefined): void => {
      if (typeof v === 'string') {
        if (key === 'host' || key === 'hosts' || key === 'service') add(v);
        // Envoy cluster names as istiod writes them: outbound|<port>|<subset>|<host>.
        const cluster = /^outbound\|\d*\|[^|]*\|(.+)$/.exec(v);
        if (cluster?.[1]) add(cluster[1]);
      } else if (Array.isArray(v)) for (const x of v) walk(x, key);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    walk(doc.spec, undefined);
  }
  return out;
}

/** The sidecar's view trimmed to what the sample is about (see the module comment). */
function trim(config: ProxyConfig, index: MeshIndex, docs: readonly SourcedDocument[], inbound: boolean) {
  const lookup = (namespace: string, name: string) =>
    index.model.services.find((x) => x.namespace === namespace && x.name === name);
  const services = new Set<string>();
  const others = new Set<string>();
  for (const { host, namespace } of namedHosts(docs)) {
    const svc = resolveHost(host, namespace, lookup);
    if (svc) services.add(`${svc.namespace}/${svc.name}`);
    else if (!host.includes('*')) others.add(host.toLowerCase());
  }
  const serviceOf = (name: string) => name.slice(0, name.lastIndexOf(':'));
  const outbound = config.outbound
    .filter(
      (o) =>
        services.has(serviceOf(o.name)) ||
        o.hosts.some((h) => others.has(h.toLowerCase()) || others.has(h.toLowerCase().replace(/:\d+$/, ''))),
    )
    .map(({ vip: _vip, ...o }) => o);
  const used = new Set<string>();
  const collect = (v: unknown, key: string | undefined): void => {
    if (typeof v === 'string' && key === 'backend') used.add(v);
    else if (Array.isArray(v)) for (const x of v) collect(x, key);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, k);
  };
  collect(outbound, undefined);
  const backends = config.backends.filter(
    (b) => used.has(b.name) || services.has(serviceOf(b.name.split('|')[0] ?? b.name)),
  );
  return { ...(inbound ? { inbound: config.inbound } : {}), outbound, backends };
}

function statusOf(r: IndexedResource) {
  return {
    resource: r.key ? `${r.key.kind}/${r.key.namespace}/${r.key.name}` : `(unreadable) ${r.id}`,
    at: at(r.origin),
    state: r.state,
    issues: r.issues.map((i) => ({ code: i.code, path: i.path, message: i.message, at: at(i.at) })),
    notes: (r.notes ?? []).map((n) => ({ path: n.path, message: n.message, at: at(n.at) })),
  };
}

function golden(sample: string, setup: Setup) {
  const { index, replaced } = load(sample, setup);
  // Every sidecar of the mesh gets a view the proxy takes, not only the one kept.
  for (const inst of index.model.instances) checkedView(index, inst.id);
  const file = s(sample);
  const docs = read(file);
  return {
    sample: file,
    loaded: [...setup.apps, ...(setup.before ?? [])],
    sidecar: setup.sidecar,
    replaced,
    resources: index
      .resources()
      .filter((r) => r.origin.file === file)
      .map(statusOf),
    proxy: trim(checkedView(index, setup.sidecar), index, docs, setup.inbound ?? false),
  };
}

describe('Istio networking samples → ProxyConfig (golden)', () => {
  const samples = networkingSamples();

  test('every networking sample has a setup and a golden file, and every golden file a sample', () => {
    assert.deepEqual(
      Object.keys(SETUPS).sort(),
      samples,
      'SETUPS in golden.test.ts must list exactly the sample files with networking.istio.io kinds',
    );
    const stems = samples.map((p) => p.replace(/\.ya?ml$/, '')).sort();
    if (UPDATE) {
      // Goldens of samples that are gone.
      for (const g of goldenFiles()) if (!stems.includes(g)) rmSync(path.join(ROOT, `${GOLDEN}/${g}.json`));
      return;
    }
    assert.deepEqual(
      goldenFiles(),
      stems,
      `golden files missing or left over; regenerate with ${REGENERATE}`,
    );
  });

  for (const sample of samples) {
    const setup = SETUPS[sample];
    test(sample, { skip: setup ? false : 'no setup (see the first test)' }, () => {
      assert.ok(setup);
      const actual = JSON.parse(JSON.stringify(golden(sample, setup))) as unknown;
      const file = path.join(ROOT, goldenPath(sample));
      if (UPDATE) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
        return;
      }
      assert.ok(existsSync(file), `no golden file ${goldenPath(sample)}; create it with ${REGENERATE}`);
      const expected = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      assert.deepEqual(
        actual,
        expected,
        `${sample} no longer compiles to ${goldenPath(sample)}. If the change is intended, regenerate with ${REGENERATE} and review the diff.`,
      );
    });
  }
});
