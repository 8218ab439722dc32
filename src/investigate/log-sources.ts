/**
 * Which authentication logs a search or report reads: the current file and its rotated
 * generations (oldest first), and the systemd journal when it is in use; plus the helpers to read
 * only what a time window needs, and a progress bar for long scans.
 */
import { existsSync, openSync, readSync, closeSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { DateParser } from '../filters/dates.js';
import { newHeader, parseHeader } from '../filters/header.js';
import { rotatedSiblings } from './files.js';

/** Debian/Ubuntu write sshd's messages to auth.log, RHEL/Fedora/SUSE to secure. */
export const DEFAULT_AUTH_LOGS = ['/var/log/auth.log', '/var/log/secure'] as const;

/**
 * journalctl matches for what auth.log holds (facilities auth and authpriv, which sshd, PAM, sudo
 * and su use) plus warden's own messages (its systemd unit), which record bans.
 */
export const JOURNAL_MATCHES = ['SYSLOG_FACILITY=4', 'SYSLOG_FACILITY=10', '+', '_SYSTEMD_UNIT=warden.service'] as const;

export interface LogFile {
  readonly path: string;
  readonly size: number;
  /** Modification time, epoch ms. */
  readonly mtime: number;
  /** The live file (not a rotated generation). */
  readonly current: boolean;
  /** The live file this one belongs to (itself for a live file). */
  readonly base: string;
  /**
   * Its inode when it was examined: readers that open it by name later check it is still the same
   * file (log rotation gives the name to a new one; see ReadOptions.ino).
   */
  readonly ino?: number;
}

export interface LogSelection {
  /** Oldest first within each log; logs in the order given. */
  readonly files: LogFile[];
  /** Named logs that could not be found or examined (with why). */
  readonly problems: string[];
}

/**
 * The generations of each log: FILE-DATE[.gz], FILE.N[.gz] (oldest first), then FILE. With
 * `explicit`, those logs (each with its rotated generations unless `rotated` is false); without,
 * whichever of the default logs exist. A named log that is missing is a problem; a default one is
 * simply not there on this distribution.
 */
export function selectLogs(explicit: readonly string[] | undefined, rotated = true): LogSelection {
  const named = explicit !== undefined && explicit.length > 0;
  const bases = named ? explicit : DEFAULT_AUTH_LOGS;
  const files: LogFile[] = [];
  const problems: string[] = [];
  for (const base of bases) {
    const generations = rotated ? rotatedSiblings(base) : [];
    const live = stat(base);
    if (!live.ok && named) problems.push(`${base}: ${live.why}`);
    if (!live.ok && !generations.length) continue;
    for (const path of generations) {
      const s = stat(path);
      if (s.ok) files.push({ path, size: s.size, mtime: s.mtime, current: false, base, ino: s.ino });
      else problems.push(`${path}: ${s.why}`);
    }
    if (live.ok) files.push({ path: base, size: live.size, mtime: live.mtime, current: true, base, ino: live.ino });
  }
  return { files, problems };
}

function stat(path: string): { ok: true; size: number; mtime: number; ino: number } | { ok: false; why: string } {
  try {
    const s = statSync(path);
    if (!s.isFile()) return { ok: false, why: 'is not a regular file' };
    return { ok: true, size: s.size, mtime: s.mtimeMs, ino: s.ino };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, why: err.code === 'ENOENT' ? 'does not exist' : err.code === 'EACCES' ? 'permission denied (run as root?)' : err.message };
  }
}

/**
 * True when this machine keeps a journal: journald's socket exists, or journal files lie in the
 * persistent or volatile journal directory.
 */
export function journalInUse(): boolean {
  if (existsSync('/run/systemd/journal/socket')) return true;
  for (const dir of ['/var/log/journal', '/run/log/journal']) {
    let machines: string[];
    try {
      machines = readdirSync(dir);
    } catch {
      continue;
    }
    for (const m of machines) {
      try {
        if (readdirSync(join(dir, m)).some((f) => f.endsWith('.journal') || f.endsWith('.journal~'))) return true;
      } catch {
        // not a directory
      }
    }
  }
  return false;
}

/** journalctl arguments for the auth entries (and warden's), optionally since a time (epoch ms). */
export function journalArgs(options: { file?: string; since?: number }): string[] {
  const args: string[] = [];
  if (options.file !== undefined) args.push('--file', options.file);
  if (options.since !== undefined) args.push('--since', `@${Math.floor(options.since / 1000)}`);
  args.push('--', ...JOURNAL_MATCHES);
  return args;
}

/**
 * The byte offset of a line at or shortly before the first line dated `since` or later, in a plain
 * log whose lines are in time order (what syslog daemons write): found by bisection, reading a few
 * kilobytes per step, so a week-long log is not read to report on its last day. Lines are never
 * missed: a step whose lines carry no readable date moves the search earlier. Returns 0 when the
 * file starts inside the window.
 */
export function offsetForTime(path: string, since: number, dates: DateParser, size?: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    const total = size ?? statSync(path).size;
    const block = Buffer.allocUnsafe(16 * 1024);
    const header = newHeader();
    /** Time of the first complete line starting after `at`, with its offset; NaN when unknown. */
    const probe = (at: number): { time: number; offset: number } => {
      const n = readSync(fd, block, 0, block.length, at);
      const text = block.toString('latin1', 0, n);
      let start = at === 0 ? 0 : text.indexOf('\n') + 1;
      if (at !== 0 && start === 0) return { time: NaN, offset: at };
      // A few lines in case the first is not a syslog line (a continuation, binary junk).
      for (let i = 0; i < 8 && start < text.length; i++) {
        const end = text.indexOf('\n', start);
        if (end < 0) break;
        if (parseHeader(text.slice(start, end), dates, header) && !Number.isNaN(header.time)) return { time: header.time, offset: at + start };
        start = end + 1;
      }
      return { time: NaN, offset: at };
    };
    const first = probe(0);
    if (Number.isNaN(first.time) || first.time >= since) return 0;
    let lo = 0; // a line before `since` starts at or after lo
    let hi = total;
    while (hi - lo > 64 * 1024) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const p = probe(mid);
      if (Number.isNaN(p.time) || p.time >= since) hi = mid;
      else lo = p.offset;
    }
    // Back off a little: lines of several writers are not strictly ordered.
    const from = Math.max(0, lo - 64 * 1024);
    if (from === 0) return 0;
    const n = readSync(fd, block, 0, block.length, from);
    const nl = block.subarray(0, n).indexOf(0x0a);
    return nl < 0 ? 0 : from + nl + 1;
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (so scripts and pipes
 * see nothing of it), at most ten times a second, and erased when done.
 */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private label = '';
  private readonly active: boolean;

  constructor(private readonly total: number, private readonly what: string, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.active = stream.isTTY === true && total > 0;
  }

  setLabel(label: string): void {
    this.label = label;
    this.draw(false);
  }

  add(n: number): void {
    this.done += n;
    this.draw(false);
  }

  finish(): void {
    if (this.active && this.lastDraw > 0) this.stream.write('\r\x1b[K');
  }

  private draw(force: boolean): void {
    if (!this.active) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const frac = Math.min(1, this.done / this.total);
    const width = 24;
    const filled = Math.round(frac * width);
    const mb = (b: number): string => (b / 1048576).toFixed(b < 10 * 1048576 ? 1 : 0);
    const label = this.label.length > 40 ? `…${this.label.slice(-39)}` : this.label;
    this.stream.write(`\r\x1b[K${this.what} ${String(Math.floor(frac * 100)).padStart(3)}% [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${mb(this.done)}/${mb(this.total)} MB ${label.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')}`);
  }
}

/**
 * Threads worth using for a scan: the cores not already busy, at least one. Extra threads only
 * pay off on an idle core; on a machine already loaded they add start-up and contention and the
 * scan gets slower.
 *
 * Busy means runnable right now: /proc/stat's procs_running, less this process's own runnable
 * threads (this one, and V8's helpers compiling our modules at start-up, which counted as a busy
 * core and made one command in eight on an idle machine read alone). Not the load average: it also
 * counts tasks in uninterruptible sleep (a kernel thread waiting on I/O, a hung NFS mount), which
 * use no CPU — on some virtual machines that alone keeps it at 1.0 on an idle system — and it lags
 * a minute behind. Without /proc/stat, the load average it is.
 */
export function idleCores(): number {
  const cores = availableParallelism();
  const running = runnableTasks();
  const busy = running === undefined ? loadavg()[0] ?? 0 : Math.max(0, running - runnableThreads());
  return Math.max(1, Math.min(cores, Math.round(cores - busy)));
}

/**
 * Threads of this process runnable now (state R in /proc/self/task/TID/stat), at least 1: the
 * caller. The state follows the command name, which may hold spaces and parentheses: it is read
 * after the last ')'.
 */
export function runnableThreads(taskDir = '/proc/self/task'): number {
  let n = 0;
  let tids: string[];
  try {
    tids = readdirSync(taskDir);
  } catch {
    return 1;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(join(taskDir, tid, 'stat'), 'latin1');
      if (stat.charCodeAt(stat.lastIndexOf(')') + 2) === 82 /* R */) n++;
    } catch {
      // the thread has ended
    }
  }
  return Math.max(1, n);
}

/** procs_running from /proc/stat (tasks runnable now, the reader included), or undefined. */
export function runnableTasks(stat = '/proc/stat'): number | undefined {
  try {
    const m = /^procs_running (\d+)$/m.exec(readFileSync(stat, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a log is gzip-compressed, and about how many bytes of text it holds: its size, or for a
 * gzip file the uncompressed size its trailer records (ISIZE, the last 4 bytes: exact below 4 GiB
 * for a single-member file). When the trailer cannot be read or is implausible (smaller than the
 * file: a multi-member or truncated file), 8 times the compressed size. One open for both. For
 * scheduling work, not for reading.
 */
export function textSizeOf(path: string, size: number): { readonly compressed: boolean; readonly text: number } {
  try {
    const fd = openSync(path, 'r');
    try {
      if (!startsWithGzipMagic(fd)) return { compressed: false, text: size };
      const b = Buffer.alloc(4);
      if (size >= 18 && readSync(fd, b, 0, 4, size - 4) === 4) {
        const isize = b.readUInt32LE(0);
        if (isize >= size) return { compressed: true, text: isize };
      }
      return { compressed: true, text: size * 8 };
    } finally {
      closeSync(fd);
    }
  } catch {
    // Unreadable here: the reader will say why.
    return { compressed: false, text: size };
  }
}

/** The file starts with gzip's magic bytes (compression is told by content, not by name). */
export function isGzip(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      return startsWithGzipMagic(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** The open file's first two bytes are gzip's magic (0x1f 0x8b). */
function startsWithGzipMagic(fd: number): boolean {
  const b = Buffer.alloc(2);
  return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
}
