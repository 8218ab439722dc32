import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirewallError, type FirewallElement } from '../../src/firewall/firewall.js';
import { restoreBans, restoreElements } from '../../src/firewall/nft-restore.js';

/** The restore document's element commands, written byte by byte: parse them back and compare. */
const name = (family: 4 | 6, len: number, permanent: boolean) => {
  const base = `${permanent ? 'permanent' : 'banned'}${family}`;
  return len === (family === 4 ? 32 : 128) ? base : `${base}_${len}`;
};
const MAX = 36_500 * 86_400;
const el = (target: string, timeoutSeconds: number | null): FirewallElement => ({ target, family: target.includes(':') ? 6 : 4, timeoutSeconds });
type Cmd = { add: { element: { family: string; table: string; name: string; elem: unknown[] } } };
const parse = (json: Buffer): Cmd[] => JSON.parse(`[${json.toString('latin1')}]`) as Cmd[];

test('restore elements: one add command per set, permanent bans in sets of their own as plain addresses, whole seconds for timed ones', () => {
  const r = restoreElements([
    el('192.0.2.1', null), el('2001:db8::7', 90.2), el('198.51.100.0/24', 3600), el('192.0.2.2', 7), el('2001:db8:1:2::/64', null),
    el('203.0.113.9', 1e12), el('192.0.2.3', null),
  ], 'warden', name, MAX);
  assert.deepEqual(r.sets.map((s) => [s.name, s.permanent, s.elements]), [
    ['permanent4', true, 2], ['banned6', false, 1], ['banned4_24', false, 1], ['banned4', false, 2], ['permanent6_64', true, 1],
  ]);
  const cmds = parse(r.json);
  assert.deepEqual(cmds.map((c) => [c.add.element.family, c.add.element.table, c.add.element.name]), [
    ['inet', 'warden', 'permanent4'], ['inet', 'warden', 'banned6'], ['inet', 'warden', 'banned4_24'], ['inet', 'warden', 'banned4'], ['inet', 'warden', 'permanent6_64'],
  ]);
  assert.deepEqual(cmds[0]!.add.element.elem, ['192.0.2.1', '192.0.2.3']);
  assert.deepEqual(cmds[1]!.add.element.elem, [{ elem: { val: '2001:db8::7', timeout: 91 } }]);
  assert.deepEqual(cmds[2]!.add.element.elem, [{ elem: { val: '198.51.100.0', timeout: 3600 } }], 'a prefix set holds network addresses');
  assert.deepEqual(cmds[3]!.add.element.elem, [{ elem: { val: '192.0.2.2', timeout: 7 } }, { elem: { val: '203.0.113.9', timeout: MAX } }]);
  assert.deepEqual(cmds[4]!.add.element.elem, ['2001:db8:1:2::']);
  assert.equal(restoreElements([], 'warden', name, MAX).json.length, 0);
});

test('restore elements: non-canonical spellings are merged (last timeout wins); anything else is refused', () => {
  const r = restoreElements([el('2001:DB8::7', 60), el('192.0.2.1', null), el('2001:db8:0::7', 120), el('192.0.2.0/32', 5)], 'w', name, MAX);
  assert.deepEqual(parse(r.json).map((c) => [c.add.element.name, c.add.element.elem]), [
    ['permanent4', ['192.0.2.1']],
    ['banned6', [{ elem: { val: '2001:db8::7', timeout: 120 } }]],
    ['banned4', [{ elem: { val: '192.0.2.0', timeout: 5 } }]],
  ]);
  const refused = ['192.0.2.1", "10.0.0.1', '192.0.2.1\\"', '2001:db8::1 } ', 'localhost', '192.0.2.5/24', ''];
  for (const target of refused) assert.throws(() => restoreElements([el('192.0.2.9', null), { target, family: 4, timeoutSeconds: null }], 'w', name, MAX), FirewallError, JSON.stringify(target));
  assert.throws(() => restoreElements([{ target: '192.0.2.1', family: 6, timeoutSeconds: null }], 'w', name, MAX), /IPv4 but the element says IPv6/);
  // Single addresses are checked against the address alphabet only; nft refuses a malformed one
  // (the whole transaction: see the namespace test and BanManager's handling).
  assert.deepEqual(parse(restoreElements([el('192.0.2.999', null), el('2001:db8:::1', null)], 'w', name, MAX).json).map((c) => c.add.element.elem), [['192.0.2.999'], ['2001:db8:::1']]);
  for (const target of ['192.0.2.1a', '2001:db8::g', '2001:db8::1/', '1']) {
    assert.throws(() => restoreElements([{ target, family: target.includes(':') ? 6 : 4, timeoutSeconds: null }], 'w', name, MAX), FirewallError, target);
  }
  for (const t of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => restoreElements([el('192.0.2.1', t)], 'w', name, MAX), /timeout must be a positive number/);
});

test('restore bans: permanent addresses copied from the one string, one command per family; everything else through the element path', () => {
  const r = restoreBans({
    permanent: '192.0.2.1 2001:db8::7 198.51.100.0/24 192.0.2.1 2001:DB8::8 ::ffff:192.0.2.9',
    timed: [el('192.0.2.2', 7), el('2001:db8:1:2::/64', 60)],
  }, 'warden', name, MAX);
  const cmds = parse(r.json).map((c) => [c.add.element.name, c.add.element.elem]);
  // First the plain permanent addresses, one command per family (a repeat is harmless: the kernel keeps one element).
  assert.deepEqual(cmds.slice(0, 2), [['permanent4', ['192.0.2.1', '192.0.2.1']], ['permanent6', ['2001:db8::7', '::ffff:192.0.2.9']]]);
  // Then the rest, through restoreElements: a prefix, an upper-case spelling (canonicalised), the timed bans.
  const rest = cmds.slice(2).map((c) => JSON.stringify(c)).sort();
  assert.deepEqual(rest, [
    ['permanent4_24', ['198.51.100.0']],
    ['permanent6', ['2001:db8::8']],
    ['banned4', [{ elem: { val: '192.0.2.2', timeout: 7 } }]],
    ['banned6_64', [{ elem: { val: '2001:db8:1:2::', timeout: 60 } }]],
  ].map((c) => JSON.stringify(c)).sort());
  assert.equal(cmds.length, 6);
  assert.deepEqual(r.sets.map((s) => [s.name, s.elements]).sort(), [['banned4', 1], ['banned6_64', 1], ['permanent4', 2], ['permanent4_24', 1], ['permanent6', 3]]);
  assert.equal(restoreBans({ permanent: '', timed: [] }, 'w', name, MAX).json.length, 0);
  assert.deepEqual(parse(restoreBans({ permanent: '2001:db8::1', timed: [] }, 'w', name, MAX).json).map((c) => c.add.element.elem), [['2001:db8::1']]);
  // Outside the address alphabet: parsed in full, and refused.
  for (const permanent of ['192.0.2.1 "},{"flush":{"ruleset":null}}', '192.0.2.1  192.0.2.2', '192.0.2.5/24', 'abc.def', '1']) {
    assert.throws(() => restoreBans({ permanent, timed: [] }, 'w', name, MAX), FirewallError, permanent);
  }
});
