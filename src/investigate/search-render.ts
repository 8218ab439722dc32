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

/** Bit 7 of a byte lane of `v` set when some byte of `v` is zero (exact for the word as a whole). */
function zeroLane(v: number): number {
  return (v - 0x01010101) & ~v;
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
 * TypedArray.set (a memmove, no view built); a plain line's text is copied from the log's own
 * bytes while they are checked (addBytes), with no regular expression over the string.
 */
export class RenderSink {
  private readonly renderer: MatchRenderer;
  private readonly chunks: Buffer[] = [];
  private chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK);
  /** The chunk, for writing four bytes at a time. */
  private chunkView: DataView<ArrayBufferLike> = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.length);
  /** addBytes: the last source buffer, and a view of it for reading four bytes at a time. */
  private src: Uint8Array | undefined;
  private srcView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
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
   * Appends one match whose text is `text`, decoded from the UTF-8 bytes src[start, end). A line of
   * printable ASCII (and, in JSON, no quote or backslash) is copied from those bytes as they are
   * checked, four at a time; at the first word holding another byte what was put is taken back
   * and the line goes through add().
   */
  addBytes(file: string, line: number, time: number, text: string, src: Uint8Array, start: number, end: number): void {
    const mark = this.putHead(file, line, time, end - start);
    const json = this.mode === 'json';
    if (src !== this.src) {
      this.src = src;
      this.srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    const sv = this.srcView;
    const out = this.chunkView;
    let u = this.used;
    let i = start;
    for (; i + 4 <= end; i += 4, u += 4) {
      const x = sv.getInt32(i);
      // Per byte lane, bit 7 ends up set when (for the word as a whole: exactly) some byte is
      // below 0x20, or above 0x7e, or (JSON) a quote or backslash.
      let flags = ((x - 0x20202020) & ~x) | (x + 0x01010101) | x;
      if (json) flags |= zeroLane(x ^ 0x22222222) | zeroLane(x ^ 0x5c5c5c5c);
      if ((flags & 0x80808080) !== 0) return this.retract(mark, file, line, time, text);
      out.setInt32(u, x);
    }
    const c = this.chunk;
    for (; i < end; i++) {
      const b = src[i]!;
      if (b < 0x20 || b > 0x7e || (json && (b === 0x22 || b === 0x5c))) return this.retract(mark, file, line, time, text);
      c[u++] = b;
    }
    this.used = u;
    if (json) this.putClose();
  }

  private retract(mark: number, file: string, line: number, time: number, text: string): void {
    this.used = mark;
    this.add(file, line, time, text);
  }

  /**
   * Everything of a plain match before its text, with room for `textBytes` more and the end;
   * returns where the match starts in the current chunk.
   */
  private putHead(file: string, line: number, time: number, textBytes: number): number {
    if (file !== this.file) {
      this.file = file;
      const name = this.renderer.name(file);
      this.head = Buffer.from(this.mode === 'json' ? `${RENDER_SEPARATOR.json}{"file":${name},"line":` : `${RENDER_SEPARATOR.text}${name}:`, 'utf8');
    }
    this.room(FIXED_ROOM + this.head.length + textBytes);
    const mark = this.used;
    this.chunk.set(this.head, mark);
    this.used = mark + this.head.length;
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
    return mark;
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
    this.chunkView = new DataView(new ArrayBuffer(0));
    this.used = 0;
    return this.chunks.splice(0);
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): void {
    if (this.used + n <= this.chunk.length) return;
    if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK, n));
    this.chunkView = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.length);
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
