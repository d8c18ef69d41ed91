/**
 * Which forward proxy an outbound call of a sample uses: HTTP_PROXY/http_proxy, unless NO_PROXY/no_proxy
 * names the destination (host suffixes, optional :port, `*` for all). Weft's explicit mode sets these
 * for every application (NO_PROXY covers 127.0.0.1 and localhost); transparent mode sets none.
 */

/** The forward proxy for `target` from HTTP_PROXY/http_proxy, unless NO_PROXY/no_proxy excludes it. */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv): URL | undefined {
  const raw = env.HTTP_PROXY || env.http_proxy;
  if (!raw || target.protocol !== 'http:') return undefined;
  const noProxy = (env.NO_PROXY || env.no_proxy || '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || '80';
  for (const entry of noProxy) {
    if (entry === '*') return undefined;
    // "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 address (several colons, no port).
    const [name = '', entryPort] = entry.startsWith('[')
      ? [entry.slice(1, entry.indexOf(']')), entry.split(']:')[1]]
      : entry.indexOf(':') !== entry.lastIndexOf(':')
        ? [entry]
        : entry.split(':');
    if (entryPort && entryPort !== port) continue;
    const bare = name.replace(/^\*?\./, '');
    if (host === bare || host.endsWith(`.${bare}`)) return undefined;
  }
  return new URL(raw.includes('://') ? raw : `http://${raw}`);
}
