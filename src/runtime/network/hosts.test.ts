import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderHostsFile, writeHostsFile } from './hosts.ts';

// writeHostsFile's in-place rewrite, seen by a process inside the namespace: test/integration/interception.test.ts.

describe('renderHostsFile', () => {
  it('starts with the localhost lines and lists one address per line', () => {
    assert.equal(
      renderHostsFile([
        { ip: '10.77.128.1', names: ['reviews', 'reviews.default', 'reviews.default.svc.cluster.local'] },
        { ip: 'fd00::1', names: ['ratings'] },
      ]),
      '# Written by Weft for this network namespace; rewritten in place on every change.\n' +
        '127.0.0.1\tlocalhost\n' +
        '::1\tlocalhost ip6-localhost ip6-loopback\n' +
        '10.77.128.1\treviews reviews.default reviews.default.svc.cluster.local\n' +
        'fd00::1\tratings\n',
    );
  });

  it('rejects what would corrupt the file', () => {
    assert.throws(() => renderHostsFile([{ ip: '10.0.0.300', names: ['a'] }]), /invalid IP/);
    assert.throws(() => renderHostsFile([{ ip: '10.0.0.1', names: [] }]), /no names/);
    assert.throws(() => renderHostsFile([{ ip: '10.0.0.1', names: ['a b'] }]), /invalid host name/);
    assert.throws(() => renderHostsFile([{ ip: '10.0.0.1', names: ['a\n10.0.0.2 b'] }]), /invalid host name/);
    assert.throws(() => renderHostsFile([{ ip: '10.0.0.1', names: ['-a'] }]), /invalid host name/);
  });

  it('refuses a namespace name that is a path', async () => {
    await assert.rejects(writeHostsFile('../etc', []), /invalid network namespace name/);
    await assert.rejects(writeHostsFile('a/b', []), /invalid network namespace name/);
  });
});
