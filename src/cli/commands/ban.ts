import { userInfo } from 'node:os';
import { callDaemon } from '../../control/client.js';
import type { BanView } from '../../control/protocol.js';
import { parseDuration } from '../../util/duration.js';
import { clientOptions, parse, printJson, socketPath, type Command } from '../command.js';
import { UsageError } from '../usage.js';

/** Who asked, for the ban record: the login name behind sudo when there is one. */
export function caller(): string {
  return process.env['SUDO_USER'] ?? userInfo().username;
}

export const banCommand: Command = {
  name: 'ban',
  summary: 'ban an address or range by hand',
  usage: `Usage: warden ban IP|CIDR [--jail NAME] [--for DURATION|permanent] [--reason TEXT] [--force] [--json] [--socket PATH]

  --jail NAME     recorded with the ban (default "manual")
  --for DURATION  30s, 10m, 1h, 1d, 1w, or "permanent" (default 1d)
  --force         ban even the address you are connected from (SSH_CONNECTION): you will be cut off
`,
  async run(args) {
    const { values, positionals } = parse(args, { ...clientOptions, jail: { type: 'string' }, for: { type: 'string' }, reason: { type: 'string' }, force: { type: 'boolean' } }, 1);
    const ip = positionals[0];
    if (!ip) throw new UsageError('which address? e.g. warden ban 203.0.113.7');
    let seconds: number | null | undefined;
    const forValue = values['for'] as string | undefined;
    if (forValue === 'permanent') seconds = null;
    else if (forValue !== undefined) {
      try {
        seconds = parseDuration(forValue);
      } catch (e) {
        throw new UsageError(`--for: ${(e as Error).message}`);
      }
      if (seconds < 1) throw new UsageError('--for must be at least 1s');
    }
    const jail = values['jail'] as string | undefined;
    const reason = values['reason'] as string | undefined;
    // SSH_CONNECTION is "client_ip client_port server_ip server_port" in an SSH session (sudo keeps it).
    const callerAddress = process.env['SSH_CONNECTION']?.split(' ')[0];
    const ban = (await callDaemon(socketPath(values), {
      cmd: 'ban', ip, by: caller(), force: values['force'] === true,
      ...(callerAddress ? { callerAddress } : {}),
      ...(jail !== undefined ? { jail } : {}), ...(seconds !== undefined ? { seconds } : {}), ...(reason !== undefined ? { reason } : {}),
    })) as BanView;
    if (values['json']) printJson(ban);
    else process.stdout.write(`banned ${ban.ip} (${ban.jail}) ${ban.until ? `until ${ban.until}` : 'permanently'}\n`);
    return 0;
  },
};
