import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { ConfigError } from '../config/schema.js';
import { canonicalAddress, parseCidr, type Address, type Cidr } from '../util/ip.js';
import { RecentMap } from '../util/recent.js';

/**
 * Addresses that are never counted or banned: the configured allow-list plus every address of
 * this machine (banning ourselves would cut the daemon's own traffic and, on a single-homed
 * server, can look like a lockout).
 */
export class AllowList {
  private readonly ranges: Cidr[];
  private readonly self = new Set<string>();

  /**
   * @param entries addresses and CIDR ranges
   * @param names host names with the addresses they resolved to (see resolveAllowNames)
   */
  constructor(entries: readonly string[], readonly names: ReadonlyMap<string, readonly string[]> = new Map()) {
    this.ranges = [...entries, ...[...names.values()].flat()].map((e) => {
      const cidr = parseCidr(e);
      if (!cidr) throw new Error(`allow: "${e}" is not an IP address or CIDR range`);
      return cidr;
    });
    this.refreshSelf();
  }

  /** Re-reads the machine's own addresses (they can change: DHCP, new interfaces). */
  refreshSelf(): void {
    this.answers.clear();
    this.self.clear();
    for (const list of Object.values(networkInterfaces())) {
      for (const info of list ?? []) {
        const a = canonicalAddress(info.address);
        if (a) this.self.add(a.text);
      }
    }
  }

  /** Why an address is exempt ("allow 127.0.0.0/8", "own address"), or undefined. */
  reason(address: Address): string | undefined {
    // Attackers repeat: remember answers (bounded) so a flood costs one look-up per line, however
    // long the allow list.
    const cached = this.answers.get(address.text);
    if (cached !== undefined) return cached === '' ? undefined : cached;
    let why = '';
    if (this.self.has(address.text)) why = 'own address';
    else for (const r of this.ranges) if (r.contains(address)) { why = `allow ${r.text}`; break; }
    this.answers.set(address.text, why);
    return why === '' ? undefined : why;
  }

  private readonly answers = new RecentMap<string, string>(4096);

  /** Why a range may not be banned as a whole (it holds an exempt address), or undefined. */
  overlapReason(range: Cidr): string | undefined {
    for (const own of this.self) {
      const a = canonicalAddress(own);
      if (a && range.contains(a)) return `it contains ${own}, an address of this machine`;
    }
    for (const r of this.ranges) if (r.overlaps(range)) return `it overlaps allow ${r.text}`;
    return undefined;
  }

  get entries(): string[] {
    return this.ranges.map((r) => r.text);
  }

  get ownAddresses(): string[] {
    return [...this.self];
  }
}

/**
 * Resolves allow-list host names (at load and on reload). A name that does not resolve is a
 * configuration error: silently allowing nothing would look like protection that is not there.
 */
export async function resolveAllowNames(names: readonly string[], timeoutMs = 5000): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(names.map(async (name) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const found = await Promise.race([
        lookup(name, { all: true, verbatim: true }),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs); }),
      ]);
      const addresses = [...new Set(found.map((f) => canonicalAddress(f.address)?.text).filter((a): a is string => a !== undefined))];
      if (!addresses.length) throw new Error('no addresses');
      out.set(name, addresses);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new ConfigError(`allow: host name "${name}" does not resolve (${why}); use an address or range, or fix DNS`);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }));
  return out;
}
