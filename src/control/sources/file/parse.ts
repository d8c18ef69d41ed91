/**
 * Parses a multi-document YAML (or JSON) file into documents that remember where each value is, so an
 * invalid resource is reported at its file, line and column. A document with a syntax error is returned
 * with its issues; the other documents of the file still parse.
 */
import { isNode, LineCounter, parseAllDocuments } from 'yaml';
import type { Origin } from '../../../api/resources/meta.ts';
import type { SourcedDocument } from '../types.ts';

export function parseDocuments(text: string, file: string): SourcedDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: SourcedDocument[] = [];
  list.forEach((doc, i) => {
    const at = (offset: number): Origin => {
      const pos = lineCounter.linePos(offset);
      return { file, line: pos.line, column: pos.col };
    };
    const start = doc.contents && isNode(doc.contents) && doc.contents.range ? doc.contents.range[0] : 0;
    if (doc.errors.length > 0) {
      out.push({
        id: `${file}#${i}`,
        origin: at(doc.errors[0]?.pos[0] ?? start),
        doc: undefined,
        parseIssues: doc.errors.map((e) => ({
          code: 'CONFIG_PARSE' as const,
          path: '',
          message: e.message.split('\n')[0] ?? e.message,
        })),
        locate: () => at(doc.errors[0]?.pos[0] ?? start),
      });
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document ("---" at the end)
    out.push({
      id: `${file}#${i}`,
      origin: at(start),
      doc: value,
      parseIssues: [],
      locate(dotted) {
        const parts = dotted === '' ? [] : dotted.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
        for (let n = parts.length; n >= 0; n--) {
          const node = doc.getIn(parts.slice(0, n), true);
          if (isNode(node) && node.range) return at(node.range[0]);
        }
        return at(start);
      },
    });
  });
  return out;
}
