/**
 * Golden tests for TCPRoute: Istio's tcp-echo samples (attached to a Gateway, so noted and not attached)
 * and the same split attached to a Service, as weighted TCP backends the proxy's validator accepts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { noCompatSamples, readSample, service, translateYaml } from './testing.ts';

const SERVICES = ['tcp-echo', 'tcp-echo-v1', 'tcp-echo-v2'].map((name) =>
  service('default', name, [['tcp', 9000]]),
);
const translate = (yaml: string) => translateYaml(yaml, SERVICES);

const ROUTE = `
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: tcp-echo }
spec:
  parentRefs: [{ group: "", kind: Service, name: tcp-echo, port: 9000 }]
`;

describe('TCPRoute', () => {
  test('tcp-echo-20-v2.yaml (Istio sample): a Gateway parent is noted, nothing attaches', {
    skip: noCompatSamples,
  }, () => {
    const { attachments, statuses } = translate(readSample('istio/tcp-echo/gateway-api/tcp-echo-20-v2.yaml'));
    assert.deepEqual(attachments, []);
    assert.deepEqual(statuses.get('TCPRoute/default/tcp-echo'), {
      accepted: false,
      issues: [],
      notes: [
        {
          path: 'spec.parentRefs.0',
          message: 'gateway.networking.k8s.io/Gateway tcp-echo-gateway is not a Service: ignored by the mesh',
        },
      ],
    });
  });

  test('an 80/20 split attached to the Service', () => {
    const { attachments, statuses } = translate(`${ROUTE}
  rules:
  - backendRefs:
    - { name: tcp-echo-v1, port: 9000, weight: 80 }
    - { name: tcp-echo-v2, port: 9000, weight: 20 }
`);
    assert.deepEqual(attachments, [
      {
        route: 'TCPRoute/default/tcp-echo',
        kind: 'TCPRoute',
        namespace: 'default',
        service: { namespace: 'default', name: 'tcp-echo' },
        port: 9000,
        order: { created: '', key: 'default/tcp-echo' },
        routes: [],
        tcpBackends: [
          { backend: 'default/tcp-echo-v1:9000', weight: 80 },
          { backend: 'default/tcp-echo-v2:9000', weight: 20 },
        ],
        backendRefs: [
          { namespace: 'default', name: 'tcp-echo-v1', port: 9000 },
          { namespace: 'default', name: 'tcp-echo-v2', port: 9000 },
        ],
      },
    ]);
    assert.deepEqual(statuses.get('TCPRoute/default/tcp-echo'), { accepted: true, issues: [], notes: [] });
  });

  test('a missing backend keeps its share; only the first rule is used; port-less refs use the only port', () => {
    const { attachments, statuses } = translate(`${ROUTE}
  rules:
  - backendRefs: [{ name: tcp-echo-v1, weight: 1 }, { name: tcp-echo-v9, port: 9000, weight: 1 }]
  - backendRefs: [{ name: tcp-echo-v2, port: 9000 }]
`);
    assert.deepEqual(attachments[0]?.tcpBackends, [
      { backend: 'default/tcp-echo-v1:9000', weight: 1 },
      { backend: 'default/tcp-echo-v9:9000', weight: 1 },
    ]);
    const status = statuses.get('TCPRoute/default/tcp-echo');
    assert.deepEqual(
      status?.issues.map((i) => [i.code, i.path]),
      [['CONFIG_REFERENCE', 'spec.rules.0.backendRefs.1.name']],
    );
    assert.deepEqual(
      status?.notes.map((n) => n.path),
      ['spec.rules'],
    );
  });

  test('only zero weights: the backends stay at weight 0, so the proxy refuses connections', () => {
    const { attachments, statuses } = translate(`${ROUTE}
  rules: [{ backendRefs: [{ name: tcp-echo-v1, port: 9000, weight: 0 }] }]
`);
    assert.deepEqual(attachments[0]?.tcpBackends, [{ backend: 'default/tcp-echo-v1:9000', weight: 0 }]);
    assert.match(
      statuses.get('TCPRoute/default/tcp-echo')?.notes[0]?.message ?? '',
      /connections are refused/,
    );
  });
});
