/**
 * TCPRoute rules as a service's weighted TCP backends. A TCPRoute has no matches, so only one rule can
 * ever apply: the first is used and any others are noted. When no backend has a weight above 0 the list
 * keeps the zero-weight backends, and the proxy refuses the connections (the spec's rejection).
 */
import type { TCPRouteSpec } from '../../../api/resources/gateway-api/index.ts';
import type { WeightedBackendInput } from '../../model/types.ts';
import { hasTraffic, translateBackends } from './backends.ts';
import type { RuleContext } from './types.ts';

export function translateTCPRoute(spec: TCPRouteSpec, ctx: RuleContext): WeightedBackendInput[] {
  const rule = spec.rules[0];
  if (rule === undefined) return [];
  if (spec.rules.length > 1)
    ctx.report.note('spec.rules', 'a TCPRoute has no matches: only the first rule is used');
  const { backends } = translateBackends(rule.backendRefs, 'spec.rules.0', ctx);
  if (!hasTraffic(backends)) {
    ctx.report.note('spec.rules.0.backendRefs', 'no backend has a weight above 0: connections are refused');
  }
  return backends;
}
