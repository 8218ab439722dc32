import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BanView } from '../../src/control/protocol.js';
import { SshdLab } from '../helpers/sshd-lab.js';
import { syslogStamp } from '../helpers/syslog.js';
import { until } from '../helpers/wait.js';
import {
  ATTACKER_V4, DaemonProcess, EVIDENCE_ROOT_V4, FAILED_ROOT_V4, FAILED_ROOT_V6, labProbes, labSkipReason, nftElement, nftSet,
  printTimings, warden, wardenJson, withDiagnostics, wrong, yamlConfig, type NftElement, type StatusView,
} from './support.js';

/**
 * The protection loop end to end, for real: a real sshd (SshdLab) writes a real auth.log through
 * rsyslogd, the daemon runs as its own process (`warden run`) reading that log, and its nftables
 * backend works inside the lab's server namespace (`firewall.netns`). Every verdict is taken where
 * an attacker would feel it — a TCP connection from the attacker's namespace that is dropped or not
 * — plus what the kernel holds (`nft -j list set`) and what the CLI reports.
 *
 * The lab tests share one lab and one state directory and run in order (the daemon is stopped,
 * crashed and restarted along the way); each test is bounded and waits by polling with deadlines.
 */

const skipLab = labSkipReason();

// ------------------------------------------------------------------------------------ the lab

describe('protection loop: real sshd, real log, real nftables (warden run as a process)', { skip: skipLab, timeout: 600_000 }, () => {
  let lab: SshdLab | undefined;
  let tmp = '';
  let configPath = '';
  let socket = '';
  let daemon: DaemonProcess | undefined;
  const table = `wdne2e_${randomBytes(4).toString('hex')}`;
  const timings: string[] = [];
  const fileStarted = Date.now();

  const L = () => {
    if (!lab) throw new Error('the lab did not start');
    return lab;
  };
  const D = () => {
    if (!daemon?.running) throw new Error('the daemon is not running (an earlier step failed?)');
    return daemon;
  };
  let restarts = 0;
  /** Steps that do not depend on the previous ones start a daemon if an earlier failure left none. */
  async function ensureDaemon(): Promise<DaemonProcess> {
    if (daemon?.running) return daemon;
    return startDaemon(`daemon#recovery${++restarts}`);
  }

  async function startDaemon(label: string): Promise<DaemonProcess> {
    daemon = DaemonProcess.start(label, configPath, socket);
    // Any answer counts as ready here: the assertion below fails at once if another process answered.
    const s = await daemon.ready({ anyPid: true });
    assert.equal(s.pid, daemon.pid, 'the socket must be answered by the daemon just started');
    assert.equal(s.firewall.kind, 'nftables');
    return daemon;
  }

  /** Elements of one of the daemon's sets in the server namespace ([] when the set does not exist). */
  const kernelSet = (set: string): Promise<NftElement[]> => nftSet(L(), table, set);
  const kernelHas = (set: string, value: string): Promise<NftElement | undefined> => nftElement(L(), table, set, value);

  const { probe, assertDropped, assertConnects, waitUntilLetIn, failPasswords } = labProbes(L);

  before(async () => {
    lab = await SshdLab.start({ fastFailures: true, attacker6b: true });
    tmp = mkdtempSync(join(tmpdir(), 'warden-e2e-protection-'));
    configPath = join(tmp, 'warden.yaml');
    socket = join(tmp, 'run', 'warden.sock');
    writeFileSync(configPath, yamlConfig({
      stateDir: join(tmp, 'state'), socket, backend: 'nftables', table, netns: lab.serverNs,
      // The admin's own addresses are allow-listed, as an operator would do for their workstation:
      // its failures (typos) are never counted. See the IPv6 test for what that does NOT cover.
      allow: ['127.0.0.0/8', '::1', lab.adminV4, lab.adminV6],
      logPath: lab.logPath, maxretry: 3, findtime: '10m',
      // Long: the restart/crash steps must not race the expiry. Expiry is tested with `warden ban --for 3s`.
      bantime: '10m',
      // The lockout guard stays on, as in production: an attacker's open connection during its
      // password guesses ("sshd: root [priv]") must not count as a logged-in session.
    }));
  }, { timeout: 90_000 });

  after(async () => {
    const problems = await DaemonProcess.stopAll();
    try {
      await lab?.cleanup();
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    DaemonProcess.printHistoryIfVerbose();
    printTimings(timings, 'lab tests', fileStarted);
    if (problems.length) throw new Error(`cleanup: ${problems.join('; ')}`);
  }, { timeout: 60_000 });

  it('bans the attacker at the TCP level within seconds of its 3rd failure; the admin keeps access', { timeout: 120_000 }, () => withDiagnostics(async () => {
    const l = L();
    const d = await startDaemon('daemon#1');
    assert.deepEqual(await kernelSet('banned4'), [], 'the daemon starts with an empty set');
    // The admin works normally, and so does the attacker's TCP connection before any failure.
    const admin = await l.loginWithKey('admin', l.user, { command: 'id -un' });
    assert.equal(admin.outcome, 'accepted', admin.stderr);
    assert.equal(admin.stdout.trim(), l.user.name);
    await assertConnects('attacker', l.serverV4, 'nothing happened yet');

    const seen3 = await failPasswords('attacker', 'root', l.serverV4, FAILED_ROOT_V4, 3);
    const element = await until('192.0.2.66 in the kernel set banned4', () => kernelHas('banned4', ATTACKER_V4), 5_000, 10);
    const kernelMs = Date.now() - seen3;
    const dropped = await until('the attacker\'s SYN to be dropped', async () => {
      const t = Date.now();
      return (await probe('attacker', l.serverV4, 1000)) === 'timeout' ? t : undefined;
    }, 5_000, 0);
    const tcpMs = dropped - seen3;
    timings.push(`IPv4 ban latency: 3rd failure line in auth.log → element in the kernel set ${kernelMs} ms; → first dropped SYN probe (its start) ${tcpMs} ms`);
    assert.ok(kernelMs < 5_000 && tcpMs < 5_000, `ban took ${kernelMs} / ${tcpMs} ms`);
    assert.ok(element.timeout !== null && element.timeout > 590 && element.timeout <= 600, `kernel timeout ${element.timeout} should be the 10m bantime`);

    // The attacker's ssh does not even reach sshd now; the admin still connects and logs in.
    const blocked = await l.tryPassword('attacker', 'root', wrong(), { timeoutMs: 15_000 });
    assert.equal(blocked.outcome, 'unreachable', blocked.stderr);
    await assertConnects('admin', l.serverV4, 'the admin is not banned');
    const again = await l.loginWithKey('admin');
    assert.equal(again.outcome, 'accepted', again.stderr);

    const bans = await wardenJson<BanView[]>(['bans', '--socket', socket]);
    const ban = bans.find((b) => b.ip === ATTACKER_V4);
    assert.ok(ban, `192.0.2.66 not in warden bans: ${JSON.stringify(bans)}`);
    assert.equal(bans.length, 1, 'only the attacker is banned');
    assert.equal(ban.jail, 'sshd');
    assert.equal(ban.permanent, false);
    assert.equal(ban.origin, 'auto');
    assert.ok(ban.until !== null && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(ban.until), `until ${ban.until}`);
    const untilMs = Date.parse(ban.until);
    const sinceMs = Date.parse(ban.since);
    assert.ok(Math.abs(untilMs - sinceMs - 600_000) < 1000, `until - since should be the bantime: ${ban.since} → ${ban.until}`);
    assert.ok(Math.abs(sinceMs - seen3) < 5_000, 'the ban starts at the 3rd failure');
    assert.equal(ban.evidence.length, 3, JSON.stringify(ban.evidence));
    for (const line of ban.evidence) assert.match(line, /Failed password for root from 192\.0\.2\.66 port \d+ ssh2/);
    assert.equal(d.running, true);
  }));

  it('keeps the attacker dropped while the daemon is stopped, and restores the same ban after a restart', { timeout: 90_000 }, () => withDiagnostics(async () => {
    const l = L();
    const before = (await wardenJson<BanView[]>(['bans', '--socket', socket])).find((b) => b.ip === ATTACKER_V4);
    assert.ok(before?.until, 'the previous test left the attacker banned');
    const r = await D().stop();
    assert.deepEqual(r, { code: 0, signal: null }, 'SIGTERM is a clean stop');
    assert.equal(existsSync(socket), false, 'a clean stop removes the control socket');

    // Nobody is watching: the kernel keeps dropping (the element has its own timeout).
    const element = await kernelHas('banned4', ATTACKER_V4);
    assert.ok(element && element.timeout !== null && element.expires !== null && element.expires > 500, `kernel element while down: ${JSON.stringify(element)}`);
    await assertDropped('attacker', l.serverV4, 'the daemon is down but the kernel set keeps the ban');
    await assertConnects('admin', l.serverV4, 'the admin is not banned');

    await startDaemon('daemon#2');
    const after = (await wardenJson<BanView[]>(['bans', '--socket', socket])).find((b) => b.ip === ATTACKER_V4);
    assert.ok(after?.until, 'the ban is still listed after the restart');
    assert.ok(Math.abs(Date.parse(after.until) - Date.parse(before.until)) <= 1000, `until changed: ${before.until} → ${after.until}`);
    assert.equal(after.since, before.since);
    assert.deepEqual(after.evidence, before.evidence);
    await assertDropped('attacker', l.serverV4, 'still banned after the restart');
  }));

  it('after kill -9 and a lost kernel set, the restarted daemon reconciles and drops the attacker again', { timeout: 90_000 }, () => withDiagnostics(async () => {
    const l = L();
    const r = await D().kill9();
    assert.equal(r.signal, 'SIGKILL');
    // Simulate lost kernel state (nft flush ruleset by someone, a reboot of the firewall service…).
    await l.execServer(['nft', 'flush', 'set', 'inet', table, 'banned4']);
    assert.deepEqual(await kernelSet('banned4'), []);
    await assertConnects('attacker', l.serverV4, 'the set was flushed and no daemon runs: the precondition of this test');

    const started = Date.now();
    await startDaemon('daemon#3');
    const element = await until('the restarted daemon to put 192.0.2.66 back', () => kernelHas('banned4', ATTACKER_V4), 10_000, 20);
    timings.push(`crash recovery: daemon spawn → element back in the kernel ${Date.now() - started} ms`);
    assert.ok(element.timeout !== null && element.timeout <= 600 && element.timeout > 500, `re-added with the remaining time, got ${JSON.stringify(element)}`);
    await assertDropped('attacker', l.serverV4, 'reconciled from the database');
    const status = await wardenJson<StatusView>(['status', '--socket', socket]);
    assert.equal(status.firewall.lastError, null, `firewall error: ${status.firewall.lastError}`);
    assert.deepEqual(status.warnings.filter((w) => /firewall/i.test(w)), []);
    assert.equal((await wardenJson<BanView[]>(['bans', '--socket', socket])).filter((b) => b.ip === ATTACKER_V4).length, 1);
  }));

  it('warden unban lifts the ban; unbanning an address that is not banned exits 1', { timeout: 60_000 }, () => withDiagnostics(async () => {
    const l = L();
    await ensureDaemon();
    if (!(await wardenJson<BanView[]>(['bans', '--socket', socket])).some((b) => b.ip === ATTACKER_V4)) {
      // Only when an earlier step failed: give this step its precondition instead of cascading.
      assert.equal((await warden(['ban', ATTACKER_V4, '--socket', socket])).code, 0);
    }
    await assertDropped('attacker', l.serverV4, 'banned before the unban');
    const r = await warden(['unban', ATTACKER_V4, '--socket', socket]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /unbanned 192\.0\.2\.66/);
    await until('the attacker to connect again', async () => (await probe('attacker', l.serverV4, 1000)) === 'connected', 5_000, 0);
    assert.equal(await kernelHas('banned4', ATTACKER_V4), undefined);
    assert.deepEqual((await wardenJson<BanView[]>(['bans', '--socket', socket])).filter((b) => b.ip === ATTACKER_V4), []);

    const again = await warden(['unban', ATTACKER_V4, '--socket', socket]);
    assert.equal(again.code, 1, `second unban: ${again.stdout}${again.stderr}`);
    assert.match(again.stdout, /192\.0\.2\.66 was not banned/);
    const never = await warden(['unban', '198.51.100.77', '--socket', socket]);
    assert.equal(never.code, 1);
    assert.equal(D().running, true);
  }));

  it('a short ban expires in the kernel by itself (daemon frozen), then disappears from warden bans', { timeout: 60_000 }, () => withDiagnostics(async () => {
    const l = L();
    await ensureDaemon();
    const r = await warden(['ban', ATTACKER_V4, '--for', '3s', '--json', '--socket', socket]);
    assert.equal(r.code, 0, r.stderr);
    const ban = JSON.parse(r.stdout) as BanView;
    assert.equal(ban.ip, ATTACKER_V4);
    assert.equal(ban.origin, 'manual');
    assert.ok(ban.until);
    const untilMs = Date.parse(ban.until);
    const element = await until('the manual ban in the kernel', () => kernelHas('banned4', ATTACKER_V4), 5_000, 10);
    assert.ok(element.timeout !== null && element.timeout <= 3, `kernel timeout ${element.timeout}`);
    await assertDropped('attacker', l.serverV4, 'manually banned for 3 s');

    // Freeze the daemon: whatever lifts the ban now, it is not the daemon.
    D().signal('SIGSTOP');
    try {
      const connectedAt = await waitUntilLetIn('attacker', l.serverV4, 'the kernel to let the attacker in after expiry', 12_000);
      assert.ok(connectedAt >= untilMs - 1500, `lifted ${untilMs - connectedAt} ms before its end`);
      timings.push(`expiry: kernel let the attacker in ${connectedAt - untilMs} ms after the ban's end (daemon frozen)`);
      assert.equal(await kernelHas('banned4', ATTACKER_V4), undefined, 'the kernel removed the element by its timeout');
    } finally {
      D().signal('SIGCONT');
    }
    await until('warden bans to forget the expired ban', async () =>
      (await wardenJson<BanView[]>(['bans', '--socket', socket])).every((b) => b.ip !== ATTACKER_V4), 5_000, 200);
  }));

  it('bans an IPv6 attacker alone when an allow-listed neighbour shares its /64, else the whole /64', { timeout: 120_000 }, () => withDiagnostics(async () => {
    // The jail keeps the default ipv6_prefix (64), what production runs. Phase 1: the admin's
    // 2001:db8::10 is allow-listed and shares the attacker's /64, so the ban narrows to the
    // attacker's own address: the attacker is dropped, its innocent neighbours are not.
    // Phase 2: without an allow-listed neighbour, a ban covers the whole /64 — another address of
    // the same host (attacker6b) fails and its neighbour 2001:db8::66 is dropped too.
    const l = L();
    await ensureDaemon();
    await assertConnects('attacker6b', l.serverV6, 'before the IPv6 ban');
    const seen3 = await failPasswords('attacker', 'root', l.serverV6, FAILED_ROOT_V6, 3);
    const element = await until('2001:db8::66 in the kernel set banned6', () => kernelHas('banned6', '2001:db8::66'), 5_000, 10);
    const kernelMs = Date.now() - seen3;
    const dropped = await until('the IPv6 attacker\'s SYN to be dropped', async () => {
      const t = Date.now();
      return (await probe('attacker', l.serverV6, 1000)) === 'timeout' ? t : undefined;
    }, 5_000, 0);
    timings.push(`IPv6 ban latency: 3rd failure line → kernel ${kernelMs} ms; → first dropped SYN probe ${dropped - seen3} ms`);
    assert.ok(element.timeout !== null && element.timeout > 590);
    await assertConnects('attacker6b', l.serverV6, 'same /64 but the ban was narrowed to the attacker');
    await assertConnects('admin', l.serverV6, 'the allow-listed admin keeps IPv6 access');
    await assertConnects('attacker', l.serverV4, 'an IPv6 ban does not touch the attacker\'s IPv4 address');
    let bans = await wardenJson<BanView[]>(['bans', '--socket', socket]);
    const single = bans.find((b) => b.ip === '2001:db8::66');
    assert.ok(single, `2001:db8::66 not in warden bans: ${JSON.stringify(bans)}`);
    assert.equal(single.evidence.length, 3);
    for (const line of single.evidence) assert.match(line, /Failed password for root from 2001:db8::66 port \d+ ssh2/);
    assert.equal((await warden(['unban', '2001:db8::66', '--socket', socket])).code, 0);

    // Phase 2: the admin's IPv6 address leaves the allow-list (reload, bans kept).
    writeFileSync(configPath, readFileSync(configPath, 'utf8').replace(`"${l.adminV6}"`, '"2001:db8:ffff::1"'));
    const reload = await warden(['reload', '--socket', socket]);
    assert.equal(reload.code, 0, reload.stderr);
    const seen3b = await failPasswords('attacker6b', 'root', l.serverV6, /Failed password for root from 2001:db8::67 port \d+ ssh2/, 3);
    const prefix = await until('2001:db8:: in the kernel set banned6_64', () => kernelHas('banned6_64', '2001:db8::'), 5_000, 10);
    timings.push(`IPv6 /64 ban latency: 3rd failure line → kernel ${Date.now() - seen3b} ms`);
    assert.ok(prefix.timeout !== null && prefix.timeout > 590);
    await assertDropped('attacker6b', l.serverV6, 'its /64 is banned');
    await assertDropped('attacker', l.serverV6, 'same /64 as attacker6b, never failed this time');
    bans = await wardenJson<BanView[]>(['bans', '--socket', socket]);
    assert.ok(bans.some((b) => b.ip === '2001:db8::/64'), JSON.stringify(bans));
    assert.equal((await warden(['unban', '2001:db8::/64', '--socket', socket])).code, 0);
    await until('the /64 to leave the kernel', async () => (await kernelHas('banned6_64', '2001:db8::')) === undefined || undefined, 5_000, 20);
  }));

  it('survives garbage, binary bytes and a 100 KB line in the log, and still bans afterwards', { timeout: 90_000 }, () => withDiagnostics(async () => {
    const l = L();
    await ensureDaemon();
    const d = D();
    const before = await wardenJson<StatusView>(['status', '--socket', socket]);
    const src0 = before.jails[0]?.sources[0];
    assert.ok(src0);
    const binary = randomBytes(8192);
    binary[100] = 0; // at least one NUL
    const stamp = syslogStamp('local'); // "Mon DD HH:MM:SS", what rsyslog writes
    const hugeSshd = `${stamp} lab sshd[4242]: Failed password for root from 192.0.2.66 port 1 ssh2 ${'A'.repeat(100_000)}`;
    const chunks: Buffer[] = [
      Buffer.concat([binary, Buffer.from('\n')]),
      Buffer.from('\n\n   \r\n\t\t\n'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x0a]), // invalid UTF-8, ends with \n
      Buffer.from(`\x1b[31m${stamp} lab sshd[1]: \x1b]0;pwned\x07 Failed password for root from 192.0.2.66 port 1 ssh2\x1b[0m\n`),
      Buffer.from(`${stamp} lab sshd[1]: Failed password for root from 999.0.2.66 port 1 ssh2\n`),
      Buffer.from(`${stamp} lab sshd[1]: Failed password for root from 2001:db8:::66 port 1 ssh2\n`),
      Buffer.from(`${stamp} lab sshd[\n`),
      Buffer.from(`${'x'.repeat(100 * 1024)}\n`),
      Buffer.from(`${hugeSshd}\n`),
      Buffer.from('<999>1 not-a-date host prog - - msg\n'),
    ];
    // rsyslogd writes the same file with O_APPEND: each of our writes lands whole, between its lines.
    for (const c of chunks) appendFileSync(l.logPath, c);
    const after = await until('the daemon to read past the garbage', async () => {
      const s = await wardenJson<StatusView>(['status', '--socket', socket]);
      const src = s.jails[0]?.sources[0];
      return src && src.linesSkipped > src0.linesSkipped && (src.linesTruncated ?? 0) > (src0.linesTruncated ?? 0) ? s : undefined;
    }, 10_000, 200);
    assert.equal(after.pid, d.pid, 'the same daemon process answers');
    assert.equal(after.jails[0]?.sources[0]?.state, 'following');
    assert.equal(d.running, true);
    assert.equal((await wardenJson<BanView[]>(['bans', '--socket', socket])).some((b) => b.ip === ATTACKER_V4), false,
      'none of the garbage lines (malformed, truncated) may ban 192.0.2.66 by itself');

    const seen3 = await failPasswords('attacker', 'root', l.serverV4, FAILED_ROOT_V4, 3);
    await until('192.0.2.66 banned again after the garbage', () => kernelHas('banned4', ATTACKER_V4), 5_000, 10);
    timings.push(`IPv4 ban after garbage: 3rd failure line → kernel ${Date.now() - seen3} ms`);
    await assertDropped('attacker', l.serverV4, 'banned after the garbage');
    const ban = (await wardenJson<BanView[]>(['bans', '--socket', socket])).find((b) => b.ip === ATTACKER_V4);
    assert.ok(ban);
    for (const line of ban.evidence) assert.match(line, EVIDENCE_ROOT_V4);
    assert.equal(d.running, true);
  }));
});

// ------------------------------------------------------------------------------------ no lab needed

describe('daemon start-up edge cases (no lab, firewall backend none)', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'warden-e2e-startup-'));
    dirs.push(d);
    return d;
  };

  after(async () => {
    await DaemonProcess.stopAll();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('reports a missing log file as waiting, and picks it up once it is created', { timeout: 60_000 }, () => withDiagnostics(async () => {
    const dir = tmp();
    const logDir = join(dir, 'log');
    mkdirSync(logDir);
    const logPath = join(logDir, 'auth.log');
    const socket = join(dir, 'run', 'warden.sock');
    const configPath = join(dir, 'warden.yaml');
    writeFileSync(configPath, yamlConfig({ stateDir: join(dir, 'state'), socket, backend: 'none', logPath, maxretry: 3, findtime: '10m', bantime: '10m' }));
    const d = DaemonProcess.start('daemon (missing log)', configPath, socket);
    try {
      const s = await d.ready({ state: 'waiting' });
      const src = s.jails[0]?.sources[0];
      assert.ok(src);
      assert.equal(src.name, logPath);
      assert.equal(src.state, 'waiting');
      assert.ok(src.error?.includes(logPath) && /ENOENT|no such file/i.test(src.error), `source error: ${src.error}`);
      assert.ok(s.warnings.some((w) => w.includes(logPath)), `warnings should name the missing log: ${JSON.stringify(s.warnings)}`);
      const text = await warden(['status', '--socket', socket]);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /\(waiting\)/);

      const iso = () => new Date().toISOString();
      writeFileSync(logPath, [1, 2, 3].map((i) => `${iso()} lab sshd[${100 + i}]: Failed password for root from 203.0.113.9 port ${40000 + i} ssh2\n`).join(''));
      const ban = await until('the ban from the log created after start', async () =>
        (await wardenJson<BanView[]>(['bans', '--socket', socket])).find((b) => b.ip === '203.0.113.9'), 10_000, 100);
      assert.equal(ban.jail, 'sshd');
      assert.equal(ban.evidence.length, 3);
      const s2 = await wardenJson<StatusView>(['status', '--socket', socket]);
      assert.equal(s2.jails[0]?.sources[0]?.state, 'following');
      assert.equal(s2.jails[0]?.sources[0]?.error, undefined);
      assert.equal(s2.jails[0]?.sources[0]?.linesRead, 3);
      assert.deepEqual(s2.warnings.filter((w) => w.includes(logPath)), []);
    } finally {
      const r = await d.stop();
      assert.deepEqual(r, { code: 0, signal: null });
    }
  }));

  it('refuses a malformed configuration with exit 2, naming file, line and key, and creates nothing', { timeout: 60_000 }, async () => {
    const dir = tmp();
    const stateDir = join(dir, 'state');
    const socketDir = join(dir, 'run');
    const good = [
      `state_dir: ${JSON.stringify(stateDir)}`,
      `socket: ${JSON.stringify(join(socketDir, 'warden.sock'))}`,
      'firewall: { backend: none }',
      'jails:',
      '  sshd:',
      `    source: { file: ${JSON.stringify(join(dir, 'auth.log'))} }`,
      '    maxretry: 3',
      '    findtime: 10m',
      '    bantime: 10m',
    ];
    const cases: Array<{ name: string; edit: (lines: string[]) => string[]; line: number; key: RegExp }> = [
      // A misspelt key must be an error (silently ignored it would leave the default in force).
      { name: 'unknown key', edit: (x) => [...x.slice(0, 8), '    bantim: 1h', ...x.slice(8)], line: 9, key: /jails\.sshd\.bantim\b.*unknown key/ },
      { name: 'bad number', edit: (x) => x.map((s) => s.replace('maxretry: 3', 'maxretry: -4')), line: 7, key: /jails\.sshd\.maxretry\b.*whole number/ },
      { name: 'bad duration', edit: (x) => x.map((s) => s.replace('findtime: 10m', 'findtime: ten minutes')), line: 8, key: /jails\.sshd\.findtime\b/ },
      { name: 'bad backend', edit: (x) => x.map((s) => s.replace('backend: none', 'backend: pf')), line: 3, key: /firewall\.backend\b.*nftables/ },
      // A YAML-level error (here a duplicate key: which value would win?) names file and line.
      { name: 'duplicate key', edit: (x) => [...x.slice(0, 7), '    maxretry: 50', ...x.slice(7)], line: 8, key: /invalid YAML: Map keys must be unique/ },
    ];
    for (const c of cases) {
      const path = join(dir, `bad-${c.name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(path, `${c.edit(good).join('\n')}\n`);
      const r = await warden(['run', '--config', path], 15_000);
      assert.equal(r.code, 2, `${c.name}: exit ${r.code} signal ${r.signal}; stderr: ${r.stderr}`);
      const first = r.stderr.trim().split('\n')[0] ?? '';
      // "warden: configuration error: FILE:LINE[:COL]: KEY: problem"
      assert.ok(first.includes(`${path}:${c.line}`), `${c.name}: the message should name ${path}:${c.line}: ${first}`);
      assert.match(first, c.key, `${c.name}: ${first}`);
      assert.equal(r.stdout, '');
      assert.equal(existsSync(stateDir), false, `${c.name}: state_dir created`);
      assert.equal(existsSync(socketDir), false, `${c.name}: socket directory created`);
    }
    // An allow entry that is a host name nobody can resolve: refused before anything starts too.
    const unresolvable = join(dir, 'bad-allow-name.yaml');
    writeFileSync(unresolvable, `${[...good.slice(0, 3), 'allow: [no-such-host.invalid]', ...good.slice(3)].join('\n')}\n`);
    const ra = await warden(['run', '--config', unresolvable], 30_000);
    assert.equal(ra.code, 2, `unresolvable allow name: exit ${ra.code}; stderr: ${ra.stderr}`);
    assert.match(ra.stderr, /allow: host name "no-such-host\.invalid" does not resolve/);
    assert.equal(existsSync(stateDir), false, 'unresolvable allow name: state_dir created');
    assert.equal(existsSync(socketDir), false, 'unresolvable allow name: socket directory created');
    // The good configuration itself is accepted (so the failures above are due to the edits).
    const okPath = join(dir, 'good.yaml');
    writeFileSync(okPath, `${good.join('\n')}\n`);
    const d = DaemonProcess.start('daemon (good config)', okPath, join(socketDir, 'warden.sock'));
    try {
      await d.ready({ state: 'waiting' });
      assert.ok(statSync(stateDir).isDirectory());
      assert.ok(readdirSync(stateDir).includes('warden.db'));
    } finally {
      await d.stop();
    }
  });
});
