import { callDaemon } from '../../control/client.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';

export const reloadCommand: Command = {
  name: 'reload',
  summary: 're-read the configuration without dropping bans',
  usage: `Usage: warden reload [--json] [--socket PATH]\n\nAn invalid configuration is refused with its error; the running one stays in force.\n`,
  async run(args) {
    const { values } = parse(args, clientOptions, 0);
    const result = (await callDaemon(socketPath(values), { cmd: 'reload' })) as { jails: string[]; origin: string };
    if (values['json']) printJson(result);
    else process.stdout.write(`reloaded ${result.origin}; jails: ${result.jails.join(', ')}\n`);
    return 0;
  },
};
