import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticatedSshAddresses } from '../../src/jails/sessions.js';
import { utmpSessionAddresses } from '../../src/jails/utmp-sessions.js';
import { encodeUtmp, UtmpType } from '../../src/investigate/utmp.js';

/**
 * The /proc reading of the lockout guard, on a /proc-shaped tree written here (process titles,
 * socket links and the kernel's tcp tables in their real text formats). The real /proc is used by
 * the end-to-end test with a live sshd.
 */
function fakeProcess(root: string, pid: number, title: string, inode: number): void {
  const dir = join(root, String(pid));
  mkdirSync(join(dir, 'fd'), { recursive: true });
  mkdirSync(join(dir, 'net'), { recursive: true });
  writeFileSync(join(dir, 'cmdline'), `${title}\0`);
  symlinkSync(`socket:[${inode}]`, join(dir, 'fd', '3'));
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  // 192.0.2.1:22 <- client, in /proc's little-endian hex; the client address depends on the pid.
  const rows = [
    `   0: 010200C0:0016 420200C0:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 20 4 30 10 -1`,
    `   1: 010200C0:0016 0A0200C0:9C41 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1`,
  ];
  writeFileSync(join(dir, 'net', 'tcp'), header + rows.join('\n') + '\n');
  writeFileSync(join(dir, 'net', 'tcp6'), header);
}

test('only sessions past authentication protect their address; a [priv] monitor does not', () => {
  const root = mkdtempSync(join(tmpdir(), 'warden-proc-'));
  try {
    fakeProcess(root, 100, 'sshd: root [priv]', 1001);          // attacker guessing root's password
    fakeProcess(root, 200, 'sshd: alice@pts/0', 1002);          // logged in
    fakeProcess(root, 300, 'sshd: root [preauth]', 1001);
    fakeProcess(root, 400, 'sshd: [accepted]', 1001);
    assert.deepEqual([...authenticatedSshAddresses(root)], ['192.0.2.10']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('utmp sessions of live processes protect their address; stale records do not', () => {
  const root = mkdtempSync(join(tmpdir(), 'warden-utmp-'));
  try {
    mkdirSync(join(root, 'proc', '4242'), { recursive: true });
    writeFileSync(join(root, 'proc', '4242', 'stat'), '4242 (bash) S');
    const file = join(root, 'utmp');
    writeFileSync(file, Buffer.concat([
      encodeUtmp({ type: UtmpType.USER_PROCESS, pid: 4242, line: 'pts/0', user: 'alice', host: '2001:db8::10', address: '2001:db8::10', sec: 1_700_000_000 }),
      encodeUtmp({ type: UtmpType.USER_PROCESS, pid: 999_999, line: 'pts/1', user: 'bob', host: '198.51.100.9', address: '198.51.100.9', sec: 1_700_000_000 }),
      encodeUtmp({ type: UtmpType.LOGIN_PROCESS, pid: 4242, line: 'tty1', user: 'LOGIN', sec: 1_700_000_000 }),
    ]));
    assert.deepEqual([...utmpSessionAddresses(file, join(root, 'proc'))], ['2001:db8::10']);
    assert.deepEqual([...utmpSessionAddresses(join(root, 'missing'))], [], 'no utmp: nothing, no error');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
