import type { FirewallElement, OpenBans } from '../../src/firewall/firewall.js';

/** A list of elements as Firewall.restore takes it: the permanent ones joined, in order, the rest as they are. */
export function asOpenBans(elements: readonly FirewallElement[]): OpenBans {
  return {
    permanent: elements.filter((e) => e.timeoutSeconds === null).map((e) => e.target).join(' '),
    timed: elements.filter((e) => e.timeoutSeconds !== null),
  };
}
