/**
 * The admin port: liveness, readiness, the current config (version, the snapshot's source config, bound
 * listeners, and the last rejected version with its issues), and Prometheus metrics.
 */
import http from 'node:http';
import type { ConfigIssue, Logger } from '../../core/index.ts';
import type { MetricsRegistry } from '../metrics/index.ts';
import { handleProbe } from './probe.ts';

export interface AdminState {
  ready(): boolean;
  live(): boolean;
  config(): unknown;
  metrics: MetricsRegistry;
  logger: Logger;
  /** The workload identity (names, serial, dates; no key), when the proxy has one. */
  identity?: () => unknown;
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
      case '/identity': {
        const identity = state.identity?.();
        if (identity === undefined)
          return send(404, 'application/json', '{"error":"this proxy has no workload identity"}\n');
        return send(200, 'application/json', `${JSON.stringify(identity, null, 2)}\n`);
      }
      case '/probe/tcp':
      case '/probe/http':
        return handleProbe(req.url ?? '/', res);
      case '/metrics':
        return send(200, 'text/plain; version=0.0.4', state.metrics.render() + processMetrics());
      default:
        return send(
          404,
          'text/plain',
          'admin endpoints: /live /ready /config /metrics /identity /probe/tcp /probe/http\n',
        );
    }
  });
}

/** Process-level gauges (Prometheus' conventional names), read when scraped. */
function processMetrics(): string {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return [
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${m.rss}`,
    '# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.',
    '# TYPE process_cpu_seconds_total counter',
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    '# HELP nodejs_heap_used_bytes V8 heap in use, in bytes.',
    '# TYPE nodejs_heap_used_bytes gauge',
    `nodejs_heap_used_bytes ${m.heapUsed}`,
    '# HELP nodejs_heap_total_bytes V8 heap reserved, in bytes.',
    '# TYPE nodejs_heap_total_bytes gauge',
    `nodejs_heap_total_bytes ${m.heapTotal}`,
    '# HELP nodejs_external_memory_bytes Memory of C++ objects bound to JavaScript (buffers, WebAssembly), in bytes.',
    '# TYPE nodejs_external_memory_bytes gauge',
    `nodejs_external_memory_bytes ${m.external}`,
    '',
  ].join('\n');
}
