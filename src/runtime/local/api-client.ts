/** A small client of the control plane's HTTP API, over its Unix socket or TCP port. */
import http from 'node:http';

export interface ControlTarget {
  socketPath?: string | undefined;
  port?: number | undefined;
}

/** One HTTP/1.1 exchange over a Unix socket or a port on 127.0.0.1; the body as text. */
function exchange(
  target: ControlTarget,
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
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
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function requestControl(
  target: ControlTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
  timeoutMs = 5000,
): Promise<{ status: number; json: unknown }> {
  const { status, text } = await exchange(target, method, path, body, timeoutMs).catch((err: Error) => {
    throw new Error(`the control plane: ${err.message}`);
  });
  try {
    return { status, json: text ? JSON.parse(text) : undefined };
  } catch {
    throw new Error(`the control plane answered ${status} with something that is not JSON`);
  }
}

export async function getJson<T>(target: ControlTarget, path: string): Promise<T> {
  const r = await requestControl(target, 'GET', path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as T;
}

/** GET on a sidecar's admin socket (readiness, probes); status 0 when it does not answer. */
export function adminGet(
  socketPath: string,
  path: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return exchange({ socketPath }, 'GET', path, undefined, timeoutMs).then(
    (r) => ({ status: r.status, body: r.text }),
    (e: Error) => ({ status: 0, body: e.message }),
  );
}
