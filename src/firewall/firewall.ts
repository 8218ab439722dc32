/**
 * The last stage of the pipeline: the kernel packet filter.
 *
 * Backends own one table (nftables) or a pair of sets plus their hook rules (iptables + ipset) and
 * never touch anything else. Temporary bans are kernel elements with a timeout, so the kernel lifts
 * them on time even when the daemon is not running; permanent bans have no timeout.
 */

/** One element of a ban set: a single address or a CIDR prefix. */
export interface FirewallElement {
  /** Canonical address ("192.0.2.7", "2001:db8::1") or prefix ("2001:db8:1:2::/64"). */
  readonly target: string;
  readonly family: 4 | 6;
  /** Seconds left until the kernel removes it; null = permanent. Always >= 1 when set. */
  readonly timeoutSeconds: number | null;
}

/**
 * The open bans a start-up restore puts back. Permanent bans come as one string of targets
 * separated by single spaces, as the state database lists them: 100,000 of them are on the
 * daemon's start-up path, and one string costs no object, no split and no parse per ban on the
 * way to the kernel. Temporary bans come as elements, with the time each still runs.
 */
export interface OpenBans {
  /** Canonical targets separated by single spaces ('' when none); a target may repeat. */
  readonly permanent: string;
  readonly timed: readonly FirewallElement[];
}

/**
 * The family of a target in the canonical form warden stores and writes: IPv6 has a ':', IPv4
 * none (an IPv4-mapped address is stored as IPv4). Anything else is for parseTarget to judge.
 */
export function targetFamily(target: string): 4 | 6 {
  return target.includes(':') ? 6 : 4;
}

/** OpenBans as one list of elements (backends that write an element at a time). */
export function openBanElements(bans: OpenBans): FirewallElement[] {
  const out: FirewallElement[] = [];
  if (bans.permanent !== '') {
    for (const target of bans.permanent.split(' ')) out.push({ target, family: targetFamily(target), timeoutSeconds: null });
  }
  out.push(...bans.timed);
  return out;
}

/** One transaction: removals are applied before additions. */
export interface FirewallBatch {
  readonly add: readonly FirewallElement[];
  readonly remove: readonly FirewallElement[];
}

/** An element as the kernel reports it. */
export interface KernelElement {
  readonly target: string;
  readonly family: 4 | 6;
  /** Seconds the kernel still holds it; null = no timeout. */
  readonly expiresInSeconds: number | null;
}

export interface Firewall {
  /** 'nftables' | 'iptables' | 'none' */
  readonly kind: string;
  /** Creates the table/sets/hook rules if missing (idempotent); checks the tools are usable. */
  init(): Promise<void>;
  /**
   * Applies a whole batch in one kernel transaction where the backend allows it. An addition sets
   * the element's timeout (longer or shorter), except that a timed addition need not lower a
   * permanent element (nftables keeps permanent bans in sets of their own and leaves them): to make
   * a permanent ban temporary, remove it in the same batch.
   */
  apply(batch: FirewallBatch): Promise<void>;
  /** The elements currently in the kernel sets. */
  list(): Promise<KernelElement[]>;
  /**
   * Start-up: does what init() does and makes the sets hold exactly the open bans (strays in our
   * own sets removed, every timeout set anew), atomically where the backend allows it. Optional:
   * without it the daemon runs init() and then compares list() with the database.
   */
  restore?(bans: OpenBans): Promise<void>;
  /** Empties the sets, keeping the structure (used by reconcile and tests). */
  flush(): Promise<void>;
  /** Removes everything the backend created (uninstall). */
  destroy(): Promise<void>;
}

export class FirewallError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(message);
    this.name = 'FirewallError';
  }
}
