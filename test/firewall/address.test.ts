import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalPrefixLength, canonicalTarget, netmask, parseTarget } from '../../src/firewall/address.js';
import { FirewallError } from '../../src/firewall/firewall.js';
import { rangeToCidr } from '../../src/firewall/nft-json.js';

/** Target parsing is the injection barrier: only what formatAddress writes reaches nft/ipset. */
describe('ban target parsing', () => {
  test('canonical forms', () => {
    const cases: [string, string][] = [
      ['192.0.2.7', '192.0.2.7'],
      ['192.0.2.7/32', '192.0.2.7'],
      ['198.51.100.0/24', '198.51.100.0/24'],
      ['2001:DB8:0:0::1', '2001:db8::1'],
      ['2001:db8::1/128', '2001:db8::1'],
      ['2001:db8:1:2:0:0:0:0/64', '2001:db8:1:2::/64'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // longest zero run only
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
      ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'], // single zero group not compressed
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['2001:db8::192.0.2.1', '2001:db8::c000:201'],
      ['2001:db8::/32', '2001:db8::/32'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalTarget(input), want, input);
    assert.equal(parseTarget('2001:db8:1:2::/64').address, '2001:db8:1:2::');
    assert.equal(parseTarget('192.0.2.0/24').family, 4);
  });

  test('rejects anything that is not exactly an address or prefix', () => {
    const bad = [
      '', ' 192.0.2.1', '192.0.2.1 ', '192.0.2.1\n', '192.0.2.1,192.0.2.2', '192.0.2.1 }', '192.0.2', '192.0.2.1.5',
      '192.0.2.256', '192.0.2.01', '0x7f.0.0.1', '192.0.2.1/', '192.0.2.1/33', '192.0.2.0/0', '192.0.2.0/024', '192.0.2.5/24',
      '2001:db8::1%eth0', '2001:db8:::1', '2001:db8::1::2', '1:2:3:4:5:6:7:8:9', '12345::1', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:',
      '2001:db8::/129', '2001:db8::1/64', '::ffff:192.0.2.256', '2001:db8::192.0.2.1:1', 'localhost', 'x'.repeat(100),
    ];
    for (const t of bad) assert.throws(() => parseTarget(t), FirewallError, JSON.stringify(t));
  });

  test('netmasks and exact-CIDR ranges', () => {
    assert.equal(netmask(4, 24), '255.255.255.0');
    assert.equal(netmask(4, 1), '128.0.0.0');
    assert.equal(netmask(6, 64), 'ffff:ffff:ffff:ffff::');
    assert.equal(netmask(6, 127), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe');
    assert.equal(rangeToCidr('192.0.2.0', '192.0.2.255'), '192.0.2.0/24');
    assert.equal(rangeToCidr('2001:db8::', '2001:db8::ffff:ffff:ffff:ffff'), '2001:db8::/64');
    assert.equal(rangeToCidr('192.0.2.1', '192.0.2.1'), '192.0.2.1');
    assert.equal(rangeToCidr('192.0.2.1', '192.0.2.2'), undefined);
  });

  test('the allocation-free check used on restore agrees with parseTarget on every input', () => {
    const inputs = [
      '192.0.2.7', '192.0.2.7/32', '198.51.100.0/24', '198.51.100.0/0', '0.0.0.0', '255.255.255.255', '10.0.0.0/8', '10.0.0.0/08',
      '2001:db8::1', '2001:DB8::1', '2001:db8:0:0::1', '2001:db8::1/128', '2001:db8:1:2::/64', '2001:db8:1:2:0:0:0:0/64',
      '2001:db8:0:1::1', '2001:db8:0:1:0:0:0:1', '2001:db8::1:0:0:1', '2001:db8:0:0:1:0:0:1', '2001:db8:1:1:1:1:0:1',
      '2001:db8:1:1:1:1::1', '::ffff:192.0.2.1', '::ffff:c000:201', '2001:db8::192.0.2.1', '2001:db8::c000:201', '::', '::1',
      '1::', '2001:db8::/32', '2001:db8::/032', '2001:0db8::1', '2001:db8::01', 'fe80::1%eth0', '2001:db8::1/64',
      '192.0.2.5/24', '192.0.2.01', ' 192.0.2.1', '192.0.2.1,192.0.2.2', '2001:db8::1 timeout 1s', 'x', '',
    ];
    // And the documentation addresses a restore benchmark uses, in both families.
    for (let i = 0; i < 2000; i++) inputs.push(`203.0.113.${i % 256}`, `2001:db8:${(1 + (i >> 4)).toString(16)}:${(i * 7919 % 65536).toString(16)}::${(i % 3).toString(16)}`);
    for (const input of inputs) {
      for (const family of [4, 6] as const) {
        let want = -1;
        try {
          const parsed = parseTarget(input);
          if (parsed.canonical === input && parsed.family === family) want = parsed.prefixLength;
        } catch {
          // invalid: -1
        }
        assert.equal(canonicalPrefixLength(input, family), want, `${JSON.stringify(input)} as IPv${family}`);
      }
    }
  });
});
