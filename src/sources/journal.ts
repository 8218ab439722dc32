import { spawn, type ChildProcess } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { convertRecord, type JournalRecord } from './journal-entry.js';
import type { LineBatch, LogSource, PositionStore, SourceHealth } from './source.js';
import { Wakeup } from './wake.js';

/**
 * Follows the systemd journal through `journalctl --follow --output=json`.
 *
 * Why a child process and not libsystemd bindings: journalctl is always there where the journal
 * is, understands every journal file version and compression, and keeps native code out of the
 * daemon. The price is one JSON.parse per entry, far below what sshd can log.
 *
 * Resuming: the `__CURSOR` of the last entry the consumer took is persisted, and journalctl is
 * (re)started with `--after-cursor` — after a daemon restart, and after journalctl itself died
 * (it is restarted with exponential back-off; the error is in health meanwhile). `--lines all`
 * goes with the cursor because `--follow` otherwise shows only the last 10 entries after it.
 *
 * journalctl 252 fails with `--follow` on a relative `--file` path ("Failed to get journal fd"),
 * so path arguments in extraArgs are made absolute.
 */

export interface JournalSourceOptions {
  /** journalctl matches, e.g. ['_SYSTEMD_UNIT=ssh.service'] or ['SYSLOG_IDENTIFIER=sshd']; '+' separates OR groups. */
  readonly matches: readonly string[];
  readonly positions: PositionStore;
  /** PositionStore key for the cursor, unique per journal source (e.g. 'journal:sshd'). */
  readonly key: string;
  /** Default 'journalctl' looked up on PATH. */
  readonly journalctlPath?: string;
  /** Inserted before the matches, e.g. ['--directory', DIR] or ['--file', F] (absolute paths). */
  readonly extraArgs?: readonly string[];
  /** Without a saved cursor, read the whole journal (default false: only entries from now on). */
  readonly backfill?: boolean;
  /** Soft cap on lines per batch (default 20000). */
  readonly maxBatchLines?: number;
  /** First restart delay after journalctl exits (default 1000 ms), doubled per failure up to maxRestartDelayMs. */
  readonly restartDelayMs?: number;
  /** Default 30000 ms. */
  readonly maxRestartDelayMs?: number;
}

const SAVE_INTERVAL_MS = 200;
/** Entries queued while the consumer is busy; beyond this journalctl's pipe is paused. */
const QUEUE_HIGH_WATER = 50_000;
/** A journalctl that ran this long was healthy: its exit restarts the back-off from the start. */
const HEALTHY_RUN_MS = 10_000;

const PATH_OPTIONS = new Set(['--file', '--directory', '-D', '--root']);

/** Resolves the values of journalctl's path options against the working directory. */
function absolutePaths(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const prev = i > 0 ? args[i - 1] : undefined;
    if (prev !== undefined && PATH_OPTIONS.has(prev)) return resolvePath(arg);
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0 && PATH_OPTIONS.has(arg.slice(0, eq))) return `${arg.slice(0, eq)}=${resolvePath(arg.slice(eq + 1))}`;
    return arg;
  });
}

export class JournalSource implements LogSource {
  readonly name: string;
  private readonly options: JournalSourceOptions;
  private readonly program: string;
  private readonly maxBatchLines: number;
  private readonly wake = new Wakeup();

  private state: SourceHealth['state'] = 'starting';
  private error: string | undefined;
  private linesRead = 0;
  private linesSkipped = 0;

  private child: ChildProcess | undefined;
  private childExited: Promise<void> = Promise.resolve();
  /** Parsed entries not yet handed out. */
  private queue: JournalRecord[] = [];
  private paused = false;
  /** Cursor of the last entry received from journalctl: where a restarted journalctl continues. */
  private readCursor: string | undefined;
  /** Cursor of the last entry the consumer took: what is persisted. */
  private ackedCursor: string | undefined;
  private savedCursor: string | undefined;
  private lastSaveAt = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private nextStartAt = 0;

  private started = false;
  private stopped = false;
  private atYield = false;
  private finished: Promise<void> = Promise.resolve();
  private markFinished: () => void = () => undefined;

  constructor(options: JournalSourceOptions) {
    this.options = options;
    this.name = `journal ${options.matches.join(' ') || '(all)'}`;
    this.program = options.journalctlPath ?? 'journalctl';
    this.maxBatchLines = options.maxBatchLines ?? 20_000;
  }

  health(): SourceHealth {
    const h: SourceHealth = { name: this.name, state: this.state, linesRead: this.linesRead, linesSkipped: this.linesSkipped };
    return this.error === undefined ? h : { ...h, error: this.error };
  }

  batches(): AsyncIterable<LineBatch> {
    return this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.atYield ? undefined : this.finished;
    this.stopped = true;
    this.wake.signal();
    if (!this.started) {
      this.state = 'stopped';
      return;
    }
    if (this.atYield) {
      this.flushSave();
      await this.killChild();
      this.state = 'stopped';
      return;
    }
    await this.finished;
  }

  private async *run(): AsyncGenerator<LineBatch, void, undefined> {
    if (this.started) {
      this.error = 'batches() may be iterated only once';
      return;
    }
    this.started = true;
    this.finished = new Promise<void>((resolve) => { this.markFinished = resolve; });
    try {
      this.readCursor = this.loadCursor();
      this.ackedCursor = this.readCursor;
      while (!this.stopped) {
        if (!this.child && Date.now() >= this.nextStartAt) this.startChild();
        if (this.queue.length > 0) {
          const batch = this.takeBatch();
          if (batch.lines.length === 0) {
            // Only skipped entries: nothing to hand out, but the position moves past them.
            if (batch.cursor !== undefined) this.ackedCursor = batch.cursor;
            this.maybeSave();
            continue;
          }
          this.linesRead += batch.lines.length;
          this.atYield = true;
          yield { lines: batch.lines, times: batch.times, readAt: Date.now() };
          this.atYield = false;
          if (batch.cursor !== undefined) this.ackedCursor = batch.cursor;
          this.maybeSave();
          continue;
        }
        const untilRestart = this.child ? 1000 : Math.max(0, this.nextStartAt - Date.now());
        await this.wake.wait(Math.max(1, untilRestart));
      }
    } finally {
      this.atYield = false;
      this.flushSave();
      await this.killChild();
      this.state = 'stopped';
      this.markFinished();
    }
  }

  private takeBatch(): { lines: string[]; times: number[]; cursor: string | undefined } {
    const lines: string[] = [];
    const times: number[] = [];
    let cursor: string | undefined;
    let taken = 0;
    for (const rec of this.queue) {
      if (lines.length >= this.maxBatchLines) break;
      for (const line of rec.lines) {
        lines.push(line);
        times.push(rec.time);
      }
      if (rec.cursor !== undefined) cursor = rec.cursor;
      taken++;
    }
    this.queue = taken === this.queue.length ? [] : this.queue.slice(taken);
    if (this.paused && this.queue.length < QUEUE_HIGH_WATER / 2) {
      this.paused = false;
      this.child?.stdout?.resume();
    }
    return { lines, times, cursor };
  }

  private buildArgs(): string[] {
    const o = this.options;
    // --all: without it, fields over 4096 bytes come as null and such a message would be lost.
    const args = ['--follow', '--output=json', '--no-pager', '--all'];
    if (this.readCursor !== undefined) args.push('--after-cursor', this.readCursor, '--lines', 'all');
    else args.push('--lines', o.backfill ? 'all' : '0');
    args.push(...absolutePaths(o.extraArgs ?? []));
    // '--' so that no configured match can be taken for an option.
    if (o.matches.length) args.push('--', ...o.matches);
    return args;
  }

  private startChild(): void {
    const args = this.buildArgs();
    const startedAt = Date.now();
    let stderr = '';
    let gotEntries = false;
    let spawnError: string | undefined;
    let child: ChildProcess;
    try {
      child = spawn(this.program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SYSTEMD_COLORS: '0' } });
    } catch (e) {
      this.childFailed(`cannot run ${this.program}: ${e instanceof Error ? e.message : String(e)}`, false);
      return;
    }
    this.child = child;
    let resolveExit: () => void = () => undefined;
    this.childExited = new Promise<void>((resolve) => { resolveExit = resolve; });
    if (this.state === 'starting') this.state = 'following';
    // A journalctl that fails (bad argument, unreadable journal) does so at once; one still running
    // after a second is following, and an error left from an earlier run is cleared.
    const settle = setTimeout(() => {
      if (this.child === child && !this.stopped) this.markFollowing();
    }, 1000);
    settle.unref();

    let carry = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const text = carry + chunk;
      const last = text.lastIndexOf('\n');
      if (last < 0) {
        carry = text;
        return;
      }
      carry = text.slice(last + 1);
      let added = 0;
      for (const line of text.slice(0, last).split('\n')) {
        if (line === '') continue;
        if (this.accept(line)) added++;
      }
      if (added > 0) {
        if (!gotEntries) {
          gotEntries = true;
          this.failures = 0;
        }
        if (this.state === 'error') this.markFollowing();
        if (this.queue.length >= QUEUE_HIGH_WATER && !this.paused) {
          this.paused = true;
          child.stdout?.pause();
        }
        this.wake.signal();
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = `cannot run ${this.program}: ${e.code ?? e.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(settle);
      resolveExit();
      if (this.child === child) this.child = undefined;
      this.paused = false;
      if (this.stopped) return;
      const why = spawnError ?? `${this.program} exited (${code !== null ? `code ${code}` : `signal ${signal ?? '?'}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}`;
      // A cursor journalctl cannot parse would fail every restart: drop it and continue from now.
      const badCursor = /cursor/i.test(stderr) && code !== 0;
      if (badCursor) this.readCursor = undefined;
      const healthy = Date.now() - startedAt >= HEALTHY_RUN_MS || gotEntries;
      this.childFailed(badCursor ? `${why} (saved cursor dropped)` : why, healthy);
    });
  }

  private markFollowing(): void {
    this.state = 'following';
    this.error = undefined;
  }

  private childFailed(message: string, wasHealthy: boolean): void {
    if (wasHealthy) this.failures = 0;
    const base = this.options.restartDelayMs ?? 1000;
    const max = this.options.maxRestartDelayMs ?? 30_000;
    const delay = Math.min(max, base * 2 ** this.failures);
    this.failures++;
    this.state = 'error';
    this.error = `${message}; restarting in ${delay} ms`;
    this.nextStartAt = Date.now() + delay;
    this.wake.signal();
  }

  /** Parses one JSON line into the queue; returns false when it was skipped. */
  private accept(line: string): boolean {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      this.linesSkipped++;
      return false;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      this.linesSkipped++;
      return false;
    }
    const rec = convertRecord(record as Record<string, unknown>);
    const cursor = (record as Record<string, unknown>)['__CURSOR'];
    if (typeof cursor === 'string') this.readCursor = cursor;
    if (!rec) {
      this.linesSkipped++;
      // Still advance the acknowledged position past it once the entries before it are taken.
      if (typeof cursor === 'string') this.queue.push({ lines: [], time: 0, cursor });
      return false;
    }
    this.queue.push(rec);
    return true;
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await this.childExited;
    clearTimeout(timer);
  }

  private loadCursor(): string | undefined {
    try {
      const v = this.options.positions.loadPosition(this.options.key);
      return v ? v : undefined;
    } catch {
      return undefined;
    }
  }

  private maybeSave(): void {
    const wait = this.lastSaveAt + SAVE_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.flushSave();
    } else if (!this.saveTimer) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined;
        this.flushSave();
      }, wait);
      this.saveTimer.unref();
    }
  }

  private flushSave(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.ackedCursor === undefined || this.ackedCursor === this.savedCursor) return;
    try {
      this.options.positions.savePosition(this.options.key, this.ackedCursor);
      this.savedCursor = this.ackedCursor;
      this.lastSaveAt = Date.now();
    } catch (e) {
      this.error = `cannot save the journal cursor: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}
