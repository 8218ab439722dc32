/**
 * The facts about the running machine that `who` and `last` consult: the clock, the boot time,
 * whether a process is alive, its login uid, user ids, and terminal devices. Behind an interface
 * so tests can pin them; `liveSystem()` reads the real /proc, /dev and /etc/passwd.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface TtyInfo {
  /** Last access in seconds: when the terminal last received input (what `who -u` shows as idle). */
  readonly atime: number;
  readonly uid: number;
}

export interface SystemView {
  /** Seconds since the epoch. */
  now(): number;
  /** When this machine booted, seconds since the epoch; null when unknown. */
  bootTime(): number | null;
  /** True when a process with this pid exists (/proc/PID). */
  pidAlive(pid: number): boolean;
  /** /proc/PID/loginuid; undefined when that file cannot be read, null when it is unreadable text. */
  loginUid(pid: number): number | null | undefined;
  /** The uid of a user name from the passwd file; undefined when unknown. */
  userUid(name: string): number | undefined;
  /** stat() of /dev/LINE; undefined when missing or when LINE is not a plain device name. */
  tty(line: string): TtyInfo | undefined;
}

export interface LiveSystemOptions {
  readonly procDir?: string;
  readonly devDir?: string;
  readonly passwdFile?: string;
}

export function liveSystem(options: LiveSystemOptions = {}): SystemView {
  const proc = options.procDir ?? '/proc';
  const dev = options.devDir ?? '/dev';
  const passwdFile = options.passwdFile ?? '/etc/passwd';
  let users: Map<string, number> | undefined;
  return {
    now: () => Date.now() / 1000,
    bootTime() {
      try {
        const uptime = Number(readFileSync(join(proc, 'uptime'), 'utf8').split(/\s+/)[0]);
        return Number.isFinite(uptime) ? Date.now() / 1000 - uptime : null;
      } catch {
        return null;
      }
    },
    pidAlive(pid) {
      // /proc/PID rather than kill(pid, 0): no signal permission question, and the same answer for
      // any user. In a PID namespace (a container) the host's processes are invisible: "gone".
      return Number.isInteger(pid) && pid > 0 && existsQuietly(join(proc, String(pid)));
    },
    loginUid(pid) {
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      const path = join(proc, String(pid), 'loginuid');
      try {
        accessSync(path, constants.R_OK);
      } catch {
        return undefined;
      }
      try {
        const n = Number(readFileSync(path, 'utf8').trim());
        return Number.isInteger(n) && n >= 0 ? n : null;
      } catch {
        return null;
      }
    },
    userUid(name) {
      users ??= readPasswd(passwdFile);
      return users.get(name);
    },
    tty(line) {
      if (!isDeviceName(line)) return undefined;
      try {
        const st = statSync(join(dev, line));
        return { atime: st.atimeMs / 1000, uid: st.uid };
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * A terminal name as login programs write it ("pts/3", "tty1", "ttyS0"). Anything else — an
 * absolute path, "..", odd characters — is refused: ut_line is untrusted and must not make us stat
 * files outside /dev.
 */
export function isDeviceName(line: string): boolean {
  return /^[A-Za-z0-9_.:+-]+(\/[A-Za-z0-9_.:+-]+)*$/.test(line) && !line.split('/').some((p) => p === '.' || p === '..');
}

function existsQuietly(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** name -> uid from a passwd file; unreadable or malformed lines are skipped. */
export function readPasswd(path: string): Map<string, number> {
  const map = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !f[0]) continue;
    const uid = Number(f[2]);
    if (Number.isInteger(uid) && !map.has(f[0])) map.set(f[0], uid);
  }
  return map;
}
