/**
 * Bookinfo's ratings service, a stand-in for Istio's ratings.js (images examples-bookinfo-ratings-v1 and
 * -v2): GET /ratings/<id> answers {"id":<id>,"ratings":{"Reviewer1":5,"Reviewer2":4}}, GET /health
 * answers {"status":"Ratings is healthy"}, POST /ratings/<id> stores ratings in memory (v1 only, as the
 * original; v2 answers 501).
 *
 * v2 of the original reads the same two ratings from MongoDB or MySQL; this one answers them without a
 * database, so the mongodb/mysqldb workloads of Istio's manifests are not needed. The original's fault
 * versions are kept, since Kiali and resilience demos use them: v-faulty (half the requests 503),
 * v-delayed (half delayed 7 s), v-unavailable (503 for 60 s out of every 120 s), v-unhealthy (that, and
 * /health failing, in 15-minute halves).
 *
 * Env: PORT (default 9080), SERVICE_VERSION (v1).
 */
import http from 'node:http';
import { sendJson } from '../common/respond.ts';
import { portFromEnv, serve } from '../common/serve.ts';

const version = process.env.SERVICE_VERSION || 'v1';
const added = new Map<number, unknown>();
let unavailable = false;
let healthy = true;

if (version === 'v-unavailable') {
  setInterval(() => {
    unavailable = !unavailable;
  }, 60_000).unref();
}
if (version === 'v-unhealthy') {
  setInterval(() => {
    healthy = !healthy;
    unavailable = !unavailable;
  }, 900_000).unref();
}

function ratingsOf(id: number): unknown {
  return added.get(id) ?? { id, ratings: { Reviewer1: 5, Reviewer2: 4 } };
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (path === '/health' && req.method === 'GET') {
    return healthy
      ? sendJson(res, 200, { status: 'Ratings is healthy' })
      : sendJson(res, 500, { status: 'Ratings is not healthy' });
  }
  if (!/^\/ratings\/\d*/.test(path)) return sendJson(res, 404, { error: 'not found' });
  // ratings.js takes the last path segment and parseInt()s it.
  const id = Number.parseInt(path.split('/').pop() ?? '', 10);
  if (Number.isNaN(id)) return sendJson(res, 400, { error: 'please provide numeric product ID' });

  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let ratings: unknown;
      try {
        ratings = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'please provide valid ratings JSON' });
      }
      if (version === 'v2')
        return sendJson(res, 501, { error: 'Post not implemented for database backed ratings' });
      added.set(id, { id, ratings });
      sendJson(res, 200, ratingsOf(id));
    });
    return;
  }
  if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });

  const unavailableNow =
    (version === 'v-faulty' && Math.random() <= 0.5) ||
    ((version === 'v-unavailable' || version === 'v-unhealthy') && unavailable);
  if (unavailableNow) return sendJson(res, 503, { error: 'Service unavailable' });
  if (version === 'v-delayed' && Math.random() <= 0.5) {
    const timer = setTimeout(() => sendJson(res, 200, ratingsOf(id)), 7000);
    res.once('close', () => clearTimeout(timer));
    return;
  }
  sendJson(res, 200, ratingsOf(id));
});

await serve(server, { name: `ratings ${version}`, port: portFromEnv(9080) });
