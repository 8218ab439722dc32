/**
 * Runs one investigation command by name without the main CLI (which registers them separately):
 * `node dist/test/investigate/run.js connections --port 22 --json`. Used by tests that must run the
 * command in another network namespace, and by hand.
 */
import type { Command } from '../../src/cli/command.js';
import { connectionsCommand } from '../../src/cli/commands/connections.js';
import { lastCommand } from '../../src/cli/commands/last.js';
import { whoCommand } from '../../src/cli/commands/who.js';

const commands: readonly Command[] = [whoCommand, lastCommand, connectionsCommand];
const [name, ...args] = process.argv.slice(2);
const command = commands.find((c) => c.name === name);
if (!command) {
  process.stderr.write(`usage: run.js ${commands.map((c) => c.name).join('|')} [options]\n`);
  process.exitCode = 2;
} else {
  command.run(args).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { process.stderr.write(`warden ${name}: ${e instanceof Error ? e.message : String(e)}\n`); process.exitCode = 1; },
  );
}
