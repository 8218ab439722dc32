import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeUtmp, UtmpType } from '../../src/investigate/utmp.js';

/**
 * Record builders in the real on-disk layout, shaped like what the real writers leave:
 * sshd/login (USER_PROCESS, then DEAD_PROCESS with user and host cleared by glibc's logout()),
 * systemd-update-utmp (boot: BOOT_TIME "reboot" on "~"; shutdown: RUN_LVL "shutdown" on "~").
 */
export const KERNEL = '6.1.0-13-amd64';

export function login(user: string, line: string, from: string | null, sec: number, pid = 0): Buffer {
  const address = from !== null && /^[\d.]+$|:/.test(from) ? from : null;
  return encodeUtmp({ type: UtmpType.USER_PROCESS, pid, line, id: line.replace(/^pts\//, 'ts/').slice(-4), user, host: from ?? '', sec, usec: 123_456, address, session: pid });
}

export function logout(line: string, sec: number, pid = 0): Buffer {
  return encodeUtmp({ type: UtmpType.DEAD_PROCESS, pid, line, id: line.replace(/^pts\//, 'ts/').slice(-4), sec, usec: 654_321 });
}

export function boot(sec: number): Buffer {
  return encodeUtmp({ type: UtmpType.BOOT_TIME, line: '~', id: '~~', user: 'reboot', host: KERNEL, sec });
}

export function shutdown(sec: number): Buffer {
  return encodeUtmp({ type: UtmpType.RUN_LVL, line: '~', id: '~~', user: 'shutdown', host: KERNEL, sec });
}

export function runlevel(level: string, sec: number): Buffer {
  return encodeUtmp({ type: UtmpType.RUN_LVL, pid: level.charCodeAt(0) + 'N'.charCodeAt(0) * 256, line: '~', id: '~~', user: 'runlevel', host: KERNEL, sec });
}

/** A temporary directory removed by the returned function. */
export function tempDir(): { dir: string; path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-inv-'));
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The pid of a process that has just exited (so no live process has it, barring quick reuse). */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid;
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
  if (pid === undefined) throw new Error('could not start a process');
  return pid;
}
