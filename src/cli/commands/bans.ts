import { callDaemon } from '../../control/client.js';
import type { BanView } from '../../control/protocol.js';
import { humanDuration } from '../../util/duration.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';
import { renderTable } from '../table.js';

export const bansCommand: Command = {
  name: 'bans',
  summary: 'list active bans',
  usage: `Usage: warden bans [--json] [--socket PATH]

JSON: an array of { ip, jail, since, until (ISO 8601, null when permanent), permanent, remaining, reason, origin, evidence }.
`,
  async run(args) {
    const { values } = parse(args, clientOptions, 0);
    const bans = (await callDaemon(socketPath(values), { cmd: 'bans' })) as BanView[];
    if (values['json']) {
      printJson(bans);
      return 0;
    }
    if (!bans.length) {
      process.stdout.write('no active bans\n');
      return 0;
    }
    process.stdout.write(renderTable(
      ['ip', 'jail', 'since', 'until', 'left', 'reason'],
      bans.map((b) => [b.ip, b.jail, b.since.replace(/\.\d+Z$/, 'Z'), b.until ? b.until.replace(/\.\d+Z$/, 'Z') : 'permanent',
        b.remaining === null ? '-' : humanDuration(b.remaining), b.reason]),
    ));
    return 0;
  },
};
