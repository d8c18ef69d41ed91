/**
 * backendRefs resolved against services into weighted ProxyConfig backends named with
 * serviceBackendName. A backendRef that cannot be resolved must not change how the rest of the split
 * behaves: with weight 0 it is left out; with a weight it keeps its share under a backend name the view has
 * with no endpoints, so that share fails (503 NO_ENDPOINT) while the other backends serve theirs.
 */
import type { BackendRef } from '../../../api/resources/gateway-api/index.ts';
import type { WeightedBackendInput } from '../../model/types.ts';
import { type RouteFilter, translateFilters } from './filters.ts';
import { resolveBackendRef, useBackend } from './refs.ts';
import type { RuleContext } from './types.ts';

export interface TranslatedBackends {
  backends: WeightedBackendInput[];
  /** A backendRef carries a filter Weft cannot apply and must not skip: the rule answers 500. */
  unsupported: boolean;
}

export type RuleBackendRef = BackendRef & { filters?: readonly RouteFilter[] };

/**
 * A rule's weighted backends. A rule without backendRefs sends to its parent Service, as Linkerd does:
 * GAMMA routes often exist only to set timeouts or filters on some requests (Linkerd's books sample); the
 * spec's 500 is for backendRefs that are all invalid.
 */
export function translateBackends(
  refs: readonly RuleBackendRef[],
  path: string,
  ctx: RuleContext,
): TranslatedBackends {
  const out: TranslatedBackends = { backends: [], unsupported: false };
  if (refs.length === 0) {
    if (ctx.parentPort === undefined) {
      ctx.needsParentPort = true;
      return out;
    }
    const ref = { namespace: ctx.parent.namespace, name: ctx.parent.name, port: ctx.parentPort };
    out.backends.push({ backend: useBackend(ctx, ref), weight: 1 });
    return out;
  }
  refs.forEach((ref, j) => {
    const at = `${path}.backendRefs.${j}`;
    const resolved = resolveBackendRef(ref, at, ctx);
    if (resolved === undefined) return;
    const { problem } = resolved;
    if (problem !== undefined && ref.weight === 0) {
      ctx.report.note(problem.path, `${problem.message}; it has weight 0 and is left out`);
      return;
    }
    if (problem !== undefined) {
      ctx.report.issue(
        'CONFIG_REFERENCE',
        problem.path,
        `${problem.message}: its share of traffic (weight ${ref.weight}) fails with 503, no endpoints`,
      );
    }
    const backend: WeightedBackendInput = { backend: useBackend(ctx, resolved.ref), weight: ref.weight };
    if (ref.filters !== undefined && ref.filters.length > 0) {
      const f = translateFilters(ref.filters, `${at}.filters`, ctx, 'backend');
      if (f.unsupported) out.unsupported = true;
      if (f.filters.length > 0) backend.filters = f.filters;
    }
    out.backends.push(backend);
  });
  return out;
}

/** True when some backend would receive traffic. */
export function hasTraffic(backends: readonly WeightedBackendInput[]): boolean {
  return backends.some((b) => (b.weight ?? 1) > 0);
}
