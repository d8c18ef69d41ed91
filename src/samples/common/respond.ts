/**
 * How the sample servers answer: the whole body in one write, with its content-type and content-length,
 * so every reply is framed the same way whichever sample sends it.
 */
import type http from 'node:http';

export function sendText(
  res: http.ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** `body` as compact JSON (`application/json`, as the Bookinfo originals answer). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  sendText(res, status, 'application/json', JSON.stringify(body));
}
