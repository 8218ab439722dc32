/**
 * One pass over the authentication logs of a time window (the last day, for `warden report`):
 * failures per address and successful logins as the sshd filter sees them in aggressive mode,
 * and every line's time for the gap heuristic (log-gaps.ts).
 *
 * Built for a busy server's day (a million lines in well under a second): plain files are entered
 * by bisection at the window's start (offsetForTime), rotated files last written before the
 * window are not opened, and per line only a few bytes are looked at — the date (decoded once
 * per minute of log), the program and the first bytes of the message (FilterPrefilter). Only the
 * lines the filter may act on are decoded and matched. A large window is shared by worker threads
 * (auth-window-worker.ts): a thread that runs dry takes half of what another still has to read,
 * cut at a line start (runPieces), and the parts are merged in order. A part first re-reads the
 * 256 KiB before it without counting, so that the filter's per-process marks
 * ("kex_exchange_identification" before "Connection closed by ADDR") and the typo check (a
 * user's failures just before a login) cross the cut.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { DateParser } from '../filters/dates.js';
import type { FilterDefinition } from '../filters/definition.js';
import { CompiledFilter } from '../filters/engine.js';
import { FilterPrefilter, NOT_OURS } from './filter-prefilter.js';
import { GapTracker, mergeGaps, type GapState } from './log-gaps.js';
import { LineDecoder } from './line-decoder.js';
import { LineScanner, readJournal, readLogFile, type ReadRange } from './log-lines.js';
import { idleCores, isGzip, offsetForTime, textSizeOf, type LogFile } from './log-sources.js';
import type { Address } from '../util/ip.js';

export interface AttackerStat {
  readonly address: string;
  failures: number;
  /** Epoch ms of the first and last failure in the window. */
  first: number;
  last: number;
  /** Users tried, with counts (bounded: the first 50 distinct names). */
  readonly users: Map<string, number>;
  /** Failures that look like typos: the same user, shortly before a successful login (see TYPO_MS). */
  typos: number;
  /** The last TYPOS_PER_LOGIN failures (times and users, oldest first), to recognise typos. */
  readonly recentTimes: number[];
  readonly recentUsers: string[];
}

export interface LoginEvent {
  /** Epoch ms. */
  readonly time: number;
  readonly address: string;
  readonly user: string;
  readonly method: string;
  readonly file: string;
  /**
   * Failures from this address before this login that do not look like typos (after merging: in
   * the whole window; within a piece: in the piece).
   */
  otherFailures: number;
  /** Failures from this address before this login in the window, typos included. */
  failuresBefore: number;
}

export interface ScannedSource {
  readonly path: string;
  readonly compressed: boolean;
  /** Bytes read (compressed size for gzip). */
  readonly bytes: number;
  /** Where reading started (bisection to the window's start), 0 for the whole file. */
  readonly offset: number;
  readonly lines: number;
  /** Rotated before the window began: not read. */
  readonly skipped: boolean;
  readonly problem?: string;
}

export interface WindowScan {
  readonly attackers: Map<string, AttackerStat>;
  /** Failures in the window (sum over addresses). */
  readonly failures: number;
  /** Successful logins in the window, in log order. */
  readonly logins: LoginEvent[];
  readonly sources: ScannedSource[];
  /** The lines' times, for gapFindings(). */
  readonly gaps: GapState;
  /** The last source read was a live log (so "no line since" can be judged). */
  readonly endedLive: boolean;
  /** Worker threads used besides this one. */
  readonly workers: number;
  /** Pieces read: one per file (and the journal), plus one per split between threads. */
  readonly pieces: number;
}

/** What a piece needs to know; plain data, so it can be handed to a worker thread. */
export interface WindowParams {
  /** Epoch ms. */
  readonly since: number;
  readonly now: number;
  /** Zone for dates without one: 'local' (default), 'UTC' or '+02:00'. */
  readonly timezone?: string;
  /** The sshd filter definition (loadFilter('sshd')): no YAML parser needed where it runs. */
  readonly filter: FilterDefinition;
  readonly journalctl?: string;
}

export interface WindowOptions extends WindowParams {
  readonly files: readonly LogFile[];
  /** journalctl arguments (without -o) when the journal is read instead of, or besides, files. */
  readonly journal?: readonly string[];
  /**
   * Threads reading (this one included): 'auto' (default) is one per idle core (idleCores) when the
   * window holds MIN_PARALLEL_BYTES; 1 reads everything in this thread.
   */
  readonly workers?: 'auto' | number;
  /** Smallest rest of a piece handed to an idle thread (MIN_SPLIT_BYTES; tests make it small). */
  readonly minSplitBytes?: number;
}

/** A consecutive part of one file (or the journal), read as one job. */
export interface Piece {
  readonly path: string;
  readonly kind: 'file' | 'journal';
  /**
   * Byte offsets at line starts: warm-up from `warmup`, count from `start` to `end` (Infinity for
   * a gzip file, read whole, and for the journal).
   */
  readonly warmup: number;
  readonly start: number;
  readonly end: number;
  /** journalctl arguments for the journal piece. */
  readonly args?: readonly string[];
  /** The file's inode when it was selected (LogFile.ino): a piece is only read from that file. */
  readonly ino?: number;
  /**
   * For a piece that starts at the beginning of its file: the end of the file rotated before it
   * (a plain one), read as warm-up first — its last lines came just before this file's first.
   */
  readonly previousTail?: FileRange;
}

/** Whole lines of a file: bytes [start, end), from the file with inode `ino` when given. */
export interface FileRange {
  readonly path: string;
  readonly start: number;
  readonly end: number;
  readonly ino?: number;
}

export interface PieceResult {
  readonly attackers: Map<string, AttackerStat>;
  readonly failures: number;
  readonly logins: LoginEvent[];
  /**
   * Per login: how many of its typos were failures before this piece (read in warm-up, counted
   * by the piece before): merging moves them from that piece's failures to its typos.
   */
  readonly typosBefore: number[];
  readonly gaps: GapState;
  readonly lines: number;
  readonly bytes: number;
  readonly compressed: boolean;
  readonly problem?: string;
}

/**
 * Below this much to read in the window, worker threads cost more than they save (a worker takes
 * ~0.1 s to load its modules; 1,000,000 lines of auth.log are ~100 MB).
 */
export const MIN_PARALLEL_BYTES = 32 * 1024 * 1024;
const WARMUP_BYTES = 256 * 1024;

const MAX_USERS_PER_ADDRESS = 50;
/** A failure of the same user from the same address this shortly before a login is taken as a typo. */
export const TYPO_MS = 120_000;
/** At most this many failures before one login are taken as typos. */
const TYPOS_PER_LOGIN = 3;

/**
 * A line's time to the minute, from its first bytes: the date is decoded only when its minute
 * changes (syslog "Mmm dd hh:mm", ISO "YYYY-MM-DDThh:mm" plus the zone). NaN when there is none.
 */
export class LineClock {
  private readonly key = Buffer.alloc(32);
  private keyLength = 0;
  private value = NaN;

  constructor(private readonly dates: DateParser) {}

  timeOf(buf: Buffer, start: number, end: number): number {
    const c0 = buf[start] ?? 0;
    if (c0 >= 65 && c0 <= 90) {
      // "Mar  1 00:00:01 ": the first 12 bytes name the minute.
      if (end - start < 16) return NaN;
      if (this.same(buf, start, 12, -1, 0)) return this.value;
      this.remember(buf, start, 12, -1, 0);
      const t = this.dates.syslog(buf.toString('latin1', start, start + 15));
      this.value = Number.isNaN(t) ? NaN : t - (t % 60_000);
      return this.value;
    }
    if (c0 >= 48 && c0 <= 57) {
      let sp = buf.indexOf(32, start);
      if (sp === start + 10) sp = buf.indexOf(32, start + 11);
      if (sp < 0 || sp > end || sp - start < 16) return NaN;
      // "2026-03-01T00:00:01.123456+00:00": the minute is the first 16 bytes, the zone the last 6.
      const zone = Math.max(start + 16, sp - 6);
      if (this.same(buf, start, 16, zone, sp - zone)) return this.value;
      this.remember(buf, start, 16, zone, sp - zone);
      const t = this.dates.iso(buf.toString('latin1', start, sp));
      this.value = Number.isNaN(t) ? NaN : t - (t % 60_000);
      return this.value;
    }
    return NaN;
  }

  /**
   * The exact time of the classic syslog line at buf[start] whose minute timeOf() just read: that
   * minute plus the line's seconds (the date is not parsed again). NaN for any other date, or when
   * the seconds are not two digits up to 60 (as DateParser.syslogAt would refuse them).
   */
  syslogTimeOf(buf: Buffer, start: number): number {
    const c0 = buf[start] ?? 0;
    if (c0 < 65 || c0 > 90 || buf[start + 12] !== 58 || Number.isNaN(this.value)) return NaN;
    const s1 = (buf[start + 13] ?? 0) - 48, s2 = (buf[start + 14] ?? 0) - 48;
    if (s1 < 0 || s1 > 6 || s2 < 0 || s2 > 9 || s1 * 10 + s2 > 60) return NaN;
    return this.value + (s1 * 10 + s2) * 1000;
  }

  private same(buf: Buffer, a: number, n: number, z: number, zn: number): boolean {
    if (this.keyLength !== n + zn) return false;
    const key = this.key;
    for (let i = n - 1; i >= 0; i--) if (key[i] !== buf[a + i]) return false;
    for (let i = 0; i < zn; i++) if (key[n + i] !== buf[z + i]) return false;
    return true;
  }

  private remember(buf: Buffer, a: number, n: number, z: number, zn: number): void {
    buf.copy(this.key, 0, a, a + n);
    if (zn > 0) buf.copy(this.key, n, z, z + zn);
    this.keyLength = n + zn;
  }
}

const SSHD_STOP = Buffer.from('Received signal ');
const SSHD_START = Buffer.from('Server listening on ');

function startsWithBytes(buf: Buffer, at: number, end: number, p: Buffer): boolean {
  if (at + p.length > end) return false;
  for (let i = 0; i < p.length; i++) if (buf[at + i] !== p[i]) return false;
  return true;
}

export function datesFor(params: WindowParams): DateParser {
  return new DateParser({ now: () => params.now, ...(params.timezone !== undefined ? { timezone: params.timezone } : {}) });
}

/**
 * Reads one piece in this thread. With `range` (a plain file's piece: position = piece.start,
 * end = piece.end), reading follows the range, whose end another thread may move earlier while
 * this one reads (see runPieces).
 */
export async function scanPiece(piece: Piece, params: WindowParams, range?: ReadRange): Promise<PieceResult> {
  const { since, now } = params;
  const dates = datesFor(params);
  const filter = new CompiledFilter(params.filter, { mode: 'aggressive', dates });
  const prefilter = new FilterPrefilter(params.filter, 'aggressive');
  const clock = new LineClock(dates);
  const gaps = new GapTracker();
  const attackers = new Map<string, AttackerStat>();
  // The same Address object comes back for an address canonicalAddress has seen lately: looking
  // it up by identity skips hashing the freshly cut address text on nearly every failure.
  const byAddress = new Map<Address, AttackerStat>();
  const attackerOf = (address: Address): AttackerStat | undefined => {
    let a = byAddress.get(address);
    if (a === undefined) {
      a = attackers.get(address.text);
      if (a !== undefined) byAddress.set(address, a);
    }
    return a;
  };
  const logins: LoginEvent[] = [];
  let failures = 0;
  // Minute resolution: a line of the window's first minute may be dated a little before it.
  const earliest = since - 60_000;
  const file = piece.path;

  // Warm-up: the lines just before the piece (another piece counts them) set the filter's marks,
  // and each address's last failures there, so that a login early in this piece recognises
  // typos made just before the cut as a single reader would (the earlier piece cannot: it never
  // sees the login). Indexed like the attackers' recentTimes/recentUsers.
  const before = new Map<string, { times: number[]; users: string[] }>();
  const warm = (buf: Buffer, start: number, end: number): void => {
    const msg = prefilter.locate(buf, start, end);
    if (msg === NOT_OURS || (msg >= 0 && !prefilter.bytesMayAct(buf, msg, end))) return;
    if (filter.match(warmDecoder.line(buf, start, end), now) !== 'detected') return;
    const d = filter.last!;
    if (d.time < since) return;
    const key = d.address.text;
    if (d.action === 'success' || d.count !== 1) {
      before.delete(key);
      return;
    }
    let b = before.get(key);
    if (!b) before.set(key, (b = { times: [], users: [] }));
    rememberFailure(b.times, b.users, d.time, warmDecoder.keep(d.user ?? ''));
  };
  /** Per login (as `logins`): its typos among the failures before this piece (see PieceResult). */
  const typosBefore: number[] = [];

  const count = (buf: Buffer, start: number, end: number): void => {
    const minute = clock.timeOf(buf, start, end);
    if (minute < earliest) return;
    gaps.line(minute, file);
    const msg = prefilter.locate(buf, start, end);
    if (msg === NOT_OURS) return;
    if (msg >= 0) {
      const c = buf[msg];
      if (c === 82 && startsWithBytes(buf, msg, end, SSHD_STOP)) gaps.sshd('stop');
      else if (c === 83 && startsWithBytes(buf, msg, end, SSHD_START)) gaps.sshd('start');
      if (!prefilter.bytesMayAct(buf, msg, end)) return;
    }
    const line = decoder.line(buf, start, end);
    // The header is known from the bytes when the prefilter found our program in a classic syslog
    // line and each byte is one character (so its offsets hold in the string): skip re-parsing it.
    // (An ISO date or one that does not parse gives NaN: match() decides those.)
    const time = msg >= 0 && line.length === end - start ? clock.syslogTimeOf(buf, start) : NaN;
    const outcome = Number.isNaN(time) ? filter.match(line, now) : filter.matchLocated(line, msg - start, time);
    if (outcome !== 'detected') return;
    const d = filter.last!;
    if (d.time < since) return;
    if (d.action === 'success') {
      const user = decoder.keep(d.user ?? '');
      const a = attackerOf(d.address);
      // Up to TYPOS_PER_LOGIN failures of this user just before: typos, not guessing. The last
      // ones are this piece's, then (when there are fewer) those before the piece.
      const walk = { seen: 0, recent: true };
      if (a) {
        a.typos += typosAmong(a.recentTimes, a.recentUsers, d.time, user, walk);
        a.recentTimes.length = 0;
        a.recentUsers.length = 0;
      }
      const b = before.size > 0 ? before.get(d.address.text) : undefined;
      let nBefore = 0;
      if (b) {
        nBefore = typosAmong(b.times, b.users, d.time, user, walk);
        before.delete(d.address.text);
      }
      typosBefore.push(nBefore);
      logins.push({
        time: d.time, address: d.address.text, user, method: decoder.keep(d.method ?? ''), file,
        otherFailures: a ? a.failures - a.typos : 0, failuresBefore: a ? a.failures : 0,
      });
      return;
    }
    failures += d.count;
    let a = attackerOf(d.address);
    if (!a) {
      a = { address: d.address.text, failures: 0, first: d.time, last: d.time, users: new Map(), typos: 0, recentTimes: [], recentUsers: [] };
      attackers.set(d.address.text, a);
      byAddress.set(d.address, a);
    }
    // The user of this address's previous failure, as stored: an address often fails twice in a row
    // for one user ("Invalid user x", "Failed password for invalid user x"), and looking the count
    // up with the stored string (hash known, same object) is cheaper than with the fresh one.
    const previous = a.recentUsers.length > 0 ? a.recentUsers[a.recentUsers.length - 1] : undefined;
    const u = d.user === undefined ? undefined : d.user === previous ? previous : decoder.keep(d.user);
    if (d.count === 1) {
      rememberFailure(a.recentTimes, a.recentUsers, d.time, u ?? '');
    } else {
      a.recentTimes.length = 0;
      a.recentUsers.length = 0;
      if (before.size > 0) before.delete(d.address.text);
    }
    a.failures += d.count;
    if (d.time < a.first) a.first = d.time;
    if (d.time > a.last) a.last = d.time;
    if (u !== undefined) {
      const n = a.users.get(u);
      if (n !== undefined) a.users.set(u, n + d.count);
      else if (a.users.size < MAX_USERS_PER_ADDRESS) a.users.set(u, d.count);
    }
  };

  const scanner = new LineScanner(null, count);
  const decoder = new LineDecoder(scanner);
  const warmScanner = new LineScanner(null, warm);
  const warmDecoder = new LineDecoder(warmScanner);
  let bytes = 0;
  let compressed = false;
  let problem: string | undefined;
  if (piece.kind === 'journal') {
    const out = await readJournal(piece.args ?? [], scanner, params.journalctl !== undefined ? { journalctl: params.journalctl } : {});
    bytes = out.bytesRead;
    problem = out.problem;
  } else {
    const ino = piece.ino !== undefined ? { ino: piece.ino } : {};
    const tail = piece.previousTail;
    // Warm-up only: a tail that cannot be read (rotated away meanwhile) just leaves it colder.
    if (tail) await readLogFile(tail.path, warmScanner, { offset: tail.start, end: tail.end, ...(tail.ino !== undefined ? { ino: tail.ino } : {}) });
    if (piece.warmup < piece.start) await readLogFile(piece.path, warmScanner, { offset: piece.warmup, end: piece.start, ...ino });
    const out = await readLogFile(piece.path, scanner, { ...(range ? { range } : { offset: piece.start, end: piece.end }), ...ino });
    bytes = out.bytesRead;
    compressed = out.compressed;
    problem = out.problem;
  }
  return { attackers, failures, logins, typosBefore, gaps: gaps.state, lines: scanner.lines, bytes, compressed, ...(problem ? { problem } : {}) };
}

/** Keeps a failure among an address's last TYPOS_PER_LOGIN (times and users, oldest first). */
function rememberFailure(times: number[], users: string[], time: number, user: string): void {
  if (times.length === TYPOS_PER_LOGIN) {
    times.shift();
    users.shift();
  }
  times.push(time);
  users.push(user);
}

/**
 * A login's typos among remembered failures (newest first): failures of `user` until one is more
 * than TYPO_MS before `time`, TYPOS_PER_LOGIN at most in all. `walk` carries on from one list to
 * an older one (this piece's failures, then those before it).
 */
function typosAmong(times: readonly number[], users: readonly string[], time: number, user: string, walk: { seen: number; recent: boolean }): number {
  let n = 0;
  for (let i = times.length - 1; i >= 0 && walk.recent && walk.seen < TYPOS_PER_LOGIN; i--, walk.seen++) {
    if (time - times[i]! > TYPO_MS) walk.recent = false;
    else if (users[i] === user) n++;
  }
  return n;
}

/** The first line start at or after `at` (within 64 KiB), or -1. */
function lineStartAfter(path: string, at: number): number {
  try {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(64 * 1024);
      const n = readSync(fd, b, 0, b.length, at - 1);
      const nl = b.subarray(0, n).indexOf(0x0a);
      return nl < 0 ? -1 : at + nl;
    } finally {
      closeSync(fd);
    }
  } catch {
    return -1;
  }
}

/**
 * The pieces to read, one per file (oldest first): rotated files older than the window are
 * skipped, plain files entered at the window's start (threads then share them out while reading,
 * see runPieces). A file read from its beginning warms up with the end of the plain file before
 * it, so that a login just after a rotation sees the typos and marks just before it, as it would
 * in one file. (A gzip file's end would cost inflating it whole: not done.)
 */
export function planPieces(files: readonly LogFile[], params: WindowParams): { pieces: Piece[]; skipped: LogFile[] } {
  const dates = datesFor(params);
  const skipped: LogFile[] = [];
  const pieces: Piece[] = [];
  /** The plain file read just before, if any. */
  let previous: LogFile | undefined;
  for (const file of files) {
    if (!file.current && file.mtime < params.since) {
      skipped.push(file);
      previous = undefined;
      continue;
    }
    const gz = isGzip(file.path);
    const start = gz ? 0 : offsetForTime(file.path, params.since, dates, file.size);
    const previousTail = start === 0 && previous ? tailOf(previous) : undefined;
    pieces.push({
      path: file.path, kind: 'file', warmup: start, start, end: gz ? Infinity : file.size,
      ...(file.ino !== undefined ? { ino: file.ino } : {}),
      ...(previousTail ? { previousTail } : {}),
    });
    previous = gz ? undefined : file;
  }
  return { pieces, skipped };
}

/** The last lines of a plain file (up to WARMUP_BYTES), or undefined when it holds none. */
function tailOf(file: LogFile): FileRange | undefined {
  const start = warmupStart(file.path, 0, file.size);
  return start < file.size ? { path: file.path, start, end: file.size, ...(file.ino !== undefined ? { ino: file.ino } : {}) } : undefined;
}

/** Messages from a window worker. */
export type WindowWorkerMessage =
  /** Modules loaded: send a piece. */
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly result: PieceResult }
  | { readonly type: 'failed'; readonly error: string }
  /** The answer to a split request: the part of its piece the worker gave up, or null. */
  | { readonly type: 'split'; readonly tail: Piece | null };

/** What a window worker is started with. */
export type WindowWorkerData = WindowParams & { readonly minSplitBytes: number };

/** Messages to a window worker. */
export type WindowWorkerRequest =
  | { readonly type: 'piece'; readonly piece: Piece }
  /** Give up the second half of what is left of the current piece (answered with 'split'). */
  | { readonly type: 'split' };

/** Less than this left to read of a piece is not worth handing to another thread (~30 ms here). */
export const MIN_SPLIT_BYTES = 4 * 1024 * 1024;

/**
 * A range of a plain file can be cut while it is read; a gzip file or the journal cannot (their
 * pieces have no end: planPieces).
 */
export function splittable(piece: Piece): boolean {
  return piece.kind === 'file' && Number.isFinite(piece.end);
}

/** The range a reader of `piece` follows when another thread may cut it short (splitRest). */
export function rangeToRead(piece: Piece): ReadRange | undefined {
  return splittable(piece) ? { position: piece.start, end: piece.end } : undefined;
}

/**
 * Cuts what is left of a piece being read in two at a line start: the reader keeps the first half
 * (range.end moves to the cut) and the second half is returned as a piece of its own, with the
 * lines before it as warm-up. Null when less than `minBytes` is left.
 */
export function splitRest(piece: Piece, range: ReadRange, minBytes = MIN_SPLIT_BYTES): Piece | null {
  if (range.end - range.position < Math.max(2, minBytes)) return null;
  const cut = lineStartAfter(piece.path, range.position + Math.floor((range.end - range.position) / 2));
  if (cut <= range.position || cut >= range.end) return null;
  // The tail warms up with the lines before the cut, in this file: not with the previous file's end.
  const { previousTail: _previous, ...rest } = piece;
  const tail: Piece = { ...rest, warmup: warmupStart(piece.path, piece.warmup, cut), start: cut, end: range.end };
  range.end = cut;
  return tail;
}

/** Where the warm-up of a piece starting at `start` begins: WARMUP_BYTES before, at a line start, not before `lowest`. */
function warmupStart(path: string, lowest: number, start: number): number {
  if (start <= lowest) return start;
  if (start - WARMUP_BYTES <= lowest) return lowest; // a line start already
  const at = lineStartAfter(path, Math.max(lowest + 1, start - WARMUP_BYTES));
  return at < 0 || at > start ? start : Math.max(lowest, at);
}

/** A piece to read and, once read, what it held. Splitting a piece makes a new job after it. */
interface Job {
  piece: Piece;
  result?: PieceResult;
}

/** A worker thread and the job it is reading. */
interface WorkerSlot {
  readonly worker: Worker;
  job?: Job;
  /** Waiting for the answer to a split request. */
  onSplit?: (tail: Piece | null) => void;
}

/**
 * Reads the pieces with `threads` threads: this one and threads - 1 workers. A thread with nothing
 * to read takes the next piece from the queue; when the queue is empty, it takes the second half
 * of what another thread still has to read of its piece (a plain file's range, cut at a line
 * start; see splitRest), as long as that is at least `minSplitBytes`.
 *
 * Why on demand rather than planned: a worker is ready only after loading its modules (0.1-0.25 s
 * here), and while two threads scan, each runs slower than one alone, by an amount that varies
 * from minute to minute on this machine. Any fixed split left one thread waiting for the other
 * (1,000,000 lines in two equal halves: hardly faster than one thread); halving whatever is left
 * whenever a thread runs dry ends them at about the same time.
 *
 * Returns the jobs in reading order (a split piece's parts in file order, as merging needs).
 */
async function runPieces(pieces: readonly Piece[], params: WindowParams, threads: number, minSplitBytes = MIN_SPLIT_BYTES): Promise<Job[]> {
  const jobs: Job[] = pieces.map((piece) => ({ piece }));
  const queue = [...jobs];
  const slots: WorkerSlot[] = [];
  /** The job whose piece a tail was cut from (by containment: whoever cut it, whenever the answer came). */
  const ownerOf = (tail: Piece): Job => {
    const owner = jobs.find((j) => j.piece.path === tail.path && j.piece.start < tail.start && tail.start < j.piece.end);
    if (!owner) throw new Error(`window scan: no piece of ${tail.path} holds offset ${tail.start}`);
    return owner;
  };
  /** The piece `tail` was split off `from`'s: a new job right after it; `from` now ends where it starts. */
  const addTail = (from: Job, tail: Piece): Job => {
    from.piece = { ...from.piece, end: tail.start };
    const job: Job = { piece: tail };
    jobs.splice(jobs.indexOf(from) + 1, 0, job);
    return job;
  };
  // This thread's job while it reads a splittable piece, and the range its reader follows.
  let mine: { job: Job; range: ReadRange } | undefined;

  /** For this thread, once the queue is empty: half of a busy worker's rest, if one can spare it. */
  const takeFromWorker = async (): Promise<Job | undefined> => {
    for (const slot of slots) {
      const job = slot.job;
      if (!job || slot.onSplit || !splittable(job.piece)) continue;
      const tail = await new Promise<Piece | null>((resolve) => {
        slot.onSplit = resolve;
        slot.worker.postMessage({ type: 'split' } satisfies WindowWorkerRequest);
      });
      if (tail) return addTail(ownerOf(tail), tail);
    }
    return undefined;
  };

  const here = async (): Promise<void> => {
    for (let job = queue.shift() ?? await takeFromWorker(); job; job = queue.shift() ?? await takeFromWorker()) {
      const range = rangeToRead(job.piece);
      mine = range ? { job, range } : undefined;
      job.result = await scanPiece(job.piece, params, range);
      mine = undefined;
    }
  };

  const url = new URL('./auth-window-worker.js', import.meta.url);
  const startWorker = (): Promise<void> => new Promise((resolve, reject) => {
    const slot: WorkerSlot = { worker: new Worker(url, { workerData: { ...params, minSplitBytes } satisfies WindowWorkerData }) };
    slots.push(slot);
    const feed = (): void => {
      let job = queue.shift();
      if (!job && mine) {
        const tail = splitRest(mine.job.piece, mine.range, minSplitBytes);
        if (tail) job = addTail(mine.job, tail);
      }
      slot.job = job;
      if (job) slot.worker.postMessage({ type: 'piece', piece: job.piece } satisfies WindowWorkerRequest);
      else void slot.worker.terminate();
    };
    const answerSplit = (tail: Piece | null): void => {
      const waiting = slot.onSplit;
      slot.onSplit = undefined;
      waiting?.(tail);
    };
    slot.worker.on('message', (m: WindowWorkerMessage) => {
      if (m.type === 'split') return answerSplit(m.tail);
      if (m.type !== 'ready' && slot.job) {
        slot.job.result = m.type === 'done' ? m.result : failedPiece(slot.job.piece, m.error);
      }
      feed();
    });
    slot.worker.on('error', reject);
    slot.worker.on('exit', (code) => {
      answerSplit(null);
      const job = slot.job;
      slot.job = undefined;
      if (job && job.result === undefined) reject(new Error(`window worker exited (${code}) while reading ${job.piece.path}`));
      else resolve();
    });
  });
  const extra = Math.max(0, threads - 1);
  await Promise.all([...Array.from({ length: extra }, startWorker), here()]);
  return jobs;
}

function failedPiece(piece: Piece, error: string): PieceResult {
  return { attackers: new Map(), failures: 0, logins: [], typosBefore: [], gaps: new GapTracker().state, lines: 0, bytes: 0, compressed: false, problem: `${piece.path}: ${error}` };
}

/** Reads the window's lines from the files (oldest first), then the journal, and merges. */
export async function scanWindow(options: WindowOptions): Promise<WindowScan> {
  const params: WindowParams = {
    since: options.since, now: options.now, filter: options.filter,
    ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
    ...(options.journalctl !== undefined ? { journalctl: options.journalctl } : {}),
  };
  const { pieces: planned, skipped } = planPieces(options.files, params);
  const inWindow = planned.reduce((s, p) => s + (Number.isFinite(p.end) ? p.end - p.start : 0), 0)
    + options.files.filter((f) => planned.some((p) => p.path === f.path && !Number.isFinite(p.end))).reduce((s, f) => s + textSizeOf(f.path, f.size).text, 0);
  const auto = options.workers === undefined || options.workers === 'auto';
  const threads = auto ? (inWindow < MIN_PARALLEL_BYTES ? 1 : idleCores()) : Math.max(1, options.workers as number);
  if (options.journal) planned.push({ path: 'journal', kind: 'journal', warmup: 0, start: 0, end: Infinity, args: options.journal });
  const jobs = await runPieces(planned, params, threads, options.minSplitBytes);
  const pieces = jobs.map((j) => j.piece);
  const results = jobs.map((j) => j.result ?? failedPiece(j.piece, 'not read'));

  const attackers = new Map<string, AttackerStat>();
  const logins: LoginEvent[] = [];
  let failures = 0;
  for (const r of results) {
    failures += r.failures;
    // A login's counts so far cover its own piece: add the earlier pieces'.
    for (let i = 0; i < r.logins.length; i++) {
      const l = r.logins[i]!;
      const before = attackers.get(l.address);
      if (before) {
        before.typos += r.typosBefore[i] ?? 0;
        l.otherFailures += before.failures - before.typos;
        l.failuresBefore += before.failures;
      }
      logins.push(l);
    }
    for (const [addr, a] of r.attackers) {
      const m = attackers.get(addr);
      if (!m) {
        attackers.set(addr, a);
        continue;
      }
      m.failures += a.failures;
      m.typos += a.typos;
      m.first = Math.min(m.first, a.first);
      m.last = Math.max(m.last, a.last);
      for (const [u, n] of a.users) if (m.users.size < MAX_USERS_PER_ADDRESS || m.users.has(u)) m.users.set(u, (m.users.get(u) ?? 0) + n);
    }
  }
  const sources: ScannedSource[] = skipped.map((f) => ({ path: f.path, compressed: false, bytes: 0, offset: 0, lines: 0, skipped: true }));
  pieces.forEach((p, i) => {
    const r = results[i]!;
    const prev = sources.find((s) => s.path === p.path && !s.skipped);
    if (prev) {
      const merged: ScannedSource = {
        ...prev, bytes: prev.bytes + r.bytes, lines: prev.lines + r.lines,
        ...(prev.problem || r.problem ? { problem: [prev.problem, r.problem].filter(Boolean).join('; ') } : {}),
      };
      sources[sources.indexOf(prev)] = merged;
    } else {
      sources.push({ path: p.path, compressed: r.compressed, bytes: r.bytes, offset: r.compressed ? 0 : p.start, lines: r.lines, skipped: false, ...(r.problem ? { problem: r.problem } : {}) });
    }
  });
  const last = pieces[pieces.length - 1];
  const endedLive = last !== undefined && (last.kind === 'journal' || options.files.some((f) => f.path === last.path && f.current));
  return { attackers, failures, logins, sources, gaps: mergeGaps(results.map((r) => r.gaps)), endedLive, workers: threads - 1, pieces: jobs.length };
}
