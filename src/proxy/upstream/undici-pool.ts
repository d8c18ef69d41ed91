/**
 * undici's Pool for HTTP/2 endpoints, loaded only when a config has one. `import { Pool } from 'undici'`
 * loads all of undici (fetch, web streams, cache, mocks): measured 9.7 MB of private memory per proxy; the
 * pool module alone costs about 6 MB, and an HTTP/1.1-only proxy (Weft's own client) pays nothing.
 * undici has no exports map, so the file is reachable; the type still comes from the package.
 */
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';
import type { UpstreamPool } from './types.ts';

const require = createRequire(import.meta.url);
let PoolClass: typeof UndiciPool | undefined;

export function createHttp2Pool(
  address: string,
  port: number,
  settings: { connectTimeout: number; idleTimeout: number; maxConnections: number },
): UpstreamPool {
  PoolClass ??= require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
  const host = address.includes(':') ? `[${address}]` : address;
  const options: UndiciPool.Options & { useH2c: boolean } = {
    connections: settings.maxConnections,
    connectTimeout: settings.connectTimeout,
    keepAliveTimeout: settings.idleTimeout,
    keepAliveMaxTimeout: settings.idleTimeout,
    // The proxy enforces the route timeout itself; undici's own must not fire first.
    headersTimeout: 0,
    bodyTimeout: 0,
    allowH2: true,
    // Pool builds its connector from the top-level `useH2c` only (undici 8 lib/dispatcher/pool.js);
    // `h2Options.useH2c` alone leaves the socket speaking HTTP/1.1 to an h2c endpoint.
    useH2c: true,
    h2Options: { useH2c: true, maxConcurrentStreams: 100 },
  };
  return new PoolClass(`http://${host}:${port}`, options) as unknown as UpstreamPool;
}
