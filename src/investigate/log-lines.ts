/**
 * Reading text logs fast enough to search a gigabyte of them: plain or gzip-compressed files
 * (streamed, never read whole), and the journal through `journalctl -o short-iso`.
 *
 * The scanner works on raw bytes. With needles (literal byte strings), each chunk is searched by a
 * byte kernel (byte-kernel.ts: WebAssembly SIMD, or Buffer.indexOf where that cannot run) and only
 * the lines holding a needle are handed on; every other line costs a share of that search and of
 * the newline count (for line numbers), and is never decoded. Without needles, every line is
 * handed on as a byte range, so the caller can look at a few bytes and decode only the lines it
 * wants.
 *
 * gzip is inflated with zlib's streaming interface on libuv's thread pool, so inflating one chunk
 * overlaps with scanning the previous one. A compressed file that ends early (a copy cut short, a
 * disk that filled during rotation) yields every line that could be inflated, and a problem saying
 * so.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { createKernel, type ByteKernel, type KernelKind } from './byte-kernel.js';

const NL = 0x0a;

/**
 * Receives one line: `buf[start, end)` without its newline, with its 1-based number. The buffer is
 * only valid during the call (it is reused for the next read): copy or decode what you keep.
 */
export type LineHandler = (buf: Buffer, start: number, end: number, lineNo: number) => void;

/** Lines longer than this are cut to it (the rest up to the newline is dropped and counted). */
export const MAX_LINE_BYTES = 64 * 1024;

export class LineScanner {
  /** Lines completed so far (the last line counts even without a final newline, after end()). */
  lines = 0;
  /** Lines cut to MAX_LINE_BYTES. */
  truncated = 0;
  /**
   * Chunks taken so far: a handler that derives something from a whole chunk (LineDecoder) can
   * tell a new chunk in a reused buffer from the one before.
   */
  chunks = 0;
  private carry: Buffer | null = null;
  private carryFull = false;
  /** needleLines: per needle, its next hit in the chunk (reused, not allocated per chunk). */
  private readonly nextHits: number[];
  /**
   * With needles: what searches the chunks. The lines handed on lie in its `buf` (except a line
   * carried over from one chunk to the next), where the handler may ask it about their bytes.
   */
  readonly kernel: ByteKernel | null;

  /**
   * @param needles  null: every line goes to `onLine`; otherwise only lines holding at least one
   *                 of these byte strings (none may contain a newline).
   * @param kernel   which byte kernel searches for the needles (default: the fastest that runs).
   */
  constructor(private readonly needles: readonly Buffer[] | null, private readonly onLine: LineHandler, kernel?: KernelKind) {
    if (needles) {
      for (const n of needles) if (n.length === 0 || n.includes(NL)) throw new Error('a needle must be non-empty and hold no newline');
    }
    this.kernel = needles ? createKernel(needles, kernel) : null;
    this.nextHits = new Array<number>(needles?.length ?? 0).fill(Infinity);
  }

  /** Takes the next chunk of the input. */
  push(chunk: Buffer): void {
    this.chunks++;
    let start = 0;
    if (this.carry !== null) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.appendCarry(chunk, 0, chunk.length);
        return;
      }
      this.appendCarry(chunk, 0, nl);
      const line = this.carry as Buffer;
      this.carry = null;
      this.finishCarried(line);
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last < start) {
      if (start < chunk.length) this.appendCarry(chunk, start, chunk.length);
      return;
    }
    const kernel = this.kernel;
    if (kernel === null) this.everyLine(chunk, start, last + 1);
    else {
      const at = kernel.load(chunk, start, last + 1);
      this.needleLines(kernel, at, at + last + 1 - start);
    }
    if (last + 1 < chunk.length) this.appendCarry(chunk, last + 1, chunk.length);
  }

  /** The input ended: an incomplete last line is a line too. */
  end(): void {
    if (this.carry === null) return;
    const line = this.carry;
    this.carry = null;
    if (line.length > 0) this.finishCarried(line);
  }

  private finishCarried(line: Buffer): void {
    this.lines++;
    if (this.carryFull) this.truncated++;
    this.carryFull = false;
    if (this.needles === null || this.needles.some((n) => line.includes(n))) this.onLine(line, 0, line.length, this.lines);
  }

  private appendCarry(chunk: Buffer, from: number, to: number): void {
    const have = this.carry?.length ?? 0;
    const room = MAX_LINE_BYTES - have;
    const take = Math.min(room, to - from);
    if (take < to - from) this.carryFull = true;
    if (take <= 0) {
      this.carry ??= Buffer.alloc(0);
      return;
    }
    // A copy: the chunk's buffer is reused by the next read.
    const piece = Buffer.from(chunk.subarray(from, from + take));
    this.carry = this.carry === null || have === 0 ? piece : Buffer.concat([this.carry, piece]);
  }

  /** [start, end) holds whole lines, buf[end - 1] is a newline. */
  private everyLine(buf: Buffer, start: number, end: number): void {
    let ls = start;
    const onLine = this.onLine;
    let n = this.lines;
    while (ls < end) {
      const nl = buf.indexOf(NL, ls);
      n++;
      this.lines = n;
      onLine(buf, ls, nl - ls > MAX_LINE_BYTES ? ls + MAX_LINE_BYTES : nl, n);
      if (nl - ls > MAX_LINE_BYTES) this.truncated++;
      ls = nl + 1;
    }
  }

  /**
   * The lines of kernel.buf[start, end) (whole lines, the last byte a newline) that hold a needle:
   * one ordered stream of hits per needle, merged by always taking the earliest (a line is emitted
   * once, in order, without collecting and sorting the hits). After a line is emitted, only the
   * streams whose next hit lies in it search again, from the next line.
   */
  private needleLines(kernel: ByteKernel, start: number, end: number): void {
    const next = this.nextHits;
    const count = next.length;
    for (let i = 0; i < count; i++) next[i] = hitAt(kernel, i, start, end);
    let counted = start;
    for (;;) {
      let p = Infinity;
      for (let i = 0; i < count; i++) if ((next[i] as number) < p) p = next[i] as number;
      if (p === Infinity) break;
      counted = this.emitLineAt(kernel, counted, p);
      const from = counted;
      for (let i = 0; i < count; i++) if ((next[i] as number) < from) next[i] = hitAt(kernel, i, from, end);
    }
    this.lines += kernel.countNewlines(counted, end);
  }

  /**
   * Counts the lines from `counted` (a line start) up to the one holding buf[p], hands that line
   * on and counts it; returns where the next line starts. The line's start is the newline just
   * before the hit (a short native search back), the lines before it are counted by the kernel.
   */
  private emitLineAt(kernel: ByteKernel, counted: number, p: number): number {
    const buf = kernel.buf;
    const ls = p > counted ? Math.max(counted, buf.lastIndexOf(NL, p - 1) + 1) : counted;
    this.lines += kernel.countNewlines(counted, ls);
    // A hit lies before the newline that ends the chunk's last whole line: nl >= 0.
    const nl = buf.indexOf(NL, p);
    this.emit(buf, ls, nl);
    this.lines++;
    return nl + 1;
  }

  private emit(buf: Buffer, ls: number, le: number): void {
    if (le - ls > MAX_LINE_BYTES) {
      this.truncated++;
      this.onLine(buf, ls, ls + MAX_LINE_BYTES, this.lines + 1);
    } else {
      this.onLine(buf, ls, le, this.lines + 1);
    }
  }
}

/** The first hit of needle `i` in the kernel's buf[from, end), or Infinity. */
function hitAt(kernel: ByteKernel, i: number, from: number, end: number): number {
  const p = kernel.find(i, from, end);
  return p < 0 ? Infinity : p;
}

export interface ReadOutcome {
  readonly compressed: boolean;
  /** Bytes read from the file (compressed size for gzip). */
  readonly bytesRead: number;
  /** Bytes of text handed to the scanner (decompressed). */
  readonly textBytes: number;
  /** What went wrong, when something did; the lines read before it were still handed on. */
  readonly problem?: string;
}

/**
 * The part of a plain file a reader still has to read, shared with whoever may take some of it
 * away while it is read (the report's scan hands the second half to an idle thread,
 * auth-window.ts): `position` is the next byte the reader will request (reads are requested
 * ahead of scanning, so everything before it is spoken for); `end` may be moved earlier, to a line
 * start after `position`, between two chunks.
 */
export interface ReadRange {
  position: number;
  end: number;
}

export interface ReadOptions {
  /** Start at this byte offset (plain files only; a gzip file is always read from its start). */
  readonly offset?: number;
  /** Stop at this byte offset (plain files only). */
  readonly end?: number;
  /** Instead of offset and end (plain files only): the range to read, followed as it changes. */
  readonly range?: ReadRange;
  /**
   * The file must still be this one (its inode): a reader that opens a log by name after another
   * reader started on it (a piece of it, see auth-window.ts) must not read a file that log
   * rotation put in its place. Otherwise nothing is read and the problem says so.
   */
  readonly ino?: number;
  /** Called with the number of file bytes read since the last call. */
  readonly onBytes?: (n: number) => void;
}

const CHUNK = 1 << 20;

/**
 * Streams one log file into `scanner` (then calls scanner.end()). Compression is recognised by
 * content, not by name: logrotate may compress without the .gz suffix. Never throws for the file's
 * content or for a read error: the outcome says what happened.
 */
export async function readLogFile(path: string, scanner: LineScanner, options: ReadOptions = {}): Promise<ReadOutcome> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    return { compressed: false, bytesRead: 0, textBytes: 0, problem: describeOpenError(path, e) };
  }
  if (options.ino !== undefined) {
    const ino = await fh.stat().then((st) => st.ino, () => undefined);
    if (ino !== options.ino) {
      await fh.close();
      scanner.end();
      const from = options.range?.position ?? options.offset ?? 0;
      return { compressed: false, bytesRead: 0, textBytes: 0, problem: `${path}: replaced by another file while it was being read (log rotation?); ${from > 0 ? `its part from byte ${from}` : 'it'} was not read` };
    }
  }
  let compressed: boolean;
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await fh.read(magic, 0, 2, 0);
    compressed = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } catch (e) {
    await fh.close();
    scanner.end();
    return { compressed: false, bytesRead: 0, textBytes: 0, problem: `${path}: read error: ${(e as Error).message}` };
  }
  if (!compressed) {
    try {
      return await readPlain(fh, scanner, options.range ?? { position: options.offset ?? 0, end: options.end ?? Infinity }, options.onBytes);
    } catch (e) {
      scanner.end();
      return { compressed: false, bytesRead: 0, textBytes: 0, problem: `${path}: read error: ${(e as Error).message}; the lines before it were read` };
    } finally {
      await fh.close();
    }
  }
  // The stream reads from the handle already opened (and checked), and closes it.
  return readGzip(path, fh, scanner, options.onBytes);
}

async function readPlain(fh: import('node:fs/promises').FileHandle, scanner: LineScanner, range: ReadRange, onBytes?: (n: number) => void): Promise<ReadOutcome> {
  // Two buffers: the next read is under way while the current chunk is scanned.
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let total = 0;
  let which = 0;
  const next = (buf: Buffer): Promise<{ bytesRead: number }> => {
    // range.end is read at each request: it may have moved since the last one.
    const at = range.position;
    if (at >= range.end) return Promise.resolve({ bytesRead: 0 });
    const length = Math.min(CHUNK, range.end - at);
    range.position = at + length;
    return fh.read(buf, 0, length, at);
  };
  let pending = next(bufs[0] as Buffer);
  for (;;) {
    const { bytesRead } = await pending;
    if (bytesRead === 0) break;
    const buf = bufs[which] as Buffer;
    total += bytesRead;
    which ^= 1;
    pending = next(bufs[which] as Buffer);
    onBytes?.(bytesRead);
    scanner.push(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
  }
  scanner.end();
  return { compressed: false, bytesRead: total, textBytes: total };
}

async function readGzip(path: string, fh: import('node:fs/promises').FileHandle, scanner: LineScanner, onBytes?: (n: number) => void): Promise<ReadOutcome> {
  const gunzip = createGunzip({ chunkSize: CHUNK });
  const input = createReadStream(path, { fd: fh, start: 0, highWaterMark: CHUNK });
  let bytesRead = 0;
  let textBytes = 0;
  let readError: Error | undefined;
  input.on('data', (d: Buffer | string) => {
    bytesRead += d.length;
    onBytes?.(d.length);
  });
  input.on('error', (e) => {
    readError = e;
    gunzip.destroy(e);
  });
  input.pipe(gunzip);
  let problem: string | undefined;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      textBytes += chunk.length;
      scanner.push(chunk);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (readError) problem = `${path}: read error after ${bytesRead} bytes: ${readError.message}; the lines before it were read`;
    else if (err.code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message)) {
      problem = `${path}: the compressed data ends early (unexpected end of file after ${bytesRead} compressed bytes): a copy or rotation cut short; the ${textBytes} bytes before the cut were read`;
    } else {
      problem = `${path}: the compressed data is damaged (${err.message}) after ${textBytes} decompressed bytes; the lines before the damage were read`;
    }
  } finally {
    input.destroy();
  }
  scanner.end();
  return { compressed: true, bytesRead, textBytes, ...(problem ? { problem } : {}) };
}

function describeOpenError(path: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EACCES' ? 'permission denied (run as root?)'
    : err.code === 'EISDIR' ? 'is a directory' : err.message;
  return `${path}: ${why}`;
}

export interface JournalReadOutcome {
  readonly bytesRead: number;
  readonly problem?: string;
}

/**
 * Streams `journalctl -o short-iso ARGS` into `scanner`. Its lines look like a syslog file's with
 * an ISO date ("2026-03-01T00:00:01+0000 host sshd[123]: ..."), so the same header parser reads
 * both. A message with several lines continues on indented lines.
 */
export function readJournal(args: readonly string[], scanner: LineScanner, options: { journalctl?: string; onBytes?: (n: number) => void } = {}): Promise<JournalReadOutcome> {
  const program = options.journalctl ?? 'journalctl';
  return new Promise((resolve) => {
    let bytesRead = 0;
    let stderr = '';
    let spawnError: string | undefined;
    const child = spawn(program, ['-o', 'short-iso', '--no-pager', '-q', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: 'cat' },
    });
    child.stdout.on('data', (d: Buffer) => {
      bytesRead += d.length;
      options.onBytes?.(d.length);
      scanner.push(d);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
    child.on('error', (e: NodeJS.ErrnoException) => { spawnError = `cannot run ${program}: ${e.code ?? e.message}`; });
    child.on('close', (code) => {
      scanner.end();
      const why = spawnError ?? (code !== 0 ? `${program} exited with status ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join('; ')}` : ''}` : undefined);
      resolve(why === undefined ? { bytesRead } : { bytesRead, problem: why });
    });
  });
}
