/**
 * Runs `warden search` or `warden report` without the main CLI (which registers them separately):
 * `node dist/test/investigate/run-incident.js search 192.0.2.7 --log FILE --json`. For the tests,
 * the benchmarks and by hand.
 */
import type { Command } from '../../src/cli/command.js';
import { searchCommand } from '../../src/cli/commands/search.js';
import { reportCommand } from '../../src/cli/commands/report.js';
import { UsageError } from '../../src/cli/usage.js';

const commands: readonly Command[] = [searchCommand, reportCommand];
const [name, ...args] = process.argv.slice(2);
const command = commands.find((c) => c.name === name);
if (!command) {
  process.stderr.write(`usage: run-incident.js ${commands.map((c) => c.name).join('|')} [options]\n`);
  process.exitCode = 2;
} else {
  command.run(args).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`warden ${name}: ${e.message}\n\n${command.usage}`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`warden ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
