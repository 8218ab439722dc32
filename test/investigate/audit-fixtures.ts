/**
 * Shared helpers of the audit tests (named *.test.ts only so it lives with them; it has no tests).
 *
 * sshd -T and sshd -t as root insist on the privilege separation directory /run/sshd, which exists
 * only while sshd runs. The tests never create it on the host: sshd runs in a private mount
 * namespace with its own tmpfs on /run (a node one-liner does the mount and starts sshd — no shell).
 */
import { execFile, type ExecResult } from '../../src/util/exec.js';
import type { SshdRunner } from '../../src/investigate/audit.js';

export const NS_PROGRAMS = ['unshare', 'mount'] as const;

const IN_NAMESPACE = `
const { execFileSync, spawnSync } = require('node:child_process');
const { mkdirSync } = require('node:fs');
execFileSync('mount', ['-n', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/run']);
mkdirSync('/run/sshd', { mode: 0o755 });
const r = spawnSync(process.argv[1], process.argv.slice(2), { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
`;

/** Runs PROGRAM ARGS in a private mount namespace with a fresh /run (containing /run/sshd). */
export function inNamespace(program: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  return execFile('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, '-e', IN_NAMESPACE, '--', program, ...args],
    { timeoutMs: 30_000, ...(env ? { env } : {}) });
}

export function sshdRunner(sshd: string): SshdRunner {
  return (args) => inNamespace(sshd, args);
}
