import type { FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { fingerprintOf, type FilePosition } from './file-position.js';
import { LineSplitter, type LineCounters } from './lines.js';

/** One open file descriptor with its read position and its own incomplete-line buffer. */
export class OpenFile {
  /** File offset of the next byte to read. */
  readPos = 0;
  /** First line of the file, once complete: identifies the file and detects truncation. */
  head: Buffer | undefined;
  private fp: string | undefined;
  /** Date.now() of the last read that returned bytes; a retired file is closed after a quiet grace period. */
  lastGrowth = Date.now();
  /** False when the last drain stopped at the batch cap rather than at end of file. */
  atEof = false;
  watcher: FSWatcher | undefined;
  readonly splitter: LineSplitter;

  constructor(
    readonly fh: FileHandle,
    readonly ino: bigint,
    readonly dev: bigint,
    counters: LineCounters,
    maxLineBytes: number,
  ) {
    this.splitter = new LineSplitter(counters, maxLineBytes);
  }

  /** Offset just past the last complete line handed out: the position that is safe to persist. */
  get consumedOffset(): number {
    return this.readPos - this.splitter.pendingBytes;
  }

  get fingerprint(): string {
    if (!this.head) return '';
    this.fp ??= fingerprintOf(this.head);
    return this.fp;
  }

  setHead(head: Buffer | undefined): void {
    this.head = head;
    this.fp = undefined;
  }

  position(): FilePosition {
    return { inode: this.ino.toString(), dev: this.dev.toString(), offset: this.consumedOffset, fingerprint: this.fingerprint };
  }

  /** Restarts at offset 0 of the same file (it was truncated). */
  rewind(): void {
    this.readPos = 0;
    this.splitter.reset();
    this.setHead(undefined);
  }
}

export function errnoOf(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return e instanceof Error ? e.message : String(e);
}

export function describeErrno(code: string): string {
  switch (code) {
    case 'ENOENT': return 'ENOENT, no such file or directory';
    case 'ENOTDIR': return 'ENOTDIR, a path component is not a directory';
    case 'EACCES': return 'EACCES, permission denied';
    case 'EPERM': return 'EPERM, operation not permitted';
    case 'EISDIR': return 'EISDIR, is a directory';
    default: return code;
  }
}
