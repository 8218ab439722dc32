import type { DateLayout } from '../filters/definition.js';

/**
 * fail2ban's time values. Durations (bantime, findtime, ...) are MyTime.str2seconds: a number of
 * seconds, or an expression of numbers with units ("10m", "1h 30m", "1d12h", "1year-6mo",
 * "2 weeks"), where a month is a twelfth of an average year. Negative means "forever" (bantime).
 */
const UNITS: readonly [RegExp, number][] = [
  [/(?<=[\d\s])(days?|da|dd?)\b/gi, 86_400],
  [/(?<=[\d\s])(weeks?|wee?|ww?)\b/gi, 7 * 86_400],
  [/(?<=[\d\s])(months?|mon?)\b/gi, ((365 * 3 + 366) * 86_400) / 4 / 12],
  [/(?<=[\d\s])(years?|yea?|yy?)\b/gi, ((365 * 3 + 366) * 86_400) / 4],
  [/(?<=[\d\s])(seconds?|sec?|ss?)\b/gi, 1],
  [/(?<=[\d\s])(minutes?|min?|mm?)\b/gi, 60],
  [/(?<=[\d\s])(hours?|hou?|hh?)\b/gi, 3600],
];

/** Seconds, or undefined when the text is not a duration fail2ban would accept. */
export function fail2banSeconds(text: string): number | undefined {
  let v = text.trim();
  if (!v) return undefined;
  v = v.replace(/(?<=[a-z])(\d)/gi, ' $1');
  for (const [re, seconds] of UNITS) v = v.replace(re, `*${seconds}`);
  v = v.replace(/(\d)\s+(?=\d)/g, '$1+');
  return evaluate(v);
}

/** A tiny arithmetic evaluator (+ - * / and parentheses) for what str2seconds would eval(). */
function evaluate(expr: string): number | undefined {
  const tokens = expr.match(/\d+(?:\.\d*)?|\.\d+|[-+*/()]|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const primary = (): number | undefined => {
    const t = tokens[i++];
    if (t === undefined) return undefined;
    if (t === '-' || t === '+') {
      const v = primary();
      return v === undefined ? undefined : t === '-' ? -v : v;
    }
    if (t === '(') {
      const v = sum();
      if (tokens[i++] !== ')') return undefined;
      return v;
    }
    return /^[\d.]/.test(t) ? Number(t) : undefined;
  };
  const product = (): number | undefined => {
    let v = primary();
    while (v !== undefined && (peek() === '*' || peek() === '/')) {
      const op = tokens[i++];
      const r = primary();
      if (r === undefined || (op === '/' && r === 0)) return undefined;
      v = op === '*' ? v * r : v / r;
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (v !== undefined && (peek() === '+' || peek() === '-')) {
      const op = tokens[i++];
      const r = product();
      if (r === undefined) return undefined;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  return v !== undefined && i === tokens.length && Number.isFinite(v) ? v : undefined;
}

/** A log line's own date, as warden reads it: the layout, and where it stands. */
export interface DateFormat {
  readonly layout: DateLayout;
  /** The date starts the line (possibly inside brackets). */
  readonly atStart: boolean;
  /** The date is written in square brackets: "[Sun Mar 01 ...]". */
  readonly bracket: boolean;
}

const DATE_RE: Record<DateLayout, string> = {
  iso: '\\d{4}-\\d\\d-\\d\\d[T ]\\d\\d:\\d\\d:\\d\\d(?:[.,]\\d+)?(?:Z|[+-]\\d\\d(?::?\\d\\d)?)?',
  'ymd-slash': '\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d',
  clf: '\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d [+-]\\d{4}',
  ctime: '[A-Z][a-z]{2} [A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}',
  apache: '[A-Z][a-z]{2} [A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,6})? \\d{4}',
};

/** The `format.date` pattern of a warden filter for this date format. */
export function datePattern(f: DateFormat): string {
  return `${f.atStart ? '^' : ''}${f.bracket ? '\\[' : ''}(?<date>${DATE_RE[f.layout]})${f.bracket ? '\\]' : ''}`;
}

/** The date as written in the line (with its brackets), without a capture group. */
export function dateText(f: DateFormat): string {
  return `${f.bracket ? '\\[' : ''}(?:${DATE_RE[f.layout]})${f.bracket ? '\\]' : ''}`;
}

/** What a rule anchored after the date starts with: the date itself (fail2ban removed it before matching). */
export function dateLead(f: DateFormat): string {
  return `${dateText(f)}\\s*`;
}

/**
 * fail2ban matches a service log's line with its date cut out, so a bracketed date leaves "[]"
 * and its expressions say \[\] there: in warden, which matches the whole line, that is the date
 * again. Replaced outside character classes only.
 */
export function restoreBracketDate(source: string, f: DateFormat): string {
  if (!f.bracket) return source;
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      if (!inClass && source.startsWith('\\[\\]', i)) {
        out += dateText(f);
        i += 3;
        continue;
      }
      out += source.slice(i, i + 2);
      i++;
      continue;
    }
    if (inClass) { if (c === ']') inClass = false; }
    else if (c === '[') {
      inClass = true;
      if (source[i + 1] === '^') { out += '[^'; i++; continue; }
    }
    out += c;
  }
  return out;
}

export type DatePatternReading =
  | { readonly kind: 'plain'; readonly format: DateFormat }
  | { readonly kind: 'syslog' }
  /** Only an anchor ({^LN-BEG}): fail2ban finds the date itself. */
  | { readonly kind: 'auto'; readonly atStart: boolean }
  | { readonly kind: 'unsupported'; readonly why: string };

/** Reads one line of fail2ban's `datepattern` (strftime-like, with fail2ban's {^LN-BEG} etc.). */
export function readDatePattern(text: string): DatePatternReading {
  let p = text.trim();
  let atStart = false;
  if (p.startsWith('{^LN-BEG}')) { atStart = true; p = p.slice('{^LN-BEG}'.length); }
  if (p.startsWith('^')) { atStart = true; p = p.slice(1); }
  p = p.replace(/\{\*WD-(?:BEG|END)\}/g, '').trim();
  if (!p) return { kind: 'auto', atStart };
  // {DATE}: any of fail2ban's own templates, found where the pattern puts it.
  if (p.includes('{DATE}')) return { kind: 'auto', atStart: atStart && /^\(?\{DATE\}/.test(p) };
  if (/^iso8601$/i.test(p)) return { kind: 'plain', format: { layout: 'iso', atStart, bracket: false } };
  if (/^(?:l?epoch|tai64n)$/i.test(p)) return { kind: 'unsupported', why: `${p} dates (seconds since 1970) have no warden date layout` };
  let bracket = false;
  if (p.startsWith('\\[') && p.endsWith('\\]')) { bracket = true; p = p.slice(2, -2); }
  let core = p.replace(/\(\?:([^()]*)\)\?/g, '$1').replace(/\\([./:\- T])/g, '$1');
  const fraction = /[.,]%f/.test(core);
  core = core.replace(/[.,]%f/g, '').replace(/\s*%[zZ]$/, (z) => (z.trim() ? '%z' : ''));
  const zoned = core.endsWith('%z');
  core = core.replace(/%z$/, '').trim();
  if (/^%Y-%m-%d(?:T|\[T \]| )%H:%M:%S$/.test(core)) return { kind: 'plain', format: { layout: 'iso', atStart, bracket } };
  if (core === '%Y/%m/%d %H:%M:%S') return { kind: 'plain', format: { layout: 'ymd-slash', atStart, bracket } };
  if (core === '%d/%b/%Y:%H:%M:%S') {
    return zoned ? { kind: 'plain', format: { layout: 'clf', atStart, bracket } } : { kind: 'unsupported', why: 'a common-log date without its zone has no warden date layout' };
  }
  if (/^%a %b %[de] %H:%M:%S %Y$/.test(core)) return { kind: 'plain', format: { layout: fraction ? 'apache' : 'ctime', atStart, bracket } };
  if (/^%b %[de] %H:%M:%S$/.test(core)) return { kind: 'syslog' };
  return { kind: 'unsupported', why: `the date pattern ${text.trim()} matches none of warden's date layouts (${Object.keys(DATE_RE).join(', ')})` };
}

/**
 * Guesses a log's date format from its first lines: the syslog header warden parses itself, or
 * one of the service-log layouts, and whether the date starts the line.
 */
export function sniffDateFormat(lines: readonly string[], isSyslog: (line: string) => boolean): { kind: 'syslog' } | { kind: 'plain'; format: DateFormat } | undefined {
  const sample = lines.filter((l) => l.trim()).slice(0, 50);
  if (!sample.length) return undefined;
  let best: { kind: 'syslog' } | { kind: 'plain'; format: DateFormat } | undefined;
  let bestCount = 0;
  const syslogCount = sample.filter(isSyslog).length;
  if (syslogCount) { best = { kind: 'syslog' }; bestCount = syslogCount; }
  for (const layout of ['iso', 'ymd-slash', 'clf', 'apache'] as const) {
    const re = new RegExp(`(\\[)?(${DATE_RE[layout]})`);
    let count = 0, start = 0, bracket = 0, fraction = 0;
    for (const line of sample) {
      const m = re.exec(line);
      if (!m) continue;
      count++;
      if (m.index === 0) start++;
      if (m[1]) bracket++;
      if (layout === 'apache' && /\.\d/.test(m[2]!)) fraction++;
    }
    if (count > bestCount) {
      bestCount = count;
      const l: DateLayout = layout === 'apache' && fraction === 0 ? 'ctime' : layout;
      best = { kind: 'plain', format: { layout: l, atStart: start * 2 > count, bracket: bracket * 2 > count } };
    }
  }
  return best;
}
