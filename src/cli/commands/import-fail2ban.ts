import { relative } from 'node:path';
import { importFail2ban } from '../../import/fail2ban.js';
import { formatIssue } from '../../import/issues.js';
import { parse, printJson, type Command } from '../command.js';

export const importFail2banCommand: Command = {
  name: 'import-fail2ban',
  summary: 'translate a fail2ban configuration into a warden one',
  usage: `Usage: warden import-fail2ban [DIR] [--out DIR] [--json]

Reads the fail2ban configuration in DIR (default /etc/fail2ban) as fail2ban does — jail.conf,
jail.d/*.conf, jail.local, jail.d/*.local, and filter.d/NAME.conf + NAME.local of every enabled
jail — and writes OUT/warden.yaml plus OUT/filters/NAME.yaml for each filter warden does not
ship itself (default OUT: ./warden-import). Jails whose filter warden has built in (sshd, ...) use
warden's own filter. Everything that could not be translated is listed with its file and line,
here and at the top of warden.yaml. The written files are then loaded with warden's own loader and
every filter compiled.
  --out DIR   where to write (created if needed; existing files there are overwritten)
  --json      the result as one JSON object
Exit status: 0 everything translated, 3 some parts could not be (listed), 2 usage, 1 error.
`,
  async run(args) {
    const { values, positionals } = parse(args, { out: { type: 'string' }, json: { type: 'boolean' } }, 1);
    const dir = positionals[0] ?? '/etc/fail2ban';
    const out = (values['out'] as string | undefined) ?? 'warden-import';
    const result = importFail2ban({ dir, out });
    if (values['json'] === true) {
      printJson({
        dir: result.dir,
        config: result.configPath,
        filters: result.filterFiles,
        filesRead: result.filesRead,
        jails: result.jails,
        disabled: result.disabled,
        untranslated: result.issues.filter((i) => i.severity === 'untranslated').map(({ severity: _, ...rest }) => rest),
        notes: result.issues.filter((i) => i.severity === 'note').map(({ severity: _, ...rest }) => rest),
        verifyErrors: result.verifyErrors,
        exitCode: result.exitCode,
      });
      return result.exitCode;
    }
    const shown = (p: string): string => {
      const r = relative(process.cwd(), p);
      return r && !r.startsWith('..') ? r : p;
    };
    const lines: string[] = [];
    lines.push(`read ${result.dir}: ${result.filesRead.join(', ')}`);
    lines.push(`wrote ${shown(result.configPath)}${result.filterFiles.length ? ` and ${result.filterFiles.map(shown).join(', ')}` : ''}`);
    for (const j of result.jails) {
      lines.push(`  jail ${j.fail2ban}${j.warden !== j.fail2ban ? ` (as ${j.warden})` : ''}: filter ${j.filter.includes('/') ? shown(j.filter) : `${j.filter} (built in)`}${j.mode ? `, mode ${j.mode}` : ''}`);
    }
    if (result.disabled.length) lines.push(`  not enabled, not imported: ${result.disabled.length} jail(s)`);
    const untranslated = result.issues.filter((i) => i.severity === 'untranslated');
    const notes = result.issues.filter((i) => i.severity === 'note');
    if (notes.length) {
      lines.push('', `notes (${notes.length}):`);
      for (const n of notes) lines.push(`  ${formatIssue(n)}`);
    }
    if (untranslated.length) {
      lines.push('', `NOT TRANSLATED (${untranslated.length}):`);
      for (const u of untranslated) lines.push(`  ${formatIssue(u)}`);
    }
    if (result.verifyErrors.length) {
      lines.push('', 'the written files do not load:');
      for (const e of result.verifyErrors) lines.push(`  ${e}`);
    } else lines.push('', `checked: ${shown(result.configPath)} loads and every filter compiles`);
    if (result.exitCode === 3) lines.push('', 'some parts could not be translated (exit status 3): review the list above before using this configuration');
    else lines.push('', 'everything was translated');
    process.stdout.write(`${lines.join('\n')}\n`);
    return result.exitCode;
  },
};
