import { canonicalTarget } from '../firewall/address.js';
import { targetFamily, type Firewall, type FirewallElement, type KernelElement, type OpenBans } from '../firewall/firewall.js';
import type { Logger } from '../util/log.js';
import type { BanRecord, NewBan, OpenBanCounts, OpenBanLists, StateStore } from './store.js';

/**
 * Keeps the kernel in step with the bans recorded in the state database.
 *
 * Every change is written to the database first, then queued for the kernel. Changes arriving
 * within `batchWindowMs` go out as one firewall transaction (one `nft -f -`), so an attack wave
 * or a restart with thousands of bans costs one process, not thousands. When the firewall fails,
 * nothing is lost: the error is kept for `warden status`, and a full reconcile from the database
 * is retried with backoff until it succeeds.
 *
 * In memory it keeps only target → end of each open ban (what the kernel must hold and what the
 * jails ask on every failure); full records are read from the database when a command needs them.
 * On start the kernel sets are replaced in one transaction (Firewall.restore) rather than listed
 * and compared, which for 100,000 bans is the difference between seconds and well under one.
 */
export interface BanManagerOptions {
  readonly store: StateStore;
  readonly firewall: Firewall;
  readonly log: Logger;
  readonly batchWindowMs: number;
  readonly now?: () => number;
}

export interface FirewallHealth {
  readonly kind: string;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
  readonly pending: number;
  readonly lastApplyMs: number | null;
  readonly batchesApplied: number;
}

const MAX_RETRY_MS = 30_000;

export class BanManager {
  private readonly store: StateStore;
  private readonly firewall: Firewall;
  private readonly log: Logger;
  private readonly now: () => number;
  /** Open bans, target → end (epoch ms; null = permanent): what the kernel should hold. */
  private active = new Map<string, number | null>();
  private readonly pendingAdd = new Map<string, FirewallElement>();
  private readonly pendingRemove = new Map<string, FirewallElement>();
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 1000;
  private flushing: Promise<void> = Promise.resolve();
  private needsReconcile = false;
  private batchWindowMs: number;
  private health = { lastError: null as string | null, lastErrorAt: null as number | null, lastApplyMs: null as number | null, batchesApplied: 0 };
  /** True from start() until the kernel holds the restored bans (or the attempt failed). */
  private restoring = false;
  /**
   * counts() as last read, until a ban changes: `warden status` is polled (tests, monitoring) and
   * counting 100,000 rows per jail costs tens of ms each time. An expiry is noticed by the next
   * sweep (every second).
   */
  private countsCache: OpenBanCounts | undefined;

  constructor(options: BanManagerOptions) {
    this.store = options.store;
    this.firewall = options.firewall;
    this.log = options.log;
    this.batchWindowMs = options.batchWindowMs;
    this.now = options.now ?? Date.now;
  }

  setBatchWindow(ms: number): void {
    this.batchWindowMs = ms;
  }

  /**
   * Loads open bans from the database (synchronously: when this returns a promise, isBanned and
   * ban() already know every open ban) and makes the kernel match them. Called once, first: bans
   * and unbans made while the restore runs are queued behind it, never lost.
   *
   * The order is for start-up time: the kernel work is started first (a backend with restore()
   * writes its input and starts `nft` before its first await, see NftablesFirewall.restore), and
   * the in-memory index is built while `nft` runs (for 100,000 bans 60-150 ms; nft takes 0.4-0.65 s).
   */
  start(): Promise<void> {
    const now = this.now();
    const open = this.store.openBanLists(now);
    this.countsCache = undefined;
    this.restoring = true;
    this.pendingAdd.clear();
    this.pendingRemove.clear();
    const kernel = this.restore(open, now);
    this.active = indexOf(open);
    this.flushing = kernel.catch((e: unknown) => {
      this.recordError(e);
      this.dropInvalidTargets();
      this.needsReconcile = true;
      this.scheduleRetry();
    }).finally(() => {
      this.restoring = false;
    });
    return this.flushing;
  }

  /** Whether start() is still putting the open bans into the kernel. */
  get isRestoring(): boolean {
    return this.restoring;
  }

  isBanned(target: string): boolean {
    const until = this.active.get(target);
    return until !== undefined && (until === null || until > this.now());
  }

  /** The open ban of a target, read from the database. */
  get(target: string): BanRecord | undefined {
    return this.isBanned(target) ? this.store.openBan(target, this.now()) : undefined;
  }

  /** Every open ban, oldest first, read from the database (commands; not for hot paths). */
  list(): BanRecord[] {
    return this.store.openBans(this.now());
  }

  /** How many bans are open (cheap: no records are read). */
  count(): number {
    const now = this.now();
    let n = 0;
    for (const until of this.active.values()) if (until === null || until > now) n++;
    return n;
  }

  /** Open bans in total, permanent, and per jail (from the database, cached until a ban changes). */
  counts(): OpenBanCounts {
    this.countsCache ??= this.store.openBanCounts(this.now());
    return this.countsCache;
  }

  /**
   * Records a ban and queues it for the kernel. An address that is already banned keeps one
   * record; its end moves later when the new ban is longer (never earlier).
   */
  ban(request: NewBan): BanRecord {
    const existing = this.get(request.target);
    if (existing) {
      const longer = existing.until !== null && (request.until === null || request.until > existing.until);
      if (!longer) return existing;
      this.store.setBanUntil(existing.id, request.until);
      this.countsCache = undefined;
      const updated = withUntil(existing, request.until);
      this.active.set(request.target, updated.until);
      this.queueAdd(updated);
      return updated;
    }
    const record = this.store.addBan(request);
    this.countsCache = undefined;
    this.active.set(record.target, record.until);
    this.queueAdd(record);
    return record;
  }

  /** Lifts a ban (manual unban). Returns false when the target was not banned. */
  unban(target: string, by: string): boolean {
    const ban = this.get(target);
    const lifted = this.store.liftBan(target, this.now(), by);
    if (!ban && lifted === 0) return false;
    this.countsCache = undefined;
    this.active.delete(target);
    const element: FirewallElement = { target, family: ban?.family ?? targetFamily(target), timeoutSeconds: null };
    this.pendingAdd.delete(target);
    this.pendingRemove.set(target, element);
    this.scheduleFlush();
    return true;
  }

  /** Moves the end of an open ban earlier (reload --rebase). Returns false when not banned. */
  shorten(target: string, until: number): boolean {
    const ban = this.get(target);
    if (!ban || (ban.until !== null && ban.until <= until)) return false;
    this.store.setBanUntil(ban.id, until);
    this.countsCache = undefined;
    const updated = withUntil(ban, until);
    if (until <= this.now()) {
      this.unban(target, 'rebase');
      return true;
    }
    this.active.set(target, until);
    this.queueAdd(updated);
    // A permanent ban made temporary: a timed addition does not lower a permanent element
    // (Firewall.apply), so it is removed in the same batch (removals go first).
    if (ban.until === null) this.pendingRemove.set(target, { target, family: ban.family, timeoutSeconds: null });
    return true;
  }

  /**
   * Drops expired bans from memory (the kernel already removed them by timeout) and returns their
   * targets. No database read here: a wave of bans made together also expires together.
   */
  sweep(): Array<{ target: string; until: number }> {
    const now = this.now();
    const expired: Array<{ target: string; until: number }> = [];
    for (const [target, until] of this.active) {
      if (until !== null && until <= now) {
        this.active.delete(target);
        this.countsCache = undefined;
        expired.push({ target, until });
      }
    }
    return expired;
  }

  firewallHealth(): FirewallHealth {
    return { kind: this.firewall.kind, pending: this.pendingAdd.size + this.pendingRemove.size, ...this.health };
  }

  /** Waits until every queued change has reached the kernel (or failed). */
  async flush(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.applyPending());
    }
    await this.flushing;
  }

  /** Makes the kernel sets equal to the open bans: adds missing ones, removes strays. */
  async reconcile(): Promise<void> {
    const kernel: KernelElement[] = await this.firewall.list();
    const now = this.now();
    const inKernel = new Map(kernel.map((k) => [k.target, k]));
    const add: FirewallElement[] = [];
    const remove: FirewallElement[] = [];
    for (const want of this.openElements(now)) {
      const k = inKernel.get(want.target);
      // Re-add when missing, or when the kernel's timeout disagrees by more than a few seconds
      // (a permanent ban that the kernel holds with a timeout would otherwise silently lapse).
      if (!k || (k.expiresInSeconds === null) !== (want.timeoutSeconds === null) ||
        (want.timeoutSeconds !== null && k.expiresInSeconds !== null && Math.abs(k.expiresInSeconds - want.timeoutSeconds) > 5)) {
        add.push(want);
        // A timed addition does not lower a permanent element (Firewall.apply): remove it first.
        if (k && k.expiresInSeconds === null && want.timeoutSeconds !== null) remove.push({ ...want, timeoutSeconds: null });
      }
      inKernel.delete(want.target);
    }
    for (const stray of inKernel.values()) remove.push({ target: stray.target, family: stray.family, timeoutSeconds: null });
    this.pendingAdd.clear();
    this.pendingRemove.clear();
    if (add.length || remove.length) {
      const started = performance.now();
      await this.firewall.apply({ add, remove });
      this.health.lastApplyMs = performance.now() - started;
      this.health.batchesApplied++;
      this.log.info(`firewall reconciled: ${add.length} added, ${remove.length} removed (${this.health.lastApplyMs.toFixed(1)} ms)`);
    }
    this.clearError();
  }

  /**
   * Start-up: the kernel sets get exactly the open bans, in one transaction when the backend can
   * (Firewall.restore: no listing of what the kernel holds, which costs more than re-adding it);
   * otherwise init + reconcile (which reads `active`: set by start() before init() resolves).
   */
  private async restore(open: OpenBanLists, now: number): Promise<void> {
    const started = performance.now();
    if (this.firewall.restore) {
      await this.firewall.restore(openBans(open, now));
      this.health.lastApplyMs = performance.now() - started;
      this.health.batchesApplied++;
      this.log.info(`firewall restored: ${this.active.size} bans in the kernel (${this.health.lastApplyMs.toFixed(1)} ms)`);
    } else {
      await this.firewall.init();
      await this.reconcile();
    }
    this.clearError();
  }

  /**
   * After a failed restore: a row of the database that is not an address or prefix (damaged or
   * edited by hand; every write path stores canonical targets) makes the kernel refuse the whole
   * transaction, and every retry with it. Such targets leave the index, with an error that names
   * them, so the retry restores everything else.
   */
  private dropInvalidTargets(): void {
    for (const target of [...this.active.keys()]) {
      try {
        canonicalTarget(target);
      } catch {
        this.active.delete(target);
        this.log.error(`state database ${this.store.path}: ban target ${JSON.stringify(target.slice(0, 80))} is not an IP address or prefix; it is not enforced`);
      }
    }
  }

  /** Open bans as kernel elements, from memory. */
  private openElements(now: number): FirewallElement[] {
    const out: FirewallElement[] = [];
    for (const [target, until] of this.active) {
      if (until === null || until > now) out.push(toElement({ target, family: targetFamily(target), until }, now));
    }
    return out;
  }

  /** Periodic check: reconcile the kernel with the database, queued behind pending changes. */
  verify(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.needsReconcile) return this.retry();
      try {
        await this.reconcile();
      } catch (e) {
        this.recordError(e);
        this.needsReconcile = true;
        this.scheduleRetry();
      }
    });
    return this.flushing;
  }

  stop(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.flushTimer = this.retryTimer = undefined;
  }

  private queueAdd(ban: BanRecord): void {
    // A pending removal of the same target stays: removals go first, so the batch ends with this
    // addition's state either way, and the removal may be what lowers a permanent ban (shorten).
    this.pendingAdd.set(ban.target, toElement(ban, this.now()));
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.retryTimer) return; // a retry will reconcile everything anyway
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushing = this.flushing.then(() => this.applyPending());
    }, this.batchWindowMs);
  }

  private async applyPending(): Promise<void> {
    if (this.needsReconcile) return this.retry();
    if (!this.pendingAdd.size && !this.pendingRemove.size) return;
    const add = [...this.pendingAdd.values()];
    const remove = [...this.pendingRemove.values()];
    this.pendingAdd.clear();
    this.pendingRemove.clear();
    const started = performance.now();
    try {
      await this.firewall.apply({ add, remove });
      this.health.lastApplyMs = performance.now() - started;
      this.health.batchesApplied++;
      this.clearError();
    } catch (e) {
      this.recordError(e);
      this.needsReconcile = true;
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flushing = this.flushing.then(() => this.retry());
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
  }

  private async retry(): Promise<void> {
    try {
      await this.firewall.init();
      await this.reconcile();
      this.needsReconcile = false;
      this.retryDelay = 1000;
      this.log.info('firewall recovered; kernel sets match the database');
    } catch (e) {
      this.recordError(e);
      this.needsReconcile = true;
      this.scheduleRetry();
    }
  }

  private recordError(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (message !== this.health.lastError) this.log.error(`firewall: ${message} (bans stay recorded; retrying)`);
    this.health.lastError = message;
    this.health.lastErrorAt = this.now();
  }

  private clearError(): void {
    this.health.lastError = null;
    this.health.lastErrorAt = null;
  }
}

/** The in-memory index of open bans: target → end (epoch ms; null = permanent). */
function indexOf(open: OpenBanLists): Map<string, number | null> {
  const index = new Map<string, number | null>();
  if (open.permanent !== '') for (const target of open.permanent.split(' ')) index.set(target, null);
  // A timed target is never also permanent, nor listed twice (OpenBanLists).
  for (let i = 0; i < open.timed.length; i++) index.set(open.timed[i] as string, open.timedUntil[i] as number);
  return index;
}

/** The start-up restore's input, straight from the lists (no index lookups on the way to nft). */
function openBans(open: OpenBanLists, now: number): OpenBans {
  const timed = new Array<FirewallElement>(open.timed.length);
  for (let i = 0; i < open.timed.length; i++) {
    timed[i] = toElement({ target: open.timed[i] as string, family: targetFamily(open.timed[i] as string), until: open.timedUntil[i] as number }, now);
  }
  return { permanent: open.permanent, timed };
}

/** A copy of a ban with another end (`evidence` copied by name: see StoredBan). */
function withUntil(ban: BanRecord, until: number | null): BanRecord {
  return { ...ban, evidence: ban.evidence, until };
}

/** A ban as a kernel element, with the time it still has to run (at least 1 s). */
export function toElement(ban: Pick<BanRecord, 'target' | 'family' | 'until'>, now: number): FirewallElement {
  return {
    target: ban.target,
    family: ban.family,
    timeoutSeconds: ban.until === null ? null : Math.max(1, Math.ceil((ban.until - now) / 1000)),
  };
}
