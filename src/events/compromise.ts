import type { Detection } from '../filters/engine.js';
import type { StateStore } from '../bans/store.js';
import { banTarget } from '../util/ip.js';
import type { Logger } from '../util/log.js';

/**
 * Watches successful logins. Each one is remembered (the lockout guard trusts addresses that
 * logged in with a key recently), and two kinds raise a critical event, stored in the database
 * and shown by `warden status`: a login from an address that failed before (within findtime, or
 * that is or was banned) — a guessed password looks exactly like that — and any root login over
 * the network.
 */
export interface CompromiseContext {
  /** True when the target has failures counted in some jail's window right now. */
  hasRecentFailures(target: string): boolean;
  isBanned(target: string): boolean;
}

/** The same alert (address, user, kind) is raised at most once per interval. */
const ALERT_INTERVAL_MS = 3_600_000;

export class CompromiseWatch {
  private readonly raised = new Map<string, number>();
  /** Called after each recorded login (the guard refreshes what it trusts). */
  onLogin: ((method: string) => void) | undefined;

  private firstInInterval(key: string): boolean {
    const now = this.now();
    const last = this.raised.get(key);
    if (last !== undefined && now - last < ALERT_INTERVAL_MS) return false;
    if (this.raised.size >= 10_000) this.raised.clear();
    this.raised.set(key, now);
    return true;
  }

  constructor(
    private readonly store: StateStore,
    private readonly context: CompromiseContext,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  onSuccess(jail: string, d: Detection, line: string, ipv6Prefix: number): void {
    const user = d.user ?? '?';
    const method = d.method ?? 'unknown';
    this.store.recordLogin({ address: d.address.text, user, method, at: d.time });
    this.onLogin?.(method);
    const target = banTarget(d.address, ipv6Prefix);
    const signs: string[] = [];
    if (this.context.hasRecentFailures(target)) signs.push('it failed to log in shortly before');
    if (this.context.isBanned(target)) signs.push('it is banned right now');
    else if (this.store.everBanned(target)) signs.push('it was banned before');
    const detail = { jail, user, method, line };
    if (signs.length && this.firstInInterval(`failures ${d.address.text} ${user}`)) {
      const message = `successful ${method} login as ${user} from ${d.address.text}, and ${signs.join(' and ')}: check whether the account is compromised`;
      this.log.error(`ALERT ${message}`);
      this.store.addEvent(this.now(), 'critical', 'login-after-failures', d.address.text, message, detail);
    }
    if (user === 'root' && this.firstInInterval(`root ${d.address.text}`)) {
      const message = `root logged in over the network (${method}) from ${d.address.text}`;
      this.log.error(`ALERT ${message}`);
      this.store.addEvent(this.now(), 'critical', 'root-login', d.address.text, message, detail);
    }
  }
}
