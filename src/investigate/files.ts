/**
 * Reading login-record files as they lie on disk: plain or gzip-compressed (logrotate's
 * `compress`), possibly truncated, plus the rotated generations next to the live file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';

export interface LoadedFile {
  readonly path: string;
  /** The (decompressed) content. */
  readonly data: Buffer;
  readonly compressed: boolean;
  /** Modification time in seconds, to compare with the newest record. */
  readonly mtime: number;
  /** Problems met while reading, e.g. a truncated gzip stream whose readable part was kept. */
  readonly problems: string[];
}

export class LoginFileError extends Error {}

/** Reads one file; throws LoginFileError naming the file when it cannot be read at all. */
export function loadLoginFile(path: string): LoadedFile {
  let raw: Buffer;
  let mtime: number;
  try {
    raw = readFileSync(path);
    mtime = statSync(path).mtimeMs / 1000;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EACCES' ? 'permission denied (run as root?)'
      : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new LoginFileError(`${path}: ${why}`);
  }
  // Decide by content, not by name: a rotated file may be compressed without the .gz suffix.
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    const { data, problem } = gunzipTolerant(raw);
    return { path, data, compressed: true, mtime, problems: problem ? [`${path}: ${problem}`] : [] };
  }
  return { path, data: raw, compressed: false, mtime, problems: [] };
}

/**
 * Decompresses gzip data; a truncated or corrupt stream yields the part that could be decompressed
 * (a sync flush hands out everything inflated so far instead of failing at the missing end).
 */
export function gunzipTolerant(raw: Buffer): { data: Buffer; problem?: string } {
  try {
    return { data: gunzipSync(raw) };
  } catch (e) {
    const why = (e as Error).message;
    try {
      const data = gunzipSync(raw, { finishFlush: constants.Z_SYNC_FLUSH });
      return { data, problem: `compressed data is damaged or truncated (${why}); kept the ${data.length} bytes that could be decompressed` };
    } catch (e2) {
      return { data: Buffer.alloc(0), problem: `compressed data could not be read (${(e2 as Error).message})` };
    }
  }
}

/**
 * The rotated generations of `path`, oldest first: FILE.N and FILE.N.gz (higher N is older),
 * FILE-YYYYMMDD[.gz] (logrotate dateext, older date first). The live file itself is not included.
 */
export function rotatedSiblings(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const numbered: Array<{ name: string; n: number }> = [];
  const dated: Array<{ name: string; key: string }> = [];
  for (const name of names) {
    if (!name.startsWith(base) || name === base) continue;
    const suffix = name.slice(base.length);
    const num = /^\.(\d{1,4})(\.gz)?$/.exec(suffix);
    if (num) { numbered.push({ name, n: Number(num[1]) }); continue; }
    const date = /^-(\d{8}(?:\d{2})?)(\.gz)?$/.exec(suffix);
    if (date) dated.push({ name, key: date[1]! });
  }
  numbered.sort((a, b) => b.n - a.n || a.name.localeCompare(b.name));
  dated.sort((a, b) => a.key.localeCompare(b.key));
  return [...dated.map((d) => join(dir, d.name)), ...numbered.map((x) => join(dir, x.name))];
}
