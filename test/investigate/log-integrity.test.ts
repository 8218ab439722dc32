import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, appendFileSync, constants, copyFileSync, openSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { checkLogs, loadState, statePath, verifyJournal } from '../../src/investigate/log-integrity.js';
import { GapTracker, gapFindings, mergeGaps } from '../../src/investigate/log-gaps.js';
import { missing } from '../helpers/require.js';
import { tempDir } from './fixtures.js';

function lines(from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += `Mar  1 00:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} web01 sshd[${1000 + i}]: Failed password for root from 192.0.2.${i % 250} port ${40000 + i} ssh2\n`;
  return s;
}

/** One run of the check: the findings' kinds of "seen" text, and the notes. */
function run(log: string, state: string) {
  const r = checkLogs([log], state);
  return { findings: r.findings, notes: r.notes, seen: r.findings.map((f) => `${f.severity}: ${f.seen}`) };
}

test('log fingerprints: appends pass; shrinking, editing, replacing and deleting are reported; rotation is not', () => {
  const tmp = tempDir();
  try {
    const log = tmp.path('auth.log');
    const state = tmp.path('state');
    writeFileSync(log, lines(0, 500));

    const first = run(log, state);
    assert.deepEqual(first.findings, []);
    assert.match(first.notes.join('\n'), /first check/);
    assert.ok(loadState(state).state.logs[log], 'saved');
    assert.equal(statSync(statePath(state)).mode & 0o777, 0o600);

    appendFileSync(log, lines(500, 600));
    assert.deepEqual(run(log, state).findings, [], 'appended: fine');

    // Truncated.
    truncateSync(log, statSync(log).size - 3000);
    const shrunk = run(log, state);
    assert.equal(shrunk.findings.length, 1);
    assert.match(shrunk.seen[0]!, /^warning: shrank from \d+ to \d+ bytes/);
    assert.match(shrunk.findings[0]!.meaning, /lines were removed/);

    // A line removed near the end and the size made up by new lines: the old end has moved.
    appendFileSync(log, lines(600, 650));
    run(log, state); // accept this state
    const text = readFileSync(log, 'utf8').split('\n');
    text.splice(text.length - 20, 1);
    writeFileSync(log, text.join('\n') + lines(650, 660));
    const edited = run(log, state);
    assert.equal(edited.findings.length, 1);
    assert.match(edited.seen[0]!, /^warning: the \d+ bytes that ended it at .* have changed/);

    // Same content rewritten into a new file (sed -i, an editor): a notice.
    const copy = tmp.path('copy');
    copyFileSync(log, copy);
    rmSync(log);
    renameSync(copy, log);
    const rewritten = run(log, state);
    assert.deepEqual(rewritten.findings.map((f) => f.severity), ['notice']);
    assert.match(rewritten.seen[0]!, /is a new file \(inode/);

    // Rotation by rename, a new log: no finding, a note.
    renameSync(log, tmp.path('auth.log.1'));
    writeFileSync(log, lines(700, 710));
    const rotated = run(log, state);
    assert.deepEqual(rotated.findings, []);
    assert.match(rotated.notes.join('\n'), /rotated since .* \(now .*auth\.log\.1\)/);

    // Rotation with compression (auth.log.1 -> auth.log.2.gz, auth.log -> auth.log.1.gz).
    appendFileSync(log, lines(710, 720));
    run(log, state);
    writeFileSync(tmp.path('auth.log.2.gz'), gzipSync(readFileSync(tmp.path('auth.log.1'))));
    rmSync(tmp.path('auth.log.1'));
    writeFileSync(tmp.path('auth.log.1.gz'), gzipSync(readFileSync(log)));
    writeFileSync(log, '');
    assert.deepEqual(run(log, state).findings, [], 'compressed rotation: fine');

    // copytruncate: copied to .1, the live file emptied in place.
    appendFileSync(log, lines(720, 800));
    run(log, state);
    copyFileSync(log, tmp.path('auth.log.1'));
    truncateSync(log, 0);
    appendFileSync(log, lines(800, 805));
    assert.deepEqual(run(log, state).findings, [], 'copytruncate: fine');

    // Rotated, but lines were removed from the end before (or after) the rotation.
    appendFileSync(log, lines(805, 900));
    run(log, state);
    const size = statSync(log).size;
    renameSync(log, tmp.path('auth.log.1'));
    truncateSync(tmp.path('auth.log.1'), size - 500);
    writeFileSync(log, lines(900, 905));
    const cut = run(log, state);
    assert.equal(cut.findings.length, 1);
    assert.match(cut.findings[0]!.file, /auth\.log\.1$/);
    assert.match(cut.seen[0]!, /holds \d+ bytes, but .* held \d+ bytes/);

    // The start of the log edited, no rotated copy starting as it did.
    appendFileSync(log, lines(905, 950));
    run(log, state);
    const fd = openSync(log, 'r+');
    writeSync(fd, 'Feb');
    closeSync(fd);
    const head = run(log, state);
    assert.equal(head.findings.length, 1);
    assert.match(head.seen[0]!, /^warning: its first line is not the one it had/);

    // Deleted.
    rmSync(log);
    const gone = run(log, state);
    assert.match(gone.seen[0] ?? '', /^warning: does not exist; it held \d+ bytes/);
    assert.equal(loadState(state).state.logs[log], undefined);
  } finally {
    tmp.remove();
  }
});

test('an unreadable state is reported and replaced; an unwritable state directory is a problem, not an error', () => {
  const tmp = tempDir();
  try {
    const log = tmp.path('auth.log');
    writeFileSync(log, lines(0, 10));
    writeFileSync(tmp.path('integrity.json'), '{ not json');
    const r = checkLogs([log], tmp.dir);
    assert.match(r.problems.join(' '), /unreadable .* starting afresh/);
    assert.ok(loadState(tmp.dir).state.logs[log]);
    writeFileSync(tmp.path('file'), 'x');
    const blocked = checkLogs([log], tmp.path('file/sub'));
    assert.match(blocked.problems.join(' '), /cannot save the log fingerprints/);
  } finally {
    tmp.remove();
  }
});

const MIN = 60_000;

test('gaps: an hour without a line in a busy log is reported with its start and end; a quiet log, a reboot or a stopped sshd explain it', () => {
  const t0 = Date.UTC(2026, 2, 1);
  const busy = new GapTracker();
  for (let m = 0; m < 600; m++) {
    if (m >= 120 && m < 250) continue; // 130 minutes without a line
    busy.line(t0 + m * MIN, 'auth.log');
    busy.line(t0 + m * MIN, 'auth.log');
  }
  const f = gapFindings(busy.state, 'auth.log', {});
  assert.equal(f.length, 1);
  assert.equal(f[0]!.severity, 'warning');
  assert.equal(f[0]!.seen, 'no line for 2.2 h, from 2026-03-01T01:59:00Z to 2026-03-01T04:10:00Z');
  assert.match(f[0]!.meaning, /heuristic/);

  // The same lines read in three pieces give the same gaps, including one across a cut.
  const pieces = [new GapTracker(), new GapTracker(), new GapTracker()];
  for (let m = 0; m < 600; m++) {
    if (m >= 120 && m < 250) continue;
    pieces[m < 100 ? 0 : m < 300 ? 1 : 2]!.line(t0 + m * MIN, 'auth.log');
  }
  const split = [new GapTracker(), new GapTracker()];
  for (let m = 0; m < 600; m++) if (m < 120 || m >= 250) split[m < 120 ? 0 : 1]!.line(t0 + m * MIN, 'auth.log');
  for (const parts of [pieces, split]) {
    const merged = mergeGaps(parts.map((p) => p.state));
    assert.deepEqual(gapFindings(merged, 'auth.log', {}).map((x) => x.seen), [f[0]!.seen]);
  }

  // A boot inside the gap: a notice.
  assert.equal(gapFindings(busy.state, 'auth.log', { boots: [t0 + 200 * MIN] })[0]!.severity, 'notice');

  // sshd said it was terminating just before.
  const stopped = new GapTracker();
  for (let m = 0; m < 300; m++) {
    if (m >= 100 && m < 200) continue;
    stopped.line(t0 + m * MIN, 'auth.log');
    if (m === 99) stopped.sshd('stop');
    if (m === 200) stopped.sshd('start');
  }
  const s = gapFindings(stopped.state, 'auth.log', {});
  assert.equal(s.length, 1);
  assert.equal(s[0]!.severity, 'notice');
  assert.match(s[0]!.seen, /after sshd logged that it was terminating/);

  // A quiet log (a line every 20 minutes) has quiet hours: nothing to report.
  const quiet = new GapTracker();
  for (let m = 0; m < 200 * 20; m += 20) if (m < 1000 || m > 1200) quiet.line(t0 + m * MIN, 'auth.log');
  assert.deepEqual(gapFindings(quiet.state, 'auth.log', {}), []);

  // Silence since the last line of the live log.
  assert.match(gapFindings(busy.state, 'auth.log', { live: true, now: t0 + 800 * MIN }).at(-1)!.seen, /^no line since 2026-03-01T09:59:00Z, 3.4 h ago/);
});

const REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

test('journalctl --verify: a sound journal file passes, a damaged one fails with a finding', async (t) => {
  const skip = missing(['journalctl'], false) ?? (REMOTE ? undefined : 'systemd-journal-remote not found');
  if (skip) return t.skip(skip);
  const tmp = tempDir();
  try {
    const file = tmp.path('good.journal');
    const entries = Array.from({ length: 50 }, (_, i) => `__REALTIME_TIMESTAMP=${1_772_323_200_000_000 + i * 1_000_000}\n__MONOTONIC_TIMESTAMP=${i + 1}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web01\nSYSLOG_IDENTIFIER=sshd\nSYSLOG_FACILITY=4\n_PID=12\nMESSAGE=Failed password for root from 192.0.2.7 port ${i} ssh2\n\n`).join('');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(REMOTE!, [`--output=${file}`, '--split-mode=none', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
      child.stdin.end(entries);
    });
    const good = await verifyJournal({ file });
    assert.equal(good.ran, true);
    assert.deepEqual(good.findings, []);
    assert.equal(good.passed.length, 1);

    const bad = tmp.path('bad.journal');
    const data = readFileSync(file);
    const at = data.indexOf('Failed password');
    data.write('Xailed', at);
    writeFileSync(bad, data);
    const r = await verifyJournal({ file: bad });
    assert.equal(r.ran, true);
    assert.equal(r.failed.length, 1);
    assert.equal(r.findings[0]!.severity, 'warning');
    assert.match(r.findings[0]!.seen, /^journalctl --verify: FAIL \(Bad message\)/);

    const none = await verifyJournal({ journalctl: tmp.path('no-such-journalctl') });
    assert.equal(none.ran, false);
    assert.match(none.problem ?? '', /cannot run/);
  } finally {
    tmp.remove();
  }
});
