/**
 * The ServiceEntry schema: hosts, addresses, ports with Istio's protocol names, endpoints, and the rules
 * between resolution and endpoints that the CRD and istiod's webhook enforce.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceEntry } from './service-entry.ts';
import { accepted, refused } from './testing.ts';

const http = { number: 80, name: 'http', protocol: 'HTTP' };
const tcp = { number: 5432, name: 'tcp', protocol: 'TCP' };
const se = (spec: object) => ({ hosts: ['api.example.com'], ports: [http], ...spec });

describe('ServiceEntry schema', () => {
  test('external hosts by DNS, static endpoints, a workload selector; protocols in any case', () => {
    const value = accepted(
      'ServiceEntry',
      se({ resolution: 'DNS', location: 'MESH_EXTERNAL' }),
    ) as ServiceEntry;
    assert.deepEqual(value.spec.ports, [http]);
    accepted('ServiceEntry', {
      hosts: ['db.internal'],
      addresses: ['10.1.2.3'],
      ports: [{ ...tcp, protocol: 'tcp', targetPort: 15432 }],
      resolution: 'STATIC',
      location: 'MESH_INTERNAL',
      endpoints: [
        {
          address: '10.0.0.1',
          ports: { tcp: 5432 },
          labels: { version: 'v1' },
          weight: 2,
          locality: 'us/east',
        },
        { address: 'unix:///var/run/db.sock' },
        { network: 'remote', serviceAccount: 'db' },
      ],
      exportTo: ['~'],
      subjectAltNames: ['spiffe://cluster.local/ns/db/sa/db'],
    });
    accepted('ServiceEntry', se({ resolution: 'STATIC', workloadSelector: { labels: { app: 'vm' } } }));
    // Istio accepts STATIC without endpoints (WorkloadEntries may be added later), so Weft does too.
    accepted('ServiceEntry', se({ resolution: 'STATIC' }));
    accepted('ServiceEntry', { hosts: ['*.example.com'], ports: [http], resolution: 'DYNAMIC_DNS' });
  });

  test('a misspelt field is an error on the object that holds it', () => {
    assert.deepEqual(refused('ServiceEntry', se({ resolutoin: 'DNS' })), [
      'spec: Unrecognized key: "resolutoin"',
    ]);
    assert.deepEqual(refused('ServiceEntry', se({ ports: [{ ...http, targetport: 8080 }] })), [
      'spec.ports.0: Unrecognized key: "targetport"',
    ]);
  });

  test('hosts: at least one, no "*", domain names', () => {
    assert.deepEqual(refused('ServiceEntry', se({ hosts: [] })), [
      'spec.hosts: service entry must have at least one host',
    ]);
    assert.deepEqual(refused('ServiceEntry', se({ hosts: ['*'] })), [
      'spec.hosts.0: hostname cannot be wildcard',
    ]);
    assert.deepEqual(refused('ServiceEntry', {}), [
      'spec.hosts: Invalid input: expected array, received undefined',
    ]);
    assert.deepEqual(refused('ServiceEntry', se({ resolution: 'DNS', hosts: ['*.example.com'] })), [
      'spec.hosts.0: hosts must be FQDN if no endpoints are provided for resolution mode DNS',
    ]);
  });

  test('resolution and endpoints: none for NONE, at most one for DNS_ROUND_ROBIN, IPs for STATIC', () => {
    const ep = (address: string) => ({ address });
    assert.deepEqual(refused('ServiceEntry', se({ endpoints: [ep('10.0.0.1')] })), [
      'spec.endpoints: no endpoints should be provided for resolution type none',
    ]);
    assert.deepEqual(
      refused(
        'ServiceEntry',
        se({ resolution: 'DNS_ROUND_ROBIN', endpoints: [ep('a.example.com'), ep('b.example.com')] }),
      ),
      ['spec.endpoints: there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN'],
    );
    assert.deepEqual(
      refused('ServiceEntry', se({ resolution: 'STATIC', endpoints: [ep('db.example.com')] })),
      ['spec.endpoints.0.address: endpoint address "db.example.com" is not a valid IP address'],
    );
    accepted('ServiceEntry', se({ resolution: 'DNS', endpoints: [ep('db.example.com'), ep('10.0.0.2')] }));
    assert.deepEqual(
      refused('ServiceEntry', se({ resolution: 'STATIC', endpoints: [{ labels: { a: 'b' } }] })),
      ['spec.endpoints.0.address: Address is required'],
    );
    assert.deepEqual(
      refused(
        'ServiceEntry',
        se({ resolution: 'STATIC', endpoints: [{ address: '10.0.0.1', ports: { grpc: 9000 } }] }),
      ),
      ['spec.endpoints.0.ports.grpc: endpoint port grpc is not defined by the service entry'],
    );
    assert.deepEqual(
      refused('ServiceEntry', se({ resolution: 'STATIC', endpoints: [{ address: 'unix://db.sock' }] })),
      ['spec.endpoints.0.address: UDS must be an absolute path or abstract socket'],
    );
    assert.deepEqual(
      refused(
        'ServiceEntry',
        se({ resolution: 'STATIC', endpoints: [ep('10.0.0.1')], workloadSelector: { labels: { app: 'a' } } }),
      ),
      ['spec.workloadSelector: only one of WorkloadSelector or Endpoints is allowed in Service Entry'],
    );
  });

  test('addresses: IPs or CIDR blocks, CIDR only for NONE and STATIC', () => {
    accepted('ServiceEntry', se({ addresses: ['192.30.252.0/22', '2001:db8::1'] }));
    assert.deepEqual(refused('ServiceEntry', se({ addresses: ['10.0.0.0/8'], resolution: 'DNS' })), [
      'spec.addresses: CIDR addresses are allowed only for NONE/STATIC resolution types',
    ]);
    assert.deepEqual(refused('ServiceEntry', se({ addresses: ['github.com'] })), [
      'spec.addresses.0: github.com is not a valid IP',
    ]);
  });

  test('ports: unique names and numbers, DNS-label names, Istio protocols; plain TCP cannot tell hosts apart', () => {
    assert.deepEqual(refused('ServiceEntry', se({ ports: [http, { ...http, number: 8080 }] })), [
      'spec.ports.1.name: service entry port name "http" already defined',
    ]);
    assert.deepEqual(refused('ServiceEntry', se({ ports: [http, { ...http, name: 'http-alt' }] })), [
      'spec.ports.1.number: service entry port 80 already defined',
    ]);
    assert.match(
      refused('ServiceEntry', se({ ports: [{ ...http, protocol: 'QUIC' }] }))[0] ?? '',
      /^spec\.ports\.0\.protocol: unsupported protocol: QUIC/,
    );
    assert.deepEqual(refused('ServiceEntry', se({ ports: [{ ...http, name: 'Web_Port' }] })), [
      'spec.ports.0.name: invalid port name: Web_Port',
    ]);
    assert.deepEqual(refused('ServiceEntry', se({ ports: [{ ...http, number: 0 }] })), [
      'spec.ports.0.number: port must be between 1-65535',
    ]);
    const twoHosts = { hosts: ['a.example.com', 'b.example.com'], ports: [tcp] };
    accepted('ServiceEntry', twoHosts);
    assert.deepEqual(refused('ServiceEntry', { ...twoHosts, resolution: 'DNS' }), [
      'spec.ports.0.protocol: multiple hosts provided with non-HTTP, non-TLS ports',
    ]);
  });

  test('exportTo: "~" only alone; workload selector labels without wildcards', () => {
    assert.deepEqual(refused('ServiceEntry', se({ exportTo: ['~', '.'] })), [
      'spec.exportTo: cannot export service entry to no one (~) and someone',
    ]);
    assert.deepEqual(
      refused('ServiceEntry', se({ resolution: 'STATIC', workloadSelector: { labels: { app: 'v*' } } })),
      ['spec.workloadSelector.labels.app: wildcard is not supported in selector'],
    );
  });
});
