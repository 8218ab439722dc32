import { DEFAULT_WTMP } from '../../investigate/history.js';
import { idleText } from '../../investigate/who.js';
import type { Finding } from '../../investigate/integrity.js';
import { DEFAULT_STATE_DIR, statePath } from '../../investigate/log-integrity.js';
import { DEFAULT_AUTH_LOGS } from '../../investigate/log-sources.js';
import { buildReport, type Report } from '../../investigate/report.js';
import { durationOf } from '../../investigate/sessions.js';
import { liveSystem } from '../../investigate/system.js';
import { isoTime, localTime, parseSince, span } from '../../investigate/time.js';
import { UTMP_CANDIDATES } from '../../investigate/who.js';
import { parse, printJson, socketPath, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';
import { DEFAULT_SOCKET, UsageError } from '../usage.js';
import { nowFromEnv } from './search.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'the first screen to read: who is on, logins, attacks, bans, compromise signs, integrity; exit 1 when something needs attention',
  usage: `Usage: warden report [--json] [--since T] [--top N] [--log FILE]... [--journal | --no-journal]
                     [--journal-file F] [--wtmp FILE] [--utmp FILE] [--state DIR] [--socket PATH]
                     [--no-audit] [--threads N]

One screen for the last 24 hours (or since T):
  - who is logged in now (utmp), and the logins of the window with any root login (wtmp, and
    "Accepted ... for root" in the auth log);
  - the top attacking addresses: failures counted by the sshd filter in aggressive mode over the
    auth log and its rotated generations, with the daemon's ban state;
  - active and permanent bans (the daemon; "unknown" when it does not answer);
  - compromise indicators: a successful login from an address that failed before it; a login from
    an address the user never used before (once they have 3 earlier logins in wtmp and the log), or
    at an hour of the day they never logged in at (once they have 10);
  - integrity findings: wtmp (as "warden last" shows them), the auth logs against their sizes and
    fingerprints from the last run (shrunk, edited, replaced — rotation is recognised), gaps of an
    hour without any line in a busy log (a heuristic), and "journalctl --verify" when the journal
    is in use;
  - the SSH hardening audit (as "warden audit ssh" shows it).

Exit status: 0 when nothing needs attention; 1 when something does — a compromise indicator, an
integrity warning (notices do not count), a root login in the window or a root session now, a
high-risk SSH setting — so it can run from cron (which mails the output of a failing job); 2 on a
usage error.

  --since T      window start: a duration back from now (default 24h) or a date (2024-03-01T10:00)
  --top N        attacking addresses listed (default 10)
  --log FILE     the auth log (with its rotated generations); repeatable.
                 Default: ${DEFAULT_AUTH_LOGS.join(' and ')}, those that exist
  --journal      read the journal for the window too (default: only when no auth log file exists
                 and journald is in use); --journal-file F reads that journal file
  --wtmp FILE    login history (default ${DEFAULT_WTMP} and its rotated generations)
  --utmp FILE    current sessions (default ${UTMP_CANDIDATES.join(', then ')})
  --state DIR    where the auth logs' fingerprints are kept between runs
                 (default ${DEFAULT_STATE_DIR}: ${statePath(DEFAULT_STATE_DIR)})
  --socket PATH  the daemon's control socket (default ${DEFAULT_SOCKET}, or $WARDEN_SOCKET)
  --no-audit     leave out the SSH hardening audit
  --threads N    threads reading the logs (default: one per core for a large window)

JSON: { host, now, since, attention: [...], who: { file, sessions, problem }, logins: { sessions,
files, problem }, rootLogins: [{ time, user, from, source, detail }], attacks: { failures,
addresses, top: [{ address, failures, first, last, users, banned }], successes, sources },
bans: { available, error, active, permanent, list }, indicators: [{ kind, user, address, time,
seen, meaning }], noHistory, typos: [{ user, address, logins, typos }], integrity: { findings: [{ severity, file, offset, seen, meaning }],
notes, journal }, audit: { ran, source, findings, errors }, problems }. Times are ISO 8601 UTC.
`,
  async run(args) {
    const { values } = parse(args, {
      json: { type: 'boolean' }, since: { type: 'string' }, top: { type: 'string' }, log: { type: 'string', multiple: true },
      journal: { type: 'boolean' }, 'no-journal': { type: 'boolean' }, 'journal-file': { type: 'string' },
      wtmp: { type: 'string' }, utmp: { type: 'string' }, state: { type: 'string' }, socket: { type: 'string' },
      'no-audit': { type: 'boolean' }, threads: { type: 'string' },
    }, 0);
    const now = nowFromEnv();
    let since: number;
    try {
      since = parseSince(typeof values['since'] === 'string' ? values['since'] : '24h', now / 1000) * 1000;
    } catch (e) {
      throw new UsageError(`--since: ${(e as Error).message}`);
    }
    const top = positiveInt(values['top'], 10, '--top');
    const threads = values['threads'] === undefined ? 'auto' as const : positiveInt(values['threads'], 1, '--threads');
    if (values['journal'] && values['no-journal']) throw new UsageError('--journal and --no-journal contradict each other');
    const logArg: unknown = values['log'];
    const journalFile = typeof values['journal-file'] === 'string' ? values['journal-file'] : undefined;
    const report = await buildReport({
      now, since, top, system: liveSystem(),
      ...(Array.isArray(logArg) ? { logs: logArg.map(String) } : {}),
      journal: journalFile !== undefined ? { file: journalFile } : values['no-journal'] ? false : values['journal'] ? true : 'auto',
      ...(typeof values['wtmp'] === 'string' ? { wtmp: values['wtmp'] } : {}),
      ...(typeof values['utmp'] === 'string' ? { utmp: values['utmp'] } : {}),
      stateDir: typeof values['state'] === 'string' ? values['state'] : DEFAULT_STATE_DIR,
      socket: socketPath(values),
      audit: values['no-audit'] !== true,
      workers: threads,
    });
    if (values['json']) printJson(reportJson(report));
    else process.stdout.write(reportText(report));
    return report.attention.length ? 1 : 0;
  },
};

function positiveInt(raw: unknown, dflt: number, what: string): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw) || n < 1) throw new UsageError(`${what}: "${String(raw)}" is not a positive whole number`);
  return n;
}

const iso = (ms: number): string | null => isoTime(ms / 1000);

export function reportJson(r: Report): unknown {
  return {
    host: r.host, now: iso(r.now), since: iso(r.since), attention: r.attention,
    who: {
      file: r.who.file, problem: r.who.problem,
      sessions: r.who.sessions.map((s) => ({ user: s.user, tty: s.line, login: isoTime(s.start), idleSeconds: s.idleSeconds === null ? null : Math.max(0, Math.floor(s.idleSeconds)), pid: s.pid, alive: s.alive, host: s.host, address: s.address, root: s.root })),
    },
    logins: {
      problem: r.logins.problem,
      files: r.logins.files.map((f) => ({ ...f, begins: isoTime(f.begins) })),
      sessions: r.logins.sessions.map((s) => ({ user: s.user, tty: s.line, host: s.host, address: s.address, login: isoTime(s.start), logout: isoTime(s.end), status: s.status, durationSeconds: durationOf(s), root: s.root, newAddress: s.newAddress })),
    },
    rootLogins: r.rootLogins.map((x) => ({ ...x, time: iso(x.time) })),
    attacks: {
      failures: r.attacks.failures, addresses: r.attacks.addresses,
      top: r.attacks.top.map((a) => ({ ...a, first: iso(a.first), last: iso(a.last) })),
      successes: r.attacks.successes.map((l) => ({ ...l, time: iso(l.time) })),
      sources: r.attacks.sources,
    },
    bans: r.bans,
    indicators: r.indicators.map((i) => ({ ...i, time: iso(i.time) })),
    noHistory: r.noHistory,
    typos: r.typos,
    integrity: r.integrity,
    audit: r.audit,
    problems: r.problems,
  };
}

function finding(f: Finding): string[] {
  return [`  ${f.severity === 'warning' ? '!' : '-'} ${safeText(f.file)}: ${safeText(f.seen)}`, `      may mean: ${f.meaning}`];
}

export function reportText(r: Report): string {
  const out: string[] = [];
  const t = (ms: number): string => localTime(ms / 1000);
  out.push(`warden report — ${safeText(r.host)}, ${t(r.now)}; window: since ${t(r.since)} (${span((r.now - r.since) / 1000)})`);
  out.push('');
  if (r.attention.length) {
    out.push(`NEEDS ATTENTION (${r.attention.length}):`);
    for (const a of r.attention) out.push(`  ! ${safeText(a)}`);
  } else {
    out.push('Nothing needs attention.');
  }

  out.push('', `ON NOW${r.who.file ? ` (${safeText(r.who.file)})` : ''}`);
  if (r.who.sessions.length) {
    out.push(indent(renderTable(['', 'user', 'tty', 'login', 'idle', 'process', 'from'], r.who.sessions.map((s) => [
      s.root ? 'ROOT' : '', s.user, s.line, localTime(s.start), idleText(s.idleSeconds), s.alive ? 'alive' : 'GONE', s.address ?? (s.host || '-'),
    ]))));
  } else {
    out.push(`  ${r.who.problem ? `unknown: ${safeText(r.who.problem)}` : 'nobody'}`);
  }

  out.push('', `LOGINS IN THE WINDOW (wtmp): ${r.logins.sessions.length}`);
  if (r.logins.problem) out.push(`  unknown: ${safeText(r.logins.problem)}`);
  const shown = r.logins.sessions.slice(0, 20);
  if (shown.length) {
    out.push(indent(renderTable(['flags', 'user', 'tty', 'from', 'login', 'until'], shown.map((s) => [
      [s.root ? 'ROOT' : '', s.newAddress ? 'NEW-IP' : ''].filter(Boolean).join(','), s.user, s.line, s.address ?? (s.host || '-'),
      localTime(s.start), s.end === null ? s.status : `${localTime(s.end)} (${s.status})`,
    ]))));
    if (r.logins.sessions.length > shown.length) out.push(`  … and ${r.logins.sessions.length - shown.length} more ("warden last --since ..." lists them)`);
  }
  const logSuccess = r.attacks.successes.length;
  if (logSuccess) {
    const users = new Map<string, number>();
    for (const l of r.attacks.successes) users.set(l.user, (users.get(l.user) ?? 0) + 1);
    out.push(`  auth log: ${logSuccess} successful SSH login${logSuccess > 1 ? 's' : ''} (${[...users].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([u, n]) => `${safeText(u)} ${n}`).join(', ')})`);
  }
  if (r.rootLogins.length) {
    out.push('  ROOT LOGINS:');
    for (const x of r.rootLogins) out.push(`    ${t(x.time)}  ${safeText(x.user)} from ${safeText(x.from ?? 'local')}  [${x.source}: ${safeText(x.detail)}]`);
  }

  const read = r.attacks.sources.filter((s) => !s.skipped);
  out.push('', `ATTACKS (auth log, sshd filter aggressive mode): ${r.attacks.failures} failures from ${r.attacks.addresses} addresses`
    + (read.length ? `; read ${read.map((s) => `${safeText(s.path)}${s.offset ? ` from byte ${s.offset}` : ''}`).join(', ')}` : ''));
  if (r.attacks.top.length) {
    out.push(indent(renderTable(['address', 'failures', 'first', 'last', 'users tried', 'banned'], r.attacks.top.map((a) => [
      a.address, a.failures, t(a.first), t(a.last), a.users.map((u) => u.user || '""').join(', '), a.banned === null ? '?' : a.banned ? 'BANNED' : 'no',
    ]))));
  }

  out.push('', 'BANS (daemon)');
  if (r.bans.available) {
    out.push(`  ${r.bans.active} active, ${r.bans.permanent} permanent`);
    const perm = r.bans.list.filter((b) => b.permanent).slice(0, 10);
    if (perm.length) out.push(indent(renderTable(['permanent', 'jail', 'since', 'reason'], perm.map((b) => [b.ip, b.jail, b.since.replace(/\.\d+Z$/, 'Z'), b.reason]))));
  } else {
    out.push(`  unknown: ${safeText(r.bans.error ?? '?')}`);
  }

  out.push('', `COMPROMISE INDICATORS: ${r.indicators.length || 'none'}`);
  for (const i of r.indicators) {
    out.push(`  ! [${i.kind}] ${safeText(i.seen)}`, `      may mean: ${i.meaning}`);
  }
  if (r.typos.length) {
    out.push(`  not counted: logins after failures that look like typos (the same user, just before): ${r.typos.slice(0, 8).map((x) => `${safeText(x.user)} from ${x.address} (${x.typos} failure${x.typos > 1 ? 's' : ''}, ${x.logins} login${x.logins > 1 ? 's' : ''})`).join('; ')}${r.typos.length > 8 ? '; …' : ''}`);
  }
  if (r.noHistory.length) out.push(`  (too little login history to judge new addresses for: ${r.noHistory.map(safeText).join(', ')})`);

  const warnings = r.integrity.findings.filter((f) => f.severity === 'warning').length;
  out.push('', `INTEGRITY: ${r.integrity.findings.length ? `${warnings} warning${warnings === 1 ? '' : 's'}, ${r.integrity.findings.length - warnings} notice${r.integrity.findings.length - warnings === 1 ? '' : 's'}` : 'nothing found'}`);
  for (const f of r.integrity.findings) out.push(...finding(f));
  if (r.integrity.journal) out.push(`  journal: journalctl --verify: ${r.integrity.journal.passed} file(s) PASS, ${r.integrity.journal.failed} FAIL`);
  for (const n of r.integrity.notes) out.push(`  - ${safeText(n)}`);

  out.push('', 'SSH HARDENING (warden audit ssh)');
  if (!r.audit.ran) out.push('  not run');
  else if (!r.audit.findings.length) out.push(`  no risky setting found (${r.audit.source ?? '?'})`);
  else {
    for (const f of r.audit.findings) out.push(`  ${f.severity === 'high' ? '!' : '-'} ${f.severity.toUpperCase()} ${safeText(f.setting)} ${safeText(f.value)}: ${f.why}`, `      ${f.recommendation}`);
    if (r.audit.source === 'files') out.push('  (read from the configuration files: sshd -T could not run; "warden audit ssh" says why)');
  }

  if (r.problems.length) {
    out.push('', 'PROBLEMS:');
    for (const p of r.problems) out.push(`  ! ${safeText(p)}`);
  }
  return out.join('\n') + '\n';
}

function indent(table: string): string {
  return table.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
}
