import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { CompiledFilter } from '../../filters/engine.js';
import { DateParser } from '../../filters/dates.js';
import { loadFilter } from '../../filters/definition.js';
import { parse, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';
import { UsageError } from '../usage.js';

export const testCommand: Command = {
  name: 'test',
  summary: 'run a filter over a log and report what it finds',
  usage: `Usage: warden test [--filter NAME|FILE] [--mode MODE] [--timezone TZ] [--json] [--unmatched N] FILE|-

Runs a filter (default sshd) over a log file ("-" = stdin), like a regex tester.
  --json         one JSON object: {"failures": [{"line", "host", "time", "rule"}], "lines", "matched"}
                 (line = 1-based line number; time = ISO 8601 with offset; each repeat of a
                 "message repeated N times" line is one failure)
  --unmatched N  show up to N lines of the filter's programs that no rule matched (default 10)
WARDEN_NOW (epoch seconds) sets "now" for inferring the year of syslog dates.
`,
  async run(args) {
    const { values, positionals } = parse(args, {
      filter: { type: 'string' }, mode: { type: 'string' }, json: { type: 'boolean' }, timezone: { type: 'string' }, unmatched: { type: 'string' },
    }, 1);
    const file = positionals[0];
    if (!file) throw new UsageError('which log? give a FILE or - for stdin');
    const nowEnv = process.env['WARDEN_NOW'];
    const nowMs = nowEnv !== undefined ? Number(nowEnv) * 1000 : Date.now();
    if (!Number.isFinite(nowMs)) throw new UsageError(`WARDEN_NOW must be epoch seconds, not "${nowEnv}"`);
    const definition = loadFilter((values['filter'] as string | undefined) ?? 'sshd');
    const dates = new DateParser({ timezone: (values['timezone'] as string | undefined) ?? 'local', now: () => nowMs });
    const filter = new CompiledFilter(definition, { mode: values['mode'] as string | undefined, dates });
    const showUnmatched = Number((values['unmatched'] as string | undefined) ?? 10);
    if (!Number.isInteger(showUnmatched) || showUnmatched < 0) throw new UsageError('--unmatched takes a whole number');
    const json = values['json'] === true;

    // JSON failures are streamed out as they are found, so a log of millions of lines needs no
    // memory for them: {"failures":[...],"lines":N,"matched":M}.
    const failures: string[] = [];
    let written = 0;
    const flushFailures = (): void => {
      if (!failures.length) return;
      writeOut((written === 0 ? '' : ',') + failures.join(','));
      written += failures.length;
      failures.length = 0;
    };
    if (json) writeOut('{"failures":[');
    const perRule = new Map<string, number>();
    const perHost = new Map<string, number>();
    const unmatched: string[] = [];
    let lines = 0, matched = 0, successes = 0;
    const started = performance.now();
    forEachLine(file, (line, n) => {
      lines++;
      const outcome = filter.match(line, nowMs);
      if (outcome === 'unmatched') {
        if (unmatched.length < showUnmatched) unmatched.push(`${n}: ${line}`);
        return;
      }
      if (outcome !== 'detected') return;
      const d = filter.last!;
      if (d.action === 'success') {
        successes++;
        return;
      }
      matched++;
      perRule.set(d.rule, (perRule.get(d.rule) ?? 0) + d.count);
      perHost.set(d.address.text, (perHost.get(d.address.text) ?? 0) + d.count);
      if (json) {
        const entry = `{"line":${n},"host":"${d.address.text}","time":"${isoWithOffset(d.time)}","rule":"${d.rule}"}`;
        for (let i = 0; i < d.count; i++) failures.push(entry);
        if (failures.length >= 4096) flushFailures();
      }
    });
    const seconds = (performance.now() - started) / 1000;
    if (json) {
      flushFailures();
      writeOut(`],"lines":${lines},"matched":${matched}}\n`);
      return 0;
    }
    const c = filter.counts;
    const out: string[] = [];
    out.push(`filter ${definition.name}, mode ${filter.mode}: ${lines} lines in ${seconds.toFixed(2)} s (${Math.round(lines / Math.max(seconds, 1e-9)).toLocaleString('en-US')} lines/s)`);
    out.push(`  ${matched} lines with failures (${[...perHost.values()].reduce((a, b) => a + b, 0)} failures from ${perHost.size} addresses), ${successes} successful logins`);
    out.push(`  ${c.recognized} recognised and not counted, ${c.unmatched} of the filter's programs unmatched, ${c.other} other programs or unparsed`);
    if (c.badHost) out.push(`  ${c.badHost} matched lines whose host was not an IP address (ignored)`);
    if (c.truncated) out.push(`  ${c.truncated} over-long messages truncated for matching`);
    out.push('', renderTable(['rule', 'failures'], [...perRule].sort((a, b) => b[1] - a[1])).trimEnd());
    const top = [...perHost].sort((a, b) => b[1] - a[1]).slice(0, 10);
    if (top.length) out.push('', renderTable(['address (top 10)', 'failures'], top).trimEnd());
    if (unmatched.length) {
      out.push('', `unmatched lines of ${definition.programs.join('/') || 'any program'} (first ${unmatched.length} of ${c.unmatched}):`);
      for (const u of unmatched) out.push(`  ${safeText(u)}`);
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

/** Synchronous write to stdout: output keeps pace with the scan instead of queueing in memory. */
function writeOut(text: string): void {
  const data = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(1, data, offset);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code === 'EPIPE') process.exit(0); // the reader (head, a pager) is done
      throw e;
    }
  }
}

/** Calls `fn` for every line of a file (or stdin for "-"), reading in large chunks. */
function forEachLine(file: string, fn: (line: string, lineNumber: number) => void): void {
  const fd = file === '-' ? 0 : openFile(file);
  // 64 KiB: the decoded chunk stays below V8's large-object size, so it dies young in a cheap
  // scavenge instead of piling up in large-object space until a full collection.
  const buffer = Buffer.allocUnsafe(1 << 16);
  let carry = '';
  let n = 0;
  try {
    for (;;) {
      let read: number;
      try {
        read = readSync(fd, buffer, 0, buffer.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        if ((e as NodeJS.ErrnoException).code === 'EOF') break;
        throw e;
      }
      if (read === 0) break;
      // Cut at the last newline so a multi-byte character is never split across chunks.
      const lastNl = buffer.lastIndexOf(10, read - 1);
      if (lastNl < 0) {
        carry += buffer.toString('utf8', 0, read);
        continue;
      }
      const text = carry + buffer.toString('utf8', 0, lastNl);
      carry = buffer.toString('utf8', lastNl + 1, read);
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) {
          fn(text.slice(start), ++n);
          break;
        }
        fn(text.slice(start, nl), ++n);
        start = nl + 1;
      }
    }
    if (carry) fn(carry, ++n);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

function openFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** "2026-03-01T00:00:01+01:00" in the local zone (or "Z"-free UTC "+00:00"). */
export function isoWithOffset(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const local = new Date(ms + off * 60_000).toISOString().slice(0, 19);
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
