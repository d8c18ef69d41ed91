import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { type Schema, validateAgainst } from './json-schema.ts';
import { exportJsonSchema } from './reference.ts';
import schemaJson from './schema.json' with { type: 'json' };
import { ProxyConfig, type ProxyConfigInput } from './schema.ts';

const schema = schemaJson as unknown as Schema;

const everything: ProxyConfigInput = {
  node: { id: 'n1', workload: 'web', namespace: 'shop' },
  admin: { port: 15000 },
  httpProxy: { port: 15080 },
  inbound: [
    { name: 'web', listen: { port: 15006 }, target: { port: 8080 }, protocol: 'http1', timeout: '2s' },
  ],
  outbound: [
    {
      name: 'api',
      hosts: ['api'],
      port: 80,
      listen: { port: 15101 },
      routes: [
        {
          matches: [
            {
              path: { type: 'Exact', value: '/x' },
              headers: [{ name: 'a', type: 'Present' }],
              queryParams: [{ name: 'q', value: '1' }],
              method: 'GET',
            },
          ],
          filters: [
            { type: 'RequestHeaderModifier', requestHeaderModifier: { set: { a: 'b' } } },
            { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', value: '/y' } } },
          ],
          backends: [{ backend: 'api', weight: 3 }],
          timeout: 1500,
        },
        { redirect: { scheme: 'https', statusCode: 301 } },
        { directResponse: { status: 204 } },
      ],
    },
    { name: 'db', port: 5432, protocol: 'tcp', listen: { port: 15102 }, tcpBackends: [{ backend: 'db' }] },
  ],
  backends: [
    {
      name: 'api',
      endpoints: [{ address: '127.0.0.1', port: 9000, weight: 2, labels: { v: '1' } }],
      loadBalancer: { type: 'ring-hash', hashOn: { header: 'x-user' } },
      connectTimeout: '250ms',
    },
    { name: 'db', protocol: 'tcp', endpoints: [{ address: '127.0.0.1', port: 5433 }] },
  ],
  settings: { detectTimeout: '1s', drainTimeout: '3s' },
};

describe('the zod-free validator (schema.json)', () => {
  test('schema.json is exported from the current zod schema (run `npm run docs`)', () => {
    assert.deepEqual(schemaJson, JSON.parse(JSON.stringify(exportJsonSchema())));
  });

  const samples: Array<[string, unknown]> = [
    ['an empty config', {}],
    ['a config using every section', everything],
    [
      'examples/proxy.yaml',
      parse(readFileSync(new URL('../../../examples/proxy.yaml', import.meta.url), 'utf8')),
    ],
  ];
  for (const [name, input] of samples) {
    test(`gives exactly what zod gives for ${name}`, () => {
      const ours = validateAgainst(schema, input);
      assert.deepEqual(ours.issues, []);
      assert.deepEqual(ours.value, ProxyConfig.parse(input));
    });
  }

  const bad: Array<[string, unknown, string]> = [
    ['a wrong type', { admin: { port: 'x' } }, 'admin.port'],
    ['a port out of range', { admin: { port: 70000 } }, 'admin.port'],
    ['an unknown key', { outbound: [{ name: 'a', port: 1, typo: 1 }] }, 'outbound.0'],
    ['a missing required field', { outbound: [{ name: 'a' }] }, 'outbound.0.port'],
    ['a bad enum value', { outbound: [{ name: 'a', port: 1, protocol: 'smtp' }] }, 'outbound.0.protocol'],
    ['a bad duration', { settings: { drainTimeout: 'soon' } }, 'settings.drainTimeout'],
    [
      'an unknown filter type',
      {
        outbound: [
          { name: 'a', port: 1, routes: [{ filters: [{ type: 'Nope' }], directResponse: { status: 200 } }] },
        ],
      },
      'outbound.0.routes.0.filters.0.type',
    ],
    ['an empty name', { backends: [{ name: '' }] }, 'backends.0.name'],
  ];
  for (const [name, input, path] of bad) {
    test(`rejects ${name} at ${path}, as zod does`, () => {
      const ours = validateAgainst(schema, input);
      assert.ok(
        ours.issues.some((i) => i.path === path),
        JSON.stringify(ours.issues),
      );
      assert.equal(ProxyConfig.safeParse(input).success, false);
    });
  }
});
