import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/**
 * What a file source persists to resume where it stopped.
 *
 * The inode says "same file" while the file is in place; the fingerprint (a hash of the first line)
 * says "same content" when the inode cannot be trusted: the file was copied or moved to another
 * file system, or a deleted file's inode number was reused by a new file while the daemon was down.
 * Inode and device are kept as decimal strings because 64-bit inode numbers exceed 2^53.
 */
export interface FilePosition {
  readonly inode: string;
  readonly dev: string;
  /** Offset just past the last complete line that the consumer took. */
  readonly offset: number;
  /** sha1 hex of the first line (at most FINGERPRINT_BYTES), or '' while the first line is incomplete. */
  readonly fingerprint: string;
}

/** Enough bytes to tell two log files apart: a first line carries a timestamp, host and message. */
export const FINGERPRINT_BYTES = 256;

export function positionKey(path: string): string {
  return `file:${path}`;
}

/** Parses a stored position; anything malformed counts as "never seen" rather than failing the source. */
export function parseFilePosition(text: string | undefined): FilePosition | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const idText = (x: unknown): string | undefined =>
    typeof x === 'string' && /^\d+$/.test(x) ? x : typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? String(x) : undefined;
  const inode = idText(v['inode']);
  const dev = idText(v['dev']);
  const offset = v['offset'];
  const fingerprint = v['fingerprint'];
  if (inode === undefined || dev === undefined) return undefined;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  if (typeof fingerprint !== 'string') return undefined;
  return { inode, dev, offset, fingerprint };
}

/**
 * Reads the first line of a file (with its newline), capped at FINGERPRINT_BYTES. Returns undefined
 * while the first line is still incomplete: a fingerprint of half a line would change once the
 * line is finished and make the same file look like a different one.
 */
export async function readHead(fh: FileHandle): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(FINGERPRINT_BYTES);
  const { bytesRead } = await fh.read(buf, 0, FINGERPRINT_BYTES, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
  if (nl >= 0) return buf.subarray(0, nl + 1);
  return bytesRead === FINGERPRINT_BYTES ? buf : undefined;
}

export function fingerprintOf(head: Buffer | undefined): string {
  return head ? createHash('sha1').update(head).digest('hex') : '';
}
