import { isAbsolute, relative } from 'node:path';
import type { Origin } from './located.js';

/**
 * What the import could not carry over, and what it carried over with a difference worth knowing.
 * Nothing is dropped silently: every part of the fail2ban configuration that does not make it into
 * the warden files is an `untranslated` issue (the command then exits 3), with its file and line.
 */
export type Severity = 'untranslated' | 'note';

export interface Issue {
  readonly severity: Severity;
  /** Path relative to the fail2ban directory (absolute when outside it); undefined for global remarks. */
  readonly file?: string;
  readonly line?: number;
  readonly message: string;
}

export class Issues {
  private readonly items: Issue[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly baseDir: string) {}

  untranslated(origin: Origin | undefined, message: string): void {
    this.add('untranslated', origin, message);
  }

  note(origin: Origin | undefined, message: string): void {
    this.add('note', origin, message);
  }

  add(severity: Severity, origin: Origin | undefined, message: string): void {
    const file = origin ? this.display(origin.file) : undefined;
    const issue: Issue = { severity, message, ...(file !== undefined ? { file } : {}), ...(origin && origin.line > 0 ? { line: origin.line } : {}) };
    const key = `${severity}\0${formatIssue(issue)}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(issue);
  }

  /** A file as shown to the user: relative to the fail2ban directory when inside it. */
  display(file: string): string {
    if (!file) return file;
    const rel = relative(this.baseDir, file);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  }

  get all(): readonly Issue[] {
    return this.items;
  }

  get untranslatedCount(): number {
    return this.items.filter((i) => i.severity === 'untranslated').length;
  }
}

/** "filter.d/foo.conf:12: message", "jail.local: message" or just "message". */
export function formatIssue(issue: Issue): string {
  if (issue.file === undefined) return issue.message;
  return `${issue.file}${issue.line !== undefined ? `:${issue.line}` : ''}: ${issue.message}`;
}
