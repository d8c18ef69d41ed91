/**
 * One HTTPRoute or GRPCRoute rule as one ProxyConfig route: its matches (any of them selects the rule),
 * its filters, and exactly one action: a redirect, weighted backends, or a 500 when there is nothing the
 * rule can send to (every backend has weight 0) or a filter Weft must not skip.
 */
import type { RouteInput } from '../../model/types.ts';
import { hasTraffic, type RuleBackendRef, translateBackends } from './backends.ts';
import { type RouteFilter, translateFilters } from './filters.ts';
import { type RouteMatchInput, type RuleContext, ruleRouteName } from './types.ts';

export interface RuleParts {
  index: number;
  name: string | undefined;
  matches: RouteMatchInput[];
  filters: readonly RouteFilter[];
  backendRefs: readonly RuleBackendRef[];
  /** A Gateway API duration string; the ProxyConfig duration reads the same syntax. */
  timeout: string | undefined;
}

function fail(name: string, matches: RouteMatchInput[], body: string): RouteInput {
  return { name, matches, filters: [], directResponse: { status: 500, body } };
}

export function translateRule(rule: RuleParts, ctx: RuleContext): RouteInput {
  const path = `spec.rules.${rule.index}`;
  const name = ruleRouteName(ctx.route, rule.name, rule.index);
  const filters = translateFilters(rule.filters, `${path}.filters`, ctx, 'rule');
  if (filters.unsupported) return fail(name, rule.matches, 'unsupported filter\n');
  const route: RouteInput = { name, matches: rule.matches, filters: filters.filters };
  if (rule.timeout !== undefined) route.timeout = rule.timeout;
  if (filters.redirect !== undefined) return { ...route, redirect: filters.redirect };
  const backends = translateBackends(rule.backendRefs, path, ctx);
  if (backends.unsupported) return fail(name, rule.matches, 'unsupported filter\n');
  if (!hasTraffic(backends.backends)) {
    ctx.report.note(`${path}.backendRefs`, 'no backend has a weight above 0: requests get 500');
    return fail(name, rule.matches, 'no backend\n');
  }
  return { ...route, backends: backends.backends };
}
