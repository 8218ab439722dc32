import { CompiledFilter, type Detection } from '../filters/engine.js';
import { DateParser } from '../filters/dates.js';
import { loadFilter } from '../filters/definition.js';
import type { JailConfig } from '../config/schema.js';
import { banTarget } from '../util/ip.js';
import type { LineBatch } from '../sources/source.js';
import { FailureWindow } from './window.js';
import type { AllowList } from './allow.js';

/**
 * A jail: one filter over some sources, counting failures per address in a window, and asking
 * for a ban when an address reaches maxretry within findtime. What a ban means (how long, whether
 * it escalates, whether the lockout guard vetoes it) is decided by the `decide` callback the
 * daemon gives it, so the jail stays a pure counter.
 */
export interface BanRequest {
  readonly jail: string;
  readonly target: string;
  readonly family: 4 | 6;
  /** The address seen on the last failure (the target may be its IPv6 prefix). */
  readonly address: string;
  readonly failures: number;
  readonly firstFailure: number;
  readonly lastFailure: number;
  readonly evidence: readonly string[];
  readonly rule: string;
}

export interface JailHooks {
  /** True when the target is under an open ban: its failures are noted but not counted again. */
  isBanned(target: string): boolean;
  /** The jail reached its threshold for a target. */
  requestBan(request: BanRequest): void;
  /** A failure from a target under an open ban: counted for `warden review`, not toward a ban. */
  onBannedAttempt?(target: string, time: number, count: number): void;
  /** A successful login (lockout guard, compromise alerts). */
  onSuccess?(jail: string, detection: Detection, line: string): void;
  /**
   * The evidence lines the state store holds for a key of this jail (written by a checkpoint):
   * the window keeps lines in memory only until they are checkpointed.
   */
  storedEvidence?(jail: string, key: string): readonly string[];
}

export interface JailStats {
  lines: number;
  failures: number;
  allowed: number;
  whileBanned: number;
  stale: number;
  bansRequested: number;
}

export class Jail {
  readonly name: string;
  private config: JailConfig;
  private filter: CompiledFilter;
  readonly window: FailureWindow;
  readonly stats: JailStats = { lines: 0, failures: 0, allowed: 0, whileBanned: 0, stale: 0, bansRequested: 0 };

  constructor(config: JailConfig, private allow: AllowList, private readonly hooks: JailHooks, private readonly dates: DateParser, private readonly now: () => number = Date.now) {
    this.name = config.name;
    this.config = config;
    this.filter = new CompiledFilter(loadFilter(config.filter), { mode: config.mode, dates });
    this.window = new FailureWindow(config.maxretry, config.findtime * 1000, (key) => hooks.storedEvidence?.(this.name, key) ?? []);
  }

  get settings(): JailConfig {
    return this.config;
  }

  filterCounts(): CompiledFilter['counts'] {
    return this.filter.counts;
  }

  /** Applies a reloaded configuration, keeping the counts gathered so far. */
  reconfigure(config: JailConfig, allow: AllowList): void {
    if (config.filter !== this.config.filter || config.mode !== this.config.mode) {
      this.filter = new CompiledFilter(loadFilter(config.filter), { mode: config.mode, dates: this.dates });
    }
    this.window.configure(config.maxretry, config.findtime * 1000);
    this.config = config;
    this.allow = allow;
  }

  /** Failure times per key from the state store (start-up); their evidence stays in the store. */
  restore(entries: ReadonlyArray<[string, readonly number[]]>): void {
    for (const [key, times] of entries) this.window.restore(key, times);
  }

  process(batch: LineBatch): void {
    const { lines, times, readAt } = batch;
    const filter = this.filter;
    // Failures older than findtime (a backfilled or replayed log) cannot make a ban now.
    const oldest = this.now() - this.config.findtime * 1000;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (filter.match(line, readAt, times?.[i]) !== 'detected') continue;
      const d = filter.last as Detection;
      if (d.action === 'success') {
        this.hooks.onSuccess?.(this.name, d, line);
        continue;
      }
      this.stats.failures += d.count;
      if (this.allow.reason(d.address) !== undefined) {
        this.stats.allowed += d.count;
        continue;
      }
      const target = banTarget(d.address, this.config.ipv6Prefix);
      if (this.hooks.isBanned(target)) {
        this.stats.whileBanned += d.count;
        this.hooks.onBannedAttempt?.(target, d.time, d.count);
        continue;
      }
      if (d.time < oldest) {
        this.stats.stale += d.count;
        continue;
      }
      const entry = this.window.add(target, d.time, d.count, line);
      if (!entry) continue;
      this.window.clear(target);
      this.stats.bansRequested++;
      this.hooks.requestBan({
        jail: this.name, target, family: d.address.family, address: d.address.text,
        failures: entry.times.length, firstFailure: entry.times[0] as number, lastFailure: entry.times[entry.times.length - 1] as number,
        evidence: entry.evidence, rule: d.rule,
      });
    }
    this.stats.lines += lines.length;
  }
}
