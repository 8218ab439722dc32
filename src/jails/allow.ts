import { networkInterfaces } from 'node:os';
import { canonicalAddress, parseCidr, type Address, type Cidr } from '../util/ip.js';

/**
 * Addresses that are never counted or banned: the configured allow-list plus every address of
 * this machine (banning ourselves would cut the daemon's own traffic and, on a single-homed
 * server, can look like a lockout).
 */
export class AllowList {
  private readonly ranges: Cidr[];
  private readonly self = new Set<string>();

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((e) => {
      const cidr = parseCidr(e);
      if (!cidr) throw new Error(`allow: "${e}" is not an IP address or CIDR range`);
      return cidr;
    });
    this.refreshSelf();
  }

  /** Re-reads the machine's own addresses (they can change: DHCP, new interfaces). */
  refreshSelf(): void {
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
    if (this.self.has(address.text)) return 'own address';
    for (const r of this.ranges) if (r.contains(address)) return `allow ${r.text}`;
    return undefined;
  }

  get entries(): string[] {
    return this.ranges.map((r) => r.text);
  }

  get ownAddresses(): string[] {
    return [...this.self];
  }
}
