/**
 * Keeps docs/reference/errors.md in step with the error registry (src/core/errors.ts), after fastify's
 * test/internals/errors.test.js: every code is documented once, the page names no code the registry
 * lacks, the HTTP statuses agree, and the gRPC mapping the page shows is the one the responder sends.
 * The comparison is a function that is also run on broken copies of the page, to prove it can fail.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CaErrors } from '../../src/api/ca/index.ts';
import { ConfigErrors, type ProxyErrorCode, ProxyErrors } from '../../src/core/errors.ts';
import { type DownstreamResponse, respondError } from '../../src/proxy/http/respond.ts';

const DOC_URL = new URL('../../docs/reference/errors.md', import.meta.url);
const PROXY_HEADING = '## Request errors';
const CONFIG_HEADING = '## Configuration errors';
const CA_HEADING = '## Certificate authority errors';
const CODE_CELL = /^`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)`$/;

interface Registry {
  proxy: Record<string, { status: number }>;
  config: Record<string, unknown>;
  ca: Record<string, { status: number }>;
}

/** The text under a level-2 heading, up to the next level-2 heading. */
function section(doc: string, heading: string): string | undefined {
  const start = doc.split('\n').findIndex((l) => l.trim() === heading);
  if (start === -1) return undefined;
  const lines = doc.split('\n').slice(start + 1);
  const end = lines.findIndex((l) => l.startsWith('## '));
  return (end === -1 ? lines : lines.slice(0, end)).join('\n');
}

/** The cells of every Markdown table row in the text, header and separator rows excluded. */
function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('|')) continue;
    const cells = t
      .slice(1, t.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows;
}

/** Rows whose first cell is a code in backticks, as code -> remaining cells. Duplicates are reported. */
function codeRows(text: string, problems: string[], where: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const cells of tableRows(text)) {
    const code = CODE_CELL.exec(cells[0] ?? '')?.[1];
    if (code === undefined) continue;
    if (out.has(code)) problems.push(`${where}: ${code} is listed twice`);
    out.set(code, cells.slice(1));
  }
  return out;
}

/** Every difference between the page and the registry; empty when they agree. */
function compareDoc(doc: string, registry: Registry): string[] {
  const problems: string[] = [];
  const proxyText = section(doc, PROXY_HEADING);
  const configText = section(doc, CONFIG_HEADING);
  if (proxyText === undefined) problems.push(`missing section "${PROXY_HEADING}"`);
  if (configText === undefined) problems.push(`missing section "${CONFIG_HEADING}"`);

  const proxyRows = codeRows(proxyText ?? '', problems, 'request errors');
  for (const [code, { status }] of Object.entries(registry.proxy)) {
    const row = proxyRows.get(code);
    if (!row) {
      problems.push(`${code} is in the registry but not documented under "${PROXY_HEADING}"`);
      continue;
    }
    if (row[0] !== String(status))
      problems.push(`${code}: the page says status ${row[0]}, the registry ${status}`);
    if (!row[1]) problems.push(`${code}: no meaning given`);
    if (!row[2]) problems.push(`${code}: nothing to check given`);
  }
  for (const code of proxyRows.keys()) {
    if (!Object.hasOwn(registry.proxy, code))
      problems.push(`${code} is documented but not a request error code`);
  }

  const configRows = codeRows(configText ?? '', problems, 'configuration errors');
  for (const code of Object.keys(registry.config)) {
    const row = configRows.get(code);
    if (!row) problems.push(`${code} is in the registry but not documented under "${CONFIG_HEADING}"`);
    else if (!row[0] || !row[1]) problems.push(`${code}: meaning or what to check missing`);
  }
  for (const code of configRows.keys()) {
    if (!Object.hasOwn(registry.config, code))
      problems.push(`${code} is documented but not a configuration error code`);
  }

  const caText = section(doc, CA_HEADING);
  if (caText === undefined) problems.push(`missing section "${CA_HEADING}"`);
  const caRows = codeRows(caText ?? '', problems, 'certificate authority errors');
  for (const [code, { status }] of Object.entries(registry.ca)) {
    const row = caRows.get(code);
    if (!row) problems.push(`${code} is in the registry but not documented under "${CA_HEADING}"`);
    else if (row[0] !== String(status))
      problems.push(`${code}: the page says status ${row[0]}, the registry ${status}`);
    else if (!row[1] || !row[2]) problems.push(`${code}: meaning or what to check missing`);
  }
  for (const code of caRows.keys()) {
    if (!Object.hasOwn(registry.ca, code)) problems.push(`${code} is documented but not a CA error code`);
  }

  // Anywhere on the page, a code-like word in backticks must be a real code.
  const known = new Set([
    ...Object.keys(registry.proxy),
    ...Object.keys(registry.config),
    ...Object.keys(registry.ca),
  ]);
  for (const m of doc.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)`/g)) {
    const word = m[1] as string;
    if (word.length > 2 && !known.has(word))
      problems.push(`the page names ${word}, which is not in the registry`);
  }
  return [...new Set(problems)];
}

const registry: Registry = { proxy: ProxyErrors, config: ConfigErrors, ca: CaErrors };

describe('docs/reference/errors.md', () => {
  const doc = readFileSync(DOC_URL, 'utf8');

  test('documents exactly the codes in the registry, with their statuses', () => {
    assert.deepEqual(compareDoc(doc, registry), []);
  });

  test('shows the grpc-status the responder really sends for each status', () => {
    const grpcText = section(doc, PROXY_HEADING) ?? '';
    const documented = new Map<number, number>();
    for (const cells of tableRows(grpcText)) {
      if (/^\d{3}$/.test(cells[0] ?? '') && /^\d+$/.test(cells[1] ?? ''))
        documented.set(Number(cells[0]), Number(cells[1]));
    }
    const expected = new Map<number, number>();
    for (const code of Object.keys(ProxyErrors) as ProxyErrorCode[]) {
      if (code === 'DIRECT_RESPONSE') continue; // never sent through the error responder
      expected.set(ProxyErrors[code].status, grpcStatusSentFor(code));
    }
    assert.deepEqual(
      [...documented.entries()].sort((a, b) => a[0] - b[0]),
      [...expected.entries()].sort((a, b) => a[0] - b[0]),
    );
  });
});

describe('compareDoc (proves the check can fail)', () => {
  const doc = readFileSync(DOC_URL, 'utf8');

  test('a registry code missing from the page', () => {
    const broken = doc
      .split('\n')
      .filter((l) => !l.startsWith('| `TIMEOUT`'))
      .join('\n');
    assert.deepEqual(compareDoc(broken, registry), [
      'TIMEOUT is in the registry but not documented under "## Request errors"',
    ]);
  });

  test('a code on the page that the registry lacks', () => {
    const broken = doc.replace(
      '\n## Certificate authority errors',
      '| `CONFIG_MADE_UP` | Not real. | Nothing. |\n\n## Certificate authority errors',
    );
    assert.notEqual(broken, doc);
    assert.deepEqual(compareDoc(broken, registry), [
      'CONFIG_MADE_UP is documented but not a configuration error code',
      'the page names CONFIG_MADE_UP, which is not in the registry',
    ]);
    const prose = doc.replace(
      '## Configuration errors',
      'See also `NO_SUCH_CODE`.\n\n## Configuration errors',
    );
    assert.deepEqual(compareDoc(prose, registry), [
      'the page names NO_SUCH_CODE, which is not in the registry',
    ]);
  });

  test('a status on the page that differs from the registry', () => {
    const broken = doc.replace(/^(\| `NO_ROUTE` +\| )404/m, '$1410');
    assert.notEqual(broken, doc);
    assert.deepEqual(compareDoc(broken, registry), ['NO_ROUTE: the page says status 410, the registry 404']);
  });

  test('a code documented in the wrong section', () => {
    const line = doc.split('\n').find((l) => l.startsWith('| `CONFIG_REGEX`')) as string;
    const broken = doc
      .replace(`${line}\n`, '')
      .replace('| `INTERNAL`', `| \`CONFIG_REGEX\` | 400 | x | y |\n| \`INTERNAL\``);
    const problems = compareDoc(broken, registry);
    assert.ok(
      problems.includes('CONFIG_REGEX is documented but not a request error code'),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes('CONFIG_REGEX is in the registry but not documented under "## Configuration errors"'),
      problems.join('\n'),
    );
  });

  test('a code listed twice', () => {
    const line = doc.split('\n').find((l) => l.startsWith('| `INTERNAL`')) as string;
    const broken = doc.replace(line, `${line}\n${line}`);
    assert.deepEqual(compareDoc(broken, registry), ['request errors: INTERNAL is listed twice']);
  });

  test('a registry that gained a code', () => {
    const grown: Registry = {
      proxy: { ...ProxyErrors, QUOTA_EXCEEDED: { status: 429 } },
      config: ConfigErrors,
      ca: CaErrors,
    };
    assert.deepEqual(compareDoc(doc, grown), [
      'QUOTA_EXCEEDED is in the registry but not documented under "## Request errors"',
    ]);
  });
});

/** Runs the real responder for a gRPC request and returns the grpc-status it sets. */
function grpcStatusSentFor(code: ProxyErrorCode): number {
  const headers: Record<string, string | string[] | number> = {};
  let httpStatus = 0;
  const res: DownstreamResponse = {
    headersSent: false,
    writableFinished: false,
    writeHead(status, h) {
      httpStatus = status;
      Object.assign(headers, h);
      return this;
    },
    write: () => true,
    end() {
      return this;
    },
    addTrailers() {},
    once() {
      return this;
    },
    destroy() {
      return this;
    },
  };
  respondError(res, code, true);
  assert.equal(httpStatus, 200, `${code}: gRPC errors are sent with HTTP 200`);
  assert.equal(headers['weft-error'], code);
  return Number(headers['grpc-status']);
}
