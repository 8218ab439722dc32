import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable on PATH (plus the sbin directories, which a non-login root shell may lack). */
export function which(program: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const inCI = process.env['CI'] === 'true';

/**
 * Decides whether a test that needs real components can run. Returns a skip reason, or undefined
 * when everything is present. Under CI=true a missing component is a failure, never a silent skip:
 * the thrown error fails the test that asked.
 */
export function missing(programs: readonly string[], alsoNeedRoot = true): string | undefined {
  const absent = programs.filter((p) => which(p) === undefined);
  const problems: string[] = [];
  if (absent.length) problems.push(`missing programs: ${absent.join(', ')}`);
  if (alsoNeedRoot && process.getuid?.() !== 0) problems.push('needs root');
  if (!problems.length) return undefined;
  const reason = problems.join('; ');
  if (inCI) throw new Error(`CI=true and a real component is unavailable (${reason}); install it in .ci/run`);
  return reason;
}

/** Resolves a program's absolute path or throws (after `missing` has been consulted). */
export function mustWhich(program: string): string {
  const path = which(program);
  if (!path) throw new Error(`${program} not found`);
  return path;
}
