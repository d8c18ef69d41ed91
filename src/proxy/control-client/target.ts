/**
 * Where the control plane listens, as `--control-plane` spells it: `unix:<path>` (the local runtime's
 * socket, which crosses network namespaces) or `http://<host>:<port>` (h2c over TCP). TLS comes with the
 * proxy's certificate, in a later issue.
 */

export type ControlTarget =
  | { kind: 'unix'; path: string; authority: string }
  | { kind: 'tcp'; host: string; port: number; authority: string };

export function parseControlTarget(target: string): ControlTarget {
  if (target.startsWith('unix:')) {
    const path = target.slice('unix:'.length);
    if (path === '') throw new Error(`control plane target "${target}": the socket path is empty`);
    // The authority is only the :authority pseudo-header here; nothing resolves it.
    return { kind: 'unix', path, authority: 'http://localhost' };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new Error(`control plane target "${target}": use unix:<path> or http://<host>:<port>`);
  }
  if (url.protocol !== 'http:')
    throw new Error(`control plane target "${target}": only unix: and http: (h2c) are supported for now`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '')
    throw new Error(`control plane target "${target}": give only a host and a port`);
  const port = url.port === '' ? 80 : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { kind: 'tcp', host, port, authority: `http://${url.host}` };
}
