#!/usr/bin/env node
/**
 * `warden search` against `zgrep -F` on the same logs (not part of `npm test`).
 *
 *   node bench/search.mjs [SIZE_MB] [--runs N] [--regen] [--json FILE]
 *
 * Generates SIZE_MB (default 200; 1024 for the 1 GB) of auth.log with gen-authlog
 * (deterministic, seed 42) and splits it like a rotated log: auth.log.4.gz, auth.log.3.gz,
 * auth.log.2.gz, auth.log.1, auth.log (equal parts, oldest first). Then, for a heavy attacker,
 * a medium one and an absent address, times
 *   warden search ADDR --log DIR/auth.log      (reads the five generations itself)
 *   zgrep -F ADDR DIR/auth.log.4.gz … DIR/auth.log
 * with output to a file (GNU grep stops at the first match when its output is /dev/null), and
 * prints wall and CPU seconds (median of N runs, default 3) and the lines each found. zgrep's
 * count is also given after a word-boundary filter (what warden matches: a whole address token).
 * Inputs are cached in bench/out/search-SIZE/ (git-ignored); --regen rebuilds them.
 * --json FILE also writes the figures as JSON (`npm run bench` runs this script and reads them).
 */
import { spawnSync, execFileSync } from 'node:child_process';
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
const sizeMb = Number(positional[0] ?? 200);
const runs = Number(opt('--runs', 3)) || 3;
/** --json FILE: the figures also as JSON (bench/run.mjs reads them). */
const jsonOut = opt('--json', undefined);
const regen = argv.includes('--regen');
const BYTES_PER_LINE = 104.7; // gen-authlog's syslog format, measured

function cli() {
  const main = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const registered = spawnSync(process.execPath, [main, 'search', '--help'], { encoding: 'utf8' });
  if (registered.status === 0 && registered.stdout.startsWith('Usage: warden search')) return [main];
  return [path.join(ROOT, 'dist', 'test', 'investigate', 'run-incident.js')];
}

function prepare() {
  const dir = path.join(OUT, `search-${sizeMb}`);
  const lines = Math.round((sizeMb * 1048576) / BYTES_PER_LINE);
  const stamp = path.join(dir, 'stamp');
  const want = JSON.stringify({ lines, gen: fs.statSync(GEN).size });
  if (!regen && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const all = path.join(dir, 'all.log');
  process.stderr.write(`generating ${lines.toLocaleString('en-US')} lines (${sizeMb} MB) in ${dir} …\n`);
  const g = spawnSync(process.execPath, [GEN, String(lines), '--out', all, '--quiet', '--start', '2026-01-01T00:00:00Z', '--rate', '20'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (g.status !== 0) throw new Error('gen-authlog failed');
  // Split at line boundaries into five equal parts.
  const size = fs.statSync(all).size;
  const fd = fs.openSync(all, 'r');
  const names = ['auth.log.4', 'auth.log.3', 'auth.log.2', 'auth.log.1', 'auth.log'];
  let start = 0;
  const buf = Buffer.alloc(1 << 16);
  names.forEach((name, i) => {
    let end = size;
    if (i < names.length - 1) {
      const n = fs.readSync(fd, buf, 0, buf.length, Math.floor((size * (i + 1)) / names.length));
      end = Math.floor((size * (i + 1)) / names.length) + buf.subarray(0, n).indexOf(10) + 1;
    }
    const out = fs.openSync(path.join(dir, name), 'w');
    const chunk = Buffer.alloc(1 << 22);
    for (let pos = start; pos < end;) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - pos), pos);
      fs.writeSync(out, chunk, 0, n);
      pos += n;
    }
    fs.closeSync(out);
    start = end;
  });
  fs.closeSync(fd);
  for (const name of names.slice(0, 3)) execFileSync('gzip', ['-6', path.join(dir, name)]);
  fs.renameSync(`${all}.truth.tsv`, path.join(dir, 'truth.tsv'));
  fs.rmSync(all);
  fs.rmSync(`${all}.truth.summary.json`, { force: true });
  fs.writeFileSync(stamp, want);
  return dir;
}

function timed(cmd, args, outFile) {
  const fd = fs.openSync(outFile, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(fd);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [u, s, rss] = last.split(' ').map(Number);
  return { wall, cpu: (u ?? 0) + (s ?? 0), rss: (rss ?? 0) / 1024, status: r.status };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function countLines(file) {
  let n = 0;
  const buf = fs.readFileSync(file);
  for (let p = buf.indexOf(10); p >= 0; p = buf.indexOf(10, p + 1)) n++;
  return n;
}

function tokenLines(file, addr) {
  const esc = addr.replace(/[.]/g, '\\.');
  const re = new RegExp(`(^|[^\\w.:])${esc}($|[^\\w:]|\\.(?!\\d))`);
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => re.test(l)).length;
}

const dir = prepare();
const files = ['auth.log.4.gz', 'auth.log.3.gz', 'auth.log.2.gz', 'auth.log.1', 'auth.log'].map((n) => path.join(dir, n));
const total = files.reduce((s, f) => s + fs.statSync(f).size, 0);
const truth = fs.readFileSync(path.join(dir, 'truth.tsv'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));
const v4 = truth.filter((r) => r[0].includes('.'));
const targets = [['heavy attacker (rank 1)', v4[0][0]], ['medium attacker (rank ~50)', v4[Math.min(49, v4.length - 1)][0]], ['absent address', '192.0.2.1']];
const warden = cli();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-search-'));
console.log(`# warden search vs zgrep -F — ${sizeMb} MB of text in 5 generations (3 gzip), ${(total / 1048576).toFixed(0)} MB on disk, ${runs} runs, median`);
console.log(`# ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
console.log('');
console.log('| target | tool | wall s | CPU s | peak RSS MiB | lines found |');
console.log('|---|---|---:|---:|---:|---:|');
const figures = { sizeMb, runs, targets: [] };
try {
  for (const [label, addr] of targets) {
    const w = [], z = [];
    let wLines = 0, zLines = 0, zTokens = 0;
    for (let i = 0; i < runs; i++) {
      const wo = path.join(scratch, 'warden.out'), zo = path.join(scratch, 'zgrep.out');
      w.push(timed(process.execPath, [...warden, 'search', addr, '--log', path.join(dir, 'auth.log'), '--no-journal', '--json'], wo));
      z.push(timed('zgrep', ['-F', addr, ...files], zo));
      if (i === 0) {
        wLines = JSON.parse(fs.readFileSync(wo, 'utf8')).matches.length;
        zLines = countLines(zo);
        zTokens = tokenLines(zo, addr);
      }
    }
    const row = (tool, xs, found) => console.log(`| ${label} ${addr} | ${tool} | ${median(xs.map((x) => x.wall)).toFixed(2)} | ${median(xs.map((x) => x.cpu)).toFixed(2)} | ${median(xs.map((x) => x.rss)).toFixed(0)} | ${found} |`);
    row('warden search --json', w, wLines);
    row('zgrep -F', z, `${zLines} (${zTokens} as a token)`);
    const fig = (xs) => ({ wallS: xs.map((x) => x.wall), wallMedianS: median(xs.map((x) => x.wall)), cpuMedianS: median(xs.map((x) => x.cpu)), rssMedianMiB: median(xs.map((x) => x.rss)) });
    figures.targets.push({ label, address: addr, warden: { ...fig(w), lines: wLines }, zgrep: { ...fig(z), lines: zLines, tokenLines: zTokens } });
  }
  if (jsonOut) fs.writeFileSync(jsonOut, `${JSON.stringify(figures, null, 2)}\n`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
