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

export type Request =
  | { cmd: 'status' }
  | { cmd: 'bans' }
  | { cmd: 'ban'; ip: string; jail?: string; seconds?: number | null; by: string; reason?: string }
  | { cmd: 'unban'; ip: string; by: string }
  | { cmd: 'reload' };

export type Response = { ok: true; result: unknown } | { ok: false; error: string };

/** Largest request accepted, so a misbehaving client cannot make the daemon buffer without end. */
export const MAX_REQUEST_BYTES = 64 * 1024;
