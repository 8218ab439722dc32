/**
 * Timestamps at the start of log lines. Formats:
 *  - classic syslog, no year: "Mar  1 00:00:01" (local time or the configured zone; year inferred)
 *  - ISO 8601 / RFC 3339 as written by rsyslog and `journalctl -o short-iso`:
 *    "2026-03-01T00:00:01+0000", "2026-03-01T00:00:01.123456+00:00", "2026-03-01 00:00:01"
 *  - RFC 5424 timestamps, handed over by the header parser.
 *
 * Hot path: dates are read from character codes in place, and the expensive part — turning a
 * calendar hour into epoch ms, with zone and year inference — is cached per hour. Minutes and
 * seconds are then plain arithmetic; zone offsets only change on hour boundaries, so this is
 * exact across daylight-saving changes too.
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
export function parseOffset(text: string): number | undefined {
  if (text === 'Z' || text === 'z') return 0;
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(text);
  if (!m) return undefined;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

const DAY_MS = 86_400_000;

/** Two decimal digits at `at`, or NaN. */
function two(s: string, at: number): number {
  const a = s.charCodeAt(at) - 48, b = s.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}

/** Month index by the character codes of its three letters ("Jan" -> 0). */const MONTH_CODES = new Map(Object.entries(MONTHS).map(([name, i]) => [(name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2), i]));

export class DateParser {
  private readonly fixedOffset: number | undefined;
  private readonly now: () => number;
  /** Cache: numeric key of the last syslog hour (month, day, hour) and its epoch ms. */
  private syslogHourKey = -1;
  private syslogHourMs = NaN;
  /** Cache: numeric key of the last ISO hour (year, month, day, hour, zone) and its epoch ms. */
  private isoHourKey = -1;
  private isoHourMs = NaN;

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
    return this.syslogAt(text, 0);
  }

  /** The same, read in place at `at` inside a longer line. */
  syslogAt(line: string, at: number): number {
    if (line.charCodeAt(at + 3) !== 32 || line.charCodeAt(at + 6) !== 32 || line.charCodeAt(at + 9) !== 58 || line.charCodeAt(at + 12) !== 58) return NaN;
    const mi = two(line, at + 10), s = two(line, at + 13);
    if (!(mi <= 59 && s <= 60)) return NaN;
    // The hour key is built from the raw characters of "Mmm dd hh", so the common case (same hour
    // as the previous line) costs no lookup at all.
    const monthCode = (line.charCodeAt(at) << 16) | (line.charCodeAt(at + 1) << 8) | line.charCodeAt(at + 2);
    const key = monthCode * 1_000_000 + line.charCodeAt(at + 4) * 10_000 + line.charCodeAt(at + 5) * 100 + two(line, at + 7);
    if (key !== this.syslogHourKey) {
      const month = MONTH_CODES.get(monthCode) ?? -1;
      const d1 = line.charCodeAt(at + 4);
      const day = (d1 === 32 ? 0 : d1 - 48) * 10 + (line.charCodeAt(at + 5) - 48);
      const h = two(line, at + 7);
      if (!(h <= 23 && month >= 0 && day >= 1 && day <= 31)) return NaN;
      // The year is not written: take the one that puts the date closest before "now" (a line dated
      // more than a day ahead belongs to last year: Dec 31 read on Jan 1). Consulted once per hour
      // of log: a daemon running across New Year meets "Jan  1 00" as a new hour and asks again.
      const nowMs = this.now();
      let year = new Date(nowMs).getUTCFullYear();
      let value = this.compose(year, month, day, h, undefined);
      if (value > nowMs + DAY_MS) value = this.compose(--year, month, day, h, undefined);
      this.syslogHourKey = key;
      this.syslogHourMs = value;
    }
    return this.syslogHourMs + mi * 60_000 + s * 1000;
  }

  /** ISO 8601 / RFC 3339 with optional fraction and offset. NaN when malformed. */
  iso(text: string): number {
    return this.isoAt(text, 0, text.length);
  }

  /** The same, read in place from `start` to `end` inside a longer line. */
  isoAt(line: string, start: number, end: number): number {
    // Fixed part: YYYY-MM-DDThh:mm:ss
    const sep = line.charCodeAt(start + 10);
    if (end - start < 19 || line.charCodeAt(start + 4) !== 45 || line.charCodeAt(start + 7) !== 45 ||
      (sep !== 84 && sep !== 32 && sep !== 116) || line.charCodeAt(start + 13) !== 58 || line.charCodeAt(start + 16) !== 58) return NaN;
    const y = two(line, start) * 100 + two(line, start + 2), mo = two(line, start + 5), d = two(line, start + 8);
    const h = two(line, start + 11), mi = two(line, start + 14), s = two(line, start + 17);
    if (!(y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60)) return NaN;
    let pos = start + 19;
    let ms = 0;
    if (pos < end && (line.charCodeAt(pos) === 46 || line.charCodeAt(pos) === 44)) {
      let scale = 100;
      pos++;
      const fracStart = pos;
      while (pos < end) {
        const c = line.charCodeAt(pos) - 48;
        if (c < 0 || c > 9) break;
        ms += c * scale;
        scale /= 10;
        pos++;
      }
      if (pos === fracStart) return NaN;
      ms = Math.floor(ms);
    }
    // Zone: nothing (configured zone), Z, +hh:mm, +hhmm or +hh.
    let offset: number | undefined;
    const z = line.charCodeAt(pos);
    if (pos === end) offset = undefined;
    else if ((z === 90 || z === 122) && pos + 1 === end) offset = 0;
    else if ((z === 43 || z === 45) && (end - pos === 3 || end - pos === 5 || (end - pos === 6 && line.charCodeAt(pos + 3) === 58))) {
      const oh = two(line, pos + 1), om = end - pos === 3 ? 0 : two(line, end - 2);
      if (!(oh <= 23 && om <= 59)) return NaN;
      offset = (z === 45 ? -1 : 1) * (oh * 60 + om);
    } else return NaN;
    const key = ((((y * 13 + mo) * 32 + d) * 24 + h) * 4096) + (offset === undefined ? 4095 : offset + 2048);
    if (key !== this.isoHourKey) {
      this.isoHourKey = key;
      this.isoHourMs = this.compose(y, mo - 1, d, h, offset);
    }
    return this.isoHourMs + mi * 60_000 + s * 1000 + ms;
  }

  /**
   * Dates in services' own log formats (the text captured by a filter's date pattern):
   *   ymd-slash  "2026/03/01 00:00:01"               (nginx error log; local time)
   *   clf        "01/Mar/2026:00:00:01 +0000"        (common/combined access log)
   *   ctime      "Sun Mar  1 00:00:01 2026"          (vsftpd's own log; local time)
   *   apache     "Sun Mar 01 00:00:01.123456 2026"   (Apache error log; local time)
   *   iso        ISO 8601 / RFC 3339, also "2026-03-01 00:00:01" (Exim)
   */
  layout(layout: string, text: string): number {
    let m: RegExpExecArray | null;
    switch (layout) {
      case 'iso': return this.iso(text);
      case 'ymd-slash':
        m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(text);
        return m ? this.fields(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, 0, undefined) : NaN;
      case 'clf': {
        m = /^(\d\d)\/([A-Z][a-z]{2})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})$/.exec(text);
        const mo = m ? MONTHS[m[2]!] : undefined;
        return m && mo !== undefined ? this.fields(+m[3]!, mo, +m[1]!, +m[4]!, +m[5]!, +m[6]!, 0, parseOffset(m[7]!)) : NaN;
      }
      case 'ctime':
      case 'apache': {
        m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? (\d{4})$/.exec(text);
        const mo = m ? MONTHS[m[1]!] : undefined;
        const ms = m?.[6] ? Math.floor(Number(`0.${m[6]}`) * 1000) : 0;
        return m && mo !== undefined ? this.fields(+m[7]!, mo, Number(m[2]!.trim()), +m[3]!, +m[4]!, +m[5]!, ms, undefined) : NaN;
      }
      default: return NaN;
    }
  }

  private fields(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offset: number | undefined): number {
    if (!(mo >= 0 && mo <= 11 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60)) return NaN;
    return this.compose(y, mo, d, h, offset) + mi * 60_000 + s * 1000 + ms;
  }

  /** Epoch ms of the start of an hour in the given offset, the configured zone, or local time. */
  private compose(y: number, mo: number, d: number, h: number, offset: number | undefined): number {
    const off = offset ?? this.fixedOffset;
    if (off === undefined) return new Date(y, mo, d, h, 0, 0, 0).getTime();
    return Date.UTC(y, mo, d, h, 0, 0, 0) - off * 60_000;
  }
}
