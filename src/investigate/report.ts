/**
 * `warden report`: the one screen an admin reads first, and a cron job's exit status.
 *
 * Gathers, for a window (default the last 24 hours): who is logged in now (utmp), the logins of
 * the window and any root login (wtmp and the auth log), the top attacking addresses with their
 * failures and ban state (the auth logs read once, sshd filter in aggressive mode), the daemon's
 * active and permanent bans, compromise indicators, integrity findings (wtmp, the auth logs'
 * fingerprints and gaps, the journal's own verification) and the SSH hardening audit.
 *
 * Compromise indicators:
 *  - a successful login from an address that failed before it in the window (a guessed password
 *    looks like that). Failures that look like typos — up to 3 of the same user within 2 minutes
 *    before a login — do not count: they are listed as `typos`, so that a user who mistypes does
 *    not make every daily run fail;
 *  - a login from an address the user never logged in from before, once the user has a history
 *    (at least 3 earlier logins, wtmp and the window's log lines together);
 *  - a login at an hour of the day (±1 h, local time) the user never logged in at, once the user
 *    has at least 10 earlier logins.
 * Needs attention (exit status 1): an indicator, an integrity warning, a root login in the window
 * or a root session now, a high-severity SSH setting.
 */
import { hostname } from 'node:os';
import { callDaemon } from '../control/client.js';
import type { BanView } from '../control/protocol.js';
import { loadFilter } from '../filters/definition.js';
import type { AuditFinding } from './audit.js';
import { scanWindow, type AttackerStat, type LoginEvent, type ScannedSource } from './auth-window.js';
import { rangeSet, type RangeSet } from './ban-status.js';
import { LoginFileError, loadLoginFile } from './files.js';
import { historyPaths, readHistory, type HistoryFile } from './history.js';
import type { Finding } from './integrity.js';
import { gapFindings } from './log-gaps.js';
import { checkLogs, verifyJournal } from './log-integrity.js';
import { journalArgs, journalInUse, selectLogs } from './log-sources.js';
import type { Session } from './sessions.js';
import type { SystemView } from './system.js';
import { isoTime } from './time.js';
import { parseCidr } from '../util/ip.js';
import { parseUtmp } from './utmp.js';
import { currentSessions, findUtmp, UTMP_CANDIDATES, type CurrentSession } from './who.js';

export interface ReportOptions {
  /** Epoch ms. */
  readonly now: number;
  /** Start of the window, epoch ms. */
  readonly since: number;
  /** Auth logs to read (with their rotated generations); default /var/log/auth.log and /var/log/secure. */
  readonly logs?: readonly string[];
  /** Read the journal: when journald is in use and no log file exists ('auto'), always, never, or one file. */
  readonly journal?: 'auto' | boolean | { readonly file: string };
  readonly wtmp?: string;
  readonly utmp?: string;
  /** Where the auth logs' fingerprints are kept (integrity.json). */
  readonly stateDir: string;
  readonly socket: string;
  /** How many attacking addresses to list. */
  readonly top: number;
  readonly system: SystemView;
  readonly timezone?: string;
  /** Run the SSH hardening audit (default true). */
  readonly audit?: boolean;
  /** Threads for the log scan ('auto': one per core for a big window). */
  readonly workers?: 'auto' | number;
  readonly journalctl?: string;
  /** Milliseconds to wait for the daemon. */
  readonly daemonTimeout?: number;
}

export type IndicatorKind = 'login-after-failures' | 'new-address' | 'unusual-hour';

export interface Indicator {
  readonly kind: IndicatorKind;
  readonly user: string;
  readonly address: string | null;
  /** The login that raised it, epoch ms. */
  readonly time: number;
  readonly seen: string;
  readonly meaning: string;
}

export interface RootLogin {
  readonly time: number;
  readonly user: string;
  readonly from: string | null;
  readonly source: 'wtmp' | 'log';
  readonly detail: string;
}

export interface Attacker {
  readonly address: string;
  readonly failures: number;
  readonly first: number;
  readonly last: number;
  /** The users it tried most. */
  readonly users: Array<{ user: string; count: number }>;
  /** null: the daemon did not answer. */
  readonly banned: boolean | null;
}

export interface Report {
  readonly host: string;
  readonly now: number;
  readonly since: number;
  readonly who: { readonly file: string | null; readonly sessions: CurrentSession[]; readonly problem: string | null };
  readonly logins: { readonly sessions: Session[]; readonly files: HistoryFile[]; readonly problem: string | null };
  readonly rootLogins: RootLogin[];
  readonly attacks: {
    readonly failures: number;
    readonly addresses: number;
    readonly top: Attacker[];
    /** Successful logins seen in the auth logs in the window. */
    readonly successes: LoginEvent[];
    readonly sources: ScannedSource[];
    readonly workers: number;
  };
  readonly bans: { readonly available: boolean; readonly error: string | null; readonly active: number; readonly permanent: number; readonly list: BanView[] };
  readonly indicators: Indicator[];
  /** Users with too little history for the new-address and hour checks. */
  readonly noHistory: string[];
  /** Logins after failures that look like typos of the same user (not indicators). */
  readonly typos: Typo[];
  readonly integrity: {
    readonly findings: Finding[];
    readonly notes: string[];
    readonly journal: { readonly passed: number; readonly failed: number } | null;
  };
  readonly audit: { readonly ran: boolean; readonly source: string | null; readonly findings: AuditFinding[]; readonly errors: string[] };
  /** Why the report needs attention (exit status 1); empty when nothing does. */
  readonly attention: string[];
  readonly problems: string[];
}

const MIN_HISTORY_ADDRESS = 3;
const MIN_HISTORY_HOUR = 10;
/** The same login appears in wtmp and in the auth log a moment apart: not its own history. */
const SAME_LOGIN_MS = 120_000;

export async function buildReport(o: ReportOptions): Promise<Report> {
  const problems: string[] = [];
  const filter = loadFilter('sshd');

  // Slow, independent things first, so they run while the logs are read.
  // Loaded only when wanted: the audit brings its own modules.
  const auditRun = o.audit === false ? Promise.resolve(undefined)
    : import('./audit.js').then(({ auditSsh }) => auditSsh({ now: () => o.now / 1000 })).catch((e: unknown) => { problems.push(`ssh audit: ${e instanceof Error ? e.message : String(e)}`); return undefined; });
  const bansRun = callDaemon(o.socket, { cmd: 'bans' }, o.daemonTimeout ?? 3000).then(
    (r) => (Array.isArray(r) ? { list: r as BanView[], error: null } : { list: [] as BanView[], error: `the daemon at ${o.socket} sent an unexpected answer to "bans"` }),
    (e: unknown) => ({ list: [] as BanView[], error: e instanceof Error ? e.message : String(e) }),
  );
  const selection = selectLogs(o.logs);
  problems.push(...selection.problems);
  const journalFile = typeof o.journal === 'object' ? o.journal.file : undefined;
  const useJournal = o.journal === true || journalFile !== undefined
    || ((o.journal === undefined || o.journal === 'auto') && !selection.files.length && journalInUse());
  const verifyRun = useJournal || (o.journal !== false && journalInUse())
    ? verifyJournal({ ...(journalFile !== undefined ? { file: journalFile } : {}), ...(o.journalctl !== undefined ? { journalctl: o.journalctl } : {}) })
    : Promise.resolve(undefined);
  if (!selection.files.length && !useJournal) {
    problems.push(`no auth log to read (${o.logs ? 'the logs named cannot be read' : 'neither /var/log/auth.log nor /var/log/secure exists'}, and the journal is not in use or not asked for): attacks and logins from the logs are unknown`);
  }

  const scanRun = scanWindow({
    files: selection.files, since: o.since, now: o.now, filter,
    ...(useJournal ? { journal: journalArgs({ ...(journalFile !== undefined ? { file: journalFile } : {}), since: o.since }) } : {}),
    ...(o.timezone !== undefined ? { timezone: o.timezone } : {}),
    ...(o.journalctl !== undefined ? { journalctl: o.journalctl } : {}),
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
  });

  // Who is on now.
  let who: Report['who'];
  const utmpPath = findUtmp(o.utmp);
  if (utmpPath === undefined) {
    who = { file: null, sessions: [], problem: `no utmp file (neither ${UTMP_CANDIDATES.join(' nor ')} exists)` };
  } else {
    try {
      const file = loadLoginFile(utmpPath);
      who = { file: utmpPath, sessions: currentSessions(parseUtmp(file.data, { now: o.now / 1000 }).records, o.system), problem: file.problems[0] ?? null };
    } catch (e) {
      who = { file: utmpPath, sessions: [], problem: e instanceof Error ? e.message : String(e) };
    }
  }

  // Login history.
  let allSessions: Session[] = [];
  let historyFiles: HistoryFile[] = [];
  let historyProblem: string | null = null;
  const integrity: Finding[] = [];
  try {
    const { paths, required } = historyPaths(o.wtmp, false);
    const history = readHistory(paths, required, o.system);
    allSessions = history.sessions;
    historyFiles = history.files;
    integrity.push(...history.findings);
  } catch (e) {
    historyProblem = e instanceof LoginFileError || e instanceof Error ? e.message : String(e);
  }
  const sinceSec = o.since / 1000;
  const windowSessions = allSessions.filter((s) => s.kind === 'login' && (s.start >= sinceSec || s.end === null || s.end >= sinceSec));

  // The logs' fingerprints against the last run.
  const live = selection.files.filter((f) => f.current).map((f) => f.path);
  const logCheck = checkLogs(live, o.stateDir, { now: o.now });
  integrity.push(...logCheck.findings);
  problems.push(...logCheck.problems);

  const scan = await scanRun;
  for (const s of scan.sources) {
    if (s.problem) integrity.push({ severity: 'notice', file: s.path, offset: null, seen: s.problem, meaning: 'the part that could not be read is missing from this report (attacks and logins in it are not counted).' });
  }
  const boots = allSessions.filter((s) => s.kind === 'reboot').map((s) => s.start * 1000);
  integrity.push(...gapFindings(scan.gaps, live.join(', ') || 'journal', { boots, now: o.now, live: scan.endedLive }));

  const bans = await bansRun;
  // An entry the daemon sends that is not an address or range is skipped: the view must not break.
  const banned: RangeSet | undefined = bans.error === null
    ? rangeSet(bans.list.map((b) => b.ip).filter((ip) => typeof ip === 'string' && parseCidr(ip) !== undefined), 'ban')
    : undefined;
  const top = [...scan.attackers.values()]
    .sort((a, b) => b.failures - a.failures || a.address.localeCompare(b.address))
    .slice(0, o.top)
    .map((a) => attacker(a, banned));

  const rootLogins = findRootLogins(windowSessions, scan.logins, sinceSec, o.system);
  const { indicators, noHistory, typos } = findIndicators(allSessions, scan.logins, scan.attackers, o.since);

  let journal: Report['integrity']['journal'] = null;
  const verification = await verifyRun;
  if (verification) {
    if (verification.problem) problems.push(verification.problem);
    if (verification.ran) journal = { passed: verification.passed.length, failed: verification.failed.length };
    integrity.push(...verification.findings);
  }

  const audited = await auditRun;
  const audit: Report['audit'] = audited
    ? { ran: true, source: audited.source, findings: audited.findings.filter((f) => f.severity !== 'info'), errors: audited.errors }
    : { ran: false, source: null, findings: [], errors: [] };

  const attention: string[] = [];
  const rootNow = who.sessions.filter((s) => s.root);
  if (rootLogins.length) {
    const last = rootLogins[rootLogins.length - 1]!;
    attention.push(`root logged in ${rootLogins.length} time${rootLogins.length > 1 ? 's' : ''} in the window (last at ${isoTime(last.time / 1000) ?? '?'}${last.from ? ` from ${last.from}` : ''})`);
  }
  if (rootNow.length) attention.push(`root is logged in now: ${rootNow.length} session${rootNow.length > 1 ? 's' : ''}`);
  if (indicators.length) attention.push(`${indicators.length} compromise indicator${indicators.length > 1 ? 's' : ''}`);
  const warnings = integrity.filter((f) => f.severity === 'warning');
  if (warnings.length) attention.push(`${warnings.length} integrity warning${warnings.length > 1 ? 's' : ''}`);
  const high = audit.findings.filter((f) => f.severity === 'high');
  if (high.length) attention.push(`${high.length} high-risk SSH setting${high.length > 1 ? 's' : ''} (${high.map((f) => f.setting).join(', ')})`);

  return {
    host: hostname(), now: o.now, since: o.since,
    who,
    logins: { sessions: windowSessions, files: historyFiles, problem: historyProblem },
    rootLogins,
    attacks: { failures: scan.failures, addresses: scan.attackers.size, top, successes: scan.logins, sources: scan.sources, workers: scan.workers },
    bans: {
      available: bans.error === null, error: bans.error, active: bans.list.length,
      permanent: bans.list.filter((b) => b.permanent).length, list: bans.list,
    },
    indicators, noHistory, typos,
    integrity: { findings: integrity, notes: logCheck.notes, journal },
    audit,
    attention,
    problems,
  };
}

function attacker(a: AttackerStat, banned: RangeSet | undefined): Attacker {
  return {
    address: a.address, failures: a.failures, first: a.first, last: a.last,
    users: [...a.users].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([user, count]) => ({ user, count })),
    banned: banned ? banned.has(a.address) : null,
  };
}

/** Root logins of the window: wtmp sessions of uid-0 users, and "Accepted ... for root" lines. */
function findRootLogins(sessions: readonly Session[], logins: readonly LoginEvent[], sinceSec: number, system: SystemView): RootLogin[] {
  const out: RootLogin[] = [];
  for (const s of sessions) {
    if (!s.root || s.start < sinceSec) continue;
    out.push({ time: s.start * 1000, user: s.user, from: s.address ?? (s.host || null), source: 'wtmp', detail: `${s.line}, ${s.status}` });
  }
  for (const l of logins) {
    if (l.user !== 'root' && system.userUid(l.user) !== 0) continue;
    // The same login is in wtmp too, a moment apart: listed once.
    if (out.some((r) => r.source === 'wtmp' && r.user === l.user && r.from === l.address && Math.abs(r.time - l.time) < SAME_LOGIN_MS)) continue;
    out.push({ time: l.time, user: l.user, from: l.address, source: 'log', detail: `${l.method} (${l.file})` });
  }
  return out.sort((a, b) => a.time - b.time);
}

interface Login { readonly time: number; readonly user: string; readonly address: string | null }

/** Logins preceded only by failures that look like typos (not indicators). */
export interface Typo { readonly user: string; readonly address: string; readonly logins: number; readonly typos: number }

/** See the module comment. */
export function findIndicators(
  sessions: readonly Session[], logins: readonly LoginEvent[], attackers: ReadonlyMap<string, AttackerStat>, since: number,
): { indicators: Indicator[]; noHistory: string[]; typos: Typo[] } {
  const indicators: Indicator[] = [];

  // A login from an address that failed before it (typos aside).
  const after = new Map<string, { user: string; address: string; first: number; count: number; other: number; firstFailure: number }>();
  const typos = new Map<string, { user: string; address: string; logins: number; typos: number }>();
  for (const l of logins) {
    if (l.failuresBefore === 0) continue;
    const key = `${l.user}\u0000${l.address}`;
    if (l.otherFailures > 0) {
      const e = after.get(key);
      if (e) e.count++;
      else after.set(key, { user: l.user, address: l.address, first: l.time, count: 1, other: l.otherFailures, firstFailure: attackers.get(l.address)?.first ?? l.time });
    } else {
      const t = typos.get(key) ?? { user: l.user, address: l.address, logins: 0, typos: 0 };
      t.logins++;
      t.typos = l.failuresBefore;
      typos.set(key, t);
    }
  }
  for (const e of after.values()) {
    indicators.push({
      kind: 'login-after-failures', user: e.user, address: e.address, time: e.first,
      seen: `${e.user} logged in from ${e.address} at ${iso(e.first)}${e.count > 1 ? ` (and ${e.count - 1} more time${e.count > 2 ? 's' : ''})` : ''} after ${e.other} failed attempt${e.other > 1 ? 's' : ''} from that address in the window (first at ${iso(e.firstFailure)}) that were not typos of that user just before a login`,
      meaning: 'a password guessed after failed attempts looks exactly like this — or a user who tried other names or failed a while before: check with the user, and look at the session (warden search ADDRESS).',
    });
  }

  // History per user: wtmp logins (all time) and the window's log lines.
  const byUser = new Map<string, Login[]>();
  const add = (l: Login): void => {
    const list = byUser.get(l.user) ?? [];
    list.push(l);
    byUser.set(l.user, list);
  };
  for (const s of sessions) if (s.kind === 'login' && s.user) add({ time: s.start * 1000, user: s.user, address: s.address ?? (s.host || null) });
  for (const l of logins) add({ time: l.time, user: l.user, address: l.address });
  const noHistory: string[] = [];
  for (const [user, list] of byUser) {
    list.sort((a, b) => a.time - b.time);
    const seenAddresses = new Set<string>();
    const hours = new Array<number>(24).fill(0);
    let prior = 0;
    let j = 0; // list[0..j) is history: earlier than the login at hand by more than SAME_LOGIN_MS
    const flaggedAddr = new Set<string>();
    const flaggedHour = new Set<number>();
    let judged = false;
    for (const l of list) {
      while (j < list.length && list[j]!.time < l.time - SAME_LOGIN_MS) {
        const h = list[j]!;
        if (h.address) seenAddresses.add(h.address);
        hours[new Date(h.time).getHours()]!++;
        prior++;
        j++;
      }
      if (l.time < since) continue;
      if (prior >= MIN_HISTORY_ADDRESS) judged = true;
      if (l.address && prior >= MIN_HISTORY_ADDRESS && !seenAddresses.has(l.address) && !flaggedAddr.has(l.address)) {
        flaggedAddr.add(l.address);
        indicators.push({
          kind: 'new-address', user, address: l.address, time: l.time,
          seen: `${user} logged in from ${l.address} at ${iso(l.time)}: not among the ${seenAddresses.size} address${seenAddresses.size === 1 ? '' : 'es'} of their ${prior} earlier logins`,
          meaning: 'a new place for this account: travel, a new network or provider — or someone else with the password or key. Confirm with the user.',
        });
      }
      const hour = new Date(l.time).getHours();
      if (prior >= MIN_HISTORY_HOUR && !flaggedHour.has(hour)) {
        const near = hours[hour]! + hours[(hour + 23) % 24]! + hours[(hour + 1) % 24]!;
        if (near === 0) {
          flaggedHour.add(hour);
          indicators.push({
            kind: 'unusual-hour', user, address: l.address, time: l.time,
            seen: `${user} logged in at ${String(hour).padStart(2, '0')}:xx local time (${iso(l.time)}${l.address ? ` from ${l.address}` : ''}); none of their ${prior} earlier logins was within an hour of that time of day`,
            meaning: 'an unusual time for this account: a night shift or another time zone — or someone else using it. Confirm with the user.',
          });
        }
      }
    }
    if (!judged && list.some((l) => l.time >= since)) noHistory.push(user);
  }
  indicators.sort((a, b) => a.time - b.time);
  return { indicators, noHistory: noHistory.sort(), typos: [...typos.values()] };
}

function iso(ms: number): string {
  return isoTime(ms / 1000) ?? String(ms);
}
