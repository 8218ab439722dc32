/**
 * `warden audit ssh` against a REAL sshd: each test writes its own sshd_config (with an Include'd
 * drop-in directory, host keys made by ssh-keygen, AuthorizedKeysFile in the temporary directory),
 * and the audit reads it with the real `sshd -T -f`, validates with `sshd -t -f`. sshd runs in a
 * private mount namespace (audit-fixtures.ts), so nothing of the host's /etc/ssh or /run is
 * touched. Accounts and login history are injected: no system user is created.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditSsh, type AccountSource, type AuditSshOptions, type LoginEvent, type PasswdEntry, type SshAudit, type SshdRunner } from '../../src/investigate/audit.js';
import { first, parseSshdT } from '../../src/investigate/audit-config.js';
import type { GroupEntry } from '../../src/investigate/audit-accounts.js';
import { execFileChecked } from '../../src/util/exec.js';
import { missing, mustWhich } from '../helpers/require.js';
import { tempDir } from './fixtures.js';
import { inNamespace, NS_PROGRAMS, sshdRunner } from './audit-fixtures.js';

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;

interface Lab {
  readonly dir: string;
  readonly path: (name: string) => string;
  readonly config: string;
  readonly dropinDir: string;
  readonly sshd: string;
  remove(): void;
  /** (Re)writes the main configuration: HostKey and Include first, then `lines`. */
  writeConfig(lines: readonly string[], include?: boolean): void;
  /** An ed25519 key pair; returns the public line and its SHA256 fingerprint (ssh-keygen -l). */
  key(name: string): Promise<{ line: string; fingerprint: string }>;
  /** A home directory with .ssh/authorized_keys holding these lines (root-owned, 0700/0600). */
  home(user: string, keys: readonly string[]): string;
  sshdT(): Promise<Map<string, string[]>>;
  audit(extra: Partial<AuditSshOptions>): Promise<SshAudit>;
  listing(): string[];
}

function skipReason(): string | undefined {
  return missing(['sshd', 'ssh-keygen', ...NS_PROGRAMS]);
}

async function makeLab(): Promise<Lab> {
  const tmp = tempDir();
  chmodSync(tmp.dir, 0o755);
  const sshd = mustWhich('sshd');
  const keygen = mustWhich('ssh-keygen');
  await execFileChecked(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', tmp.path('ssh_host_ed25519_key')]);
  const dropinDir = tmp.path('sshd_config.d');
  mkdirSync(dropinDir);
  const config = tmp.path('sshd_config');
  const lab: Lab = {
    dir: tmp.dir, path: tmp.path, config, dropinDir, sshd, remove: tmp.remove,
    writeConfig(lines, include = true) {
      writeFileSync(config, [`HostKey ${tmp.path('ssh_host_ed25519_key')}`, ...(include ? [`Include ${dropinDir}/*.conf`] : []), ...lines, ''].join('\n'));
    },
    async key(name) {
      await execFileChecked(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@laptop`, '-f', tmp.path(name)]);
      const l = (await execFileChecked(keygen, ['-l', '-E', 'sha256', '-f', tmp.path(`${name}.pub`)])).stdout;
      return { line: readFileSync(tmp.path(`${name}.pub`), 'utf8').trim(), fingerprint: /(SHA256:\S+)/.exec(l)![1]! };
    },
    home(user, keys) {
      const home = tmp.path(`home/${user}`);
      mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
      writeFileSync(join(home, '.ssh/authorized_keys'), keys.join('\n') + '\n', { mode: 0o600 });
      return home;
    },
    async sshdT() {
      const r = await inNamespace(sshd, ['-T', '-f', config]);
      assert.equal(r.code, 0, `sshd -T: ${r.stderr}`);
      return parseSshdT(r.stdout);
    },
    audit(extra) {
      return auditSsh({ config, dropinDir, sshd, runSshd: sshdRunner(sshd), now: () => NOW, ...extra });
    },
    listing() {
      return readdirSync(dropinDir).sort();
    },
  };
  return lab;
}

function accounts(passwd: readonly PasswdEntry[], groups: readonly GroupEntry[], events: readonly LoginEvent[]): AccountSource {
  return {
    passwd: () => [...passwd],
    groups: () => [...groups],
    logins: async (since) => ({ events: events.filter((e) => e.at >= since), sources: ['test'], problems: [] }),
  };
}

const ROOT: PasswdEntry = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' };

function keyLogin(user: string, daysAgo: number, fingerprint: string | null): LoginEvent {
  return { user, method: 'publickey', at: NOW - daysAgo * DAY, address: '192.0.2.10', fingerprint, keyType: 'ED25519', source: 'test' };
}

function finding(a: SshAudit, setting: string): SshAudit['findings'][number] {
  const f = a.findings.find((x) => x.setting === setting);
  assert.ok(f, `no finding for ${setting}: ${a.findings.map((x) => x.setting).join(', ')}`);
  return f;
}

test('audit ssh reports the risky settings of the effective configuration (sshd -T), with where they are set', async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const lab = await makeLab();
  try {
    writeFileSync(join(lab.dropinDir, '10-local.conf'), 'MaxAuthTries 8\n');
    lab.writeConfig([
      'PermitRootLogin yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication yes',
      'UsePAM yes',
      'PermitEmptyPasswords yes',
      'MaxAuthTries 3', // after the Include: the drop-in's 8 wins
      'LoginGraceTime 2m',
      'X11Forwarding yes',
      'MaxStartups 50:30:200',
      'Ciphers +3des-cbc,aes128-cbc',
      'MACs +hmac-md5',
      'StrictModes no',
      'LogLevel ERROR',
      `AuthorizedKeysFile ${lab.dir}/keys/%u`,
      'Match User deploy',
      '  PasswordAuthentication no',
    ]);
    const a = await lab.audit({ accounts: accounts([ROOT], [], []) });
    assert.equal(a.source, 'sshd -T');
    assert.deepEqual(a.errors, []);
    assert.match(a.sshd.version ?? '', /^OpenSSH_/);

    const root = finding(a, 'PermitRootLogin');
    assert.equal(root.value, 'yes');
    assert.equal(root.severity, 'high');
    assert.equal(root.where, `${lab.config} line 3`);
    assert.equal(finding(a, 'PasswordAuthentication').severity, 'high', 'passwords and root: high');
    assert.equal(finding(a, 'KbdInteractiveAuthentication').severity, 'medium', 'with PAM it asks for passwords');
    assert.equal(finding(a, 'PermitEmptyPasswords').severity, 'high');
    const tries = finding(a, 'MaxAuthTries');
    assert.equal(tries.value, '8');
    assert.equal(tries.where, `${join(lab.dropinDir, '10-local.conf')} line 1`);
    assert.equal(finding(a, 'LoginGraceTime').value, '120');
    assert.equal(finding(a, 'X11Forwarding').severity, 'low');
    assert.equal(finding(a, 'MaxStartups').value, '50:30:200');
    assert.equal(finding(a, 'ClientAliveInterval').value, '0');
    const ciphers = finding(a, 'Ciphers');
    assert.equal(ciphers.severity, 'medium');
    assert.match(ciphers.value, /3des-cbc/);
    assert.match(ciphers.value, /aes128-cbc/);
    assert.equal(finding(a, 'MACs').severity, 'medium');
    assert.equal(finding(a, 'StrictModes').severity, 'medium');
    assert.equal(finding(a, 'LogLevel').severity, 'high');
    assert.equal(finding(a, 'AllowUsers').severity, 'info');
    assert.equal(finding(a, 'UsePAM').severity, 'info');
    assert.match(finding(a, 'Match').why, /Match User deploy/);
    for (const f of a.findings) {
      assert.ok(['high', 'medium', 'low', 'info'].includes(f.severity));
      assert.ok(f.why.length > 10 && !f.why.includes('\n'), `one-line why for ${f.setting}`);
      assert.ok(f.recommendation.length > 3);
    }
    // Sorted by severity.
    const order = a.findings.map((f) => ['high', 'medium', 'low', 'info'].indexOf(f.severity));
    assert.deepEqual(order, [...order].sort((x, y) => x - y));

    // No admin: the lockout-relevant changes are withheld, the others are still planned.
    assert.equal(a.plan.safe, false);
    assert.deepEqual(a.plan.withheld.map((c) => c.setting).sort(), ['KbdInteractiveAuthentication', 'MaxAuthTries', 'PasswordAuthentication', 'PermitRootLogin', 'StrictModes']);
    assert.ok(a.plan.changes.every((c) => !c.lockout));
    assert.ok(a.plan.changes.some((c) => c.setting === 'Ciphers' && !c.to.includes('3des-cbc') && c.to.includes('aes128-cbc')), 'only medium+ algorithms are removed');
    assert.ok(a.plan.dropin.covered);
  } finally {
    lab.remove();
  }
});

test('audit ssh --apply refuses and writes nothing when no admin would still get in with a key', async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const lab = await makeLab();
  try {
    lab.writeConfig(['PermitRootLogin yes', 'PasswordAuthentication yes', 'AuthorizedKeysFile %h/.ssh/authorized_keys']);
    const alice = await lab.key('alice');
    const other = await lab.key('other');
    const aliceEntry: PasswdEntry = { name: 'alice', uid: 1000, gid: 1000, home: lab.home('alice', [alice.line]), shell: '/bin/sh' };
    const carol: PasswdEntry = { name: 'carol', uid: 1001, gid: 1001, home: lab.home('carol', [other.line]), shell: '/bin/sh' };
    const sudo: GroupEntry = { name: 'sudo', gid: 27, members: ['alice'] };
    const before = lab.listing();

    const cases: Array<{ name: string; accounts: AccountSource; problem: RegExp; extra?: () => void }> = [
      { name: 'no admin account at all', accounts: accounts([ROOT, carol], [{ name: 'users', gid: 100, members: ['carol'] }], [keyLogin('carol', 1, other.fingerprint)]), problem: /^$/ },
      { name: 'admin with a key but no recent key login', accounts: accounts([ROOT, aliceEntry], [sudo], [keyLogin('alice', 60, alice.fingerprint), { ...keyLogin('alice', 1, null), method: 'password' }]), problem: /no key login in the last 30 days \(last login: password/ },
      { name: 'recent key login with a key that is no longer authorized', accounts: accounts([ROOT, aliceEntry], [sudo], [keyLogin('alice', 1, other.fingerprint)]), problem: /no longer\) authorized/ },
      { name: 'admin login by key but no authorized key file', accounts: accounts([ROOT, { ...aliceEntry, home: lab.path('home/nobody-here') }], [sudo], [keyLogin('alice', 1, null)]), problem: /no usable authorized key/ },
      { name: 'admin whose shell is nologin', accounts: accounts([ROOT, { ...aliceEntry, shell: '/usr/sbin/nologin' }], [sudo], [keyLogin('alice', 1, alice.fingerprint)]), problem: /login shell is/ },
    ];
    for (const c of cases) {
      const a = await lab.audit({ accounts: c.accounts, apply: true });
      assert.equal(a.source, 'sshd -T', c.name);
      assert.equal(a.plan.safe, false, c.name);
      assert.ok(a.apply, c.name);
      assert.equal(a.apply.applied, false, c.name);
      assert.match(a.apply.refused.join(' '), /NOT safe to disable root or password logins/, c.name);
      if (c.problem.source !== '^$') assert.match(a.plan.admins[0]!.problems.join(' | '), c.problem, c.name);
      else assert.equal(a.plan.admins.length, 0, c.name);
      assert.ok(a.plan.withheld.some((w) => w.setting === 'PasswordAuthentication'), c.name);
      assert.deepEqual(lab.listing(), before, `${c.name}: nothing written`);
    }

    // StrictModes no now, yes after the change: a key file in a world-writable directory would be
    // ignored by the hardened sshd, so the admin does not count (checked against the planned state).
    const keys = lab.path('keys');
    mkdirSync(keys);
    chmodSync(keys, 0o777);
    writeFileSync(join(keys, 'alice'), alice.line + '\n', { mode: 0o644 });
    lab.writeConfig(['PasswordAuthentication yes', 'StrictModes no', `AuthorizedKeysFile ${keys}/%u`]);
    const a = await lab.audit({ accounts: accounts([ROOT, aliceEntry], [sudo], [keyLogin('alice', 1, alice.fingerprint)]), apply: true });
    assert.equal(a.plan.safe, false);
    assert.match(a.plan.admins[0]!.problems.join(' '), new RegExp(`bad ownership or modes for directory ${keys}`));
    assert.equal(a.apply?.applied, false);
    assert.deepEqual(lab.listing(), before);
  } finally {
    lab.remove();
  }
});

test('audit ssh --apply with a key-ready admin: writes the drop-in, sshd -t passes, sshd -T shows the hardened values; rollback copies', async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const lab = await makeLab();
  try {
    lab.writeConfig([
      'PermitRootLogin yes', 'PasswordAuthentication yes', 'KbdInteractiveAuthentication yes', 'UsePAM yes',
      'X11Forwarding yes', 'MaxAuthTries 6', 'AuthorizedKeysFile %h/.ssh/authorized_keys',
    ]);
    const alice = await lab.key('alice');
    const aliceEntry: PasswdEntry = { name: 'alice', uid: 1000, gid: 1000, home: lab.home('alice', [`from="192.0.2.0/24" ${alice.line}`]), shell: '/bin/sh' };
    const source = accounts([ROOT, aliceEntry, { name: 'bob', uid: 1001, gid: 1001, home: lab.path('home/bob'), shell: '/bin/sh' }],
      [{ name: 'sudo', gid: 27, members: ['alice', 'bob'] }], [keyLogin('alice', 2, alice.fingerprint)]);
    const path = join(lab.dropinDir, '50-warden-hardening.conf');

    // 1. First apply: a new file.
    const a = await lab.audit({ accounts: source, apply: true });
    assert.equal(a.plan.safe, true, a.plan.admins.map((x) => x.problems.join('; ')).join(' | '));
    assert.deepEqual(a.plan.readyAdmins, ['alice']);
    const aliceCheck = a.plan.admins.find((x) => x.user === 'alice')!;
    assert.equal(aliceCheck.lastKeyLogin?.matchesKey, true);
    assert.match(aliceCheck.evaluated, /^sshd -T -C user=alice,host=192\.0\.2\.10,addr=192\.0\.2\.10$/);
    assert.equal(a.plan.admins.find((x) => x.user === 'bob')!.ready, false);
    assert.ok(a.apply);
    assert.deepEqual(a.apply.refused, []);
    assert.equal(a.apply.applied, true, a.apply.messages.join(' | '));
    assert.equal(a.apply.backup, null);
    assert.equal(a.apply.validated, true);
    assert.ok(existsSync(path));
    const content1 = readFileSync(path, 'utf8');
    for (const line of ['PermitRootLogin no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'MaxAuthTries 4', 'X11Forwarding no', 'LoginGraceTime 30']) {
      assert.ok(content1.split('\n').includes(line), `drop-in has ${line}`);
    }
    assert.ok(a.plan.emergency.some((e) => /SECOND terminal/.test(e)));
    assert.ok(a.plan.emergency.some((e) => /console/.test(e)));
    assert.ok(a.apply.messages.some((m) => /NOT been reloaded/.test(m)));
    assert.ok(a.apply.messages.some((m) => m.startsWith('Roll back: rm ')));

    // Independently: sshd -t accepts it and sshd -T shows the hardened values.
    const check = await inNamespace(lab.sshd, ['-t', '-f', lab.config]);
    assert.equal(check.code, 0, check.stderr);
    const eff = await lab.sshdT();
    assert.equal(first(eff, 'permitrootlogin'), 'no');
    assert.equal(first(eff, 'passwordauthentication'), 'no');
    assert.equal(first(eff, 'kbdinteractiveauthentication'), 'no');
    assert.equal(first(eff, 'maxauthtries'), '4');
    assert.equal(first(eff, 'x11forwarding'), 'no');
    assert.equal(first(eff, 'logingracetime'), '30');
    assert.equal(first(eff, 'clientaliveinterval'), '300');

    // The audit now finds the high-risk settings fixed.
    const again = await lab.audit({ accounts: source });
    assert.ok(!again.findings.some((f) => f.severity === 'high' || f.setting === 'PasswordAuthentication'));

    // 2. A new weakness later in the main config: the second apply replaces the drop-in, keeping a copy.
    writeFileSync(lab.config, readFileSync(lab.config, 'utf8') + 'Ciphers +3des-cbc\n');
    const b = await lab.audit({ accounts: source, apply: true });
    assert.equal(b.apply?.applied, true, b.apply?.refused.join(' | '));
    const backup = b.apply!.backup;
    assert.ok(backup && existsSync(backup), 'rollback copy');
    assert.equal(readFileSync(backup, 'utf8'), content1);
    assert.ok(!/\.conf$/.test(backup), 'the copy is not read by the Include');
    const content2 = readFileSync(path, 'utf8');
    assert.ok(content2.includes('PermitRootLogin no'), 'earlier hardening kept');
    assert.match(content2, /^Ciphers (?!.*3des-cbc).+$/m);
    assert.ok(!(first(await lab.sshdT(), 'ciphers') ?? '').includes('3des-cbc'));

    // 3. A validation failure after writing restores the previous version.
    writeFileSync(lab.config, readFileSync(lab.config, 'utf8') + 'MACs +hmac-md5\n');
    const realRunner = sshdRunner(lab.sshd);
    const failingCheck: SshdRunner = async (args) => (args[0] === '-t' ? { code: 255, signal: null, stdout: '', stderr: `${lab.config} line 99: Bad configuration option: Simulated` } : realRunner(args));
    const c = await lab.audit({ accounts: source, apply: true, runSshd: failingCheck });
    assert.equal(c.apply?.applied, false);
    assert.equal(c.apply?.rolledBack, true);
    assert.match(c.apply!.refused.join(' '), /rejects the configuration/);
    assert.equal(readFileSync(path, 'utf8'), content2, 'previous drop-in restored');

    // 4. An earlier drop-in (cloud-init style) that re-enables passwords would override the drop-in:
    //    refused before writing, naming the file that wins.
    writeFileSync(join(lab.dropinDir, '50-cloud-init.conf'), 'PasswordAuthentication yes\n');
    const d = await lab.audit({ accounts: source, apply: true });
    assert.match(d.plan.dropin.conflicts.join(' '), /PasswordAuthentication yes in .*50-cloud-init\.conf line 1 is read before/);
    assert.equal(d.apply?.applied, false);
    assert.equal(d.apply?.rolledBack, false);
    assert.match(d.apply!.refused.join(' '), /would not take effect/);
    assert.equal(readFileSync(path, 'utf8'), content2, 'drop-in untouched');
  } finally {
    lab.remove();
  }
});

test('audit ssh --apply refuses when no Include of the main config covers the drop-in directory', async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const lab = await makeLab();
  try {
    lab.writeConfig(['PermitRootLogin yes', 'AuthorizedKeysFile %h/.ssh/authorized_keys'], false);
    const alice = await lab.key('alice');
    const source = accounts([ROOT, { name: 'alice', uid: 1000, gid: 1000, home: lab.home('alice', [alice.line]), shell: '/bin/sh' }],
      [{ name: 'wheel', gid: 10, members: ['alice'] }], [keyLogin('alice', 1, alice.fingerprint)]);
    const a = await lab.audit({ accounts: source, apply: true });
    assert.equal(a.plan.safe, true);
    assert.equal(a.plan.dropin.covered, false);
    assert.equal(a.apply?.applied, false);
    assert.match(a.apply!.refused.join(' '), /no Include in .* covers .*50-warden-hardening\.conf/);
    assert.deepEqual(lab.listing(), []);
  } finally {
    lab.remove();
  }
});

test('audit ssh explains a failing sshd -T (missing host key) and falls back to reading the files', async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const lab = await makeLab();
  try {
    writeFileSync(lab.config, [`HostKey ${lab.path('no_such_key')}`, `Include ${lab.dropinDir}/*.conf`, 'PermitRootLogin yes', 'LoginGraceTime 5m', ''].join('\n'));
    writeFileSync(join(lab.dropinDir, '00-first.conf'), 'PasswordAuthentication no\n');
    const a = await lab.audit({ accounts: accounts([ROOT], [], []), apply: true });
    assert.equal(a.source, 'files');
    assert.match(a.errors.join(' '), /cannot load the host keys \(.*no_such_key\)/);
    assert.equal(finding(a, 'PermitRootLogin').severity, 'high');
    assert.equal(finding(a, 'LoginGraceTime').value, '300');
    assert.ok(!a.findings.some((f) => f.setting === 'PasswordAuthentication'), 'the included "no" comes first');
    assert.equal(a.apply?.applied, false);
    assert.match(a.apply!.refused.join(' '), /could not be validated/);
    assert.deepEqual(lab.listing(), ['00-first.conf']);
  } finally {
    lab.remove();
  }
});

test('warden audit ssh (the command) prints JSON and exits 1 when --apply cannot apply', async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const lab = await makeLab();
  try {
    lab.writeConfig(['PermitRootLogin yes', 'X11Forwarding yes'], false);
    const module = fileURLToPath(new URL('../../src/cli/commands/audit.js', import.meta.url));
    const script = `import { auditCommand } from ${JSON.stringify(module)}; process.exitCode = await auditCommand.run(process.argv.slice(1));`;
    const run = (args: readonly string[]) => inNamespace(process.execPath, ['--input-type=module', '-e', script, '--', 'ssh', '--config', lab.config, '--dropin-dir', lab.dropinDir, '--sshd', lab.sshd, ...args]);

    const r = await run(['--json']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { source: string; findings: Array<{ setting: string; severity: string }>; plan: { dropin: { covered: boolean } }; apply: null };
    assert.equal(json.source, 'sshd -T');
    assert.ok(json.findings.some((f) => f.setting === 'PermitRootLogin' && f.severity === 'high'));
    assert.equal(json.plan.dropin.covered, false);
    assert.equal(json.apply, null);

    const text = await run([]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /HIGH {4}PermitRootLogin yes/);
    assert.match(text.stdout, /LOCKOUT CHECK/);
    assert.match(text.stdout, /EMERGENCY ACCESS/);

    const applied = await run(['--apply']);
    assert.equal(applied.code, 1);
    assert.match(applied.stdout, /NOT APPLIED/);
    assert.match(applied.stdout, /no Include in/);
    assert.deepEqual(lab.listing(), []);

    const usage = await run(['--bogus']);
    assert.notEqual(usage.code, 0);
  } finally {
    lab.remove();
  }
});
