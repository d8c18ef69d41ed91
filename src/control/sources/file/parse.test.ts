/**
 * The file source's parser: multi-document YAML (and JSON) into documents that know where every value
 * is, so an issue's dotted path becomes file:line:column; a syntax error stays in its own document.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDocuments } from './parse.ts';

const TEXT = `# a comment before the first document
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: { app: web }
  ports:
    - name: http
      port: 80
    - { name: grpc, port: 9090, targetPort: grpc }
---
---
# only a comment: an empty document
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: robot }
`;

describe('parseDocuments', () => {
  const docs = parseDocuments(TEXT, '/srv/mesh.yaml');
  const web = docs[0];
  assert.ok(web);

  test('one entry per non-empty document, ids by position in the file, origins at the content', () => {
    assert.deepEqual(
      docs.map((d) => [d.id, d.origin.line, d.origin.column, d.parseIssues.length]),
      [
        ['/srv/mesh.yaml#0', 2, 1, 0],
        ['/srv/mesh.yaml#3', 16, 1, 0],
      ],
    );
    assert.deepEqual(docs[1]?.doc, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } });
  });

  test('locate: nested fields in block and flow style, at their values', () => {
    const at = (p: string) => {
      const o = web.locate(p);
      return `${o.file}:${o.line}:${o.column}`;
    };
    assert.equal(at('metadata.name'), '/srv/mesh.yaml:5:9');
    assert.equal(at('spec.ports.0'), '/srv/mesh.yaml:9:7');
    assert.equal(at('spec.ports.0.port'), '/srv/mesh.yaml:10:13');
    assert.equal(at('spec.ports.1.targetPort'), '/srv/mesh.yaml:11:45');
    assert.equal(at('spec.selector.app'), '/srv/mesh.yaml:7:20');
  });

  test('locate: a path that does not exist falls back to its nearest parent; "" is the document', () => {
    assert.deepEqual(web.locate('spec.ports.1.appProtocol'), { file: '/srv/mesh.yaml', line: 11, column: 7 });
    assert.deepEqual(web.locate('spec.ports.7.port'), { file: '/srv/mesh.yaml', line: 9, column: 5 });
    assert.deepEqual(web.locate('status'), web.origin);
    assert.deepEqual(web.locate(''), web.origin);
  });

  test('a syntax error makes its document a parse issue; the documents around it still parse', () => {
    const out = parseDocuments('kind: A\n---\nkind: [B\n---\nkind: C\n', 'f.yaml');
    assert.deepEqual(
      out.map((d) => [d.id, d.doc, d.parseIssues.map((i) => i.code)]),
      [
        ['f.yaml#0', { kind: 'A' }, []],
        ['f.yaml#1', undefined, ['CONFIG_PARSE']],
        ['f.yaml#2', { kind: 'C' }, []],
      ],
    );
    // The message is one line: the pretty error's code frame is left out.
    assert.ok(!out[1]?.parseIssues[0]?.message.includes('\n'));
    assert.equal(out[1]?.origin.file, 'f.yaml');
  });

  test('JSON is YAML: one document, with positions', () => {
    const [doc] = parseDocuments(
      '{\n  "kind": "Service",\n  "spec": { "ports": [ { "port": 80 } ] }\n}\n',
      'svc.json',
    );
    assert.deepEqual(doc?.doc, { kind: 'Service', spec: { ports: [{ port: 80 }] } });
    assert.deepEqual(doc?.locate('spec.ports.0.port'), { file: 'svc.json', line: 3, column: 34 });
  });

  test('an empty file has no documents', () => {
    assert.deepEqual(parseDocuments('', 'empty.yaml'), []);
    assert.deepEqual(parseDocuments('# nothing\n', 'empty.yaml'), []);
  });
});
