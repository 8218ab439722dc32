import { hostname } from 'node:os';

/**
 * Turning one `journalctl -o json` record into the classic syslog-looking lines the filters expect:
 *
 *   2026-03-01T00:00:01.123456+00:00 web01 sshd[123]: Failed password for root from 192.0.2.7 port 22 ssh2
 *
 * The date is RFC 3339 with microseconds in UTC, the format rsyslog writes with RSYSLOG_FileFormat,
 * so the same filter definitions match files and the journal. The exact time also travels in
 * LineBatch.times, so nothing depends on re-parsing it.
 */

/** A journal field as journalctl's JSON prints it: text, a byte array (binary or invalid UTF-8), null (too large), or several values. */
type JsonField = string | number[] | null | JsonField[];

export interface JournalRecord {
  /** Lines to hand to the filters (a multi-line MESSAGE gives one line per non-empty line). */
  readonly lines: string[];
  /** Epoch ms of the entry. */
  readonly time: number;
  readonly cursor: string | undefined;
}

const localHost = hostname();

function isByteArray(v: unknown[]): v is number[] {
  return v.length > 0 && v.every((x) => typeof x === 'number');
}

/** The text of a field; a field that occurs several times yields its first value. */
export function fieldText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '';
    if (isByteArray(value)) return Buffer.from(value).toString('utf8');
    return fieldText((value as JsonField[])[0]);
  }
  return undefined;
}

/** RFC 3339 UTC with microseconds from a __REALTIME_TIMESTAMP (microseconds since the epoch). */
export function formatRealtime(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const extra = Number(micros % 1000n);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(extra).padStart(3, '0')}+00:00`;
}

/**
 * Converts a parsed record. Returns undefined for a record without a usable MESSAGE, or with a NUL
 * in it (binary junk, skipped like in files).
 */
export function convertRecord(record: Record<string, unknown>): JournalRecord | undefined {
  const message = fieldText(record['MESSAGE']);
  if (message === undefined || message.includes('\0')) return undefined;
  let micros: bigint;
  const rt = fieldText(record['__REALTIME_TIMESTAMP']);
  try {
    micros = rt !== undefined && /^\d+$/.test(rt) ? BigInt(rt) : BigInt(Date.now()) * 1000n;
  } catch {
    micros = BigInt(Date.now()) * 1000n;
  }
  const host = fieldText(record['_HOSTNAME']) ?? localHost;
  const ident = fieldText(record['SYSLOG_IDENTIFIER']) ?? fieldText(record['_COMM']) ?? 'unknown';
  const pid = fieldText(record['_PID']) ?? fieldText(record['SYSLOG_PID']);
  const prefix = `${formatRealtime(micros)} ${host} ${ident}${pid ? `[${pid}]` : ''}: `;
  // One journal entry is one line. A newline inside MESSAGE is escaped the way rsyslog writes it
  // (#012), never split: a service that logs attacker text containing a newline would otherwise
  // hand the attacker a second line with this entry's genuine program and pid in front of it.
  const text = message.replace(/\r?\n$/, '').replace(/\r/g, '#015').replace(/\n/g, '#012');
  return { lines: [prefix + text], time: Number(micros / 1000n), cursor: fieldText(record['__CURSOR']) };
}
