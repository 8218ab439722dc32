import { FirewallError, type Firewall } from './firewall.js';
import { IpsetFirewall } from './ipset.js';
import { NftablesFirewall } from './nftables.js';
import { NoneFirewall, type FirewallLog } from './none.js';
import { CommandRunner } from './runner.js';

export { FirewallError } from './firewall.js';
export type { Firewall, FirewallBatch, FirewallElement, KernelElement, OpenBans } from './firewall.js';
export { canonicalTarget, parseTarget } from './address.js';
export { NftablesFirewall } from './nftables.js';
export { IpsetFirewall } from './ipset.js';
export { NoneFirewall } from './none.js';
export type { FirewallLog } from './none.js';

export interface FirewallConfig {
  readonly backend: 'nftables' | 'iptables' | 'none' | 'auto';
  /** nftables table name; also the ipset/iptables name prefix. */
  readonly table: string;
  readonly netns?: string;
  readonly hookForward?: boolean;
}

/**
 * Builds the configured backend. 'auto' prefers nftables when `nft` can actually talk to the
 * kernel (not merely exists), then ipset + iptables; if neither works it throws one error that
 * says why each was rejected, rather than silently running without protection.
 */
export async function createFirewall(config: FirewallConfig, log: FirewallLog): Promise<Firewall> {
  const common = { netns: config.netns, hookForward: config.hookForward };
  switch (config.backend) {
    case 'nftables':
      return new NftablesFirewall({ table: config.table, ...common });
    case 'iptables':
      return new IpsetFirewall({ prefix: config.table, ...common });
    case 'none':
      return new NoneFirewall(log);
    case 'auto': {
      const runner = new CommandRunner({ netns: config.netns, timeoutMs: 10_000 });
      const nftProblem = await problem(runner, [['nft', '-t', 'list', 'sets']]);
      if (nftProblem === undefined) {
        log('firewall backend: nftables');
        return new NftablesFirewall({ table: config.table, ...common });
      }
      const ipsetProblem = await problem(runner, [['ipset', 'list', '-n'], ['iptables', '-w', '-S', 'INPUT'], ['ip6tables', '-w', '-S', 'INPUT']]);
      if (ipsetProblem === undefined) {
        log(`firewall backend: ipset + iptables (nftables unusable: ${nftProblem})`);
        return new IpsetFirewall({ prefix: config.table, ...common });
      }
      throw new FirewallError(`no usable firewall backend: nftables: ${nftProblem}; ipset+iptables: ${ipsetProblem}. Install nftables (or ipset and iptables), run as root, or set backend "none" for a dry run.`);
    }
    default: {
      const never: never = config.backend;
      throw new FirewallError(`unknown firewall backend ${JSON.stringify(never)}`);
    }
  }
}

/** Runs read-only probe commands; returns why the first one failed, or undefined if all worked. */
async function problem(runner: CommandRunner, probes: readonly (readonly string[])[]): Promise<string | undefined> {
  for (const argv of probes) {
    try {
      await runner.run(argv);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }
  return undefined;
}
