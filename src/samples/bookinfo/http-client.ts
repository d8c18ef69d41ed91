/**
 * The one outbound HTTP helper of the Bookinfo stand-ins (productpage → details/reviews/ratings,
 * reviews → ratings, and the traffic generator): a GET with a per-attempt timeout, a fixed number of
 * attempts, the headers Istio's samples propagate, and `HTTP_PROXY` honoured by the helper itself.
 *
 * Why the proxy is handled here and not left to Node: with NODE_USE_ENV_PROXY=1, Node 24.21 sends
 * `http.request` through the global agent as an absolute-form request to the proxy (what Weft's explicit
 * mode expects), but `fetch` opens a CONNECT tunnel instead, and a private `http.Agent` ignores the
 * variables altogether (all three checked on this machine). Sending absolute-form requests to the proxy
 * over our own agent behaves the same whether or not NODE_USE_ENV_PROXY is set. NO_PROXY is honoured.
 *
 * Retries follow the original programs exactly: productpage.py tries reviews twice (3 s each, "a bug
 * introduced explicitly for illustration in the fault injection task"), details and ratings once; any
 * status other than 200, a connection error or a timeout counts as a failed attempt.
 */
import http from 'node:http';
import { proxyFor } from '../common/proxy.ts';

/**
 * The headers the samples forward from an inbound request to their outbound calls, from the lists in
 * productpage.py and LibertyRestEndpoint.java (request id, Lightstep, Datadog, W3C, Cloud Trace, gRPC
 * binary, B3 multi and single header, SkyWalking, then the context headers). `end-user` is forwarded by
 * reviews; productpage sets it from its login cookie instead.
 */
export const PROPAGATED_HEADERS = [
  'x-request-id',
  'x-ot-span-context',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'traceparent',
  'tracestate',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'sw8',
  'user-agent',
  'cookie',
  'authorization',
  'jwt',
] as const;

/** Copies the named headers that are present on `incoming` (repeated values joined as Node joins them). */
export function pickHeaders(
  incoming: http.IncomingHttpHeaders,
  names: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = incoming[name];
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export interface GetOptions {
  /** Per attempt, from sending the request to the end of the response body. */
  timeoutMs: number;
  /** Total tries; 1 means no retry. */
  attempts?: number;
  headers?: Record<string, string>;
  /** Defaults to process.env; tests pass their own. */
  env?: NodeJS.ProcessEnv;
}

export interface GetResult {
  /** The last response's status, or 0 when no response arrived (refused, reset, timed out). */
  status: number;
  body: string;
  /** How many attempts were made. */
  attempts: number;
  /** Why the last attempt failed, when it did. */
  error?: string;
}

// One agent for all calls, never Node's global agent: see the module comment. No keep-alive, as the
// originals (Python requests without a session, a new JAX-RS client per call) open a connection per
// call; a reused socket closed by the peer would also turn into a spurious failure with one attempt.
const agent = new http.Agent({ keepAlive: false });

/** GETs `url`, retrying on anything but 200 until `attempts` are used. */
export async function get(url: string, options: GetOptions): Promise<GetResult> {
  const attempts = Math.max(1, options.attempts ?? 1);
  let last: GetResult = { status: 0, body: '', attempts: 0 };
  for (let i = 1; i <= attempts; i++) {
    last = { ...(await attempt(url, options)), attempts: i };
    if (last.status === 200) break;
  }
  return last;
}

/** GET and parse JSON; `json` is set only for a 200 with a JSON body. */
export async function getJson(url: string, options: GetOptions): Promise<GetResult & { json?: unknown }> {
  const result = await get(url, options);
  if (result.status !== 200) return result;
  try {
    return { ...result, json: JSON.parse(result.body) as unknown };
  } catch (err) {
    return { ...result, error: `invalid JSON from ${url}: ${(err as Error).message}` };
  }
}

function attempt(url: string, options: GetOptions): Promise<Omit<GetResult, 'attempts'>> {
  const target = new URL(url);
  const proxy = proxyFor(target, options.env ?? process.env);
  const headers: Record<string, string> = { ...options.headers, host: target.host };
  const request: http.RequestOptions = proxy
    ? {
        // Absolute-form request line (RFC 9112 §3.2.2), as a forward proxy expects.
        host: proxy.hostname.replace(/^\[|\]$/g, ''),
        port: Number(proxy.port || 80),
        path: target.href,
        headers,
      }
    : {
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: Number(target.port || 80),
        path: `${target.pathname}${target.search}`,
        headers,
      };
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: Omit<GetResult, 'attempts'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = http.request({ ...request, method: 'GET', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => done({ status: 0, body: '', error: err.message }));
    });
    const timer = setTimeout(() => {
      done({ status: 0, body: '', error: `timed out after ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({ status: 0, body: '', error: err.code ?? err.message }),
    );
    req.end();
  });
}

/**
 * Base URL of a Bookinfo service, built as the originals build it: `<NAME>_HOSTNAME` (default the service
 * name) plus `.<SERVICES_DOMAIN>` when set, and `<NAME>_SERVICE_PORT` (default 9080; Kubernetes injects
 * this variable for every service, which is why the originals read it).
 */
export function serviceBase(
  service: 'details' | 'reviews' | 'ratings',
  env: NodeJS.ProcessEnv = process.env,
) {
  const key = service.toUpperCase();
  const host = env[`${key}_HOSTNAME`] || service;
  const domain = env.SERVICES_DOMAIN ? `.${env.SERVICES_DOMAIN}` : '';
  const port = env[`${key}_SERVICE_PORT`] || '9080';
  const name = `${host}${domain}`;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}
