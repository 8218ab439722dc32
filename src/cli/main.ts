#!/usr/bin/env node
// No node flags here: the investigation commands want node's speed; the daemon's memory flags
// are on its own command line (contrib/warden.service, npm start; see DAEMON_NODE_FLAGS).
import { ConfigError } from '../config/schema.js';
import { ControlError } from '../control/client.js';
import { UsageError } from './usage.js';
import type { Command } from './command.js';

/**
 * `warden COMMAND [options]`. Each command lives in its own file under commands/ and exports a
 * Command (usage text and a function from arguments to an exit status). Modules are loaded only
 * when their command runs, so a quick `warden bans` does not pay for parsing filters or opening
 * SQLite.
 */
interface Entry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

const COMMANDS: readonly Entry[] = [
  { name: 'run', summary: 'run the protection daemon in the foreground', load: async () => (await import('./commands/run.js')).runCommand },
  { name: 'status', summary: 'show the daemon, its jails, sources, firewall and warnings', load: async () => (await import('./commands/status.js')).statusCommand },
  { name: 'bans', summary: 'list active bans', load: async () => (await import('./commands/bans.js')).bansCommand },
  { name: 'ban', summary: 'ban an address or range by hand', load: async () => (await import('./commands/ban.js')).banCommand },
  { name: 'unban', summary: 'lift a ban (temporary or permanent)', load: async () => (await import('./commands/unban.js')).unbanCommand },
  { name: 'review', summary: 'review permanent bans with their evidence', load: async () => (await import('./commands/review.js')).reviewCommand },
  { name: 'reload', summary: 're-read the configuration without dropping bans', load: async () => (await import('./commands/reload.js')).reloadCommand },
  { name: 'who', summary: 'who is logged in now (utmp)', load: async () => (await import('./commands/who.js')).whoCommand },
  { name: 'last', summary: 'login history (wtmp, rotated and compressed), reboots, crashes', load: async () => (await import('./commands/last.js')).lastCommand },
  { name: 'connections', summary: 'open TCP connections per remote address, with ban state', load: async () => (await import('./commands/connections.js')).connectionsCommand },
  { name: 'search', summary: 'every log line about an address or user, current and rotated logs and the journal', load: async () => (await import('./commands/search.js')).searchCommand },
  { name: 'report', summary: 'the one screen to read first: sessions, logins, attackers, bans, compromise and integrity', load: async () => (await import('./commands/report.js')).reportCommand },
  { name: 'audit', summary: 'audit the effective sshd configuration, with a lockout-safe hardening plan', load: async () => (await import('./commands/audit.js')).auditCommand },
  { name: 'import-fail2ban', summary: 'translate a fail2ban configuration into a warden one', load: async () => (await import('./commands/import-fail2ban.js')).importFail2banCommand },
  { name: 'test', summary: 'run a filter over a log and report what it finds', load: async () => (await import('./commands/test.js')).testCommand },
  { name: 'config', summary: 'print the embedded default, or check a configuration file', load: async () => (await import('./commands/config.js')).configCommand },
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `warden — protects this server from login brute force\n\nUsage: warden COMMAND [options]\n\n${
    COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')
  }\n\nRun "warden COMMAND --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write('warden 0.1.0\n');
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`warden: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`warden ${name}: ${e.message}\n\n${command.usage}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`warden: configuration error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ControlError) {
      process.stderr.write(`warden ${name}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`warden ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

// Output piped into `head` and closed early is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`warden: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
