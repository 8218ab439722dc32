import type { EscalationConfig, RecidiveConfig } from '../config/schema.js';

/**
 * How long a ban lasts. The n-th ban of the same address within the lookback lasts
 * bantime * factor^(n-1), capped at max, and the permanent_after-th is permanent. An address
 * banned `recidive.bans` times within `recidive.window`, in any jails, gets the recidive ban.
 * Pure functions: the counts come from the state database, so the ladder survives restarts.
 */
export interface Decision {
  /** Seconds; null = permanent. */
  readonly seconds: number | null;
  /** This ban's number within the lookback (1 = first). */
  readonly ordinal: number;
  readonly recidive: boolean;
  /** A short human explanation: "ban 3 in 30d: 40m", "recidive: 3 bans in 1d". */
  readonly why: string;
}

export function escalatedSeconds(bantime: number, escalation: EscalationConfig, ordinal: number): number | null {
  if (escalation.permanentAfter !== null && ordinal >= escalation.permanentAfter) return null;
  return Math.min(bantime * escalation.factor ** (ordinal - 1), escalation.max);
}

export function decide(options: {
  readonly bantime: number;
  readonly escalation: EscalationConfig;
  readonly recidive: RecidiveConfig;
  /** Earlier bans of this target within escalation.lookback (any jail). */
  readonly earlierInLookback: number;
  /** Earlier bans of this target within recidive.window (any jail). */
  readonly earlierInRecidiveWindow: number;
}): Decision {
  const ordinal = options.earlierInLookback + 1;
  const laddered = escalatedSeconds(options.bantime, options.escalation, ordinal);
  const r = options.recidive;
  if (r.enabled && options.earlierInRecidiveWindow + 1 >= r.bans && laddered !== null && (r.bantime === null || r.bantime > laddered)) {
    return { seconds: r.bantime, ordinal, recidive: true, why: `repeat offender: ${options.earlierInRecidiveWindow + 1} bans within the recidive window` };
  }
  return {
    seconds: laddered, ordinal, recidive: false,
    why: ordinal === 1 ? 'first ban' : laddered === null ? `ban ${ordinal} within the lookback: permanent` : `ban ${ordinal} within the lookback`,
  };
}
