import { auditSsh, DEFAULT_RECENT_DAYS, DEFAULT_SSHD_CONFIG, DROPIN_NAME, type SshAudit } from '../../investigate/audit.js';
import { isoTime, localTime } from '../../investigate/time.js';
import { parse, printJson, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';
import { UsageError } from '../usage.js';

export const auditCommand: Command = {
  name: 'audit',
  summary: 'audit the effective sshd configuration, with a lockout-safe hardening plan (--apply writes it)',
  usage: `Usage: warden audit ssh [--json] [--apply] [--config FILE] [--dropin-dir DIR] [--sshd PATH] [--recent-days N]

Reads the EFFECTIVE sshd configuration with "sshd -T" (root and the host keys are needed; when it
cannot run the reason is shown and the files — main config and its Includes — are read instead)
and reports risky settings with a severity and why: root and password logins, keyboard-interactive,
empty passwords, MaxAuthTries, LoginGraceTime, AllowUsers/AllowGroups, X11 forwarding, public keys,
UsePAM, MaxStartups, ClientAliveInterval, weak algorithms, logging, and more.

Lockout check: disabling root or password logins is only recommended once an admin account (a
member of sudo, wheel or admin, or a uid-0 account other than root) has a usable authorized key
(AuthorizedKeysFile expanded, StrictModes and key-type checks) AND has logged in with a key in the
last N days (auth log and rotations, the journal, warden's database).

  --apply           write the plan as a drop-in (${DROPIN_NAME}), only when an Include of the
                    main config covers it and an admin would still get in; a previous version is kept
                    as a rollback copy; "sshd -t" must pass and "sshd -T" must show the new values,
                    otherwise the old state is restored. sshd is NOT reloaded.
  --config FILE     main sshd configuration (default ${DEFAULT_SSHD_CONFIG})
  --dropin-dir DIR  where the drop-in goes (default: sshd_config.d next to the main config)
  --sshd PATH       the sshd program (default: found on PATH or in /usr/sbin)
  --recent-days N   how recent the admin's key login must be (default ${DEFAULT_RECENT_DAYS})

Exit status: 0, or 1 when --apply did not apply a needed change.

JSON: { source, config, sshd: { program, version }, findings: [{ setting, value, severity, why,
recommendation, where }], plan: { safe, verdict, recentDays, admins: [...], readyAdmins, root,
changes: [{ setting, from, to, why, lockout }], withheld, dropin: { path, covered, include, problem,
conflicts, content }, emergency, steps, loginSources, loginProblems }, apply: { applied, refused, path, backup,
validated, rolledBack, effective, messages } | null, errors }. Times are ISO 8601 UTC.
`,
  async run(args) {
    const { values, positionals } = parse(args, {
      json: { type: 'boolean' }, apply: { type: 'boolean' }, config: { type: 'string' },
      'dropin-dir': { type: 'string' }, sshd: { type: 'string' }, 'recent-days': { type: 'string' },
    }, 1);
    if (positionals[0] !== 'ssh') throw new UsageError(positionals[0] === undefined ? 'what to audit? (warden audit ssh)' : `cannot audit "${positionals[0]}" (only "ssh")`);
    let recentDays: number | undefined;
    if (typeof values['recent-days'] === 'string') {
      recentDays = Number(values['recent-days']);
      if (!Number.isInteger(recentDays) || recentDays < 1) throw new UsageError('--recent-days takes a whole number of days (1 or more)');
    }
    const str = (k: string): string | undefined => (typeof values[k] === 'string' ? values[k] as string : undefined);
    const audit = await auditSsh({
      config: str('config'), dropinDir: str('dropin-dir'), sshd: str('sshd'), apply: values['apply'] === true, recentDays,
    });
    const failed = audit.apply !== null && !audit.apply.applied && audit.apply.refused.length > 0;
    if (values['json']) {
      printJson(toJson(audit));
      return failed ? 1 : 0;
    }
    process.stdout.write(renderAudit(audit));
    return failed ? 1 : 0;
  },
};

/** The audit with times as ISO strings. */
export function toJson(a: SshAudit): unknown {
  const login = <T extends { at: number } | null>(x: T): unknown => (x === null ? null : { ...x, at: isoTime(x.at) });
  return {
    ...a,
    plan: {
      ...a.plan,
      admins: a.plan.admins.map((c) => ({ ...c, lastKeyLogin: login(c.lastKeyLogin), lastLogin: login(c.lastLogin) })),
      root: a.plan.root === null ? null : { ...a.plan.root, lastKeyLogin: login(a.plan.root.lastKeyLogin) },
    },
  };
}

const LABEL: Record<string, string> = { high: 'HIGH', medium: 'MEDIUM', low: 'LOW', info: 'INFO' };

export function renderAudit(a: SshAudit): string {
  const out: string[] = [];
  const src = a.source === 'sshd -T' ? `effective values from sshd -T${a.sshd.version ? ` (${a.sshd.version})` : ''}`
    : a.source === 'files' ? 'values read from the files (sshd -T failed, see errors)' : 'not read';
  out.push(`sshd configuration: ${safeText(a.config)} — ${src}`, '');
  if (a.errors.length) {
    out.push('ERRORS');
    for (const e of a.errors) out.push(`  ! ${safeText(e)}`);
    out.push('');
  }

  if (a.findings.length) {
    const counts = ['high', 'medium', 'low', 'info'].map((s) => [s, a.findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n);
    out.push(`FINDINGS (${counts.map(([s, n]) => `${n} ${s}`).join(', ')})`);
    for (const f of a.findings) {
      out.push(`  ${(LABEL[f.severity] ?? f.severity).padEnd(6)}  ${safeText(f.setting)} ${safeText(f.value)}${f.where ? `   (${safeText(f.where)})` : ''}`);
      out.push(`          why: ${safeText(f.why)}`);
      out.push(`          do:  ${safeText(f.recommendation)}`);
    }
  } else if (a.source !== 'none') {
    out.push('FINDINGS: none');
  }

  const p = a.plan;
  out.push('', `LOCKOUT CHECK (admin accounts; key logins within ${p.recentDays} days)`);
  if (p.admins.length) {
    out.push(renderTable(['user', 'admin via', 'usable keys', 'last key login', 'ready'], p.admins.map((c) => [
      c.user, c.via.join(', '), c.usableKeys.length,
      c.lastKeyLogin ? `${localTime(c.lastKeyLogin.at)} from ${c.lastKeyLogin.address ?? '?'}${c.lastKeyLogin.matchesKey ? ' (key matches)' : ''}` : '-',
      c.ready ? 'yes' : 'NO',
    ])).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
    for (const c of p.admins.filter((x) => !x.ready)) {
      for (const problem of c.problems) out.push(`  ! ${safeText(c.user)}: ${safeText(problem)}`);
    }
  } else {
    out.push('  no admin accounts (members of sudo, wheel or admin; uid-0 accounts other than root)');
  }
  if (p.root) {
    out.push(`  root: ${p.root.usableKeys} usable authorized key(s)${p.root.lastKeyLogin ? `, last key login ${localTime(p.root.lastKeyLogin.at)} from ${p.root.lastKeyLogin.address ?? '?'}` : ', no recent key login'}`);
  }
  out.push(`  login history read from: ${p.loginSources.length ? p.loginSources.map(safeText).join(', ') : 'nothing'}`);
  for (const problem of p.loginProblems) out.push(`  ! ${safeText(problem)}`);
  out.push('', `VERDICT: ${p.verdict}`);

  if (p.changes.length) {
    out.push('', p.safe ? `PLAN (what --apply writes to ${safeText(p.dropin.path)}):`
      : 'PLAN (changes that cannot lock anybody out; --apply still waits for a proven admin key login):');
    for (const c of p.changes) out.push(`  ${c.setting} ${safeText(c.from)} -> ${safeText(c.to)}   (${c.why})`);
  }
  if (p.withheld.length) {
    out.push('', 'WITHHELD until an admin key login is proven (these could lock you out):');
    for (const c of p.withheld) out.push(`  ${c.setting} ${safeText(c.from)} -> ${safeText(c.to)}   (${c.why})`);
  }
  out.push('', `DROP-IN: ${safeText(p.dropin.path)}`);
  out.push(p.dropin.covered ? `  included by ${safeText(p.dropin.include ?? '')}` : `  ! ${safeText(p.dropin.problem ?? 'not covered by an Include')}`);
  if (p.dropin.covered && p.dropin.problem) out.push(`  ! ${safeText(p.dropin.problem)}`);
  for (const c of p.dropin.conflicts) out.push(`  ! ${safeText(c)}`);
  if (p.dropin.content && !a.apply?.applied) {
    out.push('  content:');
    for (const line of p.dropin.content.trimEnd().split('\n')) out.push(`    ${safeText(line)}`);
  }

  out.push('', 'EMERGENCY ACCESS');
  for (const e of p.emergency) out.push(`  - ${safeText(e)}`);
  if (!a.apply) {
    out.push('', 'NEXT STEPS');
    for (const s of p.steps) out.push(`  - ${safeText(s)}`);
  }

  if (a.apply) {
    const r = a.apply;
    out.push('', r.applied ? 'APPLIED' : r.refused.length ? 'NOT APPLIED' : 'NOTHING APPLIED');
    for (const why of r.refused) out.push(`  ! ${safeText(why)}`);
    for (const m of r.messages) out.push(`  ${safeText(m)}`);
    if (Object.keys(r.effective).length && r.applied) {
      out.push(`  effective now (sshd -T): ${Object.entries(r.effective).map(([k, v]) => `${k} ${safeText(v)}`).join(', ')}`);
    }
  }
  return out.join('\n') + '\n';
}
