#!/usr/bin/env -S node --max-semi-space-size=1
import { ConfigError } from '../config/schema.js';
import { ControlError } from '../control/client.js';
import { UsageError } from './usage.js';
import type { Command } from './command.js';
import { runCommand } from './commands/run.js';
import { statusCommand } from './commands/status.js';
import { bansCommand } from './commands/bans.js';
import { banCommand } from './commands/ban.js';
import { unbanCommand } from './commands/unban.js';
import { reloadCommand } from './commands/reload.js';
import { testCommand } from './commands/test.js';
import { configCommand } from './commands/config.js';
import { reviewCommand } from './commands/review.js';
import { whoCommand } from './commands/who.js';
import { lastCommand } from './commands/last.js';
import { connectionsCommand } from './commands/connections.js';

/**
 * `warden COMMAND [options]`. Each command lives in its own file under commands/ and exports a
 * Command: its usage text and a function from arguments to an exit status.
 */
const COMMANDS: readonly Command[] = [
  runCommand, statusCommand, bansCommand, banCommand, unbanCommand, reviewCommand, reloadCommand,
  whoCommand, lastCommand, connectionsCommand, testCommand, configCommand,
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
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`warden: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
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

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`warden: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
