import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { parseCidr } from '../util/ip.js';
import { loadFilter } from '../filters/definition.js';
import { defaultConfigYaml } from './defaults.js';
import { ConfigError, type Config, type EscalationConfig, type FirewallBackend, type JailConfig, type SourceConfig } from './schema.js';

/**
 * Reads and validates configuration. Every error names the file, the line and the key, and says
 * what is expected, so "exit 2 with the exact problem, nothing applied" is one message away.
 * Unknown keys are errors too: a misspelt `bantime` silently ignored would be a security hole.
 */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read the configuration (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseConfig(text, path);
}

export function loadDefaultConfig(): Config {
  return parseConfig(defaultConfigYaml(), 'embedded default');
}

type Path = readonly (string | number)[];

class Reader {
  private readonly lines = new LineCounter();
  private readonly doc: Document;

  constructor(text: string, readonly origin: string) {
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true });
    const err = this.doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      throw new ConfigError(`${origin}${pos ? `:${pos.line}:${pos.col}` : ''}: invalid YAML: ${(err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`);
    }
  }

  /** "file:line key.path" for messages. */
  where(path: Path): string {
    const node = this.doc.getIn(path, true) as Node | undefined;
    let line = '';
    const range = node?.range ?? this.keyRange(path);
    if (range) line = `:${this.lines.linePos(range[0]).line}`;
    const key = path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[');
    return `${this.origin}${line}: ${key || '(top level)'}`;
  }

  private keyRange(path: Path): [number, number, number] | undefined {
    const parent = path.length ? (this.doc.getIn(path.slice(0, -1), true) as Node | undefined) : undefined;
    return parent?.range ?? undefined;
  }

  fail(path: Path, problem: string): never {
    throw new ConfigError(`${this.where(path)}: ${problem}`);
  }

  value(path: Path): unknown {
    const node = this.doc.getIn(path, true) as Node | undefined;
    if (node === undefined || node === null) return undefined;
    if (isScalar(node)) return node.value;
    return (node as { toJSON(): unknown }).toJSON();
  }

  keys(path: Path): string[] {
    const node = path.length ? this.doc.getIn(path, true) : this.doc.contents;
    if (node === null || node === undefined) return [];
    if (!isMap(node)) this.fail(path, 'must be a mapping (key: value)');
    return node.items.map((item) => String(isScalar(item.key) ? item.key.value : item.key));
  }

  isSeq(path: Path): boolean {
    return isSeq(this.doc.getIn(path, true));
  }

  isMap(path: Path): boolean {
    return isMap(path.length ? this.doc.getIn(path, true) : this.doc.contents);
  }

  only(path: Path, allowed: readonly string[]): void {
    for (const key of this.keys(path)) {
      if (!allowed.includes(key)) this.fail([...path, key], `unknown key (expected one of: ${allowed.join(', ')})`);
    }
  }

  string(path: Path, fallback?: string): string {
    const v = this.value(path);
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(path, 'is required');
    }
    if (typeof v !== 'string' || v === '') this.fail(path, `must be a non-empty string, not ${JSON.stringify(v)}`);
    return v;
  }

  bool(path: Path, fallback: boolean): boolean {
    const v = this.value(path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(path, `must be true or false, not ${JSON.stringify(v)}`);
    return v;
  }

  int(path: Path, fallback: number, min: number, max: number): number {
    const v = this.value(path);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`);
    }
    return v;
  }

  duration(path: Path, fallback: string): number {
    const v = this.value(path) ?? fallback;
    if (typeof v !== 'string' && typeof v !== 'number') this.fail(path, 'must be a duration like 30s, 10m, 1h, 1d, 1w');
    try {
      return parseDuration(v);
    } catch (e) {
      return this.fail(path, (e as Error).message);
    }
  }

  stringList(path: Path, fallback: readonly string[]): string[] {
    const v = this.value(path);
    if (v === undefined || v === null) return [...fallback];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) this.fail(path, 'must be a list of strings');
    return v as string[];
  }
}

const TOP_KEYS = ['state_dir', 'socket', 'timezone', 'firewall', 'allow', 'jails', 'ipv6_prefix', 'batch_window', 'escalation', 'recidive', 'guard', 'permanent_expiry'];
const JAIL_KEYS = ['enabled', 'source', 'sources', 'filter', 'mode', 'maxretry', 'findtime', 'bantime', 'ipv6_prefix', 'escalation'];
const ESCALATION_KEYS = ['factor', 'max', 'permanent_after', 'lookback'];
/** A host name as written in allow: letters, digits, hyphens, dots (no address, no range). */
const HOST_NAME = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?:\.(?!-)[A-Za-z0-9-]{1,63})*\.?$/;

export function parseConfig(text: string, origin: string): Config {
  const r = new Reader(text, origin);
  if (!r.isMap([])) r.fail([], 'the configuration must be a YAML mapping');
  r.only([], TOP_KEYS);

  const stateDir = r.string(['state_dir'], '/var/lib/warden');
  if (!isAbsolute(stateDir)) r.fail(['state_dir'], 'must be an absolute path');
  const socket = r.string(['socket'], '/run/warden/warden.sock');
  if (!isAbsolute(socket)) r.fail(['socket'], 'must be an absolute path');
  const timezone = r.string(['timezone'], 'local');
  if (!/^(local|UTC|utc|[+-]\d\d:?\d\d)$/.test(timezone)) r.fail(['timezone'], 'must be "local", "UTC" or an offset like "+02:00"');

  r.only(['firewall'], ['backend', 'table', 'netns']);
  const backend = r.string(['firewall', 'backend'], 'auto') as FirewallBackend;
  if (!['nftables', 'iptables', 'none', 'auto'].includes(backend)) {
    r.fail(['firewall', 'backend'], `must be nftables, iptables, none or auto, not "${backend}"`);
  }
  const table = r.string(['firewall', 'table'], 'warden');
  if (!/^[A-Za-z][A-Za-z0-9_]{0,30}$/.test(table)) r.fail(['firewall', 'table'], 'must be a name of letters, digits and _ (at most 31), starting with a letter');
  const netnsValue = r.value(['firewall', 'netns']);
  const netns = netnsValue === undefined ? undefined : r.string(['firewall', 'netns']);

  const allowEntries = r.stringList(['allow'], ['127.0.0.0/8', '::1']);
  const allow: string[] = [];
  const allowNames: string[] = [];
  allowEntries.forEach((entry, i) => {
    if (parseCidr(entry)) allow.push(entry);
    else if (HOST_NAME.test(entry) && /[A-Za-z]/.test(entry)) allowNames.push(entry);
    else r.fail(['allow', i], `"${entry}" is not an IP address, CIDR range or host name`);
  });

  const globalPrefix = r.int(['ipv6_prefix'], 64, 16, 128);
  const batchWindowMs = r.int(['batch_window'], 5, 0, 1000);

  r.only(['escalation'], ESCALATION_KEYS);
  r.only(['recidive'], ['enabled', 'bans', 'window', 'bantime']);
  const recidiveBantime = r.value(['recidive', 'bantime']) === 'permanent' || r.value(['recidive', 'bantime']) === undefined
    ? null : r.duration(['recidive', 'bantime'], '1w');
  const recidive = {
    enabled: r.bool(['recidive', 'enabled'], true),
    bans: r.int(['recidive', 'bans'], 3, 2, 1000),
    window: r.duration(['recidive', 'window'], '1d'),
    bantime: recidiveBantime,
  };
  r.only(['guard'], ['enabled', 'recent', 'utmp']);
  const guard = {
    enabled: r.bool(['guard', 'enabled'], true),
    recent: r.duration(['guard', 'recent'], '7d'),
    utmp: r.string(['guard', 'utmp'], '/run/utmp'),
  };
  const permanentExpiry = r.value(['permanent_expiry']) === undefined || r.value(['permanent_expiry']) === 'never'
    ? null : r.duration(['permanent_expiry'], '180d');
  if (permanentExpiry !== null && permanentExpiry < 3600) r.fail(['permanent_expiry'], 'must be at least 1h (or "never")');

  const jailNames = r.keys(['jails']);
  if (!jailNames.length) r.fail(['jails'], 'at least one jail is needed (for example "sshd")');
  const jails: JailConfig[] = jailNames.map((name) => {
    const at = ['jails', name];
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name)) r.fail(at, 'a jail name is letters, digits, _ and - (at most 32), starting with a letter');
    r.only(at, JAIL_KEYS);
    const filterName = r.string([...at, 'filter'], name);
    let filter;
    try {
      filter = loadFilter(filterName);
    } catch (e) {
      return r.fail([...at, 'filter'], (e as Error).message);
    }
    const mode = r.string([...at, 'mode'], filter.defaultMode);
    if (!filter.modes.includes(mode)) r.fail([...at, 'mode'], `"${mode}" is not a mode of filter ${filter.name} (${filter.modes.join(', ')})`);
    const maxretry = r.int([...at, 'maxretry'], 5, 1, 1000);
    const findtime = r.duration([...at, 'findtime'], '10m');
    if (findtime < 1) r.fail([...at, 'findtime'], 'must be at least 1s');
    const bantime = r.duration([...at, 'bantime'], '10m');
    if (bantime < 1) r.fail([...at, 'bantime'], 'must be at least 1s');
    return {
      name, filter: filterName, mode, maxretry, findtime, bantime,
      escalation: readEscalation(r, at, bantime),
      enabled: r.bool([...at, 'enabled'], true),
      sources: readSources(r, at, filter.programs),
      ipv6Prefix: r.int([...at, 'ipv6_prefix'], globalPrefix, 16, 128),
    };
  });

  return {
    origin, stateDir, socket, timezone, allow, allowNames, jails, batchWindowMs, recidive, guard, permanentExpiry,
    firewall: { backend, table, ...(netns !== undefined ? { netns } : {}) },
  };
}

/** A jail's escalation: its own keys over the top-level `escalation`, over the defaults. */
function readEscalation(r: Reader, jail: Path, bantime: number): EscalationConfig {
  r.only([...jail, 'escalation'], ESCALATION_KEYS);
  const pick = (key: string): Path => (r.value([...jail, 'escalation', key]) !== undefined ? [...jail, 'escalation', key] : ['escalation', key]);
  const factorPath = pick('factor');
  const factorValue = r.value(factorPath) ?? 2;
  if (typeof factorValue !== 'number' || !(factorValue >= 1 && factorValue <= 100)) r.fail(factorPath, 'must be a number from 1 (no escalation) to 100');
  const maxPath = pick('max');
  const max = r.duration(maxPath, '1w');
  if (max < bantime) r.fail(maxPath, `(${max}s) is shorter than bantime (${bantime}s): bans could never reach their own base length`);
  const permanentPath = pick('permanent_after');
  const permanentValue = r.value(permanentPath);
  let permanentAfter: number | null = null;
  if (permanentValue !== undefined && permanentValue !== null && permanentValue !== 'never') {
    if (typeof permanentValue !== 'number' || !Number.isInteger(permanentValue) || permanentValue < 1) {
      r.fail(permanentPath, `must be a whole number >= 1 (the n-th ban is permanent) or "never", not ${JSON.stringify(permanentValue)}`);
    }
    permanentAfter = permanentValue;
  }
  const lookback = r.duration(pick('lookback'), '30d');
  return { factor: factorValue, max, permanentAfter, lookback };
}

function readSources(r: Reader, jail: Path, programs: readonly string[]): SourceConfig[] {
  const single = r.value([...jail, 'source']) !== undefined;
  const multi = r.value([...jail, 'sources']) !== undefined;
  if (single && multi) r.fail([...jail, 'sources'], 'give either source or sources, not both');
  if (!single && !multi) r.fail([...jail, 'source'], 'is required: { file: /var/log/auth.log }, { journal: {...} } or stdin');
  const paths: Path[] = single
    ? [[...jail, 'source']]
    : r.isSeq([...jail, 'sources'])
      ? (r.value([...jail, 'sources']) as unknown[]).map((_, i) => [...jail, 'sources', i])
      : r.fail([...jail, 'sources'], 'must be a list of sources');
  return paths.map((at) => readSource(r, at, programs));
}

function readSource(r: Reader, at: Path, programs: readonly string[]): SourceConfig {
  if (r.value(at) === 'stdin') return { kind: 'stdin' };
  if (!r.isMap(at)) r.fail(at, 'must be { file: PATH }, { journal: {...} } or stdin');
  r.only(at, ['file', 'journal', 'backfill']);
  const backfill = r.bool([...at, 'backfill'], false);
  const hasFile = r.value([...at, 'file']) !== undefined;
  const hasJournal = r.value([...at, 'journal']) !== undefined;
  if (hasFile === hasJournal) r.fail(at, 'give exactly one of file or journal');
  if (hasFile) {
    const path = r.string([...at, 'file']);
    if (!isAbsolute(path)) r.fail([...at, 'file'], 'must be an absolute path');
    return { kind: 'file', path, backfill };
  }
  const j = [...at, 'journal'];
  if (r.value(j) === true) return { kind: 'journal', matches: programs.map((p) => `SYSLOG_IDENTIFIER=${p}`), backfill };
  r.only(j, ['unit', 'match', 'directory', 'file']);
  const unit = r.value([...j, 'unit']) === undefined ? undefined : r.string([...j, 'unit']);
  const extra = r.stringList([...j, 'match'], []);
  extra.forEach((m, i) => {
    if (!/^[A-Z0-9_]+=.*$/.test(m)) r.fail([...j, 'match', i], `"${m}" is not a journal match FIELD=value`);
  });
  const matches = [...(unit ? [`_SYSTEMD_UNIT=${unit.includes('.') ? unit : `${unit}.service`}`] : []), ...extra];
  if (!matches.length) matches.push(...programs.map((p) => `SYSLOG_IDENTIFIER=${p}`));
  const directory = r.value([...j, 'directory']) === undefined ? undefined : r.string([...j, 'directory']);
  const file = r.value([...j, 'file']) === undefined ? undefined : r.string([...j, 'file']);
  return { kind: 'journal', matches, backfill, ...(directory ? { directory } : {}), ...(file ? { file } : {}) };
}
