/**
 * GRPCRoute rules as ProxyConfig routes: method matches become path matches (see matches.ts); filters
 * and backends as for HTTPRoute. GRPCRoute has no timeouts field.
 */
import type { GRPCRouteSpec } from '../../../api/resources/gateway-api/index.ts';
import type { RouteInput } from '../../model/types.ts';
import { translateGRPCMatches } from './matches.ts';
import { translateRule } from './rules.ts';
import type { RuleContext } from './types.ts';

export function translateGRPCRoute(spec: GRPCRouteSpec, ctx: RuleContext): RouteInput[] {
  const routes: RouteInput[] = [];
  spec.rules.forEach((rule, index) => {
    const matches = translateGRPCMatches(rule.matches, `spec.rules.${index}.matches`, ctx.report);
    if (matches === undefined) return;
    routes.push(
      translateRule(
        {
          index,
          name: rule.name,
          matches,
          filters: rule.filters,
          backendRefs: rule.backendRefs,
          timeout: undefined,
        },
        ctx,
      ),
    );
  });
  return routes;
}
