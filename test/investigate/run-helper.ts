import { fileURLToPath } from 'node:url';
import { execFile, type ExecResult } from '../../src/util/exec.js';

/** Path of the compiled runner (run.ts), which runs one investigation command by name. */
export const RUNNER = fileURLToPath(new URL('./run.js', import.meta.url));

/** Runs `warden NAME ARGS` in a child process (so its stdout is its own), with TZ=UTC by default. */
export function runCommand(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ExecResult> {
  return execFile(process.execPath, [RUNNER, name, ...args], { env: { ...process.env, TZ: 'UTC', ...env } });
}

/** Runs a command with --json and parses its output; fails with its stderr when it did not exit 0. */
export async function runJson<T>(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const r = await runCommand(name, [...args, '--json'], env);
  if (r.code !== 0) throw new Error(`warden ${name} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
