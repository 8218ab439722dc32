import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, execFileChecked, type ExecResult } from '../../src/util/exec.js';
import { NetnsLab } from './netns.js';
import { missing, mustWhich } from './require.js';

/**
 * A real OpenSSH server under attack, for end-to-end tests of the daemon.
 *
 *   server      192.0.2.1/24  2001:db8::1/64   bridge br0, sshd on port 22 (both families)
 *   attacker    192.0.2.66    2001:db8::66
 *   admin       192.0.2.10    2001:db8::10
 *   attacker6b  192.0.2.67    2001:db8::67     (optional: same IPv6 /64 as attacker)
 *
 * Every client namespace has one veth whose other end is a port of br0 inside the server
 * namespace, so the server sees each client's own address as the source of its connections.
 *
 * sshd logs through syslog(3), i.e. to the fixed path /dev/log, which this host lacks and must not
 * gain. sshd therefore runs in a private mount namespace whose /dev is a small tmpfs holding the
 * usual device nodes (bind-mounted from the host's /dev), a fresh devpts, and /dev/log as a symlink
 * to the socket of a private rsyslogd that writes `<tmpDir>/auth.log`. The same namespace has a
 * tmpfs /run (with the privilege-separation directory /run/sshd), the lab's own utmp, btmp, wtmp
 * and lastlog bound over the host's, so sshd changes nothing outside the lab's temporary directory.
 *
 *   const skip = SshdLab.unavailable();          // reason to skip; throws under CI=true
 *   it('bans', { skip }, async () => {
 *     const lab = await SshdLab.start({ fastFailures: true });
 *     try {
 *       const from = lab.logMark();
 *       assert.equal(await lab.attemptPassword('attacker', 'root', 'nope'), false);
 *       await lab.waitForLog(/Failed password for root from 192\.0\.2\.66 port \d+ ssh2/, 10_000, from);
 *       // … run warden on lab.logPath with its firewall in lab.serverNs …
 *       assert.equal(await lab.tcpProbe('attacker', lab.serverV4, 22, 1000), 'timeout');
 *     } finally {
 *       await lab.cleanup();
 *     }
 *   });
 */

export type ClientRole = 'attacker' | 'admin' | 'attacker6b';
export type TimestampFormat = 'traditional' | 'rfc3339';

export interface SshdLabOptions {
  /** Test users to create (each with a password and an authorized ed25519 key). Default 1. */
  readonly users?: number;
  /** Also create the `attacker6b` namespace (2001:db8::67, same /64 as the attacker). Default false. */
  readonly attacker6b?: boolean;
  /**
   * rsyslog's `$RepeatedMsgReduction` ("message repeated N times"). Default false, as on Debian
   * (its rsyslog.conf does not set it and rsyslog's default is off; Ubuntu turns it on).
   */
  readonly repeatedMsgReduction?: boolean;
  /**
   * imuxsock rate limiting (`SysSock.RateLimit.Interval`/`Burst`). Default: not set, as on
   * Debian, i.e. rsyslog's built-in default (interval 0 = off).
   */
  readonly rateLimit?: { readonly intervalSec: number; readonly burst: number };
  /**
   * Timestamp format of auth.log. `traditional` (default): `Nov 26 05:01:02 host sshd[123]: …`
   * (RSYSLOG_TraditionalFileFormat). `rfc3339`: `2025-11-26T05:01:02.123456+00:00 host sshd[123]: …`
   * (RSYSLOG_FileFormat, what a stock Debian 12 rsyslog writes).
   */
  readonly timestampFormat?: TimestampFormat;
  /**
   * Skip pam_unix's 2 s delay after a wrong password (`nodelay`, in a copy of
   * /etc/pam.d/common-auth bound over the original in sshd's mount namespace only). A failed
   * attempt then takes ~0.3 s instead of ~2.5 s; the log lines are unchanged. Default false.
   */
  readonly fastFailures?: boolean;
  /**
   * Extra sshd options, passed as `-o Key=Value`. Tests that fire many attempts in parallel may
   * want `{ MaxStartups: '100' }` (the default 10:30:100 drops unauthenticated connections).
   */
  readonly sshdOptions?: Readonly<Record<string, string>>;
  /** Upper bound for the whole start-up. Default 30 s. */
  readonly startTimeoutMs?: number;
}

export interface LabUser {
  readonly name: string;
  readonly uid: number;
  readonly password: string;
  readonly home: string;
  /** Private ed25519 key (root-owned, 0600) authorized for this user. */
  readonly keyPath: string;
  readonly publicKey: string;
}

export interface LabClient {
  readonly role: ClientRole;
  readonly ns: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

export interface SshTarget {
  /** Server address to connect to. Default 192.0.2.1. */
  readonly target?: string;
  /** Kill the client after this long. Default 20 s. */
  readonly timeoutMs?: number;
}

export type SshOutcome = 'accepted' | 'denied' | 'unreachable' | 'error';

export interface SshResult {
  readonly ok: boolean;
  /** accepted: logged in; denied: the server refused the credentials; unreachable: no SSH connection. */
  readonly outcome: SshOutcome;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type TcpOutcome = 'connected' | 'refused' | 'timeout' | `error:${string}`;

export interface SshSession {
  /** PID of the ssh client (in the client namespace). */
  readonly pid: number;
  /** Source address and port of the session as sshd sees them (from $SSH_CLIENT). */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** Resolves with the client's exit code once it has exited (for any reason). */
  readonly exited: Promise<number | null>;
  /** Ends the session (SIGTERM, then SIGKILL after 3 s); resolves once the client has exited. */
  close(): Promise<void>;
}

const SERVER_V4 = '192.0.2.1';
const SERVER_V6 = '2001:db8::1';
const CLIENTS: Readonly<Record<ClientRole, { ipv4: string; ipv6: string }>> = {
  attacker: { ipv4: '192.0.2.66', ipv6: '2001:db8::66' },
  admin: { ipv4: '192.0.2.10', ipv6: '2001:db8::10' },
  attacker6b: { ipv4: '192.0.2.67', ipv6: '2001:db8::67' },
};

const REQUIRED = ['ip', 'unshare', 'mount', 'sshd', 'ssh', 'ssh-keygen', 'sshpass', 'rsyslogd', 'useradd', 'userdel', 'chpasswd', 'id'] as const;

/**
 * Runs as `sh -c MOUNT_SCRIPT sh LABDIR PROGRAM ARGS…` inside `unshare --mount --propagation
 * private` (itself inside `ip netns exec`, whose mount namespace is already a slave of the
 * host's), so none of these mounts reaches the host. `-n`: libmount must not create
 * /run/mount/utab on the host either. Fixed text: data only arrives as positional parameters.
 */
const MOUNT_SCRIPT = `set -eu
lab=$1
shift
mount -n --bind /dev "$lab/hostdev"
mount -n -t tmpfs -o mode=0755,nosuid,size=256k wdnlab-dev /dev
for n in null zero full random urandom tty; do
  : > "/dev/$n"
  mount -n --bind "$lab/hostdev/$n" "/dev/$n"
done
umount -n "$lab/hostdev"
mkdir /dev/pts /dev/shm
mount -n -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -n -t tmpfs -o mode=1777,nosuid,nodev wdnlab-shm /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s "$lab/log.sock" /dev/log
mount -n -t tmpfs -o mode=0755,nosuid,nodev wdnlab-run /run
mkdir -m 0755 /run/sshd
: > /run/utmp
mount -n --bind "$lab/acct/utmp" /run/utmp
if [ -f "$lab/pam/common-auth" ]; then mount -n --bind "$lab/pam/common-auth" /etc/pam.d/common-auth; fi
for f in btmp wtmp lastlog; do
  if [ -f "/var/log/$f" ]; then mount -n --bind "$lab/acct/$f" "/var/log/$f"; fi
done
exec "$@"
`;

/** `node -e TCP_SCRIPT -- HOST PORT MS`: prints connected | refused | timeout | error:CODE. */
const TCP_SCRIPT = `const net = require('node:net');
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
const done = (r) => { process.stdout.write(r); s.destroy(); process.exit(0); };
setTimeout(() => done('timeout'), Number(ms));
s.on('connect', () => done('connected'));
s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error:' + e.code));
`;

/** Remote command of openSession: fixed text, interpreted by the user's shell on the server. */
const SESSION_COMMAND = 'echo wdn-ready $SSH_CLIENT; exec sleep 600';

const COMMON_SSH = [
  '-F', '/dev/null',
  '-o', 'StrictHostKeyChecking=no',
  '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'GlobalKnownHostsFile=/dev/null',
  '-o', 'LogLevel=ERROR',
  '-o', 'ConnectTimeout=3',
  '-p', '22',
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True while the process exists and is not a zombie (an unreaped zombie holds no resources). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readOr(`/proc/${pid}/stat`);
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && stat !== '';
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export class SshdLab {
  /** A reason to skip (components missing, not root), or undefined. Throws under CI=true. */
  static unavailable(): string | undefined {
    return missing(REQUIRED);
  }

  /** Builds the whole lab; on any failure, tears down what was built and rethrows. */
  static async start(options: SshdLabOptions = {}): Promise<SshdLab> {
    const reason = SshdLab.unavailable();
    if (reason) throw new Error(`SshdLab cannot start: ${reason}`);
    const lab = new SshdLab(options);
    const limit = options.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        lab.build(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`SshdLab start took more than ${limit} ms`)), limit);
        }),
      ]);
      return lab;
    } catch (e) {
      await lab.cleanup().catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  readonly serverV4 = SERVER_V4;
  readonly serverV6 = SERVER_V6;
  readonly tmpDir: string;
  /** auth,authpriv.* as written by the lab's rsyslogd. */
  readonly logPath: string;
  /** Every other facility (rsyslogd's own messages…), for debugging. */
  readonly syslogPath: string;
  /**
   * Login accounting sshd writes, bound over /run/utmp, /var/log/btmp and /var/log/wtmp in its
   * mount namespace (the host's stay untouched). utmp/wtmp get entries only for `pty: true`
   * sessions; btmp gets every failed login. Read with e.g. `utmpdump <path>` or `who <path>`.
   */
  readonly utmpPath: string;
  readonly btmpPath: string;
  readonly wtmpPath: string;
  readonly netns = new NetnsLab();
  readonly users: LabUser[] = [];
  readonly clients: Partial<Record<ClientRole, LabClient>> = {};
  serverNs = '';
  sshdPid = 0;
  rsyslogdPid = 0;

  private readonly options: SshdLabOptions;
  private rsyslogd: ChildProcess | undefined;
  private sshd: ChildProcess | undefined;
  private readonly sessions = new Set<ChildProcess>();
  private readonly createdUsers: string[] = [];
  private cleaning: Promise<void> | undefined;
  private readonly exitHook = () => this.cleanupSync();

  private constructor(options: SshdLabOptions) {
    this.options = options;
    this.tmpDir = mkdtempSync(join(tmpdir(), 'warden-sshd-lab-'));
    if (/[\s"'\\%]/.test(this.tmpDir)) throw new Error(`unusable temporary directory path: ${this.tmpDir}`);
    // Users must traverse it: sshd reads authorized_keys with the user's privileges.
    chmodSync(this.tmpDir, 0o755);
    this.logPath = join(this.tmpDir, 'auth.log');
    this.syslogPath = join(this.tmpDir, 'syslog');
    this.utmpPath = join(this.tmpDir, 'acct', 'utmp');
    this.btmpPath = join(this.tmpDir, 'acct', 'btmp');
    this.wtmpPath = join(this.tmpDir, 'acct', 'wtmp');
    process.setMaxListeners(Math.max(process.getMaxListeners(), 50));
    process.on('exit', this.exitHook);
  }

  // ----- addresses and namespaces -------------------------------------------------------------

  get user(): LabUser {
    const u = this.users[0];
    if (!u) throw new Error('the lab has no users');
    return u;
  }

  client(role: ClientRole): LabClient {
    const c = this.clients[role];
    if (!c) throw new Error(`the lab has no ${role} namespace${role === 'attacker6b' ? ' (start with attacker6b: true)' : ''}`);
    return c;
  }

  get attackerNs(): string { return this.client('attacker').ns; }
  get adminNs(): string { return this.client('admin').ns; }
  get attacker6bNs(): string { return this.client('attacker6b').ns; }
  get attackerV4(): string { return CLIENTS.attacker.ipv4; }
  get attackerV6(): string { return CLIENTS.attacker.ipv6; }
  get adminV4(): string { return CLIENTS.admin.ipv4; }
  get adminV6(): string { return CLIENTS.admin.ipv6; }
  get attacker6bV6(): string { return CLIENTS.attacker6b.ipv6; }

  /** Runs a program in the server namespace (e.g. `nft list ruleset`); throws on failure. */
  execServer(argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    return this.netns.exec(this.serverNs, argv, { timeoutMs });
  }

  // ----- the log ----------------------------------------------------------------------------

  readLog(fromByte = 0): string {
    try {
      return readFileSync(this.logPath).subarray(fromByte).toString('utf8');
    } catch {
      return '';
    }
  }

  /** Current size of auth.log: pass it as `from` to only look at lines written afterwards. */
  logMark(): number {
    try {
      return statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  /** Lines of auth.log (from byte `from`) matching `re`. */
  logLines(re: RegExp, from = 0): string[] {
    return this.readLog(from).split('\n').filter((line) => {
      re.lastIndex = 0;
      return re.test(line);
    });
  }

  /** Polls auth.log until a line matches; returns the match. Throws with the log's tail on timeout. */
  async waitForLog(re: RegExp, timeoutMs = 10_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.readLog(from).split('\n')) {
        re.lastIndex = 0;
        const m = line.match(re);
        if (m) return m;
      }
      if (Date.now() >= deadline) {
        throw new Error(`no line matching ${re} in ${this.logPath} within ${timeoutMs} ms; log tail:\n${tail(this.readLog(from))}`);
      }
      await sleep(50);
    }
  }

  /** Polls until at least `count` lines (from byte `from`) match; returns them. */
  async waitForLogCount(re: RegExp, count: number, timeoutMs = 10_000, from = 0): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.logLines(re, from);
      if (lines.length >= count) return lines;
      if (Date.now() >= deadline) {
        throw new Error(`only ${lines.length}/${count} lines matching ${re} within ${timeoutMs} ms; log tail:\n${tail(this.readLog(from))}`);
      }
      await sleep(50);
    }
  }

  // ----- clients ----------------------------------------------------------------------------

  /** One password attempt (one connection, one prompt) from a client namespace. True if logged in. */
  async attemptPassword(ns: ClientRole | string, user: string, password: string, opts: SshTarget = {}): Promise<boolean> {
    return (await this.tryPassword(ns, user, password, opts)).ok;
  }

  /** Like attemptPassword, with the outcome (denied vs unreachable) and the client's output. */
  async tryPassword(ns: ClientRole | string, user: string, password: string, opts: SshTarget = {}): Promise<SshResult> {
    const args = [
      mustWhich('sshpass'), '-e', mustWhich('ssh'), ...COMMON_SSH,
      '-o', 'PreferredAuthentications=password',
      '-o', 'PubkeyAuthentication=no',
      '-o', 'KbdInteractiveAuthentication=no',
      '-o', 'NumberOfPasswordPrompts=1',
      '-o', 'BatchMode=no',
      '-l', user, opts.target ?? SERVER_V4, 'true',
    ];
    const r = await this.netns.run(this.nsOf(ns), args, {
      env: { ...process.env, SSHPASS: password },
      timeoutMs: opts.timeoutMs ?? 20_000,
    });
    return classify(r);
  }

  /** Logs in with the user's key and runs `command` (remote shell text; default `true`). */
  async loginWithKey(ns: ClientRole | string, user: string | LabUser = this.user, opts: SshTarget & { command?: string } = {}): Promise<SshResult> {
    const u = this.userOf(user);
    const r = await this.netns.run(this.nsOf(ns), [mustWhich('ssh'), ...this.keyArgs(u), '-T', opts.target ?? SERVER_V4, opts.command ?? 'true'], {
      timeoutMs: opts.timeoutMs ?? 20_000,
    });
    return classify(r);
  }

  /**
   * Opens a key-authenticated session that stays open (`sleep 600` on the server) until closed or
   * until cleanup. Resolves once the shell runs on the server, with the source address and port
   * sshd saw. `pty: true` asks for a terminal (sshd then records the login in its utmp/wtmp).
   */
  async openSession(ns: ClientRole | string, user: string | LabUser = this.user, opts: SshTarget & { pty?: boolean } = {}): Promise<SshSession> {
    const u = this.userOf(user);
    const argv = ['netns', 'exec', this.nsOf(ns), mustWhich('ssh'), ...this.keyArgs(u), opts.pty ? '-tt' : '-T',
      '-o', 'ServerAliveInterval=5', opts.target ?? SERVER_V4, SESSION_COMMAND];
    const child = spawn(mustWhich('ip'), argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.sessions.add(child);
    const exited = exitOf(child).then((code) => {
      this.sessions.delete(child);
      return code;
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    child.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8'); });
    const limit = opts.timeoutMs ?? 20_000;
    const deadline = Date.now() + limit;
    let m: RegExpMatchArray | null = null;
    while (!(m = out.match(/wdn-ready (\S+) (\d+) \d+/))) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() >= deadline) {
        await stopChild(child, 500);
        throw new Error(`SSH session from ${this.nsOf(ns)} as ${u.name} did not open within ${limit} ms: ${err.trim() || out.trim()}`);
      }
      await sleep(25);
    }
    const pid = child.pid ?? 0;
    // Do not keep the test process alive for a session a test forgot; cleanup() ends them anyway.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    return {
      pid,
      clientAddress: m[1] ?? '',
      clientPort: Number(m[2]),
      exited,
      close: () => stopChild(child),
    };
  }

  /** True if a TCP connection from `ns` to target:port is established within timeoutMs. */
  async tcpConnect(ns: ClientRole | string, target: string = SERVER_V4, port = 22, timeoutMs = 2000): Promise<boolean> {
    return (await this.tcpProbe(ns, target, port, timeoutMs)) === 'connected';
  }

  /** connected, refused (RST), timeout (dropped), or error:CODE (e.g. error:EHOSTUNREACH). */
  async tcpProbe(ns: ClientRole | string, target: string = SERVER_V4, port = 22, timeoutMs = 2000): Promise<TcpOutcome> {
    const r = await this.netns.run(this.nsOf(ns), [process.execPath, '-e', TCP_SCRIPT, '--', target, String(port), String(timeoutMs)], {
      timeoutMs: timeoutMs + 10_000,
    });
    const out = r.stdout.trim();
    if (r.code !== 0 || !out) throw new Error(`tcp probe in ${this.nsOf(ns)} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
    return out as TcpOutcome;
  }

  // ----- cleanup ----------------------------------------------------------------------------

  /**
   * Ends sessions, sshd and rsyslogd (by the PIDs the lab started, plus any process left in the
   * lab's namespaces, i.e. sshd's children), removes the users, the namespaces and the temporary
   * directory. Safe to call twice; throws (after doing everything it can) if something resisted.
   */
  cleanup(): Promise<void> {
    this.cleaning ??= this.doCleanup();
    return this.cleaning;
  }

  private async doCleanup(): Promise<void> {
    const problems: string[] = [];
    const attempt = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        problems.push(`${what}: ${(e as Error).message}`);
      }
    };
    await attempt('sessions', () => Promise.all([...this.sessions].map((s) => stopChild(s, 1000))));
    if (this.sshd) await attempt('sshd', () => stopChild(this.sshd as ChildProcess));
    await attempt('namespace processes', () => this.killNamespaceProcesses());
    for (const name of this.createdUsers.splice(0)) {
      await attempt(`userdel ${name}`, () => this.removeUser(name));
    }
    await attempt('namespaces', () => this.netns.cleanup());
    if (this.rsyslogd) await attempt('rsyslogd', () => stopChild(this.rsyslogd as ChildProcess));
    if (process.env['WARDEN_LAB_KEEP'] === '1') {
      console.error(`SshdLab: kept ${this.tmpDir}`);
    } else {
      await attempt('temporary directory', async () => rmSync(this.tmpDir, { recursive: true, force: true }));
    }
    process.off('exit', this.exitHook);
    if (problems.length) throw new Error(`SshdLab cleanup incomplete: ${problems.join('; ')}`);
  }

  /** Last resort when the test process exits without cleanup(): synchronous, best effort. */
  private cleanupSync(): void {
    if (this.cleaning) return;
    for (const c of [...this.sessions, this.sshd]) if (c?.pid && c.exitCode === null) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const ns of this.ownNamespaces()) {
      const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
      for (const pid of (r.stdout ?? '').split(/\s+/).filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const name of this.createdUsers) spawnSync('userdel', [name]);
    for (const ns of this.ownNamespaces()) spawnSync('ip', ['netns', 'delete', ns]);
    if (this.rsyslogd?.pid && this.rsyslogd.exitCode === null) { try { process.kill(this.rsyslogd.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(this.tmpDir, { recursive: true, force: true });
  }

  private ownNamespaces(): string[] {
    return [this.serverNs, ...Object.values(this.clients).map((c) => c.ns)].filter(Boolean);
  }

  /** sshd's session processes (and stray clients) outlive the listener: end them by PID. */
  private async killNamespaceProcesses(): Promise<void> {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const pids: number[] = [];
      for (const ns of this.ownNamespaces()) {
        const r = await execFile('ip', ['netns', 'pids', ns]).catch(() => undefined);
        for (const p of (r?.stdout ?? '').split(/\s+/).filter(Boolean)) pids.push(Number(p));
      }
      if (!pids.length) return;
      for (const pid of pids) { try { process.kill(pid, signal); } catch { /* gone */ } }
      const deadline = Date.now() + 2000;
      while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
      if (!pids.some(isAlive)) return;
    }
    throw new Error('processes survived SIGKILL in the lab namespaces');
  }

  private async removeUser(name: string): Promise<void> {
    for (let i = 0; ; i++) {
      const r = await execFile('userdel', [name]);
      // 6: no such user (already gone)
      if (r.code === 0 || r.code === 6) return;
      if (i >= 10) throw new Error(r.stderr.trim() || `exit ${r.code}`);
      await sleep(200); // /etc/passwd locked by a concurrent useradd/userdel, or a process still exiting
    }
  }

  // ----- building ---------------------------------------------------------------------------

  private async build(): Promise<void> {
    mkdirSync(join(this.tmpDir, 'rsyslog'));
    mkdirSync(join(this.tmpDir, 'hostdev'));
    mkdirSync(join(this.tmpDir, 'acct'));
    mkdirSync(join(this.tmpDir, 'keys'), { mode: 0o700 });
    mkdirSync(join(this.tmpDir, 'authorized_keys'), { mode: 0o755 });
    mkdirSync(join(this.tmpDir, 'home'), { mode: 0o755 });
    for (const f of ['utmp', 'btmp', 'wtmp', 'lastlog']) writeFileSync(join(this.tmpDir, 'acct', f), '', { mode: 0o660 });

    await this.startRsyslogd();
    await Promise.all([this.buildNetwork(), this.createUsers(), this.hostKey()]);
    await this.startSshd();
  }

  private async startRsyslogd(): Promise<void> {
    const sock = join(this.tmpDir, 'log.sock');
    const o = this.options;
    const limit = o.rateLimit
      ? ` SysSock.RateLimit.Interval="${Math.trunc(o.rateLimit.intervalSec)}" SysSock.RateLimit.Burst="${Math.trunc(o.rateLimit.burst)}"`
      : '';
    const template = (o.timestampFormat ?? 'traditional') === 'traditional' ? 'RSYSLOG_TraditionalFileFormat' : 'RSYSLOG_FileFormat';
    const conf = [
      '# warden SshdLab: private rsyslogd (no imklog, no /dev/log)',
      `module(load="imuxsock" SysSock.Name="${sock}"${limit})`,
      `$ActionFileDefaultTemplate ${template}`,
      `$RepeatedMsgReduction ${o.repeatedMsgReduction ? 'on' : 'off'}`,
      '$FileOwner root',
      '$FileCreateMode 0640',
      '$DirCreateMode 0755',
      '$Umask 0022',
      `$WorkDirectory ${join(this.tmpDir, 'rsyslog')}`,
      `*.*;auth,authpriv.none\t${this.syslogPath}`,
      `auth,authpriv.*\t\t${this.logPath}`,
      '',
    ].join('\n');
    const confPath = join(this.tmpDir, 'rsyslog.conf');
    writeFileSync(confPath, conf);
    const check = await execFile(mustWhich('rsyslogd'), ['-N1', '-f', confPath], { timeoutMs: 10_000 });
    if (check.code !== 0) throw new Error(`rsyslog config rejected: ${check.stderr.trim() || check.stdout.trim()}`);

    this.rsyslogd = this.spawnDaemon(mustWhich('rsyslogd'), ['-n', '-f', confPath, '-i', join(this.tmpDir, 'rsyslogd.pid')], 'rsyslogd');
    this.rsyslogdPid = this.rsyslogd.pid ?? 0;
    await this.waitFor('rsyslogd socket', this.rsyslogd, 'rsyslogd', 10_000, () => {
      try {
        return statSync(sock).isSocket();
      } catch {
        return false;
      }
    });
  }

  private async buildNetwork(): Promise<void> {
    this.serverNs = await this.netns.add('server');
    const roles: ClientRole[] = ['attacker', 'admin'];
    if (this.options.attacker6b) roles.push('attacker6b');
    const srv = (argv: string[]) => this.netns.exec(this.serverNs, argv);
    await srv(['ip', 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', 'mcast_snooping', '0']);
    await srv(['ip', 'addr', 'add', `${SERVER_V4}/24`, 'dev', 'br0']);
    await srv(['ip', 'addr', 'add', `${SERVER_V6}/64`, 'dev', 'br0', 'nodad']);
    await srv(['ip', 'link', 'set', 'br0', 'up']);
    await Promise.all(roles.map(async (role) => {
      const ns = await this.netns.add(role);
      const { ipv4, ipv6 } = CLIENTS[role];
      this.clients[role] = { role, ns, ipv4, ipv6 };
      const port = `p-${role}`.slice(0, 15);
      await execFileChecked('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', this.serverNs]);
      await srv(['ip', 'link', 'set', port, 'master', 'br0']);
      await srv(['ip', 'link', 'set', port, 'up']);
      await this.netns.exec(ns, ['ip', 'addr', 'add', `${ipv4}/24`, 'dev', 'eth0']);
      await this.netns.exec(ns, ['ip', 'addr', 'add', `${ipv6}/64`, 'dev', 'eth0', 'nodad']);
      await this.netns.exec(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    }));
  }

  private async createUsers(): Promise<void> {
    const count = this.options.users ?? 1;
    for (let i = 0; i < count; i++) {
      const name = `wdn${randomBytes(4).toString('hex')}`;
      const home = join(this.tmpDir, 'home', name);
      const password = `Wdn-${randomBytes(9).toString('base64url')}`;
      for (let tries = 0; ; tries++) {
        const r = await execFile(mustWhich('useradd'), ['-M', '-d', home, '-s', '/bin/sh', '-c', 'warden SshdLab test user', name]);
        if (r.code === 0) break;
        if (tries >= 10) throw new Error(`useradd ${name} failed: ${r.stderr.trim()}`);
        await sleep(200); // /etc/passwd locked by someone else
      }
      this.createdUsers.push(name);
      await execFileChecked(mustWhich('chpasswd'), [], { input: `${name}:${password}\n` });
      const uid = Number((await execFileChecked('id', ['-u', name])).stdout.trim());
      const gid = Number((await execFileChecked('id', ['-g', name])).stdout.trim());
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, uid, gid);
      const keyPath = join(this.tmpDir, 'keys', name);
      await execFileChecked(mustWhich('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@warden-lab`, '-f', keyPath]);
      const publicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();
      writeFileSync(join(this.tmpDir, 'authorized_keys', name), `${publicKey}\n`, { mode: 0o644 });
      this.users.push({ name, uid, password, home, keyPath, publicKey });
    }
  }

  private async hostKey(): Promise<void> {
    await execFileChecked(mustWhich('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', 'warden-lab-host', '-f', join(this.tmpDir, 'ssh_host_ed25519_key')]);
  }

  private async startSshd(): Promise<void> {
    const pidFile = join(this.tmpDir, 'sshd.pid');
    const config = [
      '# warden SshdLab',
      'Port 22',
      `ListenAddress ${SERVER_V4}`,
      `ListenAddress ${SERVER_V6}`,
      `HostKey ${join(this.tmpDir, 'ssh_host_ed25519_key')}`,
      `PidFile ${pidFile}`,
      'UsePAM yes',
      'PermitRootLogin yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `AuthorizedKeysFile ${join(this.tmpDir, 'authorized_keys')}/%u`,
      'StrictModes no',
      'MaxAuthTries 6',
      'LogLevel INFO',
      'SyslogFacility AUTH',
      'UseDNS no',
      'PrintMotd no',
      'X11Forwarding no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n');
    if (this.options.fastFailures) {
      const original = readFileSync('/etc/pam.d/common-auth', 'utf8');
      const patched = original.replace(/^(auth\s.*\bpam_unix\.so\b.*)$/m, '$1 nodelay');
      if (patched === original) throw new Error('fastFailures: no pam_unix line in /etc/pam.d/common-auth');
      mkdirSync(join(this.tmpDir, 'pam'));
      writeFileSync(join(this.tmpDir, 'pam', 'common-auth'), patched, { mode: 0o644 });
    }
    const configPath = join(this.tmpDir, 'sshd_config');
    writeFileSync(configPath, config);
    const sshd = mustWhich('sshd');
    const extra: string[] = [];
    for (const [key, value] of Object.entries(this.options.sshdOptions ?? {})) {
      if (!/^[A-Za-z]+$/.test(key) || /[\r\n]/.test(value)) throw new Error(`bad sshd option ${key}`);
      extra.push('-o', `${key}=${value}`);
    }
    // In the server namespace behind a private /dev and /run (see MOUNT_SCRIPT).
    const wrapped = (args: readonly string[]) => [
      'netns', 'exec', this.serverNs,
      mustWhich('unshare'), '--mount', '--propagation', 'private', '--',
      '/bin/sh', '-c', MOUNT_SCRIPT, 'sh', this.tmpDir,
      sshd, ...args, '-f', configPath, ...extra,
    ];
    const test = await execFile(mustWhich('ip'), wrapped(['-t']), { timeoutMs: 10_000 });
    if (test.code !== 0) throw new Error(`sshd rejects its configuration: ${test.stderr.trim()}`);

    const from = this.logMark();
    this.sshd = this.spawnDaemon(mustWhich('ip'), wrapped(['-D']), 'sshd');
    // ip netns exec, unshare (without --fork) and sh's exec all keep the PID: it is sshd's.
    this.sshdPid = this.sshd.pid ?? 0;
    // Both listeners announced through syslog prove the /dev/log → rsyslogd → auth.log path.
    await this.waitFor('sshd listening (as logged in auth.log)', this.sshd, 'sshd', 15_000, () =>
      this.logLines(/sshd\[\d+\]: Server listening on /, from).length >= 2 && existsSync(pidFile));
    const written = Number(readOr(pidFile).trim());
    if (written !== this.sshdPid) throw new Error(`sshd pid file says ${written}, expected ${this.sshdPid}`);
  }

  private spawnDaemon(file: string, args: readonly string[], name: string): ChildProcess {
    const out = openSync(join(this.tmpDir, `${name}.out`), 'a');
    try {
      const child = spawn(file, args, { stdio: ['ignore', out, out] });
      child.on('error', () => undefined); // reported by waitFor through exitCode/missing pid
      // The lab must not keep a test process alive; cleanup() or the exit hook ends the daemons.
      child.unref();
      if (child.pid === undefined) throw new Error(`${name} could not be started`);
      return child;
    } finally {
      closeSync(out);
    }
  }

  private async waitFor(what: string, child: ChildProcess, name: string, timeoutMs: number, ready: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const output = () => tail(readOr(join(this.tmpDir, `${name}.out`)), 15).trim();
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}: ${output()}`);
      }
      if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}: ${output()}`);
      await sleep(20);
    }
  }

  // ----- small helpers ----------------------------------------------------------------------

  private nsOf(ns: ClientRole | string): string {
    const byRole = this.clients[ns as ClientRole];
    if (byRole) return byRole.ns;
    if (this.ownNamespaces().includes(ns)) return ns;
    throw new Error(`unknown lab namespace or role: ${ns}`);
  }

  private userOf(user: string | LabUser): LabUser {
    const name = typeof user === 'string' ? user : user.name;
    const u = this.users.find((x) => x.name === name);
    if (!u) throw new Error(`${name} is not a lab user (only lab users have keys)`);
    return u;
  }

  private keyArgs(u: LabUser): string[] {
    return [
      ...COMMON_SSH,
      '-i', u.keyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', 'PreferredAuthentications=publickey',
      '-o', 'PasswordAuthentication=no',
      '-o', 'BatchMode=yes',
      '-l', u.name,
    ];
  }
}

function classify(r: ExecResult): SshResult {
  let outcome: SshOutcome;
  if (r.code === 0) outcome = 'accepted';
  else if (/Permission denied|Too many authentication failures|Received disconnect/.test(r.stderr) || r.code === 5) outcome = 'denied';
  else if (/Connection (timed out|refused|reset|closed)|No route to host|Network is unreachable|timed out|kex_exchange_identification/i.test(r.stderr)) outcome = 'unreachable';
  else outcome = 'error';
  return { ok: r.code === 0, outcome, code: r.code, stdout: r.stdout, stderr: r.stderr };
}
