/**
 * The file source: files and directories of YAML or JSON resources (multi-document), watched. On any
 * change it re-reads everything and emits `reset`: the index is level-based, so a full list is both
 * simpler and always right. Editors replace files, so directories are watched, backed by a slow poll.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../../core/index.ts';
import type { Source, SourcedDocument, SourceEvents } from '../types.ts';
import { parseDocuments } from './parse.ts';

const RESOURCE_FILE = /\.(ya?ml|json)$/i;

export interface FileSourceOptions {
  paths: string[];
  logger: Logger;
  /** Debounce of bursts of file events. */
  debounceMs?: number;
  /** Poll interval backing fs.watch (0 disables). */
  pollMs?: number;
  name?: string;
}

/** Every resource file under the paths, sorted, so documents come in a stable order. */
export function listResourceFiles(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (p: string, explicit: boolean) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      if (explicit) missing.push(p);
      return;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) if (!e.startsWith('.')) walk(path.join(p, e), false);
    } else if (explicit || RESOURCE_FILE.test(p)) {
      files.push(p);
    }
  };
  for (const p of paths) walk(path.resolve(p), true);
  return { files, missing };
}

export function readDocuments(paths: readonly string[]): SourcedDocument[] {
  const { files, missing } = listResourceFiles(paths);
  const docs: SourcedDocument[] = [];
  for (const m of missing) {
    docs.push({
      id: `${m}#missing`,
      origin: { file: m, line: 0, column: 0 },
      doc: undefined,
      parseIssues: [{ code: 'CONFIG_PARSE', path: '', message: `no such file or directory: ${m}` }],
      locate: () => ({ file: m, line: 0, column: 0 }),
    });
  }
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (err) {
      docs.push({
        id: `${f}#unreadable`,
        origin: { file: f, line: 0, column: 0 },
        doc: undefined,
        parseIssues: [{ code: 'CONFIG_PARSE', path: '', message: `cannot read: ${(err as Error).message}` }],
        locate: () => ({ file: f, line: 0, column: 0 }),
      });
      continue;
    }
    docs.push(...parseDocuments(text, f));
  }
  return docs;
}

export function createFileSource(options: FileSourceOptions): Source {
  const watchers: fs.FSWatcher[] = [];
  let poll: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  let fingerprint = '';
  const debounceMs = options.debounceMs ?? 30;
  /** mtimes and sizes of every file: cheap change detection for the poll. */
  const stamp = () =>
    listResourceFiles(options.paths)
      .files.map((f) => {
        try {
          const st = fs.statSync(f);
          return `${f}:${st.mtimeMs}:${st.size}`;
        } catch {
          return f;
        }
      })
      .join('|');
  let emitNow: (() => void) | undefined;
  return {
    name: options.name ?? 'file',
    refresh() {
      if (timer) clearTimeout(timer);
      emitNow?.();
    },
    async start(events: SourceEvents) {
      const emit = () => {
        timer = undefined;
        fingerprint = stamp();
        events.reset(readDocuments(options.paths));
      };
      emitNow = emit;
      const schedule = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(emit, debounceMs);
      };
      const dirs = new Set<string>();
      for (const p of options.paths) {
        const abs = path.resolve(p);
        let isDir = false;
        try {
          isDir = fs.statSync(abs).isDirectory();
        } catch {}
        dirs.add(isDir ? abs : path.dirname(abs));
      }
      for (const d of dirs) {
        try {
          watchers.push(fs.watch(d, { recursive: true }, () => schedule()));
        } catch (err) {
          options.logger.warn('cannot watch; changes are picked up by polling', {
            dir: d,
            error: (err as Error).message,
          });
        }
      }
      const pollMs = options.pollMs ?? 1000;
      if (pollMs > 0) {
        poll = setInterval(() => {
          if (stamp() !== fingerprint) schedule();
        }, pollMs);
        poll.unref();
      }
      fingerprint = stamp();
      events.reset(readDocuments(options.paths));
    },
    stop() {
      for (const w of watchers) w.close();
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
    },
  };
}
