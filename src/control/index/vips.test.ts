/**
 * Service virtual IPs: allocated from 10.77.128.0/17 on first use, kept in a file so a restarted control
 * plane hands out the same ones, and freed only by `retain`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createVipAllocator, ipFromInt } from './vips.ts';

test('ipFromInt', () => {
  assert.equal(ipFromInt(((10 << 24) | (77 << 16) | (128 << 8)) + 10), '10.77.128.10');
  assert.equal(ipFromInt(0xffffffff), '255.255.255.255');
});

test('the same key gets the same address; a file keeps them across allocators; retain frees', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-vips-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'vips.json');
  const a = createVipAllocator(file);
  assert.equal(a.get('default/web'), '10.77.128.10');
  assert.equal(a.get('default/api'), '10.77.128.11');
  assert.equal(a.get('default/web'), '10.77.128.10');
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { 'default/web': 10, 'default/api': 11 });

  const b = createVipAllocator(file);
  assert.equal(b.get('default/api'), '10.77.128.11');
  b.retain(new Set(['default/api']));
  // The freed address is the lowest free one again.
  assert.equal(b.get('other/search'), '10.77.128.10');
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { 'default/api': 11, 'other/search': 10 });
});

test('an unreadable or corrupt file starts an empty table; no file keeps it in memory', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-vips-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'vips.json');
  fs.writeFileSync(file, '{ not json');
  assert.equal(createVipAllocator(file).get('default/web'), '10.77.128.10');
  const memory = createVipAllocator();
  assert.equal(memory.get('a/b'), '10.77.128.10');
  assert.equal(memory.get('a/c'), '10.77.128.11');
});
