/**
 * What is risky in an effective sshd configuration, and the hardened value for it. Each rule
 * reads the `sshd -T`-style configuration and yields findings (severity, one-line why, what to do)
 * and, where warden can fix it with a drop-in, a change. Changes marked `lockout` can keep
 * somebody out (root, passwords, permissions, algorithms): they are only recommended once an admin
 * has been shown to log in with a key.
 */
import { first, type Effective } from './audit-config.js';

export type Severity = 'high' | 'medium' | 'low' | 'info';

export interface AuditFinding {
  readonly setting: string;
  readonly value: string;
  readonly severity: Severity;
  readonly why: string;
  readonly recommendation: string;
  /** Where the value is set ("/etc/ssh/sshd_config line 12", "default"), when known. */
  readonly where?: string | null;
}

export interface Change {
  /** The keyword as written in a config file (PermitRootLogin). */
  readonly setting: string;
  /** Current effective value. */
  readonly from: string;
  readonly to: string;
  readonly why: string;
  /** Can lock somebody out: needs a proven admin key login first. */
  readonly lockout: boolean;
}

export interface RuleContext {
  /** Root logged in with a key within the recent window (so PermitRootLogin no would break that). */
  readonly rootKeyLogins: number;
  /** Accounts with a usable login shell other than root and system accounts (uid >= 1000). */
  readonly loginAccounts: readonly string[];
}

export const SEVERITY_ORDER: readonly Severity[] = ['high', 'medium', 'low', 'info'];

/** Display names of the keywords sshd -T prints in lowercase. */
export const KEYWORD_NAMES: Readonly<Record<string, string>> = {
  permitrootlogin: 'PermitRootLogin', passwordauthentication: 'PasswordAuthentication',
  kbdinteractiveauthentication: 'KbdInteractiveAuthentication', challengeresponseauthentication: 'ChallengeResponseAuthentication',
  permitemptypasswords: 'PermitEmptyPasswords', maxauthtries: 'MaxAuthTries', logingracetime: 'LoginGraceTime',
  allowusers: 'AllowUsers', allowgroups: 'AllowGroups', x11forwarding: 'X11Forwarding', pubkeyauthentication: 'PubkeyAuthentication',
  usepam: 'UsePAM', maxstartups: 'MaxStartups', persourcemaxstartups: 'PerSourceMaxStartups', clientaliveinterval: 'ClientAliveInterval',
  clientalivecountmax: 'ClientAliveCountMax', kexalgorithms: 'KexAlgorithms', ciphers: 'Ciphers', macs: 'MACs',
  hostkeyalgorithms: 'HostKeyAlgorithms', pubkeyacceptedalgorithms: 'PubkeyAcceptedAlgorithms', casignaturealgorithms: 'CASignatureAlgorithms',
  permituserenvironment: 'PermitUserEnvironment', hostbasedauthentication: 'HostbasedAuthentication', ignorerhosts: 'IgnoreRhosts',
  strictmodes: 'StrictModes', loglevel: 'LogLevel', syslogfacility: 'SyslogFacility', gatewayports: 'GatewayPorts',
  permittunnel: 'PermitTunnel', authorizedkeyscommand: 'AuthorizedKeysCommand', authenticationmethods: 'AuthenticationMethods',
  authorizedkeysfile: 'AuthorizedKeysFile', requiredrsasize: 'RequiredRSASize', forcecommand: 'ForceCommand',
};

export function keywordName(key: string): string {
  return KEYWORD_NAMES[key] ?? key;
}

// ------------------------------------------------------------------ weak algorithms

interface Weak { readonly severity: Severity; readonly why: string }

const WEAK_KEX: Readonly<Record<string, Weak>> = {
  'diffie-hellman-group1-sha1': { severity: 'high', why: '1024-bit group, within reach of well-funded attackers (Logjam), and SHA-1' },
  'diffie-hellman-group14-sha1': { severity: 'medium', why: 'SHA-1 exchange hash' },
  'diffie-hellman-group-exchange-sha1': { severity: 'medium', why: 'SHA-1 exchange hash' },
  'gss-gex-sha1-': { severity: 'low', why: 'SHA-1' },
  'gss-group1-sha1-': { severity: 'medium', why: '1024-bit group, SHA-1' },
  'gss-group14-sha1-': { severity: 'low', why: 'SHA-1' },
};
const WEAK_CIPHERS: Readonly<Record<string, Weak>> = {
  'arcfour': { severity: 'high', why: 'RC4 is broken' },
  'arcfour128': { severity: 'high', why: 'RC4 is broken' },
  'arcfour256': { severity: 'high', why: 'RC4 is broken' },
  '3des-cbc': { severity: 'medium', why: '64-bit block (Sweet32) and CBC' },
  'blowfish-cbc': { severity: 'medium', why: '64-bit block (Sweet32) and CBC' },
  'cast128-cbc': { severity: 'medium', why: '64-bit block (Sweet32) and CBC' },
  'aes128-cbc': { severity: 'low', why: 'CBC mode (plaintext recovery attacks on SSH; dropped from the defaults)' },
  'aes192-cbc': { severity: 'low', why: 'CBC mode' },
  'aes256-cbc': { severity: 'low', why: 'CBC mode' },
  'rijndael-cbc@lysator.liu.se': { severity: 'low', why: 'CBC mode' },
};
const WEAK_MACS: Readonly<Record<string, Weak>> = {
  'hmac-md5': { severity: 'medium', why: 'MD5' },
  'hmac-md5-96': { severity: 'medium', why: 'MD5, truncated' },
  'hmac-md5-etm@openssh.com': { severity: 'medium', why: 'MD5' },
  'hmac-md5-96-etm@openssh.com': { severity: 'medium', why: 'MD5, truncated' },
  'hmac-sha1-96': { severity: 'medium', why: 'SHA-1 truncated to 96 bits' },
  'hmac-sha1-96-etm@openssh.com': { severity: 'medium', why: 'SHA-1 truncated to 96 bits' },
  'hmac-ripemd160': { severity: 'low', why: 'RIPEMD-160, little analysed' },
  'hmac-ripemd160@openssh.com': { severity: 'low', why: 'RIPEMD-160, little analysed' },
  'hmac-ripemd160-etm@openssh.com': { severity: 'low', why: 'RIPEMD-160, little analysed' },
  'umac-64@openssh.com': { severity: 'low', why: '64-bit tag' },
  'umac-64-etm@openssh.com': { severity: 'low', why: '64-bit tag' },
  'hmac-sha1': { severity: 'low', why: 'SHA-1 (safe as an HMAC today, but deprecated)' },
  'hmac-sha1-etm@openssh.com': { severity: 'low', why: 'SHA-1 (safe as an HMAC today, but deprecated)' },
};
const WEAK_KEYS: Readonly<Record<string, Weak>> = {
  'ssh-dss': { severity: 'high', why: 'DSA: 1024-bit keys, removed from OpenSSH' },
  'ssh-dss-cert-v01@openssh.com': { severity: 'high', why: 'DSA certificates' },
  'ssh-rsa': { severity: 'medium', why: 'RSA signatures with SHA-1 (disabled by default since OpenSSH 8.8)' },
  'ssh-rsa-cert-v01@openssh.com': { severity: 'medium', why: 'RSA certificates with SHA-1 signatures' },
};

const ALGORITHM_SETTINGS: ReadonlyArray<{ key: string; table: Readonly<Record<string, Weak>>; lockout: boolean; what: string }> = [
  { key: 'kexalgorithms', table: WEAK_KEX, lockout: false, what: 'key exchange' },
  { key: 'ciphers', table: WEAK_CIPHERS, lockout: false, what: 'cipher' },
  { key: 'macs', table: WEAK_MACS, lockout: false, what: 'MAC' },
  { key: 'hostkeyalgorithms', table: WEAK_KEYS, lockout: false, what: 'host key algorithm' },
  // Removing a user key algorithm can refuse the admin's own (old) key or client.
  { key: 'pubkeyacceptedalgorithms', table: WEAK_KEYS, lockout: true, what: 'user key algorithm' },
  { key: 'casignaturealgorithms', table: WEAK_KEYS, lockout: true, what: 'CA signature algorithm' },
];

function weakness(table: Readonly<Record<string, Weak>>, alg: string): Weak | undefined {
  return table[alg] ?? (alg.startsWith('gss-') ? Object.entries(table).find(([k]) => k.startsWith('gss-') && alg.startsWith(k))?.[1] : undefined);
}

function worst(list: readonly Severity[]): Severity {
  return SEVERITY_ORDER.find((s) => list.includes(s)) ?? 'info';
}

// ------------------------------------------------------------------ the rules

export interface Assessment {
  readonly findings: AuditFinding[];
  readonly changes: Change[];
}

type Where = (key: string) => string | null;

/** The findings and the hardening changes for an effective configuration. */
export function assess(eff: Effective, ctx: RuleContext, where: Where = () => null): Assessment {
  const findings: AuditFinding[] = [];
  const changes: Change[] = [];
  const get = (key: string): string | undefined => first(eff, key);
  const add = (key: string, value: string, severity: Severity, why: string, recommendation: string): void => {
    findings.push({ setting: keywordName(key), value, severity, why, recommendation, where: where(key) });
  };
  const change = (key: string, from: string, to: string, why: string, lockout: boolean): void => {
    changes.push({ setting: keywordName(key), from, to, why, lockout });
  };

  const usePam = get('usepam') === 'yes';
  const methods = (get('authenticationmethods') ?? 'any').split(/\s+/).filter(Boolean);
  const methodLists = methods.length === 1 && methods[0] === 'any' ? null : methods.map((l) => l.split(','));
  const listsNeed = (method: string): boolean => methodLists !== null && methodLists.some((l) => l.some((m) => m === method || m.startsWith(`${method}:`)));

  // PermitRootLogin
  const root = get('permitrootlogin');
  if (root !== undefined) {
    const rootTarget = ctx.rootKeyLogins > 0 ? 'prohibit-password' : 'no';
    const rootNote = ctx.rootKeyLogins > 0 ? ` (root logged in with a key ${ctx.rootKeyLogins} time(s) recently: move that to an admin account or a forced command, then use "no")` : '';
    if (root === 'yes') {
      add('permitrootlogin', root, 'high', 'root can log in with a password: the account every brute-force script tries, and one guessed password is full control.',
        `PermitRootLogin ${rootTarget}: log in as an admin and use sudo${rootNote}.`);
      change('permitrootlogin', root, rootTarget, 'no password logins as root', true);
    } else if (root === 'prohibit-password' || root === 'without-password') {
      add('permitrootlogin', root, 'low', 'root can log in with a key: a stolen key is full control, and root logins do not say which person it was.',
        ctx.rootKeyLogins > 0 ? `keep for now${rootNote}.` : 'PermitRootLogin no: admins log in as themselves and use sudo.');
      if (rootTarget === 'no') change('permitrootlogin', root, 'no', 'no direct root logins', true);
    } else if (root === 'forced-commands-only') {
      add('permitrootlogin', root, 'info', 'root can log in only with keys bound to a command (backups, deployments).', 'keep if those jobs need it; otherwise PermitRootLogin no.');
    }
  }

  // PasswordAuthentication
  const pw = get('passwordauthentication');
  if (pw === 'yes') {
    add('passwordauthentication', pw, root === 'yes' ? 'high' : 'medium', 'passwords can be guessed from anywhere on the network: the target of every SSH brute force.',
      listsNeed('password') ? 'AuthenticationMethods asks for a password as a second factor: keep it, or replace it.' : 'PasswordAuthentication no, once every user who logs in over SSH has a key.');
    if (!listsNeed('password')) change('passwordauthentication', pw, 'no', 'keys only', true);
  }

  // KbdInteractiveAuthentication (ChallengeResponseAuthentication before OpenSSH 8.7)
  const kbdKey = eff.has('kbdinteractiveauthentication') ? 'kbdinteractiveauthentication' : 'challengeresponseauthentication';
  const kbd = get('kbdinteractiveauthentication') === 'yes' || get('challengeresponseauthentication') === 'yes' ? 'yes' : get(kbdKey);
  if (kbd === 'yes') {
    if (listsNeed('keyboard-interactive')) {
      add(kbdKey, kbd, 'info', 'AuthenticationMethods uses keyboard-interactive (a second factor through PAM, typically).', 'keep it.');
    } else {
      add(kbdKey, kbd, usePam ? 'medium' : 'low',
        usePam ? 'with UsePAM yes, PAM asks for the password through keyboard-interactive: password logins stay open even with PasswordAuthentication no.'
          : 'nothing needs it without PAM, and it is one more way to try passwords.',
        'KbdInteractiveAuthentication no (unless PAM provides a second factor through it).');
      change('kbdinteractiveauthentication', kbd, 'no', 'no password prompts through PAM', true);
    }
  }

  // PermitEmptyPasswords
  const empty = get('permitemptypasswords');
  if (empty === 'yes') {
    add('permitemptypasswords', empty, 'high', 'an account with an empty password can be logged into by anyone who knows its name.', 'PermitEmptyPasswords no.');
    change('permitemptypasswords', empty, 'no', 'no logins without a password', false);
  }

  // MaxAuthTries
  const tries = Number(get('maxauthtries'));
  if (Number.isFinite(tries) && tries > 4) {
    add('maxauthtries', String(tries), 'low', `${tries} attempts per connection: more guesses per connection, and only the half from ${Math.floor(tries / 2)} on are logged as failures.`,
      'MaxAuthTries 4 (an agent offering more keys than that needs IdentitiesOnly in the client).');
    change('maxauthtries', String(tries), '4', 'fewer guesses per connection', true);
  }

  // LoginGraceTime
  const grace = Number(get('logingracetime'));
  if (Number.isFinite(grace) && (grace === 0 || grace > 60)) {
    add('logingracetime', String(grace), grace === 0 ? 'medium' : 'low',
      grace === 0 ? 'unauthenticated connections never time out: anyone can hold MaxStartups slots and keep admins out.'
        : `unauthenticated connections may stay ${grace} s, holding MaxStartups slots (slow brute force, connection exhaustion).`,
      'LoginGraceTime 30.');
    change('logingracetime', String(grace), '30', 'shorter unauthenticated connections', false);
  }

  // AllowUsers / AllowGroups
  if (!eff.has('allowusers') && !eff.has('allowgroups')) {
    const others = ctx.loginAccounts;
    add('allowusers', '(not set)', 'info',
      `any account with a login shell and a credential may log in over SSH${others.length ? ` (${others.length} such account${others.length > 1 ? 's' : ''}: ${others.slice(0, 8).join(', ')}${others.length > 8 ? ', …' : ''})` : ''}; on a shared box that includes forgotten and service accounts.`,
      'AllowGroups with the admin group and a group for the other SSH users (check who logs in first: warden last).');
  }

  // X11Forwarding
  const x11 = get('x11forwarding');
  if (x11 === 'yes') {
    add('x11forwarding', x11, 'low', 'forwards the client\'s X display: root on the server (or an intruder) can read keystrokes of forwarded windows; rarely needed on a server.', 'X11Forwarding no.');
    change('x11forwarding', x11, 'no', 'no X11 forwarding', false);
  }

  // PubkeyAuthentication
  const pubkey = get('pubkeyauthentication');
  if (pubkey === 'no') {
    add('pubkeyauthentication', pubkey, 'high', 'keys are refused, so everybody logs in with a password.', 'PubkeyAuthentication yes.');
    change('pubkeyauthentication', pubkey, 'yes', 'allow key logins', false);
  }

  // UsePAM
  const pam = get('usepam');
  if (pam !== undefined) {
    add('usepam', pam, 'info', pam === 'yes'
      ? 'PAM runs account and session rules (expiry, limits, logind); with KbdInteractiveAuthentication yes it also asks for passwords.'
      : 'no PAM: account expiry, pam_limits and session setup are skipped; a locked password (passwd -l) then also blocks key logins.',
    pam === 'yes' ? 'keep it (the distribution expects it), with KbdInteractiveAuthentication no.' : 'keep as configured unless the distribution expects UsePAM yes.');
  }

  // MaxStartups / PerSourceMaxStartups
  const ms = get('maxstartups');
  if (ms !== undefined) {
    const [begin, , full] = ms.split(':').map(Number) as [number, number?, number?];
    if (begin > 10 || (full !== undefined && full > 100)) {
      add('maxstartups', ms, 'low', 'more unauthenticated connections may pile up before sshd starts dropping them: room for parallel guessing and for exhausting the server.', 'MaxStartups 10:30:100.');
      change('maxstartups', ms, '10:30:100', 'limit unauthenticated connections', false);
    }
  }
  const perSource = get('persourcemaxstartups');
  if (perSource === 'none') {
    add('persourcemaxstartups', perSource, 'info', 'one address may take all MaxStartups slots, and sshd then drops new connections — admins\' too.',
      'PerSourceMaxStartups 10 (OpenSSH 8.5+; mind NAT gateways shared by many users). warden bans such addresses, but only after their failures.');
  }

  // ClientAliveInterval
  const alive = Number(get('clientaliveinterval'));
  if (Number.isFinite(alive) && alive === 0) {
    add('clientaliveinterval', String(alive), 'low', 'a session whose client vanished (network cut, laptop gone) stays open until TCP gives up, possibly hours.',
      'ClientAliveInterval 300 (with ClientAliveCountMax 3: dropped after 15 minutes without an answer; idle clients answer and stay).');
    change('clientaliveinterval', String(alive), '300', 'drop dead sessions', false);
  }

  // Algorithms
  for (const { key, table, lockout, what } of ALGORITHM_SETTINGS) {
    const value = get(key);
    if (value === undefined) continue;
    const algs = value.split(',').filter(Boolean);
    const weak = algs.map((a) => ({ a, w: weakness(table, a) })).filter((x): x is { a: string; w: Weak } => x.w !== undefined);
    if (!weak.length) continue;
    const sev = worst(weak.map((x) => x.w.severity));
    const strong = weak.filter((x) => x.w.severity === 'high' || x.w.severity === 'medium').map((x) => x.a);
    add(key, weak.map((x) => x.a).join(','), sev, `weak ${what}${weak.length > 1 ? 's' : ''}: ${weak.map((x) => `${x.a} (${x.w.why})`).join('; ')}.`,
      strong.length ? `${keywordName(key)} without ${strong.join(', ')}.` : 'remove them when no client needs them (low risk; not changed by --apply).');
    if (strong.length) {
      const kept = algs.filter((a) => !strong.includes(a));
      if (kept.length) change(key, value, kept.join(','), `no ${strong.join(', ')}`, lockout);
    }
  }

  // Other settings that weaken authentication or hide attacks.
  const env = get('permituserenvironment');
  if (env !== undefined && env !== 'no') {
    add('permituserenvironment', env, 'medium', 'users can set environment variables (LD_PRELOAD…) for sshd-started programs, bypassing forced commands and restrictions.', 'PermitUserEnvironment no.');
    change('permituserenvironment', env, 'no', 'no user-set environment', false);
  }
  const hostbased = get('hostbasedauthentication');
  if (hostbased === 'yes') {
    add('hostbasedauthentication', hostbased, 'medium', 'trusts other hosts to say who the user is: one compromised host opens this one.', 'HostbasedAuthentication no.');
    change('hostbasedauthentication', hostbased, 'no', 'no host-based trust', false);
  }
  const rhosts = get('ignorerhosts');
  if (rhosts !== undefined && rhosts !== 'yes') {
    add('ignorerhosts', rhosts, 'medium', 'users\' .rhosts/.shosts files can grant access to other hosts.', 'IgnoreRhosts yes.');
    change('ignorerhosts', rhosts, 'yes', 'ignore .rhosts', false);
  }
  const strict = get('strictmodes');
  if (strict === 'no') {
    add('strictmodes', strict, 'medium', 'sshd accepts authorized_keys files and home directories others can write to: whoever can write there can add a key.', 'StrictModes yes (after fixing the modes of the admins\' files).');
    change('strictmodes', strict, 'yes', 'refuse writable key files', true);
  }
  const level = get('loglevel');
  if (level !== undefined && ['QUIET', 'FATAL', 'ERROR'].includes(level.toUpperCase())) {
    add('loglevel', level, 'high', 'failed logins are not logged: warden (and you) cannot see the brute force.', 'LogLevel INFO (or VERBOSE, which adds the key fingerprints of failed attempts).');
    change('loglevel', level, 'INFO', 'log failed logins', false);
  }
  const facility = get('syslogfacility');
  if (facility !== undefined && !['AUTH', 'AUTHPRIV'].includes(facility.toUpperCase())) {
    add('syslogfacility', facility, 'info', `sshd logs to facility ${facility}: make sure warden's log source (and the auth log) receive it.`, 'SyslogFacility AUTH, or point warden at where the messages go.');
  }
  const gw = get('gatewayports');
  if (gw === 'yes' || gw === 'clientspecified') {
    add('gatewayports', gw, 'low', 'remote port forwards may listen on all interfaces, exposing services users tunnel in.', 'GatewayPorts no, unless that is what the forwards are for.');
  }
  const tun = get('permittunnel');
  if (tun !== undefined && tun !== 'no') {
    add('permittunnel', tun, 'low', 'users may create tun/tap devices: a full network tunnel into this host\'s networks.', 'PermitTunnel no, unless a VPN over SSH is intended.');
  }
  const akc = get('authorizedkeyscommand');
  if (akc !== undefined && akc !== 'none') {
    add('authorizedkeyscommand', akc, 'info', 'keys also come from a command (LDAP, a key service): the lockout check cannot list those keys.', 'make sure the admins\' keys are also in their authorized_keys files, as a fallback when the key service is down.');
  }

  findings.sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
  return { findings, changes };
}
