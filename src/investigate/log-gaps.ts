/**
 * Gaps in a log's dates: in a log that has a line every few minutes, an hour without any line
 * means syslog stopped, the machine was down or its clock jumped — or lines were deleted. A quiet
 * server has quiet hours, so gaps are reported only for a log that is otherwise busy; this is a
 * heuristic and the findings say so.
 *
 * Lines are fed in order, possibly by several workers each reading a consecutive piece of the
 * logs: each keeps a GapState (plain data), and mergeGaps() joins them in order, adding the gaps
 * that fall between pieces.
 */
import type { Finding } from './integrity.js';
import { isoTime } from './time.js';

export interface Gap {
  /** Epoch ms of the line before and the line after. */
  readonly from: number;
  readonly to: number;
  readonly beforeFile: string;
  readonly afterFile: string;
  /** sshd had logged its stop before the gap; null: no sshd stop or start seen before it in this piece. */
  readonly sshdStopped: boolean | null;
}

export interface GapState {
  first: number;
  last: number;
  firstFile: string;
  lastFile: string;
  lines: number;
  gaps: Gap[];
  /** sshd's state at the end of the piece: stopped, started, or null when it logged neither. */
  sshdStopped: boolean | null;
}

export const DEFAULT_GAP_MS = 3_600_000;
/** A log whose lines outside the gaps come at most this far apart on average is "busy". */
export const DEFAULT_BUSY_MS = 300_000;

export class GapTracker {
  readonly state: GapState = { first: NaN, last: NaN, firstFile: '', lastFile: '', lines: 0, gaps: [], sshdStopped: null };

  constructor(private readonly threshold = DEFAULT_GAP_MS) {}

  /** One line's time (NaN: no date) and the file it is in. */
  line(time: number, file: string): void {
    if (time !== time) return; // NaN
    const s = this.state;
    s.lines++;
    if (time === s.last) return; // the common case: another line of the same minute
    if (s.lines === 1) {
      s.first = time;
      s.firstFile = file;
      s.last = time;
      s.lastFile = file;
    } else if (time - s.last >= this.threshold) {
      s.gaps.push({ from: s.last, to: time, beforeFile: s.lastFile, afterFile: file, sshdStopped: s.sshdStopped });
    }
    if (time > s.last) {
      s.last = time;
      s.lastFile = file;
    }
  }

  /** sshd logged that it stops ("Received signal 15; terminating.") or starts ("Server listening on"). */
  sshd(event: 'stop' | 'start'): void {
    this.state.sshdStopped = event === 'stop';
  }
}

/** Joins the states of consecutive pieces, in order. */
export function mergeGaps(states: readonly GapState[], threshold = DEFAULT_GAP_MS): GapState {
  const out: GapState = { first: NaN, last: NaN, firstFile: '', lastFile: '', lines: 0, gaps: [], sshdStopped: null };
  let stopped = false;
  for (const s of states) {
    if (s.lines === 0) continue;
    if (out.lines === 0) {
      out.first = s.first;
      out.firstFile = s.firstFile;
    } else if (s.first - out.last >= threshold) {
      out.gaps.push({ from: out.last, to: s.first, beforeFile: out.lastFile, afterFile: s.firstFile, sshdStopped: stopped });
    }
    for (const g of s.gaps) out.gaps.push({ ...g, sshdStopped: g.sshdStopped ?? stopped });
    if (out.lines === 0 || s.last > out.last) {
      out.last = s.last;
      out.lastFile = s.lastFile;
    }
    out.lines += s.lines;
    if (s.sshdStopped !== null) stopped = s.sshdStopped;
  }
  out.sshdStopped = stopped;
  return out;
}

export interface GapOptions {
  /** Boot times (epoch ms, from wtmp): a gap holding one is explained by the machine being down. */
  readonly boots?: readonly number[];
  /** With `live` (the lines read end with the live log): a log silent since `now - threshold` is reported. */
  readonly now?: number;
  readonly live?: boolean;
  readonly busy?: number;
  readonly threshold?: number;
  readonly maxFindings?: number;
}

/** The findings for a merged state. */
export function gapFindings(state: GapState, file: string, options: GapOptions = {}): Finding[] {
  const threshold = options.threshold ?? DEFAULT_GAP_MS;
  if (state.lines < 100) return [];
  const gapTime = state.gaps.reduce((s, g) => s + (g.to - g.from), 0);
  const typical = (state.last - state.first - gapTime) / Math.max(1, state.lines - 1 - state.gaps.length);
  if (typical > (options.busy ?? DEFAULT_BUSY_MS)) return [];
  const every = typical < 60_000 ? `${Math.max(1, Math.round(typical / 1000))} s` : `${Math.round(typical / 60_000)} min`;
  const heuristic = `(A heuristic: this log otherwise has a line every ${every} on average (to the minute); a real quiet spell is possible.)`;
  const out: Finding[] = [];
  for (const g of state.gaps) {
    const boot = options.boots?.find((b) => b >= g.from && b <= g.to);
    const where = g.beforeFile === g.afterFile ? g.beforeFile : `${g.beforeFile} → ${g.afterFile}`;
    const seen = `no line for ${spanText(g.to - g.from)}, from ${iso(g.from)} to ${iso(g.to)}`;
    if (boot !== undefined) {
      out.push({ severity: 'notice', file: where, offset: null, seen: `${seen}; the machine booted at ${iso(boot)}`, meaning: `the machine was probably down or rebooting. ${heuristic}` });
    } else if (g.sshdStopped) {
      out.push({ severity: 'notice', file: where, offset: null, seen: `${seen}, after sshd logged that it was terminating`, meaning: `sshd was stopped; that nothing else logged either suggests syslog or the machine stopped too. ${heuristic}` });
    } else {
      out.push({ severity: 'warning', file: where, offset: null, seen, meaning: `syslog stopped writing (rsyslog stopped or crashed, disk full), the machine was down or its clock jumped, or lines were deleted from the log. ${heuristic}` });
    }
  }
  if (options.live && options.now !== undefined && options.now - state.last >= threshold + 60_000) {
    out.push({
      severity: 'warning', file: state.lastFile || file, offset: null,
      seen: `no line since ${iso(state.last)}, ${spanText(options.now - state.last)} ago`,
      meaning: `logging to this file may have stopped (rsyslog stopped, disk full, the log deleted or replaced and not reopened). ${heuristic}`,
    });
  }
  const max = options.maxFindings ?? 20;
  if (out.length > max) {
    const rest = out.length - max;
    out.length = max;
    out.push({ severity: 'notice', file, offset: null, seen: `${rest} more gaps not listed`, meaning: 'see the ones above.' });
  }
  return out;
}

function iso(ms: number): string {
  return isoTime(ms / 1000) ?? String(ms);
}

function spanText(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 120) return `${min} min`;
  const h = ms / 3_600_000;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}
