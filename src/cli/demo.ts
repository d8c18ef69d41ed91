/**
 * `weft demo` (what `npm start` runs): the bundled Bookinfo-compatible application, meshed, with a
 * traffic generator, and productpage reachable from this machine's browser through an edge sidecar.
 * Istio's own Bookinfo configuration applies to it unchanged.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { runUp } from './up.ts';

export const DEMO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/demo');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the demo application (Bookinfo + a gRPC service + traffic) meshed, and print its URL.')
    .option('--port <port>', 'host port for productpage on 127.0.0.1 (0 picks a free one)', '9080')
    .option('--explicit', 'explicit mode even as root')
    .option('--no-traffic', 'do not start the traffic generator')
    .option('--logs', 'stream every log to the terminal')
    .action(async (opts: { port: string; explicit?: boolean; traffic: boolean; logs?: boolean }) => {
      const files = [path.join(DEMO_DIR, 'bookinfo.yaml'), path.join(DEMO_DIR, 'greeter.yaml')];
      if (opts.traffic) files.push(path.join(DEMO_DIR, 'traffic.yaml'));
      await runUp(
        {
          filename: files,
          explicit: opts.explicit,
          expose: [`productpage:9080=${opts.port}`],
          logs: opts.logs,
          table: true,
        },
        {
          banner: (rt) => {
            const url = rt.edges[0]?.url ?? '';
            return [
              '',
              `  Bookinfo is up: open ${url}productpage`,
              '',
              "  Try Istio's tasks unchanged, e.g. route everyone to reviews v1, then split 90/10:",
              `    weft apply -f ${path.relative(process.cwd(), path.join(DEMO_DIR, 'routes', 'reviews-v1.yaml'))}`,
              `    weft apply -f ${path.relative(process.cwd(), path.join(DEMO_DIR, 'routes', 'reviews-90-10.yaml'))}`,
              '  and call it from inside the mesh:',
              '    weft exec ratings -- curl -s http://productpage:9080/api/v1/products/0/reviews',
              '',
            ].join('\n');
          },
        },
      );
    });
}
