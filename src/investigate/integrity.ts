/**
 * Signs that a login history was damaged or tampered with. wtmp is append-only by design: every
 * login program adds one record at the end, with the current time. So records that are blanked,
 * out of time order, carry impossible values, or a file written after its newest record, are each
 * worth a look. Every finding says what was seen and what it may mean: most have innocent
 * explanations too, and the admin needs both to decide.
 */
import type { LoadedFile } from './files.js';
import { isoTime } from './time.js';
import { UtmpType, type UtmpParse, type UtmpProblem, type UtmpRecord } from './utmp.js';

export interface Finding {
  readonly severity: 'warning' | 'notice';
  readonly file: string;
  /** Byte offset in the (decompressed) file, when the finding is about a place in it. */
  readonly offset: number | null;
  /** What was seen. */
  readonly seen: string;
  /** What it may mean. */
  readonly meaning: string;
}

export interface ParsedFile {
  readonly file: LoadedFile;
  readonly parse: UtmpParse;
}

export interface IntegrityOptions {
  /** Seconds since the epoch. */
  readonly now: number;
  /** A record this much older than the one before it is reported as out of order. Default 60 s. */
  readonly reorderSlack?: number;
  /** At most this many findings of one kind per file are listed; the rest are summarised. */
  readonly maxPerKind?: number;
}

const MEANING = {
  partial: 'a write was cut short (disk full, power loss) or the file was cut with a tool such as truncate or dd: records may be missing.',
  zeroed: 'login programs never write all-zero records to wtmp; blanked records among real ones are what log cleaners leave when they erase logins to hide tracks (a crash can also leave zeroed blocks, usually at the end).',
  unknownType: 'no login program writes this type: the file is damaged, was edited by hand, or is not a wtmp file.',
  badTime: 'the time was edited, or the clock was wrong when the record was written (no real-time clock, before NTP sync).',
  badUsec: 'microseconds above 999999 are never written by a login program: damage or a forged record.',
  reorder: 'wtmp is only appended to, so times should only grow: a record was inserted or its time edited — or the clock was set back (NTP step, no real-time clock at boot).',
  strings: 'names and hosts are written by login programs from clean sources; control or invalid bytes mean damage, a forged record, or a crafted name meant to mislead a terminal.',
  empty: 'wiped (for example "> /var/log/wtmp") or freshly rotated: compare with the rotated copy and with the SSH daemon\'s log (journalctl -u ssh, /var/log/auth.log).',
  mtimeBefore: 'the file changed after its modification time claims: it was edited and its time reset (touch), or copied without keeping times.',
  mtimeAfter: 'something wrote to the file without adding a login record: records may have been removed or edited (or the file was copied or recreated, which also sets the time).',
  filesOrder: 'rotated generations should follow each other in time: a file was replaced, renamed, or edited.',
} as const;

export function checkIntegrity(files: readonly ParsedFile[], options: IntegrityOptions): Finding[] {
  const findings: Finding[] = [];
  const max = options.maxPerKind ?? 20;
  for (const { file, parse } of files) {
    const add = limiter(findings, file.path, max);
    for (const p of file.problems) add('read', { severity: 'warning', file: file.path, offset: null, seen: p, meaning: 'the part that could not be read is missing from the history.' });
    if (file.data.length === 0) {
      add('empty', { severity: 'notice', file: file.path, offset: null, seen: 'the file is empty', meaning: MEANING.empty });
      continue;
    }
    reportParseProblems(parse, file.path, add);
    reportStrings(parse.records, file.path, add);
    reportOrder(parse.records, file.path, options.reorderSlack ?? 60, add);
    if (!file.compressed) reportMtime(parse.records, file, add);
    add.flush();
  }
  reportFileOrder(files, options.reorderSlack ?? 60, findings);
  return findings;
}

type Add = ((kind: string, f: Finding) => void) & { flush(): void };

/** Keeps the list readable when a file is badly damaged: `max` per kind, then one summary line. */
function limiter(out: Finding[], file: string, max: number): Add {
  const counts = new Map<string, number>();
  const add = ((kind: string, f: Finding) => {
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    if (n <= max) out.push(f);
  }) as Add;
  add.flush = () => {
    for (const [kind, n] of counts) {
      if (n > max) out.push({ severity: 'notice', file, offset: null, seen: `${n - max} more findings of the kind "${kind}" not listed`, meaning: 'see the ones above.' });
    }
  };
  return add;
}

function reportParseProblems(parse: UtmpParse, file: string, add: Add): void {
  const zeroed = parse.problems.filter((p) => p.kind === 'zeroed');
  for (const run of runs(zeroed)) {
    const before = lastRealBefore(parse.records, run.first);
    const after = firstRealAfter(parse.records, run.last);
    const between = before || after
      ? `, between ${before ? iso(before.sec) : 'the start of the file'} and ${after ? iso(after.sec) : 'the end of the file'}`
      : '';
    const count = run.count === 1 ? 'a zeroed record' : `${run.count} zeroed records in a row`;
    const where = run.count === 1 ? `at offset ${run.first}` : `at offsets ${run.first}-${run.last}`;
    add('zeroed', { severity: 'warning', file, offset: run.first, seen: `${count} ${where}${between}`, meaning: MEANING.zeroed });
  }
  for (const p of parse.problems) {
    const meaning = p.kind === 'partial-record' ? MEANING.partial : p.kind === 'unknown-type' ? MEANING.unknownType
      : p.kind === 'bad-time' ? MEANING.badTime : p.kind === 'bad-usec' ? MEANING.badUsec : undefined;
    if (!meaning) continue;
    add(p.kind, { severity: 'warning', file, offset: p.offset, seen: `${p.message} (offset ${p.offset})`, meaning });
  }
}

/** Consecutive zeroed records (384 bytes apart) grouped into runs. */
function runs(problems: readonly UtmpProblem[]): Array<{ first: number; last: number; count: number }> {
  const out: Array<{ first: number; last: number; count: number }> = [];
  for (const p of problems) {
    const cur = out[out.length - 1];
    if (cur && p.offset === cur.last + 384) { cur.last = p.offset; cur.count++; } else out.push({ first: p.offset, last: p.offset, count: 1 });
  }
  return out;
}

function isReal(r: UtmpRecord): boolean {
  return !r.zeroed && r.type !== UtmpType.EMPTY;
}

function lastRealBefore(records: readonly UtmpRecord[], offset: number): UtmpRecord | undefined {
  let found: UtmpRecord | undefined;
  for (const r of records) { if (r.offset >= offset) break; if (isReal(r)) found = r; }
  return found;
}

function firstRealAfter(records: readonly UtmpRecord[], offset: number): UtmpRecord | undefined {
  return records.find((r) => r.offset > offset && isReal(r));
}

function reportStrings(records: readonly UtmpRecord[], file: string, add: Add): void {
  // eslint-disable-next-line no-control-regex
  const odd = /[\u0000-\u001f\u007f-\u009f\ufffd]/;
  for (const r of records) {
    const fields = (['user', 'line', 'host'] as const).filter((k) => odd.test(r[k]));
    if (fields.length) {
      add('strings', { severity: 'warning', file, offset: r.offset, seen: `${fields.join(', ')} of the record at offset ${r.offset} contain control or invalid bytes`, meaning: MEANING.strings });
    }
  }
}

function reportOrder(records: readonly UtmpRecord[], file: string, slack: number, add: Add): void {
  let prev: UtmpRecord | undefined;
  for (const r of records) {
    if (!isReal(r)) continue;
    // A clock change is announced by OLD_TIME/NEW_TIME records: the jump that follows is explained.
    if (prev && prev.type !== UtmpType.OLD_TIME && prev.type !== UtmpType.NEW_TIME && r.type !== UtmpType.NEW_TIME && r.sec < prev.sec - slack) {
      add('order', {
        severity: 'warning', file, offset: r.offset,
        seen: `record at offset ${r.offset} (${describe(r)}, ${iso(r.sec)}) is ${span(prev.sec - r.sec)} older than the record before it (${iso(prev.sec)}, offset ${prev.offset})`,
        meaning: MEANING.reorder,
      });
    }
    prev = r;
  }
}

function reportMtime(records: readonly UtmpRecord[], file: LoadedFile, add: Add): void {
  const real = records.filter(isReal);
  if (!real.length) return;
  const newest = Math.max(...real.map((r) => r.sec));
  if (newest > file.mtime + 60) {
    add('mtime', { severity: 'warning', file: file.path, offset: null, seen: `newest record (${iso(newest)}) is later than the file's modification time (${iso(file.mtime)})`, meaning: MEANING.mtimeBefore });
  } else if (file.mtime > newest + 3600) {
    add('mtime', { severity: 'notice', file: file.path, offset: null, seen: `file modified at ${iso(file.mtime)}, ${span(file.mtime - newest)} after its newest record (${iso(newest)})`, meaning: MEANING.mtimeAfter });
  }
}

function reportFileOrder(files: readonly ParsedFile[], slack: number, out: Finding[]): void {
  let prev: { path: string; newest: number } | undefined;
  for (const { file, parse } of files) {
    const real = parse.records.filter(isReal);
    if (!real.length) continue;
    const oldest = Math.min(...real.map((r) => r.sec));
    if (prev && oldest < prev.newest - slack) {
      out.push({
        severity: 'warning', file: file.path, offset: null,
        seen: `its oldest record (${iso(oldest)}) is older than the newest record of ${prev.path} (${iso(prev.newest)}), which should precede it`,
        meaning: MEANING.filesOrder,
      });
    }
    prev = { path: file.path, newest: Math.max(...real.map((r) => r.sec)) };
  }
}

function describe(r: UtmpRecord): string {
  if (r.line.startsWith('~')) return r.user || r.typeName;
  return r.user ? `${r.typeName} ${r.user} on ${r.line}` : `${r.typeName} on ${r.line}`;
}

function iso(sec: number): string {
  return isoTime(sec) ?? String(sec);
}

function span(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
