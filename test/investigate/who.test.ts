import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileChecked } from '../../src/util/exec.js';
import { liveSystem } from '../../src/investigate/system.js';
import { encodeUtmp, parseUtmp, UtmpType } from '../../src/investigate/utmp.js';
import { currentSessions, idleText } from '../../src/investigate/who.js';
import { missing } from '../helpers/require.js';
import { deadPid, boot, login, logout, tempDir } from './fixtures.js';
import { runCommand, runJson } from './run-helper.js';

interface WhoJson {
  file: string;
  sessions: Array<{ user: string; tty: string; login: string; idleSeconds: number | null; pid: number; alive: boolean; host: string; address: string | null; root: boolean }>;
  problems: Array<{ kind: string; offset: number | null; message: string }>;
}

interface WhoLine { user: string; line: string; minute: number; idle: string; pid: number; host: string }

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Parses `who -u FILE` run with TZ=UTC: "user line 2024-06-01 10:00 idle pid (host)" — or, in a
 * locale without ISO dates, "Jun  1 10:00" (the year is then taken from `year`).
 */
function parseWho(text: string, year: number): WhoLine[] {
  return text.split('\n').filter(Boolean).map((l) => {
    const m = /^(\S+)\s+(\S+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d)\s+(\S+)\s+(\d+)(?:\s+\((.*)\))?$/.exec(l);
    if (!m) throw new Error(`who line not understood: ${l}`);
    const iso = /^\d{4}/.test(m[3]!) ? m[3]!.replace(' ', 'T') : (() => {
      const [mon, day, hm] = m[3]!.split(/\s+/);
      return `${year}-${String(MONTHS.indexOf(mon!) + 1).padStart(2, '0')}-${day!.padStart(2, '0')}T${hm}`;
    })();
    return { user: m[1]!, line: m[2]!, minute: Date.parse(`${iso}:00Z`) / 60_000, idle: m[4]!, pid: Number(m[5]), host: m[6] ?? '' };
  });
}

test('warden who shows the same sessions and times as who(1) on the same utmp, plus liveness and root', async (t) => {
  const skip = missing(['who'], false);
  if (skip) return t.skip(skip);
  const now = Math.floor(Date.now() / 1000);
  const dead = await deadPid();
  const tmp = tempDir();
  try {
    const file = tmp.path('utmp');
    writeFileSync(file, Buffer.concat([
      boot(now - 7200),
      encodeUtmp({ type: UtmpType.LOGIN_PROCESS, pid: 1, line: 'tty1', id: 'tty1', user: 'LOGIN', sec: now - 7100 }),
      login('root', 'pts/0', '192.0.2.10', now - 3000, process.pid),
      login('alice', 'pts/1', '2001:db8::5', now - 2000, 1),
      login('mallory', 'pts/2', '198.51.100.7', now - 1000, dead),
      logout('pts/3', now - 900, 77),
      encodeUtmp({ type: UtmpType.USER_PROCESS, pid: 5, line: 'pts/4', sec: now - 800 }), // no user: not a session
      login('bob', 'ttyS9', null, now - 600, 1),
      Buffer.alloc(384), // a freed slot
    ]));
    const ours = await runJson<WhoJson>('who', ['--file', file]);
    const oracle = parseWho((await execFileChecked('who', ['-u', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } })).stdout, new Date(now * 1000).getUTCFullYear());

    assert.deepEqual(ours.sessions.map((s) => s.user), ['root', 'alice', 'mallory', 'bob']);
    assert.deepEqual(
      ours.sessions.map((s) => ({ user: s.user, line: s.tty, minute: Math.floor(Date.parse(s.login) / 60_000), pid: s.pid, host: s.host })),
      oracle.map((o) => ({ user: o.user, line: o.line, minute: o.minute, pid: o.pid, host: o.host })),
    );
    // who -u prints "?" when the terminal does not exist in /dev; we give null.
    oracle.forEach((o, i) => { if (o.idle === '?') assert.equal(ours.sessions[i]?.idleSeconds, null); });
    assert.deepEqual(ours.sessions.map((s) => s.root), [true, false, false, false]);
    assert.deepEqual(ours.sessions.map((s) => s.alive), [true, true, false, true]);
    assert.deepEqual(ours.sessions.map((s) => s.address), ['192.0.2.10', '2001:db8::5', '198.51.100.7', null]);
    assert.deepEqual(ours.problems, [], 'a freed (zeroed) slot is not a problem in utmp');

    const text = await runCommand('who', ['--file', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ROOT\s+root\s+pts\/0\s+/m);
    assert.match(text.stdout, /mallory\s+pts\/2\s+.*GONE\s+198\.51\.100\.7/);
    assert.match(text.stdout, /root is logged in: 1 session/);
    assert.match(text.stdout, /1 entry has no live process/);
  } finally {
    tmp.remove();
  }
});

test('idle time comes from the terminal\'s atime, liveness from /proc; odd line names are not followed', () => {
  const tmp = tempDir();
  try {
    const now = Math.floor(Date.now() / 1000);
    mkdirSync(tmp.path('dev/pts'), { recursive: true });
    mkdirSync(tmp.path('proc/4242'), { recursive: true });
    writeFileSync(tmp.path('dev/pts/7'), '');
    utimesSync(tmp.path('dev/pts/7'), now - 125, now - 125);
    writeFileSync(tmp.path('dev/tty2'), '');
    utimesSync(tmp.path('dev/tty2'), now - 20, now - 20);
    writeFileSync(tmp.path('secret'), '');
    const system = liveSystem({ devDir: tmp.path('dev'), procDir: tmp.path('proc'), passwdFile: tmp.path('passwd') });
    writeFileSync(tmp.path('passwd'), 'root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    const data = Buffer.concat([
      login('alice', 'pts/7', '192.0.2.1', now - 600, 4242),
      login('toor', 'tty2', null, now - 500, 4243),
      login('eve', '../secret', null, now - 400, 4242),
    ]);
    const s = currentSessions(parseUtmp(data).records, system);
    assert.equal(idleText(s[0]!.idleSeconds), '00:02');
    assert.ok(Math.abs(s[0]!.idleSeconds! - 125) < 5);
    assert.equal(idleText(s[1]!.idleSeconds), '.');
    assert.equal(s[2]!.idleSeconds, null, '"../secret" is not a device name: not examined');
    assert.deepEqual(s.map((x) => x.alive), [true, false, true]);
    assert.deepEqual(s.map((x) => x.root), [false, true, false], 'a uid-0 alias counts as root');
    assert.equal(idleText(2 * 86_400), 'old');
    assert.equal(idleText(3600, 600), 'old', 'used before this boot');
    assert.equal(idleText(null), '?');
  } finally {
    tmp.remove();
  }
});

test('warden who names the file it cannot read, and escapes control characters from it', async () => {
  const tmp = tempDir();
  try {
    const r = await runCommand('who', ['--file', tmp.path('nope')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope: does not exist/);
    const file = tmp.path('utmp');
    const hostile = encodeUtmp({ type: UtmpType.USER_PROCESS, pid: 1, line: 'pts/1', user: 'x', host: 'evil\u001b]0;pwned\u0007', sec: Math.floor(Date.now() / 1000) });
    writeFileSync(file, Buffer.concat([hostile, Buffer.from('junk')]));
    const out = await runCommand('who', ['--file', file]);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /\u001b/);
    assert.match(out.stdout, /evil\\x1b\]0;pwned\\x07/);
    assert.match(out.stdout, /problems in .*utmp:\n {2}! size 388 is not a multiple of 384: 4 bytes/);
  } finally {
    tmp.remove();
  }
});
