#!/usr/bin/env node
/**
 * `warden report` over a busy server's day (not part of `npm test`).
 *
 *   node bench/report.mjs [LINES] [--runs N] [--regen] [--json FILE]
 *
 * Generates LINES (default 1,000,000) of auth.log with gen-authlog (seed 42) ending about now
 * (--start now-span) at 12 lines/s, so that a million lines are one day (23 h), and times
 *   warden report --since FIRST-LINE --log FILE --json
 * (the whole file is the window; the SSH audit, utmp and wtmp of this machine included) with the
 * default threads, with --threads 1, and with --no-audit; wall and CPU seconds, median and min of
 * N runs (default 5). It checks the top attacking addresses and their failure counts against the
 * generator's truth (f2b_aggr column) and prints the report's own total.
 * Inputs are cached in bench/out/report-LINES/ (git-ignored) for 12 hours; --regen rebuilds them.
 * --json FILE also writes the figures as JSON (`npm run bench` runs this script and reads them).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { optionReader } from './args.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out');
const GEN = process.env.WARDEN_GEN_AUTHLOG ?? path.join(process.env.WARDEN_BENCH_SHARED ?? '/work/shared/bench', 'gen-authlog.mjs');
const argv = process.argv.slice(2);
const opt = optionReader(argv);
const positional = argv.filter((a, i) => /^\d+$/.test(a) && !['--runs', '--json'].includes(argv[i - 1]));
const lines = Number(positional[0] ?? 1_000_000);
const runs = Number(opt('--runs', 5)) || 5;
/** --json FILE: the figures also as JSON (bench/run.mjs reads them). */
const jsonOut = opt('--json', undefined);
const regen = argv.includes('--regen');

function cli() {
  const main = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const registered = spawnSync(process.execPath, [main, 'report', '--help'], { encoding: 'utf8' });
  if (registered.status === 0 && registered.stdout.startsWith('Usage: warden report')) return [main];
  return [path.join(ROOT, 'dist', 'test', 'investigate', 'run-incident.js')];
}

function prepare() {
  const dir = path.join(OUT, `report-${lines}`);
  const log = path.join(dir, 'auth.log');
  const fresh = fs.existsSync(`${log}.truth.summary.json`) && Date.now() - fs.statSync(log).mtimeMs < 12 * 3600_000;
  if (!regen && fresh) return { dir, log };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  process.stderr.write(`generating ${lines.toLocaleString('en-US')} lines in ${log} …\n`);
  const g = spawnSync(process.execPath, [GEN, String(lines), '--out', log, '--quiet', '--start', 'now-span', '--rate', '12'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (g.status !== 0) throw new Error('gen-authlog failed');
  return { dir, log };
}

/** Runs `command` (node with `args` by default) under /usr/bin/time: wall, CPU and peak RSS. */
function timed(args, command = process.execPath) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', command, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [u, s, rss] = last.split(' ').map(Number);
  return { wall, cpu: (u ?? 0) + (s ?? 0), rss: (rss ?? 0) / 1024, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { dir, log } = prepare();
const summary = JSON.parse(fs.readFileSync(`${log}.truth.summary.json`, 'utf8'));
const truth = fs.readFileSync(`${log}.truth.tsv`, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));
const aggr = new Map(truth.map((r) => [r[0], Number(r[3])]));
const warden = cli();
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-report-'));
const base = [...warden, 'report', '--json', '--since', new Date(Date.parse(summary.first_ts) - 60_000).toISOString(), '--log', log, '--state', state, '--top', '10'];
const variants = [['default', []], ['--threads 1', ['--threads', '1']], ['--no-audit', ['--no-audit']]];
// Baseline in the same minutes: the pipeline of the admin in our story (top addresses of "Failed
// password" lines). It counts one message type and nothing else, so it is a floor, not a rival.
const PIPELINE = `grep -F 'Failed password' "$1" | awk '{print $(NF-3)}' | sort | uniq -c | sort -rn | head -10`;
console.log(`# warden report — ${lines.toLocaleString('en-US')} lines (${(fs.statSync(log).size / 1048576).toFixed(0)} MB, ${summary.first_ts} → ${summary.last_ts}), ${runs} runs`);
console.log(`# ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
console.log('');
console.log('| variant | wall median s | wall min s | CPU median s | peak RSS MiB | exit | top-10 vs truth (f2b_aggr) | total failures (truth) |');
console.log('|---|---:|---:|---:|---:|---:|---|---:|');
const figures = { lines, runs, variants: [], baseline: null };
try {
  // Round-robin, so that every variant and the baseline see the same phases of this machine.
  const samples = new Map([...variants.map(([label]) => [label, []]), ['baseline', []]]);
  for (let i = 0; i < runs; i++) {
    for (const [label, extra] of variants) samples.get(label).push(timed([...base, ...extra]));
    samples.get('baseline').push(timed(['-c', `${PIPELINE} > /dev/null`, 'sh', log], '/bin/sh'));
  }
  const baseWall = median(samples.get('baseline').map((r) => r.wall));
  for (const [label] of variants) {
    const rs = samples.get(label);
    const last = rs[rs.length - 1];
    let check = '?';
    let total = '?';
    try {
      const j = JSON.parse(last.stdout);
      const want = [...aggr].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
      const got = j.attacks.top.map((a) => [a.address, a.failures]);
      check = JSON.stringify(got) === JSON.stringify(want) ? 'match' : `MISMATCH ${JSON.stringify(got.slice(0, 3))} vs ${JSON.stringify(want.slice(0, 3))}`;
      total = `${j.attacks.failures} (${summary.totals.f2b_aggr})`;
    } catch (e) {
      check = `unreadable output: ${(e.message ?? '').slice(0, 80)} ${last.stderr.slice(0, 200)}`;
    }
    const wall = median(rs.map((r) => r.wall));
    figures.variants.push({ label, wallS: rs.map((r) => r.wall), wallMedianS: wall, cpuMedianS: median(rs.map((r) => r.cpu)), rssMedianMiB: median(rs.map((r) => r.rss)), status: last.status, check, total });
    console.log(`| ${label} | ${wall.toFixed(2)} (${(wall / baseWall).toFixed(2)}× baseline) | ${Math.min(...rs.map((r) => r.wall)).toFixed(2)} | ${median(rs.map((r) => r.cpu)).toFixed(2)} | ${median(rs.map((r) => r.rss)).toFixed(0)} | ${last.status} | ${check} | ${total} |`);
  }
  const b = samples.get('baseline');
  figures.baseline = { command: PIPELINE.replace('"$1"', 'auth.log'), wallS: b.map((r) => r.wall), wallMedianS: baseWall, cpuMedianS: median(b.map((r) => r.cpu)) };
  console.log(`| baseline: \`${PIPELINE.replaceAll('|', '\\|').replace('"$1"', 'auth.log')}\` | ${baseWall.toFixed(2)} | ${Math.min(...b.map((r) => r.wall)).toFixed(2)} | ${median(b.map((r) => r.cpu)).toFixed(2)} | ${median(b.map((r) => r.rss)).toFixed(0)} | ${b[b.length - 1].status} | (failed passwords only) | |`);
  if (jsonOut) fs.writeFileSync(jsonOut, `${JSON.stringify(figures, null, 2)}\n`);
} finally {
  fs.rmSync(state, { recursive: true, force: true });
}
