/**
 * Golden tests for the view builder: resource YAML (test/fixtures/control/golden) read by the file source,
 * validated and translated by the index, plus the runtime's instances file, into the exact ProxyConfig of
 * one transparent and one explicit proxy. Each view is also run through the proxy's own validator, so the
 * config the control plane sends is one the proxy accepts.
 *
 * The fixtures hold, on purpose: protocols from port names, from appProtocol over a name, and detected
 * (unnamed port); targetPort by number and by name; a not-ready instance; a selector-less Service; a
 * Service in another namespace; a producer route narrowed to one port with a missing backend; a consumer
 * route in the client's namespace; and a TCPRoute with a missing backend.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { validateProxyConfig } from '../../api/index.ts';
import { silentLogger } from '../../core/index.ts';
import { MeshIndex } from '../index/index.ts';
import { createVipAllocator } from '../index/vips.ts';
import type { InstanceModel } from '../model/types.ts';
import { parseDocuments } from '../sources/file/parse.ts';
import { readDocuments } from '../sources/file/source.ts';
import { readInstancesFile } from '../sources/instances.ts';
import { fixedImages, GOLDEN, GOLDEN_RESOURCES } from '../testing.ts';
import { ROUTE_KINDS, translateRoutes } from '../translate/routes.ts';
import { buildView, chooseAttachments } from './build.ts';

/** A service's route when nothing routes it: Istio's default retry policy, with the attempt count. */
const ISTIO_DEFAULT_ROUTE = {
  retries: { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 503] },
  includeAttemptCount: true,
};
/** The mesh's default balancer (Istio's LEAST_REQUEST). */
const LR = { type: 'least-request' } as const;
/** Every instance runs a Weft sidecar: endpoints name its identity (auto-mTLS). */
const DEFAULT_SA = 'spiffe://cluster.local/ns/default/sa/default';
const DB_SA = 'spiffe://cluster.local/ns/default/sa/db';
const SEARCHER_SA = 'spiffe://cluster.local/ns/other/sa/searcher';
const OPTIONS = { trustDomain: 'cluster.local' };

/** The golden mesh as the control plane would hold it: YAML → index → model, with the instances file. */
function loadMesh(mode: 'transparent' | 'explicit'): MeshIndex {
  const index = new MeshIndex({
    images: fixedImages,
    vips: createVipAllocator(),
    logger: silentLogger,
    transparent: mode === 'transparent',
    routeKinds: ROUTE_KINDS,
    translateRoutes,
  });
  index.events('files').reset(readDocuments(GOLDEN_RESOURCES));
  index.setInstances(readInstancesFile(path.join(GOLDEN, `instances-${mode}.json`)));
  return index;
}

/** The view, after checking that the proxy's validator accepts it. */
function viewOf(index: MeshIndex, node: string) {
  const view = buildView(index.model, node, OPTIONS);
  assert.ok(view, `no view for ${node}`);
  const checked = validateProxyConfig(structuredClone(view));
  assert.deepEqual(checked.ok ? [] : checked.issues, [], 'the proxy would refuse this view');
  return view;
}

describe('the golden mesh: every resource is accepted, problems are noted on the routes', () => {
  test('statuses', () => {
    const index = loadMesh('transparent');
    assert.deepEqual(
      index
        .resources()
        .map((r) => [
          `${r.key?.kind}/${r.key?.namespace}/${r.key?.name}`,
          r.state,
          r.issues.map((i) => `${path.basename(i.at.file)}:${i.at.line}:${i.at.column} ${i.code} ${i.path}`),
        ]),
      [
        ['Service/default/web', 'accepted', []],
        ['Service/default/api', 'accepted', []],
        ['Service/default/db', 'accepted', []],
        ['Service/default/legacy', 'accepted', []],
        ['Service/other/search', 'accepted', []],
        ['Deployment/default/web', 'accepted', []],
        ['Deployment/default/api', 'accepted', []],
        ['Workload/default/db', 'accepted', []],
        ['Deployment/other/search', 'accepted', []],
        [
          'HTTPRoute/default/web',
          'accepted',
          ['routes.yaml:12:19 CONFIG_REFERENCE spec.rules.0.backendRefs.1.name'],
        ],
        ['HTTPRoute/other/web-from-other', 'accepted', []],
        [
          'TCPRoute/default/db',
          'accepted',
          ['routes.yaml:32:19 CONFIG_REFERENCE spec.rules.0.backendRefs.1.name'],
        ],
      ],
    );
  });

  test('workloads: the built-in image table, the command annotation, a Workload run with node', () => {
    assert.deepEqual(loadMesh('transparent').model.workloads, [
      {
        resource: 'Deployment/default/web',
        namespace: 'default',
        name: 'web',
        replicas: 2,
        labels: { app: 'web', version: 'v1' },
        serviceAccount: 'default',
        // docker.io/istio/examples-helloworld-v1 is the older name of registry.istio.io/release/….
        command: [
          '/opt/node/bin/node',
          '--disable-warning=ExperimentalWarning',
          '/opt/weft/src/samples/helloworld/server.ts',
        ],
        env: { SERVICE_VERSION: 'v1' },
        workingDir: undefined,
        ports: [
          { name: 'http', port: 8080, protocol: undefined },
          { name: undefined, port: 7000, protocol: undefined },
        ],
        readiness: undefined,
      },
      {
        resource: 'Deployment/default/api',
        namespace: 'default',
        name: 'api',
        replicas: 1,
        labels: { app: 'api' },
        serviceAccount: 'default',
        command: ['/usr/local/bin/api-server', '--verbose'],
        env: {},
        workingDir: undefined,
        ports: [{ name: 'grpc', port: 9090, protocol: undefined }],
        readiness: undefined,
      },
      {
        resource: 'Deployment/other/search',
        namespace: 'other',
        name: 'search',
        replicas: 1,
        labels: { app: 'search' },
        serviceAccount: 'searcher',
        command: [
          '/opt/node/bin/node',
          '--disable-warning=ExperimentalWarning',
          '/opt/weft/src/samples/httpbin/server.ts',
        ],
        env: { PORT: '80' },
        workingDir: undefined,
        ports: [{ name: 'http', port: 8000, protocol: undefined }],
        readiness: undefined,
      },
      {
        resource: 'Workload/default/db',
        namespace: 'default',
        name: 'db',
        replicas: 1,
        labels: { app: 'db' },
        serviceAccount: 'db',
        command: ['/opt/node/bin/node', '--disable-warning=ExperimentalWarning', path.join(GOLDEN, 'db.ts')],
        env: {},
        workingDir: undefined,
        ports: [{ name: 'pg', port: 5432, protocol: 'tcp' }],
        readiness: undefined,
      },
    ]);
  });
});

describe('buildView (golden)', () => {
  test('transparent: default/web-0', () => {
    const view = viewOf(loadMesh('transparent'), 'default/web-0');
    assert.deepEqual(view, {
      node: { id: 'default/web-0', workload: 'web', namespace: 'default' },
      admin: { address: '127.0.0.1', port: 15000, path: '/run/weft/golden/sidecars/0.admin.sock' },
      // One entry per application port, targeting the port the application listens on.
      inbound: [
        {
          name: 'inbound-7000',
          protocol: 'detect',
          target: { address: '127.0.0.1', port: 7000 },
          mtls: 'PERMISSIVE',
        },
        {
          name: 'inbound-8080',
          protocol: 'detect',
          target: { address: '127.0.0.1', port: 8080 },
          mtls: 'PERMISSIVE',
        },
      ],
      // Services by namespace/name, ports in declared order; VIPs in the order the Services were read.
      outbound: [
        {
          name: 'default/api:50051',
          hosts: ['api', 'api.default', 'api.default.svc', 'api.default.svc.cluster.local'],
          port: 50051,
          protocol: 'grpc', // appProtocol: grpc, over the port name "rpc"
          routes: [{ name: 'default', backends: [{ backend: 'default/api:50051' }], ...ISTIO_DEFAULT_ROUTE }],
          tcpBackends: [],
          vip: '10.77.128.11',
        },
        {
          name: 'default/db:5432',
          hosts: ['db', 'db.default', 'db.default.svc', 'db.default.svc.cluster.local'],
          port: 5432,
          protocol: 'tcp', // port name tcp-postgres
          routes: [],
          // The TCPRoute's split; the missing archive keeps its share with a backend without endpoints.
          tcpBackends: [
            { backend: 'default/db:5432/tcp', weight: 80 },
            { backend: 'default/db-archive:5432/tcp', weight: 20 },
          ],
          vip: '10.77.128.12',
        },
        {
          name: 'default/legacy:8081',
          hosts: ['legacy', 'legacy.default', 'legacy.default.svc', 'legacy.default.svc.cluster.local'],
          port: 8081,
          protocol: 'http1',
          routes: [
            { name: 'default', backends: [{ backend: 'default/legacy:8081' }], ...ISTIO_DEFAULT_ROUTE },
          ],
          tcpBackends: [],
          vip: '10.77.128.13',
        },
        {
          name: 'default/web:80',
          hosts: ['web', 'web.default', 'web.default.svc', 'web.default.svc.cluster.local'],
          port: 80,
          protocol: 'http1',
          // The producer route (parentRef port 80), since web-0 is in the Service's own namespace.
          routes: [
            {
              name: 'HTTPRoute/default/web/rule-0',
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              filters: [],
              backends: [
                { backend: 'default/web:80', weight: 90 },
                { backend: 'default/web-canary:80', weight: 10 },
              ],
            },
          ],
          tcpBackends: [],
          vip: '10.77.128.10',
        },
        {
          name: 'default/web:7000',
          hosts: ['web', 'web.default', 'web.default.svc', 'web.default.svc.cluster.local'],
          port: 7000,
          // Unnamed port: detected, so both the HTTP default route and the TCP fallback; the route
          // attached to port 80 does not apply here.
          protocol: 'detect',
          routes: [{ name: 'default', backends: [{ backend: 'default/web:7000' }], ...ISTIO_DEFAULT_ROUTE }],
          tcpBackends: [{ backend: 'default/web:7000/tcp' }],
          vip: '10.77.128.10',
        },
        {
          name: 'other/search:80',
          // Another namespace: fully qualified names only.
          hosts: ['search.other', 'search.other.svc', 'search.other.svc.cluster.local'],
          port: 80,
          protocol: 'http1', // port name http-web
          routes: [{ name: 'default', backends: [{ backend: 'other/search:80' }], ...ISTIO_DEFAULT_ROUTE }],
          tcpBackends: [],
          vip: '10.77.128.14',
        },
      ],
      backends: [
        {
          name: 'default/api:50051',
          protocol: 'http2',
          loadBalancer: LR,
          // targetPort "grpc" → the instance's port named grpc.
          endpoints: [{ address: '10.77.1.3', port: 9090, labels: { app: 'api' }, identity: DEFAULT_SA }],
        },
        { name: 'default/db-archive:5432/tcp', protocol: 'tcp', loadBalancer: LR, endpoints: [] },
        {
          name: 'default/db:5432/tcp',
          protocol: 'tcp',
          loadBalancer: LR,
          endpoints: [{ address: '10.77.1.4', port: 5432, labels: { app: 'db' }, identity: DB_SA }],
        },
        // No selector: no endpoints.
        { name: 'default/legacy:8081', protocol: 'http1', loadBalancer: LR, endpoints: [] },
        { name: 'default/web-canary:80', protocol: 'http1', loadBalancer: LR, endpoints: [] },
        // web-1 is not ready: only web-0.
        {
          name: 'default/web:7000',
          protocol: 'http1',
          loadBalancer: LR,
          endpoints: [
            { address: '10.77.1.1', port: 7000, labels: { app: 'web', version: 'v1' }, identity: DEFAULT_SA },
          ],
        },
        {
          name: 'default/web:7000/tcp',
          protocol: 'tcp',
          loadBalancer: LR,
          endpoints: [
            { address: '10.77.1.1', port: 7000, labels: { app: 'web', version: 'v1' }, identity: DEFAULT_SA },
          ],
        },
        {
          name: 'default/web:80',
          protocol: 'http1',
          loadBalancer: LR,
          // targetPort 8080 by number.
          endpoints: [
            { address: '10.77.1.1', port: 8080, labels: { app: 'web', version: 'v1' }, identity: DEFAULT_SA },
          ],
        },
        {
          name: 'other/search:80',
          protocol: 'http1',
          loadBalancer: LR,
          endpoints: [{ address: '10.77.1.5', port: 8000, labels: { app: 'search' }, identity: SEARCHER_SA }],
        },
      ],
      interception: {},
    });
  });

  test('explicit: other/search-0', () => {
    const view = viewOf(loadMesh('explicit'), 'other/search-0');
    assert.deepEqual(view, {
      node: { id: 'other/search-0', workload: 'search', namespace: 'other' },
      admin: { address: '127.0.0.1', port: 0, path: '/tmp/weft-1000/golden/sidecars/4.admin.sock' },
      // The sidecar listens on the inbound port the runtime gave and forwards to the app's own PORT.
      inbound: [
        {
          name: 'inbound-8000',
          protocol: 'detect',
          target: { address: '127.0.0.1', port: 41041 },
          listen: { address: '127.0.0.1', port: 41042 },
          mtls: 'PERMISSIVE',
        },
      ],
      // No VIPs in explicit mode: services are found by host name through the HTTP proxy listener.
      outbound: [
        {
          name: 'default/api:50051',
          hosts: ['api.default', 'api.default.svc', 'api.default.svc.cluster.local'],
          port: 50051,
          protocol: 'grpc',
          routes: [{ name: 'default', backends: [{ backend: 'default/api:50051' }], ...ISTIO_DEFAULT_ROUTE }],
          tcpBackends: [],
        },
        {
          name: 'default/db:5432',
          hosts: ['db.default', 'db.default.svc', 'db.default.svc.cluster.local'],
          port: 5432,
          protocol: 'tcp',
          routes: [],
          tcpBackends: [
            { backend: 'default/db:5432/tcp', weight: 80 },
            { backend: 'default/db-archive:5432/tcp', weight: 20 },
          ],
        },
        {
          name: 'default/legacy:8081',
          hosts: ['legacy.default', 'legacy.default.svc', 'legacy.default.svc.cluster.local'],
          port: 8081,
          protocol: 'http1',
          routes: [
            { name: 'default', backends: [{ backend: 'default/legacy:8081' }], ...ISTIO_DEFAULT_ROUTE },
          ],
          tcpBackends: [],
        },
        {
          name: 'default/web:80',
          hosts: ['web.default', 'web.default.svc', 'web.default.svc.cluster.local'],
          port: 80,
          protocol: 'http1',
          // The consumer route in the client's namespace (other) replaces the producer route.
          routes: [
            {
              name: 'HTTPRoute/other/web-from-other/rule-0',
              matches: [{ path: { type: 'PathPrefix', value: '/search' } }],
              filters: [],
              timeout: '2s',
              backends: [{ backend: 'default/web:80', weight: 1 }],
            },
          ],
          tcpBackends: [],
        },
        {
          name: 'default/web:7000',
          hosts: ['web.default', 'web.default.svc', 'web.default.svc.cluster.local'],
          port: 7000,
          protocol: 'detect',
          routes: [{ name: 'default', backends: [{ backend: 'default/web:7000' }], ...ISTIO_DEFAULT_ROUTE }],
          tcpBackends: [{ backend: 'default/web:7000/tcp' }],
        },
        {
          name: 'other/search:80',
          hosts: ['search', 'search.other', 'search.other.svc', 'search.other.svc.cluster.local'],
          port: 80,
          protocol: 'http1',
          routes: [{ name: 'default', backends: [{ backend: 'other/search:80' }], ...ISTIO_DEFAULT_ROUTE }],
          tcpBackends: [],
        },
      ],
      // Endpoints are the instances' sidecars on 127.0.0.1, at the inbound port of the targeted port.
      backends: [
        {
          name: 'default/api:50051',
          protocol: 'http2',
          loadBalancer: LR,
          endpoints: [{ address: '127.0.0.1', port: 41022, labels: { app: 'api' }, identity: DEFAULT_SA }],
        },
        { name: 'default/db-archive:5432/tcp', protocol: 'tcp', loadBalancer: LR, endpoints: [] },
        {
          name: 'default/db:5432/tcp',
          protocol: 'tcp',
          loadBalancer: LR,
          endpoints: [{ address: '127.0.0.1', port: 41032, labels: { app: 'db' }, identity: DB_SA }],
        },
        { name: 'default/legacy:8081', protocol: 'http1', loadBalancer: LR, endpoints: [] },
        {
          name: 'default/web:7000',
          protocol: 'http1',
          loadBalancer: LR,
          endpoints: [
            {
              address: '127.0.0.1',
              port: 41003,
              labels: { app: 'web', version: 'v1' },
              identity: DEFAULT_SA,
            },
          ],
        },
        {
          name: 'default/web:7000/tcp',
          protocol: 'tcp',
          loadBalancer: LR,
          endpoints: [
            {
              address: '127.0.0.1',
              port: 41003,
              labels: { app: 'web', version: 'v1' },
              identity: DEFAULT_SA,
            },
          ],
        },
        {
          name: 'default/web:80',
          protocol: 'http1',
          loadBalancer: LR,
          endpoints: [
            {
              address: '127.0.0.1',
              port: 41002,
              labels: { app: 'web', version: 'v1' },
              identity: DEFAULT_SA,
            },
          ],
        },
        {
          name: 'other/search:80',
          protocol: 'http1',
          loadBalancer: LR,
          endpoints: [
            { address: '127.0.0.1', port: 41042, labels: { app: 'search' }, identity: SEARCHER_SA },
          ],
        },
      ],
      httpProxy: { address: '127.0.0.1', port: 41044 },
    });
  });

  test('inbound takes the protocol of the service port that targets it: tcp skips detection', () => {
    const view = viewOf(loadMesh('transparent'), 'default/db-0');
    assert.deepEqual(view.inbound, [
      {
        name: 'inbound-5432',
        protocol: 'tcp',
        target: { address: '127.0.0.1', port: 5432 },
        mtls: 'PERMISSIVE',
      },
    ]);
  });

  test('a node that is not an instance has no view', () => {
    assert.equal(buildView(loadMesh('transparent').model, 'default/nobody-0', OPTIONS), undefined);
  });
});

describe('mutual TLS: PeerAuthentication and auto-mTLS', () => {
  /** The golden mesh with these policies beside it (one more file source, as a second -f path). */
  function withPolicies(mode: 'transparent' | 'explicit', yaml: string): MeshIndex {
    const index = loadMesh(mode);
    index.events('policies').reset(parseDocuments(yaml, 'peer-authentication.yaml'));
    return index;
  }
  const endpointIds = (view: ReturnType<typeof viewOf>) =>
    Object.fromEntries(
      (view.backends ?? []).map((b) => [b.name, (b.endpoints ?? []).map((e) => e.identity)]),
    );
  const inboundModes = (view: ReturnType<typeof viewOf>) =>
    Object.fromEntries((view.inbound ?? []).map((ib) => [ib.name, ib.mtls]));

  // web: STRICT with a plaintext exception on 7000; the mesh STRICT; namespace other opts out.
  const POLICIES = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web, namespace: default }
spec:
  selector:
    matchLabels: { app: web }
  mtls: { mode: STRICT }
  portLevelMtls:
    7000: { mode: DISABLE }
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: other }
spec:
  mtls: { mode: DISABLE }
`;

  test('endpoints name the trust domain given; a DISABLE port has none; inbound entries take their mode', () => {
    const index = withPolicies('transparent', POLICIES);
    const view = buildView(index.model, 'default/web-0', { trustDomain: 'example.org' });
    assert.ok(view);
    assert.deepEqual(validateProxyConfig(structuredClone(view)).ok, true);
    const web = 'spiffe://example.org/ns/default/sa/default';
    assert.deepEqual(endpointIds(view), {
      'default/api:50051': [web],
      'default/db-archive:5432/tcp': [],
      'default/db:5432/tcp': ['spiffe://example.org/ns/default/sa/db'],
      'default/legacy:8081': [],
      'default/web-canary:80': [],
      // web's port 7000 is DISABLE: Istio's auto-mTLS sends plaintext there, so no identity.
      'default/web:7000': [undefined],
      'default/web:7000/tcp': [undefined],
      // Service port 80 targets containerPort 8080, which stays STRICT.
      'default/web:80': [web],
      // Namespace other is DISABLE (over the mesh's STRICT).
      'other/search:80': [undefined],
    });
    assert.deepEqual(inboundModes(view), { 'inbound-7000': 'DISABLE', 'inbound-8080': 'STRICT' });
    // The mesh policy reaches namespaces without one of their own.
    assert.deepEqual(inboundModes(viewOf(index, 'default/db-0')), { 'inbound-5432': 'STRICT' });
    assert.deepEqual(inboundModes(viewOf(index, 'other/search-0')), { 'inbound-8000': 'DISABLE' });
  });

  test('explicit mode: the sidecar endpoints on 127.0.0.1 carry the identity too, but not on a DISABLE port', () => {
    const view = viewOf(withPolicies('explicit', POLICIES), 'other/search-0');
    const backend = (name: string) => view.backends?.find((b) => b.name === name)?.endpoints;
    assert.deepEqual(backend('default/web:80'), [
      { address: '127.0.0.1', port: 41002, labels: { app: 'web', version: 'v1' }, identity: DEFAULT_SA },
    ]);
    assert.deepEqual(backend('default/web:7000'), [
      { address: '127.0.0.1', port: 41003, labels: { app: 'web', version: 'v1' } },
    ]);
    assert.deepEqual(view.inbound, [
      {
        name: 'inbound-8000',
        protocol: 'detect',
        target: { address: '127.0.0.1', port: 41041 },
        listen: { address: '127.0.0.1', port: 41042 },
        mtls: 'DISABLE',
      },
    ]);
  });

  test('the default mode where no policy applies can be changed', () => {
    const index = loadMesh('transparent');
    const view = buildView(index.model, 'default/db-0', { ...OPTIONS, defaultMtlsMode: 'DISABLE' });
    assert.deepEqual(view?.inbound?.[0]?.mtls, 'DISABLE');
    assert.deepEqual(
      view?.backends?.flatMap((b) => b.endpoints ?? []).filter((e) => e.identity !== undefined),
      [],
    );
    // A mesh policy in another root namespace: istio-system is then an ordinary namespace.
    const moved = withPolicies('transparent', POLICIES);
    const strictView = buildView(moved.model, 'default/db-0', { ...OPTIONS, rootNamespace: 'mesh-root' });
    assert.deepEqual(strictView?.inbound?.[0]?.mtls, 'PERMISSIVE');
  });

  test('statuses: valid policies are accepted, a bad one is invalid at its line, a root workload policy noted', () => {
    const index = withPolicies(
      'transparent',
      `${POLICIES}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ports-without-selector, namespace: default }
spec:
  mtls: { mode: STRICT }
  portLevelMtls:
    8080: { mode: DISABLE }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: everywhere, namespace: istio-system }
spec:
  selector:
    matchLabels: { app: web }
  mtls: { mode: DISABLE }
`,
    );
    const policies = index.resources().filter((r) => r.key?.kind === 'PeerAuthentication');
    assert.deepEqual(
      policies.map((r) => [
        `${r.key?.namespace}/${r.key?.name}`,
        r.state,
        r.issues.map((i) => `${path.basename(i.at.file)}:${i.at.line}:${i.at.column} ${i.code} ${i.path}`),
        (r.notes ?? []).map((n) => `${n.at.line}:${n.at.column} ${n.path}`),
      ]),
      [
        ['default/web', 'accepted', [], []],
        ['istio-system/default', 'accepted', [], []],
        ['other/default', 'accepted', [], []],
        [
          'default/ports-without-selector',
          'invalid',
          ['peer-authentication.yaml:30:5 CONFIG_SCHEMA spec.portLevelMtls'],
          [],
        ],
        ['istio-system/everywhere', 'accepted', [], ['37:5 spec.selector']],
      ],
    );
    // The invalid policy takes no part; the root namespace's workload policy applies to no workload.
    assert.deepEqual(
      index.model.peerAuthentications.map((p) => p.resource),
      [
        'PeerAuthentication/default/web',
        'PeerAuthentication/istio-system/default',
        'PeerAuthentication/other/default',
        'PeerAuthentication/istio-system/everywhere',
      ],
    );
    assert.deepEqual(inboundModes(viewOf(index, 'default/web-0')), {
      'inbound-7000': 'DISABLE',
      'inbound-8080': 'STRICT',
    });
  });
});

describe('the edge (weft demo, --expose)', () => {
  const edge = (mode: 'transparent' | 'explicit'): InstanceModel => ({
    id: 'weft-system/edge-0',
    namespace: 'weft-system',
    workload: 'edge',
    labels: { app: 'weft-edge' },
    serviceAccount: 'weft-edge',
    address: mode === 'transparent' ? '10.77.1.9' : '127.0.0.1',
    ports: [],
    ready: true,
    sidecar:
      mode === 'transparent'
        ? { mode, adminSocket: '/run/weft/golden/sidecars/9.admin.sock' }
        : {
            mode,
            adminPort: 0,
            httpProxyPort: 41094,
            adminSocket: '/tmp/weft-1000/golden/sidecars/9.admin.sock',
          },
    expose: [
      {
        service: 'default/web',
        port: 80,
        listen: mode === 'transparent' ? { path: '/run/weft/golden/edge-web-80.sock' } : { port: 9080 },
      },
    ],
  });

  for (const mode of ['transparent', 'explicit'] as const) {
    test(`${mode}: the exposed service port gets a listener of its own, the others none`, () => {
      const index = loadMesh(mode);
      index.setInstances([...index.model.instances, edge(mode)]);
      const view = viewOf(index, 'weft-system/edge-0');
      assert.deepEqual(
        view.outbound?.filter((o) => o.listen !== undefined).map((o) => [o.name, o.listen]),
        [
          [
            'default/web:80',
            mode === 'transparent' ? { port: 0, path: '/run/weft/golden/edge-web-80.sock' } : { port: 9080 },
          ],
        ],
      );
      // No application behind the edge: nothing inbound.
      assert.deepEqual(view.inbound, []);
      // A client outside the service's namespace: the producer route applies (no consumer route in
      // weft-system), and only fully qualified names.
      const web = view.outbound?.find((o) => o.name === 'default/web:80');
      assert.deepEqual(web?.hosts, ['web.default', 'web.default.svc', 'web.default.svc.cluster.local']);
      assert.equal(web?.routes?.[0]?.name, 'HTTPRoute/default/web/rule-0');
    });
  }
});

describe('chooseAttachments (GAMMA consumer and producer routes)', () => {
  const svc = { namespace: 'shop', name: 'cart', vip: undefined, ports: [], selector: { app: 'cart' } };
  const attachment = (namespace: string, name: string, created: string, port?: number) => ({
    route: `HTTPRoute/${namespace}/${name}`,
    kind: 'HTTPRoute' as const,
    namespace,
    service: { namespace: 'shop', name: 'cart' },
    port,
    order: { created, key: `${namespace}/${name}` },
    routes: [],
    tcpBackends: [],
    backendRefs: [],
  });
  const all = [
    attachment('shop', 'b-producer', '2024-01-02T00:00:00Z'),
    attachment('shop', 'a-producer', '2024-01-02T00:00:00Z'),
    attachment('shop', 'old-producer', '2024-01-01T00:00:00Z', 80),
    attachment('web', 'consumer', '2024-01-03T00:00:00Z', 80),
    attachment('elsewhere', 'stranger', '2024-01-01T00:00:00Z'),
  ];
  const names = (client: string, port: number) =>
    chooseAttachments(all, svc, port, client).map((a) => a.route);

  test('producer routes, oldest first then by namespace/name, for clients without consumer routes', () => {
    const producers = [
      'HTTPRoute/shop/old-producer',
      'HTTPRoute/shop/a-producer',
      'HTTPRoute/shop/b-producer',
    ];
    assert.deepEqual(names('shop', 80), producers);
    assert.deepEqual(names('default', 80), producers);
  });

  test("the client's own routes replace the producer routes; the port narrows both", () => {
    assert.deepEqual(names('web', 80), ['HTTPRoute/web/consumer']);
    // A route in a third namespace is a consumer route of that namespace only.
    assert.deepEqual(names('elsewhere', 80), ['HTTPRoute/elsewhere/stranger']);
    assert.deepEqual(names('web', 81), ['HTTPRoute/shop/a-producer', 'HTTPRoute/shop/b-producer']);
  });
});
