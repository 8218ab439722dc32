import { prepareBatch } from './batch.js';
import { openBanElements, type Firewall, type FirewallBatch, type FirewallElement, type KernelElement, type OpenBans } from './firewall.js';

export type FirewallLog = (msg: string) => void;

export interface NoneOptions {
  /** Clock in epoch ms; injectable so tests need not sleep. */
  readonly now?: () => number;
  /** Per-element log lines per batch before switching to a count (a 10k-element batch is one line, not 10k). */
  readonly detailLimit?: number;
}

interface Entry {
  readonly family: 4 | 6;
  /** Epoch ms; null = permanent. */
  readonly expiresAt: number | null;
}

/**
 * Dry-run backend: no kernel involved. It validates exactly like the real backends (so a dry run
 * catches bad targets), keeps the would-be kernel state in memory with expiry, and logs what it
 * would do. Useful to try filters and jails on a production host before enforcing.
 */
export class NoneFirewall implements Firewall {
  readonly kind = 'none';
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly detailLimit: number;

  constructor(private readonly log: FirewallLog, options: NoneOptions = {}) {
    this.now = options.now ?? Date.now;
    this.detailLimit = options.detailLimit ?? 20;
  }

  async init(): Promise<void> {
    this.log('dry run (firewall backend "none"): bans are recorded but nothing is blocked');
  }

  async apply(batch: FirewallBatch): Promise<void> {
    const prepared = prepareBatch(batch, Number.MAX_SAFE_INTEGER / 1000);
    const now = this.now();
    const lines: string[] = [];
    for (const t of prepared.remove) {
      this.entries.delete(t.canonical);
      lines.push(`would unban ${t.canonical}`);
    }
    for (const a of prepared.add) {
      this.entries.set(a.target.canonical, { family: a.target.family, expiresAt: a.timeoutSeconds === null ? null : now + a.timeoutSeconds * 1000 });
      lines.push(`would ban ${a.target.canonical} ${a.timeoutSeconds === null ? 'permanently' : `for ${a.timeoutSeconds}s`}`);
    }
    for (const line of lines.slice(0, this.detailLimit)) this.log(line);
    if (lines.length > this.detailLimit) this.log(`... and ${lines.length - this.detailLimit} more (${prepared.add.length} bans, ${prepared.remove.length} unbans in this batch)`);
  }

  async restore(bans: OpenBans): Promise<void> {
    const elements = openBanElements(bans);
    await this.init();
    prepareBatch({ add: elements, remove: [] }, Number.MAX_SAFE_INTEGER / 1000); // refuse before dropping anything
    const before = this.entries.size;
    this.entries.clear();
    await this.apply({ add: elements, remove: [] });
    if (before) this.log(`(the ${before} earlier entries were replaced)`);
  }

  async list(): Promise<KernelElement[]> {
    const now = this.now();
    const out: KernelElement[] = [];
    for (const [target, e] of this.entries) {
      if (e.expiresAt !== null && e.expiresAt <= now) {
        this.entries.delete(target); // what the kernel's timeout would have done
        continue;
      }
      out.push({ target, family: e.family, expiresInSeconds: e.expiresAt === null ? null : Math.ceil((e.expiresAt - now) / 1000) });
    }
    return out;
  }

  async flush(): Promise<void> {
    this.log(`would flush ${this.entries.size} bans`);
    this.entries.clear();
  }

  async destroy(): Promise<void> {
    this.log('would remove the firewall table/sets');
    this.entries.clear();
  }
}
