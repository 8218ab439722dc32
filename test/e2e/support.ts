import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FirewallHealth } from '../../src/bans/manager.js';
import type { GuardVeto } from '../../src/bans/enforcer.js';
import type { EventRecord } from '../../src/bans/store.js';
import type { GuardConfig } from '../../src/config/schema.js';
import type { SourceHealth } from '../../src/sources/source.js';
import { execFile, type ExecResult } from '../../src/util/exec.js';
import { SshdLab, type ClientRole, type TcpOutcome } from '../helpers/sshd-lab.js';
import { missing } from '../helpers/require.js';
import { until } from '../helpers/wait.js';

/**
 * What the end-to-end tests share: `warden` run as its own processes (the CLI, the daemon), the
 * shapes of its JSON answers, its configuration file, the kernel's nftables sets in the lab's
 * server namespace, and TCP/ssh probes from the lab's clients.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
/** dist/test/e2e → dist/src/cli/main.js */
export const MAIN = join(HERE, '..', '..', 'src', 'cli', 'main.js');

/**
 * Why the sshd lab tests cannot run here (undefined: they can). Under CI=true `missing` and
 * `unavailable` throw instead: a missing component fails the file, never skips it.
 */
export function labSkipReason(): string | undefined {
  return SshdLab.unavailable() ?? missing(['nft']);
}

export const wrong = (): string => `wrong-${randomBytes(6).toString('hex')}`;
export const ATTACKER_V4 = '192.0.2.66';
export const FAILED_ROOT_V4 = /sshd\[\d+\]: Failed password for root from 192\.0\.2\.66 port \d+ ssh2$/;
export const FAILED_ROOT_V6 = /sshd\[\d+\]: Failed password for root from 2001:db8::66 port \d+ ssh2$/;
/** A ban's evidence line for FAILED_ROOT_V4: the whole syslog line, date and host included. */
export const EVIDENCE_ROOT_V4 = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ sshd\[\d+\]: Failed password for root from 192\.0\.2\.66 port \d+ ssh2$/;

// ------------------------------------------------------------------------------------ the CLI

/** `warden ARGS…` as a separate process, like an admin types it. */
export function warden(args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
  return execFile(process.execPath, [MAIN, ...args], { timeoutMs });
}

/** `warden ARGS… --json`, parsed; throws unless it exits 0. */
export async function wardenJson<T>(args: readonly string[]): Promise<T> {
  const r = await warden([...args, '--json']);
  if (r.code !== 0) throw new Error(`warden ${args.join(' ')} --json: exit ${r.code}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** A daemon record as `warden status --json` shows it: its epoch-ms `at` becomes ISO 8601. */
type Shown<T extends { at: number }> = Omit<T, 'at'> & { readonly at: string };

export type EventView = Shown<EventRecord>;

/** The part of `warden status --json` the tests read. */
export interface StatusView {
  pid: number;
  firewall: FirewallHealth;
  jails: Array<{ name: string; sources: SourceHealth[]; counts: { lines: number; failures: number; allowed: number; whileBanned: number } }>;
  guard: GuardConfig & { vetoes: Array<Shown<GuardVeto>> };
  warnings: string[];
  events: EventView[];
}

// ------------------------------------------------------------------------------------ the daemon

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** One `warden run` child process, known by its PID; its output (stdout and stderr) is kept for diagnostics. */
export class DaemonProcess {
  /** Still running (for cleanup). */
  static readonly all = new Set<DaemonProcess>();
  /** Every daemon this file started, for WARDEN_E2E_VERBOSE=1. */
  static readonly history: DaemonProcess[] = [];
  readonly child: ChildProcess;
  readonly pid: number;
  stderr = '';
  readonly exited: Promise<Exit>;
  private done = false;

  private constructor(readonly label: string, readonly configPath: string, readonly socket: string) {
    this.child = spawn(process.execPath, [MAIN, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`${label}: warden run could not be started`);
    this.pid = this.child.pid;
    this.child.stdout?.on('data', (d: Buffer) => this.keep(d));
    this.child.stderr?.on('data', (d: Buffer) => this.keep(d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.done = true;
      DaemonProcess.all.delete(this);
      resolve({ code, signal });
    }));
    DaemonProcess.all.add(this);
    DaemonProcess.history.push(this);
  }

  /** Spawns `warden run --config configPath`; `socket` is where its configuration puts the control socket. */
  static start(label: string, configPath: string, socket: string): DaemonProcess {
    return new DaemonProcess(label, configPath, socket);
  }

  /** Stops every daemon still running (see stop()); returns a problem for each that needed SIGKILL. */
  static async stopAll(graceMs = 5000): Promise<string[]> {
    const problems: string[] = [];
    for (const d of [...DaemonProcess.all]) {
      const r = await d.stop(graceMs);
      if (r.signal === 'SIGKILL') problems.push(`${d.label} needed SIGKILL`);
    }
    return problems;
  }

  /** With WARDEN_E2E_VERBOSE=1, prints the whole output of every daemon this file started. */
  static printHistoryIfVerbose(): void {
    if (process.env['WARDEN_E2E_VERBOSE'] !== '1') return;
    for (const d of DaemonProcess.history) console.log(`--- ${d.label} (pid ${d.pid}) output ---\n${d.stderr.trimEnd()}`);
  }

  private keep(d: Buffer): void {
    this.stderr += d.toString('utf8');
    if (this.stderr.length > 400_000) this.stderr = this.stderr.slice(-200_000);
  }

  get running(): boolean {
    return !this.done;
  }

  /**
   * Until the control socket answers and every source of every jail is in `state`; returns that
   * status. With `anyPid`, an answer from any process counts (the caller checks `pid` itself);
   * else only one from this very process.
   */
  async ready(o: { timeoutMs?: number; state?: SourceHealth['state']; anyPid?: boolean } = {}): Promise<StatusView> {
    const { timeoutMs = 20_000, state = 'following', anyPid = false } = o;
    return until(`${this.label} (pid ${this.pid}) to be ready`, async () => {
      if (!this.running) throw new Error(`${this.label} exited: ${this.tail(10)}`);
      const r = await warden(['status', '--json', '--socket', this.socket]);
      if (r.code !== 0) return undefined;
      const s = JSON.parse(r.stdout) as StatusView;
      return (anyPid || s.pid === this.pid) && s.jails.every((j) => j.sources.every((src) => src.state === state)) ? s : undefined;
    }, timeoutMs, 100);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** SIGTERM (after SIGCONT, in case a test stopped it), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<Exit> {
    if (this.running) {
      this.signal('SIGCONT');
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      const r = await this.exited;
      clearTimeout(timer);
      return r;
    }
    return this.exited;
  }

  async kill9(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  tail(lines = 40): string {
    return this.stderr.trimEnd().split('\n').slice(-lines).join('\n');
  }
}

/** Runs a test body; on failure, adds the tail of the (running, else last) daemons' output to the error message. */
export async function withDiagnostics(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const last = DaemonProcess.history[DaemonProcess.history.length - 1];
    const shown = DaemonProcess.all.size ? [...DaemonProcess.all] : last ? [last] : [];
    const extra = shown.map((d) => `--- ${d.label} (pid ${d.pid}${d.running ? '' : ', exited'}) output ---\n${d.tail()}`).join('\n');
    if (e instanceof Error && extra) e.message += `\n${extra}`;
    throw e;
  }
}

/** Prints the timings a test file collected, and its total run time, as `# …` lines. */
export function printTimings(timings: readonly string[], what: string, startedAt: number): void {
  for (const t of timings) console.log(`# ${t}`);
  console.log(`# ${what} total: ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}

/**
 * A warden.yaml with one jail, `sshd`, reading `logPath`. `allow` defaults to loopback only (no
 * lab client); `top` are further top-level lines (guard, escalation…).
 */
export function yamlConfig(o: {
  stateDir: string; socket: string; backend: string; table?: string; netns?: string; allow?: string[]; top?: string[];
  logPath: string; maxretry: number; findtime: string; bantime: string; ipv6Prefix?: number;
}): string {
  const q = (s: string) => JSON.stringify(s); // JSON strings are YAML double-quoted scalars
  const fw = [`backend: ${o.backend}`, ...(o.table ? [`table: ${o.table}`] : []), ...(o.netns ? [`netns: ${q(o.netns)}`] : [])];
  return [
    `state_dir: ${q(o.stateDir)}`,
    `socket: ${q(o.socket)}`,
    'timezone: local',
    `firewall: { ${fw.join(', ')} }`,
    `allow: [${(o.allow ?? ['127.0.0.0/8', '::1']).map(q).join(', ')}]`,
    'batch_window: 5',
    ...(o.top ?? []),
    'jails:',
    '  sshd:',
    `    source: { file: ${q(o.logPath)} }`,
    '    filter: sshd',
    `    maxretry: ${o.maxretry}`,
    `    findtime: ${o.findtime}`,
    `    bantime: ${o.bantime}`,
    ...(o.ipv6Prefix !== undefined ? [`    ipv6_prefix: ${o.ipv6Prefix}`] : []),
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------------------ the kernel

export interface NftElement { value: string; timeout: number | null; expires: number | null }

/** Elements of set `set` of warden's table `table` in the lab's server namespace ([] when the set does not exist). */
export async function nftSet(lab: SshdLab, table: string, set: string): Promise<NftElement[]> {
  const r = await lab.netns.run(lab.serverNs, ['nft', '-j', 'list', 'set', 'inet', table, set]);
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return [];
    throw new Error(`nft list set ${set}: ${r.stderr.trim()}`);
  }
  const doc = JSON.parse(r.stdout) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
  const out: NftElement[] = [];
  for (const item of doc.nftables) {
    for (const e of item.set?.elem ?? []) {
      if (typeof e === 'string') out.push({ value: e, timeout: null, expires: null });
      else {
        const el = (e as { elem?: { val?: unknown; timeout?: number; expires?: number } }).elem;
        if (el && typeof el.val === 'string') out.push({ value: el.val, timeout: el.timeout ?? null, expires: el.expires ?? null });
      }
    }
  }
  return out;
}

/** The element `value` of that set, if the kernel holds it. */
export async function nftElement(lab: SshdLab, table: string, set: string, value: string): Promise<NftElement | undefined> {
  return (await nftSet(lab, table, set)).find((e) => e.value === value);
}

// ------------------------------------------------------------------------------------ the network

/**
 * Probes from the lab's clients to sshd (port 22), asserting what they get. `lab` is a getter:
 * the lab is started in a `before` hook, after these are made.
 */
export function labProbes(lab: () => SshdLab) {
  const probe = (role: ClientRole, target: string, ms: number): Promise<TcpOutcome> => lab().tcpProbe(role, target, 22, ms);

  /** A dropped SYN: no answer at all within 1.5 s (a refused or unreachable answer is not a drop). */
  async function assertDropped(role: ClientRole, target: string, why: string): Promise<void> {
    assert.equal(await probe(role, target, 1500), 'timeout', `${role} → ${target}:22 should be dropped (${why})`);
  }

  async function assertConnects(role: ClientRole, target: string, why: string): Promise<void> {
    assert.equal(await probe(role, target, 5000), 'connected', `${role} → ${target}:22 should connect (${why})`);
  }

  /** Waits until the kernel lets `role` reach target:22 again; returns when. */
  async function waitUntilLetIn(role: ClientRole, target: string, what: string, timeoutMs: number): Promise<number> {
    return until(what, async () => {
      const t = Date.now();
      return (await probe(role, target, 800)) === 'connected' ? t : undefined;
    }, timeoutMs, 0);
  }

  /**
   * `count` wrong passwords for `user` from `role` to `target`, one after the other, each confirmed
   * in the log (`re`). Before the last one the source must still get through when `noEarlyBan`.
   * Returns the time the last failure line was seen in the log.
   */
  async function failPasswords(role: ClientRole, user: string, target: string, re: RegExp, count: number, noEarlyBan = true): Promise<number> {
    const l = lab();
    const from = l.logMark();
    let seenLast = 0;
    for (let i = 1; i <= count; i++) {
      const attempt = l.tryPassword(role, user, wrong(), { target, timeoutMs: 15_000 });
      const seen = until(`${i} log lines matching ${re}`, () => l.logLines(re, from).length >= i && Date.now(), 15_000, 10);
      seen.catch(() => undefined); // awaited below; do not let it reject unhandled if the attempt fails first
      const r = await attempt;
      assert.equal(r.outcome, 'denied', `attempt ${i}: ${r.stderr}`);
      seenLast = await seen;
      if (noEarlyBan && i < count) assert.equal(await probe(role, target, 5000), 'connected', `no ban may happen after ${i} of ${count} failures`);
    }
    return seenLast;
  }

  return { probe, assertDropped, assertConnects, waitUntilLetIn, failPasswords };
}
