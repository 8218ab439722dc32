import { spawn } from 'node:child_process';

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
  /** Kill the child (SIGKILL) after this many ms. Default 30 s: a hung `nft` must not hang the daemon. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs a program with an argument array — never through a shell, so no address, user name or
 * path can be interpreted as shell syntax. Resolves with the exit status; rejects only when the
 * program cannot be started (ENOENT, EACCES).
 */
export function execFile(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      if (!settled) { settled = true; reject(e); }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    // A child that exits before reading its input raises EPIPE on stdin; the exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Like execFile, but rejects with stderr in the message when the exit status is not 0. */
export async function execFileChecked(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await execFile(file, args, options);
  if (result.code !== 0) {
    const why = result.stderr.trim() || result.stdout.trim() || `signal ${result.signal ?? 'none'}`;
    throw new Error(`${file} ${args.join(' ')} failed (exit ${result.code ?? 'none'}): ${why}`);
  }
  return result;
}
