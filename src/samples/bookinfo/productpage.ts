/**
 * Bookinfo's product page, a stand-in for Istio's productpage.py (image examples-bookinfo-productpage-v1).
 * Routes as the original: GET / and /index.html (the index with the "Normal user"/"Test user" links),
 * GET /productpage (the HTML page), POST /login (form field `username`) and GET /logout, GET
 * /api/v1/products[/<id>[/reviews|/ratings]], GET /health ("Product page is healthy") and GET /metrics.
 *
 * The page calls details (one attempt) and then reviews (two attempts, the original's deliberate "bug"
 * for the fault-injection task), each attempt with a 3 s timeout, so a reviews fault shows as an error
 * after about 6 s. The error texts are the original template's. The signed-in user travels as a `user`
 * cookie and is sent on as the `end-user` header, which is what Istio's reviews-jason routes match;
 * tracing and context headers are forwarded as the original forwards them.
 *
 * Env: PORT (default 9080), DETAILS_HOSTNAME, REVIEWS_HOSTNAME, RATINGS_HOSTNAME, SERVICES_DOMAIN,
 * DETAILS_SERVICE_PORT, REVIEWS_SERVICE_PORT, RATINGS_SERVICE_PORT, HTTP_PROXY/NO_PROXY.
 */
import http from 'node:http';
import { sendJson, sendText } from '../common/respond.ts';
import { portFromEnv, serve } from '../common/serve.ts';
import { type GetResult, getJson, PROPAGATED_HEADERS, pickHeaders, serviceBase } from './http-client.ts';

const details = serviceBase('details');
const reviews = serviceBase('reviews');
const ratings = serviceBase('ratings');

const PRODUCTS = [
  {
    id: 0,
    title: 'The Comedy of Errors',
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

const DETAILS_ERROR = 'Sorry, product details are currently unavailable for this book.';
const REVIEWS_ERROR = 'Sorry, product reviews are currently unavailable for this book.';
const RATINGS_ERROR = 'Sorry, product ratings are currently unavailable for this book.';

// /metrics: calls to each backend by response code, as the original's request_result counter.
const results = new Map<string, number>();
const started = Date.now();
let pages = 0;

type Fetched = { status: number; body: Record<string, unknown> };

async function fetchFrom(
  app: 'details' | 'reviews' | 'ratings',
  url: string,
  attempts: number,
  headers: Record<string, string>,
  errorText: string,
): Promise<Fetched> {
  const r: GetResult & { json?: unknown } = await getJson(url, { timeoutMs: 3000, attempts, headers });
  const key = `destination_app="${app}",response_code="${r.status}"`;
  results.set(key, (results.get(key) ?? 0) + 1);
  if (r.json !== undefined && r.json !== null && typeof r.json === 'object') {
    return { status: 200, body: r.json as Record<string, unknown> };
  }
  console.log(`${app}: ${url} failed after ${r.attempts} attempt(s): ${r.error ?? `status ${r.status}`}`);
  // As the original: the backend's status when it answered, else 500.
  return { status: r.status && r.status !== 200 ? r.status : 500, body: { error: errorText } };
}

const getDetails = (id: string, h: Record<string, string>) =>
  fetchFrom('details', `${details}/details/${id}`, 1, h, DETAILS_ERROR);
const getReviews = (id: string, h: Record<string, string>) =>
  fetchFrom('reviews', `${reviews}/reviews/${id}`, 2, h, REVIEWS_ERROR);
const getRatings = (id: string, h: Record<string, string>) =>
  fetchFrom('ratings', `${ratings}/ratings/${id}`, 1, h, RATINGS_ERROR);

function cookies(req: http.IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    try {
      out.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // A malformed cookie is ignored, as a browser-facing app would.
    }
  }
  return out;
}

function forwardHeaders(req: http.IncomingMessage): Record<string, string> {
  const headers = pickHeaders(req.headers, PROPAGATED_HEADERS);
  const user = cookies(req).get('user');
  if (user) headers['end-user'] = user;
  return headers;
}

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font-family:sans-serif;margin:0}nav{background:#222;color:#ddd;padding:10px 20px;display:flex;justify-content:space-between}
nav a{color:#9cf}.row{display:flex;gap:40px;padding:0 20px}.col{flex:1}h3,h4{text-align:center;color:#337ab7}
blockquote{border-left:4px solid #eee;margin:10px 0;padding:5px 15px}small{display:block;color:#777}.glyphicon{font-size:18px}`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;
}

function renderIndex(): string {
  // The original renders its service tree with json2html; a flat table of the same services will do.
  const rows = [
    ['details', details],
    ['reviews', reviews],
    ['ratings (called by reviews)', ratings],
  ]
    .map(([name, base]) => `<tr><th>${esc(name)}</th><td>${esc(base)}</td></tr>`)
    .join('\n');
  return layout(
    'Simple Bookstore App',
    `<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>
<table class="table table-condensed table-bordered table-hover">
${rows}
</table>
<h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4>
<p><a href="/productpage?u=normal">Normal user</a></p>
<p><a href="/productpage?u=test">Test user</a></p>`,
  );
}

function renderStars(rating: Record<string, unknown>): string {
  if (typeof rating.stars === 'number' && rating.stars > 0) {
    const stars = Math.min(5, Math.max(0, Math.trunc(rating.stars)));
    const full = '<span class="glyphicon glyphicon-star">&#9733;</span>\n'.repeat(stars);
    const empty = '<span class="glyphicon glyphicon-star-empty">&#9734;</span>\n'.repeat(5 - stars);
    return `<font color="${esc(rating.color)}">\n<!-- full stars: -->\n${full}<!-- empty stars: -->\n${empty}</font>`;
  }
  if (rating.error) return `<p><i>${esc(rating.error)}</i></p>`;
  return '';
}

function renderProductPage(user: string, detailsR: Fetched, reviewsR: Fetched): string {
  const product = PRODUCTS[0]!;
  const nav = user
    ? `<span>&#128100; ${esc(user)} ( <a href="logout">sign out</a> )</span>`
    : `<form method="post" action="login" name="login_form">
<input type="text" name="username" id="username" placeholder="User Name">
<input type="password" name="passwd" placeholder="Password">
<button type="submit">Sign in</button></form>`;
  const d = detailsR.body;
  const detailsHtml =
    detailsR.status === 200
      ? `<h4 class="text-center text-primary">Book Details</h4>
<dl>
<dt>Type:</dt>${esc(d.type)}
<dt>Pages:</dt>${esc(d.pages)}
<dt>Publisher:</dt>${esc(d.publisher)}
<dt>Language:</dt>${esc(d.language)}
<dt>ISBN-10:</dt>${esc(d['ISBN-10'])}
<dt>ISBN-13:</dt>${esc(d['ISBN-13'])}
</dl>`
      : `<h4 class="text-center text-primary">Error fetching product details!</h4>
<p>${esc(d.error)}</p>`;
  const r = reviewsR.body;
  let reviewsHtml: string;
  if (reviewsR.status === 200) {
    const list = Array.isArray(r.reviews) ? (r.reviews as Array<Record<string, unknown>>) : [];
    const items = list
      .map((review) => {
        const rating = review.rating as Record<string, unknown> | undefined;
        return `<blockquote>
<p>${esc(review.text)}</p>
<small>${esc(review.reviewer)}</small>
${rating ? renderStars(rating) : ''}
</blockquote>`;
      })
      .join('\n');
    const cluster =
      r.clustername && r.clustername !== 'null' ? ` on cluster <u>${esc(r.clustername)}</u>` : '';
    reviewsHtml = `<h4 class="text-center text-primary">Book Reviews</h4>
${items}
<dl><dt>Reviews served by:</dt><u id="reviews-podname">${esc(r.podname)}</u>${cluster}
<span id="reviews-version" data-version="${esc(r.version ?? '')}"></span></dl>`;
  } else {
    reviewsHtml = `<h4 class="text-center text-primary">Error fetching product reviews!</h4>
<p>${esc(r.error)}</p>`;
  }
  return layout(
    'Simple Bookstore App',
    `<nav><a class="navbar-brand" href="#">BookInfo Sample</a>${nav}</nav>
<div class="container-fluid">
<h3 class="text-center text-primary">${esc(product.title)}</h3>
<p>Summary: ${product.descriptionHtml}</p>
<div class="row">
<div class="col col-md-6">
${detailsHtml}
</div>
<div class="col col-md-6">
${reviewsHtml}
</div>
</div>
</div>`,
  );
}

function redirectBack(req: http.IncomingMessage, res: http.ServerResponse, cookie: string): void {
  // Flask redirects to request.referrer; without one, the product page is the useful place to land.
  res.writeHead(302, {
    location: req.headers.referer || '/productpage',
    'set-cookie': cookie,
    'content-length': 0,
  });
  res.end();
}

function readBody(req: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function renderMetrics(): string {
  const lines = [
    '# HELP request_result_total Results of calls from productpage to its backends.',
    '# TYPE request_result_total counter',
    ...[...results].map(([labels, n]) => `request_result_total{${labels}} ${n}`),
    '# HELP productpage_pages_total Product pages rendered.',
    '# TYPE productpage_pages_total counter',
    `productpage_pages_total ${pages}`,
    '# HELP process_uptime_seconds Seconds since the process started.',
    '# TYPE process_uptime_seconds gauge',
    `process_uptime_seconds ${((Date.now() - started) / 1000).toFixed(3)}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://productpage');
  const path = url.pathname;
  if (req.method === 'POST' && path === '/login') {
    const form = new URLSearchParams(await readBody(req));
    const user = form.get('username') ?? '';
    return redirectBack(req, res, `user=${encodeURIComponent(user)}; Path=/; HttpOnly`);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendText(res, 405, 'text/plain', 'Method Not Allowed\n');
  }
  if (path === '/' || path === '/index.html')
    return sendText(res, 200, 'text/html; charset=utf-8', renderIndex());
  if (path === '/health') return sendText(res, 200, 'text/html; charset=utf-8', 'Product page is healthy');
  if (path === '/metrics') return sendText(res, 200, 'text/plain; version=0.0.4', renderMetrics());
  if (path === '/logout') return redirectBack(req, res, 'user=; Path=/; Max-Age=0');
  if (path === '/productpage') {
    // `?u=normal` / `?u=test` only tag the request, as in the original.
    const headers = forwardHeaders(req);
    const detailsR = await getDetails('0', headers);
    const reviewsR = await getReviews('0', headers);
    pages++;
    return sendText(
      res,
      200,
      'text/html; charset=utf-8',
      renderProductPage(cookies(req).get('user') ?? '', detailsR, reviewsR),
    );
  }
  if (path === '/api/v1/products') return sendJson(res, 200, PRODUCTS);
  const api = /^\/api\/v1\/products\/([^/]+)(?:\/(reviews|ratings))?$/.exec(path);
  if (api) {
    const id = encodeURIComponent(decodeURIComponent(api[1] ?? ''));
    const headers = forwardHeaders(req);
    const r =
      api[2] === 'reviews'
        ? await getReviews(id, headers)
        : api[2] === 'ratings'
          ? await getRatings(id, headers)
          : await getDetails(id, headers);
    return sendJson(res, r.status, r.body);
  }
  sendText(res, 404, 'text/html; charset=utf-8', '<h1>Not Found</h1>\n');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: Error) => {
    console.log(`productpage: ${req.method} ${req.url} failed: ${err.message}`);
    if (!res.headersSent) sendText(res, 500, 'text/plain', 'Internal Server Error\n');
    else res.destroy();
  });
});

await serve(server, { name: 'productpage v1', port: portFromEnv(9080) });
