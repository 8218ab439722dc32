/**
 * How `warden search` prints a matching line: "FILE:LINE: TEXT" (control characters escaped), or
 * one JSON object per line. Shared by the command and the search's worker threads, which render
 * their own matches so that the main thread only writes them out.
 *
 * MatchRenderer.render builds the text of one match. RenderSink appends matches straight to
 * UTF-8 chunks, and is what a search job uses: a heavy attacker has hundreds of thousands of
 * lines, and building, flattening and encoding a string per line was much of the cost of printing
 * them. A line of printable ASCII (nearly every log line) is written as it is, after a few bytes
 * of prefix put directly; any other goes through render(), so the output is the same.
 */
import { safeText } from '../cli/table.js';
import { isoTime } from './time.js';
import { ByteClass } from './byte-kernel.js';

export type RenderMode = 'json' | 'text';

/** Separator between rendered matches (the JSON array is indented by four spaces). */
export const RENDER_SEPARATOR: Readonly<Record<RenderMode, string>> = { json: ',\n    ', text: '\n' };

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f]/;
/** What JSON must escape in a string (plus U+2028/9, which JSON.stringify leaves alone too). */
// eslint-disable-next-line no-control-regex
const JSON_ESCAPE = /["\\\u0000-\u001f]|[\ud800-\udfff]/;
/**
 * Lines that render as themselves: printable ASCII only (and, in JSON, no quote or backslash).
 * Such a line's characters are its bytes; any other line goes through render().
 */
const TEXT_NOT_PLAIN = /[^\x20-\x7e]/;
const JSON_NOT_PLAIN = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

export class MatchRenderer {
  private readonly names = new Map<string, string>();
  private lastSecond = NaN;
  private lastMinute = NaN;
  private minutePrefix = '';
  private lastIso: string | null = null;

  constructor(readonly mode: RenderMode) {}

  /** The file name as rendered: JSON-quoted, or with control characters escaped. */
  name(file: string): string {
    let name = this.names.get(file);
    if (name === undefined) this.names.set(file, name = this.mode === 'json' ? JSON.stringify(file) : safeText(file));
    return name;
  }

  render(file: string, line: number, time: number, text: string): string {
    const name = this.name(file);
    if (this.mode === 'text') return `${name}:${line}: ${UNSAFE.test(text) ? safeText(text) : text}`;
    const t = this.iso(time);
    // Most log lines need no escaping: JSON.stringify only for those that do.
    const quoted = JSON_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
    return `{"file":${name},"line":${line},"time":${t === null ? 'null' : `"${t}"`},"text":${quoted}}`;
  }

  /** ISO 8601 UTC to the second; the date and minute part is formatted once per minute of log. */
  iso(ms: number | null): string | null {
    if (ms === null || Number.isNaN(ms)) return null;
    const sec = Math.floor(ms / 1000);
    if (sec === this.lastSecond) return this.lastIso;
    const minute = Math.floor(sec / 60);
    if (minute !== this.lastMinute) {
      const iso = isoTime(minute * 60);
      if (iso === null) return null;
      this.lastMinute = minute;
      this.minutePrefix = iso.slice(0, 17); // "2026-03-01T00:00:"
    }
    const s = sec - minute * 60;
    this.lastSecond = sec;
    this.lastIso = `${this.minutePrefix}${s < 10 ? '0' : ''}${s}Z`;
    return this.lastIso;
  }
}

/** Bytes per chunk of rendered output. */
const CHUNK = 1 << 20;
/** Room for everything of a match but its name and text: separator, JSON keys, number, time. */
const FIXED_ROOM = 128;

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const JSON_TIME = ascii(',"time":"');
const JSON_TEXT_AFTER_TIME = ascii('","text":"');
const JSON_NO_TIME = ascii(',"time":null,"text":"');

/**
 * Rendered matches, each preceded by RENDER_SEPARATOR, written into UTF-8 chunks as they come (no
 * string per line outlives its line; a worker moves the chunks to the main thread uncopied).
 * Everything before a match's line number is one prebuilt run of bytes per file, put with
 * TypedArray.set (a memmove, no view built); a line whose bytes render as themselves (the byte
 * kernel says so: ByteClass) is copied from the log's own bytes with one native copy.
 */
export class RenderSink {
  private readonly renderer: MatchRenderer;
  private readonly chunks: Buffer[] = [];
  private chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK);
  private used = 0;
  private file = '';
  /** Per file (a file's matches come together): the separator, its name as rendered, up to the line number. */
  private head = Buffer.alloc(0);
  private isoMs = NaN;
  private isoText: string | null = null;

  constructor(readonly mode: RenderMode) {
    this.renderer = new MatchRenderer(mode);
  }

  /** Appends one match. */
  add(file: string, line: number, time: number, text: string): void {
    if ((this.mode === 'json' ? JSON_NOT_PLAIN : TEXT_NOT_PLAIN).test(text)) {
      this.putUtf8(`${RENDER_SEPARATOR[this.mode]}${this.renderer.render(file, line, time, text)}`);
      return;
    }
    this.putHead(file, line, time, text.length);
    this.used += this.chunk.write(text, this.used, 'latin1');
    if (this.mode === 'json') this.putClose();
  }

  /**
   * Appends one match whose text is `text`, decoded from the UTF-8 bytes src[start, end) of class
   * `cls`: bytes that render as themselves (plain ASCII; in JSON also without a quote or
   * backslash) are copied, any other line goes through add(). ByteClass.Other is always safe.
   */
  addBytes(file: string, line: number, time: number, text: string, src: Buffer, start: number, end: number, cls: ByteClass): void {
    const json = this.mode === 'json';
    if (cls === ByteClass.Other || (json && cls !== ByteClass.Plain)) {
      this.add(file, line, time, text);
      return;
    }
    this.putHead(file, line, time, end - start);
    this.used += src.copy(this.chunk, this.used, start, end);
    if (json) this.putClose();
  }

  /** Everything of a plain match before its text, with room for `textBytes` more and the end. */
  private putHead(file: string, line: number, time: number, textBytes: number): void {
    if (file !== this.file) {
      this.file = file;
      const name = this.renderer.name(file);
      this.head = Buffer.from(this.mode === 'json' ? `${RENDER_SEPARATOR.json}{"file":${name},"line":` : `${RENDER_SEPARATOR.text}${name}:`, 'utf8');
    }
    this.room(FIXED_ROOM + this.head.length + textBytes);
    this.chunk.set(this.head, this.used);
    this.used += this.head.length;
    this.putInt(line);
    if (this.mode === 'json') {
      if (time !== this.isoMs) {
        this.isoMs = time;
        this.isoText = this.renderer.iso(time);
      }
      const iso = this.isoText;
      if (iso === null) this.putBytes(JSON_NO_TIME);
      else {
        this.putBytes(JSON_TIME);
        this.putAscii(iso);
        this.putBytes(JSON_TEXT_AFTER_TIME);
      }
    } else {
      this.chunk[this.used++] = 0x3a; // :
      this.chunk[this.used++] = 0x20;
    }
  }

  /** '"}' after a JSON match's text. */
  private putClose(): void {
    this.chunk[this.used++] = 0x22;
    this.chunk[this.used++] = 0x7d;
  }

  private putBytes(b: Buffer): void {
    this.chunk.set(b, this.used);
    this.used += b.length;
  }

  /** The chunks written (see JobResult.rendered); the sink is empty afterwards. */
  take(): Buffer[] {
    if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.alloc(0);
    this.used = 0;
    return this.chunks.splice(0);
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): void {
    if (this.used + n <= this.chunk.length) return;
    if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK, n));
    this.used = 0;
  }

  private putUtf8(s: string): void {
    // A UTF-16 unit takes at most 3 bytes in UTF-8.
    this.room(s.length * 3);
    this.used += this.chunk.write(s, this.used, 'utf8');
  }

  /** A short ASCII string, byte by byte (cheaper than a native call for a few bytes). */
  private putAscii(s: string): void {
    const c = this.chunk;
    let u = this.used;
    for (let i = 0; i < s.length; i++) c[u++] = s.charCodeAt(i);
    this.used = u;
  }

  /** A non-negative integer in decimal. */
  private putInt(n: number): void {
    if (!(n >= 0 && n < 2 ** 53 && Number.isInteger(n))) {
      this.putAscii(String(n));
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    const c = this.chunk;
    let u = this.used + digits;
    this.used = u;
    let x = n;
    do {
      const q = Math.floor(x / 10);
      c[--u] = 48 + x - q * 10;
      x = q;
    } while (x > 0);
  }
}
