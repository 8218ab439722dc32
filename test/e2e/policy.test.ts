import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BanView, ReviewView } from '../../src/control/protocol.js';
import { SshdLab } from '../helpers/sshd-lab.js';
import { mustWhich } from '../helpers/require.js';
import { syslogStamp } from '../helpers/syslog.js';
import { sleep, until } from '../helpers/wait.js';
import {
  ATTACKER_V4, DaemonProcess, EVIDENCE_ROOT_V4, FAILED_ROOT_V4, FAILED_ROOT_V6, labProbes, labSkipReason, nftElement, nftSet,
  printTimings, wardenJson, warden, withDiagnostics, wrong, yamlConfig, type EventView, type NftElement, type StatusView,
} from './support.js';

/**
 * The ban policy end to end, for real: a real sshd (SshdLab) writes a real auth.log through
 * rsyslogd, `warden run` is its own process reading that log, its nftables backend works inside
 * the lab's server namespace. What is checked is what an attacker (or the admin) feels — a TCP
 * connection that is dropped or not — plus what the kernel holds (`nft -j list set`) and what the
 * CLI (`bans`, `review`, `status`) reports.
 *
 *   1. escalation: 2 s → 4 s → permanent; the permanent ban survives SIGTERM and kill -9
 *   2. lockout guard: an admin with a live session who mistypes his password is not banned
 *   3. compromise alerts: a successful login after failures; a root login over the network
 *   4. IPv6: a ban covers the attacker's /64, so its neighbour is dropped too
 *
 * One lab for the file; every test has its own daemon, state directory and nftables table (the
 * table is deleted when the test ends, so no ban leaks into the next test).
 */

const skipLab = labSkipReason();

const ADMIN_V4 = '192.0.2.10';

// ------------------------------------------------------------------------------------ helpers

/**
 * Remote addresses of USER_PROCESS records in a utmp file (glibc x86_64/aarch64 layout: 384-byte
 * records, ut_type int16 at 0, ut_host at 76..332). Read here on its own, not through warden's
 * parser, to check the lab's precondition independently of the code under test.
 */
function utmpUserHosts(path: string): string[] {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (let off = 0; off + 384 <= data.length; off += 384) {
    if (data.readInt16LE(off) !== 7 /* USER_PROCESS */) continue;
    const host = data.subarray(off + 76, off + 332);
    out.push(host.subarray(0, host.indexOf(0) < 0 ? host.length : host.indexOf(0)).toString('latin1'));
  }
  return out;
}

/** PIDs whose command line is sshd's logged-in session title for `user` ("sshd: USER@pts/0", "…@notty"). */
function sshdSessionPids(user: string): number[] {
  const title = new RegExp(`^sshd(?:-session)?: ${user}@\\S+\\s*$`);
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ');
      if (title.test(cmdline)) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ the lab

describe('ban policy: escalation, lockout guard, compromise alerts, IPv6 /64 (real sshd, real nftables, warden run as a process)', { skip: skipLab, timeout: 300_000 }, () => {
  let lab: SshdLab | undefined;
  const fileStarted = Date.now();
  const timings: string[] = [];
  const dirs: string[] = [];
  /** Tables of setups whose test has not cleaned up yet (after() deletes them too). */
  const tables = new Set<string>();

  const L = () => {
    if (!lab) throw new Error('the lab did not start');
    return lab;
  };

  /** One test's daemon: its own state directory, socket, configuration and nftables table. */
  class Setup {
    readonly dir: string;
    readonly configPath: string;
    readonly socket: string;
    readonly table = `wdnpol_${randomBytes(4).toString('hex')}`;
    daemon: DaemonProcess | undefined;

    constructor(readonly name: string, o: { bantime: string; maxretry?: number; top?: string[]; allow?: string[] }) {
      const l = L();
      this.dir = mkdtempSync(join(tmpdir(), `warden-e2e-policy-${name}-`));
      dirs.push(this.dir);
      tables.add(this.table);
      this.configPath = join(this.dir, 'warden.yaml');
      this.socket = join(this.dir, 'run', 'warden.sock');
      writeFileSync(this.configPath, yamlConfig({
        stateDir: join(this.dir, 'state'), socket: this.socket, backend: 'nftables', table: this.table, netns: l.serverNs,
        // Loopback only unless a test says otherwise: no lab client is allow-listed.
        allow: o.allow, top: o.top,
        logPath: l.logPath, maxretry: o.maxretry ?? 3, findtime: '10m', bantime: o.bantime,
      }));
    }

    /** The lab's utmp, so the guard sees the lab's sessions (sshd writes it, not the host's /run/utmp). */
    static guard(recent: string): string {
      return `guard: { enabled: true, recent: ${recent}, utmp: ${JSON.stringify(L().utmpPath)} }`;
    }

    async start(label: string): Promise<DaemonProcess> {
      const started = Date.now();
      this.daemon = DaemonProcess.start(`${this.name}:${label}`, this.configPath, this.socket);
      const s = await this.daemon.ready();
      assert.equal(s.firewall.kind, 'nftables');
      timings.push(`${this.name}: ${label} ready in ${Date.now() - started} ms`);
      return this.daemon;
    }

    get d(): DaemonProcess {
      if (!this.daemon?.running) throw new Error(`${this.name}: the daemon is not running`);
      return this.daemon;
    }

    json<T>(cmd: 'bans' | 'review' | 'status'): Promise<T> {
      return wardenJson<T>([cmd, '--socket', this.socket]);
    }

    /** Elements of one of the daemon's sets in the server namespace ([] when the set does not exist). */
    kernelSet(set: string): Promise<NftElement[]> {
      return nftSet(L(), this.table, set);
    }

    kernelHas(set: string, value: string): Promise<NftElement | undefined> {
      return nftElement(L(), this.table, set, value);
    }

    /** Stops the daemon (SIGTERM) and deletes the table: the next test starts from a clean kernel. */
    async finish(): Promise<void> {
      const problems: string[] = [];
      if (this.daemon?.running) {
        const r = await this.daemon.stop(5000);
        if (r.signal === 'SIGKILL') problems.push(`${this.daemon.label} needed SIGKILL`);
      }
      if (lab?.serverNs) {
        const r = await lab.netns.run(lab.serverNs, ['nft', 'delete', 'table', 'inet', this.table]);
        if (r.code !== 0 && !/No such file or directory/.test(r.stderr)) problems.push(`nft delete table ${this.table}: ${r.stderr.trim()}`);
      }
      tables.delete(this.table);
      rmSync(this.dir, { recursive: true, force: true });
      if (problems.length) throw new Error(problems.join('; '));
    }
  }

  /** Runs a test with a fresh Setup; always finishes it (daemon stopped, table deleted, directory removed). */
  async function withSetup(setup: () => Setup, body: (s: Setup) => Promise<void>): Promise<void> {
    const s = setup();
    let failed = true;
    try {
      await withDiagnostics(() => body(s));
      failed = false;
    } finally {
      // A cleanup problem must not hide the test's own failure.
      await s.finish().catch((e: Error) => {
        if (!failed) throw e;
      });
    }
  }

  const { assertDropped, assertConnects, waitUntilLetIn, failPasswords } = labProbes(L);

  before(async () => {
    lab = await SshdLab.start({ fastFailures: true, attacker6b: true });
  }, { timeout: 90_000 });

  after(async () => {
    const problems = await DaemonProcess.stopAll();
    // Tables of a test that could not finish are deleted with the server namespace by lab.cleanup().
    tables.clear();
    try {
      await lab?.cleanup();
    } catch (e) {
      problems.push((e as Error).message);
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    DaemonProcess.printHistoryIfVerbose();
    printTimings(timings, 'policy tests', fileStarted);
    if (problems.length) throw new Error(`cleanup: ${problems.join('; ')}`);
  }, { timeout: 60_000 });

  // ---------------------------------------------------------------------------------- 1

  it('escalates 2 s → 4 s → permanent for an attacker that returns; the permanent ban survives SIGTERM and kill -9; review shows its evidence', { timeout: 120_000 }, () => withSetup(
    () => new Setup('escalation', { bantime: '2s', top: ['escalation: { factor: 2, max: 1h, permanent_after: 3 }', Setup.guard('7d')] }),
    async (s) => {
      const l = L();
      const testStarted = Date.now();
      await s.start('daemon#1');
      assert.deepEqual(await s.kernelSet('banned4'), [], 'a fresh table starts empty');
      assert.deepEqual(await s.kernelSet('permanent4'), [], 'a fresh table starts empty');
      await assertConnects('attacker', l.serverV4, 'nothing happened yet');

      // Bans 1 and 2: timed, the second twice as long; each time the kernel lets the attacker back in by itself.
      const ladder: Array<{ seconds: number; reason: RegExp }> = [
        { seconds: 2, reason: /first ban/ },
        { seconds: 4, reason: /ban 2 within the lookback/ },
      ];
      for (const [i, step] of ladder.entries()) {
        const seen3 = await failPasswords('attacker', 'root', l.serverV4, FAILED_ROOT_V4, 3);
        const element = await until(`ban ${i + 1}: 192.0.2.66 in banned4`, () => s.kernelHas('banned4', ATTACKER_V4), 5_000, 10);
        const bannedAt = Date.now();
        assert.ok(element.timeout !== null && element.timeout <= step.seconds && element.timeout >= step.seconds - 1,
          `ban ${i + 1}: kernel timeout ${element.timeout} should be ${step.seconds} s`);
        const ban = (await s.json<BanView[]>('bans')).find((b) => b.ip === ATTACKER_V4);
        assert.ok(ban?.until, `ban ${i + 1}: 192.0.2.66 should be listed with an end`);
        assert.equal(ban.permanent, false);
        assert.equal(Date.parse(ban.until) - Date.parse(ban.since), step.seconds * 1000, `ban ${i + 1}: ${ban.since} → ${ban.until}`);
        assert.match(ban.reason, step.reason);
        const letIn = await waitUntilLetIn('attacker', l.serverV4, `the kernel to let the attacker in after ban ${i + 1}`, step.seconds * 1000 + 8_000);
        timings.push(`escalation: ban ${i + 1} (${step.seconds} s) — 3rd failure line → kernel ${bannedAt - seen3} ms; kernel let it in ${letIn - Date.parse(ban.until)} ms after its end`);
        assert.ok(letIn >= Date.parse(ban.until) - 1000, `ban ${i + 1} lifted ${Date.parse(ban.until) - letIn} ms before its end`);
      }

      // Ban 3 = permanent_after: an element without a timeout.
      const seen3 = await failPasswords('attacker', 'root', l.serverV4, FAILED_ROOT_V4, 3);
      const element = await until('ban 3: 192.0.2.66 in permanent4', () => s.kernelHas('permanent4', ATTACKER_V4), 5_000, 10);
      timings.push(`escalation: ban 3 (permanent) — 3rd failure line → kernel ${Date.now() - seen3} ms`);
      assert.deepEqual(element, { value: ATTACKER_V4, timeout: null, expires: null }, 'a permanent ban is an element without timeout');
      await assertDropped('attacker', l.serverV4, 'permanently banned');
      // Its ssh does not even reach sshd any more: no log line, nothing for the daemon to see.
      const blocked = await l.tryPassword('attacker', 'root', wrong(), { timeoutMs: 15_000 });
      assert.equal(blocked.outcome, 'unreachable', blocked.stderr);

      const bans = await s.json<BanView[]>('bans');
      assert.equal(bans.length, 1, JSON.stringify(bans));
      const ban = bans[0] as BanView;
      assert.equal(ban.ip, ATTACKER_V4);
      assert.equal(ban.permanent, true);
      assert.equal(ban.until, null);
      assert.equal(ban.remaining, null);
      assert.equal(ban.origin, 'auto');
      assert.equal(ban.jail, 'sshd');
      assert.match(ban.reason, /ban 3 within the lookback: permanent/);
      const status = await s.json<StatusView>('status');
      assert.ok(status.events.some((e) => e.kind === 'permanent-ban' && e.address === ATTACKER_V4), JSON.stringify(status.events));

      const review0 = await s.json<ReviewView[]>('review');
      assert.equal(review0.length, 1, JSON.stringify(review0));
      const r0 = review0[0] as ReviewView;
      assert.equal(r0.ip, ATTACKER_V4);
      assert.equal(r0.permanent, true);
      assert.equal(r0.bans, 3, 'three bans counted');
      assert.equal(r0.failures, 9, 'three failures per ban');
      assert.equal(r0.attemptsWhileBanned, 0, 'its dropped attempts never reached sshd, so never the log');
      assert.equal(r0.evidence.length, 3, JSON.stringify(r0.evidence));
      for (const line of r0.evidence) assert.match(line, EVIDENCE_ROOT_V4);
      assert.ok(r0.firstFailure && r0.lastFailure && r0.lastAttempt, JSON.stringify(r0));
      const first = Date.parse(r0.firstFailure);
      const last = Date.parse(r0.lastFailure);
      // Syslog dates have whole seconds: allow 1 s either way.
      assert.ok(first >= testStarted - 1000 && first < last, `firstFailure ${r0.firstFailure}, lastFailure ${r0.lastFailure}`);
      assert.ok(Math.abs(last - seen3) <= 1500, `lastFailure ${r0.lastFailure} should be the 3rd failure of the last round (${new Date(seen3).toISOString()})`);
      assert.equal(r0.lastAttempt, r0.lastFailure);

      // Attempts while banned: over the network a permanently banned source never reaches sshd
      // (its SYN is dropped, see above), so sshd cannot log one. What the daemon counts is a
      // failure line from a banned source in the log — e.g. one that reached another service
      // writing the same log, or sshd behind a port the firewall does not cover — so such a line
      // is appended to auth.log directly (rsyslogd appends with O_APPEND, so lines stay whole).
      const attemptAt = new Date(Date.now() + 1000); // strictly after lastFailure, whole seconds
      appendFileSync(l.logPath, `${syslogStamp('local', attemptAt)} lab sshd[4242]: Failed password for root from 192.0.2.66 port 40404 ssh2\n`);
      const r1 = await until('review to count the attempt while banned', async () => {
        const r = (await s.json<ReviewView[]>('review')).find((x) => x.ip === ATTACKER_V4);
        return r && r.attemptsWhileBanned === 1 ? r : undefined;
      }, 10_000, 200);
      assert.equal(r1.failures, 9, 'an attempt while banned is not a new failure toward a ban');
      assert.equal(r1.bans, 3);
      assert.equal(r1.lastFailure, r0.lastFailure);
      assert.ok(r1.lastAttempt && Math.abs(Date.parse(r1.lastAttempt) - Math.floor(attemptAt.getTime() / 1000) * 1000) < 1000,
        `lastAttempt ${r1.lastAttempt} should be the appended line's time ${attemptAt.toISOString()}`);
      assert.equal((await s.json<BanView[]>('bans')).length, 1, 'still exactly one ban');

      // Clean stop: the kernel keeps the permanent element; the restarted daemon lists it as before.
      assert.deepEqual(await s.d.stop(), { code: 0, signal: null }, 'SIGTERM is a clean stop');
      assert.deepEqual(await s.kernelHas('permanent4', ATTACKER_V4), { value: ATTACKER_V4, timeout: null, expires: null });
      await assertDropped('attacker', l.serverV4, 'daemon stopped, permanent element kept');
      await s.start('daemon#2 (after SIGTERM)');
      const afterTerm = await s.json<BanView[]>('bans');
      assert.deepEqual(afterTerm, bans, 'the same permanent ban after a clean restart');
      assert.deepEqual(await s.kernelHas('permanent4', ATTACKER_V4), { value: ATTACKER_V4, timeout: null, expires: null });
      assert.deepEqual(await s.json<ReviewView[]>('review'), [r1], 'review unchanged by the restart');

      // kill -9: the kernel still holds the element without timeout, the restarted daemon lists the ban.
      assert.equal((await s.d.kill9()).signal, 'SIGKILL');
      assert.deepEqual(await s.kernelHas('permanent4', ATTACKER_V4), { value: ATTACKER_V4, timeout: null, expires: null });
      await s.start('daemon#3 (after kill -9)');
      assert.deepEqual(await s.json<BanView[]>('bans'), bans, 'the same permanent ban after kill -9');
      assert.deepEqual(await s.kernelHas('permanent4', ATTACKER_V4), { value: ATTACKER_V4, timeout: null, expires: null });
      assert.deepEqual(await s.json<ReviewView[]>('review'), [r1], 'review unchanged by the crash');
      await assertDropped('attacker', l.serverV4, 'still permanently banned after kill -9');

      // And if the kernel set is lost while no daemon runs, the restart puts it back — still without timeout.
      assert.equal((await s.d.kill9()).signal, 'SIGKILL');
      await l.execServer(['nft', 'flush', 'set', 'inet', s.table, 'permanent4']);
      assert.deepEqual(await s.kernelSet('permanent4'), []);
      await s.start('daemon#4 (after kill -9 and a flushed set)');
      const back = await until('the permanent ban back in the kernel', () => s.kernelHas('permanent4', ATTACKER_V4), 10_000, 20);
      assert.deepEqual(back, { value: ATTACKER_V4, timeout: null, expires: null }, 'reconciled as permanent, not with a timeout');
      await assertDropped('attacker', l.serverV4, 'reconciled from the database');

      // A permanent ban is lifted by hand like any other.
      const un = await warden(['unban', ATTACKER_V4, '--socket', s.socket]);
      assert.equal(un.code, 0, un.stderr);
      await waitUntilLetIn('attacker', l.serverV4, 'the attacker to connect after warden unban', 5_000);
      assert.deepEqual(await s.json<ReviewView[]>('review'), []);
      assert.equal(await s.kernelHas('permanent4', ATTACKER_V4), undefined);
      assert.equal(await s.kernelHas('banned4', ATTACKER_V4), undefined);
    },
  ));

  // ---------------------------------------------------------------------------------- 2

  it('does not ban an admin with a live session who mistypes his password 10 times; without the session the same address is banned', { timeout: 90_000 }, () => withSetup(
    // The admin is NOT allow-listed here. guard.recent is 1 s so that the key login of the
    // session protects only briefly: what keeps the admin in is the session itself (utmp and
    // sshd's "sshd: USER@pts/N" process), and once it is closed, nothing protects the address.
    () => new Setup('guard', { bantime: '10m', top: [Setup.guard('1s')] }),
    async (s) => {
      const l = L();
      const re = new RegExp(`sshd\\[\\d+\\]: Failed password for ${l.user.name} from 192\\.0\\.2\\.10 port \\d+ ssh2$`);
      await s.start('daemon#1');
      const session = await l.openSession('admin', l.user, { pty: true });
      let open = true;
      try {
        assert.equal(session.clientAddress, ADMIN_V4);
        // Preconditions, read independently of warden: the login is in the lab's utmp and sshd's
        // session process carries the logged-in title.
        await until('the admin session in the lab utmp', () => utmpUserHosts(l.utmpPath).includes(ADMIN_V4), 5_000, 50);
        assert.ok(sshdSessionPids(l.user.name).length > 0, `no "sshd: ${l.user.name}@…" process`);
        await sleep(1100); // let the 1 s guard.recent of the key login lapse: only the session protects now

        // 10 typos. Every 3rd would be a ban; the guard vetoes each of them (at 3, 6 and 9).
        await failPasswords('admin', l.user.name, l.serverV4, re, 10);
        const status = await until('three guard vetoes for 192.0.2.10', async () => {
          const st = await s.json<StatusView>('status');
          return st.guard.vetoes.filter((v) => v.target === ADMIN_V4).length >= 3 ? st : undefined;
        }, 10_000, 100);
        assert.equal(status.guard.vetoes.length, 3, JSON.stringify(status.guard.vetoes));
        const warnings = status.warnings.filter((w) => /lockout guard/.test(w));
        assert.equal(warnings.length, 3, JSON.stringify(status.warnings));
        for (const w of warnings) {
          assert.match(w, /lockout guard kept 192\.0\.2\.10 unbanned in sshd: 192\.0\.2\.10 has a logged-in session on this machine/);
        }
        const vetoEvents = status.events.filter((e) => e.kind === 'guard-veto');
        // Every veto is a warning in status, but the stored event is one per address per 10 minutes:
        // a typo-prone admin must not flood the event record (and push alerts out of view).
        assert.equal(vetoEvents.length, 1, JSON.stringify(status.events));
        for (const e of vetoEvents) {
          assert.equal(e.address, ADMIN_V4);
          assert.equal(e.severity, 'warning');
          assert.match(e.message, /lockout guard: not banning 192\.0\.2\.10 \(3 failures in sshd\)/);
        }
        assert.equal(await s.kernelHas('banned4', ADMIN_V4), undefined, 'no element for the admin');
        assert.deepEqual(await s.json<BanView[]>('bans'), []);
        await assertConnects('admin', l.serverV4, 'the guard kept the admin unbanned');
        assert.equal(await Promise.race([session.exited.then(() => 'exited'), sleep(0).then(() => 'open')]), 'open', 'the session is still up');

        // Without the session (and with the key login older than guard.recent) nothing protects 192.0.2.10.
        await session.close();
        open = false;
        await until('the admin\'s sshd session process to end', () => sshdSessionPids(l.user.name).length === 0, 10_000, 50);
        // The guard reads live sessions at most every 2 s (its cache): wait until the one read at
        // the last veto is stale.
        const lastVeto = Math.max(...status.guard.vetoes.map((v) => Date.parse(v.at)));
        await sleep(Math.max(0, lastVeto + 2200 - Date.now()));
        // The 10th typo is still counted (the vetoes cleared the count at 3, 6, 9): two more make 3.
        await failPasswords('admin', l.user.name, l.serverV4, re, 2);
        const element = await until('192.0.2.10 in banned4 once unprotected', () => s.kernelHas('banned4', ADMIN_V4), 5_000, 10);
        assert.ok(element.timeout !== null && element.timeout > 590 && element.timeout <= 600, `kernel timeout ${element.timeout}`);
        await assertDropped('admin', l.serverV4, 'no session, no recent key login: banned like anyone');
        const after = await s.json<StatusView>('status');
        assert.equal(after.guard.vetoes.length, 3, 'no new veto');
        const ban = (await s.json<BanView[]>('bans')).find((b) => b.ip === ADMIN_V4);
        assert.ok(ban);
        assert.equal(ban.evidence.length, 3);
        for (const line of ban.evidence) assert.match(line, re);
        assert.equal((await warden(['unban', ADMIN_V4, '--socket', s.socket])).code, 0);
        await waitUntilLetIn('admin', l.serverV4, 'the admin to connect after warden unban', 5_000);
      } finally {
        if (open) await session.close();
      }
    },
  ));

  // ---------------------------------------------------------------------------------- 3

  it('raises a critical compromise event for a successful login after failures, and for a root login over the network', { timeout: 60_000 }, () => withSetup(
    () => new Setup('compromise', { bantime: '10m', top: [Setup.guard('7d')] }),
    async (s) => {
      const l = L();
      await s.start('daemon#1');
      // Control: a key login with no failures before it is no alert.
      const adminLogin = await l.loginWithKey('admin', l.user);
      assert.equal(adminLogin.outcome, 'accepted', adminLogin.stderr);

      const failed = new RegExp(`sshd\\[\\d+\\]: Failed password for ${l.user.name} from 192\\.0\\.2\\.66 port \\d+ ssh2$`);
      await failPasswords('attacker', l.user.name, l.serverV4, failed, 2);
      const from = l.logMark();
      const guessed = await l.tryPassword('attacker', l.user.name, l.user.password, { timeoutMs: 15_000 });
      assert.equal(guessed.outcome, 'accepted', guessed.stderr);
      await l.waitForLog(new RegExp(`sshd\\[\\d+\\]: Accepted password for ${l.user.name} from 192\\.0\\.2\\.66 port \\d+ ssh2$`), 10_000, from);

      const status = await until('a login-after-failures event', async () => {
        const st = await s.json<StatusView>('status');
        return st.events.some((e) => e.kind === 'login-after-failures') ? st : undefined;
      }, 10_000, 100);
      const alerts = status.events.filter((e) => e.kind === 'login-after-failures');
      assert.equal(alerts.length, 1, `only the attacker's login is an alert, not the admin's: ${JSON.stringify(status.events)}`);
      const alert = alerts[0] as EventView;
      assert.equal(alert.severity, 'critical');
      assert.equal(alert.address, ATTACKER_V4);
      assert.match(alert.message, new RegExp(`successful password login as ${l.user.name} from 192\\.0\\.2\\.66, and it failed to log in shortly before`));
      assert.equal(status.events.some((e) => e.kind === 'root-login'), false);
      assert.deepEqual(await s.json<BanView[]>('bans'), [], 'two failures are below maxretry: no ban');

      // Root over the network. The host's root password is not touched; instead the lab user's
      // key is authorized for root in the LAB's sshd only (its AuthorizedKeysFile is
      // <lab>/authorized_keys/%u; the file is removed right after, and with the lab directory).
      const rootKeys = join(l.tmpDir, 'authorized_keys', 'root');
      writeFileSync(rootKeys, `${l.user.publicKey}\n`, { mode: 0o644 });
      try {
        const fromRoot = l.logMark();
        const r = await l.netns.run(l.adminNs, [mustWhich('ssh'),
          '-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null',
          '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=3', '-p', '22',
          '-i', l.user.keyPath, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'PreferredAuthentications=publickey',
          '-o', 'PasswordAuthentication=no', '-o', 'BatchMode=yes', '-l', 'root', '-T', l.serverV4, 'true'], { timeoutMs: 20_000 });
        assert.equal(r.code, 0, `root key login in the lab: ${r.stderr}`);
        await l.waitForLog(/sshd\[\d+\]: Accepted publickey for root from 192\.0\.2\.10 port \d+ ssh2/, 10_000, fromRoot);
      } finally {
        rmSync(rootKeys, { force: true });
      }
      const st2 = await until('a root-login event', async () => {
        const st = await s.json<StatusView>('status');
        return st.events.some((e) => e.kind === 'root-login') ? st : undefined;
      }, 10_000, 100);
      const root = st2.events.find((e) => e.kind === 'root-login') as EventView;
      assert.equal(root.severity, 'critical');
      assert.equal(root.address, ADMIN_V4);
      assert.match(root.message, /root logged in over the network \(publickey\) from 192\.0\.2\.10/);
    },
  ));

  // ---------------------------------------------------------------------------------- 4

  it('bans an IPv6 attacker\'s whole /64: its neighbour 2001:db8::67 is dropped too', { timeout: 60_000 }, () => withSetup(
    // No allow-listed address in 2001:db8::/64 (the admin's 2001:db8::10 is not in allow), so the
    // default ipv6_prefix 64 applies unnarrowed.
    () => new Setup('ipv6', { bantime: '10m', top: [Setup.guard('7d')] }),
    async (s) => {
      const l = L();
      await s.start('daemon#1');
      await assertConnects('attacker6b', l.serverV6, 'before the ban');
      const seen3 = await failPasswords('attacker', 'root', l.serverV6, FAILED_ROOT_V6, 3);
      const element = await until('2001:db8:: in banned6_64', () => s.kernelHas('banned6_64', '2001:db8::'), 5_000, 10);
      timings.push(`ipv6: 3rd failure line → /64 in the kernel ${Date.now() - seen3} ms`);
      assert.ok(element.timeout !== null && element.timeout > 590 && element.timeout <= 600, `kernel timeout ${element.timeout}`);
      assert.equal(await s.kernelHas('banned6', '2001:db8::66'), undefined, 'the /64, not the single address');

      await assertDropped('attacker', l.serverV6, 'its /64 is banned');
      await assertDropped('attacker6b', l.serverV6, 'same /64 as the attacker, never failed itself');
      const blocked = await l.tryPassword('attacker6b', 'root', wrong(), { target: l.serverV6, timeoutMs: 15_000 });
      assert.equal(blocked.outcome, 'unreachable', blocked.stderr);
      // Anyone else in that /64 too — the admin's 2001:db8::10 included, which is why an admin
      // sharing a /64 with strangers belongs in `allow` (the ban then narrows to the address).
      await assertDropped('admin', l.serverV6, 'the admin shares the banned /64 and is not allow-listed here');
      // Only IPv6 in that /64 is concerned.
      await assertConnects('attacker6b', l.serverV4, 'its IPv4 address is not banned');

      const bans = await s.json<BanView[]>('bans');
      assert.equal(bans.length, 1, JSON.stringify(bans));
      const ban = bans[0] as BanView;
      assert.equal(ban.ip, '2001:db8::/64');
      assert.equal(ban.evidence.length, 3);
      for (const line of ban.evidence) assert.match(line, /Failed password for root from 2001:db8::66 port \d+ ssh2$/);
    },
  ));
});
