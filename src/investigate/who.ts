/**
 * Who is logged in now, from utmp: the records of type USER_PROCESS with a user name — the same
 * entries `who` considers — with what /proc and /dev say about each: is the session's process
 * alive, and how long has its terminal been idle.
 */
import { existsSync } from 'node:fs';
import type { SystemView } from './system.js';
import { UtmpType, type UtmpRecord } from './utmp.js';

/** Where glibc keeps utmp; /var/run is a link to /run on current systems, the real path on old ones. */
export const UTMP_CANDIDATES = ['/run/utmp', '/var/run/utmp'] as const;

export interface CurrentSession {
  readonly user: string;
  readonly line: string;
  readonly host: string;
  /** Peer address from ut_addr_v6, canonical; null for local sessions. */
  readonly address: string | null;
  readonly pid: number;
  /** Login time, seconds since the epoch. */
  readonly start: number;
  /** Seconds since the terminal last saw input (its atime; negative if that is in the future); null when /dev/LINE cannot be examined. */
  readonly idleSeconds: number | null;
  /** The session's process still exists. A dead one means a stale entry: a crashed sshd, or an edited file. */
  readonly alive: boolean;
  readonly root: boolean;
  readonly offset: number;
}

/** The utmp file to read: the one given, else the first that exists; undefined when none does. */
export function findUtmp(file: string | undefined): string | undefined {
  if (file !== undefined) return file;
  return UTMP_CANDIDATES.find((p) => existsSync(p));
}

export function currentSessions(records: readonly UtmpRecord[], system: SystemView): CurrentSession[] {
  const now = system.now();
  return records
    .filter((r) => r.type === UtmpType.USER_PROCESS && r.user !== '')
    .map((r) => {
      const tty = system.tty(r.line);
      return {
        user: r.user, line: r.line, host: r.host, address: r.address, pid: r.pid, start: r.sec,
        idleSeconds: tty ? now - tty.atime : null,
        alive: system.pidAlive(r.pid),
        root: r.user === 'root' || system.userUid(r.user) === 0,
        offset: r.offset,
      };
    });
}

/**
 * Idle time as `who -u` shows it: "." under a minute, "HH:MM" under a day, "old" beyond — or when
 * the terminal was last used before this boot (`uptime` seconds ago) or in the future — "?" unknown.
 */
export function idleText(idleSeconds: number | null, uptime: number | null = null): string {
  if (idleSeconds === null) return '?';
  if (idleSeconds < 0 || idleSeconds >= 86_400 || (uptime !== null && idleSeconds > uptime)) return 'old';
  if (idleSeconds < 60) return '.';
  const m = Math.floor(idleSeconds / 60);
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
