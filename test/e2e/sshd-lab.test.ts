import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { execFile } from '../../src/util/exec.js';
import { SshdLab } from '../helpers/sshd-lab.js';

const skip = SshdLab.unavailable();

/** Host mount points, minus the nsfs entries `ip netns add` legitimately creates under /run/netns. */
function hostMounts(): Set<string> {
  return new Set(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l && !/ - nsfs /.test(l))
      .map((l) => l.split(' ').slice(3, 5).join(' ')),
  );
}

function alive(pid: number): boolean {
  if (!pid) return false;
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return stat !== '' && !/\) [ZX] /.test(stat);
}

const SYSLOG_TS = String.raw`[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+`;
const wrong = () => `wrong-${Math.random().toString(36).slice(2)}`;

describe('SshdLab: a real sshd in network namespaces', { skip, timeout: 120_000 }, () => {
  let lab: SshdLab | undefined;
  let mountsBefore: Set<string>;
  let startMs = 0;
  const hostPaths = ['/dev/log', '/run/sshd', '/run/mount', '/run/utmp'];
  const existedBefore = new Map(hostPaths.map((p) => [p, existsSync(p)]));
  const hostAccounting = ['/var/log/btmp', '/var/log/wtmp', '/var/log/lastlog'].filter(existsSync);
  const accountingBefore = new Map(hostAccounting.map((p) => [p, readFileSync(p)]));

  before(async () => {
    mountsBefore = hostMounts();
    const t0 = Date.now();
    lab = await SshdLab.start({ attacker6b: true });
    startMs = Date.now() - t0;
  }, { timeout: 60_000 });

  after(async () => {
    await lab?.cleanup();
  }, { timeout: 30_000 });

  it('starts quickly and leaks no mount to the host', () => {
    assert.ok(startMs < 15_000, `start took ${startMs} ms`);
    const leaked = [...hostMounts()].filter((m) => !mountsBefore.has(m));
    assert.deepEqual(leaked, [], 'mounts made for sshd must stay in its private mount namespace');
    for (const p of hostPaths) assert.equal(existsSync(p), existedBefore.get(p), `host path ${p} appeared or vanished`);
  });

  it('logs a wrong root password from the attacker (IPv4) in traditional syslog format', async () => {
    const l = lab as SshdLab;
    const from = l.logMark();
    const r = await l.tryPassword('attacker', 'root', wrong());
    assert.equal(r.ok, false);
    assert.equal(r.outcome, 'denied', r.stderr);
    const m = await l.waitForLog(new RegExp(`^${SYSLOG_TS} sshd\\[\\d+\\]: Failed password for root from 192\\.0\\.2\\.66 port (\\d+) ssh2$`), 10_000, from);
    assert.ok(Number(m[1]) > 0);
    // PAM is really in the loop, as on Debian.
    await l.waitForLog(/pam_unix\(sshd:auth\): authentication failure; .*rhost=192\.0\.2\.66\s+user=root/, 5_000, from);
  });

  it('logs a wrong password over IPv6, and from the second host of the same /64', async () => {
    const l = lab as SshdLab;
    const from = l.logMark();
    assert.equal(await l.attemptPassword('attacker', 'root', wrong(), { target: l.serverV6 }), false);
    await l.waitForLog(/sshd\[\d+\]: Failed password for root from 2001:db8::66 port \d+ ssh2$/, 10_000, from);
    assert.equal(await l.attemptPassword('attacker6b', 'nosuchuser', wrong(), { target: l.serverV6 }), false);
    await l.waitForLog(/sshd\[\d+\]: (Failed password for invalid user nosuchuser|Invalid user nosuchuser) from 2001:db8::67 port \d+/, 10_000, from);
  });

  it('accepts the test user\'s password and key from the admin', async () => {
    const l = lab as SshdLab;
    const from = l.logMark();
    assert.equal(await l.attemptPassword('admin', l.user.name, l.user.password), true);
    await l.waitForLog(new RegExp(`Accepted password for ${l.user.name} from 192\\.0\\.2\\.10 port \\d+ ssh2`), 10_000, from);
    const r = await l.loginWithKey('admin', l.user, { command: 'id -un' });
    assert.equal(r.outcome, 'accepted', r.stderr);
    assert.equal(r.stdout.trim(), l.user.name);
    await l.waitForLog(new RegExp(`^${SYSLOG_TS} sshd\\[\\d+\\]: Accepted publickey for ${l.user.name} from 192\\.0\\.2\\.10 port \\d+ ssh2: ED25519 SHA256:`), 10_000, from);
  });

  it('keeps a session open until it is closed', async () => {
    const l = lab as SshdLab;
    const from = l.logMark();
    const s = await l.openSession('admin', l.user, { target: l.serverV6 });
    try {
      assert.equal(s.clientAddress, '2001:db8::10');
      await l.waitForLog(new RegExp(`Accepted publickey for ${l.user.name} from 2001:db8::10 port ${s.clientPort} ssh2`), 5_000, from);
      await l.waitForLog(new RegExp(`pam_unix\\(sshd:session\\): session opened for user ${l.user.name}`), 5_000, from);
      // The session is visible on the server as an established connection.
      const ss = await l.execServer(['ss', '-Htn', 'state', 'established', '( sport = :22 )']);
      assert.match(ss.stdout, new RegExp(`\\[2001:db8::10\\]:${s.clientPort}\\b`));
    } finally {
      await s.close();
    }
    await l.waitForLog(new RegExp(`session closed for user ${l.user.name}`), 10_000, from);
  });

  it('records terminal sessions and failed logins in the lab\'s own utmp/btmp, not the host\'s', async () => {
    const l = lab as SshdLab;
    const s = await l.openSession('admin', l.user, { pty: true });
    try {
      const who = await execFile('who', [l.utmpPath]);
      assert.match(who.stdout, new RegExp(`^${l.user.name}\\s+pts/\\d+.*\\(192\\.0\\.2\\.10\\)`, 'm'));
    } finally {
      await s.close();
    }
    assert.ok(readFileSync(l.btmpPath).length > 0, 'failed logins are recorded in the lab btmp');
    for (const [p, before] of accountingBefore) assert.ok(readFileSync(p).equals(before), `host ${p} changed`);
  });

  it('probes TCP: connected to sshd, refused on a closed port', async () => {
    const l = lab as SshdLab;
    assert.equal(await l.tcpConnect('attacker', l.serverV4, 22, 2000), true);
    assert.equal(await l.tcpConnect('attacker', l.serverV6, 22, 2000), true);
    assert.equal(await l.tcpProbe('admin', l.serverV4, 2222, 2000), 'refused');
    // A dropping firewall in the server namespace turns the probe into a timeout.
    const nft = await execFile('nft', ['--version']).catch(() => undefined);
    if (nft?.code === 0) {
      await l.execServer(['nft', 'add table inet labtest; add chain inet labtest input { type filter hook input priority 0; policy accept; }; add rule inet labtest input ip saddr 192.0.2.66 tcp dport 22 drop']);
      assert.equal(await l.tcpProbe('attacker', l.serverV4, 22, 1000), 'timeout');
      assert.equal(await l.tcpConnect('admin', l.serverV4, 22, 2000), true);
      assert.equal((await l.tryPassword('attacker', 'root', wrong(), { timeoutMs: 10_000 })).outcome, 'unreachable');
      await l.execServer(['nft', 'delete table inet labtest']);
    }
  });

  it('cleans up everything, and may be called twice', async () => {
    const l = lab as SshdLab;
    const namespaces = [l.serverNs, l.attackerNs, l.adminNs, l.attacker6bNs];
    const session = await l.openSession('admin');
    const pids = [l.sshdPid, l.rsyslogdPid, session.pid];
    for (const pid of pids) assert.ok(alive(pid), `pid ${pid} should run before cleanup`);
    const user = l.user.name;

    await l.cleanup();
    await l.cleanup();

    const list = (await execFile('ip', ['netns', 'list'])).stdout;
    for (const ns of namespaces) assert.ok(!list.includes(ns), `namespace ${ns} left behind`);
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} left running`);
    const ps = (await execFile('ps', ['-eo', 'user:32,pid,args'])).stdout;
    assert.ok(!ps.includes(user), `processes of ${user} left:\n${ps}`);
    assert.ok(!ps.includes(l.tmpDir), 'processes using the lab directory left');
    assert.equal((await execFile('getent', ['passwd', user])).code, 2, `user ${user} left behind`);
    assert.ok(!existsSync(l.tmpDir), 'temporary directory left behind');
    const leaked = [...hostMounts()].filter((m) => !mountsBefore.has(m));
    assert.deepEqual(leaked, []);
  });
});

describe('SshdLab options', { skip, timeout: 60_000 }, () => {
  it('writes RFC 3339 timestamps (stock Debian 12) and skips the PAM failure delay on request', async () => {
    const lab = await SshdLab.start({ timestampFormat: 'rfc3339', fastFailures: true, users: 0 });
    try {
      const from = lab.logMark();
      const t0 = Date.now();
      const attempts = await Promise.all([1, 2, 3].map(() => lab.attemptPassword('attacker', 'root', wrong())));
      assert.deepEqual(attempts, [false, false, false]);
      assert.ok(Date.now() - t0 < 1800, `3 parallel failures took ${Date.now() - t0} ms despite fastFailures`);
      const lines = await lab.waitForLogCount(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d \S+ sshd\[\d+\]: Failed password for root from 192\.0\.2\.66 port \d+ ssh2$/, 3, 10_000, from);
      assert.equal(lines.length, 3);
      // The host's PAM configuration is untouched.
      assert.doesNotMatch(readFileSync('/etc/pam.d/common-auth', 'utf8'), /nodelay/);
    } finally {
      await lab.cleanup();
    }
  });
});
