import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { convertRecord, fieldText, formatRealtime } from '../../src/sources/journal-entry.js';
import { JournalSource, type JournalSourceOptions } from '../../src/sources/journal.js';
import { MemoryPositionStore } from '../../src/sources/memory-positions.js';
import { inCI, missing } from '../helpers/require.js';
import { Collector, sleep, withTempDir } from './helpers.js';

/**
 * Real journal files are written with systemd-journal-remote, which reads the journal export
 * format on stdin and appends to an existing output file; `journalctl --follow --file F` picks up
 * those appends, so following is tested for real, not only backfill.
 */

const REMOTE_CANDIDATES = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'];

function findRemote(): string | undefined {
  for (const p of REMOTE_CANDIDATES) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Skip reason, or undefined when journalctl and systemd-journal-remote are both present. */
function journalSkip(): string | undefined {
  const reason = missing(['journalctl'], false);
  if (reason) return reason;
  if (findRemote()) return undefined;
  const why = `systemd-journal-remote not found in ${REMOTE_CANDIDATES.join(', ')}`;
  if (inCI) throw new Error(`CI=true and a real component is unavailable (${why}); install systemd-journal-remote in .ci/run`);
  return why;
}

const skip = journalSkip() ?? false;

interface Entry {
  readonly message: string | Buffer;
  readonly micros: bigint;
  readonly ident?: string;
  readonly pid?: number;
  readonly host?: string;
}

/** Serialises entries in the journal export format (binary-safe form for Buffer messages). */
function exportFormat(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(Buffer.from(
      `__REALTIME_TIMESTAMP=${e.micros}\n__MONOTONIC_TIMESTAMP=${e.micros}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n` +
      `_HOSTNAME=${e.host ?? 'testhost'}\nSYSLOG_IDENTIFIER=${e.ident ?? 'sshd'}\n_PID=${e.pid ?? 4242}\n_SYSTEMD_UNIT=ssh.service\n`,
    ));
    if (typeof e.message === 'string' && !e.message.includes('\n')) {
      parts.push(Buffer.from(`MESSAGE=${e.message}\n`));
    } else {
      const data = Buffer.isBuffer(e.message) ? e.message : Buffer.from(e.message);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(data.length));
      parts.push(Buffer.from('MESSAGE\n'), len, data, Buffer.from('\n'));
    }
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Appends entries to a journal file (created on first use). Spawned directly rather than through
 * util/exec because the export format is binary and exec's input is a UTF-8 string.
 */
function writeJournal(file: string, entries: readonly Entry[]): Promise<void> {
  const remote = findRemote();
  assert.ok(remote);
  return new Promise((resolve, reject) => {
    const child = spawn(remote, [`--output=${file}`, '--split-mode=none', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${remote} exited ${code}: ${stderr}`))));
    child.stdin.end(exportFormat(entries));
  });
}

const BASE = 1_772_323_200_000_000n; // 2026-03-01T00:00:00Z in µs

function entries(from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ message: `Failed password for root from 192.0.2.${i % 250} port ${1000 + i} ssh2 #${i}`, micros: BASE + BigInt(i) * 1_000_123n });
  return out;
}

function source(file: string, extra: Partial<JournalSourceOptions> = {}): JournalSource {
  return new JournalSource({
    matches: ['SYSLOG_IDENTIFIER=sshd'],
    positions: new MemoryPositionStore(),
    key: 'journal:test',
    extraArgs: ['--file', file],
    restartDelayMs: 100,
    ...extra,
  });
}

describe('journal entry conversion', () => {
  it('formats a syslog-looking line with an RFC 3339 µs UTC date', () => {
    const rec = convertRecord({
      __REALTIME_TIMESTAMP: '1772323201123456',
      _HOSTNAME: 'web01',
      SYSLOG_IDENTIFIER: 'sshd',
      _PID: '123',
      MESSAGE: 'Invalid user admin from 198.51.100.4 port 4711',
      __CURSOR: 's=1;i=2',
    });
    assert.ok(rec);
    assert.deepEqual(rec.lines, ['2026-03-01T00:00:01.123456+00:00 web01 sshd[123]: Invalid user admin from 198.51.100.4 port 4711']);
    assert.equal(rec.time, 1772323201123);
    assert.equal(rec.cursor, 's=1;i=2');
  });

  it('decodes byte-array messages, keeps a multi-line one as one escaped line, falls back for missing fields', () => {
    const bytes = [...Buffer.from('caf\u00e9\nFailed password for root from 198.51.100.9 port 1 ssh2\n')];
    const rec = convertRecord({ __REALTIME_TIMESTAMP: '1772323200000000', _COMM: 'sshd-session', MESSAGE: bytes });
    assert.ok(rec);
    assert.equal(rec.lines.length, 1, 'a newline in a message cannot forge a second line with a genuine header');
    assert.match(rec.lines[0] ?? '', /^2026-03-01T00:00:00\.000000\+00:00 \S+ sshd-session: caf\u00e9#012Failed password for root from 198\.51\.100\.9 port 1 ssh2$/);
    assert.equal(convertRecord({ __REALTIME_TIMESTAMP: '1', MESSAGE: null }), undefined);
    assert.equal(convertRecord({ MESSAGE: 'a\0b' }), undefined);
    assert.equal(fieldText(['first', 'second']), 'first');
    assert.equal(formatRealtime(1_000_001n), '1970-01-01T00:00:01.000001+00:00');
  });
});

describe('JournalSource', { skip }, () => {
  it('backfills a journal file, then follows entries appended by another writer', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'remote.journal');
      await writeJournal(file, [
        ...entries(1, 3),
        { message: 'from cron', micros: BASE + 10n, ident: 'CRON' },
        { message: Buffer.from([0x62, 0x69, 0x6e, 0x01, 0xc3, 0xa9, 0xff]), micros: BASE + 11n },
      ]);
      const c = new Collector(source(file, { backfill: true }));
      try {
        await c.waitLines(4);
        assert.match(c.lines[0] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 testhost sshd\[4242\]: Failed password for root from 192\.0\.2\.1 port 1001 ssh2 #1$/);
        assert.equal(c.lines.filter((l) => l.includes('CRON')).length, 0, 'the match filters other identifiers');
        assert.equal(c.lines[3]?.endsWith(': bin\u0001\u00e9\ufffd'), true, c.lines[3]);
        assert.equal(c.times[0], Number((BASE + 1_000_123n) / 1000n));
        assert.equal(c.health().state, 'following');

        await writeJournal(file, entries(4, 6));
        await c.waitLines(7, 10_000);
        assert.deepEqual(c.lines.slice(4).map((l) => l.replace(/^.*#/, '#')), ['#4', '#5', '#6']);
      } finally {
        await c.close();
      }
    });
  });

  it('starts at the end without a cursor and backfill, and resumes after the saved cursor', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'remote.journal');
      const positions = new MemoryPositionStore();
      await writeJournal(file, entries(1, 30));
      const first = new Collector(source(file, { positions }));
      try {
        await first.waitState('following');
        await sleep(300); // journalctl has printed whatever it would print for the old entries
        assert.equal(first.lines.length, 0, 'no backfill');
        await writeJournal(file, entries(31, 32));
        await first.waitLines(2, 10_000);
      } finally {
        await first.close();
      }
      assert.match(positions.loadPosition('journal:test') ?? '', /^s=[0-9a-f]+;i=/);

      // 25 entries while stopped: more than the 10 that --follow would show without --lines all.
      await writeJournal(file, entries(33, 57));
      const second = new Collector(source(file, { positions }));
      try {
        await second.waitLines(25, 10_000);
        await writeJournal(file, entries(58, 58));
        await second.waitLines(26, 10_000);
        await sleep(100);
        assert.deepEqual(second.lines.map((l) => Number(l.replace(/^.*#/, ''))), Array.from({ length: 26 }, (_, i) => 33 + i));
      } finally {
        await second.close();
      }
    });
  });

  it('reports a failing journalctl in health and restarts it with back-off', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'later.journal');
      const c = new Collector(source(file, { backfill: true }));
      try {
        await c.waitState('error');
        assert.match(c.health().error ?? '', /exited \(code 1\).*later\.journal|No such file/);
        await writeJournal(file, entries(1, 2));
        await c.waitLines(2, 10_000);
        await c.waitState('following', 3000);
        assert.equal(c.health().error, undefined);
      } finally {
        await c.close();
      }
    });
  });

  it('accepts a relative --file path (journalctl --follow would not)', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'remote.journal');
      await writeJournal(file, entries(1, 2));
      const c = new Collector(source(relative(process.cwd(), file), { backfill: true }));
      try {
        await c.waitLines(2, 10_000);
        assert.equal(c.health().state, 'following');
      } finally {
        await c.close();
      }
    });
  });

  it('reads a journal directory', async () => {
    await withTempDir(async (dir) => {
      await writeJournal(join(dir, 'remote.journal'), entries(1, 2));
      const c = new Collector(source('', { backfill: true, extraArgs: ['--directory', dir] }));
      try {
        await c.waitLines(2, 10_000);
        assert.equal(c.lines.length, 2);
      } finally {
        await c.close();
      }
    });
  });
});

describe('JournalSource without journalctl', () => {
  it('reports a missing journalctl without throwing, and stops cleanly', async () => {
    const c = new Collector(new JournalSource({
      matches: [],
      positions: new MemoryPositionStore(),
      key: 'journal:none',
      journalctlPath: '/nonexistent/journalctl',
      restartDelayMs: 50,
    }));
    try {
      await c.waitState('error');
      assert.match(c.health().error ?? '', /cannot run \/nonexistent\/journalctl: ENOENT/);
    } finally {
      await c.close();
    }
    assert.equal(c.health().state, 'stopped');
    assert.equal(c.finished, true);
  });
});

