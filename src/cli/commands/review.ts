import { callDaemon } from '../../control/client.js';
import type { ReviewView } from '../../control/protocol.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';

export const reviewCommand: Command = {
  name: 'review',
  summary: 'review permanent bans with their evidence',
  usage: `Usage: warden review [--json] [--socket PATH]

Lists permanent bans with what caused them: first and last failure, failures and bans counted,
the log lines, and the last time the address tried again (counted even while banned). An address
that stopped trying long ago may be a dynamic address now used by someone innocent:
"warden unban IP" lifts it, and permanent_expiry in the configuration does it automatically.
`,
  async run(args) {
    const { values } = parse(args, clientOptions, 0);
    const rows = (await callDaemon(socketPath(values), { cmd: 'review' })) as ReviewView[];
    if (values['json']) {
      printJson(rows);
      return 0;
    }
    if (!rows.length) {
      process.stdout.write('no permanent bans\n');
      return 0;
    }
    const day = (iso: string | null): string => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '-');
    process.stdout.write(renderTable(
      ['ip', 'jail', 'banned since', 'failures', 'bans', 'first failure', 'last attempt', 'tries while banned'],
      rows.map((r) => [r.ip, r.jail, day(r.since), r.failures, r.bans, day(r.firstFailure), day(r.lastAttempt), r.attemptsWhileBanned]),
    ));
    for (const r of rows) {
      if (!r.evidence.length) continue;
      process.stdout.write(`\n${r.ip} — ${safeText(r.reason)}\n`);
      for (const line of r.evidence) process.stdout.write(`  ${safeText(line)}\n`);
    }
    return 0;
  },
};
