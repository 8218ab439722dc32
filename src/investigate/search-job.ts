/**
 * One job of `warden search`: reading one file (or the journal) and collecting the lines about the
 * target, with what the sshd filter counts in them. Runs in the main thread or in a worker thread
 * (search-worker.ts), so it gets everything as plain data — the filter definition included, which
 * spares a worker the YAML parser.
 */
import { DateParser } from '../filters/dates.js';
import type { FilterDefinition } from '../filters/definition.js';
import { CompiledFilter } from '../filters/engine.js';
import { newHeader, parseHeader } from '../filters/header.js';
import { parseCidr } from '../util/ip.js';
import { ByteClass } from './byte-kernel.js';
import { FilterPrefilter } from './filter-prefilter.js';
import { LineScanner, readJournal, readLogFile } from './log-lines.js';
import type { LogFile, Progress } from './log-sources.js';
import { RenderSink, type RenderMode } from './search-render.js';
import { mentionsAddress, parseTarget, usersIn, type SearchTarget } from './search-target.js';

export interface SearchMatch {
  /** The file the line is in, or "journal". */
  readonly file: string;
  /** 1-based line number in the (decompressed) file, or in journalctl's output. */
  readonly line: number;
  /** Epoch ms from the line's own date; NaN when it has none that can be read. */
  readonly time: number;
  readonly text: string;
}

export interface SourceReport {
  readonly path: string;
  readonly kind: 'file' | 'journal' | 'warden-log';
  readonly compressed: boolean;
  /** Bytes read (compressed size for gzip). */
  readonly bytes: number;
  readonly lines: number;
  readonly matches: number;
  /** Skipped because it was last written before --since. */
  readonly skipped: boolean;
  readonly problem?: string;
}

export interface Count { failures: number; successes: number }

export interface BanEvent {
  /** Epoch ms; NaN when unknown. */
  readonly time: number;
  readonly action: 'ban' | 'unban' | 'expired' | 'lifted';
  readonly target: string;
  readonly jail: string | null;
  readonly detail: string;
}

export interface SearchResult {
  /** The matching lines in time order (built on first use; not kept when options.render is set). */
  readonly matches: SearchMatch[];
  readonly count: number;
  /**
   * With options.render: the matches rendered in time order, as UTF-8 chunks to write one after
   * the other; each match is preceded by RENDER_SEPARATOR, the first one included.
   */
  readonly rendered: Uint8Array[] | undefined;
  readonly sources: SourceReport[];
  /** Attempts counted by the sshd filter (aggressive mode) in the matching lines. */
  readonly failures: number;
  readonly successes: number;
  /** Per address (for a user, the addresses it came from; for a range, its addresses). */
  readonly addresses: Map<string, Count>;
  /** Per user named in failures and successes. */
  readonly users: Map<string, Count>;
  /** Ban, unban and expiry messages of warden's own log found among the lines. */
  readonly banEvents: BanEvent[];
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
}

export interface SearchInput {
  readonly files: readonly LogFile[];
  /** journalctl arguments (without -o), when the journal is read. */
  readonly journal?: readonly string[];
  /** warden's own log files ("ISO LEVEL message" lines), read for ban messages. */
  readonly wardenLogs?: readonly string[];
}

/** What a job needs to know; plain data, so it can be handed to a worker thread. */
export interface SearchParams {
  /** The target as the user gave it (parsed again where the job runs). */
  readonly target: string;
  /** Epoch ms: lines dated before are left out, and rotated files last written before are skipped. */
  readonly since?: number;
  /** "Now" for the year of syslog dates, epoch ms. */
  readonly now: number;
  /** Zone for dates without one: 'local' (default), 'UTC' or '+02:00'. */
  readonly timezone?: string;
  /** Include cron's session lines in a user search (every cron job opens a session for its user). */
  readonly includeCron?: boolean;
  /** Also render each match for printing (done where the job runs, to spread the work). */
  readonly render?: RenderMode;
  /** The sshd filter (loadFilter('sshd')), run in aggressive mode over the matching lines. */
  readonly filter: FilterDefinition;
}

export interface SearchOptions extends Omit<SearchParams, 'filter'> {
  readonly progress?: Progress;
  /**
   * Threads reading files, this one included: 'auto' (default) is one per idle core (idleCores)
   * when there are at least two files and PARALLEL_MIN_BYTES to read; 0 reads everything in this
   * thread (two files at a time, so that one is inflated while the other is scanned).
   */
  readonly workers?: 'auto' | number;
  readonly journalctl?: string;
}

const KEX = Buffer.from('kex_exchange_identification');
const CRON = new Set(['CRON', 'cron', 'crond', 'anacron']);

export interface Tally {
  failures: number;
  successes: number;
  addresses: Map<string, Count>;
  users: Map<string, Count>;
  banEvents: BanEvent[];
}

/**
 * What one job found, in columns so that a worker thread hands it back cheaply (two typed arrays
 * moved, one string copied, instead of an object per line).
 */
export interface JobResult {
  readonly report: SourceReport;
  /** Line numbers of the matches. */
  readonly lineNos: Float64Array;
  /** Their times (epoch ms, NaN when unknown). */
  readonly times: Float64Array;
  /** Their texts joined with newlines (a line holds none); '' when rendered instead. */
  readonly texts: string;
  /**
   * With params.render: the matches rendered, each preceded by RENDER_SEPARATOR (which a rendered
   * match cannot contain: JSON and safeText escape newlines), in UTF-8 chunks: bytes written as
   * the lines come, so that no string per line outlives its line, and moved (not copied) to the
   * main thread.
   */
  readonly rendered: Uint8Array[];
  readonly tally: Tally;
  /** Per match, a key to recognise the same entry in a file and in the journal (when keyed). */
  readonly keys: string[];
  /** Per match, what it counted (when keyed): a journal entry also in a file is counted once. */
  readonly counted: Array<Counted | null>;
}

/** [address, user or '', success, count] */
export type Counted = [string, string, boolean, number];

export interface Job {
  readonly name: string;
  readonly kind: SourceReport['kind'];
  /** journalctl arguments for the journal job. */
  readonly args?: readonly string[];
  /** Keep dedup keys (the journal is read besides files). */
  readonly keyed: boolean;
  /** A file's inode when it was selected (LogFile.ino): only that file is read under its name. */
  readonly ino?: number;
}

export const EMPTY_COLUMNS = (): Pick<JobResult, 'lineNos' | 'times' | 'texts' | 'rendered'> => ({ lineNos: new Float64Array(0), times: new Float64Array(0), texts: '', rendered: [] });

export function newTally(): Tally {
  return { failures: 0, successes: 0, addresses: new Map(), users: new Map(), banEvents: [] };
}

/** Collects the matching lines of one source. */
class Collector {
  readonly lineNos: number[] = [];
  readonly times: number[] = [];
  readonly texts: string[] = [];
  readonly keys: string[] = [];
  readonly counted: Array<Counted | null> = [];
  readonly tally = newTally();
  private readonly filter: CompiledFilter;
  private readonly header = newHeader();
  private readonly fallback = Date.now();
  private readonly since: number;
  private readonly prefilter: FilterPrefilter;
  private readonly sink: RenderSink | undefined;
  /** Reads the job's lines into onLine: only those holding one of the target's needles. */
  readonly scanner: LineScanner;
  /** tallyDirect: the entries of the last address and user counted. */
  private lastAddress: { key: string; count: Count } | undefined;
  private lastUser: { key: string; count: Count } | undefined;

  constructor(
    private readonly job: Job,
    private readonly target: SearchTarget,
    private readonly params: SearchParams,
    private readonly dates: DateParser,
  ) {
    const definition = params.filter;
    this.filter = new CompiledFilter(definition, { mode: 'aggressive', dates });
    this.prefilter = new FilterPrefilter(definition, 'aggressive');
    this.since = params.since ?? -Infinity;
    this.sink = params.render ? new RenderSink(params.render) : undefined;
    this.scanner = new LineScanner(needlesFor(target, job.kind), this.onLine);
  }

  readonly onLine = (buf: Buffer, start: number, end: number, lineNo: number): void => {
    // What the line's bytes are, when they lie where the kernel can look (a line carried over from
    // one chunk to the next does not): plain ASCII decodes as latin1 (the same text, no UTF-8
    // validation) and is printed by copying its bytes.
    const kernel = this.scanner.kernel;
    const cls = kernel !== null && buf === kernel.buf ? kernel.classify(start, end) : ByteClass.Other;
    const text = buf.toString(cls === ByteClass.Other ? 'utf8' : 'latin1', start, end);
    const target = this.target;
    if (this.job.kind === 'warden-log') {
      this.wardenLine(text, lineNo, buf, start, end, cls);
      return;
    }
    const h = this.header;
    const parsed = parseHeader(text, this.dates, h);
    const time = parsed ? h.time : NaN;
    let about: boolean;
    if (target.kind === 'address') {
      about = mentionsAddress(text, target);
    } else {
      about = usersIn(parsed ? text.slice(h.messageStart) : text).includes(target.user);
      if (about && !this.params.includeCron && parsed && CRON.has(text.slice(h.programStart, h.programEnd))) about = false;
    }
    // The filter also sees the other lines the prefilter let through (kex_exchange_identification
    // marks, which a later "Connection closed by ADDR" of the same process completes); it is
    // spared the lines it certainly ignores (FilterPrefilter).
    const outcome = parsed && this.prefilter.messageMayAct(text, h.messageStart)
      ? this.filter.matchParsed(text, h, this.fallback) : 'other';
    if (!about || time < this.since) return;
    const counted = outcome === 'detected' ? this.count() : null;
    const mStart = parsed ? h.messageStart : 0;
    if (target.kind === 'address' && mayBeBanMessage(text, mStart)) {
      const ban = parseBanMessage(text.slice(mStart), time);
      if (ban && banAbout(ban, target)) this.tally.banEvents.push(ban);
    }
    this.add(lineNo, time, text, buf, start, end, cls);
    if (this.job.keyed) {
      this.keys.push(parsed ? `${Math.floor(time / 1000)} ${text.slice(h.programStart)}` : text);
      this.counted.push(counted);
    }
  };

  /** One match: `text` is buf[start, end) decoded, `cls` what those bytes are (the sink may copy them). */
  private add(lineNo: number, time: number, text: string, buf: Buffer, start: number, end: number, cls: ByteClass): void {
    this.lineNos.push(lineNo);
    this.times.push(time);
    if (this.sink) this.sink.addBytes(this.job.name, lineNo, time, text, buf, start, end, cls);
    else this.texts.push(text);
  }

  /** The rendered chunks (see JobResult.rendered). */
  renderedChunks(): Buffer[] {
    return this.sink ? this.sink.take() : [];
  }

  private count(): Counted | null {
    const d = this.filter.last!;
    const target = this.target;
    if (target.kind === 'address'
      ? (target.single ? d.address.text !== target.text : !target.range.contains(d.address))
      : d.user !== undefined && d.user !== target.user) return null;
    const success = d.action === 'success';
    if (!this.job.keyed) {
      // Nothing kept per match: counted straight into the tally (a heavy attacker has a detection
      // on most of its lines).
      this.tallyDirect(d.address.text, d.user ?? '', success, d.count);
      return null;
    }
    const counted: Counted = [d.address.text, d.user ?? '', success, d.count];
    tallyOne(this.tally, counted);
    return counted;
  }

  /**
   * tallyOne without the tuple, and without a hash lookup when the address (or user) is the one of
   * the previous detection: its entry is the same object, updated in place.
   */
  private tallyDirect(address: string, user: string, success: boolean, n: number): void {
    const t = this.tally;
    if (success) t.successes += n;
    else t.failures += n;
    if (this.lastAddress === undefined || this.lastAddress.key !== address) this.lastAddress = { key: address, count: entry(t.addresses, address) };
    if (success) this.lastAddress.count.successes += n;
    else this.lastAddress.count.failures += n;
    if (user === '') return;
    if (this.lastUser === undefined || this.lastUser.key !== user) this.lastUser = { key: user, count: entry(t.users, user) };
    if (success) this.lastUser.count.successes += n;
    else this.lastUser.count.failures += n;
  }

  /** warden's own log outside the journal: "2026-03-01T00:00:00.000Z WARN  ban 192.0.2.7 in sshd ...". */
  private wardenLine(text: string, lineNo: number, buf: Buffer, start: number, end: number, cls: ByteClass): void {
    const target = this.target;
    if (target.kind !== 'address' || !mentionsAddress(text, target)) return;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) +\w+ +(.*)$/.exec(text);
    const time = m ? Date.parse(m[1]!) : NaN;
    if (time < this.since) return;
    const ban = parseBanMessage(m ? m[2]! : text, time);
    if (ban && banAbout(ban, target)) this.tally.banEvents.push(ban);
    this.add(lineNo, time, text, buf, start, end, cls);
    if (this.job.keyed) {
      this.keys.push(text);
      this.counted.push(null);
    }
  }
}

export function tallyOne(t: Tally, [address, user, success, n]: Counted): void {
  if (success) t.successes += n;
  else t.failures += n;
  bump(t.addresses, address, success, n);
  if (user !== '') bump(t.users, user, success, n);
}

function banAbout(ban: BanEvent, target: SearchTarget): boolean {
  if (target.kind !== 'address') return false;
  const range = parseCidr(ban.target);
  return range !== undefined && range.overlaps(target.range);
}

export function bump(map: Map<string, Count>, key: string, success: boolean, n: number): void {
  const c = entry(map, key);
  if (success) c.successes += n;
  else c.failures += n;
}

/** The key's entry, added (at zero) when missing. */
function entry(map: Map<string, Count>, key: string): Count {
  let c = map.get(key);
  if (!c) {
    c = { failures: 0, successes: 0 };
    map.set(key, c);
  }
  return c;
}

/** A cheap look at the first bytes before the regular expressions of parseBanMessage. */
function mayBeBanMessage(text: string, start: number): boolean {
  const at = text.charCodeAt(start) === 60 /* < */ ? start + 3 : start;
  return text.startsWith('ban ', at) || text.startsWith('unban ', at) || text.startsWith('permanent ban ', at);
}

/**
 * The messages warden logs about bans (src/bans/enforcer.ts, src/daemon/daemon.ts): automatic and
 * manual bans, unbans, expiries and lifted permanent bans. A syslog priority prefix ("<4>") is
 * tolerated.
 */
export function parseBanMessage(message: string, time: number): BanEvent | undefined {
  const text = message.replace(/^<\d>/, '');
  let m = /^ban (\S+) in (\S+) (permanently|for \S+): (.*)$/.exec(text);
  if (m) return { time, action: 'ban', target: m[1]!, jail: m[2]!, detail: `${m[3]!}: ${m[4]!}` };
  m = /^ban (\S+) \((\S+)\) by (.*) (permanently|for \S+)$/.exec(text);
  if (m) return { time, action: 'ban', target: m[1]!, jail: m[2]!, detail: `${m[4]!} by ${m[3]!}` };
  m = /^unban (\S+) by (.*)$/.exec(text);
  if (m) return { time, action: 'unban', target: m[1]!, jail: null, detail: `by ${m[2]!}` };
  m = /^ban of (\S+) \((\S+)\) expired$/.exec(text);
  if (m) return { time, action: 'expired', target: m[1]!, jail: m[2]!, detail: 'expired' };
  m = /^permanent ban of (\S+) lifted: (.*)$/.exec(text);
  if (m) return { time, action: 'lifted', target: m[1]!, jail: null, detail: m[2]! };
  return undefined;
}

/** The byte strings a job's scanner looks for. */
function needlesFor(target: SearchTarget, kind: Job['kind']): Buffer[] {
  if (target.kind === 'address' && kind !== 'warden-log') return [...target.needles, KEX];
  return [...target.needles];
}

export function datesFor(params: SearchParams): DateParser {
  return new DateParser({ now: () => params.now, ...(params.timezone !== undefined ? { timezone: params.timezone } : {}) });
}

/**
 * Runs one job in this thread: reads the file (or the journal) and collects its matches.
 * `onBytes` reports file bytes read, for a progress bar.
 */
export async function runJob(job: Job, params: SearchParams, onBytes?: (n: number) => void, journalctl?: string): Promise<JobResult> {
  const target = parseTarget(params.target);
  const collector = new Collector(job, target, params, datesFor(params));
  const scanner = collector.scanner;
  let report: SourceReport;
  if (job.kind === 'journal') {
    const out = await readJournal(job.args ?? [], scanner, journalctl !== undefined ? { journalctl } : {});
    report = { path: 'journal', kind: 'journal', compressed: false, bytes: out.bytesRead, lines: scanner.lines, matches: collector.lineNos.length, skipped: false, ...(out.problem ? { problem: out.problem } : {}) };
  } else {
    const out = await readLogFile(job.name, scanner, { ...(onBytes ? { onBytes } : {}), ...(job.ino !== undefined ? { ino: job.ino } : {}) });
    report = { path: job.name, kind: job.kind, compressed: out.compressed, bytes: out.bytesRead, lines: scanner.lines, matches: collector.lineNos.length, skipped: false, ...(out.problem ? { problem: out.problem } : {}) };
  }
  return {
    report, lineNos: Float64Array.from(collector.lineNos), times: Float64Array.from(collector.times),
    texts: collector.texts.join('\n'), tally: collector.tally,
    rendered: collector.renderedChunks(), keys: collector.keys, counted: collector.counted,
  };
}

/** Messages from a search worker. */
export type WorkerMessage =
  | { readonly type: 'bytes'; readonly n: number }
  | { readonly type: 'done'; readonly index: number; readonly result: JobResult }
  | { readonly type: 'failed'; readonly index: number; readonly error: string };

