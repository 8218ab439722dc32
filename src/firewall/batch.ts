import { parseTarget, type ParsedTarget } from './address.js';
import { FirewallError, type FirewallBatch, type FirewallElement } from './firewall.js';

/** An addition after validation: parsed target and a whole number of seconds (or permanent). */
export interface PreparedAdd {
  readonly target: ParsedTarget;
  readonly timeoutSeconds: number | null;
}

export interface PreparedBatch {
  readonly remove: readonly ParsedTarget[];
  readonly add: readonly PreparedAdd[];
}

function parseElement(element: FirewallElement): ParsedTarget {
  const parsed = parseTarget(element.target);
  if (parsed.family !== element.family) {
    throw new FirewallError(`ban target ${parsed.canonical} is IPv${parsed.family} but the element says IPv${String(element.family)}`);
  }
  return parsed;
}

/**
 * Validates a whole batch before any command runs, so one bad element fails the batch without
 * half of it reaching the kernel.
 *
 * Timeouts are rounded up to whole seconds (the kernel tools take seconds; rounding down could
 * turn 0.5 s into "permanent" for ipset) and clamped to `maxTimeoutSeconds`, the backend's limit:
 * the kernel then lifts such a ban early and the daemon re-adds it when it reconciles, which beats
 * refusing the ban outright.
 *
 * Duplicates are merged (the last addition's timeout wins) because the nft transaction deletes each element
 * before re-adding it, and a second delete of the same element would fail the transaction.
 */
export function prepareBatch(batch: FirewallBatch, maxTimeoutSeconds: number): PreparedBatch {
  const remove = new Map<string, ParsedTarget>();
  for (const element of batch.remove) {
    const parsed = parseElement(element);
    remove.set(parsed.canonical, parsed);
  }
  const add = new Map<string, PreparedAdd>();
  for (const element of batch.add) {
    const parsed = parseElement(element);
    const t = element.timeoutSeconds;
    let timeoutSeconds: number | null = null;
    if (t !== null) {
      if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
        throw new FirewallError(`ban of ${parsed.canonical}: timeout must be a positive number of seconds or null, got ${String(t)}`);
      }
      timeoutSeconds = Math.min(Math.ceil(t), maxTimeoutSeconds);
    }
    add.set(parsed.canonical, { target: parsed, timeoutSeconds });
  }
  return { remove: [...remove.values()], add: [...add.values()] };
}

/** Splits a list into slices of at most `size` (nft/ipset input lines stay reasonably short). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
