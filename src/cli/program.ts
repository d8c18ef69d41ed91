/** The full `weft` command line (commander): every command, its options and its help. */
import { Command } from 'commander';
import { registerProxy } from './proxy.ts';
import { registerStart } from './start.ts';
import { registerVersion, VERSION } from './version.ts';

export function createProgram(): Command {
  const program = new Command('weft')
    .description(
      'Weft, a service mesh: automatic mTLS, golden metrics, traffic management and L7 policy.\n' +
        'Start with `weft start` to run a proxy in front of a sample app.',
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)');
  registerStart(program);
  registerProxy(program);
  registerVersion(program);
  return program;
}
