/**
 * Runs `weft control` as a child of `weft up`, and restarts it if it dies: proxies keep serving on their
 * last config and reconnect to the same Unix socket, so the mesh rides through a control-plane restart.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '../../core/index.ts';
import { openLog, type Supervised, sleep, stopProcess, supervise, tail, WEFT_MAIN } from './processes.ts';

export interface ControlProcessOptions {
  files: string[];
  stateDir: string;
  socketPath: string;
  logFile: string;
  transparent: boolean;
  imageMap: string | undefined;
  /** More flags for `weft control`. */
  extraArgs?: string[];
  logger: Logger;
}

export class ControlProcess {
  readonly #o: ControlProcessOptions;
  #proc: Supervised | undefined;
  #port = 0;
  #stopping = false;
  #restarts = 0;

  constructor(options: ControlProcessOptions) {
    this.#o = options;
  }

  get port(): number {
    return this.#port;
  }

  get pid(): number | undefined {
    return this.#proc?.child.pid;
  }

  get restarts(): number {
    return this.#restarts;
  }

  async start(): Promise<void> {
    const o = this.#o;
    const args = [
      '--disable-warning=ExperimentalWarning',
      WEFT_MAIN,
      'control',
      '--state-dir',
      o.stateDir,
      '--socket',
      o.socketPath,
      '--port',
      String(this.#port),
    ];
    for (const f of o.files) args.push('-f', f);
    if (!o.transparent) args.push('--explicit');
    if (o.imageMap) args.push('--image-map', o.imageMap);
    args.push(...(o.extraArgs ?? []));
    const fd = openLog(o.logFile);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', fd] });
    fs.closeSync(fd);
    const proc = supervise(child, o.logFile);
    this.#proc = proc;
    const started = new Promise<number>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(
        () => reject(new Error('the control plane did not start within 30 s')),
        30_000,
      );
      child.stdout?.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let nl = buf.indexOf('\n');
        while (nl !== -1) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          fs.appendFileSync(o.logFile, `${line}\n`);
          try {
            const j = JSON.parse(line) as { msg?: string; port?: number };
            if (j.msg === 'control plane started' && j.port) {
              clearTimeout(timer);
              resolve(j.port);
            }
          } catch {}
          nl = buf.indexOf('\n');
        }
      });
      void proc.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the control plane exited:\n${tail(o.logFile)}`));
      });
    });
    this.#port = await started;
    void proc.exited.then(async ({ code, signal }) => {
      if (this.#stopping || this.#proc !== proc) return;
      o.logger.warn('the control plane exited; restarting it (proxies keep their config)', { code, signal });
      this.#restarts++;
      for (let attempt = 0; !this.#stopping; attempt++) {
        await sleep(Math.min(200 * 2 ** attempt, 5000));
        if (this.#stopping) return;
        try {
          await this.start();
          o.logger.info('the control plane is back', { port: this.#port });
          return;
        } catch (err) {
          o.logger.error('restarting the control plane failed', { error: (err as Error).message });
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await stopProcess(this.#proc, 5000);
  }
}
