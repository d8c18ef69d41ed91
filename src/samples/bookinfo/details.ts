/**
 * Bookinfo's details service, a stand-in for Istio's details.rb (images examples-bookinfo-details-v1 and
 * -v2): GET /details/<id> answers the book's details as JSON, GET /health answers
 * {"status":"Details is healthy"}. A non-numeric id is a 400 with the original's error text.
 *
 * v2 of the original (ENABLE_EXTERNAL_BOOK_SERVICE=true) fetched the book from www.googleapis.com, which
 * is what Istio's egress tasks route. A demo must not depend on the Internet, so v2 answers the same
 * book and says where the original would have looked ("source").
 *
 * Env: PORT (default 9080), SERVICE_VERSION (v1), ENABLE_EXTERNAL_BOOK_SERVICE ("true" for v2).
 */
import http from 'node:http';
import { sendJson } from '../common/respond.ts';
import { portFromEnv, serve } from '../common/serve.ts';

const version = process.env.SERVICE_VERSION || 'v1';
const external = process.env.ENABLE_EXTERNAL_BOOK_SERVICE === 'true' || version === 'v2';

function bookDetails(id: number): Record<string, unknown> {
  const details: Record<string, unknown> = {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
  if (external) details.source = 'built-in (the original v2 fetches www.googleapis.com/books/v1)';
  return details;
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return sendJson(res, 405, { error: 'method not allowed' });
  if (path === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
  if (path === '/details' || path.startsWith('/details/')) {
    const last = path.split('/').pop() ?? '';
    if (!/^-?\d+$/.test(last)) return sendJson(res, 400, { error: 'please provide numeric product id' });
    return sendJson(res, 200, bookDetails(Number(last)));
  }
  sendJson(res, 404, { error: 'not found' });
});

await serve(server, { name: `details ${version}`, port: portFromEnv(9080) });
