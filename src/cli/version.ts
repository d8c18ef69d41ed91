/** `weft version`: the CLI's version and the Node it runs on. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('Print the Weft version and the Node.js version it runs on.')
    .action(() => {
      process.stdout.write(`weft ${VERSION} (node ${process.versions.node})\n`);
    });
}
