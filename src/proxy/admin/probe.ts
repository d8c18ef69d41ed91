/**
 * Application readiness probes run by the sidecar for the local runtime (`/probe/http`, `/probe/tcp`), as
 * Istio's agent rewrites Kubernetes probes: the runtime lives outside the workload's network namespace,
 * the sidecar inside it, next to the application, and its own traffic is never intercepted.
 */
import http from 'node:http';
import net from 'node:net';

export type ProbeResult = { ok: boolean; detail: string };

export function probeTcp(port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, detail: 'timeout' }), timeoutMs);
    socket.once('connect', () => done({ ok: true, detail: 'connected' }));
    socket.once('error', (e) => done({ ok: false, detail: e.message }));
  });
}

/** Kubernetes semantics: a status from 200 to 399 is success. */
export function probeHttp(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, detail: `HTTP ${code}` });
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (e) => resolve({ ok: false, detail: e.message }));
  });
}

/** Serves `/probe/tcp?port=N` and `/probe/http?port=N&path=/x`: 200 when the application answers, else 503. */
export function handleProbe(url: string, res: http.ServerResponse): void {
  const u = new URL(url, 'http://admin');
  const port = Number(u.searchParams.get('port'));
  const timeout = Math.min(Number(u.searchParams.get('timeoutMs') ?? 1000) || 1000, 30_000);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('port must be 1-65535\n');
    return;
  }
  const run =
    u.pathname === '/probe/http'
      ? probeHttp(port, u.searchParams.get('path') ?? '/', timeout)
      : probeTcp(port, timeout);
  void run.then((r) => {
    res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(`${r.detail}\n`);
  });
}
