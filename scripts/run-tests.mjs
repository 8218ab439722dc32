// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner, one file at a
// time (firewall and sshd tests build network namespaces; they are not meant to overlap).
// Node 20 has no glob support in `node --test`, and passing the directory would also run the
// helper modules under test/ as if they were tests; hence the explicit list.
// Arguments narrow the run: `npm test -- e2e firewall` runs files whose path contains a word.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : []);
}

const words = process.argv.slice(2);
const files = find('dist/test').sort().filter((f) => !words.length || words.some((w) => f.includes(w)));
if (!files.length) {
  console.error(`no test files${words.length ? ` matching ${words.join(', ')}` : ''} under dist/test`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
