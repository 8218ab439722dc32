import type { GuardConfig } from '../config/schema.js';
import type { StateStore } from '../bans/store.js';
import { canonicalAddress, parseCidr } from '../util/ip.js';
import { authenticatedSshAddresses } from './sessions.js';
import { utmpSessionAddresses } from './utmp-sessions.js';

/**
 * The lockout guard: before an automatic ban, check that the address is not one of ours. An
 * address is protected when it holds a logged-in session on this machine right now (utmp, or an
 * authenticated sshd connection) or completed a public-key login within `recent`. The trade-off:
 * an attacker who already logged in is not stopped by a ban anyway (and the compromise alert
 * covers that case), while a ban of the admin's own address is the failure people fear most.
 *
 * Live sessions are read at most every CACHE_MS, so a flood of ban decisions costs one /proc scan.
 */
const CACHE_MS = 2000;

export class LockoutGuard {
  private live: { at: number; addresses: Set<string> } | undefined;
  private logins: { at: number; rows: ReturnType<StateStore['loginsSince']> } | undefined;

  constructor(
    private config: GuardConfig,
    private readonly store: StateStore,
    private readonly now: () => number = Date.now,
    private readonly procRoot = '/proc',
  ) {}

  reconfigure(config: GuardConfig): void {
    this.config = config;
    this.live = undefined;
    this.logins = undefined;
  }

  /**
   * Why `target` (an address or a prefix) must not be banned automatically, or undefined. For a
   * prefix, this says whether any protected address is inside it.
   */
  reason(target: string): string | undefined {
    if (!this.config.enabled) return undefined;
    const range = parseCidr(target);
    if (!range) return undefined;
    for (const address of this.liveAddresses()) {
      const a = canonicalAddress(address);
      if (a && range.contains(a)) return `${address} has a logged-in session on this machine`;
    }
    for (const login of this.recentKeyLogins()) {
      const a = canonicalAddress(login.address);
      if (a && range.contains(a)) {
        return `${login.address} logged in as ${login.user} with a key at ${new Date(login.at).toISOString()}`;
      }
    }
    return undefined;
  }

  private recentKeyLogins(): ReturnType<StateStore['loginsSince']> {
    const now = this.now();
    if (this.logins && now - this.logins.at < CACHE_MS) return this.logins.rows;
    const rows = this.store.loginsSince(now - this.config.recent * 1000, 'publickey');
    this.logins = { at: now, rows };
    return rows;
  }

  /** A key login just recorded must protect at once, not after the cache expires. */
  loginRecorded(): void {
    this.logins = undefined;
  }

  private liveAddresses(): Set<string> {
    const now = this.now();
    if (this.live && now - this.live.at < CACHE_MS) return this.live.addresses;
    const addresses = new Set([...utmpSessionAddresses(this.config.utmp), ...authenticatedSshAddresses(this.procRoot)]);
    this.live = { at: now, addresses };
    return addresses;
  }
}
