/**
 * A FilterContext for unit tests: no backends, a fresh metrics registry and state cache, a route's
 * labels, and the real clock and randomness unless the test injects its own.
 */
import { MetricsRegistry } from '../metrics/index.ts';
import { FilterStateCache } from './state.ts';
import type { FilterContext } from './types.ts';

export function testContext(overrides: Partial<FilterContext> = {}): FilterContext {
  const state = overrides.state ?? new FilterStateCache();
  if (overrides.state === undefined) state.begin();
  return {
    backend: () => undefined,
    random: Math.random,
    metrics: new MetricsRegistry(),
    timeoutMs: 0,
    now: () => performance.now(),
    labels: { direction: 'outbound', service: 'svc', route: 'r' },
    ...overrides,
    state,
  };
}
