/**
 * `warden search`: every log line about an address, a range or a user, across the current and
 * rotated logs and the journal, in time order, with a summary (failures and successful logins as
 * the sshd filter counts them in aggressive mode, bans, first and last seen).
 *
 * Cost: each file is streamed once; a native literal search over the raw bytes (log-lines.ts)
 * picks the few lines that can be about the target, and only those are decoded, checked token by
 * token (search-target.ts), dated and run through the filter (search-job.ts). Each file is an
 * independent job (the filter's per-process state does not cross files); when there is a lot to
 * read, the jobs run in worker threads (search-worker.ts), one per core, so scanning and inflating
 * use every core.
 */
import { Worker } from 'node:worker_threads';
import type { BanView } from '../control/protocol.js';
import { loadFilter } from '../filters/definition.js';
import { parseCidr } from '../util/ip.js';
import { idleCores, textSizeOf, type LogFile } from './log-sources.js';
import {
  bump, EMPTY_COLUMNS, newTally, runJob, tallyOne,
  type BanEvent, type Job, type JobResult, type SearchInput, type SearchMatch, type SearchOptions, type SearchParams,
  type SearchResult, type SourceReport, type WorkerMessage,
} from './search-job.js';
import { RENDER_SEPARATOR, type RenderMode } from './search-render.js';
import { parseTarget, type SearchTarget } from './search-target.js';

export type { BanEvent, Count, SearchInput, SearchMatch, SearchOptions, SearchResult, SourceReport } from './search-job.js';
export { parseBanMessage } from './search-job.js';

/**
 * Below this much text to read (a gzip file counts for its text: textSizeOf), a worker thread
 * costs more than it saves: starting one and warming up its compiled code took ~0.3 s of wall
 * and ~0.6 s of CPU here. Measured on the bench's logs (two cores), this thread alone against
 * one worker besides it: 200 MB of text (94,599 matching lines) 0.68-0.75 s against 0.84-1.1 s;
 * 420 MB about even (a heavy attacker 1.34-1.63 s against 1.23-1.29 s, an absent address
 * 0.50-0.67 s against 0.66-0.69 s); 1 GB 4.3-4.5 s against 2.4-3.6 s.
 */
export const PARALLEL_MIN_BYTES = 384 * 1024 * 1024;

/** Runs the search over every source. Never throws for a source: its problem is in `sources`. */
export async function runSearch(input: SearchInput, options: SearchOptions): Promise<SearchResult> {
  const target = parseTarget(options.target);
  const keyed = input.journal !== undefined && input.files.length > 0;
  const fileJobs: Array<{ job: Job; file: LogFile | undefined }> = [
    ...input.files.map((file) => ({ job: { name: file.path, kind: 'file' as const, keyed, ...(file.ino !== undefined ? { ino: file.ino } : {}) }, file })),
    ...(target.kind === 'address' ? input.wardenLogs ?? [] : []).map((path) => ({ job: { name: path, kind: 'warden-log' as const, keyed }, file: undefined })),
  ];
  const results: Array<JobResult | undefined> = new Array(fileJobs.length);
  const todo: number[] = [];
  fileJobs.forEach(({ job, file }, i) => {
    if (file && options.since !== undefined && !file.current && file.mtime < options.since) {
      options.progress?.add(file.size);
      results[i] = { report: { path: job.name, kind: job.kind, compressed: false, bytes: 0, lines: 0, matches: 0, skipped: true }, ...EMPTY_COLUMNS(), tally: newTally(), keys: [], counted: [] };
    } else {
      todo.push(i);
    }
  });
  const params: SearchParams = {
    target: options.target, now: options.now, filter: loadFilter('sshd'),
    ...(options.since !== undefined ? { since: options.since } : {}),
    ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
    ...(options.includeCron ? { includeCron: true } : {}),
    ...(options.render !== undefined ? { render: options.render } : {}),
  };
  const sized = todo.map((i) => textSizeOf(fileJobs[i]!.job.name, fileJobs[i]!.file?.size ?? 0));
  const bytes = sized.reduce((s, f) => s + f.text, 0);
  const cores = idleCores();
  const workers = options.workers === undefined || options.workers === 'auto'
    ? (todo.length >= 2 && bytes >= PARALLEL_MIN_BYTES && cores >= 2 ? Math.min(cores, todo.length, 8) : 0)
    : Math.min(options.workers, todo.length);
  const onBytes = options.progress ? (n: number) => options.progress?.add(n) : undefined;
  const journalJob: Promise<JobResult> | undefined = input.journal
    ? runJob({ name: 'journal', kind: 'journal', args: input.journal, keyed }, params, undefined, options.journalctl)
    : undefined;
  if (workers > 0) {
    await runInWorkers(todo.map((i, k) => ({ index: i, job: fileJobs[i]!.job, ...sized[k]! })), params, workers, results, onBytes);
  } else {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < todo.length) {
        const i = todo[next++]!;
        options.progress?.setLabel(fileJobs[i]!.job.name);
        results[i] = await runJob(fileJobs[i]!.job, params, onBytes);
      }
    };
    // Two at a time: one file is inflated on the thread pool while another is scanned.
    await Promise.all([lane(), lane()]);
  }
  const all = results.map((r) => r!);
  if (journalJob) all.push(await journalJob);
  options.progress?.finish();
  return merge(all, keyed, options.render);
}

/**
 * Reads the jobs with `threads` threads: this one and threads - 1 workers, taking jobs from one
 * queue, the most work first, so that the last jobs are short and no thread waits long for
 * another at the end. A compressed file's work is its text twice: inflating it took about as
 * much CPU as scanning its text (measured on a 205 MB log: 1.2-1.3 s against 0.7-0.9 s for the
 * same text uncompressed). Fills `results` by index.
 */
async function runInWorkers(
  jobs: Array<{ index: number; job: Job; text: number; compressed: boolean }>, params: SearchParams, threads: number,
  results: Array<JobResult | undefined>, onBytes?: (n: number) => void,
): Promise<void> {
  const work = (j: { text: number; compressed: boolean }): number => (j.compressed ? j.text * 2 : j.text);
  const queue = [...jobs].sort((a, b) => work(b) - work(a));
  const here = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) results[next.index] = await runJob(next.job, params, onBytes);
  };
  const url = new URL('./search-worker.js', import.meta.url);
  const one = (): Promise<void> => new Promise((resolve, reject) => {
    if (!queue.length) {
      resolve();
      return;
    }
    const worker = new Worker(url, { workerData: params });
    let current: { index: number; job: Job } | undefined;
    const feed = (): void => {
      current = queue.shift();
      if (current) worker.postMessage({ index: current.index, job: current.job });
      else void worker.terminate().then(() => resolve());
    };
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'bytes') onBytes?.(m.n);
      else if (m.type === 'done') {
        results[m.index] = m.result;
        feed();
      } else {
        const job = current?.job;
        results[m.index] = {
          report: { path: job?.name ?? '?', kind: job?.kind ?? 'file', compressed: false, bytes: 0, lines: 0, matches: 0, skipped: false, problem: `${job?.name ?? '?'}: ${m.error}` },
          ...EMPTY_COLUMNS(), tally: newTally(), keys: [], counted: [],
        };
        feed();
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (current && results[current.index] === undefined) reject(new Error(`search worker exited (${code}) while reading ${current.job.name}`));
    });
    feed();
  });
  await Promise.all([...Array.from({ length: Math.max(0, threads - 1) }, one), here()]);
}

/** Merges the jobs' results: matches in time order, journal entries also in a file shown once. */
function merge(all: readonly JobResult[], keyed: boolean, render: RenderMode | undefined): SearchResult {
  const fileKeys = new Set<string>();
  if (keyed) for (const r of all) if (r.report.kind === 'file') for (const k of r.keys) fileKeys.add(k);
  /** Per source, the indexes of the matches kept (all, unless a journal entry is also in a file). */
  const kept: Array<number[] | null> = [];
  let sorted = true;
  let dropped = false;
  let count = 0;
  let firstSeen: number | null = null;
  let lastSeen: number | null = null;
  let prevSort = -Infinity;
  const tally = newTally();
  const sources: SourceReport[] = [];
  for (const r of all) {
    const dedup = keyed && r.report.kind === 'journal';
    const keep: number[] | null = dedup ? [] : null;
    // A line without a readable date keeps its place after the line before it.
    let last = -Infinity;
    for (let i = 0; i < r.lineNos.length; i++) {
      if (dedup) {
        if (fileKeys.has(r.keys[i] ?? '')) {
          dropped = true;
          continue;
        }
        keep!.push(i);
        // A journal entry that is also in a file was counted there.
        const c = r.counted[i];
        if (c) tallyOne(tally, c);
      }
      const time = r.times[i]!;
      if (!Number.isNaN(time)) {
        last = time;
        if (firstSeen === null || time < firstSeen) firstSeen = time;
        if (lastSeen === null || time > lastSeen) lastSeen = time;
      }
      if (last < prevSort) sorted = false;
      prevSort = last;
      count++;
    }
    kept.push(keep);
    sources.push(dedup ? { ...r.report, matches: keep!.length } : r.report);
    tally.banEvents.push(...r.tally.banEvents);
    if (dedup) continue;
    tally.failures += r.tally.failures;
    tally.successes += r.tally.successes;
    for (const [k, c] of r.tally.addresses) { bump(tally.addresses, k, false, c.failures); bump(tally.addresses, k, true, c.successes); }
    for (const [k, c] of r.tally.users) { bump(tally.users, k, false, c.failures); bump(tally.users, k, true, c.successes); }
  }
  /** Per source: the kept indexes, and the time each match sorts by. */
  const order = (): Array<{ source: number; index: number; sortTime: number }> => {
    const out: Array<{ source: number; index: number; sortTime: number }> = [];
    all.forEach((r, j) => {
      const keep = kept[j];
      let last = -Infinity;
      const n = keep ? keep.length : r.lineNos.length;
      for (let k = 0; k < n; k++) {
        const i = keep ? keep[k]! : k;
        const time = r.times[i]!;
        if (!Number.isNaN(time)) last = time;
        out.push({ source: j, index: i, sortTime: last });
      }
    });
    return sorted ? out : out.sort((a, b) => a.sortTime - b.sortTime);
  };
  let built: SearchMatch[] | undefined;
  const build = (): SearchMatch[] => {
    if (render !== undefined) throw new Error('the matching lines were rendered, not kept (search without options.render)');
    const texts = all.map((r) => (r.lineNos.length === 0 ? [] : r.texts.split('\n')));
    return order().map(({ source, index }) => {
      const r = all[source]!;
      return { file: r.report.path, line: r.lineNos[index]!, time: r.times[index]!, text: texts[source]![index] ?? '' };
    });
  };
  let rendered: Uint8Array[] | undefined;
  if (render !== undefined) {
    if (sorted && !dropped) rendered = all.flatMap((r) => r.rendered);
    else {
      // Out of order, or duplicates dropped: the rendered matches are split, picked and ordered.
      const sep = RENDER_SEPARATOR[render];
      const pieces = all.map((r) => Buffer.concat(r.rendered).toString('utf8').split(sep).slice(1));
      rendered = [Buffer.from(order().map(({ source, index }) => `${sep}${pieces[source]![index] ?? ''}`).join(''))];
    }
  }
  tally.banEvents.sort((a, b) => (Number.isNaN(a.time) ? 0 : a.time) - (Number.isNaN(b.time) ? 0 : b.time));
  return {
    get matches(): SearchMatch[] {
      built ??= build();
      return built;
    },
    count,
    rendered,
    sources, failures: tally.failures, successes: tally.successes,
    addresses: tally.addresses, users: tally.users, banEvents: dedupBans(tally.banEvents), firstSeen, lastSeen,
  };
}

/** The same ban message read from both a file and the journal counts once. */
function dedupBans(events: readonly BanEvent[]): BanEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const key = `${Math.floor(e.time / 1000)} ${e.action} ${e.target} ${e.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The daemon's bans that concern the target: containing or overlapping it, or of an address seen. */
export function bansAbout(bans: readonly BanView[], target: SearchTarget, seen: Iterable<string>): BanView[] {
  const seenRanges = target.kind === 'address' ? [target.range] : [...seen].flatMap((a) => parseCidr(a) ?? []);
  return bans.filter((b) => {
    const r = parseCidr(b.ip);
    return r !== undefined && seenRanges.some((s) => s.overlaps(r));
  });
}
