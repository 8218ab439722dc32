import { LoginFileError, loadLoginFile } from '../../investigate/files.js';
import { liveSystem } from '../../investigate/system.js';
import { isoTime, localTime, span } from '../../investigate/time.js';
import { parseUtmp } from '../../investigate/utmp.js';
import { currentSessions, findUtmp, idleText, UTMP_CANDIDATES } from '../../investigate/who.js';
import { parse, printJson, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';

export const whoCommand: Command = {
  name: 'who',
  summary: 'who is logged in now (utmp), with idle time, session process, origin; root marked',
  usage: `Usage: warden who [--json] [--file UTMP]

Lists the sessions in utmp (default ${UTMP_CANDIDATES.join(', then ')}): user, terminal, login time,
idle time (the terminal's last input, like "who -u"), the session's process and whether it is
still alive (a dead one is a stale entry: a crashed login, or an edited file), and the remote
address or host. Root sessions are marked ROOT.

JSON: { file, sessions: [{ user, tty, login, idleSeconds, pid, alive, host, address, root, offset }],
problems: [{ kind, offset, message }] }. Times are ISO 8601 UTC.
`,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, file: { type: 'string' } }, 0);
    const path = findUtmp(typeof values['file'] === 'string' ? values['file'] : undefined);
    if (path === undefined) {
      throw new LoginFileError(`no utmp file: neither ${UTMP_CANDIDATES.join(' nor ')} exists (this system may not keep utmp; try "loginctl list-sessions")`);
    }
    const system = liveSystem();
    const file = loadLoginFile(path);
    const parsed = parseUtmp(file.data, { now: system.now() });
    const sessions = currentSessions(parsed.records, system);
    const boot = system.bootTime();
    const uptime = boot === null ? null : system.now() - boot;
    // Freed utmp slots are normal; every other oddity is worth showing.
    const problems = [...file.problems.map((message) => ({ kind: 'read', offset: null, message })),
      ...parsed.problems.filter((p) => p.kind !== 'zeroed')];

    if (values['json']) {
      printJson({
        file: path,
        sessions: sessions.map((s) => ({
          user: s.user, tty: s.line, login: isoTime(s.start), idleSeconds: s.idleSeconds === null ? null : Math.max(0, Math.floor(s.idleSeconds)),
          pid: s.pid, alive: s.alive, host: s.host, address: s.address, root: s.root, offset: s.offset,
        })),
        problems,
      });
      return 0;
    }
    const out: string[] = [];
    out.push(sessions.length
      ? renderTable(['', 'user', 'tty', 'login', 'idle', 'pid', 'process', 'from'], sessions.map((s) => [
        s.root ? 'ROOT' : '', s.user, s.line, localTime(s.start), idleText(s.idleSeconds, uptime), s.pid,
        s.alive ? 'alive' : 'GONE', from(s.host, s.address),
      ])).trimEnd()
      : `nobody is logged in (according to ${safeText(path)})`);
    const roots = sessions.filter((s) => s.root);
    if (roots.length) out.push('', `root is logged in: ${roots.length} session${roots.length > 1 ? 's' : ''}, the oldest for ${span(system.now() - Math.min(...roots.map((s) => s.start)))}`);
    const stale = sessions.filter((s) => !s.alive);
    if (stale.length) out.push('', `${stale.length} entr${stale.length > 1 ? 'ies have' : 'y has'} no live process: a login that ended without cleanup, or records written by hand.`);
    if (problems.length) {
      out.push('', `problems in ${safeText(path)}:`);
      for (const p of problems) out.push(`  ! ${safeText(p.message)}${p.offset === null ? '' : ` (offset ${p.offset})`}`);
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

/** "host" or "host (address)" when the address adds something; "-" for a local session. */
function from(host: string, address: string | null): string {
  if (!host) return address ?? '-';
  if (!address || address === host) return host;
  return `${host} (${address})`;
}
