import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAddressPlan } from './address-plan.ts';

describe('createAddressPlan', () => {
  const plan = createAddressPlan();

  it('puts instances in 10.77.1.0–10.77.127.255', () => {
    assert.equal(plan.subnet, '10.77.0.0/16');
    assert.equal(plan.instanceAddress(0), '10.77.1.1');
    assert.equal(plan.instanceAddress(4), '10.77.1.5');
    assert.equal(plan.instanceAddress(255), '10.77.2.0');
    assert.equal(plan.instanceAddress(32_510), '10.77.127.255');
    assert.throws(() => plan.instanceAddress(32_511), /outside the plan/);
    assert.throws(() => plan.instanceAddress(-1), /outside the plan/);
  });

  it('puts virtual IPs in 10.77.128.0/17, short of the broadcast address', () => {
    assert.equal(plan.vipRange, '10.77.128.0/17');
    assert.equal(plan.vipAddress(0), '10.77.128.1');
    assert.equal(plan.vipAddress(32_765), '10.77.255.254');
    assert.throws(() => plan.vipAddress(32_766), /outside the plan/);
  });

  it('tells instance addresses from virtual IPs', () => {
    assert.ok(plan.isInstanceAddress('10.77.1.5'));
    assert.ok(!plan.isInstanceAddress('10.77.128.5'));
    assert.ok(plan.isVip('10.77.128.10'));
    assert.ok(!plan.isVip('10.77.1.5'));
    assert.ok(!plan.isVip('10.78.128.10'));
    assert.ok(!plan.isInstanceAddress('10.77.0.5'));
    assert.ok(!plan.isVip('not an address'));
  });

  it('can use another second octet', () => {
    assert.equal(createAddressPlan(99).instanceAddress(0), '10.99.1.1');
    assert.throws(() => createAddressPlan(256), /invalid second octet/);
  });
});
