/**
 * `weft analyze -f <files or dirs>`: reads resources the way the control plane does (schemas, then the
 * Gateway API and Istio translators) without running anything, and reports what Weft cannot honour, as
 * `istioctl analyze` does: errors (a resource refused, or a reference to something that does not exist, a
 * conflict between rules) and notes (a field Weft does not apply, a choice it made), each with file, line,
 * column and a code. Exit status 1 when there is an error, 0 otherwise.
 */
import type { Command } from 'commander';
import { fmt, MeshIndex } from '../control/index/index.ts';
import { createVipAllocator } from '../control/index/vips.ts';
import { readDocuments } from '../control/sources/file/source.ts';
import { ROUTE_KINDS, translateRoutes } from '../control/translate/routes.ts';
import { silentLogger } from '../core/index.ts';
import { createImageResolver } from './control.ts';
import { createStyle, writeStructured } from './output.ts';

export interface Finding {
  level: 'error' | 'note';
  code: string;
  resource: string;
  at: string;
  path: string;
  message: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description(
      'Check resource files (Kubernetes, Weft, Gateway API, Istio) offline: what Weft refuses or cannot honour, with file:line:column and a code.',
    )
    .requiredOption('-f, --filename <path...>', 'resource files or directories')
    .option('--image-map <file>', 'YAML mapping container images to local programs (as `weft up`)')
    .option('-o, --output <format>', 'text, json or yaml', 'text')
    .option('--no-notes', 'only errors')
    .addHelpText(
      'after',
      '\nExample: weft analyze -f samples/bookinfo/networking/\nExit status: 1 when there is an error.',
    )
    .action((opts: { filename: string[]; imageMap?: string; output: string; notes: boolean }) => {
      const findings = analyze(opts.filename, opts.imageMap).filter((f) => opts.notes || f.level === 'error');
      if (opts.output === 'text') process.stdout.write(render(findings));
      else writeStructured(opts.output, findings);
      process.exitCode = findings.some((f) => f.level === 'error') ? 1 : 0;
    });
}

export function analyze(paths: readonly string[], imageMap?: string): Finding[] {
  const index = new MeshIndex({
    images: createImageResolver(imageMap),
    vips: createVipAllocator(),
    logger: silentLogger,
    transparent: true,
    routeKinds: ROUTE_KINDS,
    translateRoutes,
  });
  index.events('files').reset(readDocuments(paths));
  const out: Finding[] = [];
  for (const r of index.resources()) {
    const resource = r.key
      ? `${r.key.kind} ${r.key.namespace ? `${r.key.namespace}/` : ''}${r.key.name}`
      : r.id;
    for (const i of r.issues)
      out.push({
        // A kind Weft does not read is not an error of the file: it is reported and ignored.
        level: r.state === 'unsupported' ? 'note' : 'error',
        code: i.code,
        resource,
        at: fmt(i.at),
        path: i.path,
        message: i.message,
      });
    for (const n of r.notes ?? [])
      out.push({ level: 'note', code: 'NOTE', resource, at: fmt(n.at), path: n.path, message: n.message });
  }
  return out;
}

function render(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No problems found.\n';
  const style = createStyle();
  const lines = findings.map((f) => {
    const level = f.level === 'error' ? style.red('Error') : style.dim('Note ');
    return `${level} [${f.code}] (${f.resource}) ${f.at}${f.path ? ` ${f.path}` : ''}: ${f.message}`;
  });
  const errors = findings.filter((f) => f.level === 'error').length;
  lines.push(
    `${errors} error${errors === 1 ? '' : 's'}, ${findings.length - errors} note${findings.length - errors === 1 ? '' : 's'}.`,
  );
  return `${lines.join('\n')}\n`;
}
