/**
 * A service port's protocol, as Istio and Linkerd read it: `appProtocol` first, then the port name's
 * prefix (`http`, `http-web`, `grpc-api`, `tcp-db`), else detection (HTTP is sniffed, the rest is TCP).
 */
import type { PortProtocol } from '../../model/types.ts';

const BY_NAME: Record<string, PortProtocol> = {
  http: 'http1',
  'http-web': 'http1',
  http2: 'http2',
  h2c: 'http2',
  'kubernetes.io/h2c': 'http2',
  grpc: 'grpc',
  'grpc-web': 'http1',
  tcp: 'tcp',
  tls: 'tcp',
  https: 'tcp',
  mongo: 'tcp',
  mysql: 'tcp',
  redis: 'tcp',
  'kubernetes.io/ws': 'http1',
  'kubernetes.io/wss': 'tcp',
};

export function portProtocol(appProtocol: string | undefined, name: string | undefined): PortProtocol {
  if (appProtocol) {
    const p = BY_NAME[appProtocol.toLowerCase()];
    if (p) return p;
  }
  if (name) {
    const lower = name.toLowerCase();
    const exact = BY_NAME[lower];
    if (exact) return exact;
    const prefix = BY_NAME[lower.split('-')[0] ?? ''];
    if (prefix) return prefix;
  }
  return 'detect';
}
