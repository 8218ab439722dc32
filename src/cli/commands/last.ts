import { readHistory, historyPaths, DEFAULT_WTMP } from '../../investigate/history.js';
import { durationOf, type Session } from '../../investigate/sessions.js';
import { liveSystem } from '../../investigate/system.js';
import { isoTime, localTime, parseSince, span } from '../../investigate/time.js';
import { parse, printJson, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';
import { UsageError } from '../usage.js';

export const lastCommand: Command = {
  name: 'last',
  summary: 'login history from wtmp (with rotated files), reboots, crashes, and signs of tampering',
  usage: `Usage: warden last [--json] [--file WTMP [--rotated]] [--since T] [--user U]

Lists logins newest first, with logout time or "still logged in", duration, reboots, and sessions
ended by a crash or a shutdown — the same sessions and times as "last -F -w -i", except that a
boot which ended in a crash shows "crash" (last shows a later shutdown there). Root logins and
the first login from each address in the history are flagged (ROOT, NEW-IP). Integrity findings
(zeroed records, records out of time order, impossible values, a file written after its newest
record, a damaged gzip) follow the table.

  --file WTMP   read this file only (default: ${DEFAULT_WTMP} and its rotated generations
                ${DEFAULT_WTMP}.1, ${DEFAULT_WTMP}.N.gz, ${DEFAULT_WTMP}-YYYYMMDD[.gz], oldest first)
  --rotated     with --file: also read FILE's rotated generations next to it
  --since T     only sessions that began at or after T: a date (2024-03-01, 2024-03-01T10:00,
                local time unless Z or +02:00 is given) or a duration back from now (7d, 12h)
  --user U      only this user's sessions ("reboot" lists the boots)

JSON: { files: [{ path, compressed, bytes, records, begins }], sessions: [{ kind, user, tty, host,
address, pid, login, logout, status, durationSeconds, root, newAddress, file, offset }],
findings: [{ severity, file, offset, seen, meaning }] }. Times are ISO 8601 UTC; status is one of
"logged out", "still logged in", "gone", "crash", "down", "still running".
`,
  async run(args) {
    const { values } = parse(args, {
      json: { type: 'boolean' }, file: { type: 'string' }, rotated: { type: 'boolean' },
      since: { type: 'string' }, user: { type: 'string' },
    }, 0);
    const system = liveSystem();
    const file = typeof values['file'] === 'string' ? values['file'] : undefined;
    if (values['rotated'] && file === undefined) throw new UsageError('--rotated goes with --file (without --file the rotated files are read anyway)');
    let since: number | undefined;
    if (typeof values['since'] === 'string') {
      try {
        since = parseSince(values['since'], system.now());
      } catch (e) {
        throw new UsageError(`--since: ${(e as Error).message}`);
      }
    }
    const user = typeof values['user'] === 'string' ? values['user'] : undefined;
    const { paths, required } = historyPaths(file, values['rotated'] === true);
    const history = readHistory(paths, required, system);
    const sessions = history.sessions.filter((s) =>
      (since === undefined || s.start >= since) && (user === undefined || (s.kind === 'reboot' ? user === 'reboot' : s.user === user)));

    if (values['json']) {
      printJson({
        files: history.files.map((f) => ({ ...f, begins: isoTime(f.begins) })),
        sessions: sessions.map(sessionJson),
        findings: history.findings,
      });
      return 0;
    }
    const out: string[] = [];
    out.push(sessions.length
      ? renderTable(['flags', 'user', 'tty', 'from', 'login', 'logout', 'duration'], sessions.map(sessionRow)).trimEnd()
      : 'no sessions');
    out.push('');
    for (const f of history.files) {
      out.push(`${safeText(f.path)}${f.compressed ? ' (gzip)' : ''}: ${f.records} records${f.begins === null ? '' : `, begins ${localTime(f.begins)}`}`);
    }
    if (history.findings.length) {
      out.push('', `INTEGRITY (${history.findings.length}):`);
      for (const f of history.findings) {
        out.push(`  ${f.severity === 'warning' ? '!' : '-'} ${safeText(f.file)}: ${safeText(f.seen)}`);
        out.push(`      may mean: ${f.meaning}`);
      }
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

function sessionJson(s: Session): Record<string, unknown> {
  return {
    kind: s.kind, user: s.user, tty: s.line, host: s.host, address: s.address, pid: s.pid,
    login: isoTime(s.start), logout: isoTime(s.end), status: s.status, durationSeconds: durationOf(s),
    root: s.root, newAddress: s.newAddress, file: s.file, offset: s.offset,
  };
}

function sessionRow(s: Session): unknown[] {
  const flags = [s.root ? 'ROOT' : '', s.newAddress ? 'NEW-IP' : ''].filter(Boolean).join(',');
  const dur = durationOf(s);
  const from = s.kind === 'reboot' ? s.host : s.address ?? s.host;
  return [flags, s.kind === 'reboot' ? 'reboot' : s.user, s.kind === 'reboot' ? 'system boot' : s.line, from || '-',
    localTime(s.start), endText(s), dur === null ? '' : span(dur)];
}

function endText(s: Session): string {
  switch (s.status) {
    case 'logged out': return s.end === null ? '?' : localTime(s.end);
    case 'down': return s.kind === 'reboot' && s.end !== null ? localTime(s.end) : 'down';
    case 'crash': return 'crash';
    case 'gone': return 'gone - no logout';
    default: return s.status;
  }
}
