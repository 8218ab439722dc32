import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledFilter, compileRule, isLiteralPattern, numberedGroups } from '../../src/filters/engine.js';
import { DateParser } from '../../src/filters/dates.js';
import { parseFilterDefinition } from '../../src/filters/definition.js';

test('named groups become numbered ones; escapes, classes and non-capturing groups are skipped', () => {
  const n = numberedGroups(String.raw`\((a)[(?<x>](?:b)(?<user>.*) (?=c)(?<host>\S+)(?<!d)(e)`);
  assert.equal(n.source, String.raw`\((a)[(?<x>](?:b)(.*) (?=c)(\S+)(?<!d)(e)`);
  assert.deepEqual([...n.names], [['user', 2], ['host', 3]]);
  // The numbers are those of the original pattern's captures.
  const m = new RegExp(String.raw`(a)(?<user>b+)(?:c)(?<host>d)`).exec('abbcd')!;
  const numbered = numberedGroups(String.raw`(a)(?<user>b+)(?:c)(?<host>d)`);
  assert.equal(m[numbered.names.get('user')!], 'bb');
  assert.equal(m[numbered.names.get('host')!], 'd');
});

test('a rule reads host, user and method by number; a back-reference by name keeps the names', () => {
  const [rule] = compileRule({ id: 'r', action: 'failure', modes: ['normal'], patterns: [String.raw`^(x)? ?Failed (?<method>\w+) for (?<user>.*) from <HOST>$`] }, 'test');
  assert.ok(rule);
  assert.deepEqual([rule.host, rule.user, rule.method], [4, 3, 2]);
  assert.ok(!rule.regex.source.includes('?<'), 'no named groups left');
  const [backref] = compileRule({ id: 'b', action: 'failure', modes: ['normal'], patterns: [String.raw`^(?<user>\w+) again \k<user> from <HOST>$`] }, 'test');
  assert.ok(backref);
  assert.ok(backref.regex.source.includes('(?<user>'));
  const m = (backref.regex.lastIndex = 0, backref.regex.exec('bob again bob from 192.0.2.7'))!;
  assert.equal(m[backref.user], 'bob');
  assert.equal(m[backref.host], '192.0.2.7');
});

test('literal patterns are told from patterns with regex syntax', () => {
  assert.equal(isLiteralPattern(String.raw`^pam_unix\(sshd:session\): `), true);
  assert.equal(isLiteralPattern('^Disconnected from user '), true);
  assert.equal(isLiteralPattern(String.raw`^Received disconnect from \S+ port`), false);
  assert.equal(isLiteralPattern('^a.b'), false);
  assert.equal(isLiteralPattern('^ab$'), false);
  assert.equal(isLiteralPattern('ab'), false, 'unanchored');
});

test('detections carry user and method only when captured; literal rules recognise and mark', () => {
  const def = parseFilterDefinition(`
name: t
programs: [sshd]
rules:
  - id: kex
    action: mark
    mark: kex
    pattern: '^kex_exchange_identification: Connection closed by remote host'
  - id: after-kex
    requires: kex
    pattern: '^Connection closed by <HOST> port \\d+$'
  - id: noise
    action: ignore
    pattern: '^pam_unix\\(sshd:session\\): '
  - id: fail
    pattern: '^Failed (?<method>\\w+) for (?<user>\\S+) from <HOST> port \\d+$'
  - id: host-only
    pattern: '^Bad from <HOST>$'
`, 'test');
  const f = new CompiledFilter(def, { dates: new DateParser({ timezone: 'UTC', now: () => Date.parse('2026-03-02T00:00:00Z') }) });
  const at = Date.parse('2026-03-01T00:00:01Z');
  assert.equal(f.match('Mar  1 00:00:01 h sshd[1]: Failed password for bob from 192.0.2.9 port 22', 0), 'detected');
  assert.deepEqual(f.last, { action: 'failure', address: { text: '192.0.2.9', family: 4 }, time: at, rule: 'fail', count: 1, user: 'bob', method: 'password' });
  assert.equal(f.match('Mar  1 00:00:01 h sshd[1]: Bad from 2001:db8::0:1', 0), 'detected');
  assert.deepEqual(f.last, { action: 'failure', address: { text: '2001:db8::1', family: 6, words: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1] }, time: at, rule: 'host-only', count: 1 });
  assert.ok(!('user' in f.last!) && !('method' in f.last!));
  assert.equal(f.match('Mar  1 00:00:01 h sshd[1]: pam_unix(sshd:session): session opened', 0), 'recognized');
  assert.equal(f.match('Mar  1 00:00:01 h sshd[1]: pam_unix(sshd:sessionX)', 0), 'unmatched');
  // The literal mark rule still sets its mark for the process.
  assert.equal(f.match('Mar  1 00:00:01 h sshd[7]: Connection closed by 192.0.2.5 port 1', 0), 'recognized');
  assert.equal(f.match('Mar  1 00:00:01 h sshd[7]: kex_exchange_identification: Connection closed by remote host', 0), 'recognized');
  assert.equal(f.match('Mar  1 00:00:01 h sshd[7]: Connection closed by 192.0.2.5 port 1', 0), 'detected');
  assert.equal(lastRule(f), 'after-kex');
});

test('a tag ends at the first ": "; a space before it means no tag', () => {
  const def = parseFilterDefinition(`name: t\nprograms: [sshd]\nrules:\n  - id: f\n    pattern: '^Bad from <HOST>$'\n`, 'test');
  const f = new CompiledFilter(def, { dates: new DateParser({ timezone: 'UTC', now: () => Date.parse('2026-03-02T00:00:00Z') }) });
  assert.equal(f.match('Mar  1 00:00:01 h sshd[1]: Bad from 192.0.2.1', 0), 'detected');
  assert.equal(f.match('Mar  1 00:00:01 h sshd: Bad from 192.0.2.1', 0), 'detected');
  assert.equal(f.match('Mar  1 00:00:01 h sshd:x: Bad from 192.0.2.1', 0), 'other', 'tag "sshd:x" is not sshd');
  assert.equal(f.match('Mar  1 00:00:01 h sshd x: Bad from 192.0.2.1', 0), 'other');
  assert.equal(f.match('Mar  1 00:00:01 h sshd', 0), 'other');
  assert.equal(f.match('Mar  1 00:00:01 h sshd:', 0), 'other');
});

/** Read through a function: TypeScript narrows f.last across the asserts above. */
function lastRule(f: CompiledFilter): string | undefined {
  return f.last?.rule;
}
