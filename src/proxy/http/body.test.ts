import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { BUFFER_LIMIT, readBody } from './body.ts';

const read = (r: Readable) =>
  new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(c));
    r.on('end', () => resolve(Buffer.concat(chunks)));
  });

const result = (req: Readable, declared?: number) =>
  new Promise<Buffer | Readable>((resolve) => readBody(req, declared, resolve));

describe('readBody', () => {
  test('a body with a small declared length arrives as one Buffer, even across ticks', async () => {
    const req = new PassThrough();
    const p = result(req, 10);
    req.write('hello');
    await new Promise((r) => setTimeout(r, 5));
    req.end('world');
    const body = await p;
    assert.ok(Buffer.isBuffer(body));
    assert.equal(body.toString(), 'helloworld');
  });

  test('a body without a length that ends in the same tick is buffered', async () => {
    const req = new PassThrough();
    const p = result(req);
    req.write('a');
    req.end('b');
    const body = await p;
    assert.ok(Buffer.isBuffer(body));
    assert.equal(body.toString(), 'ab');
  });

  test('a body without a length that keeps coming switches to a stream, replaying what was read', async () => {
    const req = new PassThrough();
    const p = result(req);
    req.write('first,');
    const body = await p;
    assert.ok(!Buffer.isBuffer(body), 'streaming after one tick');
    req.end('second');
    assert.equal((await read(body)).toString(), 'first,second');
  });

  test('a declared length above the limit streams at once; so does an unknown one that grows past it', async () => {
    const big = new PassThrough();
    const direct = await result(big, BUFFER_LIMIT + 1);
    assert.equal(direct, big);
    const req = new PassThrough();
    const p = result(req);
    const chunk = Buffer.alloc(BUFFER_LIMIT + 10, 1);
    req.write(chunk);
    const body = await p;
    assert.ok(!Buffer.isBuffer(body));
    req.end();
    assert.equal((await read(body)).length, chunk.length);
  });

  test('an aborted request never calls back', async () => {
    const req = new PassThrough();
    let called = false;
    readBody(req, 100, () => {
      called = true;
    });
    req.write('partial');
    req.destroy();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(called, false);
  });
});
