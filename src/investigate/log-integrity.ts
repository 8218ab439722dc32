/**
 * Signs that an authentication log (auth.log, secure) was cut, edited or silenced — what
 * integrity.ts checks for wtmp, for the text logs.
 *
 * A text log is only ever appended to, and replaced by rotation. So warden remembers, per log, what
 * it saw last time (size, inode, a hash of the first line, a hash of the last block) in a small
 * JSON file under the state directory, and on the next run:
 *  - same first line: the log must not have shrunk, and the block that ended it last time must
 *    still be there, byte for byte (removing or rewriting a line shifts or changes it);
 *  - another first line: a rotated generation (FILE.1, FILE.1.gz, FILE-DATE) must begin with the
 *    former first line — that is rotation — and must be at least as long as the log was;
 *    otherwise the log was truncated, edited or replaced.
 * Plus `journalctl --verify` for the journal, whose files carry hash chains (and, in log-gaps.ts,
 * a heuristic over the lines' dates: an hour without any line in a busy log).
 *
 * Every finding says what was seen and what it may mean; most have innocent explanations too.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { execFile } from '../util/exec.js';
import { rotatedSiblings } from './files.js';
import type { Finding } from './integrity.js';
import { isoTime } from './time.js';

export const DEFAULT_STATE_DIR = '/var/lib/warden';
export const STATE_FILE = 'integrity.json';

/** The last bytes of the log whose hash is kept, to notice lines removed or rewritten before them. */
const TAIL_BYTES = 4096;
/** A first line is hashed up to this many bytes. */
const HEAD_BYTES = 4096;

export interface Fingerprint {
  readonly size: number;
  readonly inode: number;
  /** Epoch ms. */
  readonly mtime: number;
  /** sha256 (hex) of the first line with its newline, up to HEAD_BYTES; of '' for an empty file. */
  readonly head: string;
  /** sha256 of bytes [tailOffset, size). */
  readonly tail: string;
  readonly tailOffset: number;
  /** When this was recorded, epoch ms. */
  readonly seenAt: number;
}

export interface IntegrityState {
  readonly version: 1;
  readonly logs: Record<string, Fingerprint>;
}

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

/** The saved state; an absent file is a first run, an unreadable one is reported and ignored. */
export function loadState(dir: string): { state: IntegrityState; problem?: string; firstRun: boolean } {
  const path = statePath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { state: { version: 1, logs: {} }, firstRun: true };
    return { state: { version: 1, logs: {} }, firstRun: true, problem: `${path}: ${err.code === 'EACCES' ? 'permission denied (run as root?)' : err.message}` };
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    const logs = typeof parsed === 'object' && parsed !== null ? (parsed as { logs?: unknown }).logs : undefined;
    if ((parsed as { version?: unknown }).version !== 1 || typeof logs !== 'object' || logs === null) throw new Error('not a version 1 state');
    const clean: Record<string, Fingerprint> = {};
    for (const [k, v] of Object.entries(logs as Record<string, unknown>)) if (isFingerprint(v)) clean[k] = v;
    return { state: { version: 1, logs: clean }, firstRun: false };
  } catch (e) {
    return { state: { version: 1, logs: {} }, firstRun: true, problem: `${path}: unreadable (${(e as Error).message}); starting afresh` };
  }
}

function isFingerprint(v: unknown): v is Fingerprint {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return ['size', 'inode', 'mtime', 'tailOffset', 'seenAt'].every((k) => typeof f[k] === 'number')
    && typeof f['head'] === 'string' && typeof f['tail'] === 'string';
}

/** Writes the state atomically (temporary file, then rename), readable by root only. */
export function saveState(dir: string, state: IntegrityState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = statePath(dir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The fingerprint of a plain log now; undefined when it cannot be read (with why). */
export function fingerprint(path: string, now = Date.now()): { fp: Fingerprint } | { missing: string } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { missing: err.code === 'ENOENT' ? 'does not exist' : err.code === 'EACCES' ? 'permission denied (run as root?)' : err.message };
  }
  try {
    const st = fstatSync(fd);
    const size = st.size;
    const tailOffset = Math.max(0, size - TAIL_BYTES);
    return {
      fp: {
        size, inode: st.ino, mtime: st.mtimeMs, head: sha(firstLine(fd, size)),
        tail: sha(readRange(fd, tailOffset, size)), tailOffset, seenAt: now,
      },
    };
  } finally {
    closeSync(fd);
  }
}

function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, to - from));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, from + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function firstLine(fd: number, size: number): Buffer {
  const head = readRange(fd, 0, Math.min(size, HEAD_BYTES));
  const nl = head.indexOf(0x0a);
  return nl < 0 ? head : head.subarray(0, nl + 1);
}

/** The first line of a rotated generation, plain or gzip (by content), and its text size. */
function generationHead(path: string): { head: string; size: number; compressed: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const magic = readRange(fd, 0, Math.min(size, 2));
    if (magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
      // The start of the stream is enough for the first line; ISIZE (the last 4 bytes) is the
      // uncompressed size modulo 2^32.
      let text: Buffer;
      try {
        text = gunzipSync(readRange(fd, 0, Math.min(size, 256 * 1024)), { finishFlush: constants.Z_SYNC_FLUSH });
      } catch {
        return undefined;
      }
      const nl = text.subarray(0, HEAD_BYTES).indexOf(0x0a);
      const isize = size >= 4 ? readRange(fd, size - 4, size).readUInt32LE(0) : 0;
      return { head: sha(nl < 0 ? text.subarray(0, HEAD_BYTES) : text.subarray(0, nl + 1)), size: isize, compressed: true };
    }
    return { head: sha(firstLine(fd, size)), size, compressed: false };
  } finally {
    closeSync(fd);
  }
}

function tailMatches(path: string, fp: Fingerprint): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    return sha(readRange(fd, fp.tailOffset, fp.size)) === fp.tail;
  } finally {
    closeSync(fd);
  }
}

const MEANING = {
  shrank: 'a log is only appended to: lines were removed (truncated with "> FILE" or truncate, or edited out) — unless something rotated it in place by a scheme not recognised here.',
  tail: 'the lines that ended the log last time are no longer there byte for byte, although the log did not shrink: lines were edited or removed and the file padded or refilled.',
  replacedSame: 'the file was rewritten (a new inode) though what was there before is unchanged: an editor or sed -i saved it, or it was copied back — worth a look at who did it.',
  firstChanged: 'the start of the log changed and no rotated generation starts with the former first line: lines were removed from its start or the log was replaced — or it was rotated to a name or place not recognised here (FILE.N[.gz], FILE-DATE[.gz]).',
  rotatedShort: 'the rotated generation holds less than the log held when last seen: lines were removed before or after rotation.',
  rotatedTail: 'the rotated generation no longer holds, byte for byte, what ended the log when last seen: lines were edited or removed before or after rotation.',
  gone: 'the log was deleted (to hide tracks?), or logging now goes elsewhere (the journal only); the rotated generations keep the older lines.',
} as const;

export interface LogCheck {
  readonly findings: Finding[];
  /** What happened that is normal ("rotated to auth.log.1"), for the reader. */
  readonly notes: string[];
  /** The fingerprint to save for the next run (undefined when the log is missing). */
  readonly current: Fingerprint | undefined;
}

/** Compares a log with what was seen last time (nothing to compare on a first run). */
export function checkLog(path: string, previous: Fingerprint | undefined, now = Date.now()): LogCheck {
  const cur = fingerprint(path, now);
  const findings: Finding[] = [];
  const notes: string[] = [];
  const current = 'fp' in cur ? cur.fp : undefined;
  const when = previous ? isoTime(previous.seenAt / 1000) ?? '?' : '?';
  const add = (severity: Finding['severity'], seen: string, meaning: string): void => {
    findings.push({ severity, file: path, offset: null, seen, meaning });
  };
  if (!previous) return { findings, notes, current };
  if (previous.size === 0) {
    if (current) notes.push(`${path}: was empty at ${when}; now ${current.size} bytes`);
    return { findings, notes, current };
  }
  if (current && current.head === previous.head && current.size > 0) {
    if (current.size < previous.size) {
      add('warning', `shrank from ${previous.size} to ${current.size} bytes since ${when}, with the same first line`, MEANING.shrank);
    } else if (!tailMatches(path, previous)) {
      add('warning', `the ${previous.size - previous.tailOffset} bytes that ended it at ${when} (offset ${previous.tailOffset}) have changed`, MEANING.tail);
    } else if (current.inode !== previous.inode) {
      add('notice', `is a new file (inode ${previous.inode} → ${current.inode}) with the same content up to ${previous.size} bytes as at ${when}`, MEANING.replacedSame);
    }
    return { findings, notes, current };
  }
  // The start changed (or the log is gone or empty): rotation, if a generation starts as the log did.
  const generations = rotatedSiblings(path).reverse().slice(0, 3);
  for (const gen of generations) {
    const g = generationHead(gen);
    if (!g || g.head !== previous.head) continue;
    notes.push(`${path}: rotated since ${when} (now ${gen})`);
    const comparable = !g.compressed || previous.size < 2 ** 32;
    if (comparable && g.size < previous.size) {
      findings.push({ severity: 'warning', file: gen, offset: null, seen: `holds ${g.size} bytes${g.compressed ? ' (uncompressed)' : ''}, but ${path} held ${previous.size} bytes at ${when}`, meaning: MEANING.rotatedShort });
    } else if (!g.compressed && !tailMatches(gen, previous)) {
      findings.push({ severity: 'warning', file: gen, offset: previous.tailOffset, seen: `bytes ${previous.tailOffset}-${previous.size} differ from those that ended ${path} at ${when}`, meaning: MEANING.rotatedTail });
    }
    if (!current) notes.push(`${path}: not re-created yet after rotation`);
    return { findings, notes, current };
  }
  if (!current) {
    add('warning', `${'missing' in cur ? cur.missing : 'cannot be read'}; it held ${previous.size} bytes at ${when}, and no rotated generation starts as it did`, MEANING.gone);
  } else if (current.size === 0) {
    add('warning', `is empty; it held ${previous.size} bytes at ${when}, and no rotated generation starts as it did`, MEANING.shrank);
  } else {
    add('warning', `its first line is not the one it had at ${when}${generations.length ? ` (checked ${generations.join(', ')})` : ' (no rotated generation exists)'}`, MEANING.firstChanged);
  }
  return { findings, notes, current };
}

/**
 * Checks every log against the state in `dir` and saves the new state (logs not checked this time
 * keep their entry). A state that cannot be saved is a problem, not an error: the checks were
 * still made.
 */
export function checkLogs(paths: readonly string[], dir: string, options: { save?: boolean; now?: number } = {}): LogCheck & { problems: string[]; firstRun: boolean } {
  const loaded = loadState(dir);
  const problems = loaded.problem ? [loaded.problem] : [];
  const findings: Finding[] = [];
  const notes: string[] = [];
  const logs: Record<string, Fingerprint> = { ...loaded.state.logs };
  for (const path of paths) {
    const r = checkLog(path, loaded.state.logs[path], options.now);
    findings.push(...r.findings);
    notes.push(...r.notes);
    if (r.current) logs[path] = r.current;
    else delete logs[path];
  }
  if (options.save !== false) {
    try {
      saveState(dir, { version: 1, logs });
    } catch (e) {
      problems.push(`cannot save the log fingerprints in ${statePath(dir)}: ${(e as Error).message}; the next run cannot compare`);
    }
  }
  if (loaded.firstRun && paths.length) notes.push(`first check of ${paths.join(', ')}: sizes and fingerprints recorded in ${statePath(dir)}; changes are reported from the next run`);
  return { findings, notes, current: undefined, problems, firstRun: loaded.firstRun };
}

export interface JournalVerification {
  /** False when there was no journal to verify (or journalctl is absent). */
  readonly ran: boolean;
  readonly passed: string[];
  readonly failed: Array<{ file: string; reason: string; details: string[] }>;
  readonly findings: Finding[];
  readonly problem?: string;
}

/**
 * `journalctl --verify` (of one file, or of the system's journal), its PASS and FAIL lines read. A
 * journal file is binary with hash chains: editing or corrupting it shows as FAIL.
 */
export async function verifyJournal(options: { file?: string; journalctl?: string; timeoutMs?: number } = {}): Promise<JournalVerification> {
  const program = options.journalctl ?? 'journalctl';
  let r;
  try {
    r = await execFile(program, ['--verify', '--no-pager', ...(options.file !== undefined ? ['--file', options.file] : [])], { timeoutMs: options.timeoutMs ?? 60_000, env: { ...process.env, SYSTEMD_COLORS: '0' } });
  } catch (e) {
    return { ran: false, passed: [], failed: [], findings: [], problem: `cannot run ${program}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  const text = `${r.stdout}\n${r.stderr}`;
  if (r.signal === 'SIGKILL') return { ran: false, passed: [], failed: [], findings: [], problem: `${program} --verify did not finish within ${(options.timeoutMs ?? 60_000) / 1000} s; the journal was not verified` };
  const passed: string[] = [];
  const failed: Array<{ file: string; reason: string; details: string[] }> = [];
  let details: string[] = [];
  for (const line of text.split('\n')) {
    const pass = /^PASS: (.+)$/.exec(line);
    const fail = /^FAIL: (.+?) \((.+)\)$/.exec(line);
    if (pass) {
      passed.push(pass[1]!);
      details = [];
    } else if (fail) {
      failed.push({ file: fail[1]!, reason: fail[2]!, details: details.slice(-5) });
      details = [];
    } else if (line.trim()) {
      details.push(line.trim());
    }
  }
  if (!passed.length && !failed.length) {
    if (/No journal files were found/i.test(text)) return { ran: false, passed, failed, findings: [] };
    return { ran: false, passed, failed, findings: [], problem: `${program} --verify said nothing recognisable (exit ${r.code}): ${text.trim().slice(0, 300)}` };
  }
  const findings: Finding[] = failed.map((f) => ({
    severity: 'warning', file: f.file, offset: null,
    seen: `journalctl --verify: FAIL (${f.reason})${f.details.length ? `: ${f.details.join('; ')}` : ''}`,
    meaning: 'the journal file is damaged: a crash or disk error while it was written (journald then starts a new file), or it was edited — its entries carry hash chains that editing breaks. Entries before the damage are still readable.',
  }));
  return { ran: true, passed, failed, findings };
}

/** Size and modification time of a path, or undefined. */
export function statQuiet(path: string): { size: number; mtime: number } | undefined {
  try {
    const s = statSync(path);
    return { size: s.size, mtime: s.mtimeMs };
  } catch {
    return undefined;
  }
}
