/**
 * Helpers for the search, report and log-integrity tests: the command runner, syslog lines,
 * and the shared log generator (gen-authlog.mjs, with per-address ground truth).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile, type ExecResult } from '../../src/util/exec.js';
import { inCI } from '../helpers/require.js';

export const INCIDENT_RUNNER = fileURLToPath(new URL('./run-incident.js', import.meta.url));
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Runs `warden search|report ARGS` in a child process with TZ=UTC, bounded in time. */
export function runIncident(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ExecResult> {
  return execFile(process.execPath, [INCIDENT_RUNNER, name, ...args], { env: { ...process.env, TZ: 'UTC', ...env }, timeoutMs: 120_000 });
}

/** Like runIncident with --json; the exit status must be one of `codes`. */
export async function runIncidentJson<T>(name: string, args: readonly string[], codes: readonly number[] = [0], env: NodeJS.ProcessEnv = {}): Promise<{ json: T; code: number }> {
  const r = await runIncident(name, [...args, '--json'], env);
  if (r.code === null || !codes.includes(r.code)) throw new Error(`warden ${name} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { json: JSON.parse(r.stdout) as T, code: r.code };
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Mar  1 00:00:01 web01 sshd[123]: MESSAGE" in UTC (read with TZ=UTC). */
export function syslogLine(ms: number, message: string, program = 'sshd', pid: number | null = 1234, host = 'web01'): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${MON[d.getUTCMonth()]} ${day} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${host} ${program}${pid === null ? '' : `[${pid}]`}: ${message}`;
}

/** Where the log generator is, or why it cannot be used (a failure under CI=true). */
export function findGenerator(): { path: string } | { skip: string } {
  const candidates = [
    process.env['WARDEN_GEN_AUTHLOG'],
    process.env['WARDEN_BENCH_SHARED'] ? join(process.env['WARDEN_BENCH_SHARED'], 'gen-authlog.mjs') : undefined,
    join(REPO, '..', 'shared', 'bench', 'gen-authlog.mjs'),
    '/work/shared/bench/gen-authlog.mjs',
  ].filter((p): p is string => typeof p === 'string');
  const found = candidates.find((p) => existsSync(p));
  if (found) return { path: found };
  const why = `gen-authlog.mjs not found (looked in ${candidates.join(', ')}; set WARDEN_GEN_AUTHLOG)`;
  if (inCI) throw new Error(`CI=true and a real component is unavailable (${why})`);
  return { skip: why };
}

export interface Generated {
  readonly file: string;
  /** Per address: the truth columns. */
  readonly truth: Map<string, { failLines: number; f2bNormal: number; f2bAggr: number; success: number }>;
  readonly summary: { first_ts: string; last_ts: string; totals: { f2b_aggr: number } };
}

/** Runs the generator (deterministic for a seed) and reads its truth. */
export async function generate(generator: string, lines: number, out: string, extra: readonly string[] = []): Promise<Generated> {
  const r = await execFile(process.execPath, [generator, String(lines), '--out', out, '--quiet', ...extra], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`gen-authlog failed: ${r.stderr}`);
  const truth = new Map<string, { failLines: number; f2bNormal: number; f2bAggr: number; success: number }>();
  for (const line of readFileSync(`${out}.truth.tsv`, 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split('\t');
    truth.set(f[0]!, { failLines: Number(f[1]), f2bNormal: Number(f[2]), f2bAggr: Number(f[3]), success: Number(f[5]) });
  }
  const summary = JSON.parse(readFileSync(`${out}.truth.summary.json`, 'utf8')) as Generated['summary'];
  return { file: out, truth, summary };
}
