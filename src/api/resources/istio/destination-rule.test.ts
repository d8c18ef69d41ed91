/**
 * The DestinationRule schema: traffic policies with Istio's field names and durations, and the rules of
 * istiod's webhook (non-empty policies, unique subsets, one hash key, Maglev primes, TLS modes and their
 * certificates, outlier and connection-pool limits).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DestinationRule } from './destination-rule.ts';
import { accepted, refused } from './testing.ts';

const dr = (trafficPolicy: object, extra: object = {}) => ({ host: 'httpbin', trafficPolicy, ...extra });
const bad = (trafficPolicy: object) => refused('DestinationRule', dr(trafficPolicy));

describe('DestinationRule schema', () => {
  test("the circuit-breaking task's policy parses as written, durations kept as strings", () => {
    const value = accepted('DestinationRule', {
      host: 'httpbin',
      trafficPolicy: {
        connectionPool: {
          tcp: { maxConnections: 1 },
          http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 },
        },
        outlierDetection: {
          consecutive5xxErrors: 1,
          interval: '1s',
          baseEjectionTime: '3m',
          maxEjectionPercent: 100,
        },
      },
    }) as DestinationRule;
    assert.equal(value.spec.trafficPolicy?.outlierDetection?.baseEjectionTime, '3m');
    assert.deepEqual(value.spec.trafficPolicy?.connectionPool?.tcp, { maxConnections: 1 });
  });

  test('every part of a traffic policy, per subset and per port', () => {
    accepted('DestinationRule', {
      host: 'reviews.default.svc.cluster.local',
      trafficPolicy: {
        loadBalancer: {
          consistentHash: {
            httpCookie: { name: 'user', ttl: '0s', path: '/' },
            ringHash: { minimumRingSize: 1024 },
          },
          localityLbSetting: { enabled: true, failover: [{ from: 'us-east', to: 'us-west' }] },
          warmup: { duration: '30s', minimumPercent: 10, aggression: 1.5 },
        },
        connectionPool: {
          tcp: {
            connectTimeout: '30ms',
            idleTimeout: '0s',
            tcpKeepalive: { time: '7200s', interval: '75s', probes: 9 },
          },
          http: {
            http2MaxRequests: 1000,
            maxRetries: 3,
            idleTimeout: '1h',
            h2UpgradePolicy: 'UPGRADE',
            maxConcurrentStreams: 100,
          },
        },
        outlierDetection: {
          consecutiveGatewayErrors: 5,
          splitExternalLocalOriginErrors: true,
          consecutiveLocalOriginFailures: 3,
          minHealthPercent: 50,
        },
        tls: { mode: 'SIMPLE', sni: 'reviews.example.com', subjectAltNames: ['reviews'] },
        portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
        retryBudget: { percent: 20, minRetryConcurrency: 3 },
      },
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        {
          name: 'v2',
          labels: { version: 'v2' },
          trafficPolicy: {
            loadBalancer: { consistentHash: { maglev: { tableSize: 65537 }, useSourceIp: true } },
          },
        },
      ],
      exportTo: ['.'],
      workloadSelector: { matchLabels: { app: 'productpage' } },
    });
    accepted(
      'DestinationRule',
      dr({ tunnel: { protocol: 'CONNECT', targetHost: 'egress.example.com', targetPort: 8443 } }),
    );
    accepted('DestinationRule', dr({ proxyProtocol: { version: 'V2' } }));
    accepted('DestinationRule', dr({ retryBudget: { percent: 25 } }));
  });

  test('a misspelt field is an error on the object that holds it', () => {
    assert.deepEqual(bad({ loadbalancer: { simple: 'RANDOM' }, tls: { mode: 'ISTIO_MUTUAL' } }), [
      'spec.trafficPolicy: Unrecognized key: "loadbalancer"',
    ]);
    assert.deepEqual(bad({ outlierDetection: { consecutive5xxErrors: 1, baseEjectionTime: 3 } }), [
      'spec.trafficPolicy.outlierDetection.baseEjectionTime: Invalid input: expected string, received number',
    ]);
  });

  test('subset names are unique DNS labels; the host is a domain name', () => {
    assert.deepEqual(
      refused('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1' }, { name: 'v1' }] }),
      ['spec.subsets.1.name: duplicate subset names: v1'],
    );
    assert.deepEqual(refused('DestinationRule', { host: 'reviews', subsets: [{ name: 'V_1' }] }), [
      'spec.subsets.0.name: subset name is invalid: V_1',
    ]);
    assert.deepEqual(
      refused('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v 1' } }] }),
      ['spec.subsets.0.labels.version: invalid tag value: "v 1"'],
    );
    assert.deepEqual(refused('DestinationRule', {}), [
      'spec.host: Invalid input: expected string, received undefined',
    ]);
    assert.deepEqual(refused('DestinationRule', { host: 'reviews..svc' }), [
      'spec.host: domain name "reviews..svc" invalid (label "" invalid)',
    ]);
  });

  test('a traffic policy, a connection pool and a port-level policy each set something', () => {
    assert.deepEqual(bad({}), ['spec.trafficPolicy: traffic policy must have at least one field']);
    assert.deepEqual(bad({ connectionPool: {} }), [
      'spec.trafficPolicy.connectionPool: connection pool must have at least one field',
    ]);
    assert.deepEqual(bad({ portLevelSettings: [{ port: { number: 80 } }] }), [
      'spec.trafficPolicy.portLevelSettings.0: port traffic policy must have at least one field',
    ]);
    assert.deepEqual(bad({ portLevelSettings: [{ tls: { mode: 'SIMPLE' } }] }), [
      'spec.trafficPolicy.portLevelSettings.0.port: portTrafficPolicy must have valid port',
    ]);
    assert.deepEqual(
      bad({ tunnel: { targetHost: 'a.example.com', targetPort: 443 }, proxyProtocol: { version: 'V1' } }),
      ['spec.trafficPolicy.proxyProtocol: tunnel and proxyProtocol must not be set together'],
    );
  });

  test('load balancing: simple or consistent hash; one hash key, one algorithm, prime Maglev tables', () => {
    assert.deepEqual(bad({ loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } }), [
      'spec.trafficPolicy.loadBalancer.consistentHash: set simple or consistentHash, not both',
    ]);
    assert.deepEqual(
      bad({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user', useSourceIp: true } } }),
      [
        'spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp: set one hash key, not httpHeaderName and useSourceIp',
      ],
    );
    assert.deepEqual(
      bad({
        loadBalancer: {
          consistentHash: { useSourceIp: true, minimumRingSize: 10, maglev: { tableSize: 7 } },
        },
      }),
      [
        'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: only one of MinimumRingSize or Maglev/Ringhash can be specified',
      ],
    );
    assert.deepEqual(
      bad({ loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65536 } } } }),
      [
        'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize must be a prime number for maglev',
      ],
    );
    assert.deepEqual(bad({ loadBalancer: { simple: 'FASTEST' } }).length, 1);
    assert.deepEqual(bad({ loadBalancer: { consistentHash: { httpCookie: { name: '' } } } }), [
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name: name required for HttpCookie',
    ]);
  });

  test('TLS: the four modes; MUTUAL needs its certificates unless a credentialName holds them', () => {
    for (const mode of ['DISABLE', 'SIMPLE', 'ISTIO_MUTUAL'])
      accepted('DestinationRule', dr({ tls: { mode } }));
    accepted('DestinationRule', dr({ tls: { mode: 'MUTUAL', credentialName: 'client-credential' } }));
    accepted(
      'DestinationRule',
      dr({ tls: { mode: 'MUTUAL', clientCertificate: '/etc/c.pem', privateKey: '/etc/k.pem' } }),
    );
    assert.deepEqual(bad({ tls: { mode: 'MUTUAL' } }), [
      'spec.trafficPolicy.tls.clientCertificate: client certificate required for mutual tls',
      'spec.trafficPolicy.tls.privateKey: private key required for mutual tls',
    ]);
    assert.deepEqual(bad({ tls: { mode: 'SIMPLE', credentialName: 'c', caCertificates: '/ca.pem' } }), [
      'spec.trafficPolicy.tls.credentialName: cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
    ]);
    assert.deepEqual(bad({ tls: { mode: 'SIMPLE', insecureSkipVerify: true, subjectAltNames: ['a'] } }), [
      'spec.trafficPolicy.tls.insecureSkipVerify: cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
    ]);
    assert.equal(bad({ tls: { mode: 'STRICT' } }).length, 1);
  });

  test('connection pool and outlier detection limits as istiod checks them', () => {
    assert.deepEqual(bad({ connectionPool: { tcp: { maxConnections: -1 } } }), [
      'spec.trafficPolicy.connectionPool.tcp.maxConnections: must be non-negative',
    ]);
    assert.deepEqual(
      bad({ connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } } }),
      [
        'spec.trafficPolicy.connectionPool.http.useClientProtocol: use client protocol must not be true when H2UpgradePolicy is UPGRADE',
      ],
    );
    assert.deepEqual(bad({ connectionPool: { http: { idleTimeout: '0s' } } }), [
      'spec.trafficPolicy.connectionPool.http.idleTimeout: must be a valid duration greater than 1ms',
    ]);
    assert.deepEqual(bad({ outlierDetection: { maxEjectionPercent: 101 } }), [
      'spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be between 0 and 100',
    ]);
    assert.deepEqual(bad({ outlierDetection: { consecutiveLocalOriginFailures: 2 } }), [
      'spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures: outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
    ]);
    accepted('DestinationRule', dr({ outlierDetection: { consecutiveErrors: 5 } }));
    assert.deepEqual(bad({ retryBudget: { percent: 120 } }).length, 1);
    assert.deepEqual(bad({ tunnel: { protocol: 'GET', targetHost: 'a', targetPort: 0 } }), [
      'spec.trafficPolicy.tunnel.protocol: tunnel protocol must be "CONNECT" or "POST"',
      'spec.trafficPolicy.tunnel.targetPort: tunnel target port is invalid: port number 0 must be in the range 1..65535',
    ]);
  });
});
