/**
 * A login history: one or more wtmp files (rotated generations first, the live file last) read
 * as one stream, so a session that began before a rotation pairs with its logout after it.
 */
import { LoginFileError, loadLoginFile, rotatedSiblings, type LoadedFile } from './files.js';
import { checkIntegrity, type Finding, type ParsedFile } from './integrity.js';
import { buildSessions, type Session, type SourcedRecord } from './sessions.js';
import type { SystemView } from './system.js';
import { parseUtmp, UtmpType } from './utmp.js';

export const DEFAULT_WTMP = '/var/log/wtmp';

export interface HistoryFile {
  readonly path: string;
  readonly compressed: boolean;
  /** Decompressed size in bytes. */
  readonly bytes: number;
  readonly records: number;
  /** Time of the first non-empty record (about what `last` prints as "wtmp begins"); null when there is none. */
  readonly begins: number | null;
}

export interface History {
  /** Oldest first. */
  readonly files: HistoryFile[];
  /** Newest first. */
  readonly sessions: Session[];
  readonly findings: Finding[];
}

/**
 * The files to read. Without --file: /var/log/wtmp and its rotated generations. With --file: that
 * file alone — an investigator pointing at a copied file means that file — unless `rotated` asks
 * for its generations too.
 */
export function historyPaths(file: string | undefined, rotated: boolean, defaultPath = DEFAULT_WTMP): { paths: string[]; required: string | undefined } {
  const main = file ?? defaultPath;
  const withRotated = file === undefined || rotated;
  const siblings = withRotated ? rotatedSiblings(main) : [];
  // A named file must be there. The default one may be missing when rotated generations exist:
  // that absence is itself a finding (deleted to hide tracks?), and the older history still shows.
  return { paths: [...siblings, main], required: file !== undefined || !siblings.length ? main : undefined };
}

/**
 * Reads and interprets the files. The `required` file must be readable (LoginFileError otherwise);
 * any other file that cannot be read becomes a finding and the rest is still shown.
 */
export function readHistory(paths: readonly string[], required: string | undefined, system: SystemView): History {
  const parsed: ParsedFile[] = [];
  const findings: Finding[] = [];
  const now = system.now();
  paths.forEach((path, i) => {
    let file: LoadedFile;
    try {
      file = loadLoginFile(path);
    } catch (e) {
      if (path === required || !(e instanceof LoginFileError)) throw e;
      const live = i === paths.length - 1;
      findings.push({
        severity: 'warning', file: path, offset: null, seen: `could not read it: ${e.message}`,
        meaning: live
          ? 'the current login history is missing: deleted (to hide tracks?), or this system does not keep wtmp; the rotated files show the older history.'
          : 'its part of the history is missing from this listing.',
      });
      return;
    }
    parsed.push({ file, parse: parseUtmp(file.data, { now }) });
  });
  const stream: SourcedRecord[] = parsed.flatMap(({ file, parse }) => parse.records.map((record) => ({ file: file.path, record })));
  return {
    files: parsed.map(({ file, parse }) => ({
      path: file.path, compressed: file.compressed, bytes: file.data.length, records: parse.records.length,
      begins: parse.records.find((r) => !r.zeroed && r.type !== UtmpType.EMPTY)?.sec ?? null,
    })),
    sessions: buildSessions(stream, { system }),
    findings: [...findings, ...checkIntegrity(parsed, { now })],
  };
}
