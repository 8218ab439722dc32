import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { loadFilter } from '../../src/filters/definition.js';
import { planPieces, scanPiece, scanWindow, splitRest, type Piece, type WindowScan } from '../../src/investigate/auth-window.js';
import type { LogFile } from '../../src/investigate/log-sources.js';
import { tempDir } from './fixtures.js';

const START = Date.UTC(2026, 2, 1, 0, 0, 0);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function syslogDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * A day of auth.log with what makes cutting it risky: failures of many addresses, logins after
 * failures (typo counting looks back), "message repeated" lines, and "kex_exchange_identification"
 * marks whose "Connection closed" follows a few lines later (a cut between them must not lose it).
 */
function writeDay(path: string, lines: number): void {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const t = syslogDate(START + i * 500);
    const pid = 1000 + (i % 977);
    const a = `198.51.100.${i % 200}`;
    const b = `2001:db8:${(i % 37).toString(16)}::${(i % 11) + 1}`;
    switch (i % 9) {
      case 0: out.push(`${t} host sshd[${pid}]: Failed password for root from ${a} port ${40000 + (i % 20000)} ssh2`); break;
      case 1: out.push(`${t} host sshd[${pid}]: Invalid user admin${i % 7} from ${b} port 2222`); break;
      case 2: out.push(`${t} host sshd[${pid}]: kex_exchange_identification: Connection closed by remote host`); break;
      case 3: out.push(`${t} host CRON[${pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`); break;
      case 4: out.push(`${t} host sshd[${1000 + ((i - 2) % 977)}]: Connection closed by 203.0.113.${i % 50} port 5555`); break;
      case 5: out.push(`${t} host sshd[${pid}]: message repeated 3 times: [ Failed password for invalid user test from ${b} port 1 ssh2]`); break;
      case 6: out.push(`${t} host sshd[${pid}]: Failed password for alice from 192.0.2.${i % 30} port 50000 ssh2`); break;
      case 7: out.push(`${t} host sshd[${pid}]: Accepted password for alice from 192.0.2.${(i - 1) % 30} port 50001 ssh2`); break;
      default: out.push(`${t} host kernel: [UFW BLOCK] SRC=198.51.100.7`);
    }
  }
  writeFileSync(path, out.join('\n') + '\n');
}

/** The window every test reads: the fixture's day, dates in UTC. */
const WINDOW = { since: START, now: START + 86_400_000, timezone: 'UTC', filter: loadFilter('sshd') };

function logFile(path: string, current: boolean): LogFile {
  const st = statSync(path);
  return { path, size: st.size, mtime: st.mtimeMs, current, base: path, ino: st.ino };
}

/** What the report uses of a scan, in a form deepEqual can compare. */
function summary(scan: WindowScan): unknown {
  return {
    failures: scan.failures,
    // recentTimes and recentUsers are a piece's scratch (its last failures, for typo counting).
    attackers: [...scan.attackers.values()].map(({ recentTimes: _t, recentUsers: _u, ...a }) => ({ ...a, users: [...a.users] }))
      .sort((x, y) => (x.address < y.address ? -1 : 1)),
    logins: scan.logins,
    sources: scan.sources.map((s) => [s.path, s.lines, s.bytes, s.offset, s.skipped, s.problem]),
    gaps: scan.gaps,
    endedLive: scan.endedLive,
  };
}

test('splitRest cuts what is left of a piece at a line start and hands over the second half with warm-up', () => {
  const tmp = tempDir();
  try {
    const path = tmp.path('auth.log');
    writeDay(path, 5000);
    const text = readFileSync(path);
    const piece: Piece = { path, kind: 'file', warmup: 0, start: 0, end: text.length };
    const range = { position: 100_000, end: text.length };
    const tail = splitRest(piece, range, 1024);
    assert.ok(tail);
    assert.equal(range.end, tail.start, 'the reader stops where the tail starts');
    assert.equal(tail.end, text.length);
    assert.equal(text[tail.start - 1], 0x0a, 'the cut is a line start');
    assert.ok(Math.abs(tail.start - (100_000 + (text.length - 100_000) / 2)) < 200, 'about half of the rest');
    assert.ok(tail.warmup < tail.start && tail.warmup >= tail.start - 256 * 1024 && text[tail.warmup - 1] === 0x0a, 'warm-up: whole lines before the cut');
    // Too little left: nothing to hand over, the range unchanged.
    const small = { position: text.length - 500, end: text.length };
    assert.equal(splitRest(piece, small, 1024), null);
    assert.equal(small.end, text.length);
  } finally {
    tmp.remove();
  }
});

test('a window read by several threads that split the files between them gives what one thread gives', async () => {
  const tmp = tempDir();
  try {
    // Large enough that this thread is still reading the first file when a worker is ready
    // (its modules take 0.1-0.3 s to load): the worker then takes half of the rest, and whoever
    // finishes first takes half of the other's rest, down to pieces of 64 KiB.
    writeDay(tmp.path('auth.log.1'), 300_000);
    writeDay(tmp.path('auth.log'), 20_000);
    const files = [logFile(tmp.path('auth.log.1'), false), logFile(tmp.path('auth.log'), true)];
    const params = { ...WINDOW, files };
    const one = await scanWindow({ ...params, workers: 1 });
    assert.equal(one.pieces, 2);
    assert.ok(one.failures > 100_000 && one.logins.length > 10_000, 'the fixture has failures and logins');
    assert.ok([...one.attackers.keys()].some((a) => a.startsWith('203.0.113.')), 'the marked "Connection closed" lines count');
    for (const workers of [2, 3]) {
      const many = await scanWindow({ ...params, workers, minSplitBytes: 64 * 1024 });
      assert.ok(many.pieces > 2, `${workers} threads: the files were split between threads (${many.pieces} pieces)`);
      assert.deepEqual(summary(many), summary(one), `${workers} threads`);
    }
  } finally {
    tmp.remove();
  }
});

test('a rotation between typos (or a mark) and the login (or the line it marks) changes nothing: the file after warms up with the end of the one before', async () => {
  const tmp = tempDir();
  try {
    const whole = tmp.path('whole.log');
    writeDay(whole, 3000);
    const lines = readFileSync(whole, 'latin1').split('\n').slice(0, -1);
    const params = WINDOW;
    const one = await scanWindow({ ...params, files: [logFile(whole, true)], workers: 1 });
    const attackersOf = (scan: WindowScan) => (summary(scan) as { attackers: unknown }).attackers;
    const loginsOf = (scan: WindowScan) => scan.logins.map(({ file: _file, ...l }) => l);
    // Cut after line 1509 (i % 9 = 6: alice's failure, the next line her login from the same
    // address) and after line 1505 (i % 9 = 2: a kex mark, its "Connection closed" two lines on).
    let pieces: Piece[] = [];
    for (const cut of [1510, 1506]) {
      assert.match(lines[cut - 1]!, cut === 1510 ? /Failed password for alice from 192\.0\.2\.9 / : /kex_exchange_identification/);
      writeFileSync(tmp.path('auth.log.1'), lines.slice(0, cut).join('\n') + '\n');
      writeFileSync(tmp.path('auth.log'), lines.slice(cut).join('\n') + '\n');
      const files = [logFile(tmp.path('auth.log.1'), false), logFile(tmp.path('auth.log'), true)];
      ({ pieces } = planPieces(files, params));
      assert.equal(pieces[1]?.previousTail?.path, tmp.path('auth.log.1'));
      assert.equal(pieces[1]?.previousTail?.end, statSync(tmp.path('auth.log.1')).size);
      const split = await scanWindow({ ...params, files, workers: 1 });
      assert.deepEqual(loginsOf(split), loginsOf(one), `cut at ${cut}: the same logins, typos and failures before each`);
      assert.deepEqual(attackersOf(split), attackersOf(one), `cut at ${cut}: the same attackers`);
      assert.equal(split.failures, one.failures);
    }
    // The same across threads: a piece split off a file does not warm up with the previous file.
    const tail = splitRest(pieces[1]!, { position: 0, end: statSync(tmp.path('auth.log')).size }, 1024);
    assert.ok(tail && tail.previousTail === undefined);
  } finally {
    tmp.remove();
  }
});

test('a piece is read only from the file it was planned on: a log rotated in between is reported, not read', async () => {
  const tmp = tempDir();
  try {
    const path = tmp.path('auth.log');
    writeDay(path, 2000);
    const params = WINDOW;
    const { pieces } = planPieces([logFile(path, true)], params);
    assert.equal(pieces.length, 1);
    const whole = await scanPiece(pieces[0]!, params);
    assert.equal(whole.problem, undefined);
    assert.ok(whole.failures > 0);
    // logrotate (create mode): the file moves to auth.log.1 and a new auth.log takes its name.
    renameSync(path, tmp.path('auth.log.1'));
    writeDay(path, 3000);
    const after = await scanPiece(pieces[0]!, params);
    assert.match(after.problem ?? '', /auth\.log: replaced by another file while it was being read \(log rotation\?\); it was not read/);
    assert.equal(after.failures, 0);
    assert.equal(after.lines, 0);
  } finally {
    tmp.remove();
  }
});
