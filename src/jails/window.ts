import { copyString } from '../util/strings.js';

/**
 * Failure counting per key (an address, or an IPv6 prefix) over a sliding time window.
 *
 * Each key keeps only the times of its newest `maxretry` failures: the key has reached the
 * threshold exactly when it holds `maxretry` times and the oldest of them is within `findtime` of
 * the newest. That is O(maxretry) memory per key and O(1) work per failure, whatever the attack rate.
 *
 * The daemon may track 100,000+ attacking addresses at once, so the bytes per key are the design:
 * - the map holds key -> slot number (a small integer, not an object), and the times of every key
 *   live in one Float64Array, `maxretry` numbers per slot. Apart from its key string, a tracked key
 *   costs no heap object, which also keeps full garbage collections of a big table cheap.
 * - the evidence lines (the newest few raw lines, for the ban record) are not kept here for long:
 *   a line waits in the dirty table until the next checkpoint (`takeDirty`) hands it to the state
 *   store, which keeps the newest EVIDENCE_LINES per key, and is read back from there (the
 *   `storedEvidence` source) when the key reaches the threshold. A line is ~100 bytes, several times
 *   what the counting needs.
 */
export interface WindowEntry {
  /** Failure times (epoch ms), oldest first, at most maxretry of them. */
  times: number[];
  /** The newest few raw lines, oldest first. */
  evidence: string[];
}

/** What a checkpoint must write for a key that changed. */
export interface WindowChange {
  readonly times: readonly number[];
  /** Lines added since the previous checkpoint, oldest first (at most EVIDENCE_LINES). */
  readonly evidence: readonly string[];
  /**
   * true: the store already holds earlier lines of this same entry; keep the newest
   * EVIDENCE_LINES of those followed by `evidence`. false: `evidence` replaces whatever is stored.
   */
  readonly append: boolean;
}

/** Reads back the evidence lines the store holds for a key (as of the last checkpoint). */
export type EvidenceSource = (key: string) => readonly string[];

export const EVIDENCE_LINES = 3;

/** The store holds evidence lines of the entry in this slot (written by an earlier checkpoint). */
const STORED = 1;
const MIN_CAPACITY = 64;

export class FailureWindow {
  /** key -> slot in the arrays below. */
  private readonly slots = new Map<string, number>();
  /** `stride` (= maxretry) times per slot, oldest first; `counts[slot]` of them are used. */
  private times: Float64Array;
  private counts: Uint16Array;
  private flags: Uint8Array;
  private stride: number;
  /** Slots below this index have been handed out at least once; freed ones wait in `free`. */
  private used = 0;
  private free: number[] = [];
  /**
   * Keys changed since the last `takeDirty()` — what the next checkpoint must write — with the
   * lines they received since (undefined: none, or the entry was removed).
   */
  private readonly dirty = new Map<string, string[] | undefined>();

  constructor(
    private maxretry: number,
    private findtimeMs: number,
    private readonly storedEvidence: EvidenceSource = () => [],
  ) {
    this.stride = maxretry;
    this.times = new Float64Array(MIN_CAPACITY * maxretry);
    this.counts = new Uint16Array(MIN_CAPACITY);
    this.flags = new Uint8Array(MIN_CAPACITY);
  }

  /** Applies new limits (reload); existing counts are kept (the newest maxretry of them). */
  configure(maxretry: number, findtimeMs: number): void {
    this.findtimeMs = findtimeMs;
    if (maxretry !== this.maxretry) {
      this.maxretry = maxretry;
      this.relayout(this.counts.length, maxretry, false);
    }
  }

  get size(): number {
    return this.slots.size;
  }

  /**
   * Records `count` failures of `key` at `time`. Returns the entry when the key has reached the
   * threshold (the caller bans and then calls `clear`), otherwise undefined.
   */
  add(key: string, time: number, count: number, line: string): WindowEntry | undefined {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      // Keys live for minutes: store a flat copy, not a slice or concatenation of something bigger.
      this.slots.set(copyString(key), slot);
    }
    const stride = this.stride;
    const base = slot * stride;
    const times = this.times;
    let n = this.counts[slot] as number;
    // Log lines can arrive slightly out of order (interleaved writers): keep the times sorted.
    const k = Math.min(count, stride);
    for (let i = 0; i < k; i++) n = insertSorted(times, base, n, stride, time);
    // Forget failures that fell out of the window relative to the newest one.
    const newest = times[base + n - 1] as number;
    let drop = 0;
    while (drop < n && newest - (times[base + drop] as number) > this.findtimeMs) drop++;
    if (drop) {
      times.copyWithin(base, base + drop, base + n);
      n -= drop;
    }
    this.counts[slot] = n;
    let lines = this.dirty.get(key);
    if (lines === undefined) {
      lines = [];
      this.dirty.set(key, lines);
    }
    lines.push(copyString(line));
    if (lines.length > EVIDENCE_LINES) lines.shift();
    return n >= this.maxretry ? this.entryAt(key, slot) : undefined;
  }

  /** The failures currently counted for a key (0 when none). */
  count(key: string): number {
    const slot = this.slots.get(key);
    return slot === undefined ? 0 : (this.counts[slot] as number);
  }

  /** The entry of a key, evidence included (read back from the store when needed). */
  get(key: string): WindowEntry | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.entryAt(key, slot);
  }

  clear(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.release(key, slot);
  }

  /** Restores an entry from the state database (start-up); its evidence stays in the store. */
  restore(key: string, times: readonly number[]): void {
    const slot = this.slots.get(key) ?? this.allocate();
    this.slots.set(copyString(key), slot);
    const sorted = [...times].sort((a, b) => a - b).slice(-this.stride);
    this.times.set(sorted, slot * this.stride);
    this.counts[slot] = sorted.length;
    this.flags[slot] = STORED;
  }

  /** Drops keys whose newest failure is older than findtime before `now`; returns how many. */
  expire(now: number): number {
    let removed = 0;
    for (const [key, slot] of this.slots) {
      const n = this.counts[slot] as number;
      if (n === 0 || now - (this.times[slot * this.stride + n - 1] as number) > this.findtimeMs) {
        this.release(key, slot);
        removed++;
      }
    }
    // After a wave of attackers has gone, give the memory back rather than keep the peak forever.
    const capacity = this.counts.length;
    if (capacity > MIN_CAPACITY && this.slots.size * 4 < capacity) {
      this.relayout(Math.max(MIN_CAPACITY, nextPowerOfTwo(this.slots.size * 2)), this.stride, true);
    }
    return removed;
  }

  /**
   * Keys changed since the last call, with what to write (undefined = deleted). The lines handed
   * over here belong to the store from now on: they are read back through `storedEvidence`.
   */
  takeDirty(): Array<[string, WindowChange | undefined]> {
    const out: Array<[string, WindowChange | undefined]> = [];
    for (const [key, lines] of this.dirty) {
      const slot = this.slots.get(key);
      if (slot === undefined) {
        out.push([key, undefined]);
        continue;
      }
      out.push([key, { times: this.timesAt(slot), evidence: lines ?? [], append: ((this.flags[slot] as number) & STORED) !== 0 }]);
      this.flags[slot] = (this.flags[slot] as number) | STORED;
    }
    this.dirty.clear();
    return out;
  }

  // ------------------------------------------------------------------ slots

  private entryAt(key: string, slot: number): WindowEntry {
    const pending = this.dirty.get(key) ?? [];
    let evidence: string[];
    if (((this.flags[slot] as number) & STORED) !== 0 && pending.length < EVIDENCE_LINES) {
      evidence = [...this.storedEvidence(key), ...pending].slice(-EVIDENCE_LINES);
    } else {
      evidence = pending.slice();
    }
    return { times: this.timesAt(slot), evidence };
  }

  private timesAt(slot: number): number[] {
    const base = slot * this.stride;
    return Array.from(this.times.subarray(base, base + (this.counts[slot] as number)));
  }

  private allocate(): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.used++;
      if (slot >= this.counts.length) this.relayout(this.counts.length * 2, this.stride, false);
    }
    this.counts[slot] = 0;
    this.flags[slot] = 0;
    return slot;
  }

  private release(key: string, slot: number): void {
    this.slots.delete(key);
    this.counts[slot] = 0;
    this.flags[slot] = 0;
    this.free.push(slot);
    // The entry is gone: lines it received since the last checkpoint must not pass to a new one.
    this.dirty.set(key, undefined);
  }

  /**
   * Moves every entry into arrays of `capacity` slots of `stride` times (keeping the newest times
   * when the stride shrinks). `compact` renumbers the live slots from 0 (needed when shrinking).
   */
  private relayout(capacity: number, stride: number, compact: boolean): void {
    const times = new Float64Array(capacity * stride);
    const counts = new Uint16Array(capacity);
    const flags = new Uint8Array(capacity);
    const move = (from: number, to: number): void => {
      const n = this.counts[from] as number;
      const keep = Math.min(n, stride);
      const src = from * this.stride + n - keep;
      times.set(this.times.subarray(src, src + keep), to * stride);
      counts[to] = keep;
      flags[to] = this.flags[from] as number;
    };
    if (compact) {
      let next = 0;
      for (const [key, slot] of this.slots) {
        move(slot, next);
        this.slots.set(key, next++);
      }
      this.used = next;
      this.free = [];
    } else {
      for (const slot of this.slots.values()) move(slot, slot);
    }
    this.times = times;
    this.counts = counts;
    this.flags = flags;
    this.stride = stride;
  }
}

/**
 * Inserts `time` into the sorted run times[base, base + n) of at most `max` entries; when the run is
 * full, the oldest time is dropped (or `time` itself, when it is the oldest). Returns the new length.
 */
function insertSorted(times: Float64Array, base: number, n: number, max: number, time: number): number {
  if (n === max) {
    if (time <= (times[base] as number)) return n;
    let i = 0;
    while (i + 1 < n && (times[base + i + 1] as number) <= time) {
      times[base + i] = times[base + i + 1] as number;
      i++;
    }
    times[base + i] = time;
    return n;
  }
  let at = n;
  while (at > 0 && (times[base + at - 1] as number) > time) {
    times[base + at] = times[base + at - 1] as number;
    at--;
  }
  times[base + at] = time;
  return n + 1;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
