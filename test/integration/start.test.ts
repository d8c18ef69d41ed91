/**
 * `weft start` (one proxy, no control plane) brings up the sample app behind a proxy and prints how to call it;
 * what it prints must work. Ports are chosen by the command itself when the preferred ones are taken.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { get } from '../support/http.ts';

const BIN = new URL('../../bin/weft.js', import.meta.url).pathname;

test('weft start runs the demo and every command it prints answers', async () => {
  // Both preferred ports are taken, so the command must fall back to free ports and print those.
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const taken = String((busy.address() as net.AddressInfo).port);
  const child = spawn(process.execPath, [BIN, 'start', '--port', taken, '--admin-port', taken], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  try {
    const deadline = Date.now() + 15_000;
    while (!out.includes('Press Ctrl-C') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, /Press Ctrl-C/, out);
    const urls = [...out.matchAll(/curl (?:-H '([^']+)' )?(http:\/\/127\.0\.0\.1:\d+\/\S*)/g)];
    assert.ok(urls.length >= 5, out);
    assert.ok(!out.includes(`127.0.0.1:${taken}/`), 'the taken port is not offered');
    const versions = new Set<string>();
    for (const [, header, url] of urls) {
      const headers = header
        ? { [header.split(':')[0] as string]: (header.split(':')[1] as string).trim() }
        : {};
      const r = await get(url as string, { headers });
      assert.equal(r.status, 200, `${url}: ${r.body}`);
      if (url?.endsWith('/') && r.headers['content-type'] === 'application/json')
        versions.add(r.json<{ version: string }>().version);
    }
    assert.ok(versions.size >= 1);
    const hello = urls.find(([, , u]) => u?.endsWith('/hello'));
    assert.ok(hello);
    assert.equal((await get(hello[2] as string)).body, 'hello from the weft proxy\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    busy.close();
  }
});
