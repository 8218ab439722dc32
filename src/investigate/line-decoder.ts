/**
 * Turns the byte ranges a LineScanner hands on into strings, cheaply: a chunk that is pure ASCII
 * (by far the common case for logs) is decoded once, as latin1 — which for ASCII is the same text
 * as UTF-8 and is a plain copy — and each line wanted from it is a slice of that string (no
 * decoding, no native call per line). Lines of a chunk holding other bytes are decoded one by one
 * as UTF-8, as before.
 *
 * A slice of 13 characters or more is a view into the whole chunk's string in V8: a string kept
 * beyond the line (a user name in a table) must go through keep(), or it pins its chunk.
 */
import { isAscii } from 'node:buffer';
import type { LineScanner } from './log-lines.js';
import { RecentMap } from '../util/recent.js';
import { copyString, SLICE_MIN } from '../util/strings.js';

/** Bytes decoded at a time. */
const WINDOW = 48 * 1024;
/** Distinct long strings kept as copies (a bounded cache: see RecentMap). */
const KEEP_MAX = 4096;

export class LineDecoder {
  private buf: Buffer | null = null;
  private chunk = -1;
  /** buf[from, to) decoded, or null when that range is not pure ASCII. */
  private from = 0;
  private to = 0;
  private text: string | null = null;
  private readonly kept = new RecentMap<string, string>(KEEP_MAX);

  constructor(private readonly scanner: LineScanner) {}

  /** The text of buf[start, end) (a line the scanner just handed on). */
  line(buf: Buffer, start: number, end: number): string {
    if (start < this.from || end > this.to || buf !== this.buf || this.scanner.chunks !== this.chunk) {
      // A window of the chunk from this line on: small enough (below V8's large-object size) for
      // its string to die young in a cheap scavenge, large enough to make one native call serve
      // hundreds of lines.
      const to = Math.min(buf.length, Math.max(end, start + WINDOW));
      const window = buf.subarray(start, to);
      this.buf = buf;
      this.chunk = this.scanner.chunks;
      this.from = start;
      this.to = to;
      this.text = isAscii(window) ? buf.toString('latin1', start, to) : null;
    }
    const text = this.text;
    return text === null ? buf.toString('utf8', start, end) : text.slice(start - this.from, end - this.from);
  }

  /** A copy of `s` that holds no chunk alive (the same string for short ones). */
  keep(s: string): string {
    if (s.length < SLICE_MIN) return s;
    let k = this.kept.get(s);
    if (k === undefined) {
      k = copyString(s);
      this.kept.set(k, k);
    }
    return k;
  }
}
