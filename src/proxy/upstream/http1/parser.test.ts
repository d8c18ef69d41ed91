/**
 * The upstream HTTP/1.1 response parser without sockets: every response is fed whole, one byte at a
 * time, split at every byte boundary and split at random (seeded) places, and must produce the same
 * events each way. Then the framing rules (RFC 9112 §6), keep-alive, interim responses, and the
 * malformed inputs that must fail with WEFT_UPSTREAM_PROTOCOL rather than be guessed at.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../../../core/random.ts';
import { type HeaderValues, UPSTREAM_PROTOCOL_ERROR } from '../types.ts';
import { ResponseParser } from './parser.ts';

interface Head {
  status: number;
  reason: string;
  headers: HeaderValues;
  keepAlive: boolean;
}

/** The events of one run, with adjacent data merged so that different splits compare equal. */
type Event = ['head', Head] | ['data', string] | ['end', HeaderValues];

interface Recorder {
  parser: ResponseParser;
  events: Event[];
  /** Every data chunk as emitted, to check that none is empty. */
  chunks: Buffer[];
}

function record(): Recorder {
  const events: Event[] = [];
  const chunks: Buffer[] = [];
  const parser = new ResponseParser({
    head: (status, reason, headers, keepAlive) =>
      events.push(['head', { status, reason, headers: { ...headers }, keepAlive }]),
    data: (chunk) => {
      chunks.push(chunk);
      const last = events[events.length - 1];
      if (last?.[0] === 'data') last[1] += chunk.toString('latin1');
      else events.push(['data', chunk.toString('latin1')]);
    },
    end: (trailers) => events.push(['end', { ...trailers }]),
  });
  return { parser, events, chunks };
}

/** Feeds `pieces` to a fresh parser (reset for `head` when asked) and returns what it emitted. */
function run(pieces: Buffer[], options: { head?: boolean; eof?: boolean } = {}): Recorder {
  const r = record();
  r.parser.reset(options.head ?? false);
  for (const p of pieces) r.parser.feed(p);
  if (options.eof) assert.equal(r.parser.eof(), undefined);
  return r;
}

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** The ways to cut one input: whole, single bytes, at every boundary in two, and 200 random cuttings. */
function splits(input: Buffer, seed = 1): Buffer[][] {
  const out: Buffer[][] = [[input]];
  const ones: Buffer[] = [];
  for (let i = 0; i < input.length; i++) ones.push(input.subarray(i, i + 1));
  out.push(ones);
  for (let i = 1; i < input.length; i++) out.push([input.subarray(0, i), input.subarray(i)]);
  const random = seededRandom(seed);
  for (let n = 0; n < 200; n++) {
    const pieces: Buffer[] = [];
    let off = 0;
    while (off < input.length) {
      const len = 1 + Math.floor(random() * Math.min(16, input.length - off));
      pieces.push(input.subarray(off, off + len));
      off += len;
    }
    out.push(pieces);
  }
  return out;
}

/** Runs every cutting of `input` and checks each gives `expected`; returns how many were run. */
function assertSplitInvariant(input: Buffer, expected: Event[], options: { eof?: boolean } = {}): number {
  const cuttings = splits(input);
  for (const [i, pieces] of cuttings.entries()) {
    const r = run(pieces, options);
    assert.deepEqual(r.events, expected, `cutting #${i} (${pieces.map((p) => p.length).join('+')})`);
    assert.ok(
      r.chunks.every((c) => c.length > 0),
      `cutting #${i} emitted an empty data chunk`,
    );
    assert.equal(r.parser.done, true);
  }
  return cuttings.length;
}

function isProtocolError(err: unknown): boolean {
  assert.ok(err instanceof Error);
  assert.equal((err as Error & { code?: string }).code, UPSTREAM_PROTOCOL_ERROR, err.message);
  return true;
}

function assertMalformed(input: string, message?: string): void {
  const r = record();
  r.parser.reset(false);
  assert.throws(() => r.parser.feed(bytes(input)), isProtocolError, message ?? JSON.stringify(input));
}

const head = (
  status: number,
  headers: HeaderValues,
  keepAlive = true,
  reason = status === 200 ? 'OK' : '',
): Event => ['head', { status, reason, headers, keepAlive }];

describe('ResponseParser: content-length bodies', () => {
  const input = bytes(
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 26\r\nX-Padded:   spaced out  \r\n\r\nabcdefghijklmnopqrstuvwxyz',
  );
  const expected: Event[] = [
    head(200, { 'content-type': 'text/plain', 'content-length': '26', 'x-padded': 'spaced out' }),
    ['data', 'abcdefghijklmnopqrstuvwxyz'],
    ['end', {}],
  ];

  test('the same events whole, byte by byte, at every split and at seeded random splits', () => {
    const n = assertSplitInvariant(input, expected);
    assert.ok(n > input.length + 200);
  });

  test('header names are lower-cased and the reason phrase may be absent or contain spaces', () => {
    const a = run([bytes('HTTP/1.1 404 Not Found Here\r\nX-UPPER: v\r\ncontent-length: 0\r\n\r\n')]);
    assert.deepEqual(
      a.events,
      [head(404, { 'x-upper': 'v', 'content-length': '0' }, true, 'Not Found Here')].concat([['end', {}]]),
    );
    const b = run([bytes('HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n')]);
    assert.deepEqual(b.events[0], head(200, { 'content-length': '0' }, true, ''));
  });

  test('content-length: 0 ends at the head, with no data event', () => {
    const r = run([bytes('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')]);
    assert.deepEqual(r.events, [head(200, { 'content-length': '0' }), ['end', {}]]);
    assert.equal(r.parser.done, true);
  });

  test('body bytes are handed on as slices of the input, not copies', () => {
    const r = record();
    r.parser.reset(false);
    const whole = bytes('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
    r.parser.feed(whole);
    assert.equal(r.chunks.length, 1);
    assert.equal(r.chunks[0]?.buffer, whole.buffer);
  });

  test('repeated header fields become arrays in arrival order', () => {
    const r = run([
      bytes(
        'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-One: only\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\nVary: accept\r\nVary: origin\r\ncontent-length: 0\r\n\r\n',
      ),
    ]);
    assert.deepEqual(r.events[0], [
      'head',
      {
        status: 200,
        reason: 'OK',
        headers: {
          'set-cookie': ['a=1', 'b=2', 'c=3'],
          'x-one': 'only',
          vary: ['accept', 'origin'],
          'content-length': '0',
        },
        keepAlive: true,
      },
    ]);
  });
});

describe('ResponseParser: chunked bodies', () => {
  const input = bytes(
    [
      'HTTP/1.1 200 OK',
      'Transfer-Encoding: chunked',
      'Trailer: X-Checksum, X-Count',
      '',
      '5;name=value',
      'hello',
      '1 ;ext',
      ',',
      'A;quoted="a;b";flag',
      ' worldwide',
      '0;final=yes',
      'X-Checksum: abc123',
      'X-Count:  3 ',
      '',
      '',
    ].join('\r\n'),
  );
  const expected: Event[] = [
    head(200, {}),
    ['data', 'hello, worldwide'],
    ['end', { 'x-checksum': 'abc123', 'x-count': '3' }],
  ];

  test('chunk extensions are ignored and trailers reported, at every split', () => {
    assertSplitInvariant(input, expected);
  });

  test('a chunked body without trailers ends with empty trailers; hex sizes in either case', () => {
    const body =
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nf\r\n0123456789abcde\r\nF\r\nfedcba987654321\r\n0\r\n\r\n';
    assertSplitInvariant(bytes(body), [
      head(200, {}),
      ['data', '0123456789abcdefedcba987654321'],
      ['end', {}],
    ]);
  });

  test('transfer-encoding wins over content-length, which is dropped from the head', () => {
    const r = run([
      bytes(
        'HTTP/1.1 200 OK\r\ncontent-length: 999\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      ),
    ]);
    assert.deepEqual(r.events, [head(200, {}), ['data', 'abc'], ['end', {}]]);
  });

  test('chunked must be the last coding: "chunked, gzip" is read until close', () => {
    const raw = '3\r\nabc\r\n0\r\n\r\n';
    const input2 = bytes(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n${raw}`);
    assertSplitInvariant(input2, [head(200, {}, false), ['data', raw], ['end', {}]], { eof: true });
  });

  test('"gzip, chunked" and chunked in a second field line are chunked', () => {
    const a = run([bytes('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n')]);
    assert.deepEqual(a.events.slice(1), [
      ['data', 'zz'],
      ['end', {}],
    ]);
    const b = run([
      bytes(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n',
      ),
    ]);
    assert.deepEqual(b.events.slice(1), [
      ['data', 'zz'],
      ['end', {}],
    ]);
    assert.equal(b.parser.keepAlive, true);
  });
});

describe('ResponseParser: interim and bodiless responses', () => {
  test('100 Continue and 103 Early Hints are skipped; only the final head is reported', () => {
    const input = bytes(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok',
    );
    assertSplitInvariant(input, [
      head(201, { 'content-length': '2' }, true, 'Created'),
      ['data', 'ok'],
      ['end', {}],
    ]);
  });

  for (const status of [204, 304]) {
    test(`${status} has no body even with a content-length, and the parser is done at the head`, () => {
      const input = bytes(`HTTP/1.1 ${status} X\r\ncontent-length: 42\r\netag: "v1"\r\n\r\n`);
      assertSplitInvariant(input, [
        ['head', { status, reason: 'X', headers: { 'content-length': '42', etag: '"v1"' }, keepAlive: true }],
        ['end', {}],
      ]);
      const bare = run([bytes(`HTTP/1.1 ${status} X\r\n\r\n`)]);
      assert.equal(bare.parser.done, true);
      assert.equal(bare.parser.keepAlive, true, 'no body to delimit, so no close is implied');
    });
  }

  test('a response to HEAD (reset(true)) has no body whatever its framing fields say', () => {
    for (const fields of ['content-length: 1000', 'transfer-encoding: chunked', '']) {
      const text = `HTTP/1.1 200 OK\r\n${fields ? `${fields}\r\n` : ''}\r\n`;
      const r = run([bytes(text)], { head: true });
      assert.equal(r.events.length, 2, text);
      assert.equal(r.events[1]?.[0], 'end');
      assert.equal(r.parser.done, true);
      assert.equal(r.parser.keepAlive, true, text);
    }
  });
});

describe('ResponseParser: close-delimited bodies and eof', () => {
  test('a body without length or chunked ends on eof(), never keep-alive', () => {
    const input = bytes(
      'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of this until the connection closes',
    );
    assertSplitInvariant(
      input,
      [
        head(200, { 'content-type': 'text/plain' }, false),
        ['data', 'all of this until the connection closes'],
        ['end', {}],
      ],
      { eof: true },
    );
    const r = run([input]);
    assert.equal(r.parser.done, false, 'not done before the close');
  });

  test('eof() mid-body returns an ECONNRESET error and emits no end', () => {
    const cases = [
      'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabcde\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-trailer: 1\r\n',
      'HTTP/1.1 200 OK\r\ncontent-le',
    ];
    for (const text of cases) {
      const r = run([bytes(text)]);
      assert.equal(r.parser.started, true, text);
      const err = r.parser.eof();
      assert.ok(err instanceof Error, text);
      assert.equal((err as Error & { code?: string }).code, 'ECONNRESET');
      assert.ok(!r.events.some((e) => e[0] === 'end'), text);
    }
  });

  test('eof() before any byte is a reset too, and eof() after the end is nothing', () => {
    const r = record();
    r.parser.reset(false);
    assert.equal(r.parser.started, false);
    assert.equal((r.parser.eof() as Error & { code?: string }).code, 'ECONNRESET');
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx'));
    assert.equal(r.parser.eof(), undefined);
  });
});

describe('ResponseParser: keep-alive', () => {
  const cases: Array<[string, string, boolean]> = [
    ['HTTP/1.1', '', true],
    ['HTTP/1.1', 'connection: keep-alive\r\n', true],
    ['HTTP/1.1', 'connection: close\r\n', false],
    ['HTTP/1.1', 'Connection: Close\r\n', false],
    ['HTTP/1.1', 'connection: upgrade, close\r\n', false],
    ['HTTP/1.0', '', false],
    ['HTTP/1.0', 'connection: keep-alive\r\n', true],
    ['HTTP/1.0', 'Connection: Keep-Alive\r\nKeep-Alive: timeout=5\r\n', true],
    ['HTTP/1.0', 'connection: close\r\n', false],
  ];
  for (const [version, fields, keepAlive] of cases) {
    test(`${version} ${JSON.stringify(fields.trim()) || 'without connection'} → keepAlive ${keepAlive}`, () => {
      const r = run([bytes(`${version} 200 OK\r\n${fields}content-length: 2\r\n\r\nok`)]);
      const h = r.events[0];
      assert.ok(h?.[0] === 'head');
      assert.equal(h[1].keepAlive, keepAlive);
      assert.equal(r.parser.keepAlive, keepAlive);
      assert.equal(r.parser.done, true);
    });
  }

  test('an HTTP/1.0 close-delimited body is not keep-alive even when it asks to be', () => {
    const r = run([bytes('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n\r\nbody')], { eof: true });
    assert.equal(r.parser.keepAlive, false);
    assert.deepEqual(r.events.slice(1), [
      ['data', 'body'],
      ['end', {}],
    ]);
  });
});

describe('ResponseParser: hop-by-hop fields', () => {
  test('are read for framing and keep-alive but left out of the head, with the fields Connection names', () => {
    const r = run([
      bytes(
        [
          'HTTP/1.1 200 OK',
          'Connection: keep-alive, X-Private',
          'X-Private: secret',
          'Keep-Alive: timeout=5, max=100',
          'Proxy-Connection: keep-alive',
          'Upgrade: h2c',
          'TE: trailers',
          'Trailer: x-sum',
          'Transfer-Encoding: chunked',
          'X-Kept: 1',
          '',
          '2',
          'ok',
          '0',
          'x-sum: 9',
          '',
          '',
        ].join('\r\n'),
      ),
    ]);
    assert.deepEqual(r.events, [head(200, { 'x-kept': '1' }), ['data', 'ok'], ['end', { 'x-sum': '9' }]]);
    assert.equal(r.parser.keepAliveHint, 'timeout=5, max=100');
    assert.equal(r.parser.keepAlive, true);
  });

  test('Connection on several lines: every token counts, close among them', () => {
    const r = run([
      bytes('HTTP/1.1 200 OK\r\nConnection: X-A\r\nconnection: close\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n'),
    ]);
    assert.deepEqual(r.events[0], head(200, { 'content-length': '0' }, false));
  });

  test('the Keep-Alive hint belongs to one response: the next one without it clears it', () => {
    const r = record();
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\nkeep-alive: timeout=2\r\ncontent-length: 0\r\n\r\n'));
    assert.equal(r.parser.keepAliveHint, 'timeout=2');
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    assert.equal(r.parser.keepAliveHint, undefined);
  });
});

describe('ResponseParser: started', () => {
  // The pool treats a connection that fails before any response byte as stale and replays the request
  // on a fresh one; once the upstream has sent anything, it has seen the request and a replay is wrong.
  test('is false after reset() and true once any byte of the response arrived', () => {
    const r = record();
    r.parser.reset(false);
    assert.equal(r.parser.started, false);
    r.parser.feed(bytes('H'));
    assert.equal(r.parser.started, true);
  });

  test('is true after a whole interim (1xx) response', () => {
    const r = record();
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 100 Continue\r\n\r\n'));
    assert.equal(r.parser.started, true);
  });

  test('is true after a malformed head arrived whole and was rejected', () => {
    const r = record();
    r.parser.reset(false);
    assert.throws(() => r.parser.feed(bytes('garbage\r\n\r\n')), isProtocolError);
    assert.equal(r.parser.started, true);
  });
});

describe('ResponseParser: reuse after reset()', () => {
  test('a second and third response on the same parser, as on a keep-alive connection', () => {
    const r = record();
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst'));
    assert.equal(r.parser.done, true);
    r.parser.reset(false);
    assert.equal(r.parser.done, false);
    assert.equal(r.parser.started, false);
    const second = bytes(
      'HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\nx-t: 2\r\n\r\n',
    );
    for (let i = 0; i < second.length; i++) r.parser.feed(second.subarray(i, i + 1));
    r.parser.reset(true);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n'));
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfifth'));
    assert.deepEqual(r.events, [
      head(200, { 'content-length': '5' }),
      ['data', 'first'],
      ['end', {}],
      head(201, {}, true, 'Created'),
      ['data', 'second'],
      ['end', { 'x-t': '2' }],
      head(200, { 'content-length': '7' }),
      ['end', {}],
      head(200, { 'content-length': '5' }),
      ['data', 'fifth'],
      ['end', {}],
    ]);
  });

  test('reset() drops a partial head and a partial chunk line', () => {
    const r = record();
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5'));
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-'));
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nok'));
    assert.deepEqual(r.events.slice(-3), [
      head(202, { 'content-length': '2' }, true, 'Accepted'),
      ['data', 'ok'],
      ['end', {}],
    ]);
  });
});

describe('ResponseParser: malformed responses throw WEFT_UPSTREAM_PROTOCOL', () => {
  const ok = 'content-length: 0\r\n\r\n';
  test('bad status lines', () => {
    for (const line of [
      'HTTP/2 200 OK',
      'HTTP/1.2 200 OK',
      'HTTP/1.1 20 OK',
      'HTTP/1.1 2000 OK',
      'HTTP/1.1 200OK',
      'http/1.1 200 OK',
      'ICY 200 OK',
      'garbage',
      '',
    ]) {
      assertMalformed(`${line}\r\n${ok}`, line);
    }
  });

  test('bad header lines: no colon, obs-fold, space before the colon, empty name', () => {
    for (const line of ['NoColonHere', ' folded: continuation', '\tfolded', 'X-Name : v', ': no name']) {
      assertMalformed(`HTTP/1.1 200 OK\r\nx-ok: 1\r\n${line}\r\n${ok}`, line);
    }
  });

  test('bad content-length', () => {
    for (const value of ['abc', '-1', '1.5', '0x10', '5, 5', '', '1e3', '1234567890123456']) {
      assertMalformed(`HTTP/1.1 200 OK\r\ncontent-length: ${value}\r\n\r\n`, value);
    }
    assertMalformed('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n', 'two lengths');
  });

  test('bad chunk sizes', () => {
    for (const size of ['zz', '', '-1', '0x5', '+5', '1234567890abc']) {
      assertMalformed(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${size}\r\n`, size);
    }
  });

  test('a header name that is not a token (tab before the colon, space inside)', () => {
    assertMalformed('HTTP/1.1 200 OK\r\nX-A\t: 1\r\n\r\n');
    assertMalformed('HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n');
  });

  test('a chunk not followed by CRLF', () => {
    for (const rest of ['helloX', 'hello\rX', 'hello\r\r', 'hellohello\r\n']) {
      assertMalformed(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n${rest}`, rest);
    }
  });

  test('a chunk size line longer than 8 KiB', () => {
    assertMalformed(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;${'x'.repeat(9000)}\r\n`);
  });

  test('a head larger than 64 KiB, whole or arriving in pieces', () => {
    const big = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(65 * 1024)}\r\n${ok}`;
    assertMalformed(big);
    // In 1 KiB pieces the terminator never arrives: the parser must give up instead of buffering on.
    const r = record();
    r.parser.reset(false);
    const piece = bytes(`x-filler: ${'b'.repeat(1000)}\r\n`);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\n'));
    let thrown: unknown;
    for (let i = 0; i < 200 && thrown === undefined; i++) {
      try {
        r.parser.feed(piece);
      } catch (err) {
        thrown = err;
        assert.ok(i * piece.length >= 64 * 1024 - piece.length, `gave up early, after ${i} pieces`);
      }
    }
    assert.ok(thrown !== undefined, 'never gave up');
    isProtocolError(thrown);
    // Just under the limit is fine.
    const fits = `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(60 * 1024)}\r\n${ok}`;
    assert.equal(run([bytes(fits)]).parser.done, true);
  });

  test('bytes after the end of a response, in the same or a later feed', () => {
    assertMalformed('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokX');
    assertMalformed('HTTP/1.1 204 No Content\r\n\r\nX');
    assertMalformed('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n');
    const r = record();
    r.parser.reset(false);
    r.parser.feed(bytes('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    assert.throws(() => r.parser.feed(bytes('\r\n')), isProtocolError);
  });

  test('a malformed response is rejected however it is split', () => {
    const input = bytes('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nnope\r\n');
    for (const pieces of splits(input, 7)) {
      const r = record();
      r.parser.reset(false);
      assert.throws(() => {
        for (const p of pieces) r.parser.feed(p);
      }, isProtocolError);
      assert.deepEqual(r.events.slice(1), [['data', 'abc']]);
    }
  });
});

describe('more framing cases', () => {
  test('repeated trailer fields become a list, as repeated header fields do', () => {
    const r = run([
      bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\nX-T: 2\r\n\r\n'),
    ]);
    const end = r.events[r.events.length - 1];
    assert.deepEqual(end, ['end', { 'x-t': ['1', '2'] }]);
  });

  test('a head that arrives one byte at a time is found once complete', () => {
    const text = `HTTP/1.1 200 OK\r\n${'X-Pad: 0123456789\r\n'.repeat(200)}Content-Length: 2\r\n\r\nok`;
    const r = run([...bytes(text)].map((b) => Buffer.from([b])));
    assert.equal(r.events[0]?.[0], 'head');
    assert.equal(Buffer.concat(r.chunks).toString(), 'ok');
  });
});
