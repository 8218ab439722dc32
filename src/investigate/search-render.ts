/**
 * How `warden search` prints a matching line: "FILE:LINE: TEXT" (control characters escaped), or
 * one JSON object per line. Shared by the command and the search's worker threads, which render
 * their own matches so that the main thread only writes them out.
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

export class MatchRenderer {
  private readonly names = new Map<string, string>();
  private lastSecond = NaN;
  private lastMinute = NaN;
  private minutePrefix = '';
  private lastIso: string | null = null;

  constructor(readonly mode: RenderMode) {}

  render(file: string, line: number, time: number, text: string): string {
    let name = this.names.get(file);
    if (name === undefined) this.names.set(file, name = this.mode === 'json' ? JSON.stringify(file) : safeText(file));
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
