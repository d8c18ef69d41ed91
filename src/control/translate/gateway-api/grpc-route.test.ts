/**
 * Golden tests for GRPCRoute: method matches become path matches (checked here as the proxy anchors
 * them), header matches, filters and weighted backends; the result is one the proxy's validator accepts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { service, translateYaml } from './testing.ts';

const SERVICES = ['echo', 'echo-v1', 'echo-v2'].map((name) => service('default', name, [['grpc', 7070]]));
const translate = (yaml: string) => translateYaml(yaml, SERVICES);

const ROUTE = `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 7070 }]
`;

/** As the proxy's router does: a path regex must match the whole path. */
function matchesPath(regex: string, path: string): boolean {
  return new RegExp(`^(?:${regex})$`).test(path);
}

describe('GRPCRoute', () => {
  test('method and header matches, filters and a weighted split', () => {
    const { attachments, statuses } = translate(`${ROUTE}
  rules:
  - matches:
    - method: { service: echo.Echo, method: Ping }
    - method: { service: grpc.health.v1.Health }
      headers: [{ name: x-canary, value: "true" }]
    backendRefs: [{ name: echo-v2, port: 7070 }]
  - name: reads
    matches:
    - method: { method: Stream }
    - method: { type: RegularExpression, service: "echo\\\\.Echo(V2)?", method: "Get.+" }
    filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-route, value: reads }] } }]
    backendRefs: [{ name: echo-v1, port: 7070, weight: 3 }, { name: echo-v2, port: 7070, weight: 1 }]
  - backendRefs: [{ name: echo-v1, port: 7070 }]
`);
    assert.deepEqual(attachments, [
      {
        route: 'GRPCRoute/default/echo',
        kind: 'GRPCRoute',
        namespace: 'default',
        service: { namespace: 'default', name: 'echo' },
        port: 7070,
        order: { created: '', key: 'default/echo' },
        routes: [
          {
            name: 'GRPCRoute/default/echo/rule-0',
            matches: [
              { path: { type: 'Exact', value: '/echo.Echo/Ping' } },
              {
                path: { type: 'PathPrefix', value: '/grpc.health.v1.Health/' },
                headers: [{ name: 'x-canary', type: 'Exact', value: 'true' }],
              },
            ],
            filters: [],
            backends: [{ backend: 'default/echo-v2:7070', weight: 1 }],
          },
          {
            name: 'GRPCRoute/default/echo/reads',
            matches: [
              { path: { type: 'RegularExpression', value: '/[^/]+/Stream' } },
              { path: { type: 'RegularExpression', value: '/(?:echo\\.Echo(V2)?)/(?:Get.+)' } },
            ],
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: { set: { 'x-route': 'reads' }, add: {}, remove: [] },
              },
            ],
            backends: [
              { backend: 'default/echo-v1:7070', weight: 3 },
              { backend: 'default/echo-v2:7070', weight: 1 },
            ],
          },
          {
            name: 'GRPCRoute/default/echo/rule-2',
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            filters: [],
            backends: [{ backend: 'default/echo-v1:7070', weight: 1 }],
          },
        ],
        tcpBackends: [],
        backendRefs: [
          { namespace: 'default', name: 'echo-v2', port: 7070 },
          { namespace: 'default', name: 'echo-v1', port: 7070 },
        ],
      },
    ]);
    assert.deepEqual(statuses.get('GRPCRoute/default/echo'), { accepted: true, issues: [], notes: [] });
  });

  test('the generated path regexes select the intended methods only', () => {
    assert.ok(matchesPath('/[^/]+/Stream', '/echo.Echo/Stream'));
    assert.ok(!matchesPath('/[^/]+/Stream', '/echo.Echo/StreamAll'));
    const regex = '/(?:echo\\.Echo(V2)?)/(?:Get.+)';
    assert.ok(matchesPath(regex, '/echo.EchoV2/GetUser'));
    assert.ok(!matchesPath(regex, '/echo.Echo/Put'));
    assert.ok(!matchesPath(regex, '/xecho.Echo/GetUser'));
  });

  test('a service-only regex matches any method; a regex that does not compile drops its rule', () => {
    const { attachments, statuses } = translate(`${ROUTE}
  rules:
  - matches: [{ method: { type: RegularExpression, service: "echo\\\\..*" } }]
    backendRefs: [{ name: echo-v2, port: 7070 }]
  - matches: [{ method: { type: RegularExpression, method: "(" } }]
    backendRefs: [{ name: echo-v1, port: 7070 }]
`);
    assert.deepEqual(
      attachments[0]?.routes.map((r) => r.matches),
      [[{ path: { type: 'RegularExpression', value: '/(?:echo\\..*)/[^/]+' } }]],
    );
    assert.deepEqual(
      statuses.get('GRPCRoute/default/echo')?.issues.map((i) => [i.code, i.path]),
      [['CONFIG_REGEX', 'spec.rules.1.matches.0.method']],
    );
  });

  test('a route without rules sends every call to the parent Service', () => {
    const { attachments } = translate(ROUTE);
    assert.deepEqual(attachments[0]?.routes, [
      {
        name: 'GRPCRoute/default/echo/rule-0',
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        filters: [],
        backends: [{ backend: 'default/echo:7070', weight: 1 }],
      },
    ]);
  });
});
