import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';

/**
 * A filter is data, not code: a YAML file in filters/library/ (or a user's directory) that says
 * which programs it listens to and which message shapes mean what. Adding a service is adding a
 * YAML file and its annotated sample log; the engine never changes.
 */
export type RuleAction =
  /** The line is a failed attempt by `<HOST>`: counted toward a ban. */
  | 'failure'
  /** A successful login by `<HOST>`: feeds the lockout guard and compromise alerts. */
  | 'success'
  /** Remembers that this process (pid) is in a state; a later `requires` rule consumes it. */
  | 'mark'
  /** Recognised and deliberately not counted (so `warden test` does not list it as a gap). */
  | 'ignore';

export interface RuleDefinition {
  readonly id: string;
  /** Modes in which the rule is active; `aggressive` includes every rule automatically. */
  readonly modes: readonly string[];
  readonly action: RuleAction;
  /**
   * Regular expressions over the message (after the syslog header); the rule matches when one does.
   * `<HOST>` is the address slot. Several variants of one message are listed rather than joined with
   * an optional group, so each keeps a literal prefix the engine can dispatch on.
   */
  readonly patterns: readonly string[];
  /** For 'mark': the state name. For others: only match when the same pid carries this mark. */
  readonly mark?: string;
  readonly requires?: string;
  /** Why the rule exists or why it is not counted; shown by `warden test`. */
  readonly note?: string;
}

export interface FilterDefinition {
  readonly name: string;
  readonly description: string;
  /** Syslog program names (the tag before "[pid]:") this filter reads; empty = every program. */
  readonly programs: readonly string[];
  readonly modes: readonly string[];
  readonly defaultMode: string;
  /** Messages are cut to this many characters before matching (linear cost per line, bounded). */
  readonly maxMessageLength: number;
  /** How lines are framed: syslog ("DATE HOST PROG[PID]: MSG") or a service's own log format. */
  readonly format: LineFormat;
  readonly rules: readonly RuleDefinition[];
  /** Where it was loaded from, for error messages. */
  readonly origin: string;
  /**
   * Built-in filters are reviewed and tested here; any other file is the user's, and its patterns
   * must run in linear time (they are compiled for V8's non-backtracking engine, see engine.ts).
   */
  readonly builtin: boolean;
}

/**
 * A service's own log format (web server, FTP server, mail server log files): the whole line is
 * the message, and its date is found by `date` (a pattern with a (?<date>...) group) and read with
 * one of the known layouts.
 */
export type LineFormat =
  | { readonly kind: 'syslog' }
  | { readonly kind: 'plain'; readonly date: string; readonly layout: DateLayout };

export type DateLayout = 'iso' | 'ymd-slash' | 'clf' | 'ctime' | 'apache';
export const DATE_LAYOUTS: readonly DateLayout[] = ['iso', 'ymd-slash', 'clf', 'ctime', 'apache'];

export class FilterDefinitionError extends Error {}

const LIBRARY_DIR = fileURLToPath(new URL('./library/', import.meta.url));

/** The names of the filters that ship with warden. */
export function builtinFilterNames(): string[] {
  return readdirSync(LIBRARY_DIR).filter((f) => f.endsWith('.yaml')).map((f) => basename(f, '.yaml')).sort();
}

export function builtinFilterPath(name: string): string {
  return join(LIBRARY_DIR, `${name}.yaml`);
}

/**
 * The build (scripts/copy-assets.mjs) stores each built-in filter's YAML, already parsed, as JSON
 * beside it: loading the YAML parser and parsing sshd.yaml is ~90 ms of every `warden report` or
 * `warden test` run, more than reading a day of logs' worth of candidates. The JSON is only used
 * while it is at least as new as its YAML (an edited YAML is read as YAML), and goes through the
 * same validation.
 */
export function builtinFilterDataPath(name: string): string {
  return join(LIBRARY_DIR, `${name}.json`);
}

function prebuiltData(yamlPath: string): unknown {
  const jsonPath = yamlPath.replace(/\.yaml$/, '.json');
  try {
    if (statSync(jsonPath).mtimeMs < statSync(yamlPath).mtimeMs) return undefined;
    return JSON.parse(readFileSync(jsonPath, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

const cache = new Map<string, FilterDefinition>();

/** Loads a built-in filter by name, or a filter file by path (anything containing a slash). */
export function loadFilter(nameOrPath: string): FilterDefinition {
  const builtin = !nameOrPath.includes('/');
  const path = builtin ? builtinFilterPath(nameOrPath) : nameOrPath;
  const cached = cache.get(path);
  if (cached) return cached;
  const data = builtin ? prebuiltData(path) : undefined;
  if (data !== undefined) {
    const def = filterDefinitionFromData(data, path, true);
    cache.set(path, def);
    return def;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const known = builtinFilterNames().join(', ');
    throw new FilterDefinitionError(`filter "${nameOrPath}": cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}); built-in filters: ${known}`);
  }
  const def = parseFilterDefinition(text, path, builtin);
  cache.set(path, def);
  return def;
}

/** The YAML text of a filter file as plain data (what the build stores as JSON for built-ins). */
export function parseFilterYaml(text: string, origin: string): unknown {
  // Loaded on first use only: most runs read the prebuilt JSON of the built-in filters.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new FilterDefinitionError(`${origin}: ${doc.errors[0]!.message}`);
  return doc.toJS() as unknown;
}

export function parseFilterDefinition(text: string, origin: string, builtin = false): FilterDefinition {
  return filterDefinitionFromData(parseFilterYaml(text, origin), origin, builtin);
}

/** Validates a filter file's data (parsed YAML or its prebuilt JSON) into a definition. */
export function filterDefinitionFromData(raw: unknown, origin: string, builtin: boolean): FilterDefinition {
  const where = (key: string): string => `${origin}: ${key}`;
  if (!isRecord(raw)) throw new FilterDefinitionError(`${origin}: a filter file is a mapping with name, programs, rules`);
  const name = str(raw['name'], where('name'));
  const modes = raw['modes'] === undefined ? ['normal'] : strList(raw['modes'], where('modes'));
  if (!modes.includes('aggressive')) modes.push('aggressive');
  const rulesRaw = raw['rules'];
  if (!Array.isArray(rulesRaw) || rulesRaw.length === 0) throw new FilterDefinitionError(`${where('rules')}: must be a non-empty list`);
  const ids = new Set<string>();
  const rules = rulesRaw.map((r: unknown, i: number): RuleDefinition => {
    const at = where(`rules[${i}]`);
    if (!isRecord(r)) throw new FilterDefinitionError(`${at}: must be a mapping`);
    const id = str(r['id'], `${at}.id`);
    if (ids.has(id)) throw new FilterDefinitionError(`${at}.id: duplicate rule id "${id}"`);
    ids.add(id);
    const action = (r['action'] ?? 'failure') as RuleAction;
    if (!['failure', 'success', 'mark', 'ignore'].includes(action)) {
      throw new FilterDefinitionError(`${at}.action: must be failure, success, mark or ignore, not "${String(action)}"`);
    }
    const ruleModes = r['modes'] === undefined ? [...modes] : strList(r['modes'], `${at}.modes`);
    for (const m of ruleModes) {
      if (!modes.includes(m)) throw new FilterDefinitionError(`${at}.modes: unknown mode "${m}" (filter modes: ${modes.join(', ')})`);
    }
    const patterns = typeof r['pattern'] === 'string' ? [str(r['pattern'], `${at}.pattern`)] : strList(r['pattern'], `${at}.pattern`);
    if (patterns.length === 0) throw new FilterDefinitionError(`${at}.pattern: a pattern or a list of patterns`);
    for (const pattern of patterns) {
      if ((action === 'failure' || action === 'success') && !pattern.includes('<HOST>')) {
        throw new FilterDefinitionError(`${at}.pattern: a ${action} rule needs a <HOST> slot in every pattern`);
      }
    }
    const rule: RuleDefinition = {
      id, action, patterns, modes: ruleModes,
      ...(r['mark'] !== undefined ? { mark: str(r['mark'], `${at}.mark`) } : {}),
      ...(r['requires'] !== undefined ? { requires: str(r['requires'], `${at}.requires`) } : {}),
      ...(r['note'] !== undefined ? { note: str(r['note'], `${at}.note`) } : {}),
    };
    if (action === 'mark' && !rule.mark) throw new FilterDefinitionError(`${at}.mark: a mark rule names the mark it sets`);
    return rule;
  });
  const marks = new Set(rules.filter((r) => r.action === 'mark').map((r) => r.mark));
  for (const [i, r] of rules.entries()) {
    if (r.requires && !marks.has(r.requires)) throw new FilterDefinitionError(`${where(`rules[${i}].requires`)}: no rule sets mark "${r.requires}"`);
  }
  const defaultMode = raw['default_mode'] === undefined ? (modes[0] as string) : str(raw['default_mode'], where('default_mode'));
  if (!modes.includes(defaultMode)) throw new FilterDefinitionError(`${where('default_mode')}: "${defaultMode}" is not one of ${modes.join(', ')}`);
  const maxLen = raw['max_message_length'] === undefined ? 2048 : Number(raw['max_message_length']);
  if (!Number.isInteger(maxLen) || maxLen < 64) throw new FilterDefinitionError(`${where('max_message_length')}: an integer >= 64`);
  return {
    name, modes, defaultMode, rules, origin, builtin, format: readFormat(raw['format'], where('format')),
    description: raw['description'] === undefined ? '' : str(raw['description'], where('description')),
    programs: raw['programs'] === undefined ? [] : strList(raw['programs'], where('programs')),
    maxMessageLength: maxLen,
  };
}

function readFormat(v: unknown, where: string): LineFormat {
  if (v === undefined || v === 'syslog') return { kind: 'syslog' };
  if (!isRecord(v)) throw new FilterDefinitionError(`${where}: "syslog" or { date: PATTERN, layout: ${DATE_LAYOUTS.join('|')} }`);
  const date = str(v['date'], `${where}.date`);
  if (!date.includes('(?<date>')) throw new FilterDefinitionError(`${where}.date: the pattern needs a (?<date>...) group`);
  try {
    new RegExp(date);
  } catch (e) {
    throw new FilterDefinitionError(`${where}.date: invalid pattern: ${(e as Error).message}`);
  }
  const layout = str(v['layout'], `${where}.layout`) as DateLayout;
  if (!DATE_LAYOUTS.includes(layout)) throw new FilterDefinitionError(`${where}.layout: one of ${DATE_LAYOUTS.join(', ')}, not "${layout}"`);
  return { kind: 'plain', date, layout };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new FilterDefinitionError(`${where}: must be a non-empty string`);
  return v;
}

function strList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new FilterDefinitionError(`${where}: must be a list of strings`);
  return [...(v as string[])];
}
