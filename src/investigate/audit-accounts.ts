/**
 * Who could still log in after sshd is hardened, for `warden audit ssh`: the accounts with
 * admin rights (members of sudo/wheel/admin, uid-0 accounts), their authorized keys (read like
 * sshd reads them: AuthorizedKeysFile with %h/%u/%U/%%, StrictModes ownership and mode checks,
 * PubkeyAcceptedAlgorithms, RequiredRSASize, forced commands) and their recent logins (auth log
 * and its rotations, the journal, warden's own database, wtmp).
 *
 * Everything about the machine comes through an `AccountSource`, so tests can describe accounts
 * and login history without creating system users; `liveAccounts()` reads the real system.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { DateParser } from '../filters/dates.js';
import { newHeader, parseHeader } from '../filters/header.js';
import { execFile } from '../util/exec.js';
import { canonicalAddress, parseCidr } from '../util/ip.js';
import { loadLoginFile, rotatedSiblings } from './files.js';
import { parseUtmp, UtmpType } from './utmp.js';

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export interface LoginEvent {
  readonly user: string;
  /** sshd's method name: "publickey", "password", "keyboard-interactive/pam", …; "unknown" from wtmp. */
  readonly method: string;
  /** Seconds since the epoch. */
  readonly at: number;
  readonly address: string | null;
  /** Fingerprint of the key used ("SHA256:…"), when the log line carries it. */
  readonly fingerprint: string | null;
  /** Key type as logged ("ED25519", "RSA", "ED25519-CERT"), when known. */
  readonly keyType: string | null;
  /** Where the event was read from. */
  readonly source: string;
}

export interface LoginHistory {
  readonly events: LoginEvent[];
  /** The sources read (files, "journal", the database). */
  readonly sources: string[];
  /** Sources that could not be read, and why. */
  readonly problems: string[];
}

/** The facts about accounts and logins the lockout check needs. */
export interface AccountSource {
  passwd(): PasswdEntry[];
  groups(): GroupEntry[];
  /** Successful logins at or after `since` (seconds), any order. */
  logins(since: number): Promise<LoginHistory>;
}

export const ADMIN_GROUPS = ['sudo', 'wheel', 'admin'] as const;

// ------------------------------------------------------------------ the live system

export interface LiveAccountsOptions {
  readonly passwdFile?: string;
  readonly groupFile?: string;
  /** Auth logs to read with their rotations. Default /var/log/auth.log and /var/log/secure. */
  readonly authLogs?: readonly string[];
  /** Read the systemd journal too (journalctl). Default true. */
  readonly journal?: boolean;
  /** warden's state database. Default /var/lib/warden/warden.db (skipped when absent). */
  readonly wardenDb?: string | null;
  /** wtmp for logins of unknown method. Default /var/log/wtmp (and rotations). */
  readonly wtmp?: string | null;
  /** The local zone for syslog dates without one. */
  readonly timezone?: string;
}

export function liveAccounts(options: LiveAccountsOptions = {}): AccountSource {
  return {
    passwd: () => parsePasswd(readText(options.passwdFile ?? '/etc/passwd')),
    groups: () => parseGroups(readText(options.groupFile ?? '/etc/group')),
    async logins(since) {
      const events: LoginEvent[] = [];
      const sources: string[] = [];
      const problems: string[] = [];
      const dates = new DateParser({ timezone: options.timezone ?? 'local' });
      for (const log of options.authLogs ?? ['/var/log/auth.log', '/var/log/secure']) {
        for (const path of [...rotatedSiblings(log), log]) {
          if (!existsSync(path)) continue;
          try {
            if (statSync(path).mtimeMs / 1000 < since) continue; // nothing in it is recent
            const file = loadLoginFile(path);
            problems.push(...file.problems);
            events.push(...acceptedInLog(file.data, path, dates).filter((e) => e.at >= since));
            sources.push(path);
          } catch (e) {
            problems.push(`${path}: ${(e as Error).message}`);
          }
        }
      }
      if (options.journal ?? true) {
        const j = await journalLogins(since, dates);
        events.push(...j.events);
        sources.push(...j.sources);
        problems.push(...j.problems);
      }
      const db = options.wardenDb === undefined ? '/var/lib/warden/warden.db' : options.wardenDb;
      if (db !== null && existsSync(db)) {
        try {
          events.push(...await wardenDbLogins(db, since));
          sources.push(db);
        } catch (e) {
          problems.push(`${db}: ${(e as Error).message}`);
        }
      }
      const wtmp = options.wtmp === undefined ? '/var/log/wtmp' : options.wtmp;
      if (wtmp !== null) {
        for (const path of [...rotatedSiblings(wtmp), wtmp]) {
          if (!existsSync(path)) continue;
          try {
            events.push(...wtmpLogins(loadLoginFile(path).data, path).filter((e) => e.at >= since));
            sources.push(path);
          } catch (e) {
            problems.push(`${path}: ${(e as Error).message}`);
          }
        }
      }
      return { events: dedupe(events), sources, problems };
    },
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !f[0] || f[0].startsWith('+') || f[0].startsWith('-')) continue;
    const uid = Number(f[2]), gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

export function parseGroups(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !f[0]) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

const ACCEPTED = /^Accepted (\S+) for (\S+) from (\S+) port \d+(?: ssh2)?(?:: (\S+) ((?:SHA256|MD5):\S+))?/;
const SSHD_PROGRAMS = new Set(['sshd', 'sshd-session']);

/** "Accepted METHOD for USER from ADDR port N ssh2[: TYPE FP]" lines of sshd in a syslog-format log. */
export function acceptedInLog(data: Buffer, source: string, dates: DateParser): LoginEvent[] {
  const out: LoginEvent[] = [];
  const needle = Buffer.from(': Accepted ');
  const header = newHeader();
  let from = 0;
  for (;;) {
    const hit = data.indexOf(needle, from);
    if (hit < 0) break;
    const start = data.lastIndexOf(10, hit) + 1;
    let end = data.indexOf(10, hit);
    if (end < 0) end = data.length;
    from = end;
    const line = data.toString('utf8', start, end).replace(/\r$/, '');
    const event = acceptedLine(line, source, dates, header);
    if (event) out.push(event);
  }
  return out;
}

function acceptedLine(line: string, source: string, dates: DateParser, header = newHeader()): LoginEvent | undefined {
  if (!parseHeader(line, dates, header) || Number.isNaN(header.time)) return undefined;
  if (!SSHD_PROGRAMS.has(line.slice(header.programStart, header.programEnd))) return undefined;
  const m = ACCEPTED.exec(line.slice(header.messageStart));
  if (!m) return undefined;
  const address = canonicalAddress(m[3]!)?.text ?? m[3]!;
  return { user: m[2]!, method: m[1]!, at: Math.floor(header.time / 1000), address, keyType: m[4] ?? null, fingerprint: m[5] ?? null, source };
}

async function journalLogins(since: number, dates: DateParser): Promise<LoginHistory> {
  const base = ['--no-pager', '-q', '-o', 'short-iso', `--since=@${Math.floor(since)}`, 'SYSLOG_IDENTIFIER=sshd', 'SYSLOG_IDENTIFIER=sshd-session'];
  let r;
  try {
    r = await execFile('journalctl', ['--grep=^Accepted ', ...base], { timeoutMs: 60_000 });
    // journalctl built without pattern matching refuses --grep: read everything and filter here.
    if (r.code !== 0 && /pattern|grep|pcre/i.test(r.stderr)) r = await execFile('journalctl', base, { timeoutMs: 120_000 });
  } catch (e) {
    return { events: [], sources: [], problems: [`journal: journalctl could not be run (${(e as Error).message})`] };
  }
  // Exit status 1 with no output: no matching entries (journalctl --grep reports "no match" so).
  if (r.code !== 0 && r.stdout.trim() === '' && r.stderr.trim() === '') return { events: [], sources: ['journal'], problems: [] };
  if (r.code !== 0) return { events: [], sources: [], problems: [`journal: journalctl failed: ${r.stderr.trim() || `exit ${r.code}`}`] };
  const events = acceptedInLog(Buffer.from(r.stdout), 'journal', dates).filter((e) => e.at >= since);
  return { events, sources: ['journal'], problems: [] };
}

async function wardenDbLogins(path: string, since: number): Promise<LoginEvent[]> {
  // Loaded on demand: the audit must work where the native module cannot load.
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT address, user, method, at FROM logins WHERE at >= ?').all(since * 1000) as Array<{ address: string; user: string; method: string; at: number }>;
    return rows.map((r) => ({ user: r.user, method: r.method, at: Math.floor(r.at / 1000), address: r.address, fingerprint: null, keyType: null, source: path }));
  } finally {
    db.close();
  }
}

/** Network logins from wtmp (USER_PROCESS with a remote host): who logged in, from where, when — not how. */
export function wtmpLogins(data: Uint8Array, source: string): LoginEvent[] {
  const out: LoginEvent[] = [];
  for (const r of parseUtmp(data).records) {
    if (r.type !== UtmpType.USER_PROCESS || !r.user || !r.host) continue;
    out.push({ user: r.user, method: 'unknown', at: r.sec, address: r.address ?? r.host, fingerprint: null, keyType: null, source });
  }
  return out;
}

function dedupe(events: LoginEvent[]): LoginEvent[] {
  const seen = new Map<string, LoginEvent>();
  for (const e of events) {
    const key = `${e.user}\0${e.method}\0${e.at}\0${e.address ?? ''}`;
    const had = seen.get(key);
    if (!had || (had.fingerprint === null && e.fingerprint !== null)) seen.set(key, e);
  }
  return [...seen.values()].sort((a, b) => b.at - a.at);
}

// ------------------------------------------------------------------ authorized keys

export const KEY_TYPES = new Set([
  'ssh-ed25519', 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ecdsa-sha2-nistp256@openssh.com', 'sk-ssh-ed25519@openssh.com',
  'ssh-ed25519-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com', 'ssh-dss-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384-cert-v01@openssh.com', 'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com', 'sk-ssh-ed25519-cert-v01@openssh.com',
]);

export interface AuthorizedKey {
  readonly file: string;
  readonly line: number;
  readonly type: string;
  readonly fingerprint: string;
  readonly comment: string;
  readonly options: string[];
  /** Bits of an RSA key. */
  readonly bits: number | null;
  /** Why sshd would not let this key open an interactive admin session; null when it would. */
  readonly unusable: string | null;
  /** Restrictions worth knowing (from="…", no-pty, …). */
  readonly notes: string[];
}

export interface KeyFileCheck {
  readonly path: string;
  readonly exists: boolean;
  /** A StrictModes problem (sshd ignores the file), or a read error. */
  readonly problem: string | null;
  readonly keys: AuthorizedKey[];
}

/** Expands AuthorizedKeysFile tokens: %% %h %u %U; a relative result is under the home directory. Throws on an unknown token. */
export function expandKeysPath(template: string, user: PasswdEntry): string {
  const out = template.replace(/%(.)/g, (_, c: string) => {
    switch (c) {
      case '%': return '%';
      case 'h': return user.home;
      case 'u': return user.name;
      case 'U': return String(user.uid);
      default: throw new Error(`AuthorizedKeysFile ${template}: unknown token %${c}`);
    }
  });
  return isAbsolute(out) ? out : join(user.home, out);
}

/** Splits the AuthorizedKeysFile value as sshd -T prints it (space-separated; "none" = no files). */
export function keysFileTemplates(value: string | undefined): string[] {
  const parts = (value ?? '').split(/\s+/).filter(Boolean);
  return parts.length === 1 && parts[0]!.toLowerCase() === 'none' ? [] : parts;
}

export interface KeyCheckContext {
  readonly strictModes: boolean;
  /** PubkeyAcceptedAlgorithms (null: not known, not checked). */
  readonly accepted: readonly string[] | null;
  readonly requiredRsaSize: number;
  /** Seconds, for expiry-time. */
  readonly now: number;
}

/** Reads one user's authorized keys files the way sshd would. */
export function checkKeyFiles(user: PasswdEntry, templates: readonly string[], ctx: KeyCheckContext): KeyFileCheck[] {
  return templates.map((t) => {
    let path: string;
    try {
      path = expandKeysPath(t, user);
    } catch (e) {
      return { path: t, exists: false, problem: (e as Error).message, keys: [] };
    }
    if (!existsSync(path)) return { path, exists: false, problem: null, keys: [] };
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      return { path, exists: true, problem: `cannot read: ${(e as Error).message}`, keys: [] };
    }
    const problem = ctx.strictModes ? securePath(path, user) : null;
    return { path, exists: true, problem, keys: parseAuthorizedKeys(text, path, ctx) };
  });
}

/**
 * sshd's auth_secure_path(): the file and every directory above it up to the home directory (or
 * up to / when the file is outside it) must be owned by the user or root and not writable by
 * group or others. Returns the problem, or null.
 */
export function securePath(path: string, user: PasswdEntry): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    return `cannot resolve ${path}: ${(e as Error).message}`;
  }
  const bad = (p: string): boolean => {
    const st = statSync(p);
    return (st.uid !== 0 && st.uid !== user.uid) || (st.mode & 0o022) !== 0;
  };
  try {
    if (!lstatSync(real).isFile()) return `${real} is not a regular file`;
    if (bad(real)) return `bad ownership or modes for file ${real} (sshd with StrictModes ignores it)`;
    let home: string | null = null;
    try {
      home = realpathSync(user.home);
    } catch {
      home = null;
    }
    let dir = real;
    for (;;) {
      dir = dirname(dir);
      if (bad(dir)) return `bad ownership or modes for directory ${dir} (sshd with StrictModes ignores ${real})`;
      if ((home !== null && dir === home) || dir === '/') break;
    }
  } catch (e) {
    return `cannot check ${real}: ${(e as Error).message}`;
  }
  return null;
}

/** Parses authorized_keys text (options, type, base64 blob, comment per line). */
export function parseAuthorizedKeys(text: string, file: string, ctx: KeyCheckContext): AuthorizedKey[] {
  const out: AuthorizedKey[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let rest = line;
    let options: string[] = [];
    const firstSpace = rest.search(/\s/);
    const firstWord = firstSpace < 0 ? rest : rest.slice(0, firstSpace);
    if (!KEY_TYPES.has(firstWord)) {
      const { opts, end } = splitOptions(rest);
      options = opts;
      rest = rest.slice(end).trim();
    }
    const m = /^(\S+)\s+([A-Za-z0-9+/=]+)(?:\s+(.*))?$/.exec(rest);
    if (!m || !KEY_TYPES.has(m[1]!)) return;
    const blob = Buffer.from(m[2]!, 'base64');
    const fields = sshStrings(blob, 3);
    if (!fields.length || fields[0]!.toString('latin1') !== m[1]) return; // not a key of that type
    const type = m[1]!;
    const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    const bits = type === 'ssh-rsa' && fields[2] ? mpintBits(fields[2]) : null;
    const notes: string[] = [];
    let unusable: string | null = null;
    const lower = options.map((o) => o.toLowerCase());
    const forced = lower.find((o) => o.startsWith('command='));
    const certAuthority = lower.includes('cert-authority');
    if (forced) unusable = `forced command (${options[lower.indexOf(forced)]}): not an interactive login`;
    const expiry = lower.find((o) => o.startsWith('expiry-time='));
    if (!unusable && expiry) {
      const t = parseExpiry(expiry.slice('expiry-time='.length).replace(/"/g, ''));
      if (t !== null && t <= ctx.now) unusable = `expired (${options[lower.indexOf(expiry)]})`;
    }
    if (!unusable && !certAuthority && ctx.accepted !== null && !acceptedFor(type).some((a) => ctx.accepted!.includes(a))) {
      unusable = `key type ${type} is not in PubkeyAcceptedAlgorithms`;
    }
    if (!unusable && bits !== null && bits < ctx.requiredRsaSize) unusable = `RSA key of ${bits} bits is below RequiredRSASize ${ctx.requiredRsaSize}`;
    if (certAuthority) notes.push('cert-authority: accepts certificates signed by this key');
    const fromOpt = options.find((o) => o.toLowerCase().startsWith('from='));
    if (fromOpt) notes.push(`only ${fromOpt}`);
    if (lower.includes('restrict') && !lower.includes('pty')) notes.push('restrict: no terminal');
    if (lower.includes('no-pty')) notes.push('no-pty: no terminal');
    out.push({ file, line: i + 1, type, fingerprint, comment: m[3] ?? '', options, bits, unusable, notes });
  });
  return out;
}

/** The options field: comma-separated, double-quoted values may contain spaces and commas. */
function splitOptions(s: string): { opts: string[]; end: number } {
  const opts: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s[i]!;
    if (!quoted && (c === ' ' || c === '\t')) break;
    if (c === '\\' && quoted && s[i + 1] === '"') { cur += '\\"'; i++; continue; }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) { opts.push(cur); cur = ''; continue; }
    cur += c;
  }
  if (cur) opts.push(cur);
  return { opts, end: i };
}

/** The first n length-prefixed strings of an SSH wire blob. */
function sshStrings(blob: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (out.length < n && off + 4 <= blob.length) {
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) break;
    out.push(blob.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

function mpintBits(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
}

/** expiry-time="YYYYMMDD[HHMM[SS]][Z]" -> seconds (local time unless Z). */
function parseExpiry(v: string): number | null {
  const m = /^(\d{4})(\d\d)(\d\d)(?:(\d\d)(\d\d)(\d\d)?)?(Z)?$/i.exec(v);
  if (!m) return null;
  const parts = [Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)] as const;
  return (m[7] ? Date.UTC(...parts) : new Date(...parts).getTime()) / 1000;
}

/** Signature algorithms that can authenticate with a key of this type. */
export function acceptedFor(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  if (type === 'ssh-rsa-cert-v01@openssh.com') return ['rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com'];
  return [type];
}

// ------------------------------------------------------------------ sshd's user access lists

/** OpenSSH match_pattern(): * and ? wildcards, whole string, case-sensitive. */
export function matchPattern(s: string, pattern: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\/-]/g, (x) => `\\${x}`).replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(s);
}

/** A host pattern list ("a,b,!c", CIDR allowed) against a host name / address; null when the address is unknown. */
function matchHostList(address: string | null, list: string): boolean | null {
  if (address === null) return null;
  const addr = canonicalAddress(address);
  let matched = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const p = negated ? raw.slice(1) : raw;
    const cidr = p.includes('/') ? parseCidr(p) : undefined;
    const hit = cidr && addr ? cidr.contains(addr) : matchPattern(address.toLowerCase(), p.toLowerCase());
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

/** OpenSSH match_user(): "user" or "user@host-or-address-list". */
function matchUser(user: string, address: string | null, pattern: string): boolean | null {
  const at = pattern.lastIndexOf('@');
  if (at < 0) return matchPattern(user, pattern);
  if (!matchPattern(user, pattern.slice(0, at))) return false;
  return matchHostList(address, pattern.slice(at + 1));
}

export interface AccessLists {
  readonly denyUsers: readonly string[];
  readonly allowUsers: readonly string[];
  readonly denyGroups: readonly string[];
  readonly allowGroups: readonly string[];
}

/**
 * sshd's allowed_user() checks of DenyUsers, AllowUsers, DenyGroups, AllowGroups (in that order).
 * Returns null when allowed, else the reason. With an unknown client address, a user@host
 * pattern cannot be decided: that is reported as a reason too (the check must be sure).
 */
export function accessDenied(user: string, groups: readonly string[], address: string | null, lists: AccessLists): string | null {
  for (const p of lists.denyUsers) {
    const m = matchUser(user, address, p);
    if (m === null) return `DenyUsers ${p} may match (client address unknown)`;
    if (m) return `listed in DenyUsers (${p})`;
  }
  if (lists.allowUsers.length) {
    let ok = false;
    for (const p of lists.allowUsers) if (matchUser(user, address, p) === true) ok = true;
    if (!ok) return `not in AllowUsers (${lists.allowUsers.join(' ')})`;
  }
  for (const p of lists.denyGroups) if (groups.some((g) => matchPattern(g, p))) return `a group is in DenyGroups (${p})`;
  if (lists.allowGroups.length && !groups.some((g) => lists.allowGroups.some((p) => matchPattern(g, p)))) {
    return `no group in AllowGroups (${lists.allowGroups.join(' ')})`;
  }
  return null;
}

/** Whether the login shell lets the user in (sshd refuses a missing or non-executable shell; nologin/false end the session). */
export function shellProblem(shell: string): string | null {
  const sh = shell || '/bin/sh';
  if (/(^|\/)(nologin|false)$/.test(sh)) return `login shell is ${sh}`;
  try {
    accessSync(sh, constants.X_OK);
  } catch {
    return `login shell ${sh} does not exist or is not executable`;
  }
  return null;
}
