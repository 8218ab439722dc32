import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  accessDenied, acceptedInLog, checkKeyFiles, expandKeysPath, parseAuthorizedKeys, parseGroups, parsePasswd, securePath, wtmpLogins,
  type PasswdEntry,
} from '../../src/investigate/audit-accounts.js';
import { adminAccounts } from '../../src/investigate/audit.js';
import { DateParser } from '../../src/filters/dates.js';
import { execFileChecked } from '../../src/util/exec.js';
import { missing, mustWhich } from '../helpers/require.js';
import { login, tempDir } from './fixtures.js';

const CTX = { strictModes: true, accepted: null, requiredRsaSize: 1024, now: Date.now() / 1000 };

async function keygen(path: string, type: string, bits?: number): Promise<{ line: string; fingerprint: string; bits: number }> {
  await execFileChecked(mustWhich('ssh-keygen'), ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', `test ${type}`, '-f', path]);
  const l = (await execFileChecked(mustWhich('ssh-keygen'), ['-l', '-E', 'sha256', '-f', `${path}.pub`])).stdout.trim();
  const m = /^(\d+) (SHA256:\S+) /.exec(l);
  if (!m) throw new Error(`ssh-keygen -l said: ${l}`);
  return { line: readFileSync(`${path}.pub`, 'utf8').trim(), fingerprint: m[2]!, bits: Number(m[1]) };
}

test('authorized_keys: fingerprints and sizes as ssh-keygen -l computes them; options that make a key unusable', async (t) => {
  const skip = missing(['ssh-keygen'], false);
  if (skip) return t.skip(skip);
  const tmp = tempDir();
  try {
    const ed = await keygen(tmp.path('ed'), 'ed25519');
    const rsa = await keygen(tmp.path('rsa'), 'rsa', 3072);
    const ec = await keygen(tmp.path('ec'), 'ecdsa', 384);
    const small = await keygen(tmp.path('small'), 'rsa', 1024);
    const text = [
      '# comment',
      ed.line,
      `from="10.0.0.0/8,192.0.2.1",no-pty ${rsa.line}`,
      `command="/usr/bin/backup --to x,y",restrict ${ec.line}`,
      small.line,
      'ssh-ed25519 AAAAnotakey garbage',
      '',
    ].join('\n');
    const keys = parseAuthorizedKeys(text, 'ak', { ...CTX, requiredRsaSize: 2048 });
    assert.deepEqual(keys.map((k) => k.fingerprint), [ed.fingerprint, rsa.fingerprint, ec.fingerprint, small.fingerprint]);
    assert.deepEqual(keys.map((k) => k.line), [2, 3, 4, 5]);
    assert.equal(keys[1]!.bits, rsa.bits);
    assert.equal(keys[3]!.bits, small.bits);
    assert.equal(keys[0]!.unusable, null);
    assert.equal(keys[1]!.unusable, null);
    assert.deepEqual(keys[1]!.notes, ['only from="10.0.0.0/8,192.0.2.1"', 'no-pty: no terminal']);
    assert.match(keys[2]!.unusable ?? '', /forced command/);
    assert.match(keys[3]!.unusable ?? '', /below RequiredRSASize 2048/);
    const onlyEd = parseAuthorizedKeys(text, 'ak', { ...CTX, accepted: ['ssh-ed25519', 'rsa-sha2-512'] });
    assert.equal(onlyEd[0]!.unusable, null);
    assert.equal(onlyEd[1]!.unusable, null, 'an RSA key signs with rsa-sha2-512');
    assert.match(onlyEd[2]!.unusable ?? '', /forced command/);
    const noRsa = parseAuthorizedKeys(ed.line.replace(/^ssh-ed25519/, 'ssh-ed25519') + '\n' + rsa.line, 'ak', { ...CTX, accepted: ['ssh-ed25519'] });
    assert.match(noRsa[1]!.unusable ?? '', /not in PubkeyAcceptedAlgorithms/);
  } finally {
    tmp.remove();
  }
});

test('AuthorizedKeysFile tokens expand like sshd: %h %u %U %%, relative to the home directory', () => {
  const u: PasswdEntry = { name: 'alice', uid: 1001, gid: 1001, home: '/home/alice', shell: '/bin/sh' };
  assert.equal(expandKeysPath('.ssh/authorized_keys', u), '/home/alice/.ssh/authorized_keys');
  assert.equal(expandKeysPath('%h/.ssh/authorized_keys', u), '/home/alice/.ssh/authorized_keys');
  assert.equal(expandKeysPath('/etc/ssh/keys/%u', u), '/etc/ssh/keys/alice');
  assert.equal(expandKeysPath('/keys/%U/%%x', u), '/keys/1001/%x');
  assert.throws(() => expandKeysPath('/keys/%q', u), /unknown token %q/);
});

test('StrictModes: a key file or directory others can write to is ignored, up to the home directory', (t) => {
  const uid = process.getuid?.();
  if (uid === undefined) return t.skip('no uids on this platform');
  const tmp = tempDir();
  try {
    const home = tmp.path('home/alice');
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    chmodSync(tmp.path('home'), 0o777); // above the home directory: not checked
    const file = join(home, '.ssh/authorized_keys');
    writeFileSync(file, '', { mode: 0o600 });
    const u: PasswdEntry = { name: 'alice', uid, gid: 0, home, shell: '/bin/sh' };
    assert.equal(securePath(file, u), null);
    chmodSync(join(home, '.ssh'), 0o770);
    assert.match(securePath(file, u) ?? '', /bad ownership or modes for directory .*\.ssh/);
    chmodSync(join(home, '.ssh'), 0o700);
    chmodSync(file, 0o666);
    assert.match(securePath(file, u) ?? '', /bad ownership or modes for file/);
    const checked = checkKeyFiles(u, ['%h/.ssh/authorized_keys', '.ssh/authorized_keys2'], CTX);
    assert.equal(checked[0]!.exists, true);
    assert.match(checked[0]!.problem ?? '', /bad ownership/);
    assert.equal(checked[1]!.exists, false);
    assert.equal(checkKeyFiles(u, ['%h/.ssh/authorized_keys'], { ...CTX, strictModes: false })[0]!.problem, null);
  } finally {
    tmp.remove();
  }
});

test('AllowUsers/DenyUsers/AllowGroups/DenyGroups decide like sshd, user@address patterns included', () => {
  const none = { denyUsers: [], allowUsers: [], denyGroups: [], allowGroups: [] };
  assert.equal(accessDenied('alice', ['sudo'], null, none), null);
  assert.equal(accessDenied('alice', [], '192.0.2.10', { ...none, allowUsers: ['bob', 'ali*@192.0.2.0/24'] }), null);
  assert.match(accessDenied('alice', [], '198.51.100.1', { ...none, allowUsers: ['alice@192.0.2.0/24'] }) ?? '', /not in AllowUsers/);
  assert.match(accessDenied('alice', [], null, { ...none, allowUsers: ['alice@192.0.2.0/24'] }) ?? '', /not in AllowUsers/);
  assert.match(accessDenied('alice', [], null, { ...none, denyUsers: ['alice@10.*'] }) ?? '', /may match/);
  assert.match(accessDenied('alice', ['sudo', 'staff'], null, { ...none, denyGroups: ['st?ff'] }) ?? '', /DenyGroups/);
  assert.equal(accessDenied('alice', ['sudo'], null, { ...none, allowGroups: ['wheel', 'sudo'] }), null);
  assert.match(accessDenied('alice', ['users'], null, { ...none, allowGroups: ['sudo'] }) ?? '', /AllowGroups/);
});

test('auth log lines: Accepted logins of sshd and sshd-session in syslog and RFC 3339 formats', () => {
  const dates = new DateParser({ timezone: 'UTC', now: () => Date.UTC(2026, 2, 10) });
  const text = [
    'Mar  9 10:00:01 web sshd[101]: Accepted publickey for alice from 192.0.2.10 port 50000 ssh2: ED25519 SHA256:AbCdEf0123',
    '2026-03-09T11:00:02.123456+00:00 web sshd-session[102]: Accepted password for bob from 2001:db8::5 port 50001 ssh2',
    '2026-03-09T12:00:03+0100 web sshd[103]: Accepted publickey for carol from ::ffff:198.51.100.7 port 22 ssh2: ED25519-CERT SHA256:CeRt ID carol (serial 1) CA ED25519 SHA256:CaKey',
    'Mar  9 10:00:04 web sudo[104]: Accepted publickey for mallory from 192.0.2.66 port 1 ssh2: RSA SHA256:x',
    'Mar  9 10:00:05 web sshd[105]: Failed password for root from 192.0.2.66 port 2 ssh2',
    'Mar  9 10:00:06 web sshd[106]: Accepted keyboard-interactive/pam for dave from 192.0.2.11 port 3 ssh2',
  ].join('\n');
  const events = acceptedInLog(Buffer.from(text), 'auth.log', dates);
  assert.deepEqual(events.map((e) => [e.user, e.method, e.at, e.address, e.keyType, e.fingerprint]), [
    ['alice', 'publickey', Date.UTC(2026, 2, 9, 10, 0, 1) / 1000, '192.0.2.10', 'ED25519', 'SHA256:AbCdEf0123'],
    ['bob', 'password', Date.UTC(2026, 2, 9, 11, 0, 2) / 1000, '2001:db8::5', null, null],
    ['carol', 'publickey', Date.UTC(2026, 2, 9, 11, 0, 3) / 1000, '198.51.100.7', 'ED25519-CERT', 'SHA256:CeRt'],
    ['dave', 'keyboard-interactive/pam', Date.UTC(2026, 2, 9, 10, 0, 6) / 1000, '192.0.2.11', null, null],
  ]);
});

test('wtmp network logins, passwd/group parsing and admin detection', () => {
  const events = wtmpLogins(Buffer.concat([login('alice', 'pts/0', '192.0.2.10', 1_700_000_000), login('bob', 'tty1', null, 1_700_000_100)]), 'wtmp');
  assert.deepEqual(events.map((e) => [e.user, e.method, e.at, e.address]), [['alice', 'unknown', 1_700_000_000, '192.0.2.10']]);

  const passwd = parsePasswd([
    'root:x:0:0:root:/root:/bin/bash',
    'toor:x:0:0:second root:/root:/bin/sh',
    'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
    'bob:x:1001:27:Bob:/home/bob:/bin/bash',
    'carol:x:1002:1002::/home/carol:/bin/bash',
    'broken:line',
  ].join('\n'));
  const groups = parseGroups(['sudo:x:27:alice', 'wheel:x:10:carol,root', 'staff:x:50:carol', 'users:x:100:'].join('\n'));
  assert.equal(passwd.length, 5);
  const admins = adminAccounts(passwd, groups);
  assert.deepEqual(admins.map((a) => [a.entry.name, a.via]), [
    ['toor', ['uid 0']],
    ['alice', ['group sudo']],
    ['bob', ['group sudo']],
    ['carol', ['group wheel']],
  ]);
});
