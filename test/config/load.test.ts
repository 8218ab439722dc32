import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, loadDefaultConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/schema.js';

const good = `
state_dir: /var/lib/warden
socket: /run/warden/warden.sock
firewall: { backend: nftables, table: warden }
allow: [127.0.0.0/8, "::1"]
jails:
  sshd:
    source: { file: /var/log/auth.log }
    filter: sshd
    maxretry: 5
    findtime: 10m
    bantime: 10m
`;

test('the documented configuration shape loads with durations in seconds', () => {
  const c = parseConfig(good, 'warden.yaml');
  assert.equal(c.firewall.backend, 'nftables');
  assert.equal(c.jails.length, 1);
  const j = c.jails[0]!;
  assert.deepEqual([j.name, j.filter, j.mode, j.maxretry, j.findtime, j.bantime, j.ipv6Prefix], ['sshd', 'sshd', 'normal', 5, 600, 600, 64]);
  assert.deepEqual(j.sources, [{ kind: 'file', path: '/var/log/auth.log', backfill: false }]);
});

test('journal sources: unit, matches, or the filter programs by default', () => {
  const c = parseConfig(good.replace('{ file: /var/log/auth.log }', '{ journal: { unit: ssh } }'), 'w.yaml');
  assert.deepEqual(c.jails[0]!.sources[0], { kind: 'journal', matches: ['_SYSTEMD_UNIT=ssh.service'], backfill: false });
  const d = parseConfig(good.replace('{ file: /var/log/auth.log }', '{ journal: true }'), 'w.yaml');
  assert.deepEqual((d.jails[0]!.sources[0] as unknown as { matches: string[] }).matches, ['SYSLOG_IDENTIFIER=sshd', 'SYSLOG_IDENTIFIER=sshd-session', 'SYSLOG_IDENTIFIER=sshd-auth']);
});

test('the embedded default is valid and protects sshd', () => {
  const c = loadDefaultConfig();
  assert.equal(c.jails[0]?.name, 'sshd');
  assert.equal(c.origin, 'embedded default');
});

function problem(text: string): string {
  try {
    parseConfig(text, 'warden.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, not ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a configuration error');
}

test('errors name the file, the line and the key, and say what is expected', () => {
  assert.match(problem(good.replace('bantime: 10m', 'bantime: 10 minutes')), /^warden\.yaml:12: jails\.sshd\.bantime: not a duration/);
  assert.match(problem(good.replace('maxretry: 5', 'maxretry: 0')), /^warden\.yaml:10: jails\.sshd\.maxretry: must be a whole number from 1/);
  assert.match(problem(good.replace('bantime: 10m', 'bantme: 10m')), /^warden\.yaml:12: jails\.sshd\.bantme: unknown key/);
  assert.match(problem(good.replace('"::1"', '"not an address!"')), /^warden\.yaml:5: allow\[1\]: "not an address!" is not an IP address, CIDR range or host name/);
  assert.match(problem(good.replace('"::1"', '"192.0.2.0/33"')), /allow\[1\]: "192\.0\.2\.0\/33" is not/);
  assert.match(problem(good.replace('backend: nftables', 'backend: pf')), /firewall\.backend: must be nftables, iptables, none or auto/);
  assert.match(problem(good.replace('filter: sshd', 'filter: nosuch')), /jails\.sshd\.filter: filter "nosuch"/);
  assert.match(problem(good.replace('filter: sshd', 'filter: sshd\n    mode: paranoid')), /jails\.sshd\.mode: "paranoid" is not a mode/);
  assert.match(problem(good.replace('{ file: /var/log/auth.log }', '{ file: auth.log }')), /source\.file: must be an absolute path/);
  assert.match(problem(good.replace('jails:', 'jails:\n  bad:\n    source: stdin\n    filter: sshd\n    findtime: 0s\n  x:')), /findtime: must be at least 1s/);
  assert.match(problem('jails: [\n'), /^warden\.yaml:\d+:\d+: invalid YAML/);
  assert.match(problem('- a\n- b\n'), /must be a YAML mapping/);
  assert.match(problem('state_dir: /x\n'), /jails: at least one jail/);
});

test('escalation, recidive and guard settings: defaults, per-jail overrides, contradictions refused', () => {
  const c = parseConfig(good, 'w.yaml');
  assert.deepEqual(c.jails[0]!.escalation, { factor: 2, max: 604800, permanentAfter: null, lookback: 2592000 });
  assert.deepEqual(c.recidive, { enabled: true, bans: 3, window: 86400, bantime: null });
  assert.deepEqual(c.guard, { enabled: true, recent: 604800, utmp: '/run/utmp' });
  assert.equal(c.permanentExpiry, null);
  const custom = parseConfig(good.replace('bantime: 10m', 'bantime: 10m\n    escalation: { factor: 3, max: 1d, permanent_after: 4, lookback: 7d }') +
    'permanent_expiry: 180d\nrecidive: { bans: 5, window: 2d, bantime: 1w }\n', 'w.yaml');
  assert.deepEqual(custom.jails[0]!.escalation, { factor: 3, max: 86400, permanentAfter: 4, lookback: 604800 });
  assert.deepEqual(custom.recidive, { enabled: true, bans: 5, window: 172800, bantime: 604800 });
  assert.equal(custom.permanentExpiry, 180 * 86400);
  const inherited = parseConfig(good + 'escalation: { factor: 4 }\n', 'w.yaml');
  assert.equal(inherited.jails[0]!.escalation.factor, 4, 'top-level escalation is the default for jails');
  assert.match(problem(good.replace('bantime: 10m', 'bantime: 10m\n    escalation: { permanent_after: 0 }')), /jails\.sshd\.escalation\.permanent_after: must be a whole number >= 1/);
  assert.match(problem(good.replace('bantime: 10m', 'bantime: 2h\n    escalation: { max: 1h }')), /jails\.sshd\.escalation\.max: \(3600s\) is shorter than bantime/);
  assert.match(problem(good.replace('bantime: 10m', 'bantime: 10m\n    escalation: { factor: 0.5 }')), /escalation\.factor: must be a number from 1/);
  assert.match(problem(good + 'permanent_expiry: 5m\n'), /permanent_expiry: must be at least 1h/);
  assert.match(problem(good + 'guard: { recnt: 7d }\n'), /guard\.recnt: unknown key/);
});

test('host names in allow are kept apart for resolution; unresolvable names are a configuration error', async () => {
  const { resolveAllowNames } = await import('../../src/jails/allow.js');
  const c = parseConfig(good.replace('"::1"', 'localhost'), 'w.yaml');
  assert.deepEqual(c.allowNames, ['localhost']);
  const resolved = await resolveAllowNames(c.allowNames);
  assert.ok((resolved.get('localhost') ?? []).some((a) => a === '127.0.0.1' || a === '::1'));
  await assert.rejects(resolveAllowNames(['no-such-host.invalid']), /allow: host name "no-such-host\.invalid" does not resolve/);
});
