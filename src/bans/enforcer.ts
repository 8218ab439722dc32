import type { Config, JailConfig } from '../config/schema.js';
import type { BanRequest } from '../jails/jail.js';
import type { LockoutGuard } from '../jails/guard.js';
import { formatDuration, humanDuration } from '../util/duration.js';
import { parseCidr, type Cidr } from '../util/ip.js';
import type { Logger } from '../util/log.js';
import type { BanManager } from './manager.js';
import { decide } from './policy.js';
import type { BanRecord, StateStore } from './store.js';

/**
 * Turns a jail's "this address reached maxretry" into a ban: asks the lockout guard first, then
 * the policy (escalation ladder, repeat offenders) how long, records the offence for `warden
 * review`, and hands the ban to the manager.
 */
export interface GuardVeto {
  readonly at: number;
  readonly target: string;
  readonly jail: string;
  readonly why: string;
}

const MAX_VETOES_SHOWN = 20;
const VETO_EVENT_INTERVAL_MS = 10 * 60_000;

export class Enforcer {
  /** The latest would-be bans the guard stopped, newest last (shown in `warden status`). */
  readonly vetoes: GuardVeto[] = [];
  private readonly lastVetoEvent = new Map<string, number>();

  constructor(
    private config: Config,
    private readonly store: StateStore,
    private readonly bans: BanManager,
    private readonly guard: LockoutGuard,
    /** Why a range may not be banned whole (allow-list, own addresses), or undefined. */
    private readonly allowOverlap: (range: Cidr) => string | undefined,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  reconfigure(config: Config): void {
    this.config = config;
  }

  onBanRequest(asked: BanRequest, jail: JailConfig): BanRecord | undefined {
    const now = this.now();
    const request = this.narrow(asked);
    const veto = this.guard.reason(request.target);
    if (veto) {
      this.vetoes.push({ at: now, target: request.target, jail: request.jail, why: veto });
      if (this.vetoes.length > MAX_VETOES_SHOWN) this.vetoes.shift();
      const message = `lockout guard: not banning ${request.target} (${request.failures} failures in ${request.jail}): ${veto}`;
      this.log.warn(message);
      // One stored event per address per interval: a typo-prone admin must not flood the record.
      const last = this.lastVetoEvent.get(request.target);
      if (last === undefined || now - last > VETO_EVENT_INTERVAL_MS) {
        this.lastVetoEvent.set(request.target, now);
        this.store.addEvent(now, 'warning', 'guard-veto', request.target, message, { jail: request.jail, evidence: request.evidence });
      }
      return undefined;
    }
    const decision = decide({
      bantime: jail.bantime,
      escalation: jail.escalation,
      recidive: this.config.recidive,
      earlierInLookback: this.store.countBansSince(request.target, now - jail.escalation.lookback * 1000),
      earlierInRecidiveWindow: this.config.recidive.enabled ? this.store.countBansSince(request.target, now - this.config.recidive.window * 1000) : 0,
    });
    const until = decision.seconds === null ? null : now + decision.seconds * 1000;
    const reason = `${request.failures} failures in ${formatDuration(jail.findtime)} (${request.rule}); ${decision.why}`;
    const ban = this.bans.ban({
      target: request.target, family: request.family, jail: decision.recidive ? `${request.jail}+recidive` : request.jail,
      since: now, until, reason, evidence: request.evidence, origin: 'auto',
    });
    this.store.recordOffence(request.target, request.firstFailure, request.lastFailure, request.failures);
    this.log.warn(`ban ${request.target} in ${request.jail} ${until === null ? 'permanently' : `for ${humanDuration(decision.seconds as number)}`}: ${reason}`);
    if (until === null) {
      this.store.addEvent(now, 'info', 'permanent-ban', request.target, `${request.target} banned permanently: ${reason}`, { jail: request.jail });
    }
    return ban;
  }

  /**
   * An IPv6 prefix ban that would also cover an allow-listed or own address, or one protected by
   * the lockout guard, becomes a ban of the failing address alone: the attacker is still stopped
   * and its innocent neighbours are not.
   */
  private narrow(request: BanRequest): BanRequest {
    if (request.target === request.address) return request;
    const range = parseCidr(request.target);
    const why = range ? this.allowOverlap(range) ?? this.guard.reason(request.target) : undefined;
    if (!why) return request;
    this.log.info(`banning ${request.address} alone rather than ${request.target}: ${why}`);
    return { ...request, target: request.address };
  }

  /**
   * Lifts permanent bans of addresses that have not tried again for `permanent_expiry`: a dynamic
   * address may have passed to an innocent user since.
   */
  expirePermanent(): void {
    const expiry = this.config.permanentExpiry;
    if (expiry === null) return;
    const now = this.now();
    // One query for the stale ones (not one offender lookup per permanent ban: there may be 100,000).
    for (const { target, lastSeen } of this.store.stalePermanentBans(now - expiry * 1000)) {
      if (!this.bans.isBanned(target)) continue;
      this.bans.unban(target, 'expiry:permanent_expiry');
      const message = `permanent ban of ${target} lifted: no attempt for ${humanDuration((now - lastSeen) / 1000)} (permanent_expiry ${formatDuration(expiry)})`;
      this.log.warn(message);
      this.store.addEvent(now, 'info', 'permanent-expired', target, message);
    }
  }
}
