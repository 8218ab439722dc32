import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { boot, login, logout, tempDir } from './fixtures.js';
import { findGenerator, generate, runIncident, runIncidentJson, syslogLine } from './incident-helpers.js';

interface ReportJson {
  attention: string[];
  who: { sessions: Array<{ user: string; root: boolean }>; problem: string | null };
  logins: { sessions: Array<{ user: string; address: string | null; login: string; root: boolean }>; problem: string | null };
  rootLogins: Array<{ time: string; user: string; from: string | null; source: string }>;
  attacks: {
    failures: number; addresses: number;
    top: Array<{ address: string; failures: number; first: string; last: string; users: Array<{ user: string; count: number }>; banned: boolean | null }>;
    successes: Array<{ time: string; address: string; user: string }>;
    sources: Array<{ path: string; skipped: boolean; compressed: boolean; offset: number; lines: number; problem?: string }>;
  };
  bans: { available: boolean; error: string | null };
  indicators: Array<{ kind: string; user: string; address: string | null; time: string; seen: string }>;
  noHistory: string[];
  typos: Array<{ user: string; address: string }>;
  integrity: { findings: Array<{ severity: string; file: string; seen: string; meaning: string }>; notes: string[]; journal: unknown };
  audit: { ran: boolean };
  problems: string[];
}

const H = 3_600_000;

test('report on a generated day: top attackers and totals as the generator\'s truth; history-based indicators; root logins; threads agree', async (t) => {
  const gen = findGenerator();
  if ('skip' in gen) return t.skip(gen.skip);
  const tmp = tempDir();
  try {
    const all = tmp.path('day.log');
    // 200,000 lines over about 23 hours, ending now.
    const g = await generate(gen.path, 200_000, all, ['--start', 'now-span', '--rate', '2.4', '--seed', '11']);
    const lines = readFileSync(all, 'utf8').split('\n').filter(Boolean);
    const cut = Math.floor(lines.length * 0.4);
    const first = Date.parse(g.summary.first_ts);
    const last = Date.parse(g.summary.last_ts);
    writeFileSync(tmp.path('auth.log.1'), lines.slice(0, cut).join('\n') + '\n');
    utimesSync(tmp.path('auth.log.1'), new Date(first + 9 * H), new Date(first + 9 * H));
    // An older generation, rotated before the window: not read.
    writeFileSync(tmp.path('auth.log.2.gz'), gzipSync(syslogLine(first - 30 * H, 'Failed password for root from 198.51.100.250 port 1 ssh2') + '\n'));
    utimesSync(tmp.path('auth.log.2.gz'), new Date(first - 29 * H), new Date(first - 29 * H));

    // carol logs in from a new address, at an hour she never used; her history (wtmp) is 12 logins
    // from one address, 6 to 10 hours of the day away from this one.
    const carolAt = last + 1000;
    const hour = new Date(carolAt).getUTCHours();
    writeFileSync(tmp.path('auth.log'), lines.slice(cut).join('\n') + '\n'
      + syslogLine(carolAt, 'Accepted password for carol from 203.0.113.50 port 50000 ssh2', 'sshd', 77) + '\n');

    // wtmp: the legitimate users' history from their addresses in the log, spread over all hours
    // of the days before; carol's; a boot; and a root login inside the window.
    const pairs = new Map<string, [string, string]>();
    for (const l of lines) {
      const m = / Accepted \S+ for (\S+) from (\S+) port/.exec(l);
      if (m) pairs.set(`${m[1]} ${m[2]}`, [m[1]!, m[2]!]);
    }
    const records: Buffer[] = [boot(Math.floor((first - 20 * 24 * H) / 1000))];
    let k = 0;
    for (const [user, address] of pairs.values()) {
      for (let i = 0; i < 24; i++) {
        const sec = Math.floor((first - 10 * 24 * H + i * H + (k++ % 7) * 24 * H) / 1000);
        records.push(login(user, 'pts/1', address, sec, 0), logout('pts/1', sec + 600, 0));
      }
    }
    for (let i = 0; i < 12; i++) {
      const day = Math.floor((carolAt - (i + 2) * 24 * H) / (24 * H)) * 24 * H;
      const sec = Math.floor((day + ((hour + 6 + (i % 5)) % 24) * H) / 1000);
      records.push(login('carol', 'pts/2', '198.51.100.5', sec, 0), logout('pts/2', sec + 300, 0));
    }
    const rootAt = Math.floor((first + 5 * H) / 1000);
    records.push(login('root', 'pts/3', '192.0.2.200', rootAt, 0), logout('pts/3', rootAt + 60, 0));
    records.sort((a, b) => a.readUInt32LE(340) - b.readUInt32LE(340));
    writeFileSync(tmp.path('wtmp'), Buffer.concat(records));
    writeFileSync(tmp.path('utmp'), Buffer.alloc(0));

    const args = ['--log', tmp.path('auth.log'), '--wtmp', tmp.path('wtmp'), '--utmp', tmp.path('utmp'), '--state', tmp.path('state'),
      '--socket', tmp.path('none.sock'), '--no-audit', '--since', new Date(first - 60_000).toISOString(), '--top', '15'];
    const one = await runIncidentJson<ReportJson>('report', [...args, '--threads', '1'], [1]);
    const two = await runIncidentJson<ReportJson>('report', [...args, '--threads', '4'], [1]);
    const r = one.json;

    const truth = [...g.truth].filter(([, v]) => v.f2bAggr > 0).sort((a, b) => b[1].f2bAggr - a[1].f2bAggr);
    assert.deepEqual(r.attacks.top.map((a) => a.failures), truth.slice(0, 15).map(([, v]) => v.f2bAggr), 'top counts');
    for (const a of r.attacks.top) assert.equal(a.failures, g.truth.get(a.address)?.f2bAggr, a.address);
    assert.equal(r.attacks.failures, g.summary.totals.f2b_aggr);
    assert.equal(r.attacks.addresses, truth.length);
    assert.equal(r.attacks.top[0]!.banned, null, 'no daemon: ban state unknown');
    assert.equal(r.bans.available, false);
    const successes = [...g.truth.values()].reduce((s, v) => s + v.success, 0);
    assert.equal(r.attacks.successes.length, successes + 1);
    assert.deepEqual(r.attacks.sources.map((s) => [s.path.replace(/^.*\//, ''), s.skipped]), [['auth.log.2.gz', true], ['auth.log.1', false], ['auth.log', false]]);
    assert.equal(r.attacks.sources.reduce((s, x) => s + x.lines, 0), lines.length + 1);

    // Threads split the log at line boundaries: the same result.
    assert.deepEqual(two.json.attacks, r.attacks);

    // gen-authlog's legitimate users only mistype (one failure just before a login): no indicator
    // for that; carol's login is new in both address and hour.
    assert.ok(r.typos.length > 0);
    assert.deepEqual(r.indicators.map((i) => [i.kind, i.user, i.address]), [['new-address', 'carol', '203.0.113.50'], ['unusual-hour', 'carol', '203.0.113.50']]);
    assert.deepEqual(r.rootLogins.map((x) => [x.user, x.from, x.source]), [['root', '192.0.2.200', 'wtmp']]);
    assert.ok(r.attention.some((a) => a.startsWith('root logged in 1 time')));
    assert.ok(r.attention.includes('2 compromise indicators'));
    assert.deepEqual(r.integrity.findings.filter((f) => f.severity === 'warning'), []);
    assert.match(r.integrity.notes.join('\n'), /first check of .*auth\.log/);

    // The text form has every section.
    const text = await runIncident('report', [...args, '--threads', '1']);
    assert.equal(text.code, 1);
    for (const section of ['NEEDS ATTENTION (2):', 'ON NOW', 'LOGINS IN THE WINDOW (wtmp):', 'ROOT LOGINS:', 'ATTACKS (auth log, sshd filter aggressive mode):', 'BANS (daemon)', 'COMPROMISE INDICATORS: 2', 'INTEGRITY:', 'SSH HARDENING']) {
      assert.ok(text.stdout.includes(section), section);
    }
    assert.ok(text.stdout.includes(`  ${truth[0]![0]}`), 'the top attacker is listed');
  } finally {
    tmp.remove();
  }
});

test('report exit status: 0 when all is quiet; 1 after the log was cut, after a gap, with root on now; hostile names are escaped', async () => {
  const tmp = tempDir();
  try {
    const now = Date.now();
    // A busy log: a line every 20 s for 6 hours, failed logins only, ending now.
    const lines: string[] = [];
    for (let ms = now - 6 * H; ms < now - 5_000; ms += 20_000) lines.push(syslogLine(ms, `Failed password for root from 192.0.2.${Math.floor(ms / 20_000) % 5 + 1} port 4000 ssh2`, 'sshd', 100 + (Math.floor(ms / 20_000) % 1000)));
    writeFileSync(tmp.path('auth.log'), lines.join('\n') + '\n');
    const sec = Math.floor(now / 1000);
    writeFileSync(tmp.path('wtmp'), Buffer.concat([boot(sec - 10 * 24 * 3600), login('alice', 'pts/0', '198.51.100.7', sec - 3600, 0), logout('pts/0', sec - 3000, 0)]));
    writeFileSync(tmp.path('utmp'), Buffer.alloc(0));
    const args = ['--log', tmp.path('auth.log'), '--wtmp', tmp.path('wtmp'), '--utmp', tmp.path('utmp'), '--state', tmp.path('state'), '--socket', tmp.path('none.sock'), '--no-audit'];

    const quiet = await runIncidentJson<ReportJson>('report', args, [0]);
    assert.deepEqual(quiet.json.attention, []);
    assert.equal(quiet.json.attacks.failures, lines.length);
    assert.deepEqual(quiet.json.attacks.top.map((a) => a.address).sort(), ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5']);
    assert.deepEqual(quiet.json.logins.sessions.map((s) => s.user), ['alice']);
    const again = await runIncident('report', args);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^Nothing needs attention\.$/m);

    // Lines cut from the end of the log since the last run.
    truncateSync(tmp.path('auth.log'), Buffer.byteLength(lines.slice(0, -20).join('\n') + '\n'));
    const cut = await runIncidentJson<ReportJson>('report', args, [1]);
    assert.deepEqual(cut.json.attention, ['1 integrity warning']);
    assert.match(cut.json.integrity.findings.find((f) => f.severity === 'warning')!.seen, /^shrank from \d+ to \d+ bytes/);

    // Two hours without a line in the middle (lines deleted, or syslog stopped).
    const holed = lines.filter((l, i) => i < 300 || i > 300 + 2 * 180);
    writeFileSync(tmp.path('auth2.log'), holed.join('\n') + '\n');
    const gap = await runIncidentJson<ReportJson>('report', [...args.map((a) => (a === tmp.path('auth.log') ? tmp.path('auth2.log') : a))], [1]);
    const g = gap.json.integrity.findings.filter((f) => f.severity === 'warning');
    assert.equal(g.length, 1);
    assert.match(g[0]!.seen, /^no line for 2\.0 h, from \S+ to \S+$/);

    // root logged in now (utmp), and a user name with a terminal escape in the log.
    writeFileSync(tmp.path('utmp'), login('root', 'pts/9', '192.0.2.99', sec - 60, process.pid));
    appendFileSync(tmp.path('auth.log'), syslogLine(now - 1000, 'Failed password for invalid user \x1b[31mevil from 192.0.2.66 port 1 ssh2', 'sshd', 5) + '\n');
    const root = await runIncident('report', [...args, '--top', '50']);
    assert.equal(root.code, 1);
    assert.match(root.stdout, /! root is logged in now: 1 session/);
    assert.ok(!root.stdout.includes('\x1b'), 'no raw escape reaches the terminal');
    assert.ok(root.stdout.includes('\\x1b[31mevil'));
  } finally {
    tmp.remove();
  }
});
