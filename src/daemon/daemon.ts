import { hostname } from 'node:os';
import { loadConfigFile, loadDefaultConfig } from '../config/load.js';
import type { Config, JailConfig } from '../config/schema.js';
import type { BanManager } from '../bans/manager.js';
import type { StateStore, BanRecord, EventRecord } from '../bans/store.js';
import { AllowList, resolveAllowNames } from '../jails/allow.js';
import { LockoutGuard } from '../jails/guard.js';
import { Enforcer } from '../bans/enforcer.js';
import { CompromiseWatch } from '../events/compromise.js';
import { Jail, type BanRequest } from '../jails/jail.js';
import { DateParser } from '../filters/dates.js';
import type { Detection } from '../filters/engine.js';
import type { LogSource } from '../sources/source.js';
import type { Request, BanView, ReviewView } from '../control/protocol.js';
import { escalatedSeconds } from '../bans/policy.js';
import { ControlServer } from '../control/server.js';
import { canonicalAddress, parseCidr, type Address, type Cidr } from '../util/ip.js';
import { formatDuration, humanDuration } from '../util/duration.js';
import type { Logger } from '../util/log.js';
import { createSource, sourceKey } from './sources.js';
import { startProtection, type Protection } from './protection.js';

/**
 * The daemon: wires sources -> jails -> ban manager -> firewall, and serves the control socket.
 *
 * Sources are shared: jails that read the same log get the same batches from one reader. Each
 * batch is processed synchronously by every jail listening to it, so counting never races with
 * itself; the only asynchronous step after detection is the kernel update, which the ban manager
 * batches.
 */
export interface DaemonOptions {
  readonly config: Config;
  /** The file to re-read on reload; undefined = the embedded default. */
  readonly configPath: string | undefined;
  readonly log: Logger;
  readonly now?: () => number;
  /** The database, ban manager and kernel restore, when the caller started them early (`warden run`). */
  readonly protection?: Protection;
  /** The allow list's host names, resolved (resolveAllowNames), when the caller did it before `protection`. */
  readonly allowNames?: Map<string, string[]>;
}

interface RunningSource {
  readonly key: string;
  readonly source: LogSource;
  readonly jails: Set<Jail>;
  readonly done: Promise<void>;
}

const CHECKPOINT_MS = 1000;
const SWEEP_MS = 1000;
const EXPIRE_WINDOWS_MS = 60_000;
const RECONCILE_MS = 60_000;
const EXPIRY_LINES = 20;
export const VERSION = '0.1.0';

export class Daemon {
  private config: Config;
  private readonly configPath: string | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly store: StateStore;
  private readonly bans: BanManager;
  /** The kernel restore started with the ban manager (see Protection). */
  private readonly restored: Promise<void>;
  private readonly dates: DateParser;
  private allow: AllowList;
  private readonly jails = new Map<string, Jail>();
  private readonly sources = new Map<string, RunningSource>();
  private readonly control: ControlServer;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly startedAt: number;
  private lastReload: { at: number; ok: boolean; message: string } | undefined;
  private stopping = false;
  private reconcileTicks = 0;
  private readonly guard: LockoutGuard;
  private readonly enforcer: Enforcer;
  private readonly compromise: CompromiseWatch;
  /** Failures from banned targets since the last checkpoint (for `warden review`). */
  private bannedAttempts = new Map<string, { count: number; last: number }>();

  /**
   * Opens the state database, picks the firewall backend and starts the kernel restore (unless
   * the caller did: DaemonOptions.protection); `start()` then begins reading the logs.
   */
  static async create(options: DaemonOptions): Promise<Daemon> {
    // Names first: one that does not resolve is a configuration error, and then nothing starts.
    const allowNames = options.allowNames ?? await resolveAllowNames(options.config.allowNames);
    const protection = options.protection ?? await startProtection(options);
    return new Daemon(options, protection, allowNames);
  }

  private constructor(options: DaemonOptions, protection: Protection, allowNames: Map<string, string[]>) {
    this.config = options.config;
    this.configPath = options.configPath;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.store = protection.store;
    this.bans = protection.bans;
    this.restored = protection.restored;
    this.dates = new DateParser({ timezone: this.config.timezone });
    this.allow = new AllowList(this.config.allow, allowNames);
    this.guard = new LockoutGuard(this.config.guard, this.store, this.now);
    this.enforcer = new Enforcer(this.config, this.store, this.bans, this.guard, (range) => this.allow.overlapReason(range), this.log, this.now);
    this.compromise = new CompromiseWatch(this.store, {
      hasRecentFailures: (target) => [...this.jails.values()].some((j) => j.window.count(target) > 0),
      isBanned: (target) => this.bans.isBanned(target),
    }, this.log, this.now);
    this.compromise.onLogin = (method) => {
      if (method === 'publickey') this.guard.loginRecorded();
    };
    this.control = new ControlServer(this.config.socket, (r) => this.handle(r), this.log);
  }

  /**
   * The open bans were loaded and their kernel restore started by create(); jails, sources and
   * the control socket are set up while `nft` works (the socket then answers with state
   * "restoring"). Jails may ban during the restore: the manager queues those batches behind it.
   */
  async start(): Promise<void> {
    this.log.info(`warden ${VERSION} starting: config ${this.config.origin}, firewall ${this.bans.firewallHealth().kind}, ${this.bans.isRestoring ? 'restoring' : 'restored'} ${this.bans.count()} open bans`);
    for (const jc of this.config.jails) if (jc.enabled) this.addJail(jc);
    this.startSources();
    await this.sourcesSettled();
    await this.control.listen();
    await this.restored;
    this.timers.push(setInterval(() => this.checkpoint(), CHECKPOINT_MS));
    this.timers.push(setInterval(() => this.sweep(), SWEEP_MS));
    // Something else may flush the kernel sets (a firewall reload, an admin): compare and repair
    // now and then. Listing a very large set costs seconds of nft time, so big sets are checked less often.
    this.timers.push(setInterval(() => {
      if (this.bans.count() <= 10_000 || ++this.reconcileTicks % 10 === 0) void this.bans.verify();
    }, RECONCILE_MS));
    this.timers.push(setInterval(() => {
      for (const jail of this.jails.values()) jail.window.expire(this.now());
      this.allow.refreshSelf();
      this.enforcer.expirePermanent();
    }, EXPIRE_WINDOWS_MS));
    this.enforcer.expirePermanent();
    for (const t of this.timers) t.unref();
    this.log.info(`listening on ${this.config.socket}; jails: ${[...this.jails.keys()].join(', ') || 'none'}`);
  }

  /** Stops reading, writes the last checkpoint, leaves the kernel bans in place (they have timeouts). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.control.close();
    await Promise.all([...this.sources.values()].map(async (s) => {
      await s.source.stop();
      await s.done;
    }));
    this.checkpoint();
    await this.bans.flush();
    this.bans.stop();
    this.store.close();
    this.log.info('stopped');
  }

  // ------------------------------------------------------------------ pipeline

  private addJail(config: JailConfig): Jail {
    const jail = new Jail(config, this.allow, {
      isBanned: (target) => this.bans.isBanned(target),
      requestBan: (request) => this.onBanRequest(request),
      onBannedAttempt: (target, time, count) => {
        const seen = this.bannedAttempts.get(target);
        if (seen) {
          seen.count += count;
          seen.last = Math.max(seen.last, time);
        } else this.bannedAttempts.set(target, { count, last: time });
      },
      onSuccess: (name, d, line) => this.compromise.onSuccess(name, d, line, this.jails.get(name)?.settings.ipv6Prefix ?? 64),
      storedEvidence: (jail, key) => this.store.failureEvidence(jail, key),
    }, this.dates, this.now);
    jail.restore(this.store.loadFailures(config.name));
    this.jails.set(config.name, jail);
    return jail;
  }

  /** Starts a reader for every source some enabled jail needs; stops readers no jail needs. */
  private startSources(): void {
    const wanted = new Map<string, { config: Jail['settings']['sources'][number]; jails: Jail[] }>();
    for (const jail of this.jails.values()) {
      for (const sc of jail.settings.sources) {
        const key = sourceKey(sc);
        const entry = wanted.get(key) ?? { config: sc, jails: [] };
        entry.jails.push(jail);
        wanted.set(key, entry);
      }
    }
    for (const [key, running] of this.sources) {
      if (!wanted.has(key)) {
        this.sources.delete(key);
        void running.source.stop();
      }
    }
    for (const [key, { config, jails }] of wanted) {
      const running = this.sources.get(key);
      if (running) {
        running.jails.clear();
        for (const j of jails) running.jails.add(j);
        continue;
      }
      const source = createSource(config, this.store);
      const set = new Set(jails);
      this.sources.set(key, { key, source, jails: set, done: this.pump(source, set) });
    }
  }

  /**
   * Waits (briefly) until every reader has found its starting point. A new log is read from its
   * end: lines written after start() returns must count, so start() returns only once "the end" is
   * fixed.
   */
  private async sourcesSettled(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.sources.values()].some((s) => s.source.health().state === 'starting') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async pump(source: LogSource, jails: Set<Jail>): Promise<void> {
    try {
      for await (const batch of source.batches()) {
        this.store.inTransaction(() => {
          for (const jail of jails) {
            try {
              jail.process(batch);
            } catch (e) {
              // A bug in one jail must not stop the others or the reader.
              this.log.error(`jail ${jail.name}: ${(e as Error).stack ?? String(e)}`);
            }
          }
        });
      }
    } catch (e) {
      this.log.error(`source ${source.name} stopped: ${(e as Error).message}`);
    }
  }

  private onBanRequest(request: BanRequest): void {
    const jail = this.jails.get(request.jail);
    if (jail) this.enforcer.onBanRequest(request, jail.settings);
  }

  private checkpoint(): void {
    try {
      const attempts = this.bannedAttempts;
      this.bannedAttempts = new Map();
      this.store.checkpoint([...this.jails.values()].map((j) => ({ jail: j.name, entries: j.window.takeDirty() })), attempts);
    } catch (e) {
      this.log.error(`state checkpoint failed: ${(e as Error).message}`);
    }
  }

  private sweep(): void {
    // One line per expiry, up to a point: 100,000 bans of one wave expire in the same second.
    const expired = this.bans.sweep();
    for (const { target } of expired.slice(0, EXPIRY_LINES)) this.log.info(`ban of ${target} (${this.store.latestBan(target)?.jail ?? '?'}) expired`);
    if (expired.length > EXPIRY_LINES) this.log.info(`... and ${expired.length - EXPIRY_LINES} more bans expired`);
    // A log that disappears or becomes unreadable is said once in the log (and shown in status
    // for as long as it lasts), and so is its recovery.
    for (const running of this.sources.values()) {
      const h = running.source.health();
      const before = this.sourceErrors.get(running.key);
      if (h.error !== undefined && h.error !== before) this.log.error(`source ${h.name}: ${h.error}`);
      if (h.error === undefined && before !== undefined) this.log.info(`source ${h.name}: reading again (${h.state})`);
      if (h.error === undefined) this.sourceErrors.delete(running.key);
      else this.sourceErrors.set(running.key, h.error);
    }
  }

  private readonly sourceErrors = new Map<string, string>();

  // ------------------------------------------------------------------ control

  async handle(request: Request): Promise<unknown> {
    switch (request.cmd) {
      case 'status': return this.status();
      case 'bans': return this.bans.list().map((b) => banView(b, this.now()));
      case 'review': return this.review();
      case 'ban': return this.manualBan(request);
      case 'unban': return this.manualUnban(request);
      case 'reload': return this.reload(request.rebase === true);
      default: throw new Error(`unknown command ${(request as { cmd: string }).cmd}`);
    }
  }

  private manualBan(request: Extract<Request, { cmd: 'ban' }>): BanView {
    const { cidr, single, target } = manualTarget(request.ip);
    if (single) {
      const why = this.allow.reason(single);
      if (why) throw new Error(`${target} is exempt from bans (${why}); remove it from allow first`);
    } else {
      const why = this.allow.overlapReason(cidr);
      if (why && !request.force) throw new Error(`refusing to ban ${target}: ${why} (use --force to ban the range anyway)`);
    }
    const caller = request.callerAddress ? canonicalAddress(request.callerAddress) : undefined;
    if (caller && cidr.contains(caller) && !request.force) {
      throw new Error(`refusing to ban ${target}: you are connected from ${caller.text} and would lock yourself out (use --force to ban anyway)`);
    }
    const jailName = request.jail ?? 'manual';
    const now = this.now();
    const seconds = request.seconds === undefined ? 86_400 : request.seconds;
    const ban = this.bans.ban({
      target, family: cidr.family, jail: jailName, since: now, until: seconds === null ? null : now + seconds * 1000,
      reason: request.reason ?? `manual ban by ${request.by}`, evidence: [], origin: 'manual',
    });
    this.log.warn(`ban ${target} (${jailName}) by ${request.by} ${seconds === null ? 'permanently' : `for ${humanDuration(seconds)}`}`);
    return banView(ban, now);
  }

  private manualUnban(request: Extract<Request, { cmd: 'unban' }>): { ip: string; unbanned: boolean } {
    const { target } = manualTarget(request.ip);
    const unbanned = this.bans.unban(target, request.by);
    for (const jail of this.jails.values()) jail.window.clear(target);
    if (unbanned) this.log.warn(`unban ${target} by ${request.by}`);
    return { ip: target, unbanned };
  }

  /** Permanent bans with their evidence, for deciding whether each is still deserved. */
  private review(): ReviewView[] {
    const now = this.now();
    const iso = (ms: number | null | undefined): string | null => (ms ? new Date(ms).toISOString() : null);
    return this.bans.list().filter((b) => b.until === null).map((b) => {
      const o = this.store.offender(b.target);
      return {
        ...banView(b, now),
        firstFailure: iso(o?.firstFailure), lastFailure: iso(o?.lastFailure), failures: o?.failures ?? 0, bans: o?.bans ?? 0,
        attemptsWhileBanned: o?.attemptsWhileBanned ?? 0, lastAttempt: iso(o?.lastAttempt),
      };
    });
  }

  private async reload(rebase: boolean): Promise<{ ok: true; jails: string[]; origin: string; rebased: number }> {
    let next: Config;
    let allow: AllowList;
    try {
      next = this.configPath ? loadConfigFile(this.configPath) : loadDefaultConfig();
      allow = new AllowList(next.allow, await resolveAllowNames(next.allowNames));
    } catch (e) {
      this.lastReload = { at: this.now(), ok: false, message: (e as Error).message };
      this.log.error(`reload refused, configuration unchanged: ${(e as Error).message}`);
      throw e;
    }
    const warnings: string[] = [];
    if (next.stateDir !== this.config.stateDir) warnings.push('state_dir');
    if (next.socket !== this.config.socket) warnings.push('socket');
    if (JSON.stringify(next.firewall) !== JSON.stringify(this.config.firewall)) warnings.push('firewall');
    this.allow = allow;
    const enabled = new Map(next.jails.filter((j) => j.enabled).map((j) => [j.name, j]));
    for (const [name, jail] of this.jails) {
      if (!enabled.has(name)) this.jails.delete(name);
      else jail.reconfigure(enabled.get(name) as JailConfig, this.allow);
    }
    for (const [name, jc] of enabled) if (!this.jails.has(name)) this.addJail(jc);
    this.bans.setBatchWindow(next.batchWindowMs);
    this.config = { ...next, stateDir: this.config.stateDir, socket: this.config.socket, firewall: this.config.firewall };
    this.guard.reconfigure(this.config.guard);
    this.enforcer.reconfigure(this.config);
    this.startSources();
    // Bans already applied keep their end unless asked: a shorter bantime is for new bans.
    const rebased = rebase ? this.rebase() : 0;
    const note = warnings.length ? ` (${warnings.join(', ')} changes need a restart)` : '';
    this.lastReload = { at: this.now(), ok: true, message: `reloaded${note}` };
    this.log.info(`configuration reloaded from ${next.origin}; jails: ${[...this.jails.keys()].join(', ')}${note}`);
    return { ok: true, jails: [...this.jails.keys()], origin: next.origin, rebased };
  }

  /** Shortens automatic bans that outlast what the current jail settings would give them now. */
  private rebase(): number {
    let changed = 0;
    for (const ban of this.bans.list()) {
      const jail = this.jails.get(ban.jail.replace(/\+recidive$/, ''));
      if (!jail || ban.origin !== 'auto' || ban.jail.endsWith('+recidive')) continue;
      const s = jail.settings;
      const earlier = this.store.countBansSince(ban.target, ban.since - s.escalation.lookback * 1000) - 1;
      const seconds = escalatedSeconds(s.bantime, s.escalation, Math.max(1, earlier + 1));
      const until = seconds === null ? null : ban.since + seconds * 1000;
      if (until !== null && (ban.until === null || until < ban.until)) {
        if (this.bans.shorten(ban.target, until)) changed++;
      }
    }
    if (changed) this.log.info(`reload --rebase: ${changed} bans shortened to the new settings`);
    return changed;
  }

  status(): object {
    const now = this.now();
    const open = this.bans.counts();
    const warnings: string[] = [];
    const fw = this.bans.firewallHealth();
    if (fw.lastError) warnings.push(`firewall: ${fw.lastError}`);
    const jails = [...this.jails.values()].map((j) => {
      const sources = [...this.sources.values()].filter((s) => s.jails.has(j)).map((s) => s.source.health());
      for (const s of sources) if (s.error) warnings.push(`jail ${j.name}: source ${s.name}: ${s.error}`);
      return {
        name: j.name, filter: j.settings.filter, mode: j.settings.mode,
        maxretry: j.settings.maxretry, findtime: j.settings.findtime, bantime: j.settings.bantime,
        sources, counts: { ...j.stats, tracked: j.window.size, filter: j.filterCounts() },
        banned: open.byJail.get(j.name) ?? 0,
      };
    });
    if (this.lastReload && !this.lastReload.ok) warnings.push(`last reload failed: ${this.lastReload.message}`);
    for (const v of this.enforcer.vetoes) {
      warnings.push(`${new Date(v.at).toISOString()} lockout guard kept ${v.target} unbanned in ${v.jail}: ${v.why}`);
    }
    return {
      version: VERSION, state: this.bans.isRestoring ? 'restoring' : 'running', pid: process.pid, host: hostname(), startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - this.startedAt) / 1000), config: this.config.origin,
      stateDb: this.store.path,
      firewall: fw, allow: this.allow.entries, allowNames: Object.fromEntries(this.allow.names), ownAddresses: this.allow.ownAddresses,
      guard: { ...this.config.guard, vetoes: this.enforcer.vetoes.map((v) => ({ ...v, at: new Date(v.at).toISOString() })) },
      bans: { active: open.active, permanent: open.permanent },
      jails, warnings, lastReload: this.lastReload ?? null,
      // The newest events, plus every critical one of the last week: a compromise alert must not
      // scroll out of view behind routine events.
      events: mergeEvents(this.store.criticalEventsSince(now - 7 * 86_400_000), this.store.recentEvents(10))
        .map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    };
  }
}

/**
 * The ban target an admin typed: a single address (canonical spelling) or a range; `single` is
 * set only when the text names exactly one address.
 */
function manualTarget(ip: string): { cidr: Cidr; single: Address | undefined; target: string } {
  const cidr = parseCidr(ip);
  if (!cidr) throw new Error(`"${ip}" is not an IP address or CIDR range`);
  const whole = cidr.prefix === (cidr.family === 4 ? 32 : 128);
  const single = whole ? canonicalAddress(ip.split('/')[0] as string) : undefined;
  return { cidr, single, target: single ? single.text : cidr.text };
}

function mergeEvents(a: readonly EventRecord[], b: readonly EventRecord[]): EventRecord[] {
  const byId = new Map([...a, ...b].map((e) => [e.id, e]));
  return [...byId.values()].sort((x, y) => y.id - x.id);
}

export function banView(b: BanRecord, now: number): BanView {
  return {
    ip: b.target, jail: b.jail, since: new Date(b.since).toISOString(),
    until: b.until === null ? null : new Date(b.until).toISOString(), permanent: b.until === null,
    remaining: b.until === null ? null : Math.max(0, Math.round((b.until - now) / 1000)),
    reason: b.reason, origin: b.origin, evidence: b.evidence,
  };
}
