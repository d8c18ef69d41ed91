/**
 * Bookinfo's reviews service, a stand-in for Istio's Java LibertyRestEndpoint (images
 * examples-bookinfo-reviews-v1, -v2 and -v3, which differ only in their env): GET /reviews/<id> answers
 * {"id","podname","clustername","reviews":[…]} with two reviews; GET /health answers
 * {"status":"Reviews is healthy"}.
 *
 * With ratings enabled (v2, v3) it calls ratings at `http://ratings:9080/ratings/<id>` once, forwarding
 * the tracing headers and `end-user`, with the original's timeout: 10 s when the stars are black (v2),
 * 2.5 s otherwise (v3), which is what Istio's fault-injection task relies on. When ratings fails, each
 * review carries {"error":"Ratings service is currently unavailable"} instead of stars, and the answer
 * is still a 200, as the original.
 *
 * Env: PORT (default 9080), SERVICE_VERSION (v1), ENABLE_RATINGS (default: false for v1, true
 * otherwise), STAR_COLOR (default: red for v3, black otherwise), HOSTNAME (podname), CLUSTER_NAME,
 * RATINGS_HOSTNAME, RATINGS_SERVICE_PORT, SERVICES_DOMAIN, HTTP_PROXY/NO_PROXY.
 */
import http from 'node:http';
import { sendJson } from '../common/respond.ts';
import { instanceName, portFromEnv, serve } from '../common/serve.ts';
import { getJson, PROPAGATED_HEADERS, pickHeaders, serviceBase } from './http-client.ts';

const version = process.env.SERVICE_VERSION || 'v1';
// The images bake these per version (the Dockerfile's build args); defaulting them from the version
// lets `SERVICE_VERSION=v3 node reviews.ts` behave like the v3 image, while explicit values still win.
const ratingsEnabled = (process.env.ENABLE_RATINGS ?? String(version !== 'v1')).toLowerCase() === 'true';
const starColor = process.env.STAR_COLOR || (version === 'v3' ? 'red' : 'black');
const ratingsTimeoutMs = starColor === 'black' ? 10_000 : 2_500;
const ratingsBase = serviceBase('ratings');
const podname = instanceName();
const clustername = process.env.CLUSTER_NAME ?? 'null';
const forwarded = [...PROPAGATED_HEADERS, 'end-user'];

const REVIEWS = [
  {
    reviewer: 'Reviewer1',
    text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!',
  },
  {
    reviewer: 'Reviewer2',
    text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.',
  },
] as const;

type Rating = { stars: number; color: string } | { error: string };

async function fetchRatings(productId: string, incoming: http.IncomingHttpHeaders) {
  const result = await getJson(`${ratingsBase}/ratings/${productId}`, {
    timeoutMs: ratingsTimeoutMs,
    attempts: 1,
    headers: { ...pickHeaders(incoming, forwarded), accept: 'application/json' },
  });
  if (result.json === undefined) {
    console.log(
      `Error: unable to contact ${ratingsBase}/ratings: ${result.error ?? `status ${result.status}`}`,
    );
    return undefined;
  }
  const ratings = (result.json as { ratings?: Record<string, unknown> }).ratings;
  return ratings && typeof ratings === 'object' ? ratings : undefined;
}

async function bookReviews(productId: string, incoming: http.IncomingHttpHeaders) {
  const ratings = ratingsEnabled ? await fetchRatings(productId, incoming) : undefined;
  return {
    id: productId,
    podname,
    clustername,
    // Not in the original: lets tests and the demo tell which version answered without parsing stars.
    version,
    reviews: REVIEWS.map((review) => {
      if (!ratingsEnabled) return { ...review };
      const stars = ratings?.[review.reviewer];
      const rating: Rating =
        typeof stars === 'number'
          ? { stars, color: starColor }
          : { error: 'Ratings service is currently unavailable' };
      return { ...review, rating };
    }),
  };
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
  if (path === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
  const match = /^\/reviews\/(-?\d+)$/.exec(path);
  if (!match) return sendJson(res, 404, { error: 'not found' });
  bookReviews(String(Number(match[1])), req.headers).then(
    (body) => sendJson(res, 200, body),
    (err: Error) => sendJson(res, 500, { error: err.message }),
  );
});

await serve(server, { name: `reviews ${version}`, port: portFromEnv(9080) });
