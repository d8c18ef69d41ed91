/**
 * HTTPRoute rules as ProxyConfig routes. Timeouts: `request` is the route timeout; Weft has no separate
 * per-attempt timeout yet, so `backendRequest` alone becomes the route timeout too, and beside `request`
 * it is not enforced on its own (both are noted on the route's status).
 */
import type { HTTPRouteRule, HTTPRouteSpec } from '../../../api/resources/gateway-api/index.ts';
import type { RouteInput } from '../../model/types.ts';
import { translateHTTPMatches } from './matches.ts';
import { translateRule } from './rules.ts';
import type { RuleContext } from './types.ts';

function ruleTimeout(rule: HTTPRouteRule, path: string, ctx: RuleContext): string | undefined {
  const t = rule.timeouts;
  if (t?.backendRequest !== undefined && t.request === undefined) {
    ctx.report.note(
      `${path}.timeouts.backendRequest`,
      'applied as the whole-request timeout (no per-attempt timeout yet)',
    );
    return t.backendRequest;
  }
  if (t?.backendRequest !== undefined) {
    ctx.report.note(
      `${path}.timeouts.backendRequest`,
      'not enforced separately: the request timeout applies',
    );
  }
  return t?.request;
}

export function translateHTTPRoute(spec: HTTPRouteSpec, ctx: RuleContext): RouteInput[] {
  const routes: RouteInput[] = [];
  spec.rules.forEach((rule, index) => {
    const path = `spec.rules.${index}`;
    const matches = translateHTTPMatches(rule.matches, `${path}.matches`, ctx.report);
    if (matches === undefined) return;
    const timeout = ruleTimeout(rule, path, ctx);
    routes.push(
      translateRule(
        { index, name: rule.name, matches, filters: rule.filters, backendRefs: rule.backendRefs, timeout },
        ctx,
      ),
    );
  });
  return routes;
}
