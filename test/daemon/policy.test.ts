import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.js';
import { parseConfig } from '../../src/config/load.js';
import { StateStore } from '../../src/bans/store.js';
import { callDaemon } from '../../src/control/client.js';
import type { BanView, ReviewView } from '../../src/control/protocol.js';
import { silentLogger } from '../../src/util/log.js';
import { failedPasswords, syslogStamp } from '../helpers/syslog.js';
import { until } from '../helpers/wait.js';

/** Ban policy through the whole daemon (dry-run firewall): ladder, review, guard, alerts. */
function setup(extra = ''): { dir: string; log: string; socket: string; state: string; start(): Promise<Daemon> } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-policy-'));
  const log = join(dir, 'auth.log');
  const socket = join(dir, 'warden.sock');
  const state = join(dir, 'state');
  writeFileSync(log, '');
  const text = `state_dir: ${state}
socket: ${socket}
firewall: { backend: none }
timezone: UTC
guard: { utmp: ${join(dir, 'utmp')} }
jails:
  sshd:
    source: { file: ${log} }
    maxretry: 3
    bantime: 10m
    escalation: { factor: 2, max: 1w, permanent_after: 3, lookback: 30d }
${extra}`;
  return {
    dir, log, socket, state,
    async start() {
      const d = await Daemon.create({ config: parseConfig(text, 'policy.yaml'), configPath: undefined, log: silentLogger });
      await d.start();
      return d;
    },
  };
}

type Status = { warnings: string[]; events: Array<{ kind: string; severity: string; message: string; address: string }> };

test('an address that comes back climbs the ladder to a permanent ban that survives restarts and shows in review', async () => {
  const s = setup();
  // Two earlier bans of the address, within the lookback, already served.
  const store = new StateStore(s.state);
  const day = 86_400_000;
  for (const ago of [3 * day, 2 * day]) {
    store.addBan({ target: '203.0.113.66', family: 4, jail: 'sshd', since: Date.now() - ago, until: Date.now() - ago + 600_000, reason: 'earlier', evidence: [], origin: 'auto' });
  }
  store.close();
  let d = await s.start();
  try {
    appendFileSync(s.log, failedPasswords('203.0.113.66', 3));
    const ban = await until('the third ban', async () => (await callDaemon(s.socket, { cmd: 'bans' }) as BanView[]).find((b) => b.ip === '203.0.113.66'));
    assert.equal(ban.permanent, true);
    assert.equal(ban.until, null);
    await d.stop();
    d = await s.start();
    const after = (await callDaemon(s.socket, { cmd: 'bans' })) as BanView[];
    assert.equal(after.find((b) => b.ip === '203.0.113.66')?.permanent, true, 'still permanent after a restart');
    appendFileSync(s.log, failedPasswords('203.0.113.66', 2));
    const review = await until('attempts while banned', async () => {
      const rows = (await callDaemon(s.socket, { cmd: 'review' })) as ReviewView[];
      const row = rows.find((r) => r.ip === '203.0.113.66');
      return row && row.attemptsWhileBanned >= 2 ? row : undefined;
    });
    assert.equal(review.failures, 3);
    assert.equal(review.bans, 1, 'offences recorded by this daemon');
    assert.ok(review.firstFailure && review.lastAttempt);
    assert.match(review.evidence.join('\n'), /Failed password for root from 203\.0\.113\.66/);
    // unban works for permanent bans too and records who
    assert.deepEqual(await callDaemon(s.socket, { cmd: 'unban', ip: '203.0.113.66', by: 'admin' }), { ip: '203.0.113.66', unbanned: true });
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('the second ban lasts twice the first', async () => {
  const s = setup();
  const store = new StateStore(s.state);
  store.addBan({ target: '198.51.100.5', family: 4, jail: 'sshd', since: Date.now() - 3_600_000, until: Date.now() - 3_000_000, reason: 'earlier', evidence: [], origin: 'auto' });
  store.close();
  const d = await s.start();
  try {
    appendFileSync(s.log, failedPasswords('198.51.100.5', 3));
    const ban = await until('the second ban', async () => (await callDaemon(s.socket, { cmd: 'bans' }) as BanView[]).find((b) => b.ip === '198.51.100.5'));
    assert.ok(ban.remaining! > 1190 && ban.remaining! <= 1200, `20 minutes, got ${ban.remaining}s`);
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('the lockout guard keeps an address that logged in with a key unbanned, with a warning', async () => {
  const s = setup();
  const d = await s.start();
  try {
    appendFileSync(s.log, `${syslogStamp('utc')} web01 sshd[50]: Accepted publickey for alice from 192.0.2.10 port 50000 ssh2: ED25519 SHA256:q3Vd8b0Zp9rKf2mXo1VYJt7x1yqC3n8R2o4kHcP0wEs\n`);
    appendFileSync(s.log, failedPasswords('192.0.2.10', 10));
    const st = await until('the guard warning', async () => {
      const x = (await callDaemon(s.socket, { cmd: 'status' })) as Status;
      return x.warnings.some((w) => w.includes('lockout guard')) ? x : undefined;
    });
    assert.match(st.warnings.join('\n'), /192\.0\.2\.10 logged in as alice with a key/);
    assert.equal(((await callDaemon(s.socket, { cmd: 'bans' })) as BanView[]).length, 0);
    assert.ok(st.events.some((e) => e.kind === 'guard-veto'));
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a successful login after failures, and any root login, raise critical events', async () => {
  const s = setup();
  const d = await s.start();
  try {
    appendFileSync(s.log, failedPasswords('198.51.100.20', 2));
    appendFileSync(s.log, `${syslogStamp('utc')} web01 sshd[60]: Accepted password for bob from 198.51.100.20 port 50001 ssh2\n`);
    appendFileSync(s.log, `${syslogStamp('utc')} web01 sshd[61]: Accepted publickey for root from 203.0.113.1 port 50002 ssh2: ED25519 SHA256:x\n`);
    const st = await until('both events', async () => {
      const x = (await callDaemon(s.socket, { cmd: 'status' })) as Status;
      return x.events.some((e) => e.kind === 'root-login') && x.events.some((e) => e.kind === 'login-after-failures') ? x : undefined;
    });
    const compromise = st.events.find((e) => e.kind === 'login-after-failures')!;
    assert.equal(compromise.severity, 'critical');
    assert.equal(compromise.address, '198.51.100.20');
    assert.match(compromise.message, /login as bob from 198\.51\.100\.20.*failed to log in shortly before/);
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('a manual ban of the caller\'s own address is refused unless forced', async () => {
  const s = setup();
  const d = await s.start();
  try {
    await assert.rejects(callDaemon(s.socket, { cmd: 'ban', ip: '198.51.100.0/24', by: 't', callerAddress: '198.51.100.44' }), /lock yourself out.*--force/);
    const forced = (await callDaemon(s.socket, { cmd: 'ban', ip: '198.51.100.0/24', by: 't', callerAddress: '198.51.100.44', force: true })) as BanView;
    assert.equal(forced.ip, '198.51.100.0/24');
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('permanent_expiry lifts a permanent ban that has not tried again for that long', async () => {
  const s = setup('permanent_expiry: 1d\n');
  const store = new StateStore(s.state);
  store.addBan({ target: '203.0.113.200', family: 4, jail: 'sshd', since: Date.now() - 3 * 86_400_000, until: null, reason: 'old', evidence: [], origin: 'auto' });
  store.addBan({ target: '203.0.113.201', family: 4, jail: 'sshd', since: Date.now() - 3_600_000, until: null, reason: 'recent', evidence: [], origin: 'auto' });
  store.close();
  const d = await s.start();
  try {
    const list = (await callDaemon(s.socket, { cmd: 'bans' })) as BanView[];
    assert.deepEqual(list.map((b) => b.ip), ['203.0.113.201']);
    const st = (await callDaemon(s.socket, { cmd: 'status' })) as Status;
    assert.ok(st.events.some((e) => e.kind === 'permanent-expired' && e.address === '203.0.113.200'));
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('an IPv6 prefix ban never covers an allow-listed neighbour: the attacker alone is banned', async () => {
  const s = setup('allow: [127.0.0.0/8, "::1", "2001:db8::10"]\n');
  const d = await s.start();
  try {
    appendFileSync(s.log, failedPasswords('2001:db8::66', 3, { pid: 200, port: 5000 }));
    const ban = await until('the narrowed ban', async () => (await callDaemon(s.socket, { cmd: 'bans' }) as BanView[])[0]);
    assert.equal(ban.ip, '2001:db8::66');
    await assert.rejects(callDaemon(s.socket, { cmd: 'ban', ip: '2001:db8::/64', by: 't' }), /overlaps allow 2001:db8::10\/128.*--force/);
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('without a protected neighbour an IPv6 attacker is banned with its /64', async () => {
  const s = setup();
  const d = await s.start();
  try {
    appendFileSync(s.log, failedPasswords((i) => `2001:db8:5::${i + 1}`, 3, { pid: 300, port: 6000 }));
    const ban = await until('the prefix ban', async () => (await callDaemon(s.socket, { cmd: 'bans' }) as BanView[])[0]);
    assert.equal(ban.ip, '2001:db8:5::/64', 'three addresses of one /64 counted together');
  } finally {
    await d.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});
