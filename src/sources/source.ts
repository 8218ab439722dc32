/**
 * The first stage of the pipeline: something that produces log lines.
 *
 * A source yields batches rather than single lines so that a burst of thousands of lines costs
 * one async hop, not thousands. The consumer asking for the next batch is the signal that the
 * previous one was fully processed: that is when a source may persist its read position, so a
 * crash never skips lines that were read but not yet counted.
 */
export interface LineBatch {
  /** Complete lines without their trailing newline. */
  readonly lines: string[];
  /** Wall-clock time (epoch ms) at which the batch was read; used when a line carries no usable date. */
  readonly readAt: number;
  /**
   * For sources with structured records (journald): the realtime stamp of each line in epoch ms,
   * parallel to `lines`. Absent for plain-text sources, whose dates are parsed from the line.
   */
  readonly times?: number[];
}

export interface SourceHealth {
  /** Human-readable identity: a path, a journal match. */
  readonly name: string;
  readonly state: 'starting' | 'following' | 'waiting' | 'error' | 'stopped';
  /** Set while the source cannot read (missing file, permission, journalctl absent). */
  readonly error?: string;
  readonly linesRead: number;
  /** Lines dropped before reaching filters: binary garbage, over-long lines (truncated still count as read). */
  readonly linesSkipped: number;
  /** Lines longer than the source's limit, cut to it (they are also counted in linesRead). */
  readonly linesTruncated?: number;
}

export interface LogSource {
  readonly name: string;
  /** Yields batches until `stop()` is called. Errors are reported through health(), not thrown. */
  batches(): AsyncIterable<LineBatch>;
  stop(): Promise<void>;
  health(): SourceHealth;
}

/** Where a source remembers how far it has read; implemented by the state database. */
export interface PositionStore {
  loadPosition(key: string): string | undefined;
  savePosition(key: string, value: string): void;
}

/** A source's health report from its counters (the shape every source returns). */
export function healthReport(
  name: string, state: SourceHealth['state'], linesRead: number,
  counters: { readonly skipped: number; readonly truncated: number }, error: string | undefined,
): SourceHealth {
  const h: SourceHealth = { name, state, linesRead, linesSkipped: counters.skipped, linesTruncated: counters.truncated };
  return error === undefined ? h : { ...h, error };
}
