import { existsSync } from 'node:fs';
import { callDaemon } from '../../control/client.js';
import type { BanView } from '../../control/protocol.js';
import { journalArgs, journalInUse, Progress, selectLogs, DEFAULT_AUTH_LOGS } from '../../investigate/log-sources.js';
import { bansAbout, runSearch, type BanEvent, type Count, type SearchResult } from '../../investigate/search.js';
import { MatchRenderer, RENDER_SEPARATOR, type RenderMode } from '../../investigate/search-render.js';
import { parseTarget, TargetError, type SearchTarget } from '../../investigate/search-target.js';
import { localTime, parseSince } from '../../investigate/time.js';
import { parse, socketPath, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';
import { DEFAULT_SOCKET, UsageError } from '../usage.js';

export const DEFAULT_WARDEN_LOG = '/var/log/warden.log';

export const searchCommand: Command = {
  name: 'search',
  summary: 'every log line about an address, a CIDR range or a user, across rotated logs and the journal',
  usage: `Usage: warden search ADDR|CIDR|USER [--since T] [--json] [--log FILE]... [--journal | --no-journal]
                     [--journal-file F] [--warden-log FILE] [--socket PATH] [--cron]

Prints every line about the target, oldest first, as FILE:LINE: TEXT, then a summary: failures
and successful logins (as the sshd filter counts them, aggressive mode), the users tried (or, for
a user, the addresses used), bans, first and last seen.

  ADDR|CIDR   192.0.2.7, 2001:db8::7, or every address of 203.0.113.0/24. Matched as a whole
              token: 192.0.2.1 does not find 192.0.2.10; ::ffff:192.0.2.1 is found as 192.0.2.1;
              a line naming a range that holds the address ("ban 2001:db8:1:2::/64") is found.
  USER        a user name, matched where messages name a user (sshd's "for USER from",
              "Invalid user USER", "authenticating user USER", PAM's "for user USER" and "user=USER",
              sudo, su, systemd-logind): "bob" does not find "bobby". cron's session lines are left
              out unless --cron.
  --log FILE  search this log and its rotated generations (FILE.1, FILE.N.gz, FILE-DATE[.gz]);
              repeatable. Default: ${DEFAULT_AUTH_LOGS.join(' and ')} with theirs, those that exist.
  --journal   also read the journal (journalctl: facilities auth and authpriv, and warden's own
              unit). Default: read it when journald is in use and no --log is given; entries that
              rsyslog also wrote to a file are shown once.
  --journal-file F   read this journal file (implies --journal)
  --warden-log FILE  warden's own log, for ban messages (default ${DEFAULT_WARDEN_LOG} when it exists)
  --since T   only lines from T on: a date (2024-03-01, 2024-03-01T10:00) or a duration back from
              now (7d, 12h); rotated files last written before T are not read
  --socket PATH      the daemon's control socket (default ${DEFAULT_SOCKET}, or $WARDEN_SOCKET),
              asked for current bans; when it does not answer, bans come from warden's log lines

A progress bar is drawn on stderr when stderr is a terminal. Compressed files are read by
content; one that ends early is reported and the lines before the cut are shown.
Exit status: 0 when lines were found, 1 when none, 2 on a usage error.

JSON: { matches: [{ file, line, time, text }], summary: { target, kind, matches, failures,
successes, firstSeen, lastSeen, addresses: [{ address, failures, successes }], users: [{ user,
failures, successes }], bans: { source, active: [...], history: [{ time, action, target, jail,
detail }], error }, sources: [{ path, kind, compressed, bytes, lines, matches, skipped, problem }],
problems: [...] } }. Times are ISO 8601 UTC (null when a line has no readable date).
`,
  async run(args) {
    const { values, positionals } = parse(args, {
      json: { type: 'boolean' }, since: { type: 'string' }, log: { type: 'string', multiple: true },
      journal: { type: 'boolean' }, 'no-journal': { type: 'boolean' }, 'journal-file': { type: 'string' },
      'warden-log': { type: 'string' }, socket: { type: 'string' }, cron: { type: 'boolean' },
    }, 1);
    const raw = positionals[0];
    if (raw === undefined) throw new UsageError('what to search for? give an address, a CIDR range or a user name');
    let target: SearchTarget;
    try {
      target = parseTarget(raw);
    } catch (e) {
      if (e instanceof TargetError) throw new UsageError(e.message);
      throw e;
    }
    const nowMs = nowFromEnv();
    let since: number | undefined;
    if (typeof values['since'] === 'string') {
      try {
        since = parseSince(values['since'], nowMs / 1000) * 1000;
      } catch (e) {
        throw new UsageError(`--since: ${(e as Error).message}`);
      }
    }
    if (values['journal'] && values['no-journal']) throw new UsageError('--journal and --no-journal contradict each other');
    const logArg: unknown = values['log'];
    const logs = Array.isArray(logArg) ? logArg.map(String) : undefined;
    const selection = selectLogs(logs);
    const journalFile = typeof values['journal-file'] === 'string' ? values['journal-file'] : undefined;
    const readJournal = values['no-journal'] ? false
      : values['journal'] === true || journalFile !== undefined || (logs === undefined && journalInUse());
    const wardenLogArg = typeof values['warden-log'] === 'string' ? values['warden-log'] : undefined;
    const wardenLogs = wardenLogArg !== undefined ? [wardenLogArg] : existsSync(DEFAULT_WARDEN_LOG) ? [DEFAULT_WARDEN_LOG] : [];
    if (!selection.files.length && !readJournal) {
      throw new Error(`nothing to search: ${logs ? selection.problems.join('; ') : `neither ${DEFAULT_AUTH_LOGS.join(' nor ')} exists and journald is not in use`} (give --log FILE or --journal)`);
    }

    // "warden search ... | head": a reader that stops early is not an error.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
    const total = selection.files.reduce((s, f) => s + f.size, 0);
    const progress = new Progress(total, 'searching');
    const result = await runSearch({
      files: selection.files,
      ...(readJournal ? { journal: journalArgs({ ...(journalFile !== undefined ? { file: journalFile } : {}), ...(since !== undefined ? { since } : {}) }) } : {}),
      wardenLogs,
    }, { target: raw, now: nowMs, progress, render: values['json'] ? 'json' : 'text', includeCron: values['cron'] === true, ...(since !== undefined ? { since } : {}) });

    const bans = await daemonBansAbout(socketPath(values), target, result);
    const problems = [...selection.problems, ...result.sources.flatMap((s) => (s.problem ? [s.problem] : []))];
    if (values['json']) {
      writeJson(target, result, bans, problems);
      return result.count ? 0 : 1;
    }
    writeText(target, result, bans, problems);
    return result.count ? 0 : 1;
  },
};

/** "Now" for year inference and --since: WARDEN_NOW (epoch seconds, as for "warden test") or the clock. */
export function nowFromEnv(): number {
  const env = process.env['WARDEN_NOW'];
  if (env === undefined || env === '') return Date.now();
  const n = Number(env);
  if (!Number.isFinite(n)) throw new UsageError(`WARDEN_NOW must be epoch seconds, not "${env}"`);
  return n * 1000;
}

interface BanSummary {
  source: 'daemon' | 'warden-log' | 'none';
  active: Array<Pick<BanView, 'ip' | 'jail' | 'since' | 'until' | 'permanent' | 'reason'>>;
  error: string | null;
}

async function daemonBansAbout(socket: string, target: SearchTarget, result: SearchResult): Promise<BanSummary> {
  try {
    const all = await callDaemon(socket, { cmd: 'bans' }, 3000);
    if (!Array.isArray(all)) throw new Error(`the daemon at ${socket} sent an unexpected answer to "bans"`);
    const mine = bansAbout(all as BanView[], target, result.addresses.keys());
    return { source: 'daemon', active: mine.map((b) => ({ ip: b.ip, jail: b.jail, since: b.since, until: b.until, permanent: b.permanent, reason: b.reason })), error: null };
  } catch (e) {
    return { source: result.banEvents.length ? 'warden-log' : 'none', active: [], error: e instanceof Error ? e.message : String(e) };
  }
}

function counts(map: Map<string, Count>): Array<[string, Count]> {
  return [...map].sort((a, b) => b[1].failures + b[1].successes - a[1].failures - a[1].successes || a[0].localeCompare(b[0]));
}

const times = new MatchRenderer('json');

function jsonTime(ms: number | null): string | null {
  return times.iso(ms);
}

function shownTime(ms: number | null): string {
  return ms === null || Number.isNaN(ms) ? '?' : localTime(ms / 1000);
}

/**
 * Writes the matches as the search rendered them (in its threads): UTF-8 chunks, each match
 * preceded by the separator — the first one's is replaced by `lead`.
 */
function writeMatches(result: SearchResult, mode: RenderMode, lead: string): void {
  let first = true;
  for (const chunk of result.rendered ?? []) {
    if (!chunk.length) continue;
    if (first) {
      process.stdout.write(lead);
      process.stdout.write(chunk.subarray(Buffer.byteLength(RENDER_SEPARATOR[mode])));
      first = false;
    } else {
      process.stdout.write(chunk);
    }
  }
}

function writeJson(target: SearchTarget, result: SearchResult, bans: BanSummary, problems: readonly string[]): void {
  process.stdout.write('{\n  "matches": [');
  writeMatches(result, 'json', '\n    ');
  const summary = {
    target: target.text, kind: target.kind, matches: result.count,
    failures: result.failures, successes: result.successes,
    firstSeen: jsonTime(result.firstSeen), lastSeen: jsonTime(result.lastSeen),
    addresses: counts(result.addresses).map(([address, c]) => ({ address, ...c })),
    users: counts(result.users).map(([user, c]) => ({ user, ...c })),
    bans: { ...bans, history: result.banEvents.map((e) => ({ ...e, time: jsonTime(e.time) })) },
    sources: result.sources,
    problems,
  };
  process.stdout.write(`${result.count ? '\n  ' : ''}],\n  "summary": ${JSON.stringify(summary, null, 2).replace(/\n/g, '\n  ')}\n}\n`);
}

function writeText(target: SearchTarget, result: SearchResult, bans: BanSummary, problems: readonly string[]): void {
  writeMatches(result, 'text', '');
  const out: string[] = [];
  // End the last line printed, then a blank line.
  if (result.count) out.push('', '');
  const read = result.sources.filter((s) => !s.skipped);
  const skipped = result.sources.length - read.length;
  const lines = read.reduce((s, x) => s + x.lines, 0);
  out.push(`${safeText(target.text)}: ${result.count} line${result.count === 1 ? '' : 's'} found in ${lines} lines of ${read.length} source${read.length === 1 ? '' : 's'}${skipped ? ` (${skipped} rotated file${skipped === 1 ? '' : 's'} older than --since not read)` : ''}`);
  if (result.count) out.push(`  first seen ${shownTime(result.firstSeen)}, last seen ${shownTime(result.lastSeen)}`);
  out.push(`  failures: ${result.failures}, successful logins: ${result.successes} (sshd filter, aggressive mode)`);
  const other = target.kind === 'address' ? counts(result.users) : counts(result.addresses);
  if (other.length) {
    out.push('', renderTable([target.kind === 'address' ? 'user' : 'address', 'failures', 'successes'],
      other.slice(0, 15).map(([k, c]) => [k, c.failures, c.successes])).trimEnd());
    if (other.length > 15) out.push(`  … and ${other.length - 15} more`);
  }
  if (target.kind === 'address' && !target.single && result.addresses.size > 1) {
    out.push('', renderTable(['address', 'failures', 'successes'], counts(result.addresses).slice(0, 15).map(([k, c]) => [k, c.failures, c.successes])).trimEnd());
  }
  out.push('');
  if (bans.source === 'daemon') {
    out.push(bans.active.length
      ? `banned now: ${bans.active.map((b) => `${b.ip} (${b.jail}, ${b.permanent ? 'permanent' : `until ${b.until ?? '?'}`})`).join(', ')}`
      : 'not banned now (the daemon has no ban for it)');
  } else {
    out.push(`ban status now unknown: ${safeText(bans.error ?? 'no daemon')}`);
  }
  if (result.banEvents.length) {
    out.push(`warden's log: ${result.banEvents.length} ban message${result.banEvents.length === 1 ? '' : 's'}`);
    for (const e of result.banEvents.slice(-10)) out.push(`  ${shownTime(e.time)}  ${e.action} ${safeText(e.target)}${e.jail ? ` (${safeText(e.jail)})` : ''}  ${safeText(e.detail)}`);
  }
  if (problems.length) {
    out.push('', 'problems:');
    for (const p of problems) out.push(`  ! ${safeText(p)}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

export type { BanEvent };
