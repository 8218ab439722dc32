import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  argvSplit, convtime, effectiveFromFiles, first, globMatches, origin, parseSshdT, readSshdConfig, splitKeyword,
} from '../../src/investigate/audit-config.js';
import { execFileChecked } from '../../src/util/exec.js';
import { missing, mustWhich } from '../helpers/require.js';
import { tempDir } from './fixtures.js';
import { inNamespace, NS_PROGRAMS } from './audit-fixtures.js';

test('argvSplit splits like OpenSSH: quotes, escapes, trailing comments, bad quotes', () => {
  assert.deepEqual(argvSplit('a b\t c'), ['a', 'b', 'c']);
  assert.deepEqual(argvSplit('"/x/a b" \'c d\' e\\ f'), ['/x/a b', 'c d', 'e f']);
  assert.deepEqual(argvSplit('yes # a comment'), ['yes']);
  assert.deepEqual(argvSplit('a#b'), ['a#b']);
  assert.deepEqual(argvSplit('"say \\"hi\\""'), ['say "hi"']);
  assert.equal(argvSplit('"open'), null);
  assert.deepEqual(splitKeyword('  PermitRootLogin=no'), { keyword: 'PermitRootLogin', rest: 'no' });
  assert.deepEqual(splitKeyword('MaxAuthTries = 3  '), { keyword: 'MaxAuthTries', rest: '3' });
  assert.equal(splitKeyword('# PermitRootLogin yes'), null);
  assert.equal(splitKeyword('   '), null);
});

test('convtime reads sshd time values', () => {
  assert.equal(convtime('90'), 90);
  assert.equal(convtime('2m'), 120);
  assert.equal(convtime('1h30m'), 5400);
  assert.equal(convtime('1w'), 604_800);
  assert.equal(convtime('2x'), null);
  assert.equal(convtime(''), null);
});

test('globMatches follows glob(3): * stays within a segment and skips dot files', () => {
  assert.ok(globMatches('/etc/ssh/sshd_config.d/*.conf', '/etc/ssh/sshd_config.d/50-warden-hardening.conf'));
  assert.ok(!globMatches('/etc/ssh/sshd_config.d/*.conf', '/etc/ssh/sshd_config.d/50-x.conf.warden-backup-1'));
  assert.ok(!globMatches('/etc/ssh/sshd_config.d/*', '/etc/ssh/sshd_config.d/.hidden'));
  assert.ok(!globMatches('/etc/ssh/*.conf', '/etc/ssh/sshd_config.d/a.conf'));
  assert.ok(globMatches('/etc/ssh/sshd_config.d/[0-9]?-*.conf', '/etc/ssh/sshd_config.d/50-a.conf'));
  assert.ok(globMatches('/etc/ssh/extra.conf', '/etc/ssh/extra.conf'));
});

test('readSshdConfig follows Include (sorted globs, relative to SSHDIR) and Match scoping; first value wins', () => {
  const tmp = tempDir();
  try {
    const d = tmp.path('sshd_config.d');
    mkdirSync(d);
    writeFileSync(join(d, '20-b.conf'), 'PasswordAuthentication no\nMatch User carol\n  X11Forwarding yes\n');
    writeFileSync(join(d, '10-a.conf'), 'MaxAuthTries 9\nAllowUsers alice\n');
    writeFileSync(join(d, 'ignored.txt'), 'PermitRootLogin no\n');
    writeFileSync(tmp.path('inmatch.conf'), 'PermitEmptyPasswords yes\nMatch all\nLoginGraceTime 10\n');
    writeFileSync(tmp.path('sshd_config'), [
      'Include sshd_config.d/*.conf',
      'PermitRootLogin=yes',
      'MaxAuthTries 3',
      'AllowUsers bob',
      'Ciphers aes256-ctr',
      'Match Address 10.0.0.0/8',
      '  PasswordAuthentication yes',
      '  Include inmatch.conf',
      'Match all',
      'X11Forwarding no',
      'LoginGraceTime 2m',
    ].join('\n'));
    const parsed = readSshdConfig(tmp.path('sshd_config'), { sshDir: tmp.dir });
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.files.map((f) => f.slice(tmp.dir.length + 1)), ['sshd_config', 'sshd_config.d/10-a.conf', 'sshd_config.d/20-b.conf', 'inmatch.conf']);
    assert.equal(parsed.includes[0]!.global, true);
    assert.equal(parsed.includes[1]!.global, false, 'the Include inside a Match block is not global');
    const { effective } = effectiveFromFiles(parsed);
    assert.equal(first(effective, 'maxauthtries'), '9', 'the included value comes first');
    assert.equal(first(effective, 'passwordauthentication'), 'no');
    assert.deepEqual(effective.get('allowusers'), ['alice', 'bob'], 'AllowUsers accumulates');
    assert.equal(first(effective, 'permitrootlogin'), 'yes');
    assert.equal(first(effective, 'x11forwarding'), 'no', 'Match User carol ended with its file; Match all is global');
    assert.equal(first(effective, 'permitemptypasswords'), 'no', 'an Include inside Match applies to that block only');
    assert.equal(first(effective, 'logingracetime'), '120');
    assert.equal(first(effective, 'ciphers'), 'aes256-ctr');
    assert.equal(first(effective, 'kbdinteractiveauthentication'), 'yes', 'default');
    const o = origin(parsed, 'maxauthtries');
    assert.equal(o?.file, join(d, '10-a.conf'));
    assert.equal(o?.line, 1);
    assert.equal(parsed.matches.length, 4);
  } finally {
    tmp.remove();
  }
});

test('reading the files gives the values sshd -T gives (oracle: the real sshd)', async (t) => {
  const skip = missing(['sshd', 'ssh-keygen', ...NS_PROGRAMS]);
  if (skip) return t.skip(skip);
  const tmp = tempDir();
  try {
    chmodSync(tmp.dir, 0o755);
    await execFileChecked(mustWhich('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', tmp.path('hostkey')]);
    const d = tmp.path('conf.d');
    mkdirSync(d);
    writeFileSync(join(d, '50-cloud-init.conf'), 'PasswordAuthentication yes\n');
    writeFileSync(join(d, '60-more.conf'), 'ChallengeResponseAuthentication no\nClientAliveInterval 1m\n');
    writeFileSync(tmp.path('sshd_config'), [
      `HostKey ${tmp.path('hostkey')}`,
      `Include ${d}/*.conf`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication yes',
      'PermitRootLogin without-password',
      'MaxStartups 20',
      'LoginGraceTime 1m30s',
      'X11Forwarding=yes',
      'UsePAM yes',
      'AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys/%u',
      'AllowGroups sudo ssh',
      'Match User deploy',
      '  X11Forwarding no',
      '  MaxAuthTries 2',
    ].join('\n') + '\n');
    const parsed = readSshdConfig(tmp.path('sshd_config'));
    const ours = effectiveFromFiles(parsed).effective;
    const r = await inNamespace(mustWhich('sshd'), ['-T', '-f', tmp.path('sshd_config')]);
    assert.equal(r.code, 0, r.stderr);
    const real = parseSshdT(r.stdout);
    for (const key of ['passwordauthentication', 'kbdinteractiveauthentication', 'permitrootlogin', 'maxstartups', 'logingracetime',
      'x11forwarding', 'usepam', 'authorizedkeysfile', 'clientaliveinterval', 'maxauthtries', 'permitemptypasswords', 'pubkeyauthentication']) {
      const want = first(real, key)!.replace(/^without-password$/, 'prohibit-password');
      assert.equal(first(ours, key), want, key);
    }
    assert.deepEqual(ours.get('allowgroups'), real.get('allowgroups'));
  } finally {
    tmp.remove();
  }
});
