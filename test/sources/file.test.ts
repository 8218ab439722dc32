import assert from 'node:assert/strict';
import { appendFileSync, closeSync, existsSync, copyFileSync, mkdirSync, openSync, renameSync, truncateSync, unlinkSync, writeFileSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileSource, type FileSourceOptions } from '../../src/sources/file.js';
import { parseFilePosition } from '../../src/sources/file-position.js';
import { MemoryPositionStore } from '../../src/sources/memory-positions.js';
import { Collector, sleep, withTempDir } from './helpers.js';

function numbered(from: number, to: number, prefix = 'line'): string {
  let s = '';
  for (let i = from; i <= to; i++) s += `${prefix} ${i}\n`;
  return s;
}

function range(from: number, to: number, prefix = 'line'): string[] {
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`${prefix} ${i}`);
  return out;
}

function follow(options: Partial<FileSourceOptions> & { path: string; positions?: MemoryPositionStore }): Collector {
  return new Collector(new FileSource({ positions: new MemoryPositionStore(), pollFallbackMs: 200, rotationGraceMs: 300, ...options }));
}

describe('FileSource', () => {
  it('sees appended lines within milliseconds', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'auth.log');
      writeFileSync(path, 'old 1\nold 2\n');
      const c = follow({ path, pollFallbackMs: 60_000 }); // inotify only: the poll must not be what finds them
      try {
        await c.waitState('following');
        await sleep(20);
        const t0 = Date.now();
        appendFileSync(path, 'new 1\nnew 2\n');
        await c.waitLines(2, 2000);
        const latency = Date.now() - t0;
        assert.deepEqual(c.lines, ['new 1', 'new 2']);
        assert.ok(latency < 500, `latency ${latency} ms`);
        assert.equal(c.health().state, 'following');
        assert.equal(c.health().linesRead, 2);
      } finally {
        await c.close();
      }
    });
  });

  it('starts a never-seen file at its end without backfill, at its start with it', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'a.log');
      writeFileSync(path, 'before 1\nbefore 2\nhalf');
      const tail = follow({ path });
      const all = follow({ path, backfill: true });
      try {
        await all.waitLines(2);
        await tail.waitState('following');
        appendFileSync(path, ' done\nafter\n');
        await tail.waitLines(2);
        await all.waitLines(4);
        // The incomplete last line was written before the start but finished after: it is delivered whole.
        assert.deepEqual(tail.lines, ['half done', 'after']);
        assert.deepEqual(all.lines, ['before 1', 'before 2', 'half done', 'after']);
      } finally {
        await tail.close();
        await all.close();
      }
    });
  });

  it('keeps a partial line until its newline arrives', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'p.log');
      writeFileSync(path, '');
      const c = follow({ path });
      try {
        await c.waitState('following');
        appendFileSync(path, 'first\nsec');
        await c.waitLines(1);
        await sleep(50);
        assert.deepEqual(c.lines, ['first']);
        appendFileSync(path, 'ond part');
        await sleep(50);
        assert.deepEqual(c.lines, ['first']);
        appendFileSync(path, '\nthird\n');
        await c.waitLines(3);
        assert.deepEqual(c.lines, ['first', 'second part', 'third']);
      } finally {
        await c.close();
      }
    });
  });

  it('follows rename+create rotation without losing lines written to the old file', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'auth.log');
      writeFileSync(path, '');
      const c = follow({ path });
      try {
        await c.waitState('following');
        // The "daemon" keeps its fd across the rotation, like rsyslog until it gets SIGHUP.
        const oldFd = openSync(path, 'a');
        writeSync(oldFd, numbered(1, 3, 'old'));
        await c.waitLines(3);
        writeSync(oldFd, numbered(4, 5, 'old')); // right before the rotation, not yet read
        renameSync(path, `${path}.1`);
        writeFileSync(path, ''); // logrotate's "create"
        writeSync(oldFd, 'old 6\n'); // written after the rotation, before the daemon reopens
        closeSync(oldFd);
        appendFileSync(path, numbered(1, 3, 'new'));
        await c.waitLines(9);
        assert.deepEqual(c.lines.filter((l) => l.startsWith('old')), range(1, 6, 'old'));
        assert.deepEqual(c.lines.filter((l) => l.startsWith('new')), range(1, 3, 'new'));
        assert.ok(c.lines.indexOf('old 5') < c.lines.indexOf('new 1'), 'old lines before new ones');
        await sleep(50);
        assert.equal(c.lines.length, 9, 'nothing read twice');
      } finally {
        await c.close();
      }
    });
  });

  it('flushes the incomplete last line of a rotated file once it goes quiet', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'x.log');
      writeFileSync(path, '');
      const c = follow({ path, rotationGraceMs: 100 });
      try {
        await c.waitState('following');
        appendFileSync(path, 'a\nno newline');
        await c.waitLines(1);
        renameSync(path, `${path}.1`);
        writeFileSync(path, 'b\n');
        await c.waitLines(3, 3000);
        assert.deepEqual(c.lines, ['a', 'b', 'no newline']);
      } finally {
        await c.close();
      }
    });
  });

  it('follows copytruncate rotation', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'ct.log');
      writeFileSync(path, '');
      const c = follow({ path });
      try {
        await c.waitState('following');
        const fd = openSync(path, 'a'); // O_APPEND, as a daemon's log must be for copytruncate
        writeSync(fd, numbered(1, 20, 'before'));
        await c.waitLines(20);
        copyFileSync(path, `${path}.1`);
        truncateSync(path, 0);
        writeSync(fd, 'after 1\n');
        await c.waitLines(21);
        // Truncated and at once rewritten past our old offset: only the first line shows the change.
        copyFileSync(path, `${path}.2`);
        truncateSync(path, 0);
        writeSync(fd, numbered(2, 200, 'after'));
        await c.waitLines(220);
        closeSync(fd);
        assert.deepEqual(c.lines, [...range(1, 20, 'before'), ...range(1, 200, 'after')]);
      } finally {
        await c.close();
      }
    });
  });

  it('waits for a deleted file and reads the re-created one from its start', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'd.log');
      writeFileSync(path, '');
      const c = follow({ path });
      try {
        await c.waitState('following');
        appendFileSync(path, 'one\n');
        await c.waitLines(1);
        unlinkSync(path);
        await c.waitState('waiting');
        const error = c.health().error ?? '';
        assert.match(error, /ENOENT/);
        assert.ok(error.includes(path), error);
        writeFileSync(path, 'two\nthree\n');
        await c.waitLines(3);
        assert.deepEqual(c.lines, ['one', 'two', 'three']);
        assert.equal(c.health().state, 'following');
        assert.equal(c.health().error, undefined);
      } finally {
        await c.close();
      }
    });
  });

  it('reports a missing file as waiting and picks it up when created', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'later.log');
      const c = follow({ path, pollFallbackMs: 60_000 }); // the directory watch must see the creation
      try {
        await c.waitState('waiting');
        assert.match(c.health().error ?? '', new RegExp(`${path.replace(/[.]/g, '\\.')}.*ENOENT`));
        writeFileSync(path, 'created 1\ncreated 2\n');
        await c.waitLines(2);
        assert.deepEqual(c.lines, ['created 1', 'created 2']);
        assert.equal(c.health().state, 'following');
      } finally {
        await c.close();
      }
    });
  });

  it('survives a missing directory and picks the file up when both appear', async () => {
    await withTempDir(async (dir) => {
      const sub = join(dir, 'not', 'yet');
      const path = join(sub, 'f.log');
      const c = follow({ path, pollFallbackMs: 50 });
      try {
        await c.waitState('waiting');
        assert.match(c.health().error ?? '', /ENOENT/);
        mkdirSync(sub, { recursive: true });
        writeFileSync(path, 'hello\n');
        await c.waitLines(1);
        appendFileSync(path, 'again\n');
        await c.waitLines(2);
        assert.deepEqual(c.lines, ['hello', 'again']);
      } finally {
        await c.close();
      }
    });
  });

  it('reports a path that is not a regular file as an error without throwing', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'adir');
      mkdirSync(path);
      const c = follow({ path });
      try {
        await c.waitState('error');
        assert.match(c.health().error ?? '', /not a regular file/);
      } finally {
        await c.close();
      }
    });
  });

  it('reports an unreadable file (EACCES) and reads it once permitted', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'secret.log');
      writeFileSync(path, 'x\n');
      chmodSync(path, 0o000);
      const c = follow({ path, backfill: true, pollFallbackMs: 50 });
      try {
        await c.waitState('error');
        assert.match(c.health().error ?? '', /EACCES/);
        chmodSync(path, 0o644);
        await c.waitLines(1);
        assert.deepEqual(c.lines, ['x']);
      } finally {
        await c.close();
      }
    });
  });

  it('skips lines with NUL bytes, decodes invalid UTF-8 with replacement characters', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'g.log');
      writeFileSync(path, '');
      const c = follow({ path });
      try {
        await c.waitState('following');
        appendFileSync(path, Buffer.concat([
          Buffer.from('good 1\nbad\0line\n\0\0\0\0\n'),
          Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x0a]), // "bad" + invalid UTF-8
          Buffer.from('caf\u00e9 \u2713\ngood 2\n'),
        ]));
        await c.waitLines(4);
        assert.deepEqual(c.lines, ['good 1', 'bad\ufffd\ufffd', 'caf\u00e9 \u2713', 'good 2']);
        assert.equal(c.health().linesSkipped, 2);
      } finally {
        await c.close();
      }
    });
  });

  it('truncates over-long lines instead of dropping them, even across reads', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'long.log');
      writeFileSync(path, '');
      const c = follow({ path, maxLineBytes: 100 });
      try {
        await c.waitState('following');
        appendFileSync(path, `short\n${'a'.repeat(1000)}\n`);
        await c.waitLines(2);
        // One line of 3 MiB, more than a read chunk, written in pieces.
        appendFileSync(path, 'b'.repeat(50));
        await sleep(20);
        appendFileSync(path, 'b'.repeat(3 << 20));
        await sleep(20);
        appendFileSync(path, 'b'.repeat(10) + '\nafter\n');
        await c.waitLines(4);
        assert.deepEqual(c.lines, ['short', 'a'.repeat(100), 'b'.repeat(100), 'after']);
        assert.equal(c.health().linesTruncated, 2);
        assert.equal(c.health().linesSkipped, 0);
      } finally {
        await c.close();
      }
    });
  });

  it('persists {inode, dev, offset, fingerprint} and resumes after a restart without loss or duplicates', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'r.log');
      const positions = new MemoryPositionStore();
      writeFileSync(path, numbered(1, 5));
      const first = follow({ path, positions, backfill: true });
      await first.waitLines(5);
      await first.close();
      assert.equal(first.health().state, 'stopped');
      const saved = parseFilePosition(positions.loadPosition(`file:${path}`));
      assert.ok(saved, 'position saved');
      assert.equal(saved.offset, numbered(1, 5).length);
      assert.match(saved.fingerprint, /^[0-9a-f]{40}$/);

      appendFileSync(path, numbered(6, 8)); // written while stopped
      const second = follow({ path, positions }); // backfill false: the saved position wins
      try {
        await second.waitLines(3);
        appendFileSync(path, numbered(9, 9));
        await second.waitLines(4);
        await sleep(30);
        assert.deepEqual(second.lines, range(6, 9));
      } finally {
        await second.close();
      }
    });
  });

  it('reads the rest of path.1 then the new file when rotation happened while stopped', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'rot.log');
      const positions = new MemoryPositionStore();
      writeFileSync(path, numbered(1, 3));
      const first = follow({ path, positions, backfill: true });
      await first.waitLines(3);
      await first.close();

      appendFileSync(path, numbered(4, 6)); // after the stop, before the rotation
      renameSync(path, `${path}.1`);
      writeFileSync(path, numbered(7, 9));
      const second = follow({ path, positions });
      try {
        await second.waitLines(6);
        await sleep(30);
        assert.deepEqual(second.lines, range(4, 9));
      } finally {
        await second.close();
      }
      // And a third start resumes inside the new file.
      appendFileSync(path, numbered(10, 10));
      const third = follow({ path, positions });
      try {
        await third.waitLines(1);
        await sleep(30);
        assert.deepEqual(third.lines, range(10, 10));
      } finally {
        await third.close();
      }
    });
  });

  it('reads a file rotated while stopped from its start when path.1 is not the old file', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gone.log');
      const positions = new MemoryPositionStore();
      writeFileSync(path, numbered(1, 3));
      const first = follow({ path, positions, backfill: true });
      await first.waitLines(3);
      await first.close();
      unlinkSync(path);
      writeFileSync(path, numbered(1, 2, 'fresh'));
      const second = follow({ path, positions });
      try {
        await second.waitLines(2);
        assert.deepEqual(second.lines, range(1, 2, 'fresh'));
      } finally {
        await second.close();
      }
    });
  });

  it('resumes a file that was copied over itself (other inode, same first line)', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'cp.log');
      const positions = new MemoryPositionStore();
      writeFileSync(path, numbered(1, 3));
      const first = follow({ path, positions, backfill: true });
      await first.waitLines(3);
      await first.close();
      copyFileSync(path, `${path}.tmp`);
      appendFileSync(`${path}.tmp`, numbered(4, 5));
      renameSync(`${path}.tmp`, path);
      const second = follow({ path, positions });
      try {
        await second.waitLines(2);
        await sleep(30);
        assert.deepEqual(second.lines, range(4, 5));
      } finally {
        await second.close();
      }
    });
  });

  it('stop() ends the iteration and a stopped source stays stopped', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 's.log');
      writeFileSync(path, '');
      const c = follow({ path });
      await c.waitState('following');
      await c.close();
      assert.equal(c.finished, true);
      assert.equal(c.health().state, 'stopped');
      await c.source.stop(); // idempotent
    });
  });

  it('stress: 50k numbered lines across interleaved rotations arrive exactly once, in order', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'stress.log');
      const total = 50_000;
      writeFileSync(path, '');
      // Deterministic pseudo-random choices (xorshift), so a failure can be reproduced.
      let seed = Number(process.env['STRESS_SEED'] ?? 0x9e3779b9) >>> 0 || 1;
      const rand = (n: number): number => {
        seed ^= seed << 13; seed >>>= 0;
        seed ^= seed >>> 17;
        seed ^= seed << 5; seed >>>= 0;
        return seed % n;
      };
      const c = follow({ path, pollFallbackMs: 100, rotationGraceMs: 200 });
      const deadline = Date.now() + 60_000;
      try {
        await c.waitState('following');
        let fd = openSync(path, 'a');
        let next = 1;
        let written = 0;
        let renames = 0;
        let truncations = 0;
        // The first line of the current file generation; a rename may follow only once the reader
        // has it, because a file renamed away twice before anyone opened it is lost to any tail -F.
        let generationFirst = 1;
        let lastRotation = 1;
        while (next <= total) {
          assert.ok(Date.now() < deadline, 'stress test exceeded its time budget');
          const n = Math.min(total - next + 1, 1 + rand(400));
          let chunk = '';
          for (let i = 0; i < n; i++) chunk += `L${next++} ${'x'.repeat(rand(60))}\n`;
          // Sometimes split a line across two writes.
          const cut = rand(3) === 0 ? rand(chunk.length) : chunk.length;
          writeSync(fd, chunk.slice(0, cut));
          if (cut < chunk.length) {
            await sleep(rand(3));
            writeSync(fd, chunk.slice(cut));
          }
          written = next - 1;
          // Random rotations, and at least one every 6000 lines so that every seed rotates often.
          const action = next - lastRotation > 6000 ? rand(2) : rand(40);
          if (action === 0 && c.lines.length >= generationFirst) {
            // logrotate "create": rename, create, and the writer reopens a little later.
            renameSync(path, `${path}.1`);
            writeFileSync(path, '');
            if (rand(2) === 0) writeSync(fd, `L${next++} late write to the old file\n`);
            closeSync(fd);
            fd = openSync(path, 'a');
            generationFirst = next;
            written = next - 1;
            lastRotation = next;
            renames++;
          } else if (action === 1) {
            // copytruncate loses whatever the reader has not read yet — that is logrotate's own
            // documented race — so the writer lets the reader catch up first.
            await c.waitLines(written, 10_000);
            // logrotate shifts older rotations first, so the copy is a new file.
            if (existsSync(`${path}.1`)) renameSync(`${path}.1`, `${path}.2`);
            copyFileSync(path, `${path}.1`);
            truncateSync(path, 0);
            lastRotation = next;
            truncations++;
          }
          if (rand(4) === 0) await sleep(rand(4));
          else await new Promise((r) => setImmediate(r));
        }
        closeSync(fd);
        await c.waitLines(next - 1, 20_000);
        await sleep(100);
        const got = c.lines.map((l) => Number(l.slice(1, l.indexOf(' '))));
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== i + 1) assert.fail(`line ${i}: expected L${i + 1}, got ${c.lines[i]} (renames ${renames}, truncations ${truncations})`);
        }
        assert.equal(got.length, next - 1, `renames ${renames}, truncations ${truncations}`);
        assert.ok(renames >= 3 && truncations >= 3, `rotations happened: renames ${renames}, truncations ${truncations}`);
      } finally {
        await c.close();
      }
    });
  });
});
