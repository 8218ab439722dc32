import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { execFile, execFileChecked } from '../../src/util/exec.js';
import { LoginFileError, rotatedSiblings } from '../../src/investigate/files.js';
import { historyPaths, readHistory } from '../../src/investigate/history.js';
import { liveSystem } from '../../src/investigate/system.js';
import { encodeUtmp, UtmpType } from '../../src/investigate/utmp.js';
import { missing } from '../helpers/require.js';
import { boot, login, logout, runlevel, shutdown, tempDir } from './fixtures.js';
import { runCommand, runJson } from './run-helper.js';

interface LastJson {
  files: Array<{ path: string; compressed: boolean; bytes: number; records: number; begins: string | null }>;
  sessions: Array<{
    kind: 'login' | 'reboot'; user: string; tty: string; host: string; address: string | null; pid: number;
    login: string; logout: string | null; status: string; durationSeconds: number | null; root: boolean; newAddress: boolean;
    file: string; offset: number;
  }>;
  findings: Array<{ severity: string; file: string; offset: number | null; seen: string; meaning: string }>;
}

const D = 86_400;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Thu Oct 29 05:23:54 2026" printed with TZ=UTC, to seconds since the epoch. */
function ctime(text: string): number {
  const m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(text);
  if (!m) throw new Error(`not a ctime: ${text}`);
  return Date.UTC(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000;
}

/** The session length as last prints it: "(HH:MM)" or "(D+HH:MM)" (C integer division). */
function lastLength(secs: number): string {
  const days = Math.trunc(secs / 86_400), hours = Math.trunc(secs / 3600) % 24, mins = Math.trunc(secs / 60) % 60;
  const p = (n: number) => String(Math.abs(n)).padStart(2, '0');
  return days ? `${days}+${p(hours)}:${p(mins)}` : `${p(hours)}:${p(mins)}`;
}

/** One line of `last -F -w -i`, reduced to what both tools must agree on. */
interface Row { user: string; tty: string; host: string; login: number; end: string }

/**
 * Parses `last -F -w -i` output (TZ=UTC): "user tty(12 wide) ip login-ctime logout-part". The
 * logout part is "- <ctime> (len)", "- crash (len)", "- down (len)", "still logged in",
 * "still running" or "gone - no logout". Stops at the blank line before "wtmp begins".
 */
function parseLast(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) break;
    const m = /^(\S+) +(.{12}) (\S+) +([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}) (.*)$/.exec(line);
    if (!m) throw new Error(`last line not understood: ${line}`);
    const rest = m[5]!.trim();
    let end: string;
    let e: RegExpExecArray | null;
    if ((e = /^- ([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}) +\((.*)\)$/.exec(rest))) end = `at ${ctime(e[1]!)} (${e[2]})`;
    else if ((e = /^- (crash|down) +\((.*)\)$/.exec(rest))) end = `${e[1]} (${e[2]})`;
    else if (['still logged in', 'still running', 'gone - no logout'].includes(rest)) end = rest;
    else throw new Error(`last logout part not understood: ${rest}`);
    rows.push({ user: m[1]!, tty: m[2]!.trimEnd(), host: m[3]!, login: ctime(m[4]!), end });
  }
  return rows;
}

/** Our JSON sessions in the same reduced form. A boot that ended in a crash gets "*" (see below). */
function ourRows(sessions: LastJson['sessions']): Row[] {
  return sessions.map((s) => {
    const start = Date.parse(s.login) / 1000;
    const len = s.durationSeconds === null ? '' : lastLength(s.durationSeconds);
    const at = s.logout === null ? '' : `at ${Date.parse(s.logout) / 1000} (${len})`;
    const end = s.kind === 'reboot'
      ? { 'still running': 'still running', down: at, crash: '*' }[s.status] ?? `? ${s.status}`
      : { 'logged out': at, crash: `crash (${len})`, down: `down (${len})`, 'still logged in': 'still logged in', gone: 'gone - no logout' }[s.status] ?? `? ${s.status}`;
    return {
      user: s.kind === 'reboot' ? 'reboot' : s.user,
      tty: (s.kind === 'reboot' ? 'system boot' : s.tty).slice(0, 12),
      host: s.address ?? '0.0.0.0', // -i prints ut_addr_v6, 0.0.0.0 when there is none
      login: start, end,
    };
  });
}

/**
 * last(1) gives a boot the end of the most recent shutdown it has seen walking backwards, so a boot
 * that ended in a crash shows some later shutdown (or "still running"). We say "crash" instead;
 * for those rows only the start is compared, and the test checks last indeed printed no crash.
 */
function compare(ours: Row[], oracle: Row[]): void {
  assert.equal(ours.length, oracle.length, `ours:\n${JSON.stringify(ours, null, 1)}\nlast:\n${JSON.stringify(oracle, null, 1)}`);
  ours.forEach((o, i) => {
    const l = oracle[i]!;
    if (o.end === '*') {
      assert.deepEqual({ ...o, end: '' }, { ...l, end: '' }, `row ${i}`);
      assert.match(l.end, /^(at |still running)/, `row ${i}: last's view of a crashed boot`);
    } else {
      assert.deepEqual(o, l, `row ${i}`);
    }
  });
}

async function oracleLast(file: string, extra: readonly string[] = []): Promise<Row[]> {
  const r = await execFileChecked('last', ['-F', '-w', '-i', '-f', file, ...extra], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  return parseLast(r.stdout);
}

/** gzip -dc of a possibly truncated file: what it could decompress (exit status 1 when truncated). */
async function gunzipWithGzip(file: string): Promise<Buffer> {
  const r = await execFile('sh', ['-c', 'gzip -dc < "$1" | base64 -w0', 'sh', file]);
  return Buffer.from(r.stdout, 'base64');
}

const whole = (b: Buffer) => b.subarray(0, b.length - (b.length % 384));

test('warden last: rotated plain and gzip files, a truncated gzip and a truncated record — same sessions and times as last -F -w -i', async (t) => {
  const skip = missing(['last', 'gzip'], false);
  if (skip) return t.skip(skip);
  const N = Math.floor(Date.now() / 1000);
  const T1 = N - 120 * D, T2 = N - 90 * D, T3 = N - 60 * D, T4 = N - 30 * D, T5 = N - 10 * D;
  const tmp = tempDir();
  try {
    // Oldest generation, compressed, then cut: the records after the cut are lost.
    const gen3 = Buffer.concat([
      boot(T1), runlevel('5', T1 + 5),
      login('alice', 'pts/0', '192.0.2.10', T1 + 100, 1000), logout('pts/0', T1 + 200, 1000),
      login('bob', 'pts/1', '198.51.100.20', T1 + 300, 1001), logout('pts/1', T1 + 4000, 1001),
      ...Array.from({ length: 30 }, (_, i) => Buffer.concat([login('maintenance-bot', 'pts/2', '192.0.2.30', T1 + 5000 + i * 100, 2000 + i), logout('pts/2', T1 + 5050 + i * 100, 2000 + i)])),
      shutdown(T1 + 20 * D),
    ]);
    const gz3 = gzipSync(gen3);
    writeFileSync(tmp.path('wtmp.3.gz'), gz3.subarray(0, Math.floor(gz3.length * 0.6)));
    // Complete compressed generation: root's session never logs out and the machine boots again: crash.
    writeFileSync(tmp.path('wtmp.2.gz'), gzipSync(Buffer.concat([
      boot(T2),
      encodeUtmp({ type: UtmpType.LOGIN_PROCESS, pid: 700, line: 'tty1', id: 'tty1', user: 'LOGIN', sec: T2 + 10 }),
      login('root', 'pts/0', '2001:db8::7', T2 + 100, 1100),
      login('carol', 'pts/1', '203.0.113.5', T2 + 200, 1101), logout('pts/1', T2 + 3 * 3600 + 7, 1101),
    ])));
    // Plain rotated generation: dave's session goes on into the live file.
    writeFileSync(tmp.path('wtmp.1'), Buffer.concat([
      boot(T3),
      login('alice', 'pts/0', '192.0.2.10', T3 + 50, 1200), logout('pts/0', T3 + 60, 1200),
      login('dave', 'pts/2', '2001:db8:1::9', T3 + D, 1201),
    ]));
    // Live file, ending with half a record (a write cut short).
    const live = Buffer.concat([
      logout('pts/2', T4, 1201),
      login('root', 'pts/1', '192.0.2.10', T4 + 100, 1300), logout('pts/1', T4 + 2 * D + 3 * 3600 + 65, 1300),
      login('erin', 'pts/3', '198.51.100.20', T4 + 3 * D, 1301), // open when the machine is shut down: "down"
      shutdown(T4 + 3 * D + 500),
      boot(T5),
      login('eve', 'pts/3', '203.0.113.77', T5 + 100, 1400), logout('pts/3', T5 + 160, 1400),
      login('nosuchuser', 'pts/4', '198.51.100.99', N - 2 * D, 1401), // no logout, unknown user: gone
      login('root', 'console', null, N - 10, 0), // no logout, root's terminal: still logged in
    ]);
    writeFileSync(tmp.path('wtmp'), Buffer.concat([live, login('x', 'pts/9', null, N)].map((b, i) => (i ? b.subarray(0, 200) : b))));

    const ours = await runJson<LastJson>('last', ['--file', tmp.path('wtmp'), '--rotated']);
    assert.deepEqual(ours.files.map((f) => [f.path.slice(tmp.dir.length + 1), f.compressed]), [['wtmp.3.gz', true], ['wtmp.2.gz', true], ['wtmp.1', false], ['wtmp', false]]);

    // The oracle reads one file: the generations' readable whole records, oldest first, as gzip and
    // a byte cut see them — independent of our decompression and parsing.
    const combined = Buffer.concat([
      whole(await gunzipWithGzip(tmp.path('wtmp.3.gz'))),
      await gunzipWithGzip(tmp.path('wtmp.2.gz')),
      readFileSync(tmp.path('wtmp.1')),
      whole(readFileSync(tmp.path('wtmp'))),
    ]);
    const readable3 = whole(await gunzipWithGzip(tmp.path('wtmp.3.gz'))).length / 384;
    assert.ok(readable3 > 6 && readable3 < gen3.length / 384, `the cut kept ${readable3} records of ${gen3.length / 384}`);
    assert.equal(ours.files[0]?.records, readable3, 'we recover what gzip recovers');
    writeFileSync(tmp.path('combined'), combined);
    const oracle = await oracleLast(tmp.path('combined'));
    compare(ourRows(ours.sessions), oracle);

    // The stories the fixture tells, as we report them.
    const find = (user: string, start: number) => ours.sessions.find((s) => s.user === user && Date.parse(s.login) / 1000 === start);
    assert.equal(find('root', T2 + 100)?.status, 'crash');
    assert.equal(find('root', T2 + 100)?.logout, new Date(T3 * 1000).toISOString().replace('.000Z', 'Z'), 'a crash ends at the next boot');
    assert.equal(find('dave', T3 + D)?.status, 'logged out', 'paired across the rotation');
    assert.equal(find('erin', T4 + 3 * D)?.status, 'down');
    assert.equal(find('nosuchuser', N - 2 * D)?.status, 'gone');
    if (statSync('/dev/console', { throwIfNoEntry: false })?.uid === 0) assert.equal(find('root', N - 10)?.status, 'still logged in');
    const boots = ours.sessions.filter((s) => s.kind === 'reboot');
    assert.deepEqual(boots.map((b) => b.status), ['still running', 'down', 'crash', 'crash'], 'the oldest file lost its shutdown record in the cut');
    assert.deepEqual(ours.sessions.filter((s) => s.root).map((s) => Date.parse(s.login) / 1000), [N - 10, T4 + 100, T2 + 100]);
    // 192.0.2.10 was seen in the oldest file; 198.51.100.20 too; 203.0.113.77 never before.
    assert.equal(find('root', T4 + 100)?.newAddress, false);
    assert.equal(find('erin', T4 + 3 * D)?.newAddress, false);
    assert.equal(find('eve', T5 + 100)?.newAddress, true);
    assert.equal(find('alice', T1 + 100)?.newAddress, true);

    const seen = ours.findings.map((f) => `${f.file.slice(tmp.dir.length + 1)}: ${f.seen}`);
    assert.ok(seen.some((s) => /^wtmp\.3\.gz: .*compressed data is damaged or truncated/.test(s)), seen.join('\n'));
    assert.ok(seen.some((s) => /^wtmp: size \d+ is not a multiple of 384: 200 bytes of an incomplete record at the end/.test(s)), seen.join('\n'));

    // --since and --user select like last -s and last USER.
    const since = new Date((N - 15 * D) * 1000).toISOString().replace(/\.000Z$/, 'Z');
    const recent = await runJson<LastJson>('last', ['--file', tmp.path('combined'), '--since', since]);
    compare(ourRows(recent.sessions), await oracleLast(tmp.path('combined'), ['-s', since.replace('T', ' ').replace('Z', '')]));
    assert.deepEqual(ourRows((await runJson<LastJson>('last', ['--file', tmp.path('combined'), '--since', '15d'])).sessions), ourRows(recent.sessions));
    const roots = await runJson<LastJson>('last', ['--file', tmp.path('combined'), '--user', 'root']);
    compare(ourRows(roots.sessions), await oracleLast(tmp.path('combined'), ['root']));

    // Without --rotated only the named file is read.
    const alone = await runJson<LastJson>('last', ['--file', tmp.path('wtmp')]);
    assert.equal(alone.files.length, 1);
    writeFileSync(tmp.path('live-whole'), whole(readFileSync(tmp.path('wtmp'))));
    compare(ourRows(alone.sessions), await oracleLast(tmp.path('live-whole')));

    // The table: flags, the still-open and crashed sessions, then the files and findings.
    const text = await runCommand('last', ['--file', tmp.path('wtmp'), '--rotated']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ROOT\s+root\s+console\s+-\s+\S+ \S+\s+still logged in/m);
    assert.match(text.stdout, /^ROOT,NEW-IP\s+root\s+pts\/0\s+2001:db8::7\s+\S+ \S+\s+crash\s+29d 23:58:20$/m);
    assert.match(text.stdout, /^NEW-IP\s+eve\s+pts\/3\s+203\.0\.113\.77\s+\S+ \S+\s+\S+ \S+\s+0:01:00$/m);
    assert.match(text.stdout, /wtmp\.3\.gz \(gzip\): \d+ records, begins/);
    assert.match(text.stdout, /INTEGRITY \(\d+\):\n {2}! .*wtmp\.3\.gz: compressed data is damaged or truncated/);
  } finally {
    tmp.remove();
  }
});

test('tracks wiped: zeroed records, times out of order or impossible, odd types and bytes, a reset mtime', async (t) => {
  const skip = missing(['last'], false);
  if (skip) return t.skip(skip);
  const N = Math.floor(Date.now() / 1000);
  const T = N - 20 * D;
  const tmp = tempDir();
  try {
    const file = tmp.path('wtmp');
    writeFileSync(file, Buffer.concat([
      boot(T),
      login('alice', 'pts/0', '192.0.2.10', T + 100, 10), logout('pts/0', T + 200, 10),
      Buffer.alloc(384), Buffer.alloc(384), // root's login and logout, blanked by a log cleaner
      login('bob', 'pts/1', '198.51.100.1', T + 400, 11), logout('pts/1', T + 500, 11),
      login('carol', 'pts/2', '203.0.113.3', T - 5 * D, 12), // inserted later with an older time
      logout('pts/2', T + 700, 12),
      encodeUtmp({ type: 42, user: 'x', line: 'pts/5', sec: T + 800 }),
      login('mallory', 'pts/3', 'evil\u001b[2Jhost', T + 900, 13), logout('pts/3', T + 950, 13),
      login('oldie', 'pts/4', null, 100_000_000, 14), // 1973
      login('future', 'pts/6', null, N + 30 * D, 15),
    ]));
    utimesSync(file, T + 1000, T + 1000); // mtime set back before the newest record
    const ours = await runJson<LastJson>('last', ['--file', file]);
    const oracle = await oracleLast(file);
    compare(ourRows(ours.sessions), oracle);
    assert.ok(!ours.sessions.some((s) => s.user === 'root'), 'blanked sessions are gone from both listings');

    const byKind = (re: RegExp) => ours.findings.filter((f) => re.test(f.seen));
    const zeroed = byKind(/zeroed/);
    assert.equal(zeroed.length, 1, 'one run of two');
    assert.equal(zeroed[0]?.offset, 3 * 384);
    assert.match(zeroed[0]!.seen, /^2 zeroed records in a row at offsets 1152-1536, between \S+ and \S+$/);
    assert.match(zeroed[0]!.meaning, /log cleaners/);
    const order = byKind(/older than the record before it/);
    assert.deepEqual(order.map((f) => f.offset), [7 * 384, 12 * 384]);
    assert.match(order[0]!.seen, /USER_PROCESS carol on pts\/2/);
    assert.match(order[0]!.meaning, /inserted or its time edited/);
    assert.deepEqual(byKind(/unknown record type 42/).map((f) => f.offset), [9 * 384]);
    assert.deepEqual(byKind(/before 1990/).map((f) => f.offset), [12 * 384]);
    assert.deepEqual(byKind(/in the future/).map((f) => f.offset), [13 * 384]);
    assert.deepEqual(byKind(/control or invalid bytes/).map((f) => f.offset), [10 * 384]);
    assert.equal(byKind(/later than the file's modification time/).length, 1);
    for (const f of ours.findings) assert.ok(f.seen && f.meaning, 'each finding says what was seen and what it may mean');

    const text = await runCommand('last', ['--file', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /\u001b/);
    assert.match(text.stdout, /evil\\x1b\[2Jhost/);
    const integrity = text.stdout.slice(text.stdout.indexOf('INTEGRITY'));
    assert.ok(text.stdout.indexOf('INTEGRITY') > text.stdout.indexOf('mallory'), 'findings come after the table');
    assert.match(integrity, /! .*wtmp: 2 zeroed records in a row at offsets 1152-1536/);
    assert.match(integrity, /may mean: login programs never write all-zero records/);
  } finally {
    tmp.remove();
  }
});

test('an empty wtmp is reported; a missing one is an error naming it; bad --since is a usage error', async () => {
  const tmp = tempDir();
  try {
    writeFileSync(tmp.path('wtmp'), '');
    const empty = await runJson<LastJson>('last', ['--file', tmp.path('wtmp')]);
    assert.deepEqual(empty.sessions, []);
    assert.match(empty.findings[0]!.seen, /the file is empty/);
    assert.match(empty.findings[0]!.meaning, /wiped/);
    const missingFile = await runCommand('last', ['--file', tmp.path('nope')]);
    assert.equal(missingFile.code, 1);
    assert.match(missingFile.stderr, /nope: does not exist/);
    const bad = await runCommand('last', ['--file', tmp.path('wtmp'), '--since', 'yesterday']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--since: "yesterday" is neither a date/);
  } finally {
    tmp.remove();
  }
});

test('rotated generations are found next to the file, oldest first', () => {
  const tmp = tempDir();
  try {
    for (const n of ['wtmp', 'wtmp.1', 'wtmp.2.gz', 'wtmp.10.gz', 'wtmp-20240101.gz', 'wtmp-20231201', 'wtmpx', 'wtmp.old', 'btmp.1']) writeFileSync(tmp.path(n), '');
    assert.deepEqual(rotatedSiblings(tmp.path('wtmp')).map((p) => p.slice(tmp.dir.length + 1)),
      ['wtmp-20231201', 'wtmp-20240101.gz', 'wtmp.10.gz', 'wtmp.2.gz', 'wtmp.1']);
  } finally {
    tmp.remove();
  }
});

test('by default a deleted live wtmp is a finding and the rotated history still shows; a named one must exist', () => {
  const tmp = tempDir();
  try {
    const T = Math.floor(Date.now() / 1000) - 40 * D;
    writeFileSync(tmp.path('wtmp.1'), Buffer.concat([boot(T), login('alice', 'pts/0', '192.0.2.10', T + 60, 5), logout('pts/0', T + 120, 5)]));
    const def = historyPaths(undefined, false, tmp.path('wtmp'));
    assert.deepEqual(def, { paths: [tmp.path('wtmp.1'), tmp.path('wtmp')], required: undefined });
    const h = readHistory(def.paths, def.required, liveSystem());
    assert.deepEqual(h.sessions.map((s) => [s.kind, s.user, s.status]), [['login', 'alice', 'logged out'], ['reboot', 'reboot', 'still running']]);
    assert.match(h.findings[0]!.seen, /could not read it: .*wtmp: does not exist/);
    assert.match(h.findings[0]!.meaning, /current login history is missing: deleted/);
    const named = historyPaths(tmp.path('wtmp'), true);
    assert.equal(named.required, tmp.path('wtmp'));
    assert.throws(() => readHistory(named.paths, named.required, liveSystem()), LoginFileError);
  } finally {
    tmp.remove();
  }
});

test('sysvinit-era records: runlevel 0/6 as shutdowns, clock changes, old programs\' types — same as last', async (t) => {
  const skip = missing(['last'], false);
  if (skip) return t.skip(skip);
  const T = Math.floor(Date.now() / 1000) - 5 * D;
  const tmp = tempDir();
  try {
    const file = tmp.path('wtmp');
    writeFileSync(file, Buffer.concat([
      boot(T), runlevel('2', T + 5),
      login('alice', 'tty1', null, T + 100, 20),
      // The clock is set back an hour: announced by an OLD_TIME/NEW_TIME pair ("date" on "|" and "{").
      encodeUtmp({ type: UtmpType.OLD_TIME, line: '|', user: 'date', sec: T + 3800 }),
      encodeUtmp({ type: UtmpType.NEW_TIME, line: '{', user: 'date', sec: T + 200 }),
      logout('tty1', T + 400, 20),
      login('bob', 'pts/0', '192.0.2.5', T + 500, 21),
      encodeUtmp({ type: UtmpType.INIT_PROCESS, pid: 22, line: 'tty3', id: '3', user: 'olduser', sec: T + 600 }), // an old program's login
      encodeUtmp({ type: UtmpType.USER_PROCESS, pid: 23, line: 'pts/5', sec: T + 700 }), // a "ghost" login with no user
      runlevel('6', T + 5000), // reboot runlevel: bob's and olduser's sessions end "down"
      boot(T + 5100),
      login('carol', 'pts/1', '2001:db8::c', T + 5200, 24),
      runlevel('0', T + 6000), // halt
    ]));
    const ours = await runJson<LastJson>('last', ['--file', file]);
    compare(ourRows(ours.sessions), await oracleLast(file));
    assert.deepEqual(ours.sessions.map((s) => `${s.user}:${s.status}`),
      ['carol:down', 'reboot:down', 'olduser:down', 'bob:down', 'alice:logged out', 'reboot:down']);
    assert.deepEqual(ours.findings.filter((f) => /older than the record before/.test(f.seen)), [], 'an announced clock change is not tampering');
  } finally {
    tmp.remove();
  }
});
