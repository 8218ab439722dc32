import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../config/load.js';
import { DateParser } from '../filters/dates.js';
import { builtinFilterNames, loadFilter, parseFilterDefinition } from '../filters/definition.js';
import { CompiledFilter } from '../filters/engine.js';
import { newHeader, parseHeader } from '../filters/header.js';
import { formatDuration } from '../util/duration.js';
import { canonicalAddress, parseCidr } from '../util/ip.js';
import {
  FILTER_OPTIONS, buildRules, datePatternOf, draftRules, expandDaemon, journalGroups, resolveFilter,
  type FilterOption, type FilterRule, type LineFormatChoice, type ResolvedFilter, type RuleDraft,
} from './filter.js';
import { expandGlob, hasMagic } from './glob.js';
import { FileCache, Ini, IniError, configFiles, type Entry } from './ini.js';
import { Issues, formatIssue, type Issue } from './issues.js';
import { LocatedText, type Origin } from './located.js';
import { datePattern, fail2banSeconds, sniffDateFormat } from './time.js';

/**
 * `warden import-fail2ban`: reads a fail2ban configuration directory the way fail2ban does
 * (jail.conf, jail.d/*.conf, jail.local, jail.d/*.local; filter.d/NAME.conf + .local with their
 * includes) and writes a warden configuration: warden.yaml plus filters/NAME.yaml for every filter
 * warden does not ship itself. Everything that could not be carried over is listed with its file
 * and line, in the result and at the top of warden.yaml. The written files are then loaded with
 * warden's own loader and every filter compiled, so what is written is known to load.
 */
export interface ImportOptions {
  /** The fail2ban configuration directory (default /etc/fail2ban). */
  readonly dir: string;
  /** Where to write warden.yaml and filters/ (default ./warden-import). */
  readonly out: string;
  /** For the header of warden.yaml (tests pin it). */
  readonly now?: Date;
}

export interface ImportedJail {
  readonly fail2ban: string;
  readonly warden: string;
  /** A built-in filter name or the path of a written filter. */
  readonly filter: string;
  readonly mode?: string;
}

export interface ImportResult {
  readonly dir: string;
  readonly configPath: string;
  readonly filterFiles: readonly string[];
  readonly filesRead: readonly string[];
  readonly jails: readonly ImportedJail[];
  /** Jails that are not enabled (not imported, as fail2ban does not run them). */
  readonly disabled: readonly string[];
  readonly issues: readonly Issue[];
  /** Problems found when loading the written files with warden's own loader and engine. */
  readonly verifyErrors: readonly string[];
  /** 0: everything translated and verified; 3: some parts were not. */
  readonly exitCode: 0 | 3;
}

const FAIL2BAN_VERSION = '1.1.0';
/** fail2ban's server defaults when a jail sets nothing (FailManager, Filter, Actions). */
const DEFAULT_MAXRETRY = 3;
const DEFAULT_FINDTIME = 600;
const DEFAULT_BANTIME = 600;
/** Ban actions that only block the address locally: warden's firewall does that for every jail. */
const FIREWALL_ACTION = /^(?:iptables|ip6tables|nftables|nft|ipset|firewallcmd|firewall-cmd|shorewall|ufw|pf|ipfw|bsd-ipfw|osx-ipfw|osx-afctl|npf|route|hostsdeny|apf|symbiosis-blacklist|dummy)/;
const HOST_NAME = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?:\.(?!-)[A-Za-z0-9-]{1,63})*\.?$/;

interface Located<T> {
  readonly value: T;
  readonly origin: Origin | undefined;
}

/** A jail on its way to warden.yaml; its filter is finished once every jail is read. */
interface PendingJail {
  readonly name: string;
  readonly wardenName: string;
  readonly origin: Origin | undefined;
  readonly body: Record<string, unknown>;
  /** Files it reads, or undefined for the journal. */
  files: string[] | undefined;
  journal: { readonly args: ReadonlyMap<string, string>; readonly origin: Origin | undefined } | undefined;
  readonly filterKind: 'builtin' | 'custom';
  readonly builtin?: string;
  readonly group?: FilterGroup;
  readonly mode: string;
  readonly allow: Located<string>[];
}

/** Jails that share one translated filter (same filter, arguments and jail-level overrides). */
interface FilterGroup {
  readonly key: string;
  readonly filterName: string;
  readonly fileName: string;
  readonly ini: Ini;
  readonly byMode: Map<string, ResolvedFilter>;
  readonly jails: PendingJail[];
  /** Written path, once the filter translated. */
  path?: string;
  programs?: string[];
}

function asBool(text: string | undefined): boolean {
  return text !== undefined && ['1', 'on', 'true', 'yes'].includes(text.trim().toLowerCase());
}

/** fail2ban's extractOptions: `name[key=value, key="value", ...]`. */
export function extractOptions(text: string): { name: string; options: Map<string, string> } | { error: string } {
  const m = /^([^[]+)(?:\[([\s\S]*)\])?\s*$/.exec(text.trim());
  if (!m) return { error: `unexpected syntax: ${text.trim().slice(0, 60)}` };
  const options = new Map<string, string>();
  const body = m[2] ?? '';
  const re = /\s*([\w.-]+(?:\?[\w.-]+=[\w.-]+)?)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))\s*(?:,|\]\s*\[|$)/y;
  let pos = 0;
  while (pos < body.length) {
    if (/^[\s,]*$/.test(body.slice(pos))) break;
    re.lastIndex = pos;
    const o = re.exec(body);
    if (!o) return { error: `unexpected option syntax: ${body.slice(pos, pos + 40)}` };
    options.set(o[1]!, (o[2] ?? o[3] ?? o[4] ?? '').trim());
    pos = re.lastIndex;
  }
  return { name: m[1]!.trim(), options };
}

/** fail2ban's splitWithOptions: action lines and words, keeping `name[...]` together. */
function splitActions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let depth = 0;
  let quote: string | undefined;
  for (const c of text) {
    if (quote) {
      current += c;
      if (c === quote) quote = undefined;
      continue;
    }
    if (depth > 0 && (c === '"' || c === "'")) quote = c;
    if (c === '[') depth++;
    if (c === ']') depth = Math.max(0, depth - 1);
    if (/\s/.test(c) && depth === 0) {
      if (current) out.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (current) out.push(current);
  return out;
}

function wardenJailName(name: string, taken: Set<string>): string {
  let n = name.replace(/[^A-Za-z0-9_-]/g, '-');
  if (!/^[A-Za-z]/.test(n)) n = `j-${n}`;
  n = n.slice(0, 32);
  let candidate = n;
  for (let i = 2; taken.has(candidate); i++) candidate = `${n.slice(0, 32 - String(i).length - 1)}-${i}`;
  taken.add(candidate);
  return candidate;
}

/** A netmask like 255.255.255.0 as a prefix length, or undefined when not contiguous. */
function maskLength(mask: string): number | undefined {
  const parts = mask.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  const bits = parts.map((p) => p.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') < 0 ? 32 : bits.indexOf('0') : undefined;
}

/** One ignoreip entry as a warden allow entry, or undefined when it cannot be one. */
function allowEntry(entry: string): string | undefined {
  let e = entry;
  const slash = e.indexOf('/');
  if (slash >= 0 && e.slice(slash + 1).includes('.')) {
    const len = maskLength(e.slice(slash + 1));
    if (len === undefined) return undefined;
    e = `${e.slice(0, slash)}/${len}`;
  }
  if (e.includes('/')) return parseCidr(e)?.text;
  const a = canonicalAddress(e);
  if (a) return a.text;
  return HOST_NAME.test(e) && /[A-Za-z]/.test(e) ? e : undefined;
}

function readHead(path: string, bytes = 65_536): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.toString('utf8', 0, n).split('\n').slice(0, 100);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isSyslogLine(line: string): boolean {
  return parseHeader(line, new DateParser({ timezone: 'UTC' }), newHeader());
}

export function importFail2ban(options: ImportOptions): ImportResult {
  const dir = resolve(options.dir);
  const out = resolve(options.out);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory (the fail2ban configuration, usually /etc/fail2ban)`);
  const jailFiles = configFiles(join(dir, 'jail'));
  if (!jailFiles.length) throw new Error(`${dir}: no jail.conf or jail.local (is this a fail2ban configuration directory?)`);
  const issues = new Issues(dir);
  const cache = new FileCache(issues);
  const ini = Ini.read(jailFiles, cache, issues);
  ini.setDefault('fail2ban_version', FAIL2BAN_VERSION);
  ini.setDefault('fail2ban_confpath', dir);
  const filesRead = new Set(ini.files);
  const display = (f: string): string => issues.display(f);

  // fail2ban.conf: how long the database remembers bans (what bantime.increment counts).
  const server = Ini.read(configFiles(join(dir, 'fail2ban')), cache, issues);
  for (const f of server.files) filesRead.add(f);
  let dbpurgeage: Located<number> = { value: 86_400, origin: undefined };
  try {
    const v = server.get('Definition', 'dbpurgeage');
    const s = v === undefined ? undefined : fail2banSeconds(v.text);
    if (v && s !== undefined && s > 0) dbpurgeage = { value: s, origin: server.raw('Definition', 'dbpurgeage')?.origin };
  } catch {
    // the default stays
  }

  const builtins = new Set(builtinFilterNames());
  const taken = new Set<string>();
  const pending: PendingJail[] = [];
  const groups = new Map<string, FilterGroup>();
  const filterInis = new Map<string, Ini | null>();
  const disabled: string[] = [];
  const timezones: Located<string>[] = [];
  const usesDns: string[] = [];
  let recidive: Record<string, unknown> | undefined;

  const filterIni = (name: string): Ini | null => {
    if (!filterInis.has(name)) {
      const files = configFiles(join(dir, 'filter.d', name));
      const f = files.length ? Ini.read(files, cache, issues) : null;
      if (f) for (const file of f.files) filesRead.add(file);
      filterInis.set(name, f);
    }
    return filterInis.get(name) ?? null;
  };

  for (const section of ini.sectionNames()) {
    if (section === 'INCLUDES') continue;
    const sectionOrigin = ini.sectionOrigins.get(section);
    try {
      const get = (key: string): string | undefined => ini.get(section, key)?.text.trim();
      const at = (key: string): Origin | undefined => ini.raw(section, key)?.origin;
      if (!asBool(get('enabled'))) {
        disabled.push(section);
        continue;
      }
      const filterSpec = get('filter') ?? '';
      const parsedFilter = filterSpec ? extractOptions(filterSpec) : { name: '', options: new Map<string, string>() };
      if ('error' in parsedFilter) {
        issues.untranslated(at('filter'), `jail [${section}]: filter = ${filterSpec}: ${parsedFilter.error}; jail not imported`);
        continue;
      }
      const backendSpec = extractOptions(get('backend') || 'auto');
      const backend = 'error' in backendSpec ? { name: 'auto', options: new Map<string, string>() } : backendSpec;
      if ('error' in backendSpec) issues.untranslated(at('backend'), `backend = ${get('backend')}: ${backendSpec.error}`);
      const systemd = backend.name.startsWith('systemd');
      if (!systemd && !['auto', 'pyinotify', 'gamin', 'polling', 'inotify'].includes(backend.name)) {
        issues.note(at('backend'), `backend = ${backend.name}: warden follows files with inotify itself`);
      }

      // The recidive jail reads fail2ban's own log; warden counts bans itself.
      if (parsedFilter.name === 'recidive') {
        recidive = recidiveSettings(section, get, at, issues);
        continue;
      }

      const wardenName = wardenJailName(section, taken);
      if (wardenName !== section) issues.note(sectionOrigin, `jail [${section}] is named "${wardenName}" in warden (letters, digits, _ and -, at most 32, starting with a letter)`);
      const body: Record<string, unknown> = {};

      // --- filter
      const argsOrigin = at('filter') ?? sectionOrigin ?? { file: '', line: 0 };
      const args = new Map<string, Entry>([...parsedFilter.options].map(([k, v]) => [k.toLowerCase(), { value: LocatedText.of(v, argsOrigin), origin: argsOrigin }]));
      const jailOverrides = FILTER_OPTIONS.filter((k) => ini.raw(section, k) !== undefined);
      let filterName = parsedFilter.name;
      let mode = parsedFilter.options.get('mode');
      /** The translated filter this jail joins, registered once the jail is accepted. */
      let joining: { key: string; filterName: string; ini: Ini; resolved: ResolvedFilter } | undefined;
      let builtin: string | undefined;
      const logpathText = get('logpath');
      if (filterName && builtins.has(filterName) && !jailOverrides.includes('failregex')) {
        builtin = filterName;
        if (builtin === 'vsftpd' && logpathText && /(^|\/)vsftpd\.log\b/.test(logpathText)) {
          builtin = 'vsftpd-log';
          issues.note(at('logpath'), `jail [${section}] reads vsftpd's own log: warden's filter for that format is vsftpd-log`);
        }
        const def = loadFilter(builtin);
        if (mode !== undefined && !def.modes.includes(mode)) {
          if (mode !== def.defaultMode && mode !== 'normal') issues.untranslated(at('filter'), `jail [${section}]: mode ${mode} is not a mode of warden's built-in ${builtin} filter (${def.modes.join(', ')}); its default mode ${def.defaultMode} is used`);
          mode = undefined;
        }
        for (const [k, v] of parsedFilter.options) {
          if (k !== 'mode') issues.untranslated(at('filter'), `jail [${section}]: filter argument ${k}=${v} is not translated (warden's built-in ${builtin} filter has modes only)`);
        }
        reportBuiltinCustomisations(dir, filterName, builtin, section, jailOverrides, ini, issues, filterIni(filterName));
        body['filter'] = builtin;
        if (mode !== undefined && mode !== def.defaultMode) body['mode'] = mode;
      } else {
        let fIni: Ini | null;
        if (!filterName) {
          if (!jailOverrides.includes('failregex')) {
            issues.untranslated(at('filter') ?? sectionOrigin, `jail [${section}] has no filter and no failregex; jail not imported`);
            continue;
          }
          fIni = new Ini();
          filterName = section;
        } else {
          fIni = filterIni(filterName);
          if (!fIni) {
            issues.untranslated(at('filter'), `jail [${section}]: filter.d/${filterName}.conf not found (fail2ban would refuse this jail); jail not imported`);
            continue;
          }
          if (!fIni.hasSection('Definition')) {
            issues.untranslated(at('filter'), `jail [${section}]: filter.d/${filterName}.conf has no [Definition] section; jail not imported`);
            continue;
          }
        }
        const resolved = resolveFilter(fIni, args, systemd ? 'journal' : 'file', issues);
        // The jail's own failregex, ignoreregex, ... replace the filter's (%(known/failregex)s is the filter's).
        const known = new Map<string, Entry>();
        for (const [k, v] of resolved.options) known.set(`known/${k}`, { value: v, origin: v.originAt(0) });
        const overrideTexts: string[] = [];
        for (const k of jailOverrides) {
          const v = ini.get(section, k, { vars: known });
          if (v === undefined) continue;
          resolved.options.set(k, v);
          overrideTexts.push(`${k}=${v.text}`);
        }
        mode ??= resolved.defaultMode ?? 'normal';
        const otherArgs = [...parsedFilter.options].filter(([k]) => k !== 'mode').sort(([a], [b]) => a.localeCompare(b));
        joining = { key: JSON.stringify([filterName, otherArgs, overrideTexts]), filterName, ini: fIni, resolved };
      }

      // --- counting and banning
      const maxretryText = get('maxretry');
      let maxretry = maxretryText === undefined ? DEFAULT_MAXRETRY : Number(maxretryText);
      if (!Number.isInteger(maxretry)) {
        issues.untranslated(at('maxretry'), `maxretry = ${maxretryText} is not a whole number; fail2ban's default ${DEFAULT_MAXRETRY} is used`);
        maxretry = DEFAULT_MAXRETRY;
      }
      if (maxretry < 1) {
        issues.note(at('maxretry'), `maxretry = ${maxretry}: fail2ban bans at the first failure, which is warden's maxretry: 1`);
        maxretry = 1;
      } else if (maxretry > 1000) {
        issues.untranslated(at('maxretry'), `maxretry = ${maxretry}: warden allows at most 1000`);
        maxretry = 1000;
      }
      const findtime = seconds(get('findtime'), DEFAULT_FINDTIME, at('findtime'), 'findtime', issues);
      const bantimeRaw = seconds(get('bantime'), DEFAULT_BANTIME, at('bantime'), 'bantime', issues);
      body['maxretry'] = maxretry;
      body['findtime'] = formatDuration(Math.max(1, Math.round(findtime)));
      if (findtime < 1) issues.untranslated(at('findtime'), `findtime = ${get('findtime')}: warden needs at least 1s`);
      Object.assign(body, banSettings(section, bantimeRaw, get, at, dbpurgeage, issues));

      // --- addresses never banned
      const allow: Located<string>[] = [];
      const ignoreip = get('ignoreip');
      if (ignoreip) {
        for (const entry of ignoreip.split(/[\s,]+/).filter(Boolean)) {
          const a = allowEntry(entry);
          if (a) allow.push({ value: a, origin: at('ignoreip') });
          else issues.untranslated(at('ignoreip'), `ignoreip entry "${entry}" is not an address, range or host name warden accepts`);
        }
      }
      if (get('ignoreself') !== undefined && !asBool(get('ignoreself'))) {
        issues.note(at('ignoreself'), 'ignoreself = false: warden never bans the machine\'s own addresses');
      }
      if (get('ignorecommand')) issues.untranslated(at('ignorecommand'), `ignorecommand = ${get('ignorecommand')}: warden runs no commands to decide; not translated`);

      // --- ports and actions
      reportActions(section, ini, get, at, issues);

      // --- other settings
      const usedns = get('usedns');
      if (usedns !== undefined && usedns.toLowerCase() !== 'no') usesDns.push(section);
      const tz = get('logtimezone');
      if (tz) timezones.push({ value: tz, origin: at('logtimezone') });
      const encoding = get('logencoding');
      if (encoding && !['auto', 'utf-8', 'utf8', 'ascii'].includes(encoding.toLowerCase())) {
        issues.untranslated(at('logencoding'), `logencoding = ${encoding}: warden reads logs as UTF-8`);
      }

      // --- sources
      let files: string[] | undefined;
      let journal: PendingJail['journal'];
      if (systemd) {
        journal = { args: backend.options, origin: at('backend') };
        if (logpathText) issues.note(at('logpath'), `jail [${section}] uses backend = systemd: logpath is not read (as in fail2ban)`);
      } else {
        files = [];
        for (const line of ini.get(section, 'logpath')?.splitLines() ?? []) {
          let path = line.text.trim();
          if (!path) continue;
          const sp = path.lastIndexOf(' ');
          if (sp > 0) path = path.slice(0, sp).trim(); // "PATH head|tail"
          if (!isAbsolute(path)) {
            issues.untranslated(line.origin, `logpath ${path} is not an absolute path; not translated`);
            continue;
          }
          if (hasMagic(path)) {
            const found = expandGlob(path);
            if (!found.length) issues.untranslated(line.origin, `logpath ${path} matches no file now; not translated`);
            else issues.note(line.origin, `logpath ${path} is listed as the ${found.length} file(s) it matches now; a file created later is not followed`);
            files.push(...found);
          } else {
            if (!existsSync(path)) issues.note(line.origin, `logpath ${path} does not exist now; warden follows it once it appears`);
            files.push(path);
          }
        }
        files = [...new Set(files)];
        if (!files.length) {
          const hasJournalmatch = joining ? joining.resolved.options.has('journalmatch') : builtin !== undefined;
          if (backend.name === 'auto' && hasJournalmatch && get('systemd_if_nologs') !== 'false' && !asBool(get('skip_if_nologs'))) {
            issues.note(at('logpath') ?? sectionOrigin, `jail [${section}] has no log file; like fail2ban, it reads the systemd journal instead`);
            files = undefined;
            journal = { args: new Map(), origin: at('backend') };
          } else {
            issues.untranslated(at('logpath') ?? sectionOrigin, `jail [${section}] has no log file to read; jail not imported`);
            continue;
          }
        }
      }
      let group: FilterGroup | undefined;
      if (joining) {
        const j = joining;
        group = groups.get(j.key);
        if (!group) {
          const sameName = [...groups.values()].filter((g) => g.filterName === j.filterName).length;
          group = { key: j.key, filterName: j.filterName, fileName: sameName ? `${j.filterName}-${wardenName}` : j.filterName, ini: j.ini, byMode: new Map(), jails: [] };
          groups.set(j.key, group);
        }
        if (!group.byMode.has(mode ?? 'normal')) group.byMode.set(mode ?? 'normal', j.resolved);
      }
      const jail: PendingJail = {
        name: section, wardenName, origin: sectionOrigin, body, files, journal, mode: mode ?? 'normal', allow,
        filterKind: builtin !== undefined ? 'builtin' : 'custom',
        ...(builtin !== undefined ? { builtin } : {}), ...(group ? { group } : {}),
      };
      group?.jails.push(jail);
      pending.push(jail);
    } catch (e) {
      if (!(e instanceof IniError)) throw e;
      issues.untranslated(e.origin ?? sectionOrigin, `jail [${section}]: ${e.message}; jail not imported`);
    }
  }

  // --- filters
  mkdirSync(join(out, 'filters'), { recursive: true });
  const filterFiles: string[] = [];
  const dropped = new Set<PendingJail>();
  for (const group of groups.values()) {
    const path = writeFilter(group, out, issues, display);
    if (path) filterFiles.push(path);
    else for (const j of group.jails) dropped.add(j);
  }

  // --- jails
  const jails: Record<string, Record<string, unknown>> = {};
  const imported: ImportedJail[] = [];
  for (const j of pending) {
    if (dropped.has(j)) {
      issues.untranslated(j.origin, `jail [${j.name}] not imported: no rule of its filter could be translated`);
      continue;
    }
    const programs = j.builtin !== undefined ? loadFilter(j.builtin).programs : j.group?.programs ?? [];
    const sources = j.files ? j.files.map((f) => ({ file: f })) : [journalSource(j, programs, issues)];
    const filter = j.builtin ?? j.group!.path!;
    const body: Record<string, unknown> = sources.length === 1 ? { source: sources[0] } : { sources };
    body['filter'] = filter;
    if (j.filterKind === 'custom') body['mode'] = j.mode;
    Object.assign(body, j.body);
    jails[j.wardenName] = body;
    imported.push({ fail2ban: j.name, warden: j.wardenName, filter, ...(typeof body['mode'] === 'string' ? { mode: body['mode'] } : {}) });
  }

  // --- global settings
  const config: Record<string, unknown> = {};
  const allow = mergeAllow(pending.filter((j) => !dropped.has(j)), issues);
  if (allow.length) config['allow'] = allow;
  const timezone = mergeTimezone(timezones, issues);
  if (timezone) config['timezone'] = timezone;
  if (recidive) config['recidive'] = recidive;
  else {
    config['recidive'] = { enabled: false };
    issues.note(undefined, 'fail2ban had no enabled recidive jail, so warden\'s repeat-offender ban (recidive:) is turned off; turn it on with recidive: { enabled: true }');
  }
  config['jails'] = jails;
  if (!imported.length) issues.untranslated(undefined, 'no jail could be imported (warden needs at least one)');
  if (usesDns.length) {
    issues.note(undefined, `usedns (jails ${usesDns.map((j) => `[${j}]`).join(', ')}): fail2ban's <HOST> also takes host names and resolves them; warden counts IP addresses only and never resolves a name from a log`);
  }
  issues.note(undefined, 'warden counts and bans IPv6 addresses per /64 (ipv6_prefix: 64); fail2ban banned single addresses: set ipv6_prefix: 128 for the same behaviour');

  const configPath = join(out, 'warden.yaml');
  const header = headerComment(dir, [...filesRead].map(display), issues.all, options.now ?? new Date());
  writeFileSync(configPath, `${header}${stringify(config, { lineWidth: 0, singleQuote: true })}`);

  // --- verify with warden's own loader and engine
  const verifyErrors: string[] = [];
  try {
    loadConfigFile(configPath);
  } catch (e) {
    verifyErrors.push((e as Error).message);
  }
  for (const path of filterFiles) {
    try {
      const def = parseFilterDefinition(readFileSync(path, 'utf8'), path, false);
      for (const mode of def.modes) new CompiledFilter(def, { mode });
    } catch (e) {
      verifyErrors.push((e as Error).message);
    }
  }
  if (verifyErrors.length) {
    const failed = ['# THE WRITTEN FILES DO NOT LOAD in warden (a bug of the import; please report it):', ...verifyErrors.map((e) => `#   ${e.replace(/[\r\n]+/g, ' ')}`), '#', ''].join('\n');
    writeFileSync(configPath, `${failed}${header}${stringify(config, { lineWidth: 0, singleQuote: true })}`);
  }
  const exitCode = issues.untranslatedCount > 0 || verifyErrors.length > 0 ? 3 : 0;
  return { dir, configPath, filterFiles, filesRead: [...filesRead].map(display), jails: imported, disabled, issues: issues.all, verifyErrors, exitCode };
}

/** A duration setting in seconds (negative allowed: bantime = -1 is "forever"). */
function seconds(text: string | undefined, fallback: number, origin: Origin | undefined, key: string, issues: Issues): number {
  if (text === undefined || text === '') return fallback;
  const s = fail2banSeconds(text);
  if (s === undefined) {
    issues.untranslated(origin, `${key} = ${text} is not a duration fail2ban accepts; its default ${formatDuration(fallback)} is used`);
    return fallback;
  }
  return s;
}

/** bantime and bantime.* -> warden's bantime and escalation. */
function banSettings(
  jail: string,
  bantime: number,
  get: (key: string) => string | undefined,
  at: (key: string) => Origin | undefined,
  dbpurgeage: Located<number>,
  issues: Issues,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const WEEK = 604_800;
  if (bantime < 0) {
    issues.note(at('bantime'), `bantime = ${get('bantime')} (permanent): warden bans permanently through escalation.permanent_after: 1`);
    out['bantime'] = '1d';
    out['escalation'] = { factor: 1, permanent_after: 1 };
    return out;
  }
  const base = Math.max(1, Math.round(bantime));
  if (bantime < 1) issues.untranslated(at('bantime'), `bantime = ${get('bantime')}: warden needs at least 1s`);
  out['bantime'] = formatDuration(base);
  const escalation: Record<string, unknown> = {};
  if (!asBool(get('bantime.increment'))) {
    escalation['factor'] = 1;
    if (base > WEEK) escalation['max'] = formatDuration(base);
    for (const k of ['bantime.factor', 'bantime.multipliers', 'bantime.formula', 'bantime.maxtime', 'bantime.rndtime']) {
      if (get(k)) issues.note(at(k), `${k} has no effect without bantime.increment = true`);
    }
    out['escalation'] = escalation;
    return out;
  }
  // fail2ban: ban n (n >= 2) lasts bantime * 2^(n-1) * bantime.factor (default formula), or
  // bantime * multipliers[n-1] * factor; warden: bantime * factor^(n-1), capped at max.
  const factorText = get('bantime.factor');
  const f = factorText === undefined ? 1 : Number(factorText);
  let factor = 2;
  const multipliers = get('bantime.multipliers');
  if (get('bantime.formula') && !multipliers) {
    issues.untranslated(at('bantime.formula'), `bantime.formula = ${get('bantime.formula')}: warden's escalation is bantime * factor^(n-1); factor 2 (fail2ban's default formula) is used`);
  }
  if (multipliers) {
    const m = multipliers.split(/[\s,]+/).filter(Boolean).map(Number);
    const r = m[1] ?? 1;
    const geometric = m.length >= 2 && m.every((x) => Number.isFinite(x) && x > 0) && m.slice(1).every((x, i) => Math.abs(x - r ** (i + 1)) < 1e-9);
    factor = Math.min(100, Math.max(1, r));
    if (geometric) {
      escalation['max'] = formatDuration(Math.max(base, Math.round(base * m[m.length - 1]! * f)));
    } else {
      issues.untranslated(at('bantime.multipliers'), `bantime.multipliers = ${multipliers} is not a geometric series 1 r r^2 ...: warden multiplies by a constant factor; ${factor} is used`);
    }
  }
  if (f !== 1) {
    if (!Number.isFinite(f) || f <= 0) issues.untranslated(at('bantime.factor'), `bantime.factor = ${factorText} is not a positive number`);
    else issues.untranslated(at('bantime.factor'), `bantime.factor = ${factorText}: fail2ban multiplies the escalated ban time by it; warden's escalation is bantime * factor^(n-1), so factor ${factor} is used without it`);
  }
  escalation['factor'] = factor;
  const maxtime = get('bantime.maxtime');
  if (maxtime) {
    const s = fail2banSeconds(maxtime);
    if (s === undefined || s <= 0) issues.untranslated(at('bantime.maxtime'), `bantime.maxtime = ${maxtime} is not a duration`);
    else {
      if (s < base) issues.note(at('bantime.maxtime'), `bantime.maxtime = ${maxtime} is shorter than bantime; warden's escalation max is the bantime`);
      escalation['max'] = formatDuration(Math.max(base, Math.round(s)));
    }
  } else if (escalation['max'] === undefined) {
    issues.note(at('bantime.increment'), `jail [${jail}]: no bantime.maxtime: fail2ban lets bans grow without a limit; warden's escalation max (1w by default) caps them`);
    if (base > WEEK) escalation['max'] = formatDuration(base);
  }
  if (get('bantime.rndtime')) issues.untranslated(at('bantime.rndtime'), `bantime.rndtime = ${get('bantime.rndtime')}: warden adds no random time to bans`);
  if (!asBool(get('bantime.overalljails'))) {
    issues.note(at('bantime.increment'), `jail [${jail}]: warden counts an address's earlier bans in every jail (as bantime.overalljails = true), fail2ban counted this jail's only`);
  }
  escalation['lookback'] = formatDuration(Math.round(dbpurgeage.value));
  issues.note(dbpurgeage.origin, `escalation counts earlier bans within ${formatDuration(Math.round(dbpurgeage.value))}, fail2ban's dbpurgeage (how long its database keeps bans)`);
  out['escalation'] = escalation;
  return out;
}

/** fail2ban's recidive jail -> warden's recidive settings. */
function recidiveSettings(jail: string, get: (key: string) => string | undefined, at: (key: string) => Origin | undefined, issues: Issues): Record<string, unknown> {
  const maxretry = Number(get('maxretry') ?? DEFAULT_MAXRETRY);
  const findtime = fail2banSeconds(get('findtime') ?? '') ?? DEFAULT_FINDTIME;
  const bantime = fail2banSeconds(get('bantime') ?? '') ?? DEFAULT_BANTIME;
  const bans = Number.isInteger(maxretry) ? Math.min(1000, Math.max(2, maxretry)) : 3;
  if (bans !== maxretry) issues.untranslated(at('maxretry'), `jail [${jail}]: maxretry = ${get('maxretry')}: warden's recidive.bans is a whole number from 2 to 1000; ${bans} is used`);
  issues.note(at('enabled') ?? at('filter'), `jail [${jail}] (fail2ban's ban log) becomes warden's recidive setting: ${bans} bans in any jails within ${formatDuration(Math.max(1, Math.round(findtime)))}`);
  return { enabled: true, bans, window: formatDuration(Math.max(1, Math.round(findtime))), bantime: bantime < 0 ? 'permanent' : formatDuration(Math.max(1, Math.round(bantime))) };
}

/** Notes what warden does not do of the jail's actions (warden bans on every port; no mail, no reports). */
function reportActions(jail: string, ini: Ini, get: (key: string) => string | undefined, at: (key: string) => Origin | undefined, issues: Issues): void {
  let value: LocatedText | undefined;
  try {
    value = ini.get(jail, 'action');
  } catch (e) {
    if (!(e instanceof IniError)) throw e;
    issues.untranslated(e.origin ?? at('action'), `jail [${jail}]: action cannot be read: ${e.message}`);
    return;
  }
  const actions = (value?.splitLines() ?? []).flatMap((line) => splitActions(line.text).map((a) => ({ text: a, origin: line.origin })));
  if (!actions.length) {
    issues.untranslated(at('action'), `jail [${jail}] has no action (fail2ban only watched it); warden bans`);
    return;
  }
  let allPorts = false;
  for (const a of actions) {
    const parsed = extractOptions(a.text);
    const name = 'error' in parsed ? a.text : parsed.name;
    if (FIREWALL_ACTION.test(name)) {
      if (/allports/.test(name)) allPorts = true;
      continue;
    }
    issues.untranslated(a.origin, `jail [${jail}]: action ${name} is not translated (warden bans in its own firewall table and sends no mail or reports)`);
  }
  const port = get('port');
  if (!allPorts && port && !/^(?:0:65535|1:65535|0-65535|1-65535|all|any)$/i.test(port.replace(/\s+/g, ''))) {
    const protocol = get('protocol');
    issues.note(at('port'), `jail [${jail}]: fail2ban blocked port ${port}${protocol ? `/${protocol}` : ''} only; warden bans the address on every port and protocol`);
  }
}

/** A jail's journal source: journalmatch groups as warden journal matches. */
function journalSource(j: PendingJail, programs: readonly string[], issues: Issues): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  const args = j.journal?.args ?? new Map<string, string>();
  for (const [k, v] of args) {
    if (k === 'journalpath') extra['directory'] = v;
    else if (k === 'journalfiles') {
      const files = v.split(/[\s,]+/).filter(Boolean);
      extra['file'] = files[0];
      if (files.length > 1) issues.untranslated(j.journal?.origin, `jail [${j.name}]: journalfiles lists ${files.length} files; warden reads one journal file (${files[0]})`);
    } else issues.note(j.journal?.origin, `jail [${j.name}]: backend option ${k} = ${v} is not translated`);
  }
  const jm = j.group ? [...j.group.byMode.values()].map((r) => r.options.get('journalmatch')).find((v) => v !== undefined) : undefined;
  const groups = jm ? journalGroups(jm) : undefined;
  if (!groups || !groups.groups.length) {
    if (!Object.keys(extra).length) return { journal: true };
    return { journal: extra };
  }
  const bad = groups.groups.flat().filter((m) => !/^[A-Z0-9_]+=.*$/.test(m));
  if (bad.length) issues.untranslated(groups.origin, `journalmatch term ${bad[0]} is not FIELD=value; the filter's programs are matched instead`);
  if (groups.groups.length === 1 && !bad.length) return { journal: { ...extra, match: groups.groups[0] } };
  if (programs.length) {
    if (!bad.length) issues.note(groups.origin, `journalmatch ${groups.groups.map((g) => g.join(' ')).join(' + ')} has alternatives ("+"); warden reads the journal entries of the filter's programs (${programs.map((p) => `SYSLOG_IDENTIFIER=${p}`).join(', ')}) instead`);
    return Object.keys(extra).length ? { journal: extra } : { journal: true };
  }
  const first = groups.groups.find((g) => g.every((m) => /^[A-Z0-9_]+=.*$/.test(m)));
  issues.untranslated(groups.origin, `journalmatch alternatives after the first are not translated (warden takes one set of matches per source)`);
  return first ? { journal: { ...extra, match: first } } : { journal: true };
}

function mergeAllow(jails: readonly PendingJail[], issues: Issues): string[] {
  const all: string[] = [];
  for (const j of jails) for (const a of j.allow) if (!all.includes(a.value)) all.push(a.value);
  for (const j of jails) {
    for (const a of j.allow) {
      const missing = jails.filter((o) => !o.allow.some((x) => x.value === a.value));
      if (missing.length) {
        issues.untranslated(a.origin, `ignoreip ${a.value} of jail [${j.name}] is never banned in every jail in warden (allow is global), also in ${missing.map((m) => `[${m.name}]`).join(', ')}`);
      }
    }
  }
  return all;
}

function mergeTimezone(zones: readonly Located<string>[], issues: Issues): string | undefined {
  if (!zones.length) return undefined;
  const converted = zones.map((z) => {
    const m = /^UTC(?:([+-])(\d\d):?(\d\d))?$/i.exec(z.value.trim()) ?? /^()([+-]\d\d):?(\d\d)$/.exec(z.value.trim());
    if (!m) return undefined;
    if (m[2] === undefined) return 'UTC';
    return m[1] ? `${m[1]}${m[2]}:${m[3]}` : `${m[2]}:${m[3]}`;
  });
  const first = converted[0];
  if (first === undefined || converted.some((c) => c !== first)) {
    issues.untranslated(zones[0]!.origin, `logtimezone ${zones.map((z) => z.value).join(', ')}: warden has one timezone for every log (UTC or an offset like +02:00); not translated`);
    return undefined;
  }
  return first;
}

function reportBuiltinCustomisations(
  dir: string,
  f2bName: string,
  builtin: string,
  jail: string,
  overrides: readonly FilterOption[],
  ini: Ini,
  issues: Issues,
  filterIni: Ini | null,
): void {
  issues.note(ini.raw(jail, 'filter')?.origin ?? ini.sectionOrigins.get(jail), `jail [${jail}] uses warden's built-in ${builtin} filter instead of fail2ban's ${f2bName} filter`);
  for (const k of overrides) {
    if (ini.ownKeys(jail).includes(k)) issues.untranslated(ini.raw(jail, k)?.origin, `jail [${jail}]: ${k} customises fail2ban's ${f2bName} filter; warden uses its built-in ${builtin} filter, so this is not translated`);
  }
  if (!filterIni) return;
  const base = join(dir, 'filter.d', f2bName);
  for (const file of filterIni.files) {
    if (file === `${base}.conf` || !(file === `${base}.local` || file.startsWith(`${base}.d/`))) continue;
    issues.untranslated({ file, line: 0 }, `customises fail2ban's ${f2bName} filter; warden uses its built-in ${builtin} filter, so this file is not translated`);
  }
}

/** Translates a group's filter and writes it; returns its path, or undefined when no rule survived. */
function writeFilter(group: FilterGroup, out: string, issues: Issues, display: (f: string) => string): string | undefined {
  const byMode = new Map<string, RuleDraft[]>();
  for (const [mode, resolved] of group.byMode) byMode.set(mode, draftRules(resolved, issues));
  const drafts = [...byMode.values()].flat();
  const first = [...group.byMode.values()][0]!;
  const failregexAt = first.options.get('failregex')?.splitLines().find((l) => l.text.trim())?.origin;
  if (!drafts.some((d) => d.action === 'failure')) {
    issues.untranslated(failregexAt, `filter ${group.filterName}: no failregex could be translated; jail(s) ${group.jails.map((j) => `[${j.name}]`).join(', ')} not imported`);
    return undefined;
  }
  const format = chooseFormat(group, first, drafts, issues);
  let programs: string[] = [];
  if (format.kind === 'syslog' && drafts.some((d) => d.prefixed)) {
    const daemon = first.daemon;
    const text = daemon?.text.trim();
    if (text === undefined || text === '') issues.note(failregexAt, `filter ${group.filterName}: no _daemon, so it reads the lines of every program`);
    else {
      const names = expandDaemon(text);
      const origin = daemon!.splitLines().find((l) => l.text.trim())?.origin;
      if (names) programs = names;
      else if (/^(?:\\S\*|\\S\+|\.\*|\.\+|\\w\+|\\w\*)$/.test(text)) issues.note(origin, `_daemon = ${text} (any program): the filter reads the lines of every program`);
      else issues.untranslated(origin, `_daemon = ${text} is not a list of program names: warden's filter reads the lines of every program instead`);
    }
  }
  group.programs = programs;
  const rules = buildRules(byMode, format, issues, display);
  if (!rules.some((r) => r.action === 'failure')) {
    issues.untranslated(failregexAt, `filter ${group.filterName}: no failregex could be translated; jail(s) ${group.jails.map((j) => `[${j.name}]`).join(', ')} not imported`);
    return undefined;
  }
  const modes = [...group.byMode.keys()];
  const defaultMode = first.defaultMode !== undefined && modes.includes(first.defaultMode) ? first.defaultMode : modes[0]!;
  const def: Record<string, unknown> = {
    name: group.filterName,
    description: `fail2ban filter ${group.filterName}, imported by warden import-fail2ban`,
  };
  if (programs.length) def['programs'] = programs;
  if (format.kind === 'plain') def['format'] = { date: datePattern(format.format), layout: format.format.layout };
  def['modes'] = modes;
  def['default_mode'] = defaultMode;
  def['rules'] = rules.map((r: FilterRule) => ({
    id: r.id,
    ...(r.action !== 'failure' ? { action: r.action } : {}),
    ...(r.modes.length < modes.length ? { modes: r.modes } : {}),
    pattern: r.patterns.length === 1 ? r.patterns[0] : r.patterns,
    note: r.note,
  }));
  const path = join(out, 'filters', `${group.fileName}.yaml`);
  const sources = group.ini.files.map(display);
  const header = [
    `# warden filter translated from fail2ban's ${group.filterName} filter by warden import-fail2ban.`,
    ...(sources.length ? [`# Read from: ${sources.join(', ')}`] : []),
    `# Used by: ${group.jails.map((j) => `[${j.name}]`).join(', ')}. Check it on a real log: warden test --filter ${path} LOG`,
    '',
  ].join('\n');
  const text = stringify(def, { lineWidth: 0, singleQuote: true });
  if (JSON.stringify(parse(text)) !== JSON.stringify(def)) issues.untranslated(failregexAt, `filter ${group.filterName}: its YAML does not read back identically (a bug of the import)`);
  writeFileSync(path, `${header}${text}`);
  group.path = path;
  return path;
}

function chooseFormat(group: FilterGroup, first: ResolvedFilter, drafts: readonly RuleDraft[], issues: Issues): LineFormatChoice {
  const dp = datePatternOf(first.options.get('datepattern'));
  if (drafts.some((d) => d.prefixed) || group.jails.some((j) => j.files === undefined)) {
    if (dp && dp.reading.kind !== 'auto') issues.note(dp.origin, `datepattern ${dp.text} is not used: warden reads the date from the syslog header`);
    return { kind: 'syslog' };
  }
  let unsupported: { origin: Origin; why: string } | undefined;
  if (dp) {
    if (dp.reading.kind === 'plain') return { kind: 'plain', format: dp.reading.format };
    if (dp.reading.kind === 'syslog') return { kind: 'syslog' };
    if (dp.reading.kind === 'unsupported') unsupported = { origin: dp.origin, why: dp.reading.why };
  }
  const file = group.jails.flatMap((j) => j.files ?? []).find((f) => existsSync(f));
  const sniffed = file ? sniffDateFormat(readHead(file), isSyslogLine) : undefined;
  if (sniffed) {
    const what = sniffed.kind === 'plain' ? `${sniffed.format.layout} dates${sniffed.format.atStart ? ' at the start of the line' : ''}` : 'syslog lines';
    if (unsupported) issues.note(unsupported.origin, `datepattern: ${unsupported.why}; the log ${file} has ${what}, which warden reads`);
    else issues.note(undefined, `filter ${group.filterName}: the log ${file} has ${what}`);
    return sniffed;
  }
  if (unsupported) issues.untranslated(unsupported.origin, `datepattern: ${unsupported.why}`);
  issues.untranslated(drafts[0]?.origin, `filter ${group.filterName}: its lines have no syslog header (no %(__prefix_line)s) and their date format is unknown (no datepattern warden knows, no log lines to look at); syslog lines are assumed`);
  return { kind: 'syslog' };
}

function headerComment(dir: string, files: readonly string[], issues: readonly Issue[], now: Date): string {
  const clean = (s: string): string => s.replace(/[\r\n]+/g, ' ');
  const untranslated = issues.filter((i) => i.severity === 'untranslated');
  const notes = issues.filter((i) => i.severity === 'note');
  const lines = [
    `# warden configuration imported from the fail2ban configuration in ${dir}`,
    `# by "warden import-fail2ban" on ${now.toISOString().slice(0, 10)}.`,
    `# Files read: ${files.join(', ')}`,
    '#',
  ];
  if (untranslated.length) {
    lines.push(`# NOT TRANSLATED (${untranslated.length}) - review these before relying on this file:`);
    for (const i of untranslated) lines.push(`#   ${clean(formatIssue(i))}`);
  } else lines.push('# Everything was translated.');
  if (notes.length) {
    lines.push('#', `# Notes (${notes.length}):`);
    for (const i of notes) lines.push(`#   ${clean(formatIssue(i))}`);
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}

