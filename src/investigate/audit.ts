/**
 * `warden audit ssh`: the risky settings of the EFFECTIVE sshd configuration, a lockout-safe
 * hardening plan, and (with `apply`) a drop-in file that carries it out.
 *
 * The effective configuration comes from `sshd -T -f CONFIG` — what sshd would run with after
 * Includes, first-value-wins and defaults. When sshd -T cannot run (not root, no host keys, sshd
 * not running so /run/sshd is missing), the reason is reported and the files are read instead
 * (see audit-config.ts for what that reader follows and what it cannot know).
 *
 * Lockout safety: changes that can keep people out (root logins, passwords, StrictModes, user key
 * algorithms) are recommended only when an admin account — a member of sudo/wheel/admin, or a uid-0
 * account other than root — would still get in: a login shell, not refused by Allow/Deny lists,
 * public keys enabled for them (Match blocks evaluated with `sshd -T -C`), a usable authorized key
 * (AuthorizedKeysFile expanded, StrictModes checks, accepted key types) AND a key login within the
 * recent window (auth log, journal, warden's database), by a key still authorized when the log
 * names its fingerprint. `apply` refuses outright without such an admin.
 *
 * Applying: the drop-in (default DIR/sshd_config.d/50-warden-hardening.conf next to the main
 * config) is written only when an Include at global scope of the main config covers it; a previous
 * warden drop-in is kept as a rollback copy; then `sshd -t` validates, `sshd -T` must show every
 * value written (sshd takes the FIRST value it reads, so an earlier file can override the drop-in),
 * and the admins are checked again against the new configuration. Any failure restores the old
 * state. sshd is not reloaded: the result says how to reload and how to roll back.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { execFile, type ExecResult } from '../util/exec.js';
import { canonicalAddress } from '../util/ip.js';
import {
  argvSplit, canonicalKey, effectiveFromFiles, first, globMatches, normalise, origin, parseSshdT, readingPosition, readSshdConfig,
  setBefore, splitKeyword, type Effective, type ParsedConfig,
} from './audit-config.js';
import {
  ADMIN_GROUPS, accessDenied, checkKeyFiles, keysFileTemplates, liveAccounts, shellProblem,
  type AccountSource, type GroupEntry, type LoginEvent, type PasswdEntry,
} from './audit-accounts.js';
import { assess, keywordName, type AuditFinding, type Change } from './audit-rules.js';

export type { AuditFinding, Change, Severity } from './audit-rules.js';
export type { AccountSource, LoginEvent, PasswdEntry, GroupEntry } from './audit-accounts.js';

export const DEFAULT_SSHD_CONFIG = '/etc/ssh/sshd_config';
export const DROPIN_NAME = '50-warden-hardening.conf';
export const DEFAULT_RECENT_DAYS = 30;
const MARKER = '# Written by warden audit ssh --apply.';

/** Runs sshd with these arguments (tests run it in a private mount namespace). */
export type SshdRunner = (args: readonly string[]) => Promise<ExecResult>;

export interface AuditSshOptions {
  /** Main sshd configuration file. Default /etc/ssh/sshd_config. */
  readonly config?: string;
  /** Directory of the drop-in. Default: sshd_config.d next to the main configuration. */
  readonly dropinDir?: string;
  /** File name of the drop-in. Default 50-warden-hardening.conf. */
  readonly dropinName?: string;
  /** The sshd program. Default: found on PATH or in the sbin directories. */
  readonly sshd?: string;
  /** How to run sshd; default runs `sshd` directly. */
  readonly runSshd?: SshdRunner;
  /** Write the drop-in (see the module comment). */
  readonly apply?: boolean;
  /** Accounts and login history. Default: the live system. */
  readonly accounts?: AccountSource;
  /** A key login counts as recent within this many days. Default 30. */
  readonly recentDays?: number;
  /** Seconds since the epoch. */
  readonly now?: () => number;
  /** sshd's compiled-in SSHDIR, for relative Include patterns. Default /etc/ssh. */
  readonly sshDir?: string;
}

export interface KeyLoginInfo {
  readonly at: number;
  readonly address: string | null;
  readonly fingerprint: string | null;
  /** The fingerprint is one of the account's usable keys (null: the log does not name the key). */
  readonly matchesKey: boolean | null;
  readonly source: string;
}

export interface AdminCheck {
  readonly user: string;
  readonly uid: number;
  readonly home: string;
  /** Why this is an admin account: "group sudo", "uid 0". */
  readonly via: string[];
  readonly keyFiles: Array<{ path: string; exists: boolean; problem: string | null; usable: number; unusable: Array<{ line: number; fingerprint: string; why: string }> }>;
  readonly usableKeys: Array<{ file: string; line: number; type: string; fingerprint: string; comment: string; notes: string[] }>;
  readonly lastKeyLogin: KeyLoginInfo | null;
  /** The latest login by any method (wtmp included), for context. */
  readonly lastLogin: { at: number; method: string; address: string | null; source: string } | null;
  /** How the per-user configuration was obtained: "sshd -T -C …" or "global". */
  readonly evaluated: string;
  /** Why this admin does not count as a safe way in; empty when ready. */
  readonly problems: string[];
  readonly ready: boolean;
}

export interface WithheldChange extends Change {
  readonly reason: string;
}

export interface DropinPlan {
  readonly path: string;
  /** An Include at global scope of the main configuration covers the path. */
  readonly covered: boolean;
  /** The covering Include ("FILE line N: PATTERN"). */
  readonly include: string | null;
  /** Why it cannot be written there, if so. */
  readonly problem: string | null;
  /** Settings of the drop-in that an earlier file would override (sshd keeps the first value). */
  readonly conflicts: string[];
  /** What --apply writes (null when there is nothing to write). */
  readonly content: string | null;
}

export interface Plan {
  /** An admin has been shown to get in with a key: lockout-relevant changes may be made. */
  readonly safe: boolean;
  readonly verdict: string;
  readonly recentDays: number;
  readonly admins: AdminCheck[];
  readonly readyAdmins: string[];
  /** root: usable keys and the latest key login (for PermitRootLogin). */
  readonly root: { usableKeys: number; lastKeyLogin: KeyLoginInfo | null } | null;
  /** Recommended now (what --apply writes). */
  readonly changes: Change[];
  /** Not recommended until an admin key login is proven. */
  readonly withheld: WithheldChange[];
  readonly dropin: DropinPlan;
  readonly emergency: string[];
  readonly steps: string[];
  readonly loginSources: string[];
  readonly loginProblems: string[];
}

export interface ApplyResult {
  readonly applied: boolean;
  /** Why nothing was (or stayed) written. */
  readonly refused: string[];
  readonly path: string;
  readonly backup: string | null;
  readonly validated: boolean;
  readonly rolledBack: boolean;
  /** Effective values of the settings written, after writing. */
  readonly effective: Record<string, string>;
  readonly messages: string[];
}

export interface SshAudit {
  /** Where the effective values come from. */
  readonly source: 'sshd -T' | 'files' | 'none';
  readonly config: string;
  readonly sshd: { readonly program: string | null; readonly version: string | null };
  readonly findings: AuditFinding[];
  readonly plan: Plan;
  readonly apply: ApplyResult | null;
  readonly errors: string[];
}

// ------------------------------------------------------------------ running sshd

export function findSshd(): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, 'sshd');
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A readable explanation of a failed `sshd -T`/`sshd -t`. */
export function explainSshdFailure(what: string, r: ExecResult): string {
  const err = (r.stderr || r.stdout).trim();
  const privsep = /Missing privilege separation directory: (\S+)/.exec(err);
  if (privsep) {
    return `${what} failed: ${privsep[1]} is missing. It exists while sshd runs (systemd creates it), so sshd is probably not running here; `
      + `start sshd, or create it with "install -d -m 0755 ${privsep[1]}", and run the audit again.`;
  }
  if (/no hostkeys available|Unable to load host key/i.test(err)) {
    const keys = [...err.matchAll(/Unable to load host key:? (\S+)/g)].map((m) => m[1]).join(', ');
    const root = process.getuid?.() === 0;
    return `${what} failed: it cannot load the host keys${keys ? ` (${keys})` : ''}. `
      + (root ? 'They are missing or unreadable; "ssh-keygen -A" creates the default ones (sshd does not start without them).'
        : 'Only root can read them: run the audit as root.');
  }
  if (/line \d+|Bad configuration option|not allowed within a Match|Unsupported option|invalid/i.test(err)) {
    return `${what} rejects the configuration (sshd would not start or reload with it): ${err.split('\n').slice(0, 5).join(' | ')}`;
  }
  return `${what} failed (exit ${r.code ?? r.signal ?? '?'}): ${err.split('\n').slice(0, 5).join(' | ') || 'no message'}`;
}

// ------------------------------------------------------------------ the audit

export async function auditSsh(options: AuditSshOptions = {}): Promise<SshAudit> {
  const config = resolve(options.config ?? DEFAULT_SSHD_CONFIG);
  const dropinDir = resolve(options.dropinDir ?? join(dirname(config), 'sshd_config.d'));
  const dropinPath = join(dropinDir, options.dropinName ?? DROPIN_NAME);
  const now = options.now ?? ((): number => Date.now() / 1000);
  const recentDays = options.recentDays ?? DEFAULT_RECENT_DAYS;
  const since = now() - recentDays * 86_400;
  const accounts = options.accounts ?? liveAccounts();
  const errors: string[] = [];

  const program = options.sshd ?? findSshd() ?? null;
  const run: SshdRunner | null = options.runSshd ?? (program ? (args) => execFile(program, args, { timeoutMs: 20_000 }) : null);
  if (!run) errors.push('sshd not found (is openssh-server installed? --sshd PATH names it)');

  // The files: needed for Include coverage and origins, and as the fallback.
  let parsed: ParsedConfig | null = null;
  try {
    parsed = readSshdConfig(config, { sshDir: options.sshDir });
    for (const p of parsed.problems) errors.push(p);
  } catch (e) {
    errors.push(`${config}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message}`);
  }

  let version: string | null = null;
  let effective: Map<string, string[]> | null = null;
  let source: SshAudit['source'] = 'none';
  if (run && parsed) {
    const v = await runQuietly(run, ['-V']);
    version = /OpenSSH_[\w.]+/.exec(`${v?.stderr ?? ''}${v?.stdout ?? ''}`)?.[0] ?? null;
    const t = await runQuietly(run, ['-T', '-f', config]);
    if (t && t.code === 0) {
      effective = parseSshdT(t.stdout);
      source = 'sshd -T';
    } else {
      errors.push(t ? explainSshdFailure(`sshd -T -f ${config}`, t) : `sshd could not be started (${program ?? 'sshd'})`);
    }
  }
  if (!effective && parsed) {
    const files = effectiveFromFiles(parsed);
    effective = files.effective;
    source = 'files';
    errors.push(...files.problems);
    errors.push('the values below come from reading the files, not from sshd: Match blocks are not evaluated, OpenSSH 7.0+ defaults are assumed, and the algorithm lists are not checked. --apply needs sshd -T.');
  }
  const eff: Effective = effective ?? new Map();

  // Accounts and logins.
  const passwd = accounts.passwd();
  const groups = accounts.groups();
  const history = await accounts.logins(since);
  const keyLogins = history.events.filter((e) => e.method === 'publickey' && e.at >= since);
  const rootKeyLogins = keyLogins.filter((e) => e.user === 'root').length;
  const loginAccounts = passwd.filter((p) => p.uid >= 1000 && p.uid !== 65534 && !/(nologin|false)$/.test(p.shell)).map((p) => p.name);

  const where = (key: string): string | null => {
    if (!parsed) return null;
    const o = origin(parsed, key);
    if (o) return `${o.file} line ${o.line}`;
    return source === 'sshd -T' ? 'default' : 'default (assumed)';
  };
  const assessment = effective ? assess(eff, { rootKeyLogins, loginAccounts }, where) : { findings: [], changes: [] };
  const findings = [...assessment.findings];
  if (parsed && parsed.matches.length) {
    findings.push({
      setting: 'Match', value: `${parsed.matches.length} block${parsed.matches.length > 1 ? 's' : ''}`, severity: 'info',
      why: `per-user/per-address overrides (${parsed.matches.slice(0, 4).map((m) => `${m.file} line ${m.line}: Match ${m.criteria}`).join('; ')}${parsed.matches.length > 4 ? '; …' : ''}) that the global values above do not show.`,
      recommendation: 'check what a connection gets: sshd -T -C user=NAME,host=HOST,addr=ADDRESS',
      where: null,
    });
  }

  const changes = assessment.changes;
  const ctx: CheckContext = { eff, passwd, run: source === 'sshd -T' ? run : null, config, groups, history: history.events, keyLogins, since, now: now() };

  const admins = adminAccounts(passwd, groups);
  const checks: AdminCheck[] = [];
  for (const a of admins) checks.push(await checkAdmin(a.entry, a.via, ctx, changes));
  const rootEntry = passwd.find((p) => p.name === 'root');
  const rootCheck = rootEntry ? await checkAdmin(rootEntry, ['root'], ctx, changes) : null;
  const ready = checks.filter((c) => c.ready).map((c) => c.user);
  const safe = ready.length > 0;

  const recommended = safe ? changes : changes.filter((c) => !c.lockout);
  const withheld: WithheldChange[] = safe ? [] : changes.filter((c) => c.lockout).map((c) => ({
    ...c, reason: checks.length ? 'no admin account has shown a recent key login with a usable key (see admins)' : 'no admin account (sudo/wheel/admin member or uid 0 other than root) found',
  }));

  // The drop-in.
  const dropin = planDropin(dropinPath, config, parsed, eff, recommended);
  const service = existsSync('/lib/systemd/system/ssh.service') || existsSync('/usr/lib/systemd/system/ssh.service') ? 'ssh' : 'sshd';
  const verdict = safe
    ? `safe to harden: ${ready.join(', ')} can log in with a key (recent key login, usable authorized key).`
    : checks.length
      ? `NOT safe to disable root or password logins yet: no admin account has both a usable authorized key and a key login in the last ${recentDays} days.`
      : 'NOT safe to disable root or password logins yet: there is no admin account (a member of sudo, wheel or admin, or a uid-0 account other than root).';

  const plan: Plan = {
    safe, verdict, recentDays, admins: checks, readyAdmins: ready,
    root: rootCheck ? { usableKeys: rootCheck.usableKeys.length, lastKeyLogin: rootCheck.lastKeyLogin } : null,
    changes: recommended, withheld, dropin,
    emergency: emergencyAdvice(ready, checks, dropin.path, service),
    steps: steps(safe, dropin, service, config, checks, recommended.length),
    loginSources: history.sources, loginProblems: history.problems,
  };

  let apply: ApplyResult | null = null;
  if (options.apply) apply = await applyPlan(plan, { source, run, config, ctx, parsedOptions: { sshDir: options.sshDir }, service });

  return { source, config, sshd: { program, version }, findings, plan, apply, errors };
}

async function runQuietly(run: SshdRunner, args: readonly string[]): Promise<ExecResult | null> {
  try {
    return await run(args);
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ admins

export function adminAccounts(passwd: readonly PasswdEntry[], groups: readonly GroupEntry[]): Array<{ entry: PasswdEntry; via: string[] }> {
  const out: Array<{ entry: PasswdEntry; via: string[] }> = [];
  for (const p of passwd) {
    if (p.name === 'root') continue;
    const via: string[] = [];
    for (const g of groups) {
      if (!(ADMIN_GROUPS as readonly string[]).includes(g.name)) continue;
      if (g.gid === p.gid || g.members.includes(p.name)) via.push(`group ${g.name}`);
    }
    if (p.uid === 0) via.push('uid 0');
    if (via.length && !out.some((o) => o.entry.name === p.name)) out.push({ entry: p, via });
  }
  return out;
}

function groupNames(user: PasswdEntry, groups: readonly GroupEntry[]): string[] {
  return groups.filter((g) => g.gid === user.gid || g.members.includes(user.name)).map((g) => g.name);
}

interface CheckContext {
  readonly eff: Effective;
  readonly passwd: readonly PasswdEntry[];
  /** Set when per-user evaluation with sshd -T -C is possible. */
  readonly run: SshdRunner | null;
  readonly config: string;
  readonly groups: readonly GroupEntry[];
  readonly history: readonly LoginEvent[];
  readonly keyLogins: readonly LoginEvent[];
  readonly since: number;
  readonly now: number;
}

/**
 * Whether this account would get in with a key after `changes` (pass [] to check the
 * configuration as it is).
 */
async function checkAdmin(user: PasswdEntry, via: string[], ctx: CheckContext, changes: readonly Change[]): Promise<AdminCheck> {
  const problems: string[] = [];
  const mine = ctx.keyLogins.filter((e) => e.user === user.name);
  const latestKey = mine[0] ?? null;
  const anyLogin = ctx.history.filter((e) => e.user === user.name)[0] ?? null;
  const address = latestKey?.address && canonicalAddress(latestKey.address) ? canonicalAddress(latestKey.address)!.text : null;

  // The configuration this user gets (Match blocks), with the planned changes where no Match overrides them.
  let perUser: Map<string, readonly string[]> = new Map(ctx.eff);
  let evaluated = 'global configuration (Match blocks not evaluated)';
  if (ctx.run && /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(user.name)) {
    const addr = address ?? '127.0.0.1';
    const spec = `user=${user.name},host=${addr},addr=${addr}`;
    const r = await runQuietly(ctx.run, ['-T', '-f', ctx.config, '-C', spec]);
    if (r && r.code === 0) {
      perUser = parseSshdT(r.stdout);
      evaluated = `sshd -T -C ${spec}`;
    } else if (r) {
      problems.push(explainSshdFailure(`sshd -T -C ${spec}`, r));
    }
  }
  for (const c of changes) {
    const key = canonicalKey(c.setting);
    if (first(perUser, key) === first(ctx.eff, key)) perUser.set(key, [c.to]);
  }
  const get = (k: string): string | undefined => first(perUser, k);

  const shell = shellProblem(user.shell);
  if (shell) problems.push(shell);
  const denied = accessDenied(user.name, groupNames(user, ctx.groups), address, {
    denyUsers: perUser.get('denyusers') ?? [], allowUsers: perUser.get('allowusers') ?? [],
    denyGroups: perUser.get('denygroups') ?? [], allowGroups: perUser.get('allowgroups') ?? [],
  });
  if (denied) problems.push(`sshd refuses the account: ${denied}`);
  if (get('pubkeyauthentication') === 'no') problems.push('PubkeyAuthentication is no for this account');
  const methods = (get('authenticationmethods') ?? 'any').split(/\s+/).filter(Boolean);
  if (!(methods.length === 1 && methods[0] === 'any')) {
    const enabled = (m: string): boolean => m === 'publickey'
      || (m.startsWith('password') && get('passwordauthentication') === 'yes')
      || (m.startsWith('keyboard-interactive') && get('kbdinteractiveauthentication') === 'yes');
    const ok = methods.some((list) => list.split(',').includes('publickey') && list.split(',').every(enabled));
    if (!ok) problems.push(`AuthenticationMethods ${methods.join(' ')} leaves no way in with a key${changes.length ? ' after the changes' : ''}`);
  }
  const forced = get('forcecommand');
  if (forced !== undefined && forced !== 'none') problems.push(`ForceCommand ${forced} applies to this account: no shell to administer from`);
  const chroot = get('chrootdirectory');
  if (chroot !== undefined && chroot !== 'none') problems.push(`ChrootDirectory ${chroot} applies to this account`);

  const accepted = get('pubkeyacceptedalgorithms');
  const files = checkKeyFiles(user, keysFileTemplates(get('authorizedkeysfile')), {
    strictModes: get('strictmodes') !== 'no',
    accepted: accepted === undefined ? null : accepted.split(','),
    requiredRsaSize: Number(get('requiredrsasize') ?? 1024) || 1024,
    now: ctx.now,
  });
  const usableKeys = files.filter((f) => f.problem === null).flatMap((f) => f.keys.filter((k) => k.unusable === null))
    .map((k) => ({ file: k.file, line: k.line, type: k.type, fingerprint: k.fingerprint, comment: k.comment, notes: k.notes }));
  if (!usableKeys.length) {
    const details = files.map((f) => f.problem ? `${f.path}: ${f.problem}` : !f.exists ? `${f.path}: missing`
      : f.keys.length ? `${f.path}: ${f.keys.map((k) => k.unusable).join('; ')}` : `${f.path}: no keys`);
    problems.push(`no usable authorized key (${details.join('; ') || 'AuthorizedKeysFile none'})`);
  }

  // The recent key login, preferring one by a key that is still authorized.
  const fps = new Set(usableKeys.map((k) => k.fingerprint));
  const proven = mine.find((e) => e.fingerprint !== null && fps.has(e.fingerprint)) ?? mine.find((e) => e.fingerprint === null) ?? null;
  const shown = proven ?? latestKey;
  const lastKeyLogin: KeyLoginInfo | null = shown ? {
    at: shown.at, address: shown.address, fingerprint: shown.fingerprint, source: shown.source,
    matchesKey: shown.fingerprint === null ? null : fps.has(shown.fingerprint),
  } : null;
  const days = Math.round((ctx.now - ctx.since) / 86_400);
  if (!mine.length) {
    const other = anyLogin ? ` (last login: ${anyLogin.method === 'unknown' ? 'method unknown' : anyLogin.method}, ${new Date(anyLogin.at * 1000).toISOString()} from ${anyLogin.address ?? 'local'}, ${anyLogin.source})` : '';
    problems.push(`no key login in the last ${days} days${other}: log in once with the key (ssh -o PreferredAuthentications=publickey ${user.name}@HOST), then run the audit again`);
  } else if (!proven && usableKeys.length) {
    problems.push(`the recent key logins used keys that are not (or no longer) authorized: ${[...new Set(mine.map((e) => e.fingerprint))].join(', ')}`);
  }

  return {
    user: user.name, uid: user.uid, home: user.home, via,
    keyFiles: files.map((f) => ({
      path: f.path, exists: f.exists, problem: f.problem, usable: f.problem === null ? f.keys.filter((k) => k.unusable === null).length : 0,
      unusable: f.keys.filter((k) => k.unusable !== null).map((k) => ({ line: k.line, fingerprint: k.fingerprint, why: k.unusable! })),
    })),
    usableKeys, lastKeyLogin,
    lastLogin: anyLogin ? { at: anyLogin.at, method: anyLogin.method, address: anyLogin.address, source: anyLogin.source } : null,
    evaluated, problems, ready: problems.length === 0,
  };
}

// ------------------------------------------------------------------ the drop-in

function planDropin(path: string, config: string, parsed: ParsedConfig | null, eff: Effective, changes: readonly Change[]): DropinPlan {
  let covered = false;
  let include: string | null = null;
  let problem: string | null = null;
  if (!parsed) {
    problem = `${config} could not be read`;
  } else {
    const hit = parsed.includes.find((i) => globMatches(i.pattern, path));
    if (hit && hit.global) {
      covered = true;
      include = `${hit.file} line ${hit.line}: Include ${hit.pattern}`;
    } else if (hit) {
      problem = `the Include that covers ${path} (${hit.file} line ${hit.line}) is inside a Match block, so the drop-in would apply to that block only`;
    } else {
      const list = parsed.includes.map((i) => i.pattern);
      problem = `no Include in ${config} covers ${path}${list.length ? ` (Includes: ${list.join(', ')})` : ' (it has no Include)'}: a file there would be ignored by sshd. `
        + `Add "Include ${dirname(path)}/*.conf" at the top of ${config} (before any Match block), or name the included directory with --dropin-dir`;
    }
  }
  let previous: Map<string, string> | null = null;
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    if (!text.startsWith(MARKER)) {
      problem ??= `${path} exists and was not written by warden: move it away or choose another --dropin-dir`;
    } else {
      previous = new Map();
      for (const line of text.split('\n')) {
        const s = splitKeyword(line);
        if (s) previous.set(s.keyword.toLowerCase(), line.trim());
      }
    }
  }
  const lines = new Map<string, string>();
  // Values from an earlier warden drop-in stay unless a new change replaces them.
  for (const [key, line] of previous ?? []) lines.set(key, line);
  for (const c of changes) {
    const key = c.setting.toLowerCase();
    lines.set(key, `${c.setting} ${c.to}`);
    if (key === 'kbdinteractiveauthentication' && eff.has('challengeresponseauthentication')) {
      lines.set('challengeresponseauthentication', `ChallengeResponseAuthentication ${c.to}`);
    }
  }
  const conflicts: string[] = [];
  const at = parsed ? readingPosition(parsed, path) : null;
  if (parsed && at !== null) {
    for (const [key, line] of lines) {
      const s = splitKeyword(line);
      if (!s) continue;
      const ck = canonicalKey(key);
      const ours = normalise(ck, argvSplit(s.rest) ?? [s.rest]);
      const earlier = setBefore(parsed, ck, at, path).find((l) => String(normalise(ck, l.args)) !== String(ours));
      if (earlier) {
        conflicts.push(`${earlier.keyword} ${earlier.args.join(' ')} in ${earlier.file} line ${earlier.line} is read before ${path} and wins (sshd keeps the first value it reads): remove that line or change it to "${line}"`);
      }
    }
  }
  const content = lines.size ? [
    MARKER,
    '# sshd uses the FIRST value it reads for a keyword: this file only works when it is included',
    '# before other settings of the same keywords (Debian and Ubuntu include sshd_config.d first).',
    `# Roll back: delete this file (or restore the .warden-backup-* copy), run "sshd -t", reload sshd.`,
    ...lines.values(),
    '',
  ].join('\n') : null;
  return { path, covered, include, problem, conflicts, content };
}

function emergencyAdvice(ready: readonly string[], checks: readonly AdminCheck[], path: string, service: string): string[] {
  const admin = ready[0] ?? checks[0]?.user ?? 'ADMIN';
  const out = [
    `Keep the session you apply from open. After reloading sshd (open sessions survive a reload), log in from a SECOND terminal with "ssh -o PreferredAuthentications=publickey ${admin}@HOST" and run "sudo true" there before closing the first.`,
    `Console access that does not go through sshd: the provider's web or serial console (or IPMI/KVM). It asks for a password: make sure ${admin} (or root) has one you know — sudo needs it too unless NOPASSWD is set.`,
    `A dead-man switch while testing: systemd-run --on-active=10min --unit=warden-ssh-rollback /bin/sh -c 'rm -f ${path} && systemctl reload ${service}' — cancel it with "systemctl stop warden-ssh-rollback.timer" once the new login works.`,
  ];
  if (ready.length < 2) out.splice(2, 0, 'A second admin (sudo member) with a key of their own, so one lost laptop does not lock everybody out.');
  return out;
}

function steps(safe: boolean, dropin: DropinPlan, service: string, config: string, checks: readonly AdminCheck[], changes: number): string[] {
  const out: string[] = [];
  const cfg = (config === DEFAULT_SSHD_CONFIG ? '' : ` --config ${config}`)
    + (dirname(dropin.path) === join(dirname(config), 'sshd_config.d') ? '' : ` --dropin-dir ${dirname(dropin.path)}`);
  if (!safe) {
    if (!checks.length) out.push('Create an admin account (adduser NAME; usermod -aG sudo NAME), give it a key (~NAME/.ssh/authorized_keys) and log in with it.');
    else out.push('Make an admin key login happen: fix the problems listed for the admins, then log in with the key from a new terminal.');
    out.push(`Run "warden audit ssh${cfg}" again: it then recommends disabling root and password logins.`);
    if (changes) out.push('The changes in the plan cannot lock anybody out, but --apply waits for a proven admin key login before touching sshd at all: make them by hand meanwhile if you like.');
    return out;
  }
  if (dropin.content === null || !changes) return [`Nothing to change${existsSync(dropin.path) ? ` (${dropin.path} is in place)` : ''}.`];
  out.push(`Apply: warden audit ssh --apply${cfg}${dropin.covered ? '' : ' (after adding the Include, see the drop-in problem)'}`);
  const f = config === DEFAULT_SSHD_CONFIG ? '' : ` -f ${config}`;
  out.push(`Reload: systemctl reload ${service} — then check: sshd -T${f} | grep -i -E 'permitrootlogin|passwordauthentication|kbdinteractive'`);
  out.push(`Roll back: rm ${dropin.path} (or copy back the ${basename(dropin.path)}.warden-backup-* file it replaced), "sshd -t${f}", then systemctl reload ${service}`);
  return out;
}

// ------------------------------------------------------------------ applying

interface ApplyContext {
  readonly source: SshAudit['source'];
  readonly run: SshdRunner | null;
  readonly config: string;
  readonly ctx: CheckContext;
  readonly parsedOptions: { sshDir?: string | undefined };
  readonly service: string;
}

async function applyPlan(plan: Plan, a: ApplyContext): Promise<ApplyResult> {
  const path = plan.dropin.path;
  const refused: string[] = [];
  const base = { path, backup: null, validated: false, rolledBack: false, effective: {} as Record<string, string> };
  if (a.source !== 'sshd -T' || !a.run) refused.push('sshd -T could not read the configuration (see errors), so a change could not be validated');
  if (!plan.safe) refused.push(`${plan.verdict} Applying could lock every admin out.`);
  if (plan.dropin.problem) refused.push(plan.dropin.problem);
  if (plan.dropin.conflicts.length) refused.push(`the drop-in would not take effect: ${plan.dropin.conflicts.join('; ')}`);
  if (refused.length) return { ...base, applied: false, refused, messages: [] };
  const content = plan.dropin.content;
  if (content === null) return { ...base, applied: false, refused: [], messages: ['nothing to change: the configuration already has the hardened values'] };
  if (existsSync(path) && readFileSync(path, 'utf8') === content) {
    return { ...base, applied: false, refused: [], messages: [`${path} already has this content`] };
  }
  const run = a.run!;

  // Where to keep the copy of a replaced file: not where an Include would read it.
  let backup: string | null = null;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const parsedBefore = readSshdConfig(a.config, a.parsedOptions);
  if (existsSync(path)) {
    const candidates = [`${path}.warden-backup-${stamp}`, join(dirname(a.config), `${basename(path)}.warden-backup-${stamp}`)];
    backup = candidates.find((c) => !parsedBefore.includes.some((i) => globMatches(i.pattern, c))) ?? null;
    if (!backup) return { ...base, applied: false, refused: [`no place for the rollback copy of ${path} that sshd would not include`], messages: [] };
    copyFileSync(path, backup);
  }
  const rollback = (): void => {
    if (backup) copyFileSync(backup, path);
    else if (existsSync(path)) unlinkSync(path);
  };

  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = join(dirname(path), `.${basename(path)}.warden-tmp-${process.pid}`);
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
  const messages = [backup ? `wrote ${path} (the previous version is kept as ${backup})` : `wrote ${path}`];

  const fail = (why: string, extra: Partial<ApplyResult> = {}): ApplyResult => {
    rollback();
    return { ...base, backup, applied: false, rolledBack: true, refused: [why], messages: [...messages, backup ? `restored ${path} from ${backup}` : `removed ${path} again`], ...extra };
  };

  const t = await runQuietly(run, ['-t', '-f', a.config]);
  if (!t || t.code !== 0) return fail(t ? explainSshdFailure(`sshd -t -f ${a.config}`, t) : 'sshd -t could not be run');
  messages.push(`sshd -t -f ${a.config}: configuration valid`);

  const T = await runQuietly(run, ['-T', '-f', a.config]);
  if (!T || T.code !== 0) return fail(T ? explainSshdFailure(`sshd -T -f ${a.config}`, T) : 'sshd -T could not be run', { validated: true });
  const after = parseSshdT(T.stdout);
  const effective: Record<string, string> = {};
  const overridden: string[] = [];
  const parsedAfter = readSshdConfig(a.config, a.parsedOptions);
  for (const line of content.split('\n')) {
    const s = splitKeyword(line);
    if (!s) continue;
    const key = canonicalKey(s.keyword);
    const got = first(after, key);
    if (got === undefined) continue; // not printed by this sshd version (an alias)
    effective[keywordName(key)] = got;
    const want = normalise(key, argvSplit(s.rest) ?? [s.rest]);
    const have = normalise(key, argvSplit(got) ?? [got]);
    if (String(want) !== String(have)) {
      const o = origin(parsedAfter, key);
      overridden.push(`${s.keyword}: sshd uses ${got}${o && o.file !== path ? `, set earlier in ${o.file} line ${o.line} (sshd keeps the first value it reads)` : ''}`);
    }
  }
  if (overridden.length) {
    return fail(`the drop-in does not take effect: ${overridden.join('; ')}. Remove or change those lines, or make the drop-in be read first, then apply again.`, { validated: true, effective });
  }

  // The admins, against the configuration as it now is.
  const ctx: CheckContext = { ...a.ctx, eff: after };
  const rechecked: AdminCheck[] = [];
  for (const admin of plan.admins.filter((x) => x.ready)) {
    const entry = ctx.passwd.find((p) => p.name === admin.user);
    if (entry) rechecked.push(await checkAdmin(entry, admin.via, ctx, []));
  }
  if (!rechecked.some((c) => c.ready)) {
    return fail(`after the change no admin could log in: ${rechecked.map((c) => `${c.user}: ${c.problems.join('; ')}`).join(' | ')}`, { validated: true, effective });
  }
  messages.push(`sshd -T shows the new values; ${rechecked.filter((c) => c.ready).map((c) => c.user).join(', ')} can still log in with a key`);
  messages.push(`sshd has NOT been reloaded. Keep this session open, then: systemctl reload ${a.service}; test a new key login in a second terminal.`);
  messages.push(`Roll back: ${backup ? `cp ${backup} ${path}` : `rm ${path}`} && sshd -t -f ${a.config} && systemctl reload ${a.service}`);
  return { path, backup, validated: true, rolledBack: false, applied: true, refused: [], effective, messages };
}
