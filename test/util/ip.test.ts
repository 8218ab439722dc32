import { test } from 'node:test';
import assert from 'node:assert/strict';
import { banTarget, canonicalAddress, parseCidr } from '../../src/util/ip.js';
import { parseDuration, formatDuration } from '../../src/util/duration.js';

test('addresses have one canonical spelling; IPv4-mapped IPv6 folds to IPv4', () => {
  assert.deepEqual(canonicalAddress('192.0.2.1'), { text: '192.0.2.1', family: 4 });
  assert.deepEqual(canonicalAddress('::ffff:192.0.2.1'), { text: '192.0.2.1', family: 4 });
  assert.deepEqual(canonicalAddress('::FFFF:c000:0201'), { text: '192.0.2.1', family: 4 });
  // IPv6 addresses carry their parsed words (range tests and ban targets reuse them).
  const v6 = (text: string): object => ({ text, family: 6, words: canonicalAddress(text)?.words });
  assert.deepEqual(canonicalAddress('2001:DB8:0:0:0:0:0:1'), v6('2001:db8::1'));
  assert.deepEqual(canonicalAddress('2001:db8:0:0:1:0:0:1'), v6('2001:db8::1:0:0:1'));
  assert.deepEqual(canonicalAddress('[2001:db8::1]'), v6('2001:db8::1'));
  assert.deepEqual(canonicalAddress('fe80::1%eth0'), v6('fe80::1'));
  assert.deepEqual(canonicalAddress('2001:db8:0:0:1:0:0:1')?.words, [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]);
  for (const bad of ['', 'example.org', '192.0.2', '192.0.2.256', '01.2.3.4', '2001:db8::1::1', '1.2.3.4 ', 'root']) {
    assert.equal(canonicalAddress(bad), undefined, bad);
  }
});

test('CIDR ranges contain what they should, for both families', () => {
  const v4 = parseCidr('192.0.2.77/24');
  assert.equal(v4?.text, '192.0.2.0/24');
  assert.equal(v4?.contains(canonicalAddress('192.0.2.200')!), true);
  assert.equal(v4?.contains(canonicalAddress('192.0.3.1')!), false);
  assert.equal(v4?.contains(canonicalAddress('::ffff:192.0.2.9')!), true);
  const v6 = parseCidr('2001:db8:1::/48');
  assert.equal(v6?.contains(canonicalAddress('2001:db8:1:ffff::1')!), true);
  assert.equal(v6?.contains(canonicalAddress('2001:db8:2::1')!), false);
  assert.equal(v6?.contains(canonicalAddress('192.0.2.1')!), false);
  // An address built by hand (no parsed words) is tested the same way.
  assert.equal(v6?.contains({ text: '2001:db8:1:ffff::1', family: 6 }), true);
  assert.equal(v6?.contains({ text: '2001:db8:2::1', family: 6 }), false);
  assert.equal(parseCidr('2001:db8:1:2::/63')?.contains(canonicalAddress('2001:db8:1:3::9')!), true);
  assert.equal(parseCidr('2001:db8:1:2::/64')?.contains(canonicalAddress('2001:db8:1:3::9')!), false);
  assert.equal(parseCidr('0.0.0.0/0')?.contains(canonicalAddress('203.0.113.5')!), true);
  assert.equal(parseCidr('::ffff:192.0.2.0/120')?.text, '192.0.2.0/24');
  for (const bad of ['192.0.2.0/33', '2001:db8::/129', '192.0.2.0/x', 'host/24', '192.0.2.0/-1']) assert.equal(parseCidr(bad), undefined, bad);
});

test('IPv6 ban targets cover the configured prefix; IPv4 stays a single address', () => {
  assert.equal(banTarget(canonicalAddress('2001:db8:1:2:3:4:5:6')!, 64), '2001:db8:1:2::/64');
  assert.equal(banTarget(canonicalAddress('2001:db8:1:2:3:4:5:6')!, 128), '2001:db8:1:2:3:4:5:6');
  assert.equal(banTarget(canonicalAddress('2001:db8:1:2:3:4:5:6')!, 56), '2001:db8:1::/56');
  assert.equal(banTarget(canonicalAddress('192.0.2.9')!, 64), '192.0.2.9');
  assert.equal(banTarget(canonicalAddress('::ffff:192.0.2.9')!, 64), '192.0.2.9');
  assert.equal(banTarget({ text: '2001:db8:1:2:3:4:5:6', family: 6 }, 64), '2001:db8:1:2::/64');
});

test('the address cache stays bounded and keeps answering right through a turnover of many addresses', () => {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 20_000; i++) {
      const raw = `2001:db8:${((i >> 12) + 1).toString(16)}:${((i & 0xfff) + 1).toString(16)}::1`;
      assert.equal(canonicalAddress(raw)?.text, raw);
      assert.equal(canonicalAddress('192.0.2.1')?.text, '192.0.2.1', 'a hot address survives');
    }
  }
});

test('durations parse the units people write and reject the rest', () => {
  assert.equal(parseDuration('30s'), 30);
  assert.equal(parseDuration('10m'), 600);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('1w'), 604800);
  assert.equal(parseDuration('90'), 90);
  assert.equal(parseDuration(45), 45);
  for (const bad of ['', '10x', 'm', '1h 30m', '-5s', 'forever']) assert.throws(() => parseDuration(bad), /duration/, bad);
  assert.equal(formatDuration(600), '10m');
  assert.equal(formatDuration(90), '90s');
});

test('ranges overlap when one holds part of the other', () => {
  const p = (s: string) => parseCidr(s)!;
  assert.equal(p('2001:db8::/64').overlaps(p('2001:db8::10')), true);
  assert.equal(p('2001:db8::10').overlaps(p('2001:db8::/64')), true);
  assert.equal(p('2001:db8:1::/64').overlaps(p('2001:db8::/64')), false);
  assert.equal(p('192.0.2.0/24').overlaps(p('192.0.0.0/16')), true);
  assert.equal(p('192.0.2.0/24').overlaps(p('192.0.3.0/24')), false);
  assert.equal(p('192.0.2.0/24').overlaps(p('2001:db8::/32')), false);
});
