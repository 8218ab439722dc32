/**
 * The control protocol between the CLI and the daemon: one JSON request per connection on the
 * Unix socket, one JSON response, newline-terminated. The socket is mode 0600 in a 0700
 * directory, so only root can talk to the daemon; there is no other authentication.
 */
export interface BanView {
  ip: string;
  jail: string;
  /** ISO 8601. */
  since: string;
  /** ISO 8601; null when permanent. */
  until: string | null;
  permanent: boolean;
  /** Seconds left; null when permanent. */
  remaining: number | null;
  reason: string;
  origin: string;
  evidence: readonly string[];
}

/** A permanent ban with what caused it, for the admin deciding whether it is still deserved. */
export interface ReviewView extends BanView {
  firstFailure: string | null;
  lastFailure: string | null;
  failures: number;
  bans: number;
  /** Failures seen from it while it was banned (it keeps trying). */
  attemptsWhileBanned: number;
  /** Last time it tried, banned or not (ISO 8601). */
  lastAttempt: string | null;
}

export type Request =
  | { cmd: 'status' }
  | { cmd: 'bans' }
  | { cmd: 'review' }
  | {
    cmd: 'ban'; ip: string; jail?: string; seconds?: number | null; by: string; reason?: string;
    /** The address the caller is connected from (SSH_CONNECTION), refused unless force. */
    callerAddress?: string; force?: boolean;
  }
  | { cmd: 'unban'; ip: string; by: string }
  | { cmd: 'reload'; rebase?: boolean };

export type Response = { ok: true; result: unknown } | { ok: false; error: string };

/** Largest request accepted, so a misbehaving client cannot make the daemon buffer without end. */
export const MAX_REQUEST_BYTES = 64 * 1024;
