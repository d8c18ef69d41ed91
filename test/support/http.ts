/**
 * Small HTTP client helpers for tests: undici requests with bodies read fully, and a raw socket exchange
 * for malformed input that no well-behaved client would send.
 */
import net from 'node:net';
import { Agent, request } from 'undici';

export const agent = new Agent({ keepAliveTimeout: 1000, connections: 64 });

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export async function get(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Res> {
  const r = await request(url, {
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body,
    dispatcher: agent,
  });
  const body = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body, json: <T>() => JSON.parse(body) as T };
}

/**
 * Writes raw bytes (and with `end`, half-closes) and returns everything the server sends until it closes
 * (or the timeout).
 */
export function rawExchange(
  port: number,
  data: string | Buffer,
  timeoutMs = 2000,
  end = false,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => (end ? s.end(data) : s.write(data)));
    const timer = setTimeout(() => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(err);
    });
  });
}
