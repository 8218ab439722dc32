/**
 * The validated, resolved configuration. Durations are seconds; every optional key has its value.
 * Produced by load.ts from YAML (or the embedded default) and never mutated afterwards: a reload
 * builds a new one and swaps it in only when it is entirely valid.
 */
export type SourceConfig =
  | { readonly kind: 'file'; readonly path: string; readonly backfill: boolean }
  | {
    readonly kind: 'journal';
    /** journalctl match arguments, e.g. "_SYSTEMD_UNIT=ssh.service" or "SYSLOG_IDENTIFIER=sshd". */
    readonly matches: readonly string[];
    /** Read a journal directory or file instead of the system journal (containers, tests). */
    readonly directory?: string;
    readonly file?: string;
    readonly backfill: boolean;
  }
  | { readonly kind: 'stdin' };

export interface JailConfig {
  readonly name: string;
  readonly enabled: boolean;
  readonly sources: readonly SourceConfig[];
  readonly filter: string;
  readonly mode: string;
  readonly maxretry: number;
  readonly findtime: number;
  readonly bantime: number;
  /** IPv6 addresses are counted and banned per prefix of this length (128 = single address). */
  readonly ipv6Prefix: number;
  readonly escalation: EscalationConfig;
}

/** Each new ban of the same address lasts longer: bantime * factor^(n-1), capped at max. */
export interface EscalationConfig {
  readonly factor: number;
  /** Seconds. */
  readonly max: number;
  /** The n-th ban within lookback is permanent; null = never. */
  readonly permanentAfter: number | null;
  /** Seconds: bans older than this do not count for n. */
  readonly lookback: number;
}

/** Repeat offenders across jails (what a "recidive" jail does elsewhere). */
export interface RecidiveConfig {
  readonly enabled: boolean;
  /** Bans in any jails within `window` seconds that trigger the long ban. */
  readonly bans: number;
  readonly window: number;
  /** Seconds; null = permanent. */
  readonly bantime: number | null;
}

/** The lockout guard: addresses with a live session or a recent key login are not auto-banned. */
export interface GuardConfig {
  readonly enabled: boolean;
  /** Seconds a successful public-key login keeps protecting its address. */
  readonly recent: number;
  /** utmp file to read live sessions from. */
  readonly utmp: string;
}

export type FirewallBackend = 'nftables' | 'iptables' | 'none' | 'auto';

export interface Config {
  /** Where the configuration came from ("embedded default" or a path), for messages. */
  readonly origin: string;
  readonly stateDir: string;
  readonly socket: string;
  readonly timezone: string;
  readonly firewall: { readonly backend: FirewallBackend; readonly table: string; readonly netns?: string };
  /** Raw allow-list entries: addresses, CIDR ranges. */
  readonly allow: readonly string[];
  readonly jails: readonly JailConfig[];
  /** Bans arriving within this many ms go to the kernel in one batch. */
  readonly batchWindowMs: number;
  /** Raw allow-list entries that are host names, resolved at load and on reload. */
  readonly allowNames: readonly string[];
  readonly recidive: RecidiveConfig;
  readonly guard: GuardConfig;
  /** Seconds without any new attempt after which a permanent ban is lifted; null = never. */
  readonly permanentExpiry: number | null;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
