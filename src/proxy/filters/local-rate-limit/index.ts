/**
 * LocalRateLimit (Envoy's local rate limit filter, source/extensions/filters/http/local_ratelimit, which
 * Istio users configure through EnvoyFilter): a token bucket shared by every connection and stream of the
 * proxy, per route or, in an inbound entry's filters, per port. A request the bucket has no token for is
 * answered by the proxy with the configured status (429), `weft-error: RATE_LIMITED` and the configured
 * headers.
 *
 * Envoy's runtime fractions become percentages: `filterEnabled` is the share of requests checked at all
 * (the others pass without taking a token), `filterEnforced` the share of over-the-limit requests that are
 * rejected (the others go on, counted with enforced="false"). Descriptors (Envoy's per-descriptor buckets,
 * with the route's rate_limits actions written as a request match) add buckets for some requests: a
 * request takes a token from each descriptor bucket it matches, the slowest-filling first, then from the
 * main bucket, and the first empty one decides, as Envoy's LocalRateLimiterImpl::requestAllowed does.
 *
 * Buckets come from the filter state cache, keyed by the filter's place and its settings, so a config
 * reload that leaves them unchanged keeps the tokens; refill is lazy on the context's clock (bucket.ts).
 */
import type { FilterConfig } from '../../../api/index.ts';
import { GrpcStatus } from '../../../core/index.ts';
import type { Counter } from '../../metrics/index.ts';
import { compileMatch, type RequestView } from '../../router/index.ts';
import type { Admission, FilterContext, FilterFactory, HttpFilter, LocalReply, Verdict } from '../types.ts';
import { TokenBucket, type TokenBucketSettings } from './bucket.ts';

export { TokenBucket, type TokenBucketSettings } from './bucket.ts';

export type LocalRateLimitConfig = Extract<FilterConfig, { type: 'LocalRateLimit' }>['localRateLimit'];

function bucketKey(context: FilterContext, what: string, s: TokenBucketSettings): string {
  const l = context.labels;
  return `local-rate-limit|${l.direction}|${l.service}|${l.route}|${what}|${s.maxTokens}|${s.tokensPerFill}|${s.fillInterval}`;
}

function acquireBucket(context: FilterContext, what: string, s: TokenBucketSettings): TokenBucket {
  return context.state.acquire(bucketKey(context, what, s), () => new TokenBucket(s, context.now));
}

/** A sampler for a percentage: undefined when it never fires, `true` when it always does. */
function sampler(percent: number, random: () => number): (() => boolean) | true | undefined {
  if (!(percent > 0)) return undefined;
  if (percent >= 100) return true;
  return () => random() * 100 < percent;
}

export const localRateLimit: FilterFactory<LocalRateLimitConfig> = {
  type: 'LocalRateLimit',
  build(config, context): HttpFilter {
    const enabled = sampler(config.filterEnabled, context.random);
    if (enabled === undefined) return {};
    const enforced = sampler(config.filterEnforced, context.random);
    const main = acquireBucket(context, 'main', config.tokenBucket);
    // Slowest-filling first, as Envoy sorts the matched descriptors by fill rate.
    const descriptors = config.descriptors
      .map((d, i) => ({
        match: compileMatch(d.match),
        bucket: acquireBucket(context, `descriptor${i}`, d.tokenBucket),
        rate: d.tokenBucket.tokensPerFill / d.tokenBucket.fillInterval,
      }))
      .sort((a, b) => a.rate - b.rate);
    const reply: LocalReply = {
      kind: 'reply',
      status: config.status,
      code: 'RATE_LIMITED',
      grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
      headers: Object.fromEntries(
        Object.entries(config.responseHeadersToAdd).map(([k, v]) => [k.toLowerCase(), v]),
      ),
    };
    const limited = (enforcedLabel: 'true' | 'false'): Counter =>
      context.metrics.counter(
        'weft_rate_limited_total',
        'Requests a LocalRateLimit filter found over the limit; enforced="false" ones went on (filterEnforced).',
        { ...context.labels, enforced: enforcedLabel },
      );
    const rejected = limited('true');
    const counted = limited('false');
    const xHeaders = config.enableXRateLimitHeaders;

    /**
     * Takes the request's tokens; `decided` is then the bucket that decided: the first empty one, else the
     * first matched descriptor's, else main (Envoy's token_bucket_context, which the x-ratelimit headers
     * describe). Kept in the closure, not returned in an object, so a request allocates nothing.
     */
    let decided = main;
    const take = (request: RequestView): boolean => {
      let first: TokenBucket | undefined;
      for (const d of descriptors) {
        if (d.match.usesQuery) request.params ??= new URLSearchParams(request.query);
        if (!d.match.test(request)) continue;
        if (!d.bucket.consume()) {
          decided = d.bucket;
          return false;
        }
        first ??= d.bucket;
      }
      decided = main;
      if (!main.consume()) return false;
      if (first !== undefined) decided = first;
      return true;
    };

    return {
      onAdmit(admission: Admission): Verdict | undefined {
        if (enabled !== true && !enabled()) return undefined;
        const ok = descriptors.length === 0 ? main.consume() : take(admission.request);
        const bucket = descriptors.length === 0 ? main : decided;
        if (xHeaders) {
          const h = (admission.responseHeaders ??= {});
          h['x-ratelimit-limit'] = String(bucket.maxTokens);
          h['x-ratelimit-remaining'] = String(bucket.remaining);
          h['x-ratelimit-reset'] = String(bucket.resetSeconds);
        }
        if (ok) return undefined;
        if (enforced === true || enforced?.() === true) {
          rejected.inc();
          return reply;
        }
        counted.inc();
        return undefined;
      },
    };
  },
};
