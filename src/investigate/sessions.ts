/**
 * Login history from wtmp records, pairing logins with logouts the way util-linux `last` does, so
 * an admin who knows `last` sees the same sessions with the same times:
 *
 * - records are walked newest first; a login's end is the next record (logout or new login) on the
 *   same terminal line;
 * - a login with no such record before a later boot or shutdown ended with the machine: "crash"
 *   (a boot came next, so the system went down without a shutdown record) or "down" (a shutdown
 *   record came next);
 * - a login with nothing after it is "still logged in", or "gone" when its process is evidently
 *   not around any more (started before this boot, unknown user, or login uid / tty owner mismatch);
 * - old programs' records with a wrong ut_type are reclassified with last's compatibility rules.
 *
 * One deliberate difference: `last` gives a boot the end time of the most recent shutdown it has
 * seen, so a boot that ended in a crash is shown running until some later, unrelated shutdown (or
 * "still running"). Here such a boot ends "crash" at the next boot.
 */
import type { SystemView } from './system.js';
import { UtmpType, type UtmpRecord } from './utmp.js';

/** last's private type for shutdown records ("~" line, user "shutdown"). */
const SHUTDOWN_TIME = 254;

export type SessionStatus =
  | 'logged out' // ended by a logout (or a later login) on the same line
  | 'still logged in'
  | 'gone' // no logout, and the session is evidently not alive
  | 'crash' // the machine went down without a shutdown record (a boot came next)
  | 'down' // the machine was shut down while the session was open
  | 'still running'; // a boot: the machine has not gone down since

export interface SourcedRecord {
  readonly file: string;
  readonly record: UtmpRecord;
}

export interface Session {
  readonly kind: 'login' | 'reboot';
  readonly user: string;
  readonly line: string;
  readonly host: string;
  /** Peer address from ut_addr_v6, canonical; null for local logins and boots. */
  readonly address: string | null;
  readonly pid: number;
  /** Seconds since the epoch. */
  readonly start: number;
  /** When it ended (logout, shutdown, or the next boot after a crash); null while still open. */
  readonly end: number | null;
  readonly status: SessionStatus;
  readonly file: string;
  readonly offset: number;
  /** A login as root (or another uid-0 user). */
  root: boolean;
  /** The first login from this address anywhere in the history read. */
  newAddress: boolean;
}

export interface SessionOptions {
  readonly system: SystemView;
}

/** Sessions newest first, as `last` lists them. */
export function buildSessions(records: readonly SourcedRecord[], options: SessionOptions): Session[] {
  const { system } = options;
  const out: Session[] = [];
  /** line -> the next record on that line after the one being looked at (we walk backwards). */
  let following = new Map<string, SourcedRecord>();
  let lastboot = 0; // time of the boot/shutdown that ended the period being walked; 0: none yet
  let whydown: 'crash' | 'down' = 'crash';
  // For boots: what came next — nothing, a shutdown (when), or another boot (when).
  let next: { what: 'none' } | { what: 'shutdown' | 'boot'; at: number } = { what: 'none' };
  const bootTime = system.bootTime();

  for (let i = records.length - 1; i >= 0; i--) {
    const src = records[i]!;
    const r = src.record;
    const type = effectiveType(r);
    let down = false;
    const base = { user: r.user, line: r.line, host: r.host, address: r.address, pid: r.pid, start: r.sec, file: src.file, offset: r.offset, root: false, newAddress: false };

    switch (type) {
      case SHUTDOWN_TIME:
        next = { what: 'shutdown', at: r.sec };
        down = true;
        break;
      case UtmpType.BOOT_TIME: {
        const ended = next.what === 'none' ? { end: null, status: 'still running' as const }
          : { end: next.at, status: next.what === 'shutdown' ? 'down' as const : 'crash' as const };
        out.push({ ...base, kind: 'reboot', ...ended });
        next = { what: 'boot', at: r.sec };
        down = true;
        break;
      }
      case UtmpType.RUN_LVL: {
        const level = String.fromCharCode(r.pid & 255);
        if (level === '0' || level === '6') { // halt or reboot runlevel: the system is going down
          next = { what: 'shutdown', at: r.sec };
          down = true;
        }
        break;
      }
      case UtmpType.USER_PROCESS: {
        const after = following.get(r.line);
        if (after) {
          out.push({ ...base, kind: 'login', end: after.record.sec, status: 'logged out' });
        } else if (!lastboot) {
          const gone = isGone(r, system, bootTime);
          out.push({ ...base, kind: 'login', end: null, status: gone ? 'gone' : 'still logged in' });
        } else {
          out.push({ ...base, kind: 'login', end: lastboot, status: whydown });
        }
        if (r.line) following.set(r.line, src);
        break;
      }
      case UtmpType.DEAD_PROCESS:
        if (r.line) following.set(r.line, src);
        break;
      default:
        break; // EMPTY, INIT_PROCESS, LOGIN_PROCESS, ACCOUNTING, time changes, unknown types
    }
    if (down) {
      lastboot = r.sec;
      whydown = type === SHUTDOWN_TIME || type === UtmpType.RUN_LVL ? 'down' : 'crash';
      following = new Map(); // nothing is paired across a boot or shutdown
    }
  }
  markFlags(out, system);
  return out;
}

/**
 * The type `last` acts on: boot/shutdown/runlevel records are recognised by the "~" line, and
 * records of old programs that left ut_type wrong are reclassified by their user and line.
 */
export function effectiveType(r: UtmpRecord): number {
  if (r.line.startsWith('~')) {
    if (r.user.startsWith('shutdown')) return SHUTDOWN_TIME;
    if (r.user.startsWith('reboot')) return UtmpType.BOOT_TIME;
    if (r.user.startsWith('runlevel')) return UtmpType.RUN_LVL;
    return r.type;
  }
  let type = r.type;
  if (type !== UtmpType.DEAD_PROCESS && r.user && r.line && !r.user.startsWith('LOGIN')) type = UtmpType.USER_PROCESS;
  if (!r.user) type = UtmpType.DEAD_PROCESS; // "ghost" logins with no user name
  if (r.user.startsWith('date')) {
    if (r.line.startsWith('|')) type = UtmpType.OLD_TIME;
    if (r.line.startsWith('{')) type = UtmpType.NEW_TIME;
  }
  return type;
}

/**
 * Whether an open session is evidently over (last's "gone - no logout"): it began before this
 * boot, its user is unknown here, or its process's login uid (else its terminal's owner) is not
 * that user's.
 */
function isGone(r: UtmpRecord, system: SystemView, bootTime: number | null): boolean {
  if (bootTime !== null && r.sec < Math.floor(bootTime)) return true;
  const uid = system.userUid(r.user);
  if (uid === undefined) return true;
  const loginUid = system.loginUid(r.pid);
  if (loginUid !== undefined) return loginUid !== uid;
  const tty = system.tty(r.line);
  return !tty || tty.uid !== uid;
}

function markFlags(sessions: Session[], system: SystemView): void {
  const logins = sessions.filter((s) => s.kind === 'login');
  for (const s of logins) s.root = s.user === 'root' || system.userUid(s.user) === 0;
  // Oldest first (stable for equal times) to find each address's first appearance.
  const seen = new Set<string>();
  for (const s of [...logins].reverse().sort((a, b) => a.start - b.start)) {
    if (s.address === null) continue;
    if (!seen.has(s.address)) {
      seen.add(s.address);
      s.newAddress = true;
    }
  }
}

/** Seconds between start and end, or null while open. */
export function durationOf(s: Session): number | null {
  return s.end === null ? null : s.end - s.start;
}
