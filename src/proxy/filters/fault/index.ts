/**
 * Fault (Istio's HTTPFaultInjection, Envoy's fault filter, source/extensions/filters/http/fault): a sampled
 * share of requests is held for a fixed delay before it goes on, and a sampled share is answered by the
 * proxy with a configured status instead of reaching the upstream. As in Envoy, delay and abort are
 * sampled independently, so a request may be delayed and then aborted; an abort with `grpcStatus` answers
 * HTTP 200 with that grpc-status, and one with `httpStatus` answers a gRPC request with gRPC's mapping of
 * the status (Grpc::Utility::httpToGrpcStatus).
 *
 * Everything is decided in the admit phase from verdicts built here, so a request costs one or two random
 * draws and no allocation. Delays are counted in weft_fault_delays_total; aborts carry
 * `weft-error: FAULT_ABORT`, which the request metrics record as the response_flags label.
 */
import type { FilterConfig } from '../../../api/index.ts';
import { grpcStatusCode, grpcStatusForHttp } from '../../../core/index.ts';
import type { FilterFactory, Hold, HttpFilter, LocalReply, Verdict } from '../types.ts';

export type FaultConfig = Extract<FilterConfig, { type: 'Fault' }>['fault'];

/** The reply an abort sends. */
export function abortReply(abort: NonNullable<FaultConfig['abort']>): LocalReply {
  if (abort.httpStatus !== undefined) {
    return {
      kind: 'reply',
      status: abort.httpStatus,
      code: 'FAULT_ABORT',
      grpcStatus: grpcStatusForHttp(abort.httpStatus),
      headers: undefined,
    };
  }
  const grpc = abort.grpcStatus === undefined ? undefined : grpcStatusCode(abort.grpcStatus);
  // validate.ts requires exactly one of the two; a compile that gets here anyway must not go on.
  if (grpc === undefined) throw new Error('Fault: abort needs httpStatus or a valid grpcStatus');
  return { kind: 'reply', status: 200, code: 'FAULT_ABORT', grpcStatus: grpc, headers: undefined };
}

/** A sampler for a percentage: undefined when it never fires, `true` when it always does. */
function sampler(percent: number, random: () => number): (() => boolean) | true | undefined {
  if (!(percent > 0)) return undefined;
  if (percent >= 100) return true;
  return () => random() * 100 < percent;
}

export const fault: FilterFactory<FaultConfig> = {
  type: 'Fault',
  build(config, context): HttpFilter {
    const delay = config.delay && config.delay.fixedDelay > 0 ? config.delay : undefined;
    const delayed = delay ? sampler(delay.percentage, context.random) : undefined;
    const aborted = config.abort ? sampler(config.abort.percentage, context.random) : undefined;
    if (delayed === undefined && aborted === undefined) return {};
    const reply = config.abort ? abortReply(config.abort) : undefined;
    const ms = delay?.fixedDelay ?? 0;
    const hold: Hold = { kind: 'hold', ms, reply: undefined };
    const holdThenAbort: Hold = { kind: 'hold', ms, reply };
    const delays = context.metrics.counter(
      'weft_fault_delays_total',
      'Requests a Fault filter held before they went on (or were aborted).',
      context.labels,
    );
    return {
      onAdmit(): Verdict | undefined {
        const abort = aborted === true || aborted?.() === true;
        if (delayed === true || delayed?.() === true) {
          delays.inc();
          return abort ? holdThenAbort : hold;
        }
        return abort ? reply : undefined;
      },
    };
  },
};
