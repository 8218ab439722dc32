/**
 * Timestamps at the start of log lines. Formats:
 *  - classic syslog, no year: "Mar  1 00:00:01" (local time or the configured zone; year inferred)
 *  - ISO 8601 / RFC 3339 as written by rsyslog and `journalctl -o short-iso`:
 *    "2026-03-01T00:00:01+0000", "2026-03-01T00:00:01.123456+00:00", "2026-03-01 00:00:01"
 *  - RFC 5424 frames "<34>1 2026-03-01T00:00:01Z host app procid msgid ..." are stripped by the
 *    header parser, which hands the timestamp here.
 *
 * Parsing is cached by the timestamp text: consecutive lines usually share their second, so a busy
 * log costs one string comparison per line instead of a date computation.
 */
const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

export interface DateOptions {
  /** 'local' (default: the system's zone), 'UTC', or a fixed offset like '+02:00'. For dates without a zone. */
  readonly timezone?: string;
  /** "Now" for year inference, epoch ms; default the clock. Tests and `warden test` pin it (WARDEN_NOW). */
  readonly now?: () => number;
}

/** Offset in minutes east of UTC for a '+HH:MM' / '-HHMM' / 'Z' text, or undefined. */
function parseOffset(text: string): number | undefined {
  if (text === 'Z' || text === 'z') return 0;
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(text);
  if (!m) return undefined;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

export class DateParser {
  private readonly fixedOffset: number | undefined;
  private readonly now: () => number;
  private lastText = '';
  private lastValue = NaN;

  constructor(options: DateOptions = {}) {
    const tz = options.timezone ?? 'local';
    if (tz === 'local') this.fixedOffset = undefined;
    else if (tz.toUpperCase() === 'UTC') this.fixedOffset = 0;
    else {
      const off = parseOffset(tz);
      if (off === undefined) throw new Error(`timezone must be "local", "UTC" or an offset like "+02:00", not "${tz}"`);
      this.fixedOffset = off;
    }
    this.now = options.now ?? Date.now;
  }

  /** Classic syslog "Mmm dd hh:mm:ss" (15 chars). NaN when malformed. */
  syslog(text: string): number {
    if (text === this.lastText) return this.lastValue;
    const month = MONTHS[text.slice(0, 3)];
    const day = Number(text.slice(4, 6).trim());
    const h = Number(text.slice(7, 9)), mi = Number(text.slice(10, 12)), s = Number(text.slice(13, 15));
    if (month === undefined || !(day >= 1 && day <= 31) || !(h <= 23) || !(mi <= 59) || !(s <= 60) || text[9] !== ':' || text[12] !== ':') {
      return NaN;
    }
    // The year is not written: take the one that puts the date closest before "now" (a line dated
    // more than a day ahead belongs to last year: Dec 31 read on Jan 1).
    const nowMs = this.now();
    let year = new Date(nowMs).getUTCFullYear();
    let value = this.compose(year, month, day, h, mi, s, 0);
    if (value > nowMs + 86_400_000) value = this.compose(--year, month, day, h, mi, s, 0);
    this.lastText = text;
    this.lastValue = value;
    return value;
  }

  /** ISO 8601 / RFC 3339 with optional fraction and offset. NaN when malformed. */
  iso(text: string): number {
    if (text === this.lastText) return this.lastValue;
    const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)?$/.exec(text);
    if (!m) return NaN;
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    const offset = m[8] !== undefined ? parseOffset(m[8]) : undefined;
    const value = this.compose(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms, offset);
    this.lastText = text;
    this.lastValue = value;
    return value;
  }

  private compose(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offset?: number): number {
    const off = offset ?? this.fixedOffset;
    if (off === undefined) return new Date(y, mo, d, h, mi, s, ms).getTime();
    return Date.UTC(y, mo, d, h, mi, s, ms) - off * 60_000;
  }
}
