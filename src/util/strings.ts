/**
 * A flat copy of a string, for text kept long after the buffer it was decoded from. V8 cuts a
 * substring of SLICE_MIN characters or more as a view into its parent ("sliced string"): a line,
 * key or user name cut from a 256 KiB read chunk and kept for minutes would keep the whole chunk
 * alive. Shorter cuts are copies already. The round trip through UTF-8 gives a fresh, flat string,
 * exact for any text decoded from bytes (and a one-byte string for ASCII, half the memory of
 * UTF-16).
 */
export const SLICE_MIN = 13;

export function copyString(s: string): string {
  return s.length < SLICE_MIN ? s : Buffer.from(s, 'utf8').toString('utf8');
}
