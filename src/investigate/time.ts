/** Times on the command line and in investigation tables. */
import { parseDuration } from '../util/duration.js';

/**
 * `--since`: an ISO date ("2024-03-01", local midnight), an ISO date and time ("2024-03-01T10:00",
 * local unless it carries Z or an offset), or a duration back from now ("7d", "12h", "1h30m").
 * Returns seconds since the epoch; throws an Error saying what is accepted.
 */
export function parseSince(text: string, now: number): number {
  const s = text.trim();
  if (/^(\d+(\.\d+)?[smhdw])+$/i.test(s)) return now - parseDuration(s);
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (day) {
    const d = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    if (d.getDate() === Number(day[3]) && d.getMonth() === Number(day[2]) - 1) return d.getTime() / 1000;
  } else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s)) {
    const ms = Date.parse(s.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms / 1000;
  }
  throw new Error(`"${text}" is neither a date (2024-03-01, 2024-03-01T10:00, with Z or +02:00 for a zone) nor a duration (7d, 12h, 30m)`);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Local time "2024-03-01 10:00:05" (what an admin compares with the clock on the wall). */
export function localTime(sec: number): string {
  const d = new Date(Math.floor(sec) * 1000);
  if (!Number.isFinite(d.getTime())) return String(sec);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** ISO 8601 UTC to the second, for JSON; null stays null. */
export function isoTime(sec: number | null): string | null {
  if (sec === null) return null;
  const ms = Math.floor(sec) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace('.000Z', 'Z') : null;
}

/** A span to the second: "0:05:09", "26:03:00" is shown as "1d 2:03:00"; negative with a minus. */
export function span(seconds: number): string {
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86_400);
  s %= 86_400;
  const hms = `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return `${sign}${d ? `${d}d ` : ''}${hms}`;
}
