import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticatedSshAddresses, decodeProcAddress } from '../../src/jails/sessions.js';

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

test('/proc/net/tcp addresses decode for both families, mapped IPv4 folded', () => {
  assert.equal(decodeProcAddress('420200C0'), '192.0.2.66');
  assert.equal(decodeProcAddress('B80D0120000000000000000001000000'), '2001:db8::1');
  assert.equal(decodeProcAddress('0000000000000000FFFF0000420200C0'), '192.0.2.66');
  assert.equal(decodeProcAddress('zz'), undefined);
});
