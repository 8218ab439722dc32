import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FileCache, Ini, IniError, configFiles } from '../../src/import/ini.js';
import { Issues } from '../../src/import/issues.js';
import { assemblePattern, resolveTags, translatePythonRegex } from '../../src/import/regex.js';
import { fail2banSeconds, readDatePattern } from '../../src/import/time.js';
import { combineWithPrefregex, expandDaemon, substituteTags } from '../../src/import/filter.js';
import { LocatedText } from '../../src/import/located.js';
import { parseFilterDefinition } from '../../src/filters/definition.js';
import { CompiledFilter } from '../../src/filters/engine.js';

function withFiles(contents: Record<string, string>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'warden-ini-'));
  try {
    for (const [name, text] of Object.entries(contents)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('INI: continuation lines, comments, inline ";" comments, case-insensitive keys, ":" delimiter', () => {
  withFiles({
    'a.conf': `[S]
Key = first   ; a comment
      second line
# a comment line inside the value does not end it
      third#not-a-comment

      after a blank line
other: x;y
[T]
k = 1
`,
  }, (dir) => {
    const issues = new Issues(dir);
    const ini = Ini.read([join(dir, 'a.conf')], new FileCache(issues), issues);
    const v = ini.get('S', 'key')!;
    assert.equal(v.text, 'first\nsecond line\nthird#not-a-comment\n\nafter a blank line');
    assert.deepEqual(v.splitLines().map((l) => l.origin.line), [2, 3, 5, 6, 7]);
    assert.equal(ini.get('S', 'other')?.text, 'x;y', '";" is a comment only after white space');
    assert.equal(ini.get('T', 'k')?.text, '1');
  });
});

test('INI: fail2ban precedence (.conf, .d/*.conf, .local, .d/*.local), includes with their .local, known/ and default/', () => {
  withFiles({
    'jail.conf': `[INCLUDES]
before = paths.conf
after = late.conf
[DEFAULT]
port = 0:65535
[x]
value = conf
list = a
name = %(__name__)s
`,
    'paths.conf': '[DEFAULT]\nlogdir = /var/log\n',
    'paths.local': '[DEFAULT]\nlogdir = /srv/log\n',
    'late.conf': '[x]\nlate = yes\n',
    'jail.d/01.conf': '[x]\nvalue = d-conf\n',
    'jail.local': '[x]\nvalue = local\nlist = %(known/list)s b\nport = %(default/port)s\nlog = %(logdir)s/x.log\n',
    'jail.d/02.local': '[x]\nvalue = d-local\n',
  }, (dir) => {
    const files = configFiles(join(dir, 'jail'));
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), ['jail.conf', 'jail.d/01.conf', 'jail.local', 'jail.d/02.local']);
    const issues = new Issues(dir);
    const ini = Ini.read(files, new FileCache(issues), issues);
    assert.deepEqual(ini.files.map((f) => f.slice(dir.length + 1)), ['paths.conf', 'paths.local', 'jail.conf', 'late.conf', 'jail.d/01.conf', 'jail.local', 'jail.d/02.local']);
    assert.equal(ini.get('x', 'value')?.text, 'd-local');
    assert.equal(ini.get('x', 'list')?.text, 'a b');
    assert.equal(ini.get('x', 'port')?.text, '0:65535');
    assert.equal(ini.get('x', 'log')?.text, '/srv/log/x.log');
    assert.equal(ini.get('x', 'name')?.text, 'x');
    assert.equal(ini.get('x', 'late')?.text, 'yes');
    assert.equal(ini.raw('x', 'value')?.origin.file, join(dir, 'jail.d/02.local'));
  });
});

test('INI: %% is a percent sign; a missing option and a loop are errors that name the line', () => {
  withFiles({ 'a.conf': '[s]\np = 100%%\nm = %(nope)s\nl1 = %(l2)s\nl2 = %(l1)s\n' }, (dir) => {
    const issues = new Issues(dir);
    const ini = Ini.read([join(dir, 'a.conf')], new FileCache(issues), issues);
    assert.equal(ini.get('s', 'p')?.text, '100%');
    assert.throws(() => ini.get('s', 'm'), (e: unknown) => e instanceof IniError && e.origin?.line === 3 && /no option "nope"/.test(e.message));
    assert.throws(() => ini.get('s', 'l1'), (e: unknown) => e instanceof IniError && /nested more than/.test(e.message));
  });
});

test('fail2ban <tag> substitution resolves nested tags', () => {
  const values: Record<string, string> = { mode: 'extra', 'mdre-extra': 'X <HOST>', 'mdre-normal': '' };
  const o = { file: 'f', line: 1 };
  const out = substituteTags(LocatedText.of('a <mdre-<mode>> b', o), (n) => (values[n] !== undefined ? LocatedText.of(values[n]!, o) : undefined));
  assert.equal(out.text, 'a X <HOST> b');
});

test('fail2ban durations', () => {
  const cases: [string, number | undefined][] = [
    ['600', 600], ['10m', 600], ['1h', 3600], ['1d12h', 129_600], ['1h 30m', 5400], ['2 weeks', 1_209_600],
    ['1mo', 2_629_800], ['1y', 31_557_600], ['-1', -1], ['1hour+30min', 5400], ['soon', undefined], ['', undefined],
  ];
  for (const [text, seconds] of cases) assert.equal(fail2banSeconds(text), seconds, text);
});

test('datepattern readings', () => {
  assert.deepEqual(readDatePattern('^%Y-%m-%d %H:%M:%S'), { kind: 'plain', format: { layout: 'iso', atStart: true, bracket: false } });
  assert.deepEqual(readDatePattern('{^LN-BEG}'), { kind: 'auto', atStart: true });
  assert.deepEqual(readDatePattern('^\\[%d/%b/%Y:%H:%M:%S %z\\]'), { kind: 'plain', format: { layout: 'clf', atStart: true, bracket: true } });
  assert.equal(readDatePattern('Epoch').kind, 'unsupported');
});

function translate(py: string, relax: 0 | 1 | 2 = 0): { pattern: string; problems: string[]; hosts: number } {
  const tags = resolveTags(py);
  const t = translatePythonRegex(tags.text, { relax });
  return { pattern: assemblePattern(t.alternatives), problems: [...tags.problems, ...t.problems], hosts: t.hosts };
}

test('Python regex syntax becomes JavaScript', () => {
  const ok: [string, string][] = [
    ['^Login failed for (?P<user>\\S+) from <HOST>\\Z', '^Login failed for (?<user>\\S+) from <HOST>$'],
    ['\\AUser [^]a-z] x{,5} from <ADDR>', '^User [^\\]a-z] x{0,5} from <HOST>'],
    ['(?i)^Fail [a-c_] from <HOST>$', '^[Ff][aA][iI][lL] [a-c_A-C] [fF][rR][oO][mM] <HOST>$'],
    ['^(?:(?i)ab|cd) <IP4>', '^(?:[aA][bB]|[cC][dD]) <HOST>'],
    ['(?x) ^ a \\  b # comment', '^a b'],
    ['(?s)^a.b <HOST>', '^a[^]b <HOST>'],
    ['^<F-USER>\\S+</F-USER> <F-ALT_USER1>x</F-ALT_USER1> <HOST>', '^(?<user>\\S+) (?:x) <HOST>'],
    ['^(?#c)a(b)\\x41\\101 <HOST>', '^a(?:b)AA <HOST>'],
    ['^a]b}c{ <HOST>', '^a\\]b\\}c\\{ <HOST>'],
    ['failed from <HOST>', 'failed from <HOST>'],
    ['^a from <HOST>|b from <HOST>', '^(?:a from <HOST>|[^]*?(?:b from <HOST>))'],
  ];
  for (const [py, js] of ok) {
    const t = translate(py);
    assert.deepEqual(t.problems, [], py);
    assert.equal(t.pattern, js, py);
  }
  assert.equal(translate('^x{1,100} <HOST>', 1).pattern, '^x+ <HOST>', 'widened for the linear-time engine');
});

test('what JavaScript or linear time cannot do is reported, not dropped', () => {
  const bad: [string, RegExp][] = [
    ['^(?P<u>\\w+) (?P=u) <HOST>', /back-reference \(\?P=u\)/],
    ['^(\\w+) \\1 <HOST>', /back-reference \\1/],
    ['^a(?=b) <HOST>', /look-ahead/],
    ['^a(?<!b) <HOST>', /look-behind/],
    ['^(?(u)a|b) <HOST>', /conditional group/],
    ['^a++ <HOST>', /possessive/],
    ['^(?>a) <HOST>', /atomic group/],
    ['^a\\nb <HOST>', /line break/],
    ['^a<SKIPLINES>b <HOST>', /SKIPLINES/],
    ['^a <SUBNET>', /subnet/],
    ['^a <DNS>', /host name/],
    ['a ^b <HOST>', /anchor in the middle/],
    ['^a (<HOST>', /unclosed/],
  ];
  for (const [py, re] of bad) {
    const t = translate(py);
    assert.ok(t.problems.some((p) => re.test(p)), `${py}: ${t.problems.join('; ') || 'no problem reported'}`);
  }
});

test('prefregex <F-CONTENT> is combined with each failregex; _daemon becomes program names', () => {
  assert.equal(combineWithPrefregex('^P<F-CONTENT>.+</F-CONTENT>$', '^a <HOST>|b'), '^P(?:a <HOST>|.*?b)$');
  assert.deepEqual(expandDaemon('sshd'), ['sshd']);
  assert.deepEqual(expandDaemon('(?:sshd|sshd-session)'), ['sshd', 'sshd-session']);
  assert.deepEqual(expandDaemon('postfix/(?:smtpd|submission/smtpd)'), ['postfix/smtpd', 'postfix/submission/smtpd']);
  assert.deepEqual(expandDaemon('dovecot(?:-auth)?'), ['dovecot', 'dovecot-auth']);
  assert.equal(expandDaemon('\\S*'), undefined);
  assert.equal(expandDaemon('named(?:-\\w+)?'), undefined);
});

test('a <HOST> that needs fail2ban\'s backtracking becomes several patterns, tried in order', () => {
  const variants = (py: string): readonly string[] | undefined => translatePythonRegex(resolveTags(py).text).alternatives[0]!.variants;
  // Python tries the optional group first and backtracks when <HOST> (an address only) fails.
  assert.deepEqual(variants('^(?:\\S+ )?<HOST> [^"]*"GET'), ['(?:\\S+ )<HOST> [^"]*"GET', '<HOST> [^"]*"GET']);
  assert.deepEqual(variants('^\\[<HOST>(?::\\d+)?\\]'), ['\\[<HOST>(?::\\d+)\\]', '\\[<HOST>\\]']);
  // Two address tags in the branches of one group (two groups in Python, one slot in warden).
  assert.deepEqual(variants('^relay=\\[(?:IPv6:<IP6>|<IP4>)\\]$'), ['relay=\\[(?:IPv6:<HOST>)\\]$', 'relay=\\[(?:<HOST>)\\]$']);

  // Through warden's engine: the first pattern's slot takes "-", which is no address, so the
  // second pattern is tried and finds it.
  const patterns = variants('^(?:\\S+ )?<HOST> [^"]*"GET')!.map((v) => `^${v}`);
  const def = parseFilterDefinition(`name: t\nprograms: [web]\nrules:\n  - id: r\n    pattern: ${JSON.stringify(patterns)}\n`, 't.yaml');
  const filter = new CompiledFilter(def);
  assert.equal(filter.match('Mar  1 00:00:01 h web[1]: 192.0.2.31 - - "GET / HTTP/1.1"', 0), 'detected');
  assert.equal(filter.last?.address.text, '192.0.2.31');
  assert.equal(filter.match('Mar  1 00:00:01 h web[1]: vhost.example 192.0.2.32 - "GET / HTTP/1.1"', 0), 'detected');
  assert.equal(filter.last?.address.text, '192.0.2.32');
});
