import { setFlagsFromString } from 'node:v8';
import { canonicalAddress, type Address } from '../util/ip.js';

// V8's linear-time regex engine: user filters are compiled for it (flag 'l'), so no pattern a user
// writes can backtrack catastrophically on attacker-controlled text; and every other pattern that
// it can run falls back to it by itself after excessive backtracking, as a safety net.
setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
import { DateParser } from './dates.js';
import type { FilterDefinition, RuleDefinition } from './definition.js';
import { DateKind, locateHeader, newHeader, readHeaderDate, type LogHeader } from './header.js';

/**
 * The filter engine: turns log lines into detections. A definition is compiled once per
 * (filter, mode); the per-line path is then
 *   header split (indexOf) -> program set lookup -> "message repeated" unwrap ->
 *   rules bucketed by the message's first word -> startsWith check -> one regex exec.
 * Most lines leave at the program check or the bucket lookup without running any pattern.
 */
export interface Detection {
  readonly action: 'failure' | 'success';
  readonly address: Address;
  /** Epoch ms from the line, or the read time when the line has no usable date. */
  readonly time: number;
  readonly rule: string;
  /** How many attempts the line stands for: N for rsyslog's "message repeated N times". */
  readonly count: number;
  readonly user?: string;
  /** The authentication method, when the rule captures one ((?<method>...)): "publickey", "password". */
  readonly method?: string;
}

export type LineOutcome =
  /** Produced one detection. */
  | 'detected'
  /** A rule matched: mark, ignore, or a `requires` rule whose mark was absent. */
  | 'recognized'
  /** The filter's program, but no rule matched: a gap worth looking at in `warden test`. */
  | 'unmatched'
  /** A rule matched, but its host slot held something that is not an IP address (counted, ignored). */
  | 'bad-host'
  /** Another program's line, or no syslog header. */
  | 'other';

export const HOST_SLOT = '<HOST>';
/** The host slot: a run of non-space characters; validated as an address after the match. */
const HOST_GROUP = '(?<host>\\S+)';

interface CompiledRule {
  readonly def: RuleDefinition;
  readonly regex: RegExp;
  /** Literal text every matching message starts with ('' when none could be derived). */
  readonly prefix: string;
  /**
   * The prefix's last character and its offset (-1: no prefix): rules of one bucket share their
   * first word, and one character compare rejects most of the others before a full prefix check.
   */
  readonly probeAt: number;
  readonly probe: number;
  /**
   * Capture numbers of the host, user and method groups in `regex` (0: absent). The regex runs
   * with its named groups turned into plain ones (numberedGroups): V8 then builds no `groups`
   * object per match.
   */
  readonly host: number;
  readonly user: number;
  readonly method: number;
  /**
   * The pattern is "^" and literal text only, and captures nothing: the prefix check is the whole
   * match, and the regex is not run (pam noise, session lines).
   */
  readonly literal: boolean;
}

const REPEATED = 'message repeated ';
/** How long a mark (e.g. "a kex error happened in pid 123") waits for the line that resolves it. */
const MARK_TTL_MS = 120_000;
const MAX_MARKS = 20_000;

export class CompiledFilter {
  readonly name: string;
  readonly mode: string;
  /** Program names to accept; empty = every program. */
  private readonly programs: readonly string[];
  private readonly maxLen: number;
  /** Rules by a numeric key of the message's first word (see wordKey): no string is cut per line. */
  private readonly byFirstWord = new Map<number, CompiledRule[]>();
  private readonly unbucketed: CompiledRule[] = [];
  private readonly marks = new Map<string, { mark: string; at: number }>();
  private readonly dates: DateParser;
  private readonly header: LogHeader = newHeader();
  /** For services' own log formats: where the date is and how to read it (undefined = syslog). */
  private readonly format: { readonly date: RegExp; readonly layout: string } | undefined;
  /** Outcome counters since construction (for `warden test` and status). */
  readonly counts = { lines: 0, detected: 0, recognized: 0, unmatched: 0, badHost: 0, other: 0, truncated: 0 };
  /** The last detection, valid right after match() returned 'detected'. */
  last: Detection | undefined;

  constructor(definition: FilterDefinition, options: { mode?: string; dates?: DateParser } = {}) {
    this.name = definition.name;
    this.mode = options.mode ?? definition.defaultMode;
    if (!definition.modes.includes(this.mode)) {
      throw new Error(`filter ${definition.name}: unknown mode "${this.mode}" (modes: ${definition.modes.join(', ')})`);
    }
    this.dates = options.dates ?? new DateParser();
    this.programs = definition.programs;
    this.format = definition.format.kind === 'plain'
      ? { date: new RegExp(definition.format.date), layout: definition.format.layout }
      : undefined;
    this.maxLen = definition.maxMessageLength;
    const active = definition.rules.filter((r) => this.mode === 'aggressive' || r.modes.includes(this.mode));
    // Rules of other modes are still recognised, as 'ignore', so `warden test` lists as unmatched
    // only the lines no mode knows. They go after the active rules and never shadow one.
    const inactive = definition.rules.filter((r) => !active.includes(r)).map((r): RuleDefinition => ({ ...r, action: 'ignore', requires: undefined }));
    for (const def of [...active, ...inactive]) {
      for (const rule of compileRule(def, definition.origin, !definition.builtin)) this.addRule(rule);
    }
  }

  /** Buckets a rule by the first word of its literal prefix; rules without one are tried on every line. */
  private addRule(rule: CompiledRule): void {
    const space = rule.prefix.indexOf(' ');
    if (space <= 0) {
      this.unbucketed.push(rule);
      return;
    }
    const key = wordKey(rule.prefix, 0, space);
    const bucket = this.byFirstWord.get(key) ?? [];
    bucket.push(rule);
    this.byFirstWord.set(key, bucket);
  }

  /**
   * Matches one line. `fallbackTime` (epoch ms) is used when the line carries no date, and
   * `knownTime` (journal realtime) overrides the line's own date when given.
   */
  match(line: string, fallbackTime: number, knownTime?: number): LineOutcome {
    this.counts.lines++;
    const h = this.header;
    if (this.format) {
      // A service's own format: the whole line is the message; no program, no pid.
      const dm = this.format.date.exec(line);
      h.time = dm?.groups?.['date'] !== undefined ? this.dates.layout(this.format.layout, dm.groups['date']) : NaN;
      h.messageStart = 0;
      h.pidStart = h.pidEnd = 0;
      return this.matchBody(line, knownTime ?? (Number.isNaN(h.time) ? fallbackTime : h.time));
    }
    if (!locateHeader(line, h)) {
      this.counts.other++;
      return 'other';
    }
    readHeaderDate(line, this.dates, h);
    return this.matchWithHeader(line, fallbackTime, knownTime);
  }

  /**
   * match() for a line whose header the caller has already read with parseHeader (date included,
   * with the same DateParser): the search reads every header for itself, and reading it again
   * here cost a good part of its time per matching line. Decided exactly as match().
   */
  matchParsed(line: string, parsed: LogHeader, fallbackTime: number): LineOutcome {
    if (this.format) return this.match(line, fallbackTime);
    this.counts.lines++;
    const h = this.header;
    h.time = parsed.time;
    h.dateKind = parsed.dateKind;
    h.dateStart = parsed.dateStart;
    h.dateEnd = parsed.dateEnd;
    h.hostStart = parsed.hostStart;
    h.hostEnd = parsed.hostEnd;
    h.programStart = parsed.programStart;
    h.programEnd = parsed.programEnd;
    h.pidStart = parsed.pidStart;
    h.pidEnd = parsed.pidEnd;
    h.messageStart = parsed.messageStart;
    return this.matchWithHeader(line, fallbackTime, undefined);
  }

  /** The rest of match() once this.header holds the line's header and date. */
  private matchWithHeader(line: string, fallbackTime: number, knownTime: number | undefined): LineOutcome {
    const h = this.header;
    if (!this.acceptsProgram(line, h) || (Number.isNaN(h.time) && h.dateKind === DateKind.Syslog)) {
      // Another program, or a classic date that does not parse ("Foo 99 ..."): not a syslog line
      // of ours after all.
      this.counts.other++;
      return 'other';
    }
    return this.matchBody(line, knownTime ?? (Number.isNaN(h.time) ? fallbackTime : h.time));
  }

  /**
   * match() for a syslog line whose header the caller has already read: the message starts at
   * `messageStart`, right after "PROG[PID]: " or "PROG: " of one of this filter's programs, and the
   * line's date is `time`. The report's byte-level scan (FilterPrefilter.locate, LineClock) knows
   * both for nearly every line; parsing the header again was a tenth of its time.
   */
  matchLocated(line: string, messageStart: number, time: number): LineOutcome {
    if (this.format) return this.match(line, time, time);
    this.counts.lines++;
    const h = this.header;
    h.messageStart = messageStart;
    h.time = time;
    const colon = messageStart - 2;
    if (line.charCodeAt(colon - 1) === 93 /* ] */) {
      h.pidStart = line.lastIndexOf('[', colon) + 1;
      h.pidEnd = colon - 1;
    } else {
      h.pidStart = h.pidEnd = colon;
    }
    return this.matchBody(line, time);
  }

  /** The message part of match(), once the header is known (this.header) and the time chosen. */
  private matchBody(line: string, time: number): LineOutcome {
    const h = this.header;
    let text = line;
    let start = h.messageStart;
    let count = 1;
    if (line.charCodeAt(start) === 109 /* m */ && line.startsWith(REPEATED, start)) {
      const unwrapped = unwrapRepeated(line.slice(start));
      if (unwrapped) {
        text = unwrapped.message;
        start = 0;
        count = unwrapped.count;
      }
    }
    if (text.length - start > this.maxLen) {
      text = text.slice(start, start + this.maxLen);
      start = 0;
      this.counts.truncated++;
    }
    const outcome = this.matchMessage(text, start, line, count, time);
    if (outcome === 'detected') this.counts.detected++;
    else if (outcome === 'recognized') this.counts.recognized++;
    else if (outcome === 'unmatched') this.counts.unmatched++;
    else if (outcome === 'bad-host') this.counts.badHost++;
    return outcome;
  }

  private acceptsProgram(line: string, h: LogHeader): boolean {
    const programs = this.programs;
    if (programs.length === 0) return true;
    const length = h.programEnd - h.programStart;
    const first = line.charCodeAt(h.programStart);
    for (let i = 0; i < programs.length; i++) {
      const p = programs[i] as string;
      // The first character before the native comparison: "CRON" is as long as "sshd".
      if (p.length === length && p.charCodeAt(0) === first && line.startsWith(p, h.programStart)) return true;
    }
    return false;
  }

  /**
   * Tries the rules on the message `text[start..]`; `line` is the whole line (for its pid). A
   * rule whose host slot held no address does not end the search: a later, more specific pattern
   * may still find the address.
   */
  private matchMessage(text: string, start: number, line: string, count: number, time: number): LineOutcome {
    let badHost = false;
    // The first word is short: a walk beats a native search.
    let space = start;
    const length = text.length;
    while (space < length && text.charCodeAt(space) !== 32) space++;
    if (space === length) space = -1;
    const bucket = space > start ? this.byFirstWord.get(wordKey(text, start, space)) : undefined;
    if (bucket) {
      for (const rule of bucket) {
        const outcome = this.tryRule(rule, text, start, line, count, time);
        if (outcome === 'bad-host') badHost = true;
        else if (outcome !== undefined) return outcome;
      }
    }
    for (const rule of this.unbucketed) {
      const outcome = this.tryRule(rule, text, start, line, count, time);
      if (outcome === 'bad-host') badHost = true;
      else if (outcome !== undefined) return outcome;
    }
    return badHost ? 'bad-host' : 'unmatched';
  }

  private tryRule(rule: CompiledRule, text: string, start: number, line: string, count: number, time: number): LineOutcome | undefined {
    if (rule.probeAt >= 0 && (text.charCodeAt(start + rule.probeAt) !== rule.probe || !text.startsWith(rule.prefix, start))) return undefined;
    let m: RegExpExecArray | null = null;
    if (!rule.literal) {
      // Sticky matching at the message offset: the line is never copied to match its message.
      rule.regex.lastIndex = start;
      m = rule.regex.exec(text);
      if (!m) return undefined;
    }
    const def = rule.def;
    if (def.action === 'mark') {
      this.setMark(this.pid(line), def.mark as string, time);
      return 'recognized';
    }
    if (def.requires !== undefined) {
      const pid = this.pid(line);
      const mark = pid ? this.marks.get(pid) : undefined;
      if (!mark || mark.mark !== def.requires || time - mark.at > MARK_TTL_MS) return 'recognized';
      this.marks.delete(pid);
    }
    if (def.action === 'ignore' || m === null) return 'recognized';
    const hostText = rule.host ? m[rule.host] : undefined;
    const address = hostText === undefined ? undefined : canonicalAddress(hostText);
    if (!address) return 'bad-host';
    const user = rule.user ? m[rule.user] : undefined;
    const method = rule.method ? m[rule.method] : undefined;
    // Built without spreading: the two optional fields are added only when captured, as before.
    const d: { -readonly [K in keyof Detection]: Detection[K] } = { action: def.action, address, time, rule: def.id, count };
    if (user !== undefined) d.user = user;
    if (method !== undefined) d.method = method;
    this.last = d;
    return 'detected';
  }

  /** The pid of the line last given to match() ('' when it had none). */
  private pid(line: string): string {
    return line.slice(this.header.pidStart, this.header.pidEnd);
  }

  private setMark(pid: string, mark: string, at: number): void {
    if (!pid) return;
    if (this.marks.size >= MAX_MARKS) {
      // Oldest first (Map keeps insertion order): drop a tenth so this stays amortised O(1).
      let drop = MAX_MARKS / 10;
      for (const key of this.marks.keys()) {
        this.marks.delete(key);
        if (--drop <= 0) break;
      }
    }
    this.marks.delete(pid);
    this.marks.set(pid, { mark, at });
  }
}

/**
 * A number standing for a word: its length and its first, second and last characters. Different
 * words may share a key — the bucket's rules check their full literal prefix anyway — but the
 * look-up needs no substring and no string hashing.
 */
function wordKey(text: string, start: number, end: number): number {
  return ((end - start) * 0x1000000 + text.charCodeAt(start) * 0x10000 + text.charCodeAt(start + 1) * 0x100 + (text.charCodeAt(end - 1) & 0xff));
}

/** rsyslog's "message repeated 3 times: [ Failed password for ...]" -> the inner message and 3. */
export function unwrapRepeated(message: string): { message: string; count: number } | undefined {
  const timesAt = message.indexOf(' times: [', REPEATED.length);
  if (timesAt < 0 || message.charCodeAt(message.length - 1) !== 93 /* ] */) return undefined;
  const n = Number(message.slice(REPEATED.length, timesAt));
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) return undefined;
  let inner = message.slice(timesAt + ' times: ['.length, -1);
  if (inner.charCodeAt(0) === 32) inner = inner.slice(1);
  return { message: inner, count: n };
}

/**
 * Compiles a rule's patterns: `<HOST>` becomes the host group; literal prefixes are extracted.
 * With `linear`, patterns must be runnable by the non-backtracking engine: lookarounds and
 * back-references are refused with an error that names the rule.
 */
export function compileRule(def: RuleDefinition, origin: string, linear = false): CompiledRule[] {
  return def.patterns.map((pattern) => {
    let regex: RegExp;
    // Sticky ('y') instead of '^': the engine matches at the message's offset inside the line.
    const body = pattern.startsWith('^') ? pattern.slice(1) : `[^]*?(?:${pattern})`;
    const source = body.split(HOST_SLOT).join(HOST_GROUP);
    const flags = linear ? 'ly' : 'y';
    try {
      // Compiled as written first, so that an error names the pattern as the user wrote it.
      regex = new RegExp(source, flags);
    } catch (e) {
      const message = (e as Error).message;
      if (linear && /linear time/.test(message)) {
        throw new Error(`${origin}: rule ${def.id}: pattern cannot run in linear time (lookarounds and back-references are not allowed in user filters, so that crafted log lines cannot stall the daemon): ${pattern}`);
      }
      throw new Error(`${origin}: rule ${def.id}: invalid pattern: ${message}`);
    }
    const numbered = numberedGroups(source);
    const at = (name: string): number => numbered.names.get(name) ?? 0;
    // A back-reference by name (\k<name>) needs its name: such a pattern keeps its named groups
    // (they are numbered all the same, so reading by number still works).
    if (!source.includes('\\k<')) regex = new RegExp(numbered.source, flags);
    const prefix = literalPrefix(pattern);
    const literal = numbered.names.size === 0 && isLiteralPattern(pattern);
    const probeAt = prefix.length - 1;
    return { def, regex, prefix, probeAt, probe: probeAt >= 0 ? prefix.charCodeAt(probeAt) : -1, host: at('host'), user: at('user'), method: at('method'), literal };
  });
}

/**
 * The pattern with its named groups made plain capturing groups, and each name's capture number.
 * Walks the source the way the regex parser does: escapes, character classes (where "(" is a
 * plain character), and "(?" groups that capture nothing (non-capturing, lookarounds). Meant for
 * a source that compiled.
 */
export function numberedGroups(source: string): { source: string; names: Map<string, number> } {
  const names = new Map<string, number>();
  let out = '';
  let captures = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      out += source.slice(i, i + 2);
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '(') {
      if (source[i + 1] !== '?') {
        captures++;
      } else if (source[i + 2] === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
        const close = source.indexOf('>', i + 3);
        if (close > 0) {
          names.set(source.slice(i + 3, close), ++captures);
          out += '(';
          i = close;
          continue;
        }
      }
    }
    out += c;
  }
  return { source: out, names };
}

/**
 * A pattern anchored with "^" that is nothing but literal text (what literalPrefix reads, to its
 * end): matching it is a startsWith test.
 */
export function isLiteralPattern(pattern: string): boolean {
  if (!pattern.startsWith('^')) return false;
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== undefined && /[^\w\s]/.test(next)) { i++; continue; }
      return false;
    }
    if ('.*+?()[]{}|^$<'.includes(c)) return false;
  }
  return true;
}

/**
 * The literal text a pattern anchored with "^" must start with: characters up to the first
 * regex metacharacter; an escaped punctuation character counts as itself. Lets the engine skip a
 * rule with a startsWith test and bucket rules by their first word.
 */
export function literalPrefix(pattern: string): string {
  if (!pattern.startsWith('^')) return '';
  let out = '';
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== undefined && /[^\w\s]/.test(next)) { out += next; i++; continue; }
      break;
    }
    if ('.*+?()[]{}|^$<'.includes(c)) {
      // A quantifier applies to the previous character, which is then not certain.
      if ('*?{'.includes(c)) out = out.slice(0, -1);
      break;
    }
    out += c;
  }
  return out;
}
