import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import type { JailConfig } from '../../src/config/schema.js';
import { DateParser } from '../../src/filters/dates.js';
import { loadFilter } from '../../src/filters/definition.js';
import { CompiledFilter } from '../../src/filters/engine.js';
import { importFail2banCommand } from '../../src/cli/commands/import-fail2ban.js';
import { importFail2ban } from '../../src/import/fail2ban.js';
import { formatIssue } from '../../src/import/issues.js';

// A fail2ban configuration written for these tests (not fail2ban's own files): [DEFAULT] plus a few
// jails in jail.conf, a jail.d/*.local overriding one, filters with includes, [Init], prefregex,
// ignoreregex, Python-only syntax, an untranslatable back-reference, maxlines, modes, a systemd jail.
function files(root: string): Record<string, string> {
  return {
    'jail.conf': `# Jails for the importer tests.
[INCLUDES]
before = paths-test.conf

[DEFAULT]
# Never ban the office network.
ignoreip = 127.0.0.1/8 ::1
           10.0.0.0/255.0.0.0
bantime  = 10m
findtime = 10m
maxretry = 5
backend  = auto
enabled  = false
mode     = normal
filter   = %(__name__)s[mode=%(mode)s]
port     = 0:65535
protocol = tcp
banaction = nftables-multiport
action_  = %(banaction)s[port="%(port)s", protocol="%(protocol)s"]
action   = %(action_)s

[sshd]
port    = ssh
logpath = %(sshd_log)s

[myapp]
enabled  = true
logpath  = %(myapp_log)s     ; both rotated files
maxretry = 3
findtime = 1h
bantime  = 2h

[myapp-journal]
enabled  = true
filter   = myapp
backend  = systemd
maxretry = 4
bantime  = -1

[portal]
enabled = true
logpath = %(logdir)s/portal.log

[portal-strict]
enabled = true
filter  = portal[mode=aggressive]
logpath = %(logdir)s/portal.log
bantime = 1d

[webapp]
enabled = true
logpath = %(logdir)s/webapp.log
action  = %(action_)s
          sendmail-whois[name=webapp, dest=root]

[apache-auth]
port    = http,https
logpath = %(logdir)s/apache-error.log
`,
    'paths-test.conf': `[DEFAULT]
logdir    = ${root}/log
sshd_log  = %(logdir)s/auth.log
myapp_log = %(logdir)s/myapp*.log
`,
    'jail.d/custom.local': `[sshd]
enabled  = true
mode     = aggressive
maxretry = 4
bantime  = 1h
bantime.increment = true
bantime.maxtime   = 1w

[myapp]
maxretry = 2
logpath  = %(known/logpath)s
           ${root}/log/other.log
`,
    'filter.d/common.conf': `# The syslog prefix, in the style of fail2ban's common.conf.
[DEFAULT]
_daemon = \\S*
__pid_re = (?:\\[\\d+\\])
__daemon_re = [\\[\\(]?%(_daemon)s(?:\\(\\S+\\))?[\\]\\)]?:?
__daemon_combs_re = (?:%(__pid_re)s?:\\s+%(__daemon_re)s|%(__daemon_re)s%(__pid_re)s?:?)
__hostname = \\S+
__prefix_line = \\s*(?:%(__hostname)s\\s+)?(?:%(__daemon_combs_re)s\\s+)?
`,
    'filter.d/myapp.conf': `[INCLUDES]
before = common.conf

[Init]
maxlines = 2

[DEFAULT]
_daemon = myapp(?:-worker)?

[Definition]
prefregex = ^%(__prefix_line)s(?:error: )?<F-CONTENT>.+</F-CONTENT>$
failregex = ^Login failed for user <F-USER>.*</F-USER> from <HOST> port \\d+$
            ^Blocked client (?P<user>\\S+) at <ADDR>\\Z
            ^Session (?P<sid>\\w+) replayed as (?P=sid) by <HOST>$
ignoreregex = ^%(__prefix_line)s(?:error: )?Login failed for user healthcheck from
journalmatch = _SYSTEMD_UNIT=myapp.service
`,
    'filter.d/myapp.local': `[Definition]
ignoreregex = %(known/ignoreregex)s
              ^%(__prefix_line)sLogin failed for user nagios from
`,
    'filter.d/portal.conf': `[INCLUDES]
before = common.conf

[DEFAULT]
_daemon = portal

[Definition]
mode = normal
cmnfailre = ^%(__prefix_line)sbad password for \\S+ from <HOST>$
mdre-normal =
mdre-extra = ^%(__prefix_line)sunknown account \\S+ from <HOST>$
mdre-aggressive = %(mdre-extra)s
failregex = %(cmnfailre)s
            <mdre-<mode>>
`,
    'filter.d/webapp.conf': `[Definition]
datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S
failregex = (?i)^ \\[warn\\] login failed for .* from <HOST>$
`,
  };
}

interface Tree {
  readonly root: string;
  readonly etc: string;
  readonly out: string;
  readonly text: Record<string, string>;
}

function writeTree(make: (root: string) => Record<string, string>, logs: Record<string, string>): Tree {
  const root = mkdtempSync(join(tmpdir(), 'warden-f2b-'));
  const etc = join(root, 'fail2ban');
  const text = make(root);
  for (const [name, content] of Object.entries(text)) {
    mkdirSync(dirname(join(etc, name)), { recursive: true });
    writeFileSync(join(etc, name), content);
  }
  mkdirSync(join(root, 'log'));
  for (const [name, content] of Object.entries(logs)) writeFileSync(join(root, 'log', name), content);
  return { root, etc, out: join(root, 'out'), text };
}

const LOGS = {
  'auth.log': '', 'myapp.log': '', 'myapp-2.log': '', 'other.log': '', 'portal.log': '',
  'webapp.log': '2026-03-01 00:00:01 [warn] login failed for bob from 192.0.2.9\n',
};

/** The 1-based line of `needle` in a fixture file. */
function lineOf(tree: Tree, file: string, needle: string): number {
  const lines = tree.text[file]!.split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} in ${file}`);
  return i + 1;
}

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await importFail2banCommand.run(args), out };
  } finally {
    process.stdout.write = write;
  }
}

function jail(jails: readonly JailConfig[], name: string): JailConfig {
  const j = jails.find((x) => x.name === name);
  assert.ok(j, `jail ${name}`);
  return j;
}

const NOW = Date.UTC(2026, 2, 1, 12);
const dates = (): DateParser => new DateParser({ timezone: 'UTC', now: () => NOW });

test('a fail2ban tree becomes a warden configuration that loads, with the right values', async () => {
  const tree = writeTree(files, LOGS);
  try {
    const { code, out } = await run([tree.etc, '--out', tree.out]);
    assert.equal(code, 3, out);
    assert.match(out, /some parts could not be translated \(exit status 3\)/);
    assert.match(out, /checked: .*warden\.yaml loads and every filter compiles/);

    const config = loadConfigFile(join(tree.out, 'warden.yaml'));
    assert.deepEqual(config.allow, ['127.0.0.0/8', '::1', '10.0.0.0/8']);
    assert.equal(config.recidive.enabled, false);
    assert.deepEqual(config.jails.map((j) => j.name).sort(), ['myapp', 'myapp-journal', 'portal', 'portal-strict', 'sshd', 'webapp']);

    // sshd: warden's built-in filter, with the mode and the overrides of jail.d/custom.local.
    const sshd = jail(config.jails, 'sshd');
    assert.deepEqual([sshd.filter, sshd.mode, sshd.maxretry, sshd.findtime, sshd.bantime], ['sshd', 'aggressive', 4, 600, 3600]);
    assert.deepEqual(sshd.sources, [{ kind: 'file', path: join(tree.root, 'log/auth.log'), backfill: false }]);
    assert.deepEqual([sshd.escalation.factor, sshd.escalation.max, sshd.escalation.lookback], [2, 604_800, 86_400]);

    // myapp: the .local overrides maxretry and extends logpath through %(known/logpath)s; the glob
    // lists both rotated files.
    const myapp = jail(config.jails, 'myapp');
    assert.deepEqual([myapp.maxretry, myapp.findtime, myapp.bantime, myapp.mode], [2, 3600, 7200, 'normal']);
    assert.equal(myapp.filter, join(tree.out, 'filters', 'myapp.yaml'));
    assert.deepEqual(myapp.sources.map((s) => (s.kind === 'file' ? s.path : s.kind)), ['myapp-2.log', 'myapp.log', 'other.log'].map((f) => join(tree.root, 'log', f)));
    assert.equal(myapp.escalation.factor, 1, 'fail2ban without bantime.increment: every ban lasts bantime');

    // The systemd jail reads the journal with the filter's journalmatch; bantime -1 is permanent.
    const journal = jail(config.jails, 'myapp-journal');
    assert.deepEqual(journal.sources, [{ kind: 'journal', matches: ['_SYSTEMD_UNIT=myapp.service'], backfill: false }]);
    assert.equal(journal.escalation.permanentAfter, 1);
    assert.equal(journal.maxretry, 4);
    assert.equal(journal.filter, myapp.filter, 'one translated filter for both jails');

    // Modes chosen with <mdre-<mode>>.
    assert.equal(jail(config.jails, 'portal').mode, 'normal');
    assert.equal(jail(config.jails, 'portal-strict').mode, 'aggressive');
    assert.equal(jail(config.jails, 'portal-strict').bantime, 86_400);
  } finally {
    rmSync(tree.root, { recursive: true, force: true });
  }
});

test('what cannot be translated is listed with file and line, in the report and in warden.yaml', async () => {
  const tree = writeTree(files, LOGS);
  try {
    const { out } = await run([tree.etc, '--out', tree.out]);
    const expected = [
      `filter.d/myapp.conf:${lineOf(tree, 'filter.d/myapp.conf', '(?P=sid)')}: failregex uses a back-reference (?P=sid)`,
      `filter.d/myapp.conf:${lineOf(tree, 'filter.d/myapp.conf', 'maxlines')}: maxlines = 2`,
      `jail.conf:${lineOf(tree, 'jail.conf', 'sendmail-whois')}: jail [webapp]: action sendmail-whois is not translated`,
    ];
    const yaml = readFileSync(join(tree.out, 'warden.yaml'), 'utf8');
    const report = out.slice(out.indexOf('NOT TRANSLATED'));
    for (const e of expected) {
      assert.ok(report.includes(e), `report lists: ${e}\n${out}`);
      assert.ok(yaml.includes(`#   ${e}`), `warden.yaml lists: ${e}`);
    }
    assert.match(yaml, /^# NOT TRANSLATED \(3\)/m);
    // Notes: ports, the permanent ban, the (?i) rewrite. Notes do not make the import fail.
    assert.ok(out.includes(`jail.conf:${lineOf(tree, 'jail.conf', 'bantime  = -1')}: bantime = -1 (permanent): warden bans permanently through escalation.permanent_after: 1`), out);
    assert.match(out, /filter\.d\/webapp\.conf:3: failregex: \(\?i\)/);
  } finally {
    rmSync(tree.root, { recursive: true, force: true });
  }
});

test('the translated filter finds the right address, skips ignoreregex lines and other programs', () => {
  const tree = writeTree(files, LOGS);
  try {
    const result = importFail2ban({ dir: tree.etc, out: tree.out });
    assert.deepEqual(result.verifyErrors, []);
    const def = loadFilter(join(tree.out, 'filters', 'myapp.yaml'));
    assert.deepEqual([...def.programs].sort(), ['myapp', 'myapp-worker']);
    const filter = new CompiledFilter(def, { dates: dates() });
    const detect = (line: string): { outcome: string; address?: string; user?: string } => {
      const outcome = filter.match(line, NOW);
      return outcome === 'detected' ? { outcome, address: filter.last!.address.text, user: filter.last!.user! } : { outcome };
    };
    // prefregex + failregex: the <F-CONTENT> part after the syslog header and an optional "error: ".
    assert.deepEqual(detect('Mar  1 00:00:01 web01 myapp[123]: Login failed for user bob from 192.0.2.7 port 4242'), { outcome: 'detected', address: '192.0.2.7', user: 'bob' });
    assert.deepEqual(detect('Mar  1 00:00:02 web01 myapp[123]: error: Login failed for user alice from 2001:db8::5 port 1'), { outcome: 'detected', address: '2001:db8::5', user: 'alice' });
    // (?P<user>...) and \Z, from another program of the _daemon alternation, <ADDR> as the slot.
    assert.deepEqual(detect('Mar  1 00:00:03 web01 myapp-worker[9]: Blocked client eve at 198.51.100.9'), { outcome: 'detected', address: '198.51.100.9', user: 'eve' });
    // The user name cannot supply the address: the pattern anchors the end of the line.
    assert.deepEqual(detect('Mar  1 00:00:04 web01 myapp[123]: Login failed for user x from 203.0.113.5 port 1 from 192.0.2.8 port 2'), { outcome: 'detected', address: '192.0.2.8', user: 'x from 203.0.113.5 port 1' });
    assert.equal(detect('Mar  1 00:00:05 web01 myapp[123]: Login failed for user bob from 192.0.2.7 port 4242 and more').outcome, 'unmatched');
    // ignoreregex from the .conf and from the .local (%(known/ignoreregex)s) win over the failregex.
    assert.equal(detect('Mar  1 00:00:06 web01 myapp[123]: Login failed for user healthcheck from 192.0.2.50 port 9').outcome, 'recognized');
    assert.equal(detect('Mar  1 00:00:07 web01 myapp[123]: error: Login failed for user healthcheck from 192.0.2.50 port 9').outcome, 'recognized');
    assert.equal(detect('Mar  1 00:00:08 web01 myapp[123]: Login failed for user nagios from 192.0.2.51 port 9').outcome, 'recognized');
    // Other programs' lines (logger -t ...) are not read; the untranslated back-reference rule is absent.
    assert.equal(detect('Mar  1 00:00:09 web01 logger[1]: Login failed for user bob from 192.0.2.7 port 4242').outcome, 'other');
    assert.equal(detect('Mar  1 00:00:10 web01 myapp[123]: Session abc replayed as abc by 192.0.2.7').outcome, 'unmatched');

    // Modes: "unknown account" counts in aggressive only.
    const portal = loadFilter(join(tree.out, 'filters', 'portal.yaml'));
    const normal = new CompiledFilter(portal, { mode: 'normal', dates: dates() });
    const aggressive = new CompiledFilter(portal, { mode: 'aggressive', dates: dates() });
    const bad = 'Mar  1 00:00:11 web01 portal[7]: bad password for bob from 192.0.2.20';
    const unknown = 'Mar  1 00:00:12 web01 portal[7]: unknown account mallory from 192.0.2.21';
    assert.equal(normal.match(bad, NOW), 'detected');
    assert.equal(normal.match(unknown, NOW), 'recognized');
    assert.equal(aggressive.match(unknown, NOW), 'detected');
    assert.equal(aggressive.last?.address.text, '192.0.2.21');

    // A service's own log format (datepattern), (?i) spelled out in both cases.
    const web = new CompiledFilter(loadFilter(join(tree.out, 'filters', 'webapp.yaml')), { dates: dates() });
    assert.equal(web.match('2026-03-01 00:00:13 [WARN] Login Failed for bob from 192.0.2.30', NOW), 'detected');
    assert.equal(web.last?.address.text, '192.0.2.30');
    assert.equal(web.last?.time, Date.UTC(2026, 2, 1, 0, 0, 13));
    assert.equal(web.match('2026-03-01 00:00:14 [info] login failed for bob from 192.0.2.30', NOW), 'unmatched');
  } finally {
    rmSync(tree.root, { recursive: true, force: true });
  }
});

test('a configuration that translates entirely exits 0; --json gives the same result', async () => {
  const tree = writeTree((root) => ({
    'jail.conf': `[DEFAULT]
bantime = 1h
findtime = 15m
maxretry = 3
action = nftables-allports

[sshd]
enabled = true
filter = sshd
logpath = ${root}/log/auth.log

[vault]
enabled = true
filter = vault
logpath = ${root}/log/vault.log
maxretry = 6
bantime.increment = true
bantime.multipliers = 1 2 4 8
bantime.overalljails = true
`,
    'filter.d/vault.conf': `[Definition]
_daemon = vault
failregex = ^\\s*\\S+\\s+%(_daemon)s\\[\\d+\\]:\\s+denied login for \\S+ from <HOST>$
`,
  }), { 'auth.log': '', 'vault.log': '' });
  try {
    const { code, out } = await run([tree.etc, '--out', tree.out, '--json']);
    const result = JSON.parse(out) as { exitCode: number; untranslated: unknown[]; verifyErrors: unknown[]; jails: { warden: string; filter: string }[] };
    // The vault filter has no %(__prefix_line)s but a hand-written anchor at the start of the line:
    // not translatable to warden's message-anchored patterns, so it is listed.
    assert.equal(code, 3);
    assert.equal(result.exitCode, 3);
    assert.equal(result.untranslated.length > 0, true);

    // The same with a filter written the usual way.
    writeFileSync(join(tree.etc, 'filter.d/common.conf'), `[DEFAULT]\n__prefix_line = \\s*\\S+\\s+\\S+:\\s+\n`);
    writeFileSync(join(tree.etc, 'filter.d/vault.conf'), `[INCLUDES]\nbefore = common.conf\n[DEFAULT]\n_daemon = vault\n[Definition]\nfailregex = ^%(__prefix_line)sdenied login for \\S+ from <HOST>$\n`);
    const again = await run([tree.etc, '--out', join(tree.root, 'out2'), '--json']);
    const clean = JSON.parse(again.out) as typeof result;
    assert.deepEqual(clean.untranslated, [], again.out);
    assert.deepEqual(clean.verifyErrors, []);
    assert.equal(again.code, 0);
    const config = loadConfigFile(join(tree.root, 'out2', 'warden.yaml'));
    const vault = jail(config.jails, 'vault');
    // bantime.multipliers 1 2 4 8 is warden's factor 2 capped at 8 x bantime.
    assert.deepEqual([vault.maxretry, vault.findtime, vault.bantime, vault.escalation.factor, vault.escalation.max], [6, 900, 3600, 2, 8 * 3600]);
    const filter = new CompiledFilter(loadFilter(vault.filter), { dates: dates() });
    assert.equal(filter.match('Mar  1 00:00:01 host vault[3]: denied login for root from 192.0.2.99', NOW), 'detected');
    assert.equal(filter.last?.address.text, '192.0.2.99');
  } finally {
    rmSync(tree.root, { recursive: true, force: true });
  }
});

test('every issue is reported with its file and line when it has one', () => {
  const tree = writeTree(files, LOGS);
  try {
    const result = importFail2ban({ dir: tree.etc, out: tree.out });
    for (const issue of result.issues.filter((i) => i.severity === 'untranslated')) {
      assert.ok(issue.file !== undefined && issue.line !== undefined, `file:line for ${formatIssue(issue)}`);
    }
    assert.deepEqual(result.disabled, ['apache-auth']);
  } finally {
    rmSync(tree.root, { recursive: true, force: true });
  }
});
