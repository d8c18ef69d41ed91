/**
 * A service port's protocol as Istio and Linkerd read it: appProtocol first, then the port name (exact,
 * then its prefix before the first "-"), else detection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portProtocol } from './protocol.ts';

test('appProtocol wins over the port name; unknown values fall through', () => {
  const cases: Array<[string | undefined, string | undefined, string]> = [
    ['grpc', 'http', 'grpc'],
    ['HTTP', undefined, 'http1'],
    ['kubernetes.io/h2c', 'tcp', 'http2'],
    ['kubernetes.io/ws', undefined, 'http1'],
    ['kubernetes.io/wss', 'http', 'tcp'],
    ['https', undefined, 'tcp'],
    ['example.com/custom', 'grpc-api', 'grpc'], // unknown appProtocol: the name decides
    ['example.com/custom', undefined, 'detect'],
  ];
  for (const [appProtocol, name, expected] of cases)
    assert.equal(portProtocol(appProtocol, name), expected, `${appProtocol} ${name}`);
});

test('the port name: exact, then its prefix; anything else is detected', () => {
  const cases: Array<[string | undefined, string]> = [
    ['http', 'http1'],
    ['http-web', 'http1'],
    ['http2', 'http2'],
    ['h2c', 'http2'],
    ['grpc', 'grpc'],
    ['grpc-web', 'http1'], // exact before prefix: gRPC-Web is HTTP/1
    ['grpc-api', 'grpc'],
    ['tcp-postgres', 'tcp'],
    ['Redis-cache', 'tcp'],
    ['mongo', 'tcp'],
    ['tls-passthrough', 'tcp'],
    ['web', 'detect'],
    ['httpbin', 'detect'], // a prefix is the part before "-", not any leading text
    ['', 'detect'],
    [undefined, 'detect'],
  ];
  for (const [name, expected] of cases) assert.equal(portProtocol(undefined, name), expected, `${name}`);
});
