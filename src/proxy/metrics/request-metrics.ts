/**
 * The per-(service, route, backend) request metrics, bound at compile time. Method and status are only
 * known per request, so their series are created on first use and cached in small arrays: after warm-up
 * an observation allocates nothing.
 */
import type { Counter, Histogram, MetricsRegistry } from './registry.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'CONNECT':
      return 5;
    case 'OPTIONS':
      return 6;
    case 'TRACE':
      return 7;
    case 'PATCH':
      return 8;
    default:
      return 9;
  }
}

export class RequestMetrics {
  readonly #registry: MetricsRegistry;
  readonly #labels: Record<string, string>;
  readonly #requests: Array<Array<Counter | undefined> | undefined> = [];
  readonly #errors = new Map<string, Counter>();
  readonly duration: Histogram;
  readonly requestBytes: Counter;
  readonly responseBytes: Counter;

  constructor(registry: MetricsRegistry, labels: Record<string, string>) {
    this.#registry = registry;
    this.#labels = labels;
    this.duration = registry.histogram(
      'weft_request_duration_milliseconds',
      'Time from request start to the end of the response, in milliseconds.',
      labels,
    );
    this.requestBytes = registry.counter('weft_request_bytes_total', 'Request body bytes received.', labels);
    this.responseBytes = registry.counter('weft_response_bytes_total', 'Response body bytes sent.', labels);
  }

  /** Counts one finished request. `error` is the weft-error code when the proxy generated the response. */
  record(method: string, status: number, ms: number, error: string | undefined): void {
    this.duration.observe(ms);
    const mi = methodIndex(method);
    if (error) {
      // Proxy-generated responses are rare; a string key is fine here.
      const key = `${mi} ${status} ${error}`;
      let c = this.#errors.get(key);
      if (!c) this.#errors.set(key, (c = this.#series(mi, status, error)));
      c.value++;
      return;
    }
    let byStatus = this.#requests[mi];
    if (!byStatus) byStatus = this.#requests[mi] = [];
    let c = byStatus[status];
    if (!c) c = byStatus[status] = this.#series(mi, status, undefined);
    c.value++;
  }

  #series(mi: number, status: number, error: string | undefined): Counter {
    return this.#registry.counter('weft_requests_total', 'Requests handled, by outcome.', {
      ...this.#labels,
      method: METHODS[mi] ?? 'OTHER',
      response_code: String(status),
      response_flags: error ?? '-',
    });
  }
}
