/**
 * A stand-in for httpbin as Istio's samples deploy it (docker.io/mccutchen/go-httpbin, formerly
 * docker.io/kennethreitz/httpbin), with the endpoints Istio's tasks use: /get, /headers, /ip,
 * /user-agent, /anything[/…], /post /put /patch /delete, /status/<codes>, /delay/<s> (at most 10 s),
 * /json, /html, /response-headers, /uuid and /hostname. JSON follows go-httpbin: header names in
 * canonical form with lists of values, `origin` from X-Forwarded-For when present.
 *
 * /status takes a comma list, optionally weighted (`200:0.9,503:0.1`), and picks one at random, as
 * go-httpbin does. Each request is logged on one line, which the mirroring task reads (with its Host, so
 * a mirror's `-shadow` host shows).
 *
 * Env: PORT (default 8080, go-httpbin's container port; Istio's Service maps 8000 to it).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { sendText } from '../common/respond.ts';
import { instanceName, portFromEnv, serve } from '../common/serve.ts';

const MAX_DELAY_S = 10;

type Json = Record<string, unknown>;

function canonical(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** Headers as go-httpbin shows them: canonical names, every value a list (Host included). */
function headersOf(req: http.IncomingMessage): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = canonical((req.rawHeaders[i] ?? '').toLowerCase());
    (out[name] ??= []).push(req.rawHeaders[i + 1] ?? '');
  }
  return out;
}

function argsOf(url: URL): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (out[k] ??= []).push(v);
  return out;
}

function originOf(req: http.IncomingMessage): string {
  const xff = req.headers['x-forwarded-for'];
  const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
  return first || (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

function fullUrl(req: http.IncomingMessage, url: URL): string {
  const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}${url.pathname}${url.search}`;
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
) {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1024 * 1024) return req.destroy(new Error('body too large'));
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function describe(req: http.IncomingMessage, url: URL, withBody: boolean): Promise<Json> {
  const base: Json = {
    args: argsOf(url),
    headers: headersOf(req),
    method: req.method,
    origin: originOf(req),
    url: fullUrl(req, url),
  };
  if (!withBody) return base;
  const body = await readBody(req);
  const text = body.toString('utf8');
  const type = String(req.headers['content-type'] ?? '');
  let json: unknown = null;
  if (type.includes('json') && text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  const form: Record<string, string[]> = {};
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(text)) (form[k] ??= []).push(v);
  }
  return { ...base, data: text, files: {}, form, json };
}

/** One status from "418", "200,503" or "200:0.9,503:0.1" (weights need not sum to 1). */
function pickStatus(spec: string): number | undefined {
  const choices = spec.split(',').map((part) => {
    const [code = '', weight] = part.split(':');
    return { code: Number(code), weight: weight === undefined ? 1 : Number(weight) };
  });
  if (choices.some((c) => !Number.isInteger(c.code) || c.code < 100 || c.code > 599 || !(c.weight >= 0))) {
    return undefined;
  }
  const total = choices.reduce((s, c) => s + c.weight, 0);
  let r = Math.random() * total;
  for (const c of choices) {
    r -= c.weight;
    if (r < 0) return c.code;
  }
  return choices[choices.length - 1]?.code;
}

const SLIDESHOW = {
  slideshow: {
    author: 'Yours Truly',
    date: 'date of publication',
    slides: [
      { title: 'Wake up to WonderWidgets!', type: 'all' },
      {
        items: ['Why <em>WonderWidgets</em> are great', 'Who <em>buys</em> WonderWidgets'],
        title: 'Overview',
        type: 'all',
      },
    ],
    title: 'Sample Slide Show',
  },
};

const HTML = `<!DOCTYPE html>
<html>
  <head></head>
  <body>
      <h1>Herman Melville - Moby-Dick</h1>
      <div>
        <p>Availing himself of the mild, summer-cool weather that now reigned in these latitudes, and in
        preparation for the peculiarly active pursuits shortly to be anticipated, Perth, the begrimed,
        blistered old blacksmith, had not removed his portable forge to the hold again.</p>
      </div>
  </body>
</html>
`;

const INDEX = `<!DOCTYPE html>
<html><head><title>httpbin</title></head><body>
<h1>httpbin (Weft sample)</h1>
<ul>${[
  '/get',
  '/headers',
  '/ip',
  '/user-agent',
  '/anything',
  '/status/418',
  '/delay/1',
  '/json',
  '/html',
  '/response-headers?foo=bar',
  '/uuid',
  '/hostname',
]
  .map((p) => `<li><a href="${p}">${p}</a></li>`)
  .join('')}</ul>
</body></html>
`;

const TEAPOT = `
    -=[ teapot ]=-

       _...._
     .'  _ _ \`.
    | ."\` ^ \`". _,
    \\_;\`"---"\`|//
      |       ;/
      \\_     _/
        \`"""\`
`;

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://httpbin');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const methodIs = (...allowed: string[]) => {
    if (allowed.includes(method)) return true;
    sendText(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n');
    return false;
  };

  if (path === '/') return sendText(res, 200, 'text/html; charset=utf-8', INDEX);
  if (path === '/get')
    return methodIs('GET', 'HEAD') ? send(res, 200, await describe(req, url, false)) : undefined;
  if (path === '/headers') return send(res, 200, { headers: headersOf(req) });
  if (path === '/ip') return send(res, 200, { origin: originOf(req) });
  if (path === '/user-agent') return send(res, 200, { 'user-agent': req.headers['user-agent'] ?? '' });
  if (path === '/uuid') return send(res, 200, { uuid: randomUUID() });
  if (path === '/hostname') return send(res, 200, { hostname: instanceName() });
  if (path === '/anything' || path.startsWith('/anything/'))
    return send(res, 200, await describe(req, url, true));
  const verb = /^\/(post|put|patch|delete)$/.exec(path)?.[1];
  if (verb) return methodIs(verb.toUpperCase()) ? send(res, 200, await describe(req, url, true)) : undefined;
  if (path === '/json') return send(res, 200, SLIDESHOW);
  if (path === '/html') return sendText(res, 200, 'text/html; charset=utf-8', HTML);

  const status = /^\/status\/([^/]+)$/.exec(path);
  if (status) {
    const code = pickStatus(decodeURIComponent(status[1] ?? ''));
    if (code === undefined) return sendText(res, 400, 'text/plain; charset=utf-8', 'Invalid status\n');
    if (code === 418) return sendText(res, 418, 'text/plain; charset=utf-8', TEAPOT);
    const headers: http.OutgoingHttpHeaders = { 'content-length': 0 };
    if (code >= 300 && code < 400 && code !== 304) headers.location = '/redirect/1';
    if (code === 401) headers['www-authenticate'] = 'Basic realm="Fake Realm"';
    res.writeHead(code, headers);
    res.end();
    return;
  }

  const delay = /^\/delay\/([^/]+)$/.exec(path);
  if (delay) {
    const seconds = Number(delay[1]);
    if (!Number.isFinite(seconds) || seconds < 0) {
      return sendText(res, 400, 'text/plain; charset=utf-8', 'Invalid duration\n');
    }
    const ms = Math.min(seconds, MAX_DELAY_S) * 1000;
    const body = await describe(req, url, method !== 'GET' && method !== 'HEAD');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      res.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (!res.destroyed) send(res, 200, body);
    return;
  }

  if (path === '/response-headers') {
    const headers: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) (headers[k] ??= []).push(v);
    const body: Record<string, string[]> = {
      'Content-Type': ['application/json; charset=utf-8'],
      ...headers,
    };
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    return send(res, 200, body);
  }

  sendText(res, 404, 'text/plain; charset=utf-8', 'Not Found\n');
}

const server = http.createServer((req, res) => {
  const started = performance.now();
  res.once('finish', () => {
    const ms = (performance.now() - started).toFixed(1);
    console.log(
      `time=${new Date().toISOString()} status=${res.statusCode} method=${req.method} uri=${req.url} host=${JSON.stringify(req.headers.host ?? '')} duration_ms=${ms} user_agent=${JSON.stringify(req.headers['user-agent'] ?? '')}`,
    );
  });
  handle(req, res).catch((err: Error) => {
    if (!res.headersSent) sendText(res, 500, 'text/plain; charset=utf-8', `${err.message}\n`);
    else res.destroy();
  });
});

await serve(server, { name: 'httpbin', port: portFromEnv(8080) });
