/** The full `weft` command line (commander): every command, its options and its help. */
import { Command } from 'commander';
import { registerAnalyze } from './analyze.ts';
import { registerApply } from './apply.ts';
import { registerCa } from './ca.ts';
import { registerCheck } from './check.ts';
import { registerControl } from './control.ts';
import { registerDemo } from './demo.ts';
import { registerDown } from './down.ts';
import { registerExec } from './exec.ts';
import { registerIdentity } from './identity.ts';
import { registerProxy } from './proxy.ts';
import { registerProxyConfig } from './proxy-config.ts';
import { registerStart } from './start.ts';
import { registerStatus } from './status.ts';
import { registerUp } from './up.ts';
import { registerVersion, VERSION } from './version.ts';

export function createProgram(): Command {
  const program = new Command('weft')
    .description(
      'Weft, a service mesh: automatic mTLS, golden metrics, traffic management and L7 policy.\n' +
        'Start with `weft demo` (or `npm start`) to run the meshed demo application.',
    )
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)');
  registerDemo(program);
  registerUp(program);
  registerDown(program);
  registerApply(program);
  registerAnalyze(program);
  registerExec(program);
  registerStatus(program);
  registerProxyConfig(program);
  registerIdentity(program);
  registerCheck(program);
  registerCa(program);
  registerControl(program);
  registerProxy(program);
  registerStart(program);
  registerVersion(program);
  return program;
}
