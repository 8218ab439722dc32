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
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
