import type { Config } from '../config/schema.js';
import { BanManager } from '../bans/manager.js';
import { StateStore } from '../bans/store.js';
import { createFirewall, type Firewall } from '../firewall/index.js';
import type { Logger } from '../util/log.js';

/**
 * The first thing the daemon does: open the state database, pick the firewall backend and start
 * putting every open ban back into the kernel.
 *
 * Kept apart from the rest of the daemon (filters, jails, sources, control socket) so that
 * `warden run` starts the kernel restore before it loads those modules, which then load while
 * `nft` works: with 100,000 open bans the kernel's part alone takes ~0.5 s, and the node side
 * of a start-up is mostly module loading.
 */
export interface Protection {
  readonly store: StateStore;
  readonly bans: BanManager;
  /** Settles when the kernel holds the open bans (or the attempt failed and a retry is scheduled). */
  readonly restored: Promise<void>;
}

export interface ProtectionOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly now?: () => number;
}

export async function startProtection(options: ProtectionOptions): Promise<Protection> {
  const { config, log } = options;
  let firewall: Firewall;
  try {
    firewall = await createFirewall(config.firewall, (m) => log.info(m));
  } catch (e) {
    // No usable backend right now (nft missing, no permission): still start, record bans, show
    // the error in status and keep retrying with nftables, the default, rather than protect nothing
    // silently or refuse to run.
    log.error(`${(e as Error).message}`);
    firewall = await createFirewall({ ...config.firewall, backend: 'nftables' }, (m) => log.info(m));
  }
  const store = new StateStore(config.stateDir);
  const bans = new BanManager({ store, firewall, log, batchWindowMs: config.batchWindowMs, now: options.now });
  return { store, bans, restored: bans.start() };
}
