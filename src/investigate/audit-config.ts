/**
 * sshd configuration as sshd itself reads it, for `warden audit ssh`:
 *
 * - the EFFECTIVE configuration from `sshd -T` (keywords lowercased, one "keyword value" per line,
 *   list keywords repeated), parsed by `parseSshdT`;
 * - the files themselves (`readSshdConfig`): the main file and everything it Includes, with the
 *   rules of OpenSSH's servconf.c, so the audit can say WHERE a value comes from, whether a
 *   drop-in directory is covered by an Include at global scope, and — when `sshd -T` cannot run
 *   (not root, no host keys, sshd not running) — what the global values are:
 *     · a line is "Keyword value…" or "Keyword=value…"; keywords are case-insensitive; a token
 *       starting with "#" ends the line; arguments are split like argv_split() (quotes, \-escapes);
 *     · for most keywords the FIRST value read wins; AllowUsers/DenyUsers/AllowGroups/DenyGroups,
 *       AcceptEnv, HostKey, Port, ListenAddress accumulate; AuthorizedKeysFile, AuthenticationMethods
 *       and the like take the first LINE;
 *     · "Match …" starts a conditional block (inactive for the global configuration) that lasts
 *       until the next Match or the end of the file that contains it; "Match all" is global again;
 *     · "Include" takes glob patterns, relative ones under /etc/ssh (not the including file's
 *       directory), expanded in sorted order; an included file cannot change the includer's Match
 *       state, and an Include inside a Match block applies only to that block.
 *   The compiled-in defaults of the fallback are those of OpenSSH 7.0 and later; the default
 *   algorithm lists are not guessed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export const SSHDIR = '/etc/ssh';

/** sshd -T style effective configuration: lowercased keyword -> the values of its lines. */
export type Effective = ReadonlyMap<string, readonly string[]>;

export function first(eff: Effective, key: string): string | undefined {
  return eff.get(key)?.[0];
}

/** Parses `sshd -T` output. */
export function parseSshdT(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const sp = line.indexOf(' ');
    const key = (sp < 0 ? line : line.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? '' : line.slice(sp + 1).trim();
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

// ------------------------------------------------------------------ tokenizing

/**
 * OpenSSH's argv_split(…, terminate_on_comment=1): whitespace-separated arguments, "…" and '…'
 * quoting, \" \' \\ and (outside quotes) "\ " escapes, a token starting with "#" ends the line.
 * Returns null for an unterminated quote (sshd: "invalid quotes").
 */
export function argvSplit(s: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') { i++; continue; }
    if (c === '#') break;
    let quote = '';
    let arg = '';
    for (; i < s.length; i++) {
      const ch = s[i]!;
      const next = s[i + 1];
      if (ch === '\\') {
        if (next === '\'' || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          i++;
          arg += next;
        } else {
          arg += ch;
        }
      } else if (quote === '' && (ch === ' ' || ch === '\t')) {
        break;
      } else if (quote === '' && (ch === '"' || ch === '\'')) {
        quote = ch;
      } else if (quote !== '' && ch === quote) {
        quote = '';
      } else {
        arg += ch;
      }
    }
    if (quote !== '') return null;
    out.push(arg);
  }
  return out;
}

/** Splits a config line into its keyword and the rest ("Keyword value", "Keyword=value", "Keyword = value"). */
export function splitKeyword(line: string): { keyword: string; rest: string } | null {
  const m = /^[ \t\r\f]*([^ \t\r\f=]+)[ \t\r\f]*(?:=[ \t\r\f]*)?(.*?)[ \t\r\f\n]*$/.exec(line);
  if (!m || !m[1] || m[1].startsWith('#')) return null;
  return { keyword: m[1], rest: m[2] ?? '' };
}

// ------------------------------------------------------------------ globbing

/** A glob(3) segment pattern (* ? [...] with ! or ^ negation, \ escapes) as an anchored regex. */
export function segmentRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRegex(pattern[++i]!);
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) { re += '\\['; continue; }
      let body = pattern.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) { negate = true; body = body.slice(1); }
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (x) => `\\${x}`)}]`;
      i = close;
    } else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, (x) => `\\${x}`);
}

const GLOB_CHARS = /[*?[]/;

/** Whether an absolute path matches an absolute glob pattern (segment by segment; * never matches a leading dot). */
export function globMatches(pattern: string, path: string): boolean {
  const ps = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  const xs = resolve(path).split('/').filter((s, i) => s !== '' || i === 0);
  if (ps.length !== xs.length) return false;
  return ps.every((p, i) => {
    const x = xs[i]!;
    if (!GLOB_CHARS.test(p)) return p.replace(/\\(.)/g, '$1') === x;
    if (x.startsWith('.') && !p.startsWith('.')) return false;
    return segmentRegex(p).test(x);
  });
}

/** Expands an absolute glob pattern like glob(3) with no flags: matches sorted, none -> []. */
export function expandGlob(pattern: string): string[] {
  const segments = pattern.split('/').filter(Boolean);
  let bases = ['/'];
  for (const seg of segments) {
    const next: string[] = [];
    for (const base of bases) {
      if (!GLOB_CHARS.test(seg)) {
        const p = join(base, seg.replace(/\\(.)/g, '$1'));
        if (existsAny(p)) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      const re = segmentRegex(seg);
      for (const name of names.sort()) {
        if (name.startsWith('.') && !seg.startsWith('.')) continue;
        if (re.test(name)) next.push(join(base, name));
      }
    }
    bases = next;
  }
  return bases.sort();
}

function existsAny(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ reading the files

export interface ConfigLine {
  readonly file: string;
  readonly line: number;
  /** As written. */
  readonly keyword: string;
  /** Canonical lowercase keyword (aliases resolved: challengeresponseauthentication -> kbdinteractiveauthentication). */
  readonly key: string;
  readonly args: string[];
  /** Applies globally (outside any Match block that is inactive without a connection). */
  readonly active: boolean;
  /** The Match line of the block this line is in, if any. */
  readonly match: string | null;
  /** Position in sshd's reading order (lines and Includes share the sequence). */
  readonly seq: number;
}

export interface IncludeInfo {
  readonly file: string;
  readonly line: number;
  /** The pattern as sshd resolves it (absolute). */
  readonly pattern: string;
  /** Applies to the global configuration (not inside a Match block). */
  readonly global: boolean;
  readonly matched: string[];
  readonly seq: number;
}

export interface MatchInfo {
  readonly file: string;
  readonly line: number;
  readonly criteria: string;
}

export interface ParsedConfig {
  readonly main: string;
  /** Every file read, in reading order. */
  readonly files: string[];
  /** Every directive line, in reading order (Include and Match lines excluded). */
  readonly lines: ConfigLine[];
  readonly includes: IncludeInfo[];
  readonly matches: MatchInfo[];
  /** Problems sshd would refuse to start with, or that this reader could not follow. */
  readonly problems: string[];
  /** Each file's stretch of the reading order (a file included twice has two). */
  readonly spans: Array<{ readonly file: string; readonly start: number; readonly end: number }>;
}

const ALIASES: Readonly<Record<string, string>> = {
  challengeresponseauthentication: 'kbdinteractiveauthentication',
  pubkeyacceptedkeytypes: 'pubkeyacceptedalgorithms',
  hostbasedacceptedkeytypes: 'hostbasedacceptedalgorithms',
};

export function canonicalKey(keyword: string): string {
  const k = keyword.toLowerCase();
  return ALIASES[k] ?? k;
}

const MAX_DEPTH = 16;

export interface ReadOptions {
  /** Directory relative Include patterns are resolved against (sshd's compiled-in SSHDIR). */
  readonly sshDir?: string;
}

/** Reads the main configuration file and everything it includes. Throws when the main file cannot be read. */
export function readSshdConfig(main: string, options: ReadOptions = {}): ParsedConfig {
  const sshDir = options.sshDir ?? SSHDIR;
  const result = {
    main, files: [] as string[], lines: [] as ConfigLine[], includes: [] as IncludeInfo[], matches: [] as MatchInfo[], problems: [] as string[],
    spans: [] as Array<{ file: string; start: number; end: number }>,
  };
  let seq = 0;
  const text = readFileSync(main, 'utf8');
  parseFile(main, text, true, 0);
  return result;

  /** `active`: the includer's state (false: included from inside a Match block, "never match"). */
  function parseFile(file: string, content: string, includedActive: boolean, depth: number): void {
    result.files.push(file);
    const start = seq++;
    let active = includedActive;
    let match: string | null = includedActive ? null : '(Include inside a Match block)';
    const lines = content.split('\n');
    lines.forEach((raw, i) => {
      const lineNo = i + 1;
      const split = splitKeyword(raw);
      if (!split) return;
      if (!split.rest) {
        result.problems.push(`${file} line ${lineNo}: no argument after keyword "${split.keyword}"`);
        return;
      }
      const args = argvSplit(split.rest);
      if (args === null) {
        result.problems.push(`${file} line ${lineNo}: invalid quotes`);
        return;
      }
      const key = canonicalKey(split.keyword);
      if (key === 'match') {
        const criteria = args.join(' ');
        result.matches.push({ file, line: lineNo, criteria });
        // Without a connection every criterion fails, except "all" (a common way to end a block).
        const all = args.length === 1 && args[0]!.toLowerCase() === 'all';
        active = includedActive && all;
        match = all ? null : `Match ${criteria}`;
        return;
      }
      if (key === 'include') {
        for (const arg of args) {
          const pattern = arg.startsWith('~') ? arg : includePattern(arg, sshDir);
          if (pattern.startsWith('~')) {
            result.problems.push(`${file} line ${lineNo}: Include ${arg}: "~" paths are not followed by this reader`);
            continue;
          }
          const matched = expandGlob(pattern);
          result.includes.push({ file, line: lineNo, pattern, global: active, matched, seq: seq++ });
          if (depth + 1 > MAX_DEPTH) {
            result.problems.push(`${file} line ${lineNo}: Include nested too deeply (sshd stops at ${MAX_DEPTH})`);
            continue;
          }
          for (const path of matched) {
            let inner: string;
            try {
              inner = readFileSync(path, 'utf8');
            } catch (e) {
              result.problems.push(`${path} (included from ${file} line ${lineNo}): ${(e as Error).message}`);
              continue;
            }
            parseFile(path, inner, active, depth + 1);
          }
        }
        return;
      }
      result.lines.push({ file, line: lineNo, keyword: split.keyword, key, args, active, match, seq: seq++ });
    });
    result.spans.push({ file, start, end: seq++ });
  }
}

// ------------------------------------------------------------------ global values from the files

/** Keywords whose lines accumulate (every active line adds its arguments). */
const ACCUMULATE = new Set(['allowusers', 'denyusers', 'allowgroups', 'denygroups', 'acceptenv', 'hostkey', 'hostcertificate', 'port', 'listenaddress', 'subsystem']);
/** Keywords printed by sshd -T one value per line. */
const PER_VALUE = new Set(['allowusers', 'denyusers', 'allowgroups', 'denygroups', 'acceptenv', 'hostkey', 'hostcertificate', 'port', 'listenaddress']);
/** Keywords sshd reads even inside a Match block for the global configuration (they are not allowed in Match at all). */
const IGNORES_MATCH = new Set(['ciphers', 'macs', 'kexalgorithms', 'syslogfacility']);

/** Compiled-in defaults of OpenSSH >= 7.0 for the keywords the audit reads (crypto lists are not guessed). */
export const DEFAULTS: Readonly<Record<string, string>> = {
  permitrootlogin: 'prohibit-password',
  passwordauthentication: 'yes',
  kbdinteractiveauthentication: 'yes',
  permitemptypasswords: 'no',
  maxauthtries: '6',
  logingracetime: '120',
  x11forwarding: 'no',
  pubkeyauthentication: 'yes',
  usepam: 'no',
  maxstartups: '10:30:100',
  persourcemaxstartups: 'none',
  clientaliveinterval: '0',
  clientalivecountmax: '3',
  authorizedkeysfile: '.ssh/authorized_keys .ssh/authorized_keys2',
  authorizedkeyscommand: 'none',
  authenticationmethods: 'any',
  strictmodes: 'yes',
  permituserenvironment: 'no',
  hostbasedauthentication: 'no',
  ignorerhosts: 'yes',
  loglevel: 'INFO',
  syslogfacility: 'AUTH',
  forcecommand: 'none',
  chrootdirectory: 'none',
  gatewayports: 'no',
  permittunnel: 'no',
  requiredrsasize: '1024',
};

/** Where the first globally effective value of a keyword comes from, or undefined when none is set. */
export function origin(parsed: ParsedConfig, key: string): ConfigLine | undefined {
  const wantsActive = !IGNORES_MATCH.has(key);
  return parsed.lines.find((l) => l.key === key && (l.active || !wantsActive));
}

/**
 * The global configuration from the files, shaped like `sshd -T` output (values normalised the
 * way sshd prints them: yes/no lowercase, times in seconds, MaxStartups as a:b:c).
 */
export function effectiveFromFiles(parsed: ParsedConfig): { effective: Map<string, string[]>; problems: string[] } {
  const effective = new Map<string, string[]>();
  const problems: string[] = [];
  for (const l of parsed.lines) {
    if (!l.active && !IGNORES_MATCH.has(l.key)) continue;
    if (ACCUMULATE.has(l.key)) {
      const list = effective.get(l.key) ?? [];
      if (PER_VALUE.has(l.key)) list.push(...l.args);
      else list.push(l.args.join(' '));
      effective.set(l.key, list);
      continue;
    }
    if (effective.has(l.key)) continue;
    const value = normalise(l.key, l.args);
    if (value instanceof Error) {
      problems.push(`${l.file} line ${l.line}: ${l.keyword}: ${value.message}`);
      continue;
    }
    effective.set(l.key, [value]);
  }
  for (const [key, value] of Object.entries(DEFAULTS)) if (!effective.has(key)) effective.set(key, [value]);
  return { effective, problems };
}

const YES_NO = new Set(['passwordauthentication', 'kbdinteractiveauthentication', 'permitemptypasswords', 'x11forwarding',
  'pubkeyauthentication', 'usepam', 'strictmodes', 'hostbasedauthentication', 'allowagentforwarding', 'usedns',
  'printmotd', 'tcpkeepalive', 'permittty', 'exposeauthinfo', 'disableforwarding', 'gssapiauthentication', 'kerberosauthentication']);
const TIMES = new Set(['logingracetime', 'clientaliveinterval']);

/** One keyword's value as `sshd -T` prints it. */
export function normalise(key: string, args: readonly string[]): string | Error {
  const v = args[0] ?? '';
  if (YES_NO.has(key)) {
    const low = v.toLowerCase();
    return low === 'yes' || low === 'no' ? low : new Error(`"${v}" is not yes or no`);
  }
  if (TIMES.has(key)) {
    const s = convtime(v);
    return s === null ? new Error(`"${v}" is not a time`) : String(s);
  }
  switch (key) {
    case 'permitrootlogin': {
      const low = v.toLowerCase();
      if (low === 'without-password') return 'prohibit-password';
      return ['yes', 'no', 'prohibit-password', 'forced-commands-only'].includes(low) ? low : new Error(`unsupported value "${v}"`);
    }
    case 'maxstartups': {
      const m = /^(\d+)(?::(\d+):(\d+))?$/.exec(v);
      if (!m) return new Error(`"${v}" is not N or start:rate:full`);
      return m[2] === undefined ? `${m[1]}:30:${m[1]}` : `${m[1]}:${m[2]}:${m[3]}`;
    }
    case 'loglevel':
    case 'syslogfacility':
      return v.toUpperCase();
    case 'authorizedkeysfile':
    case 'authenticationmethods':
    case 'forcecommand':
    case 'authorizedkeyscommand':
      return args.join(' ');
    default:
      return args.join(' ');
  }
}

/** OpenSSH convtime(): "90", "2m", "1h30m", "1w" -> seconds; null when malformed. */
export function convtime(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+)([sSmMhHdDwW])/y;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
  let total = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return null;
    total += Number(m[1]) * unit[m[2]!.toLowerCase()]!;
    at = re.lastIndex;
  }
  return text.length ? total : null;
}

/**
 * Where a file at `path` is (or would be) read: its position in the reading order, or null when
 * no global Include covers it. A file that does not exist yet is placed among the matches of the
 * covering Include in sorted order, as glob(3) would list it.
 */
export function readingPosition(parsed: ParsedConfig, path: string): number | null {
  const own = parsed.spans.find((s) => s.file === path);
  if (own) return own.start;
  const hit = parsed.includes.find((i) => i.global && globMatches(i.pattern, path));
  if (!hit) return null;
  const before = hit.matched.filter((m) => m < path);
  const last = before[before.length - 1];
  const span = last === undefined ? undefined : parsed.spans.filter((s) => s.file === last && s.start > hit.seq).sort((a, b) => a.start - b.start)[0];
  return span ? span.end : hit.seq;
}

/** Global lines setting `key` that sshd reads before position `at` (they win over a later value). */
export function setBefore(parsed: ParsedConfig, key: string, at: number, except: string): ConfigLine[] {
  const wantsActive = !IGNORES_MATCH.has(key);
  return parsed.lines.filter((l) => l.key === key && l.seq < at && l.file !== except && (l.active || !wantsActive));
}

/** Resolves a path as sshd resolves Include arguments. */
export function includePattern(arg: string, sshDir = SSHDIR): string {
  return isAbsolute(arg) ? arg : `${sshDir}/${arg}`;
}
