/**
 * The EnvoyFilter schema: served at v1alpha3 only, its match and patch structure checked as the CRD
 * defines it, and `patch.value` (free-form Envoy configuration) kept exactly as written.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EnvoyFilter } from './envoy-filter.ts';
import { accepted, refused, verdict } from './testing.ts';

const localRateLimit = {
  workloadSelector: { labels: { app: 'productpage' } },
  configPatches: [
    {
      applyTo: 'HTTP_FILTER',
      match: {
        context: 'SIDECAR_INBOUND',
        listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager' } } },
      },
      patch: {
        operation: 'INSERT_BEFORE',
        value: {
          name: 'envoy.filters.http.local_ratelimit',
          typed_config: {
            '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
            value: {
              stat_prefix: 'http_local_rate_limiter',
              token_bucket: { max_tokens: 4, fill_interval: '60s' },
            },
          },
        },
      },
    },
  ],
};

describe('EnvoyFilter schema', () => {
  test('v1alpha3 is the only version Istio serves', () => {
    accepted('EnvoyFilter', localRateLimit);
    for (const version of ['v1', 'v1beta1']) {
      const v = verdict('EnvoyFilter', localRateLimit, version);
      assert.equal(v.state, 'invalid');
      assert.deepEqual(v.state === 'invalid' ? v.issues.map((i) => i.message) : [], [
        `EnvoyFilter is read at networking.istio.io/v1alpha3, not networking.istio.io/${version}`,
      ]);
    }
  });

  test('patch.value is kept as written, unknown Envoy fields included', () => {
    const value = accepted('EnvoyFilter', localRateLimit) as EnvoyFilter;
    assert.deepEqual(
      value.spec.configPatches?.[0]?.patch?.value,
      localRateLimit.configPatches[0]?.patch.value,
    );
  });

  test('the structure around the value is strict, with the enums and rules of the CRD', () => {
    const patch = (p: object) => ({ configPatches: [{ ...localRateLimit.configPatches[0], ...p }] });
    assert.deepEqual(refused('EnvoyFilter', patch({ aplyTo: 'HTTP_FILTER' })), [
      'spec.configPatches.0: Unrecognized key: "aplyTo"',
    ]);
    assert.equal(refused('EnvoyFilter', patch({ applyTo: 'HTTP_FILTERS' })).length, 1);
    assert.deepEqual(refused('EnvoyFilter', patch({ applyTo: undefined })), [
      'spec.configPatches.0.applyTo: Envoy filter: missing applyTo',
    ]);
    assert.deepEqual(refused('EnvoyFilter', patch({ patch: undefined })), [
      'spec.configPatches.0.patch: Envoy filter: missing patch',
    ]);
    assert.deepEqual(refused('EnvoyFilter', patch({ match: { listener: {}, cluster: {} } })), [
      'spec.configPatches.0.match.cluster: set one of listener, routeConfiguration, cluster, waypoint, not listener and cluster',
    ]);
    assert.deepEqual(refused('EnvoyFilter', patch({ match: { waypoint: {} } })), [
      'spec.configPatches.0.match.waypoint: only support waypointMatch when context is WAYPOINT',
    ]);
    assert.deepEqual(
      refused('EnvoyFilter', { ...localRateLimit, targetRefs: [{ kind: 'Service', name: 'a' }] }),
      ['spec.targetRefs: only one of targetRefs or workloadSelector can be set'],
    );
  });
});
