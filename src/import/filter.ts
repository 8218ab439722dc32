import { compileRule } from '../filters/engine.js';
import { IniError, type Entry, type Ini } from './ini.js';
import type { Issues } from './issues.js';
import { LocatedText, type Origin } from './located.js';
import { PREFIX_MARK, assemblePattern, resolveTags, translatePythonRegex, type Alternative, type TagResult, type Translation } from './regex.js';
import { dateLead, dateText, readDatePattern, restoreBracketDate, type DateFormat } from './time.js';

/**
 * A fail2ban filter (filter.d/NAME.conf + .local, its includes, [Init] and [Definition]) turned
 * into rules for a warden filter, the way fail2ban's FilterReader resolves it for one jail:
 *  - variables: the filter's [Init] values, overridden by the jail's arguments
 *    (`filter = NAME[mode=aggressive, ...]`), are visible as %(name)s and as <name>;
 *  - [Definition] options are interpolated, then fail2ban's <tag> substitution runs until no
 *    known tag is left (so `<mdre-<mode>>` picks the mode's expressions);
 *  - `prefregex` with <F-CONTENT>...</F-CONTENT> is combined with each `failregex`;
 *  - `ignoreregex` becomes ignore rules placed first; <F-NOFAIL> and <F-MLFGAINED> lines become
 *    ignore rules in their place;
 *  - the syslog header (^%(__prefix_line)s) is left to warden's header parser, and `_daemon`
 *    becomes the filter's `programs`.
 */

/** fail2ban's filter options that matter to the translation. */
export const FILTER_OPTIONS = ['failregex', 'ignoreregex', 'prefregex', 'datepattern', 'journalmatch', 'maxlines'] as const;
export type FilterOption = (typeof FILTER_OPTIONS)[number];

/** `%(name)s` references that are not expanded but marked (the syslog header) or dropped. */
export const INTERCEPT: ReadonlyMap<string, string> = new Map([['__prefix_line', PREFIX_MARK], ['__date_ambit', '']]);

const REGEX_TAG = /^(?:HOST|ADDR|IP4|IP6|DNS|CIDR|SUBNET|SKIPLINES|\/?F-[\w-]+\/?)$/;

export interface ResolvedFilter {
  readonly options: Map<FilterOption, LocatedText>;
  /** The value of _daemon (the syslog program expression), when set. */
  readonly daemon: LocatedText | undefined;
  /** The filter's own default mode (its `mode` option), when it has one. */
  readonly defaultMode: string | undefined;
}

/**
 * Replaces fail2ban <tags> with option values until none that can be resolved is left; a
 * replacement can complete an enclosing tag (`<mdre-<mode>>` -> `<mdre-normal>`), hence the passes.
 */
export function substituteTags(value: LocatedText, lookup: (name: string) => LocatedText | undefined): LocatedText {
  let out = value;
  let replacements = 0;
  for (let changed = true; changed;) {
    changed = false;
    const tag = /<([^ <>]+)>/g;
    let m: RegExpExecArray | null;
    while ((m = tag.exec(out.text))) {
      const repl = lookup(m[1]!);
      if (repl === undefined) continue;
      if (++replacements > 500) throw new IniError(`<${m[1]}>: tags refer to each other in a loop`, out.originAt(m.index));
      out = out.splice(m.index, m.index + m[0].length, repl);
      tag.lastIndex = m.index;
      changed = true;
    }
  }
  return out;
}

/** Reads a filter's options as fail2ban resolves them for a jail with these arguments. */
export function resolveFilter(ini: Ini, args: ReadonlyMap<string, Entry>, logtype: 'file' | 'journal', issues: Issues): ResolvedFilter {
  const vars = new Map<string, Entry>();
  for (const key of ini.ownKeys('Init')) {
    if (key.startsWith('known/')) continue;
    try {
      const value = ini.get('Init', key, { intercept: INTERCEPT });
      if (value) vars.set(key, { value, origin: ini.raw('Init', key)!.origin });
    } catch (e) {
      report(issues, e);
    }
  }
  const initMode = vars.get('mode')?.value.text;
  for (const [k, v] of args) vars.set(k.toLowerCase(), v);
  const definition = ini.sections.get('Definition');
  if (!vars.has('logtype') && !definition?.has('logtype')) vars.set('logtype', { value: LocatedText.of(logtype, { file: '', line: 0 }), origin: { file: '', line: 0 } });
  const lookup = (name: string): LocatedText | undefined => {
    if (REGEX_TAG.test(name)) return undefined;
    const lower = name.toLowerCase();
    const fixed = INTERCEPT.get(lower);
    if (fixed !== undefined) return ini.raw('Definition', lower) ? LocatedText.of(fixed, { file: '', line: 0 }) : undefined;
    const v = vars.get(lower);
    if (v) return v.value;
    try {
      return ini.getEx('Definition', name, { vars, intercept: INTERCEPT });
    } catch {
      return undefined;
    }
  };
  const resolve = (key: string): LocatedText | undefined => {
    try {
      const v = ini.get('Definition', key, { vars, intercept: INTERCEPT });
      return v === undefined ? undefined : substituteTags(v, lookup);
    } catch (e) {
      report(issues, e, key);
      return undefined;
    }
  };
  const options = new Map<FilterOption, LocatedText>();
  for (const key of FILTER_OPTIONS) {
    const fromVars = vars.get(key)?.value;
    const v = fromVars !== undefined ? substituteTags(fromVars, lookup) : resolve(key);
    if (v !== undefined) options.set(key, v);
  }
  const daemon = resolve('_daemon');
  let defaultMode = initMode;
  if (defaultMode === undefined && ini.raw('Definition', 'mode')) {
    try {
      defaultMode = ini.get('Definition', 'mode')?.text;
    } catch {
      defaultMode = undefined;
    }
  }
  return { options, daemon, defaultMode: defaultMode?.trim() || undefined };
}

function report(issues: Issues, e: unknown, key?: string): void {
  if (e instanceof IniError) issues.untranslated(e.origin, `${key ? `${key}: ` : ''}${e.message}`);
  else throw e;
}

/** One rule before the filter-wide choices (format, order) are made. */
export interface RuleDraft {
  readonly kind: 'failregex' | 'ignoreregex';
  readonly action: 'failure' | 'ignore';
  /** Each group of alternatives becomes one pattern of the rule. */
  readonly groups: readonly (readonly Alternative[])[];
  /** It began with %(__prefix_line)s: a syslog rule. */
  readonly prefixed: boolean;
  readonly origin: Origin;
  /** Why a failregex became an ignore rule. */
  readonly why?: string;
}

/**
 * Translates one expression and checks that warden's linear-time engine accepts each alternative
 * (each may become a pattern of its own); counted repetitions are widened when that helps.
 */
function translateChecked(text: string, origin: Origin): Translation & { compileError?: string } {
  let last: Translation & { compileError?: string } = translatePythonRegex(text);
  for (const relax of [0, 1, 2] as const) {
    const t = relax === 0 ? last : translatePythonRegex(text, { relax });
    if (t.problems.length) return t;
    try {
      for (const a of t.alternatives) {
        const sources = (a.variants ?? [a.source]).filter((source) => source.split('<HOST>').length <= 2); // more: reported by the caller
        const patterns = sources.map((source) => assemblePattern([{ ...a, source }], { unbucketed: true }));
        if (patterns.length) compileRule({ id: 'check', action: 'ignore', modes: [], patterns }, `${origin.file}:${origin.line}`, true);
      }
      return t;
    } catch (e) {
      const message = (e as Error).message;
      if (!/linear time/.test(message)) return { ...t, compileError: `is not a valid JavaScript pattern: ${message.replace(/^.*?invalid pattern: /, '')}` };
      last = { ...t, compileError: 'cannot run in linear time (warden\'s engine for user filters), even with its counted repetitions widened' };
    }
  }
  return last;
}

/**
 * Splits a Python regular expression at its top-level "|" (outside groups and classes).
 */
export function splitTopLevel(py: string): string[] {
  const out: string[] = [];
  let depth = 0, inClass = false, start = 0;
  for (let i = 0; i < py.length; i++) {
    const c = py[i]!;
    if (c === '\\') { i++; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') {
      inClass = true;
      if (py[i + 1] === '^') i++;
      if (py[i + 1] === ']') i++;
    } else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === '|' && depth === 0) {
      out.push(py.slice(start, i));
      start = i + 1;
    }
  }
  out.push(py.slice(start));
  return out;
}

/**
 * fail2ban matches `failregex` against the <F-CONTENT> part of what `prefregex` matched: the
 * combination puts the failregex where the content was (its ^ anchors at the content's start).
 */
export function combineWithPrefregex(prefregex: string, failregex: string): string | undefined {
  const open = prefregex.indexOf('<F-CONTENT>');
  const close = prefregex.indexOf('</F-CONTENT>', open);
  if (open < 0 || close < 0) return undefined;
  const parts = splitTopLevel(failregex).map((alt) => {
    const t = alt.replace(/^\s*/, '');
    if (t.startsWith('^')) return t.slice(1);
    if (t.startsWith('\\A')) return t.slice(2);
    return `.*?${alt}`;
  });
  return `${prefregex.slice(0, open)}(?:${parts.join('|')})${prefregex.slice(close + '</F-CONTENT>'.length)}`;
}

/** Translates the regex lines of one mode of a filter into rule drafts, reporting what fails. */
export function draftRules(filter: ResolvedFilter, issues: Issues): RuleDraft[] {
  const drafts: RuleDraft[] = [];
  const pref = filter.options.get('prefregex');
  const prefLine = pref?.splitLines().find((l) => l.text.trim());
  let prefProblems: string[] = [];
  if (prefLine) {
    const alone = translatePythonRegex(resolveTags(prefLine.text.replace(/<F-CONTENT>.*<\/F-CONTENT>/, '.+')).text);
    prefProblems = alone.problems;
    for (const p of alone.problems) issues.untranslated(prefLine.origin, `prefregex ${p}`);
    if (!prefLine.text.includes('<F-CONTENT>')) {
      issues.untranslated(prefLine.origin, 'prefregex without <F-CONTENT> (an extra condition on the whole line) is not translated; the failregex lines are used alone');
    } else if (!alone.problems.length && !/<\/F-CONTENT>\s*\$?\s*$/.test(prefLine.text)) {
      issues.note(prefLine.origin, 'prefregex has text after </F-CONTENT>: a failregex ending in $ now has to reach the end of the line');
    }
  }
  for (const kind of ['ignoreregex', 'failregex'] as const) {
    const value = filter.options.get(kind);
    if (!value) continue;
    for (const line of value.splitLines()) {
      if (!line.text.trim()) continue;
      let text = line.text;
      if (kind === 'failregex' && prefLine && prefLine.text.includes('<F-CONTENT>')) text = combineWithPrefregex(prefLine.text, text) ?? text;
      const tags = resolveTags(text);
      const t = translateChecked(tags.text, line.origin);
      const draft = decide(kind, tags, t, line.origin, prefProblems, issues);
      if (draft) drafts.push(draft);
    }
  }
  const maxlines = filter.options.get('maxlines');
  if (maxlines && Number(maxlines.text.trim()) > 1) {
    issues.untranslated(maxlines.splitLines()[0]!.origin, `maxlines = ${maxlines.text.trim()}: fail2ban matches across ${maxlines.text.trim()} lines; warden matches one line at a time, so the multi-line part of this filter is not translated`);
  }
  return drafts;
}

function decide(kind: 'failregex' | 'ignoreregex', tags: TagResult, t: Translation & { compileError?: string }, origin: Origin, prefProblems: readonly string[], issues: Issues): RuleDraft | undefined {
  const fromPrefregex = t.problems.filter((p) => prefProblems.includes(p));
  const problems = [...tags.problems, ...t.problems.filter((p) => !prefProblems.includes(p))];
  const ignoreLine = kind === 'ignoreregex' || tags.nofail || tags.gained;
  // JavaScript allows one group named "host" per pattern: alternatives, and the variants of an
  // alternative (see Alternative.variants), become separate patterns of the rule.
  const hostsIn = (source: string): number => source.split('<HOST>').length - 1;
  let expanded = t.alternatives.flatMap((a) => (a.variants ?? [a.source]).map((source): Alternative => ({ ...a, source, hosts: hostsIn(source) })));
  const split = expanded.length > 1 && (t.hosts > 1 || expanded.length > t.alternatives.length);
  if (expanded.some((a) => a.hosts > 1)) problems.push('has two address slots in one alternative; warden takes one <HOST> per pattern');
  else if (!ignoreLine && t.hosts === 0) {
    if (tags.failureId) problems.push('identifies failures by <F-ID> instead of an address: not translated');
    else if (tags.mlfid) problems.push('has no <HOST>: fail2ban takes the address from another line of the same connection (<F-MLFID>), a multi-line match warden cannot translate');
    else problems.push('has no <HOST> (address) slot');
  } else if (!ignoreLine && split && expanded.some((a) => a.hosts === 0)) {
    issues.note(origin, `${kind}: its alternatives without <HOST> are left out (they give fail2ban no address either)`);
    expanded = expanded.filter((a) => a.hosts === 1);
  }
  if (t.compileError && !problems.length && !fromPrefregex.length) problems.push(t.compileError);
  if (problems.length) {
    for (const p of problems) issues.untranslated(origin, `${kind} ${p}`);
    return undefined;
  }
  if (fromPrefregex.length) {
    issues.untranslated(origin, `${kind} not translated: the prefregex it is combined with is not (see the prefregex line)`);
    return undefined;
  }
  for (const n of [...tags.notes, ...t.notes]) issues.note(origin, `${kind}: ${n}`);
  const prefixed = expanded.some((a) => a.prefixed);
  if (expanded.some((a) => a.prefixed && !a.anchored)) {
    issues.note(origin, `${kind} has %(__prefix_line)s without ^: fail2ban searched the whole line, warden searches the message`);
  }
  let why: string | undefined;
  if (kind === 'failregex' && tags.nofail) why = 'fail2ban <F-NOFAIL>: matched, never counted';
  else if (kind === 'failregex' && tags.gained) why = 'fail2ban <F-MLFGAINED>: a successful login, never counted';
  if (why) {
    const tag = tags.nofail ? '<F-NOFAIL>' : '<F-MLFGAINED>';
    issues.note(origin, tags.mlfid
      ? `failregex with ${tag} becomes an ignore rule; its multi-line effect on the connection (<F-MLFID>) is not translated`
      : `failregex with ${tag} becomes an ignore rule (recognised, never counted)`);
  }
  const groups = split ? expanded.map((a) => [a]) : [expanded];
  return { kind, action: ignoreLine ? 'ignore' : 'failure', groups, prefixed, origin, ...(why ? { why } : {}) };
}

export type LineFormatChoice = { readonly kind: 'syslog' } | { readonly kind: 'plain'; readonly format: DateFormat };

export interface FilterRule {
  readonly id: string;
  readonly action: 'failure' | 'ignore';
  readonly patterns: readonly string[];
  readonly modes: string[];
  readonly note: string;
}

/**
 * The final rules of a warden filter from the drafts of each mode: ignore rules first, then the
 * failregex rules in fail2ban's order; one rule per distinct pattern, listing its modes.
 */
export function buildRules(
  byMode: ReadonlyMap<string, readonly RuleDraft[]>,
  format: LineFormatChoice,
  issues: Issues,
  display: (file: string) => string,
): FilterRule[] {
  const anyIgnore = [...byMode.values()].some((d) => d.some((r) => r.action === 'ignore'));
  // A service's own log: fail2ban matched the line without its date, warden matches all of it.
  const plain = (a: Alternative): Alternative => {
    if (format.kind !== 'plain') return a;
    let source = restoreBracketDate(a.source, format.format);
    if (a.anchored && format.format.atStart && !source.startsWith(dateText(format.format))) source = `${dateLead(format.format)}${source}`;
    return { ...a, source };
  };
  const rules: FilterRule[] = [];
  const byKey = new Map<string, FilterRule>();
  const counters = new Map<string, number>();
  for (const pass of ['ignoreregex', 'failregex'] as const) {
    for (const [mode, drafts] of byMode) {
      for (const d of drafts) {
        if (d.kind !== pass) continue;
        const alternatives = d.groups.flat();
        if (format.kind === 'syslog' && !d.prefixed && alternatives.some((a) => a.anchored)) {
          issues.untranslated(d.origin, `${d.kind} is anchored at the start of the line (^) without %(__prefix_line)s: on syslog lines that is the header, which warden parses itself; not translated`);
          continue;
        }
        if (format.kind === 'plain' && d.prefixed) {
          issues.untranslated(d.origin, `${d.kind} uses %(__prefix_line)s but the log is not syslog; not translated`);
          continue;
        }
        if (format.kind === 'syslog' && !d.prefixed) {
          issues.note(d.origin, `${d.kind} has no %(__prefix_line)s: fail2ban searched the whole line, warden searches the message after the syslog header`);
        }
        const patterns = d.groups.map((g) => assemblePattern(g.map(plain), { unbucketed: anyIgnore }));
        const key = `${d.action}\0${patterns.join('\0')}`;
        const existing = byKey.get(key);
        if (existing) {
          if (!existing.modes.includes(mode)) existing.modes.push(mode);
          continue;
        }
        const base = d.kind === 'ignoreregex' ? 'ignoreregex' : d.action === 'ignore' ? 'nofail' : 'failregex';
        const n = (counters.get(base) ?? 0) + 1;
        counters.set(base, n);
        const where = `fail2ban ${display(d.origin.file)}:${d.origin.line}`;
        const rule: FilterRule = { id: `${base}-${n}`, action: d.action, patterns, modes: [mode], note: d.why ? `${where} (${d.why})` : where };
        byKey.set(key, rule);
        rules.push(rule);
      }
    }
  }
  return rules;
}

/**
 * Program names from fail2ban's `_daemon` expression, when it is a plain name or a finite
 * alternation ("sshd", "(?:sshd|sshd-session)", "dovecot(?:-auth)?"); undefined otherwise.
 */
export function expandDaemon(re: string): string[] | undefined {
  let pos = 0;
  const LIMIT = 64;
  const cross = (a: string[], b: string[]): string[] | undefined => {
    const out: string[] = [];
    for (const x of a) for (const y of b) out.push(x + y);
    return out.length > LIMIT ? undefined : out;
  };
  const seq = (): string[] | undefined => {
    let acc: string[] = [''];
    while (pos < re.length && re[pos] !== '|' && re[pos] !== ')') {
      let atom: string[] | undefined;
      const c = re[pos]!;
      if (c === '(') {
        pos += re.startsWith('(?:', pos) ? 3 : 1;
        atom = alts();
        if (atom === undefined || re[pos] !== ')') return undefined;
        pos++;
      } else if (c === '\\') {
        const n = re[pos + 1];
        if (n === undefined || /[A-Za-z0-9]/.test(n)) return undefined;
        atom = [n];
        pos += 2;
      } else if (/[A-Za-z0-9_\-/@]/.test(c)) {
        atom = [c];
        pos++;
      } else return undefined;
      if (re[pos] === '?') {
        atom = ['', ...atom];
        pos++;
      }
      const next = cross(acc, atom);
      if (!next) return undefined;
      acc = next;
    }
    return acc;
  };
  const alts = (): string[] | undefined => {
    const out: string[] = [];
    for (;;) {
      const s = seq();
      if (!s) return undefined;
      out.push(...s);
      if (re[pos] !== '|') return out;
      pos++;
    }
  };
  let text = re.trim();
  if (text.startsWith('^')) text = text.slice(1);
  if (text.endsWith('$')) text = text.slice(0, -1);
  re = text;
  const result = alts();
  if (!result || pos !== re.length || result.some((p) => p === '')) return undefined;
  return [...new Set(result)];
}

/** Journal matches from fail2ban's journalmatch: OR groups ("+" or separate lines) of FIELD=value terms. */
export function journalGroups(value: LocatedText): { groups: string[][]; origin: Origin } | undefined {
  const groups: string[][] = [];
  let origin: Origin | undefined;
  for (const line of value.splitLines()) {
    if (!line.text.trim()) continue;
    origin ??= line.origin;
    let current: string[] = [];
    for (const word of shellWords(line.text)) {
      if (word === '+') {
        if (current.length) groups.push(current);
        current = [];
      } else current.push(word);
    }
    if (current.length) groups.push(current);
  }
  return origin ? { groups, origin } : undefined;
}

function shellWords(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] ?? m[3]!);
  return out;
}

/** Reads a datepattern value (first non-empty line counts). */
export function datePatternOf(value: LocatedText | undefined): { reading: ReturnType<typeof readDatePattern>; origin: Origin; text: string } | undefined {
  const line = value?.splitLines().find((l) => l.text.trim());
  if (!line) return undefined;
  return { reading: readDatePattern(line.text), origin: line.origin, text: line.text.trim() };
}
