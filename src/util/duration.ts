/**
 * Durations in configuration and on the command line: `30s`, `10m`, `1h`, `1d`, `1w`, combined
 * (`1h30m`), or a bare number of seconds. Returned in seconds.
 */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const PART = /(\d+(?:\.\d+)?)([smhdw])/y;

export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`not a duration: ${text}`);
    return text;
  }
  const s = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (!s) throw new Error('empty duration');
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) throw new Error(`not a duration: "${text}" (use e.g. 30s, 10m, 1h, 1d, 1w)`);
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
  }
  return total;
}

/** Seconds as the shortest exact unit string: 600 -> "10m", 90 -> "90s". */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  for (const [unit, size] of [['w', 604_800], ['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${Math.round(seconds)}s`;
}

/** Human approximation for tables: "3d 4h", "12m 5s". */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400), h = Math.floor((s % 86_400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (d) return h ? `${d}d ${h}h` : `${d}d`;
  if (h) return m ? `${h}h ${m}m` : `${h}h`;
  if (m) return r ? `${m}m ${r}s` : `${m}m`;
  return `${r}s`;
}
