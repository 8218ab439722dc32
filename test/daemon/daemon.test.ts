import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.js';
import { parseConfig } from '../../src/config/load.js';
import { callDaemon } from '../../src/control/client.js';
import type { BanView } from '../../src/control/protocol.js';
import { silentLogger } from '../../src/util/log.js';
import { failedPassword, syslogStamp } from '../helpers/syslog.js';
import { until } from '../helpers/wait.js';

/**
 * The daemon in-process with the dry-run firewall: sources, filters, jails, state and control
 * socket for real. (Kernel bans are covered by test/e2e with a real sshd and nftables.)
 */
interface Lab {
  dir: string;
  log: string;
  socket: string;
  configText: string;
  start(): Promise<Daemon>;
}

function lab(extra = ''): Lab {
  const dir = mkdtempSync(join(tmpdir(), 'warden-daemon-'));
  const log = join(dir, 'auth.log');
  const socket = join(dir, 'run', 'warden.sock');
  const configText = `state_dir: ${join(dir, 'state')}
socket: ${socket}
firewall: { backend: none }
timezone: UTC
jails:
  sshd:
    source: { file: ${log} }
    maxretry: 3
    findtime: 10m
    bantime: 10m
${extra}`;
  return {
    dir, log, socket, configText,
    async start() {
      const d = await Daemon.create({ config: parseConfig(this.configText, 'test.yaml'), configPath: undefined, log: silentLogger });
      await d.start();
      return d;
    },
  };
}

type Status = {
  state: string; bans: { active: number; permanent: number };
  jails: Array<{ banned: number; counts: { failures: number; tracked: number }; sources: Array<{ state: string; error?: string }> }>; warnings: string[];
};
const status = (l: Lab): Promise<Status> => callDaemon(l.socket, { cmd: 'status' }) as Promise<Status>;
const bans = (l: Lab): Promise<BanView[]> => callDaemon(l.socket, { cmd: 'bans' }) as Promise<BanView[]>;

test('failures counted before a restart still count after it; no line is read twice', async () => {
  const l = lab();
  writeFileSync(l.log, 'Jan  1 00:00:00 web01 sshd[1]: Server listening on 0.0.0.0 port 22.\n');
  let d = await l.start();
  try {
    assert.equal(statSync(l.socket).mode & 0o777, 0o600, 'control socket is root-only');
    appendFileSync(l.log, failedPassword('203.0.113.5', 1) + failedPassword('203.0.113.5', 2));
    await until('two failures counted', async () => (await status(l)).jails[0]!.counts.failures === 2 || undefined);
    await d.stop();
    d = await l.start();
    appendFileSync(l.log, failedPassword('203.0.113.5', 3));
    const banned = await until('the ban', async () => (await bans(l)).find((b) => b.ip === '203.0.113.5'));
    assert.equal(banned.jail, 'sshd');
    assert.equal(banned.permanent, false);
    assert.ok(banned.until && Date.parse(banned.until) > Date.now() + 590_000);
    assert.equal(banned.evidence.length, 3);
    assert.equal((await status(l)).jails[0]!.counts.failures, 1, 'the restarted daemon read only the new line');
  } finally {
    await d.stop();
    rmSync(l.dir, { recursive: true, force: true });
  }
});

test('bans survive a restart; manual ban and unban work through the socket', async () => {
  const l = lab();
  writeFileSync(l.log, '');
  let d = await l.start();
  try {
    const b = (await callDaemon(l.socket, { cmd: 'ban', ip: '198.51.100.0/24', seconds: 3600, by: 'test' })) as BanView;
    assert.equal(b.ip, '198.51.100.0/24');
    await callDaemon(l.socket, { cmd: 'ban', ip: '2001:db8::7', seconds: null, by: 'test' });
    await assert.rejects(callDaemon(l.socket, { cmd: 'ban', ip: 'not-an-ip', by: 'test' }), /not an IP address/);
    await assert.rejects(callDaemon(l.socket, { cmd: 'ban', ip: '127.0.0.1', by: 'test' }), /exempt/);
    await d.stop();
    d = await l.start();
    const list = await bans(l);
    assert.deepEqual(list.map((x) => x.ip).sort(), ['198.51.100.0/24', '2001:db8::7']);
    assert.equal(list.find((x) => x.ip === '2001:db8::7')?.until, null);
    assert.equal(list.find((x) => x.ip === '2001:db8::7')?.permanent, true);
    const st = await status(l);
    assert.equal(st.state, 'running', 'start() returns once the bans are back in the kernel');
    assert.deepEqual(st.bans, { active: 2, permanent: 1 });
    assert.equal(st.jails[0]!.banned, 0, 'manual bans are counted under their own jail, not sshd');
    assert.deepEqual(await callDaemon(l.socket, { cmd: 'unban', ip: '2001:db8::7', by: 'test' }), { ip: '2001:db8::7', unbanned: true });
    assert.deepEqual(await callDaemon(l.socket, { cmd: 'unban', ip: '2001:db8::7', by: 'test' }), { ip: '2001:db8::7', unbanned: false });
  } finally {
    await d.stop();
    rmSync(l.dir, { recursive: true, force: true });
  }
});

test('garbage, binary and over-long lines are skipped and detection goes on', async () => {
  const l = lab();
  writeFileSync(l.log, '');
  const d = await l.start();
  try {
    appendFileSync(l.log, Buffer.from([0, 1, 2, 255, 254, 10]));
    appendFileSync(l.log, 'x'.repeat(100_000) + '\n');
    appendFileSync(l.log, `${syslogStamp('utc')} web01 sshd[9]: Failed password for ${'a'.repeat(50_000)} from 192.0.2.99 port 1 ssh2\n`);
    appendFileSync(l.log, '\u00e9\u4e2d garbage \ud83d\ude00\n');
    appendFileSync(l.log, failedPassword('192.0.2.77', 1) + failedPassword('192.0.2.77', 2) + failedPassword('192.0.2.77', 3));
    await until('the ban after garbage', async () => (await bans(l)).find((b) => b.ip === '192.0.2.77'));
    assert.equal((await bans(l)).some((b) => b.ip === '192.0.2.99'), false);
  } finally {
    await d.stop();
    rmSync(l.dir, { recursive: true, force: true });
  }
});

test('a missing log is reported in status and picked up when it appears; other jails keep running', async () => {
  const l = lab();
  const other = join(l.dir, 'other.log');
  writeFileSync(other, '');
  const twoJails = `${l.configText}  second:\n    source: { file: ${other} }\n    filter: sshd\n    maxretry: 2\n`;
  const d = await Daemon.create({ config: parseConfig(twoJails, 'test.yaml'), configPath: undefined, log: silentLogger });
  await d.start();
  try {
    const s = await until('the missing-file warning', async () => {
      const st = await status(l);
      return st.warnings.find((w) => w.includes(l.log)) ? st : undefined;
    });
    assert.match(s.warnings.join('\n'), /ENOENT/);
    appendFileSync(other, failedPassword('192.0.2.50', 1) + failedPassword('192.0.2.50', 2));
    await until('a ban from the healthy jail', async () => (await bans(l)).find((b) => b.ip === '192.0.2.50' && b.jail === 'second'));
    writeFileSync(l.log, failedPassword('192.0.2.51', 1) + failedPassword('192.0.2.51', 2) + failedPassword('192.0.2.51', 3));
    await until('a ban from the log once it exists', async () => (await bans(l)).find((b) => b.ip === '192.0.2.51' && b.jail === 'sshd'), 8000);
  } finally {
    await d.stop();
    rmSync(l.dir, { recursive: true, force: true });
  }
});

test('allow-listed addresses are never banned', async () => {
  const l = lab();
  l.configText = l.configText.replace('timezone: UTC', 'timezone: UTC\nallow: [203.0.113.0/24]');
  writeFileSync(l.log, '');
  const d = await l.start();
  try {
    appendFileSync(l.log, [1, 2, 3, 4].map((p) => failedPassword('203.0.113.9', p)).join('') + [1, 2, 3].map((p) => failedPassword('192.0.2.9', p)).join(''));
    await until('the non-allowed ban', async () => (await bans(l)).find((b) => b.ip === '192.0.2.9'));
    assert.equal((await bans(l)).some((b) => b.ip === '203.0.113.9'), false);
  } finally {
    await d.stop();
    rmSync(l.dir, { recursive: true, force: true });
  }
});

test('a reload with a broken file is refused and the daemon keeps its configuration', async () => {
  const l = lab();
  writeFileSync(l.log, '');
  const path = join(l.dir, 'warden.yaml');
  writeFileSync(path, l.configText);
  const d = await Daemon.create({ config: parseConfig(l.configText, path), configPath: path, log: silentLogger });
  await d.start();
  try {
    writeFileSync(path, l.configText.replace('maxretry: 3', 'maxretry: -1'));
    await assert.rejects(callDaemon(l.socket, { cmd: 'reload' }), /maxretry: must be a whole number/);
    const st = (await callDaemon(l.socket, { cmd: 'status' })) as { warnings: string[] };
    assert.match(st.warnings.join('\n'), /last reload failed/);
    writeFileSync(path, l.configText.replace('maxretry: 3', 'maxretry: 2'));
    await callDaemon(l.socket, { cmd: 'reload' });
    appendFileSync(l.log, failedPassword('192.0.2.60', 1) + failedPassword('192.0.2.60', 2));
    await until('a ban at the reloaded maxretry', async () => (await bans(l)).find((b) => b.ip === '192.0.2.60'));
  } finally {
    await d.stop();
    rmSync(l.dir, { recursive: true, force: true });
  }
});
