import { callDaemon } from '../../control/client.js';
import { humanDuration } from '../../util/duration.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';

interface Status {
  version: string; pid: number; host: string; uptimeSeconds: number; config: string; stateDb: string;
  /** 'restoring' while the daemon puts the open bans back into the kernel after a start. */
  state?: 'restoring' | 'running';
  firewall: { kind: string; lastError: string | null; pending: number; lastApplyMs: number | null };
  allow: string[];
  bans: { active: number; permanent: number };
  jails: Array<{
    name: string; filter: string; mode: string; maxretry: number; findtime: number; bantime: number; banned: number;
    sources: Array<{ name: string; state: string; error?: string; linesRead: number }>;
    counts: { lines: number; failures: number; allowed: number; whileBanned: number; tracked: number; bansRequested: number };
  }>;
  warnings: string[];
  events: Array<{ at: string; severity: string; message: string }>;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the daemon, its jails, sources, firewall and warnings',
  usage: `Usage: warden status [--json] [--socket PATH]\n`,
  async run(args) {
    const { values } = parse(args, clientOptions, 0);
    const status = (await callDaemon(socketPath(values), { cmd: 'status' })) as Status;
    if (values['json']) {
      printJson(status);
      return 0;
    }
    const out: string[] = [];
    out.push(`warden ${status.version} on ${status.host}, pid ${status.pid}, up ${humanDuration(status.uptimeSeconds)}${status.state === 'restoring' ? ' — RESTORING bans into the kernel' : ''}`);
    out.push(`config:   ${status.config}`);
    out.push(`state:    ${status.stateDb}`);
    out.push(`firewall: ${status.firewall.kind}${status.firewall.lastError ? ` — ERROR: ${status.firewall.lastError}` : ' — ok'}${status.firewall.pending ? `, ${status.firewall.pending} changes pending` : ''}`);
    out.push(`allow:    ${status.allow.join(', ') || '-'}`);
    out.push(`bans:     ${status.bans.active} active (${status.bans.permanent} permanent)`);
    out.push('');
    out.push(renderTable(
      ['jail', 'filter', 'limit', 'ban', 'banned', 'tracked', 'failures', 'lines', 'sources'],
      status.jails.map((j) => [
        j.name, `${j.filter}/${j.mode}`, `${j.maxretry} in ${humanDuration(j.findtime)}`, humanDuration(j.bantime), j.banned,
        j.counts.tracked, j.counts.failures, j.counts.lines,
        j.sources.map((s) => `${s.name} (${s.state})`).join(', '),
      ]),
    ).trimEnd());
    if (status.warnings.length) {
      out.push('', 'WARNINGS:');
      for (const w of status.warnings) out.push(`  ! ${safeText(w)}`);
    }
    if (status.events.length) {
      out.push('', 'recent events:');
      for (const e of status.events) out.push(`  ${e.at}  ${e.severity.toUpperCase()}  ${safeText(e.message)}`);
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};
