import { callDaemon } from '../../control/client.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';

export const reloadCommand: Command = {
  name: 'reload',
  summary: 're-read the configuration without dropping bans',
  usage: `Usage: warden reload [--rebase] [--json] [--socket PATH]

An invalid configuration is refused with its error; the running one stays in force.
Bans already applied keep their end; --rebase shortens them to what the new settings give.
`,
  async run(args) {
    const { values } = parse(args, { ...clientOptions, rebase: { type: 'boolean' } }, 0);
    const result = (await callDaemon(socketPath(values), { cmd: 'reload', rebase: values['rebase'] === true })) as { jails: string[]; origin: string; rebased: number };
    if (values['json']) printJson(result);
    else process.stdout.write(`reloaded ${result.origin}; jails: ${result.jails.join(', ')}${values['rebase'] ? `; ${result.rebased} bans shortened` : ''}\n`);
    return 0;
  },
};
