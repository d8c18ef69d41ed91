/**
 * The file source for `weft proxy --config`: parses YAML or JSON (with line and column on errors) and
 * watches the file, re-reading it after each change. Editors and `mv` replace files, so the directory is
 * watched, not the inode.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/index.ts';

export interface ParsedConfig {
  data: unknown;
  /** "file:line:col" of the value at a dotted path such as "outbound.0.port", or of its nearest parent. */
  locate(path: string): string;
}

export function parseConfigText(text: string, file: string): unknown {
  return parseConfigWithPositions(text, file).data;
}

export function parseConfigWithPositions(text: string, file: string): ParsedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => ({
      code: 'CONFIG_PARSE',
      path: `${file}:${e.linePos?.[0]?.line ?? 0}:${e.linePos?.[0]?.col ?? 0}`,
      message: e.message.split('\n')[0] ?? e.message,
    }));
    throw new ConfigError(issues);
  }
  return {
    data: doc.toJS(),
    locate(dotted) {
      const parts = dotted === '' ? [] : dotted.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      for (let n = parts.length; n >= 0; n--) {
        const node = doc.getIn(parts.slice(0, n), true);
        if (isNode(node) && node.range) {
          const pos = lineCounter.linePos(node.range[0]);
          return `${file}:${pos.line}:${pos.col}`;
        }
      }
      return file;
    },
  };
}

export function readConfigFile(file: string): ParsedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ConfigError([
      { code: 'CONFIG_PARSE', path: file, message: `cannot read the config file: ${reason}` },
    ]);
  }
  return parseConfigWithPositions(text, file);
}

/** Calls `onChange` (debounced) whenever the file is written or replaced. Returns a stop function. */
export function watchConfigFile(file: string, onChange: () => void, debounceMs = 20): () => void {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  let timer: NodeJS.Timeout | undefined;
  let lastMtime = 0;
  const fire = () => {
    timer = undefined;
    onChange();
  };
  const schedule = () => {
    if (!timer) timer = setTimeout(fire, debounceMs);
  };
  const watcher = fs.watch(dir, (_event, name) => {
    if (name === null || name === base) schedule();
  });
  // fs.watch can miss events on some filesystems; a slow poll backs it up.
  const poll = setInterval(() => {
    fs.stat(file, (err, st) => {
      if (err) return;
      if (lastMtime !== 0 && st.mtimeMs !== lastMtime) schedule();
      lastMtime = st.mtimeMs;
    });
  }, 1000);
  poll.unref();
  return () => {
    watcher.close();
    clearInterval(poll);
    if (timer) clearTimeout(timer);
  };
}
