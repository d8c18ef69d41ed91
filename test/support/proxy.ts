/**
 * Starts a real proxy in this process with a config built by the test; every listener on port 0 so
 * tests run in parallel. `port(name)` gives the bound port of an outbound or inbound listener.
 */
import type { ProxyConfigInput } from '../../src/api/index.ts';
import { createLogger, silentLogger } from '../../src/core/index.ts';
import { ProxyServer } from '../../src/proxy/index.ts';

export interface TestProxy {
  proxy: ProxyServer;
  port(service: string): number;
  adminPort: number;
  url(service: string, path?: string): string;
  apply(config: ProxyConfigInput): Promise<Awaited<ReturnType<ProxyServer['apply']>>>;
  close(): Promise<void>;
}

export async function startProxy(
  config: ProxyConfigInput,
  options: { random?: () => number } = {},
): Promise<TestProxy> {
  const logger = process.env.WEFT_TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger;
  const proxy = new ProxyServer({ logger, random: options.random });
  const withAdmin: ProxyConfigInput = { admin: { address: '127.0.0.1', port: 0 }, ...config };
  await proxy.apply(withAdmin, 'test');
  const port = (service: string) => {
    const l = proxy
      .listeners()
      .find((x) => x.service === service || (service === 'http-proxy' && x.kind === 'http-proxy'));
    if (!l) throw new Error(`no listener for ${service}`);
    return l.port;
  };
  return {
    proxy,
    port,
    adminPort: proxy.adminPort(),
    url: (service, path = '/') => `http://127.0.0.1:${port(service)}${path}`,
    apply: (c) => proxy.apply({ admin: { address: '127.0.0.1', port: 0 }, ...c }, 'test'),
    close: () => proxy.shutdown(0),
  };
}

/** One outbound HTTP service listening on port 0, routing everything to the given backends. */
export function simpleConfig(
  endpoints: Array<{ name: string; port: number; protocol?: 'http1' | 'http2' }>,
  extra: Partial<ProxyConfigInput['outbound'] extends Array<infer O> | undefined ? O : never> = {},
): ProxyConfigInput {
  return {
    outbound: [
      {
        name: 'svc',
        port: 80,
        listen: { address: '127.0.0.1', port: 0 },
        protocol: 'http1',
        routes: [{ backends: endpoints.map((e) => ({ backend: e.name })) }],
        ...extra,
      },
    ],
    backends: endpoints.map((e) => ({
      name: e.name,
      protocol: e.protocol ?? 'http1',
      endpoints: [{ address: '127.0.0.1', port: e.port }],
    })),
  };
}
