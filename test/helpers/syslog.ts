/** Log lines as syslog writes them, for tests that feed an auth log to the daemon. */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/**
 * Traditional syslog date, "Nov  6 05:01:02", of `at` (default: now) in UTC or in local time.
 * Use the zone the daemon under test is configured with (`timezone: UTC` or `local`).
 */
export function syslogStamp(zone: 'utc' | 'local', at: Date = new Date()): string {
  const utc = zone === 'utc';
  const month = MONTHS[utc ? at.getUTCMonth() : at.getMonth()] ?? 'Jan';
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = String(utc ? at.getUTCDate() : at.getDate()).padStart(2, ' ');
  const [h, m, s] = utc ? [at.getUTCHours(), at.getUTCMinutes(), at.getUTCSeconds()] : [at.getHours(), at.getMinutes(), at.getSeconds()];
  return `${month} ${day} ${two(h)}:${two(m)}:${two(s)}`;
}

export interface FailedPasswordLine {
  /** sshd's PID in the line; default: the port. */
  pid?: number;
  /** Default root. */
  user?: string;
  /** Default web01. */
  host?: string;
  /** Default now. */
  at?: Date;
  /** Default utc. */
  zone?: 'utc' | 'local';
}

/** One newline-terminated sshd "Failed password" line from `ip`:`port`. */
export function failedPassword(ip: string, port = 40000, o: FailedPasswordLine = {}): string {
  return `${syslogStamp(o.zone ?? 'utc', o.at)} ${o.host ?? 'web01'} sshd[${o.pid ?? port}]: Failed password for ${o.user ?? 'root'} from ${ip} port ${port} ssh2\n`;
}

/**
 * `count` such lines from `ip` (or from `ip(i)`), as one string; line i (from 0) has PID
 * `first.pid + i` and port `first.port + i` (default 100 and 4000).
 */
export function failedPasswords(ip: string | ((i: number) => string), count: number, first: { pid?: number; port?: number } = {}): string {
  return Array.from({ length: count }, (_, i) =>
    failedPassword(typeof ip === 'string' ? ip : ip(i), (first.port ?? 4000) + i, { pid: (first.pid ?? 100) + i })).join('');
}
