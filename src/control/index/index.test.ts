/**
 * The index: statuses (accepted, invalid, unsupported, conflict) with the file:line:column and code of each
 * issue, a bad resource kept out of the model while the rest apply, the applied source over the files,
 * and the workload translation's errors (unmapped images, the command annotation, Workload commands).
 * Documents come from YAML text through the file source's parser, so positions are real.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../core/index.ts';
import { sampleForImage } from '../../samples/images.ts';
import { parseDocuments } from '../sources/file/parse.ts';
import type { ImageEntry, ImageResolver } from '../translate/kubernetes/workloads.ts';
import { ROUTE_KINDS, translateRoutes } from '../translate/routes.ts';
import { fmt, MeshIndex } from './index.ts';
import { createVipAllocator } from './vips.ts';

const NODE = '/opt/node/bin/node';

/** The built-in table, plus entries of an image-map file (matched without tag, as the CLI's resolver). */
function resolver(own: Record<string, ImageEntry> = {}): ImageResolver {
  return {
    lookup(image) {
      const mapped = own[image.split(':')[0] ?? image];
      if (mapped) return mapped;
      const s = sampleForImage(image);
      return s && { program: s.program, useCommand: s.useCommand, env: { ...s.env } };
    },
    root: '/opt/weft',
    node: NODE,
  };
}

function createIndex(options: { transparent?: boolean; images?: ImageResolver } = {}): MeshIndex {
  return new MeshIndex({
    images: options.images ?? resolver(),
    vips: createVipAllocator(),
    logger: silentLogger,
    transparent: options.transparent ?? true,
    routeKinds: ROUTE_KINDS,
    translateRoutes,
  });
}

/** Loads files (name → YAML text) as one source. */
function load(index: MeshIndex, files: Record<string, string>, source = 'files'): void {
  index.events(source).reset(Object.entries(files).flatMap(([file, text]) => parseDocuments(text, file)));
}

/** Each resource as "Kind/ns/name state" and its issues as "file:line:col CODE path". */
function statuses(index: MeshIndex): Array<[string, string, string[]]> {
  return index
    .resources()
    .map((r) => [
      r.key ? `${r.key.kind}/${r.key.namespace}/${r.key.name}` : r.id,
      r.state,
      r.issues.map((i) => `${fmt(i.at)} ${i.code} ${i.path}`),
    ]);
}

function issueOf(index: MeshIndex, name: string) {
  const r = index.resources().find((x) => x.key?.name === name);
  assert.ok(r, `no resource ${name}`);
  return r;
}

const SERVICE = (name: string, port = 80, ns = 'default') => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: ${port} }]
`;

describe('MeshIndex statuses', () => {
  test('an invalid resource is reported at its line and column and left out; the others apply', () => {
    const index = createIndex();
    load(index, {
      'mesh.yaml': `apiVersion: v1
kind: Service
metadata: { name: good }
spec:
  selector: { app: good }
  ports: [{ name: http, port: 80 }]
---
apiVersion: v1
kind: Service
metadata: { name: bad }
spec:
  selector: { app: bad }
  ports:
    - name: http
      port: eighty
`,
    });
    assert.deepEqual(statuses(index), [
      ['Service/default/good', 'accepted', []],
      // Line 15, column 13: the value of `port`.
      ['Service/default/bad', 'invalid', ['mesh.yaml:15:13 CONFIG_SCHEMA spec.ports.0.port']],
    ]);
    assert.equal(issueOf(index, 'bad').origin.line, 8, 'the document starts after the separator');
    assert.deepEqual(
      index.model.services.map((s) => [s.name, s.vip]),
      [['good', '10.77.128.10']],
    );
  });

  test('a YAML syntax error makes its document invalid (CONFIG_PARSE); the other documents apply', () => {
    const index = createIndex();
    load(index, {
      'mesh.yaml': `${SERVICE('one')}---
apiVersion: v1
kind: Service
metadata: { name: broken
---
${SERVICE('two')}`,
    });
    assert.deepEqual(statuses(index), [
      ['Service/default/one', 'accepted', []],
      // The unclosed flow map is found where the next document begins.
      ['mesh.yaml#1', 'invalid', ['mesh.yaml:12:1 CONFIG_PARSE ']],
      ['Service/default/two', 'accepted', []],
    ]);
    assert.match(index.resources()[1]?.issues[0]?.message ?? '', /^Flow map .* end with a }/);
    assert.deepEqual(
      index.model.services.map((s) => s.name),
      ['one', 'two'],
    );
  });

  test('a kind Weft does not read is unsupported (CONFIG_UNSUPPORTED); a wrong version is invalid', () => {
    const index = createIndex();
    load(index, {
      'other.yaml': `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { a: b }
---
apiVersion: apps/v2
kind: Deployment
metadata: { name: future }
spec: {}
`,
    });
    assert.deepEqual(statuses(index), [
      ['ConfigMap/default/settings', 'unsupported', ['other.yaml:2:7 CONFIG_UNSUPPORTED kind']],
      ['Deployment/default/future', 'invalid', ['other.yaml:6:13 CONFIG_SCHEMA apiVersion']],
    ]);
    assert.match(
      issueOf(index, 'settings').issues[0]?.message ?? '',
      /ConfigMap \(v1\) is not a kind Weft reads/,
    );
    assert.match(issueOf(index, 'future').issues[0]?.message ?? '', /read at apps\/v1, not apps\/v2/);
  });

  test('the same resource in two files: the second is a conflict naming where the first is', () => {
    const index = createIndex();
    load(index, {
      'a.yaml': SERVICE('web', 80),
      'b.yaml': `${SERVICE('web', 8080)}---${SERVICE('web', 80, 'other')}`,
    });
    assert.deepEqual(statuses(index), [
      ['Service/default/web', 'accepted', []],
      // metadata.name's value in b.yaml; the same name in another namespace is another resource.
      ['Service/default/web', 'conflict', ['b.yaml:4:19 CONFIG_CONFLICT metadata.name']],
      ['Service/other/web', 'accepted', []],
    ]);
    assert.equal(
      index.resources()[1]?.issues[0]?.message,
      'Service/default/web is already defined at a.yaml:2:1; this copy is ignored',
    );
    assert.deepEqual(
      index.model.services.map((s) => `${s.namespace}/${s.name}:${s.ports[0]?.port}`),
      ['default/web:80', 'other/web:80'],
    );
  });

  for (const order of ['files first', 'applied first'] as const) {
    test(`a resource applied through the API replaces the copy in the files (${order})`, () => {
      const index = createIndex();
      const files = () => load(index, { 'mesh.yaml': SERVICE('web', 80) }, 'files');
      const applied = () =>
        load(index, { 'applied/Service.default.web.yaml': SERVICE('web', 8080) }, 'applied');
      if (order === 'files first') {
        files();
        applied();
      } else {
        applied();
        files();
      }
      assert.deepEqual(
        index.model.services.map((s) => s.ports[0]?.port),
        [8080],
      );
      const copy = index.resources().find((r) => r.source === 'files');
      assert.equal(copy?.state, 'conflict');
      assert.equal(
        copy?.issues[0]?.message,
        'Service/default/web was replaced by `weft apply`; this copy is not used',
      );
      // Deleting the applied copy brings the file's copy back.
      index.events('applied').reset([]);
      assert.deepEqual(
        index.model.services.map((s) => s.ports[0]?.port),
        [80],
      );
      assert.equal(index.resources()[0]?.state, 'accepted');
    });
  }

  test('explicit mode gives services no virtual IP', () => {
    const index = createIndex({ transparent: false });
    load(index, { 'mesh.yaml': SERVICE('web') });
    assert.equal(index.model.services[0]?.vip, undefined);
  });

  test('every event rebuilds the model and notifies; delete removes a document', () => {
    const index = createIndex();
    let changes = 0;
    const off = index.onChange(() => changes++);
    const [doc] = parseDocuments(SERVICE('web'), 'mesh.yaml');
    assert.ok(doc);
    const events = index.events('files');
    events.apply(doc);
    assert.deepEqual(
      index.model.services.map((s) => s.name),
      ['web'],
    );
    const generation = index.model.generation;
    events.delete(doc.id);
    assert.deepEqual(index.model.services, []);
    assert.equal(index.model.generation, generation + 1);
    assert.equal(changes, 2);
    off();
    index.setInstances([]);
    assert.equal(changes, 2);
  });

  test('routes: a Gateway parent only is unsupported with a note; a missing parent Service is invalid', () => {
    const index = createIndex();
    load(index, {
      'routes.yaml': `${SERVICE('web')}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ingress }
spec:
  parentRefs: [{ name: my-gateway }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: lost }
spec:
  parentRefs: [{ group: '', kind: Service, name: nowhere }]
`,
    });
    assert.deepEqual(statuses(index), [
      ['Service/default/web', 'accepted', []],
      [
        'HTTPRoute/default/ingress',
        'unsupported',
        ['routes.yaml:13:16 CONFIG_UNSUPPORTED spec.parentRefs.0'],
      ],
      ['HTTPRoute/default/lost', 'invalid', ['routes.yaml:19:50 CONFIG_REFERENCE spec.parentRefs.0.name']],
    ]);
    assert.deepEqual(index.model.attachments, []);
  });

  test("an accepted route keeps the translator's notes (not errors) with their position", () => {
    const index = createIndex();
    load(index, {
      'routes.yaml': `${SERVICE('web')}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: named }
spec:
  parentRefs: [{ group: '', kind: Service, name: web }]
  hostnames: [web.example.com]
`,
    });
    const route = index.resources().find((r) => r.key?.name === 'named');
    assert.equal(route?.state, 'accepted');
    assert.deepEqual(route?.issues, []);
    assert.equal(route?.notes?.length, 1);
    assert.equal(route?.notes?.[0]?.path, 'spec.hostnames');
    assert.equal(route?.notes?.[0]?.at.line, 14);
  });
});

const DEPLOYMENT = (image: string, extra = '', template = '') => `apiVersion: apps/v1
kind: Deployment
metadata: { name: shop }
spec:
  template:
    metadata:
      labels: { app: shop }${template}
    spec:
      containers:
        - name: shop
          image: ${image}${extra}
`;

describe('Deployments: how an image becomes a program', () => {
  test('an image with no local program is invalid, naming the image and how to map it', () => {
    const index = createIndex();
    load(index, { 'shop.yaml': DEPLOYMENT('ghcr.io/acme/shop:1.2.3'), 'svc.yaml': SERVICE('web') });
    assert.deepEqual(statuses(index), [
      [
        'Deployment/default/shop',
        'invalid',
        ['shop.yaml:11:18 CONFIG_REFERENCE spec.template.spec.containers.0.image'],
      ],
      ['Service/default/web', 'accepted', []],
    ]);
    assert.equal(
      issueOf(index, 'shop').issues[0]?.message,
      'no local program for image "ghcr.io/acme/shop": add the annotation weft.dev/command: ' +
        `'["/path/to/program", "arg"]' to the pod template, or map the image in a file given to ` +
        '`weft up --image-map <file>` (see docs/reference/local-runtime.md)',
    );
    assert.deepEqual(index.model.workloads, []);
  });

  test('an image-map entry: a command with env, the container args and env after it', () => {
    const images = resolver({
      'ghcr.io/acme/shop': { command: ['/srv/shop', '--fast'], env: { MODE: 'local' } },
    });
    const index = createIndex({ images });
    load(index, {
      'shop.yaml': DEPLOYMENT(
        'ghcr.io/acme/shop:1.2.3',
        `
          args: [--port, '9000']
          env: [{ name: MODE, value: override }, { name: FROM_SECRET, valueFrom: { secretKeyRef: { name: s, key: k } } }]
          ports: [{ name: http, containerPort: 9000 }, { name: metrics, containerPort: 9100, protocol: UDP }]
          readinessProbe: { httpGet: { path: /healthz, port: http }, periodSeconds: 2 }`,
      ),
    });
    assert.deepEqual(index.model.workloads, [
      {
        resource: 'Deployment/default/shop',
        namespace: 'default',
        name: 'shop',
        replicas: 1,
        labels: { app: 'shop' },
        serviceAccount: 'default',
        command: ['/srv/shop', '--fast', '--port', '9000'],
        // The container's literal values win; valueFrom cannot be resolved locally and is left out.
        env: { MODE: 'override' },
        workingDir: undefined,
        // UDP ports are not meshed.
        ports: [{ name: 'http', port: 9000, protocol: undefined }],
        readiness: {
          httpGet: { path: '/healthz', port: 9000 },
          tcpSocket: undefined,
          periodMs: 2000,
          timeoutMs: 1000,
          initialDelayMs: 0,
        },
      },
    ]);
  });

  test('the weft.dev/command annotation runs any image, before the image map', () => {
    const index = createIndex();
    load(index, {
      // A built-in image, overridden; JSON array form, then the container args.
      'a.yaml': DEPLOYMENT(
        'docker.io/kennethreitz/httpbin',
        '\n          args: [--debug]',
        `\n      annotations: { weft.dev/command: '["/usr/bin/python3", "-m", "httpbin"]' }`,
      ),
    });
    assert.deepEqual(index.model.workloads[0]?.command, ['/usr/bin/python3', '-m', 'httpbin', '--debug']);
    // The command-line form, on the Deployment's own metadata.
    load(index, {
      'b.yaml': DEPLOYMENT('ghcr.io/acme/shop:1').replace(
        'metadata: { name: shop }',
        'metadata: { name: shop, annotations: { weft.dev/command: "python3 -m http.server  8000" } }',
      ),
    });
    assert.deepEqual(index.model.workloads[0]?.command, ['python3', '-m', 'http.server', '8000']);
  });

  test('an annotation that is not a command is invalid (its key has dots: the annotations map is shown)', () => {
    const index = createIndex();
    load(index, {
      'shop.yaml': DEPLOYMENT(
        'ghcr.io/acme/shop:1',
        '',
        `\n      annotations: { weft.dev/command: '[1, 2]' }`,
      ),
    });
    assert.deepEqual(statuses(index), [
      [
        'Deployment/default/shop',
        'invalid',
        ['shop.yaml:8:20 CONFIG_SCHEMA spec.template.metadata.annotations.weft.dev/command'],
      ],
    ]);
    assert.match(
      issueOf(index, 'shop').issues[0]?.message ?? '',
      /must be a JSON array of strings or a command line/,
    );
  });

  test("an image that runs its container's command needs one (curl); with one, it runs as is", () => {
    const index = createIndex();
    load(index, { 'curl.yaml': DEPLOYMENT('curlimages/curl') });
    assert.deepEqual(statuses(index), [
      [
        'Deployment/default/shop',
        'invalid',
        ['curl.yaml:10:11 CONFIG_SCHEMA spec.template.spec.containers.0.command'],
      ],
    ]);
    load(index, {
      'curl.yaml': DEPLOYMENT('curlimages/curl', '\n          command: [/bin/sleep, infinity]'),
    });
    assert.deepEqual(index.model.workloads[0]?.command, ['/bin/sleep', 'infinity']);
  });
});

describe('Weft Workloads', () => {
  test('`node` runs with the Node of the control plane; relative paths resolve against the file', () => {
    const index = createIndex();
    load(index, {
      '/srv/mesh/app.yaml': `apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: app }
spec:
  command: [node, ./server.ts]
  args: [--verbose]
  env: { LEVEL: debug }
  workingDir: ./data
  ports: [{ name: http, port: 3000, protocol: http1 }]
  readinessProbe: { tcpSocket: { port: http }, initialDelaySeconds: 0.5, timeoutSeconds: 3 }
---
apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: tool, namespace: ops }
spec:
  command: ../bin/tool
  replicas: 3
  labels: { app: tools, tier: ops }
  serviceAccount: robot
`,
    });
    assert.deepEqual(index.model.workloads, [
      {
        resource: 'Workload/default/app',
        namespace: 'default',
        name: 'app',
        replicas: 1,
        labels: { app: 'app' },
        serviceAccount: 'app',
        command: [NODE, '--disable-warning=ExperimentalWarning', '/srv/mesh/server.ts', '--verbose'],
        env: { LEVEL: 'debug' },
        workingDir: '/srv/mesh/data',
        ports: [{ name: 'http', port: 3000, protocol: 'http1' }],
        readiness: {
          httpGet: undefined,
          tcpSocket: { port: 3000 },
          periodMs: 1000,
          timeoutMs: 3000,
          initialDelayMs: 500,
        },
      },
      {
        resource: 'Workload/ops/tool',
        namespace: 'ops',
        name: 'tool',
        replicas: 3,
        labels: { app: 'tools', tier: 'ops' },
        serviceAccount: 'robot',
        command: ['/srv/bin/tool'],
        env: {},
        workingDir: undefined,
        ports: [],
        readiness: undefined,
      },
    ]);
  });

  test('a Workload is strict: an unknown field is an error on the object that holds it', () => {
    const index = createIndex();
    load(index, {
      'app.yaml': `apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: app }
spec:
  command: [node, ./server.ts]
  image: nginx
`,
    });
    assert.deepEqual(statuses(index), [
      ['Workload/default/app', 'invalid', ['app.yaml:5:3 CONFIG_SCHEMA spec']],
    ]);
    assert.match(issueOf(index, 'app').issues[0]?.message ?? '', /image/);
  });
});
