/**
 * The control plane with its API over a real Unix socket and real TCP (port 0, a temporary state
 * directory): the read endpoints, `apply` and `delete` of multi-document bodies (valid documents stored
 * and indexed, invalid ones reported per document), and a restart on the same state directory that gives
 * every service the same virtual IP and every proxy the same view version.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contentVersion } from '../api/distribution/index.ts';
import { validateProxyConfig } from '../api/index.ts';
import { silentLogger } from '../core/index.ts';
import { ControlPlane } from './control-plane.ts';
import { readInstancesFile, writeInstancesFile } from './sources/instances.ts';
import { fixedImages, GOLDEN, GOLDEN_RESOURCES, request, type Target } from './testing.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function createControlPlane(stateDir: string): ControlPlane {
  return new ControlPlane({
    paths: GOLDEN_RESOURCES,
    stateDir,
    logger: silentLogger,
    images: fixedImages,
    transparent: true,
    port: 0,
    socketPath: path.join(stateDir, 'control.sock'),
  });
}

const EXTRA = `apiVersion: v1
kind: Service
metadata: { name: extra }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 9999, targetPort: 8080 }]
`;

const BAD = `apiVersion: v1
kind: Service
metadata: { name: bad }
spec:
  ports: [{ name: http, port: eighty }]
`;

describe('ControlPlane and its API', () => {
  let dir: string;
  let cp: ControlPlane;
  let unix: Target;
  let tcp: Target;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-control-'));
    // What the runtime would have written: the instances, before the control plane starts.
    writeInstancesFile(
      path.join(dir, 'instances.json'),
      readInstancesFile(path.join(GOLDEN, 'instances-transparent.json')),
    );
    cp = createControlPlane(dir);
    await cp.start();
    unix = { socketPath: path.join(dir, 'control.sock') };
    tcp = { port: cp.port };
  });
  after(async () => {
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the same API on the Unix socket and on TCP: liveness, status, resources', async () => {
    assert.notEqual(cp.port, 0);
    for (const target of [unix, tcp]) {
      assert.deepEqual(await request(target, 'GET', '/live'), { status: 200, json: { ok: true } });
      const status = await request(target, 'GET', '/api/v1/status');
      assert.equal(status.status, 200);
      assert.deepEqual(
        { mode: status.json.mode, port: status.json.port, resources: status.json.resources },
        {
          mode: 'transparent',
          port: cp.port,
          resources: { accepted: 12, invalid: 0, unsupported: 0, conflict: 0 },
        },
      );
    }
    const { status, json } = await request(unix, 'GET', '/api/v1/resources');
    assert.equal(status, 200);
    assert.equal(json.length, 12);
    assert.deepEqual(json[0], {
      kind: 'Service',
      namespace: 'default',
      name: 'web',
      apiVersion: 'v1',
      source: 'files',
      at: `${path.join(GOLDEN, 'services.yaml')}:4:1`,
      state: 'accepted',
      issues: [],
      notes: [],
    });
    // A route's notes and reference problems are listed on an accepted route.
    const route = json.find(
      (r: { name: string; kind: string }) => r.name === 'web' && r.kind === 'HTTPRoute',
    );
    assert.deepEqual(route.issues, [
      {
        code: 'CONFIG_REFERENCE',
        path: 'spec.rules.0.backendRefs.1.name',
        message:
          'Service default/web-canary does not exist: its share of traffic (weight 10) fails with 503, no endpoints',
        at: `${path.join(GOLDEN, 'routes.yaml')}:12:19`,
      },
    ]);
  });

  test('GET /api/v1/services: virtual IPs and the ready endpoints of each port', async () => {
    const { status, json } = await request(tcp, 'GET', '/api/v1/services');
    assert.equal(status, 200);
    assert.deepEqual(json, [
      {
        namespace: 'default',
        name: 'web',
        vip: '10.77.128.10',
        ports: [
          { name: 'http', port: 80, targetPort: 8080, protocol: 'http1', endpoints: ['10.77.1.1:8080'] },
          { name: '', port: 7000, targetPort: 7000, protocol: 'detect', endpoints: ['10.77.1.1:7000'] },
        ],
      },
      {
        namespace: 'default',
        name: 'api',
        vip: '10.77.128.11',
        ports: [
          { name: 'rpc', port: 50051, targetPort: 'grpc', protocol: 'grpc', endpoints: ['10.77.1.3:9090'] },
        ],
      },
      {
        namespace: 'default',
        name: 'db',
        vip: '10.77.128.12',
        ports: [
          {
            name: 'tcp-postgres',
            port: 5432,
            targetPort: 5432,
            protocol: 'tcp',
            endpoints: ['10.77.1.4:5432'],
          },
        ],
      },
      {
        namespace: 'default',
        name: 'legacy',
        vip: '10.77.128.13',
        ports: [{ name: 'http', port: 8081, targetPort: 8081, protocol: 'http1', endpoints: [] }],
      },
      {
        namespace: 'other',
        name: 'search',
        vip: '10.77.128.14',
        ports: [
          { name: 'http-web', port: 80, targetPort: 8000, protocol: 'http1', endpoints: ['10.77.1.5:8000'] },
        ],
      },
    ]);
  });

  test('GET /api/v1/workloads and /api/v1/instances', async () => {
    const workloads = await request(unix, 'GET', '/api/v1/workloads');
    assert.equal(workloads.status, 200);
    assert.deepEqual(
      workloads.json.map((w: { resource: string; replicas: number; command: string[] }) => [
        w.resource,
        w.replicas,
        w.command.at(-1),
      ]),
      [
        ['Deployment/default/web', 2, '/opt/weft/src/samples/helloworld/server.ts'],
        ['Deployment/default/api', 1, '--verbose'],
        ['Deployment/other/search', 1, '/opt/weft/src/samples/httpbin/server.ts'],
        ['Workload/default/db', 1, path.join(GOLDEN, 'db.ts')],
      ],
    );
    const instances = await request(unix, 'GET', '/api/v1/instances');
    assert.deepEqual(
      instances.json.map((i: { id: string; ready: boolean }) => `${i.id} ${i.ready}`),
      [
        'default/web-0 true',
        'default/web-1 false',
        'default/api-0 true',
        'default/db-0 true',
        'other/search-0 true',
      ],
    );
  });

  test('GET /api/v1/proxies/<id>/config: the computed view (a valid ProxyConfig), nothing sent yet', async () => {
    const { status, json } = await request(
      tcp,
      'GET',
      `/api/v1/proxies/${encodeURIComponent('default/web-0')}/config`,
    );
    assert.equal(status, 200);
    assert.equal(json.node, 'default/web-0');
    assert.equal(json.sent, null);
    assert.equal(json.sync, null);
    assert.deepEqual(json.computed, JSON.parse(JSON.stringify(cp.viewOf('default/web-0'))));
    assert.equal(json.computed.outbound[3].vip, '10.77.128.10');
    const checked = validateProxyConfig(json.computed);
    assert.deepEqual(checked.ok ? [] : checked.issues, []);
    // The id may also be sent with its slash as is.
    assert.equal(
      (await request(unix, 'GET', '/api/v1/proxies/other/search-0/config')).json.node,
      'other/search-0',
    );
  });

  test('errors: an unknown proxy, an unknown path, a method not allowed', async () => {
    assert.deepEqual(await request(unix, 'GET', '/api/v1/proxies/default%2Fnobody-0/config'), {
      status: 404,
      json: { error: { code: 'NOT_FOUND', message: 'no proxy "default/nobody-0" in the mesh' } },
    });
    assert.deepEqual(await request(unix, 'GET', '/api/v1/nothing'), {
      status: 404,
      json: { error: { code: 'NOT_FOUND', message: 'no such endpoint: /api/v1/nothing' } },
    });
    assert.deepEqual(await request(unix, 'PUT', '/api/v1/apply', EXTRA), {
      status: 405,
      json: { error: { code: 'METHOD_NOT_ALLOWED', message: 'PUT /api/v1/apply' } },
    });
  });

  test('POST /api/v1/apply: one valid and one invalid document → 422, the valid one is stored and indexed', async () => {
    const { status, json } = await request(
      unix,
      'POST',
      '/api/v1/apply?file=extra.yaml',
      `${EXTRA}---\n${BAD}`,
    );
    assert.equal(status, 422);
    assert.deepEqual(json, {
      results: [
        { ok: true, resource: 'Service/default/extra', action: 'created' },
        {
          ok: false,
          resource: 'Service/default/bad',
          error: 'CONFIG_SCHEMA spec.ports.0.port: Invalid input: expected number, received string',
          at: 'extra.yaml:12:31',
        },
      ],
    });
    const stored = path.join(dir, 'applied', 'Service.default.extra.yaml');
    assert.match(fs.readFileSync(stored, 'utf8'), /^# Service\/default\/extra, applied .*\napiVersion: v1\n/);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'applied')), ['Service.default.extra.yaml']);
    await waitFor('the applied Service in the index', async () =>
      (await request(tcp, 'GET', '/api/v1/resources')).json.some(
        (r: { name: string; source: string; state: string }) =>
          r.name === 'extra' && r.source === 'applied' && r.state === 'accepted',
      ),
    );
    const extra = (await request(tcp, 'GET', '/api/v1/services')).json.find(
      (s: { name: string }) => s.name === 'extra',
    );
    assert.deepEqual(extra, {
      namespace: 'default',
      name: 'extra',
      vip: '10.77.128.15',
      ports: [
        { name: 'http', port: 9999, targetPort: 8080, protocol: 'http1', endpoints: ['10.77.1.1:8080'] },
      ],
    });
    // Applied again unchanged: nothing written; changed: configured; all valid → 200.
    assert.deepEqual(await request(tcp, 'POST', '/api/v1/apply', EXTRA), {
      status: 200,
      json: { results: [{ ok: true, resource: 'Service/default/extra', action: 'unchanged' }] },
    });
    assert.deepEqual(await request(tcp, 'POST', '/api/v1/apply', EXTRA.replace('9999', '9998')), {
      status: 200,
      json: { results: [{ ok: true, resource: 'Service/default/extra', action: 'configured' }] },
    });
  });

  test('apply replaces a resource that came from the files; that copy shows as a conflict', async () => {
    const legacy = `apiVersion: v1
kind: Service
metadata: { name: legacy }
spec:
  ports: [{ name: http, port: 8082 }]
`;
    assert.equal((await request(unix, 'POST', '/api/v1/apply', legacy)).status, 200);
    await waitFor('the replaced Service', async () => {
      const services = (await request(unix, 'GET', '/api/v1/services')).json;
      return services.find((s: { name: string }) => s.name === 'legacy')?.ports[0].port === 8082;
    });
    const copies = (await request(unix, 'GET', '/api/v1/resources')).json.filter(
      (r: { name: string }) => r.name === 'legacy',
    );
    assert.deepEqual(
      copies.map((r: { source: string; state: string }) => `${r.source} ${r.state}`),
      ['applied accepted', 'files conflict'],
    );
    // The VIP stays the service's own.
    const vip = (await request(unix, 'GET', '/api/v1/services')).json.find(
      (s: { name: string }) => s.name === 'legacy',
    ).vip;
    assert.equal(vip, '10.77.128.13');
  });

  test('POST /api/v1/delete: an applied resource is removed; one from the files cannot be', async () => {
    const { status, json } = await request(
      tcp,
      'POST',
      '/api/v1/delete?file=del.yaml',
      `${EXTRA}---\n${RESOURCE_FROM_FILES}---\n${NOT_THERE}`,
    );
    assert.equal(status, 422);
    assert.deepEqual(json, {
      results: [
        { ok: true, resource: 'Service/default/extra', action: 'deleted' },
        {
          ok: false,
          resource: 'Service/default/api',
          error: `Service/default/api comes from ${path.join(GOLDEN, 'services.yaml')}:13:1: remove it from that file`,
          at: 'del.yaml:8:1',
        },
        { ok: true, resource: 'Service/default/ghost', action: 'not found' },
      ],
    });
    assert.equal(fs.existsSync(path.join(dir, 'applied', 'Service.default.extra.yaml')), false);
    await waitFor('the deleted Service to leave the index', async () =>
      (await request(tcp, 'GET', '/api/v1/resources')).json.every(
        (r: { name: string }) => r.name !== 'extra',
      ),
    );
  });

  test('a restarted control plane on the same state directory: same VIPs, same view versions', async () => {
    const services = (await request(tcp, 'GET', '/api/v1/services')).json;
    const nodes = cp.index.model.instances.map((i) => i.id);
    const versions = nodes.map((n) => contentVersion(cp.viewOf(n)));
    assert.equal(new Set(versions).size, nodes.length);
    await cp.close();

    cp = createControlPlane(dir);
    await cp.start();
    tcp = { port: cp.port };
    assert.deepEqual((await request(tcp, 'GET', '/api/v1/services')).json, services);
    // The applied Service (legacy on 8082) came back from the state directory, with the instances.
    assert.deepEqual(
      nodes.map((n) => contentVersion(cp.viewOf(n))),
      versions,
    );
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'vips.json'), 'utf8')), {
      'default/web': 10,
      'default/api': 11,
      'default/db': 12,
      'default/legacy': 13,
      'other/search': 14,
      // Kept after its Service was deleted: VIPs are never reused within a state directory.
      'default/extra': 15,
    });
  });

  test('close() does not wait for idle keep-alive API connections', async () => {
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    try {
      assert.equal((await request(unix, 'GET', '/live', undefined, agent)).status, 200);
      assert.equal((await request(tcp, 'GET', '/live', undefined, agent)).status, 200);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        cp.close().then(() => 'closed'),
        new Promise((r) => {
          timer = setTimeout(() => r('still open after 1 s'), 1000);
        }),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, 'closed');
    } finally {
      agent.destroy();
    }
    // after() closes again: close must be safe to repeat.
  });
});

const RESOURCE_FROM_FILES = `apiVersion: v1
kind: Service
metadata: { name: api }
spec:
  ports: [{ port: 1 }]
`;

const NOT_THERE = `apiVersion: v1
kind: Service
metadata: { name: ghost }
spec:
  ports: [{ port: 1 }]
`;
