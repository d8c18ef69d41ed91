/**
 * Istio's resilience settings onto the proxy's model: a VirtualService rule's `retries`, `fault` and
 * `corsPolicy`, and a DestinationRule's `connectionPool`, `outlierDetection` and `retryBudget`.
 *
 * Defaults are Istio's, written out because the proxy's own defaults differ where Envoy's do: a rule
 * without `retries` gets Istio's default policy (2 attempts on connect-failure, refused-stream,
 * unavailable, cancelled and 503), Istio counts the attempt (`x-envoy-attempt-count`), and an
 * outlierDetection without consecutive5xxErrors ejects after 5. Zero means "unset" for Istio's limits.
 */
import { RETRY_CONDITIONS } from '../../../api/proxy-config/schema.ts';
import type { HTTPRoute as IstioHTTPRoute, TrafficPolicy } from '../../../api/resources/istio/index.ts';
import { parseDuration } from '../../../core/duration.ts';
import type { BackendInput, RouteInput } from '../../model/types.ts';
import type { PolicyExtras } from './destination-rule.ts';
import type { RuleExtras } from './virtual-service.ts';

type FilterInput = NonNullable<RouteInput['filters']>[number];
type RetriesInput = NonNullable<RouteInput['retries']>;

/** Istio's retry policy for a rule that sets none (istio/pilot networking/core/route/retry). */
export const ISTIO_DEFAULT_RETRIES: RetriesInput = {
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 503],
};

const CONDITIONS = new Set<string>(RETRY_CONDITIONS);

const ms = (d: string | undefined) => (d === undefined ? undefined : parseDuration(d));
/** Istio's limits: 0 and absent both mean "no limit". */
const limit = (n: number | undefined) => (n === undefined || n === 0 ? undefined : n);

export const ruleExtras: RuleExtras = (rule, at, note) => {
  const route: Partial<RouteInput> = { includeAttemptCount: true };
  const filters: FilterInput[] = [];
  const retries = retriesOf(rule.retries, `${at}.retries`, note);
  if (retries) route.retries = retries;
  if (rule.fault) {
    const fault = faultOf(rule.fault);
    if (fault) filters.push(fault);
  }
  if (rule.corsPolicy) filters.push(corsOf(rule.corsPolicy));
  return { route, filters };
};

function retriesOf(
  r: IstioHTTPRoute['retries'],
  at: string,
  note: (path: string, message: string) => void,
): RetriesInput | undefined {
  if (r === undefined) return ISTIO_DEFAULT_RETRIES;
  const attempts = r.attempts ?? 2;
  if (attempts === 0) return undefined;
  const retryOn: RetriesInput['retryOn'] = [];
  const given = r.retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
  for (const raw of given.split(',')) {
    const c = raw.trim();
    if (c === '') continue;
    if (/^[1-5][0-9][0-9]$/.test(c)) retryOn.push(Number(c));
    else if (CONDITIONS.has(c)) retryOn.push(c as (typeof RETRY_CONDITIONS)[number]);
    else note(`${at}.retryOn`, `retry condition "${c}" is not applied (Weft does not implement it)`);
  }
  // Istio's default retriable status code, when retriable-status-codes is asked for without a code.
  if (retryOn.includes('retriable-status-codes') && !retryOn.some((c) => typeof c === 'number'))
    retryOn.push(503);
  const perTry = ms(r.perTryTimeout);
  return { attempts, retryOn, ...(perTry ? { perTryTimeout: perTry } : {}) };
}

function faultOf(f: NonNullable<IstioHTTPRoute['fault']>): FilterInput | undefined {
  const fault: { delay?: { fixedDelay: number; percentage: number }; abort?: Record<string, unknown> } = {};
  const delay = f.delay;
  const fixed = ms(delay?.fixedDelay);
  if (delay && fixed !== undefined)
    fault.delay = { fixedDelay: fixed, percentage: delay.percentage?.value ?? delay.percent ?? 100 };
  const abort = f.abort;
  if (abort && (abort.httpStatus !== undefined || abort.grpcStatus !== undefined))
    fault.abort = {
      ...(abort.httpStatus !== undefined
        ? { httpStatus: abort.httpStatus }
        : { grpcStatus: abort.grpcStatus }),
      percentage: abort.percentage?.value ?? 100,
    };
  if (!fault.delay && !fault.abort) return undefined;
  return { type: 'Fault', fault } as FilterInput;
}

function corsOf(c: NonNullable<IstioHTTPRoute['corsPolicy']>): FilterInput {
  const origins = [
    ...(c.allowOrigins ?? []).map((m) =>
      m.exact !== undefined
        ? { type: 'Exact' as const, value: m.exact }
        : m.prefix !== undefined
          ? { type: 'Prefix' as const, value: m.prefix }
          : { type: 'RegularExpression' as const, value: m.regex ?? '' },
    ),
    ...(c.allowOrigin ?? []).map((o) =>
      o === '*' ? { type: 'RegularExpression' as const, value: '.*' } : { type: 'Exact' as const, value: o },
    ),
  ];
  const maxAge = ms(c.maxAge);
  return {
    type: 'CORS',
    cors: {
      allowOrigins: origins,
      allowMethods: c.allowMethods ?? [],
      allowHeaders: c.allowHeaders ?? [],
      exposeHeaders: c.exposeHeaders ?? [],
      ...(maxAge !== undefined ? { maxAge } : {}),
      allowCredentials: c.allowCredentials ?? false,
      unmatchedPreflights: c.unmatchedPreflights === 'IGNORE' ? 'IGNORE' : 'FORWARD',
    },
  } as FilterInput;
}

export const policyExtras: PolicyExtras = (p: TrafficPolicy) => {
  const out: Partial<BackendInput> = {};
  const tcp = p.connectionPool?.tcp;
  const http = p.connectionPool?.http;
  const breaker = {
    maxConnections: limit(tcp?.maxConnections),
    maxPendingRequests: limit(http?.http1MaxPendingRequests),
    maxRequests: limit(http?.http2MaxRequests),
    maxRetries: limit(http?.maxRetries),
  };
  const set = Object.fromEntries(Object.entries(breaker).filter(([, v]) => v !== undefined));
  if (Object.keys(set).length > 0) out.circuitBreaker = set;
  if (limit(http?.maxRequestsPerConnection)) out.maxRequestsPerConnection = http?.maxRequestsPerConnection;
  const connect = ms(tcp?.connectTimeout);
  if (connect) out.connectTimeout = connect;
  const idle = ms(http?.idleTimeout);
  if (idle) out.idleTimeout = idle;
  const o = p.outlierDetection;
  if (o) {
    out.outlierDetection = {
      // Istio: unset is 5; 0 turns it off. The deprecated consecutiveErrors counted gateway errors.
      consecutive5xx: o.consecutive5xxErrors ?? 5,
      consecutiveGatewayErrors: o.consecutiveGatewayErrors ?? o.consecutiveErrors ?? 0,
      ...(ms(o.interval) ? { interval: ms(o.interval) } : {}),
      ...(ms(o.baseEjectionTime) ? { baseEjectionTime: ms(o.baseEjectionTime) } : {}),
      ...(o.maxEjectionPercent !== undefined ? { maxEjectionPercent: o.maxEjectionPercent } : {}),
      ...(o.minHealthPercent !== undefined ? { minHealthPercent: o.minHealthPercent } : {}),
    };
  }
  const budget = p.retryBudget;
  if (budget)
    out.retryBudget = {
      ...(budget.percent !== undefined ? { percent: budget.percent } : {}),
      ...(budget.minRetryConcurrency !== undefined
        ? { minRetryConcurrency: budget.minRetryConcurrency }
        : {}),
    };
  return Object.keys(out).length > 0 ? out : undefined;
};
