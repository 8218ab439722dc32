/**
 * Failure counting per key (an address, or an IPv6 prefix) over a sliding time window.
 *
 * Each key keeps only the times of its newest `maxretry` failures in a small array: the key has
 * reached the threshold exactly when it holds `maxretry` times and the oldest of them is within
 * `findtime` of the newest. That is O(maxretry) memory per key and O(1) work per failure,
 * whatever the attack rate. A few evidence lines ride along for the ban record.
 */
export interface WindowEntry {
  /** Failure times (epoch ms), oldest first, at most maxretry of them. */
  times: number[];
  /** The newest few raw lines (copied, so they do not pin the read buffer they were cut from). */
  evidence: string[];
}

export const EVIDENCE_LINES = 3;

export class FailureWindow {
  private readonly entries = new Map<string, WindowEntry>();
  /** Keys changed since the last `takeDirty()`: what the next checkpoint must write. */
  private readonly dirty = new Set<string>();

  constructor(private maxretry: number, private findtimeMs: number) {}

  /** Applies new limits (reload); existing counts are kept. */
  configure(maxretry: number, findtimeMs: number): void {
    this.maxretry = maxretry;
    this.findtimeMs = findtimeMs;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Records `count` failures of `key` at `time`. Returns the entry when the key has reached the
   * threshold (the caller bans and then calls `clear`), otherwise undefined.
   */
  add(key: string, time: number, count: number, line: string): WindowEntry | undefined {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { times: [], evidence: [] };
      this.entries.set(key, entry);
    }
    const times = entry.times;
    // Log lines can arrive slightly out of order (interleaved writers): keep the array sorted.
    for (let i = 0; i < Math.min(count, this.maxretry); i++) {
      let at = times.length;
      while (at > 0 && (times[at - 1] as number) > time) at--;
      times.splice(at, 0, time);
    }
    if (times.length > this.maxretry) times.splice(0, times.length - this.maxretry);
    entry.evidence.push(copyString(line));
    if (entry.evidence.length > EVIDENCE_LINES) entry.evidence.shift();
    this.dirty.add(key);
    const newest = times[times.length - 1] as number;
    // Forget failures that fell out of the window relative to the newest one.
    let drop = 0;
    while (drop < times.length && newest - (times[drop] as number) > this.findtimeMs) drop++;
    if (drop) times.splice(0, drop);
    return times.length >= this.maxretry ? entry : undefined;
  }

  /** The failures currently counted for a key (0 when none). */
  count(key: string): number {
    return this.entries.get(key)?.times.length ?? 0;
  }

  get(key: string): WindowEntry | undefined {
    return this.entries.get(key);
  }

  clear(key: string): void {
    if (this.entries.delete(key)) this.dirty.add(key);
  }

  /** Restores an entry from the state database (start-up). */
  restore(key: string, entry: WindowEntry): void {
    this.entries.set(key, entry);
  }

  /** Drops keys whose newest failure is older than findtime before `now`; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const [key, entry] of this.entries) {
      const newest = entry.times[entry.times.length - 1];
      if (newest === undefined || now - newest > this.findtimeMs) {
        this.entries.delete(key);
        this.dirty.add(key);
        removed++;
      }
    }
    return removed;
  }

  /** Keys changed since the last call, with their entry (undefined = deleted). */
  takeDirty(): Array<[string, WindowEntry | undefined]> {
    const out: Array<[string, WindowEntry | undefined]> = [];
    for (const key of this.dirty) out.push([key, this.entries.get(key)]);
    this.dirty.clear();
    return out;
  }
}

/**
 * A flat copy of a string. Lines cut from a large read chunk are "sliced strings" in V8 that keep
 * the whole chunk alive; evidence kept for minutes must not pin megabytes.
 */
export function copyString(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
