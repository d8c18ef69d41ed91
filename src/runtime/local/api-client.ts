/** A small client of the control plane's HTTP API, over its Unix socket or TCP port. */
import http from 'node:http';

export interface ControlTarget {
  socketPath?: string | undefined;
  port?: number | undefined;
}

export function requestControl(
  target: ControlTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
  timeoutMs = 5000,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...(target.socketPath ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers:
          body !== undefined
            ? { 'content-type': 'application/yaml', 'content-length': Buffer.byteLength(body) }
            : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
          } catch {
            reject(new Error(`the control plane answered ${res.statusCode} with something that is not JSON`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`the control plane did not answer ${path} within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function getJson<T>(target: ControlTarget, path: string): Promise<T> {
  const r = await requestControl(target, 'GET', path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as T;
}

/** GET on a sidecar's admin socket (readiness, probes). */
export function adminGet(
  socketPath: string,
  path: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
  });
}
