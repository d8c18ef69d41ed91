/**
 * The `weft` command line, one file per command. Run through bin/weft.js (which picks Node 24 and the
 * proxy's V8 flags) or directly with Node 24: `node src/cli/main.ts <command>`. `weft proxy` with plain
 * options starts without loading the rest of the CLI, to keep every proxy process small.
 */
import { parseProxyArgs, runProxy } from './proxy.ts';

const args = process.argv.slice(2);
const proxyOptions = args[0] === 'proxy' ? parseProxyArgs(args.slice(1)) : undefined;
if (proxyOptions) {
  await runProxy(proxyOptions);
} else {
  const { createProgram } = await import('./program.ts');
  await createProgram().parseAsync(process.argv);
}
