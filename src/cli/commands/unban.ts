import { callDaemon } from '../../control/client.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';
import { UsageError } from '../usage.js';
import { caller } from './ban.js';

export const unbanCommand: Command = {
  name: 'unban',
  summary: 'lift a ban (temporary or permanent)',
  usage: `Usage: warden unban IP|CIDR [--json] [--socket PATH]\n\nExit status 1 when the address was not banned.\n`,
  async run(args) {
    const { values, positionals } = parse(args, clientOptions, 1);
    const ip = positionals[0];
    if (!ip) throw new UsageError('which address? e.g. warden unban 203.0.113.7');
    const result = (await callDaemon(socketPath(values), { cmd: 'unban', ip, by: caller() })) as { ip: string; unbanned: boolean };
    if (values['json']) printJson(result);
    else process.stdout.write(result.unbanned ? `unbanned ${result.ip}\n` : `${result.ip} was not banned\n`);
    return result.unbanned ? 0 : 1;
  },
};
