/**
 * Ban and allow status for addresses seen on the wire: the daemon's current bans (asked over its
 * control socket, when it answers) and the allow-list given on the command line.
 */
import { callDaemon } from '../control/client.js';
import { canonicalAddress, parseCidr, type Cidr } from '../util/ip.js';

export const DEFAULT_ALLOW = ['127.0.0.0/8', '::1'] as const;

export interface RangeSet {
  has(ip: string): boolean;
}

/** Ranges from texts (an address or CIDR each); throws naming the first one that is neither. */
export function rangeSet(entries: readonly string[], what: string): RangeSet & { readonly ranges: Cidr[] } {
  const ranges = entries.map((e) => {
    const c = parseCidr(e.trim());
    if (!c) throw new Error(`${what}: "${e}" is not an IP address or CIDR range`);
    return c;
  });
  return {
    ranges,
    has(ip) {
      const a = canonicalAddress(ip);
      return a !== undefined && ranges.some((r) => r.contains(a));
    },
  };
}

/**
 * The daemon's banned addresses and ranges, or why they are unknown (not running, no permission).
 * Entries the daemon sends that are not addresses are skipped: a ban list must not break the view.
 */
export async function daemonBans(socket: string, timeoutMs = 3_000): Promise<{ bans: RangeSet } | { error: string }> {
  let result: unknown;
  try {
    result = await callDaemon(socket, { cmd: 'bans' }, timeoutMs);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  if (!Array.isArray(result)) return { error: `the daemon at ${socket} sent an unexpected answer to "bans"` };
  const ips = result.flatMap((b: unknown) => {
    const ip = typeof b === 'object' && b !== null ? (b as { ip?: unknown }).ip : undefined;
    return typeof ip === 'string' && parseCidr(ip) ? [ip] : [];
  });
  return { bans: rangeSet(ips, 'ban') };
}
