import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join } from 'node:path';
import type { Issues } from './issues.js';
import { LocatedText, type Origin } from './located.js';

/**
 * fail2ban's configuration files: Python's ConfigParser (as fail2ban configures it) plus fail2ban's
 * own additions, reimplemented so that the import reads exactly what fail2ban reads.
 *
 *  - `[section]` headers; `key = value` or `key: value`; keys are case-insensitive (lower-cased).
 *  - Multi-line values: a line indented deeper than its key continues the value (blank lines and
 *    comment lines in between do not end it); each line is stripped, trailing blank lines dropped.
 *  - Comments: a line starting with `#` or `;`; inline, only `;` preceded by white space.
 *  - `%(name)s` interpolation from the same section (or the variables given), then [DEFAULT];
 *    `%%` is a percent sign; `%(__name__)s` is the section's name. fail2ban adds
 *    `%(known/name)s` (the value this section had before a later file overrode it, else
 *    [DEFAULT]'s), `%(default/name)s` and `%(section/name)s`.
 *  - `[INCLUDES]` `before =` / `after =` (one file per line, relative to the including file's
 *    directory), read recursively before/after the file; every read `X.conf` is followed by its
 *    `X.local` when one exists.
 *  - Several files are merged in order: later values override earlier ones, section by section.
 */
export interface Entry {
  readonly value: LocatedText;
  /** Where the key is written. */
  readonly origin: Origin;
}

export type Section = Map<string, Entry>;

export class IniError extends Error {
  constructor(message: string, readonly origin: Origin | undefined) {
    super(message);
  }
}

interface ParsedFile {
  readonly defaults: Section;
  readonly sections: Map<string, Section>;
  readonly sectionOrigins: Map<string, Origin>;
}

/** Parsed files, shared between readers (filter.d/common.conf is included by most filters). */
export class FileCache {
  private readonly parsed = new Map<string, ParsedFile | null>();

  constructor(private readonly issues: Issues) {}

  get(file: string): ParsedFile | null {
    if (!this.parsed.has(file)) this.parsed.set(file, this.load(file));
    return this.parsed.get(file) ?? null;
  }

  private load(file: string): ParsedFile | null {
    let text: string;
    try {
      if (!statSync(file).isFile()) return null;
      text = readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    return parseIniText(text, file, this.issues);
  }
}

const NO_ORIGIN: Origin = { file: '', line: 0 };

/** One file, as Python's ConfigParser reads it (strict about nothing but the syntax). */
export function parseIniText(text: string, file: string, issues: Issues): ParsedFile {
  const defaults: Section = new Map();
  const sections = new Map<string, Section>();
  const sectionOrigins = new Map<string, Origin>();
  const pending = new Map<Section, Map<string, { origin: Origin; lines: { text: string; origin: Origin }[] }>>();
  const pendingOf = (s: Section): Map<string, { origin: Origin; lines: { text: string; origin: Origin }[] }> => {
    let p = pending.get(s);
    if (!p) pending.set(s, (p = new Map()));
    return p;
  };
  let cursect: Section | undefined;
  let optname: string | undefined;
  let indentLevel = 0;
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const origin: Origin = { file, line: index + 1 };
    let commentStart: number | undefined;
    for (let i = raw.indexOf(';'); i >= 0; i = raw.indexOf(';', i + 1)) {
      if (i === 0 || /\s/.test(raw[i - 1]!)) {
        commentStart = i;
        break;
      }
    }
    const stripped = raw.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) commentStart = 0;
    const value = (commentStart === undefined ? raw : raw.slice(0, commentStart)).trim();
    if (!value) {
      // Python keeps blank lines inside a value (dropped at the end when trailing).
      if (commentStart === undefined && cursect && optname) pendingOf(cursect).get(optname)?.lines.push({ text: '', origin });
      return;
    }
    const indent = Math.max(0, raw.search(/\S/));
    if (cursect && optname && indent > indentLevel) {
      pendingOf(cursect).get(optname)?.lines.push({ text: value, origin });
      return;
    }
    indentLevel = indent;
    const header = /^\[(.+)\]/.exec(value);
    if (header) {
      const name = header[1]!;
      if (name === 'DEFAULT') cursect = defaults;
      else {
        cursect = sections.get(name);
        if (!cursect) {
          cursect = new Map();
          sections.set(name, cursect);
          sectionOrigins.set(name, origin);
        }
      }
      optname = undefined;
      return;
    }
    if (!cursect) {
      issues.untranslated(origin, `text before the first [section] (fail2ban cannot read this file): ${value.slice(0, 60)}`);
      return;
    }
    const opt = /^(.*?)\s*([=:])\s*(.*)$/.exec(value);
    if (!opt || !opt[1]!.trimEnd()) {
      issues.untranslated(origin, `not a "key = value" line (fail2ban cannot read this file): ${value.slice(0, 60)}`);
      optname = undefined;
      return;
    }
    optname = opt[1]!.trimEnd().toLowerCase();
    const p = pendingOf(cursect);
    if (p.has(optname)) issues.note(origin, `"${optname}" is set twice in this section; the later value is used (fail2ban refuses such a file)`);
    p.set(optname, { origin, lines: [{ text: opt[3]!.trim(), origin }] });
  });
  for (const [section, options] of pending) {
    for (const [key, { origin, lines: valueLines }] of options) {
      const kept = [...valueLines];
      while (kept.length > 1 && kept[kept.length - 1]!.text === '') kept.pop();
      section.set(key, { origin, value: LocatedText.lines(kept, origin) });
    }
  }
  return { defaults, sections, sectionOrigins };
}

export interface InterpolationOptions {
  /** Values that take precedence over the section's own (Python's `vars`: a filter's [Init] and jail arguments). */
  readonly vars?: ReadonlyMap<string, Entry>;
  /** `%(name)s` references replaced by a fixed text instead of their value (names lower-case). */
  readonly intercept?: ReadonlyMap<string, string>;
}

const MAX_DEPTH = 10;

/** Several files merged the way fail2ban merges them. */
export class Ini {
  readonly defaults: Section = new Map();
  readonly sections = new Map<string, Section>();
  /** Per section, the values that a later file overrode (for `%(known/...)s`). */
  readonly known = new Map<string, Section>();
  readonly sectionOrigins = new Map<string, Origin>();
  /** The files read, in order. */
  readonly files: string[] = [];

  /**
   * Reads `files` (those that exist) with their includes. Missing included files are skipped, as
   * fail2ban does, and noted.
   */
  static read(files: readonly string[], cache: FileCache, issues: Issues): Ini {
    const ini = new Ini();
    for (const file of includes(files, [], cache, issues)) {
      const parsed = cache.get(file);
      if (!parsed) continue;
      ini.files.push(file);
      ini.merge(parsed);
    }
    return ini;
  }

  private merge(parsed: ParsedFile): void {
    for (const [k, v] of parsed.defaults) this.defaults.set(k, v);
    for (const [rawName, section] of parsed.sections) {
      // Conditional sections ([Definition?family=inet6]) suffix their keys with the condition.
      const cond = /^(\w+)(\?.+)$/.exec(rawName);
      const name = cond ? cond[1]! : rawName;
      const entries = cond ? new Map([...section].map(([k, v]) => [k + cond[2]!, v] as const)) : section;
      const existing = this.sections.get(name);
      if (existing) {
        let known = this.known.get(name);
        if (!known) this.known.set(name, (known = new Map()));
        for (const [k, v] of existing) if (entries.has(k)) known.set(k, v);
        for (const [k, v] of entries) existing.set(k, v);
      } else {
        this.sections.set(name, new Map(entries));
        const origin = parsed.sectionOrigins.get(rawName);
        if (origin) this.sectionOrigins.set(name, origin);
      }
    }
  }

  setDefault(key: string, value: string): void {
    this.defaults.set(key, { value: LocatedText.of(value, NO_ORIGIN), origin: NO_ORIGIN });
  }

  hasSection(name: string): boolean {
    return this.sections.has(name);
  }

  /** Section names in the order they first appeared (without DEFAULT). */
  sectionNames(): string[] {
    return [...this.sections.keys()];
  }

  /** The keys written in the section itself (not inherited from [DEFAULT]). */
  ownKeys(section: string): string[] {
    return [...(this.sections.get(section)?.keys() ?? [])];
  }

  /** The entry a key resolves to, before interpolation: vars, the section, then [DEFAULT]. */
  raw(section: string, key: string, vars?: ReadonlyMap<string, Entry>): Entry | undefined {
    const k = key.toLowerCase();
    return vars?.get(k) ?? (section === 'DEFAULT' ? undefined : this.sections.get(section)?.get(k)) ?? this.defaults.get(k);
  }

  /** The interpolated value of a key, or undefined when it is not set. Throws IniError. */
  get(section: string, key: string, options: InterpolationOptions = {}): LocatedText | undefined {
    const entry = this.raw(section, key, options.vars);
    if (!entry) return undefined;
    return this.interpolate(entry.value, section, options, 1);
  }

  /**
   * fail2ban's get_ex, used for `<tag>` look-ups: a "section/option" name is read from that
   * section ("known/x": the overridden value, else the current one; "default/x": [DEFAULT]).
   */
  getEx(section: string, name: string, options: InterpolationOptions = {}): LocatedText | undefined {
    const so = /^([\w-]+)\/([^\s>]+)$/.exec(name);
    if (so) {
      const sec = so[1]!;
      const opt = so[2]!.toLowerCase();
      const lower = sec.toLowerCase();
      if (lower === 'known') {
        const known = this.known.get(section)?.get(opt);
        if (known) return this.interpolate(known.value, section, options, 1);
        const own = this.raw(section, opt);
        if (own) return this.interpolate(own.value, section, options, 1);
      } else {
        const target = lower === 'default' ? 'DEFAULT' : sec;
        if (target === 'DEFAULT' || this.sections.has(target)) {
          const entry = this.raw(target, opt);
          if (entry) return this.interpolate(entry.value, target, {}, 1);
        }
      }
    }
    return this.get(section, name, options);
  }

  interpolate(value: LocatedText, section: string, options: InterpolationOptions, depth: number): LocatedText {
    let out = value;
    let i = 0;
    for (;;) {
      const p = out.text.indexOf('%', i);
      if (p < 0) return out;
      const c = out.text[p + 1];
      if (c === '%') {
        out = out.slice(0, p).concat(out.slice(p + 1));
        i = p + 1;
        continue;
      }
      const at = out.originAt(p);
      if (c !== '(') throw new IniError(`"%" must be followed by "%" or "(" (fail2ban cannot read this value): ${out.text.slice(p, p + 20)}`, at);
      const m = /^%\(([^)]+)\)s/.exec(out.text.slice(p));
      if (!m) throw new IniError(`bad interpolation (fail2ban cannot read this value): ${out.text.slice(p, p + 30)}`, at);
      const rawName = m[1]!;
      const name = rawName.toLowerCase();
      const entry = this.resolve(rawName, section, options.vars);
      if (!entry) throw new IniError(`%(${rawName})s: no option "${name}" in [${section}] or [DEFAULT]`, at);
      let insert: LocatedText;
      const fixed = options.intercept?.get(name);
      if (fixed !== undefined) insert = LocatedText.of(fixed, at);
      else {
        if (depth >= MAX_DEPTH) throw new IniError(`%(${rawName})s: interpolation nested more than ${MAX_DEPTH} levels (a loop?)`, at);
        insert = entry.value.text.includes('%') ? this.interpolate(entry.value, section, options, depth + 1) : entry.value;
      }
      out = out.splice(p, p + m[0].length, insert);
      i = p + insert.length;
    }
  }

  private resolve(rawName: string, section: string, vars?: ReadonlyMap<string, Entry>): Entry | undefined {
    const name = rawName.toLowerCase();
    if (name === '__name__') {
      const origin = this.sectionOrigins.get(section) ?? NO_ORIGIN;
      return { value: LocatedText.of(section, origin), origin };
    }
    const direct = this.raw(section, name, vars);
    if (direct) return direct;
    const so = /^([\w-]+)\/(.+)$/.exec(rawName);
    if (!so) return undefined;
    const sec = so[1]!;
    const opt = so[2]!.toLowerCase();
    const lower = sec.toLowerCase();
    if (lower === 'known') return this.known.get(section)?.get(opt) ?? this.defaults.get(opt);
    if (lower === 'default') return this.defaults.get(opt);
    const s = this.sections.get(sec);
    if (!s) return undefined;
    return s.get(opt) ?? this.defaults.get(opt);
  }
}

/** The files to read for `files`, with their includes, in fail2ban's order. */
function includes(files: readonly string[], seen: readonly string[], cache: FileCache, issues: Issues): string[] {
  const out: string[] = [];
  for (const file of withLocal(files)) out.push(...includesOf(file, seen, cache, issues));
  return out;
}

function withLocal(files: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    out.push(f);
    const local = f.slice(0, f.length - extname(f).length) + '.local';
    if (!files.includes(local) && local !== f && isFile(local)) out.push(local);
  }
  return out;
}

function includesOf(resource: string, seen: readonly string[], cache: FileCache, issues: Issues): string[] {
  const parsed = cache.get(resource);
  if (!parsed) return [];
  const before: string[] = [];
  const after: string[] = [];
  const inc = parsed.sections.get('INCLUDES');
  for (const [option, list] of [['before', before], ['after', after]] as const) {
    const entry = inc?.get(option);
    if (!entry) continue;
    for (const line of entry.value.splitLines()) {
      const name = line.text.trim();
      if (!name) continue;
      const r = isAbsolute(name) ? name : join(dirname(resource), name);
      if (seen.includes(r)) continue;
      if (!isFile(r)) {
        // fail2ban skips a missing include without a word; common.local and the like are optional.
        if (!r.endsWith('.local')) issues.note(line.origin, `included file ${name} does not exist (fail2ban skips it too)`);
        continue;
      }
      list.push(...includes([r], [...seen, resource], cache, issues));
    }
  }
  return [...before, resource, ...after];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * fail2ban's list of files for a configuration name ("jail", "filter.d/sshd"):
 * NAME.conf, NAME.d/*.conf, NAME.local, NAME.d/*.local — those that exist.
 */
export function configFiles(base: string): string[] {
  const list = [`${base}.conf`, ...sortedIn(`${base}.d`, '.conf'), `${base}.local`, ...sortedIn(`${base}.d`, '.local')];
  return list.filter((f) => existsSync(f));
}

function sortedIn(dir: string, ext: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // Python's sorted(glob(...)): by code point; glob's "*" skips names starting with a dot.
  return names.filter((n) => n.endsWith(ext) && !n.startsWith('.')).sort().map((n) => join(dir, n));
}
