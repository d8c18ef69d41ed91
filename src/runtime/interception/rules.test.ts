import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ruleLines } from './apply.ts';
import { DEFAULT_INTERCEPTION, renderInterceptionRules } from './rules.ts';

// Golden texts: a change here changes what every instance and the Kubernetes init container install.
// They are also exactly what iptables-save prints back (checked in test/integration/interception.test.ts).

describe('renderInterceptionRules', () => {
  it('renders the defaults (IPv4)', () => {
    assert.equal(
      renderInterceptionRules(DEFAULT_INTERCEPTION),
      `# Weft transparent interception (IPv4), for iptables-restore --noflush.
*nat
:WEFT_INBOUND - [0:0]
:WEFT_IN_REDIRECT - [0:0]
:WEFT_OUTPUT - [0:0]
:WEFT_REDIRECT - [0:0]
-A PREROUTING -p tcp -j WEFT_INBOUND
-A OUTPUT -p tcp -j WEFT_OUTPUT
-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT
-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A WEFT_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j WEFT_INBOUND
-A WEFT_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A WEFT_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A WEFT_OUTPUT -d 127.0.0.1/32 -j RETURN
-A WEFT_OUTPUT -j WEFT_REDIRECT
-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`,
    );
  });

  it('renders excluded ports, excluded and included CIDRs, other ports and uid (IPv4)', () => {
    const options = {
      proxyUid: 2000,
      inboundPort: 16006,
      outboundPort: 16001,
      excludeInboundPorts: [15000, 22, 15000],
      excludeOutboundCidrs: ['10.77.0.0/24', '192.0.2.7', 'fd00::/8'],
      includeOutboundCidrs: ['10.0.0.0/8', '2001:db8::/32'],
    };
    assert.equal(
      renderInterceptionRules(options, 4),
      `# Weft transparent interception (IPv4), for iptables-restore --noflush.
*nat
:WEFT_INBOUND - [0:0]
:WEFT_IN_REDIRECT - [0:0]
:WEFT_OUTPUT - [0:0]
:WEFT_REDIRECT - [0:0]
-A PREROUTING -p tcp -j WEFT_INBOUND
-A OUTPUT -p tcp -j WEFT_OUTPUT
-A WEFT_INBOUND -p tcp -m tcp --dport 15000 -j RETURN
-A WEFT_INBOUND -p tcp -m tcp --dport 22 -j RETURN
-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT
-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006
-A WEFT_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 2000 -j WEFT_INBOUND
-A WEFT_OUTPUT -o lo -m owner ! --uid-owner 2000 -j RETURN
-A WEFT_OUTPUT -m owner --uid-owner 2000 -j RETURN
-A WEFT_OUTPUT -d 127.0.0.1/32 -j RETURN
-A WEFT_OUTPUT -d 10.77.0.0/24 -j RETURN
-A WEFT_OUTPUT -d 192.0.2.7/32 -j RETURN
-A WEFT_OUTPUT -d 10.0.0.0/8 -j WEFT_REDIRECT
-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 16001
COMMIT
`,
    );
    assert.equal(
      renderInterceptionRules(options, 6),
      `# Weft transparent interception (IPv6), for ip6tables-restore --noflush.
*nat
:WEFT_INBOUND - [0:0]
:WEFT_IN_REDIRECT - [0:0]
:WEFT_OUTPUT - [0:0]
:WEFT_REDIRECT - [0:0]
-A PREROUTING -p tcp -j WEFT_INBOUND
-A OUTPUT -p tcp -j WEFT_OUTPUT
-A WEFT_INBOUND -p tcp -m tcp --dport 15000 -j RETURN
-A WEFT_INBOUND -p tcp -m tcp --dport 22 -j RETURN
-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT
-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006
-A WEFT_OUTPUT ! -d ::1/128 -o lo -m owner --uid-owner 2000 -j WEFT_INBOUND
-A WEFT_OUTPUT -o lo -m owner ! --uid-owner 2000 -j RETURN
-A WEFT_OUTPUT -m owner --uid-owner 2000 -j RETURN
-A WEFT_OUTPUT -d ::1/128 -j RETURN
-A WEFT_OUTPUT -d fd00::/8 -j RETURN
-A WEFT_OUTPUT -d 2001:db8::/32 -j WEFT_REDIRECT
-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 16001
COMMIT
`,
    );
  });

  it('redirects nothing outbound when the include list is empty', () => {
    const text = renderInterceptionRules({ ...DEFAULT_INTERCEPTION, includeOutboundCidrs: [] });
    assert.ok(!text.includes('-j WEFT_REDIRECT'));
    assert.ok(text.includes('-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001'));
  });

  it('rejects bad ports, uids and CIDRs', () => {
    const bad = [
      { proxyUid: -1 },
      { proxyUid: 1.5 },
      { inboundPort: 0 },
      { outboundPort: 65_536 },
      { excludeInboundPorts: [80, 70_000] },
      { excludeOutboundCidrs: ['10.0.0.0/33'] },
      { excludeOutboundCidrs: ['10.0.0/8'] },
      { excludeOutboundCidrs: ['10.0.0.0/8/1'] },
      { includeOutboundCidrs: ['fd00::/129'] },
      { includeOutboundCidrs: ['example.com/8'] },
      { includeOutboundCidrs: ['10.0.0.0/'] },
    ];
    for (const patch of bad) {
      assert.throws(
        () => renderInterceptionRules({ ...DEFAULT_INTERCEPTION, ...patch }),
        /interception: invalid/,
        JSON.stringify(patch),
      );
    }
  });

  it('checks CIDRs of both families whichever family it renders', () => {
    assert.throws(
      () => renderInterceptionRules({ ...DEFAULT_INTERCEPTION, excludeOutboundCidrs: ['fd00::/200'] }, 4),
      /invalid CIDR/,
    );
  });
});

describe('ruleLines', () => {
  it('keeps the declarations and -A rules, as iptables-save prints them', () => {
    const lines = ruleLines(renderInterceptionRules(DEFAULT_INTERCEPTION));
    assert.equal(lines[0], ':WEFT_INBOUND - [0:0]');
    assert.equal(lines.at(-1), '-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports 15001');
    assert.ok(lines.every((l) => l.startsWith(':') || l.startsWith('-A ')));
  });
});
