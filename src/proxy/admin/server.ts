/**
 * The admin port: liveness, readiness, the current config (version, the snapshot's source config, bound
 * listeners, and the last rejected version with its issues), and Prometheus metrics.
 */
import http from 'node:http';
import type { ConfigIssue, Logger } from '../../core/index.ts';
import type { MetricsRegistry } from '../metrics/index.ts';

export interface AdminState {
  ready(): boolean;
  live(): boolean;
  config(): unknown;
  metrics: MetricsRegistry;
  logger: Logger;
}

export interface RejectedConfig {
  version: string | undefined;
  at: string;
  source: string;
  issues: readonly ConfigIssue[];
}

export function createAdminServer(state: AdminState): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (path) {
      case '/live':
        return send(state.live() ? 200 : 503, 'text/plain', state.live() ? 'live\n' : 'not live\n');
      case '/ready':
        return send(state.ready() ? 200 : 503, 'text/plain', state.ready() ? 'ready\n' : 'not ready\n');
      case '/config':
        return send(200, 'application/json', `${JSON.stringify(state.config(), null, 2)}\n`);
      case '/metrics':
        return send(200, 'text/plain; version=0.0.4', state.metrics.render());
      default:
        return send(404, 'text/plain', 'admin endpoints: /live /ready /config /metrics\n');
    }
  });
}
