import type { DateParser } from './dates.js';

/**
 * Splits a syslog-style line into its header fields and the message. Written by hand with
 * indexOf and character codes rather than a regular expression: this runs on every line and is
 * the hottest code in the daemon. It records offsets and slices nothing, so a line of a program
 * the filter does not read costs no allocation at all. Recognised framings:
 *   "Mar  1 00:00:01 host prog[123]: msg"                    (rsyslog traditional)
 *   "2026-03-01T00:00:01.123456+00:00 host prog[123]: msg"   (RFC 3339, journalctl -o short-iso)
 *   "<38>1 2026-03-01T00:00:01Z host prog 123 - - msg"        (RFC 5424)
 *   "<38>Mar  1 00:00:01 host prog[123]: msg"                 (RFC 3164 with priority)
 */
export interface LogHeader {
  /** Epoch ms, NaN when the line has no recognisable date (filled by readHeaderDate). */
  time: number;
  /** Where the date is and how it is written: read only for lines a filter wants. */
  dateKind: DateKind;
  dateStart: number;
  dateEnd: number;
  hostStart: number;
  hostEnd: number;
  programStart: number;
  programEnd: number;
  /** pidStart === pidEnd when the line has no pid. */
  pidStart: number;
  pidEnd: number;
  messageStart: number;
}

export const enum DateKind { None, Syslog, Iso }

export function newHeader(): LogHeader {
  return { time: NaN, dateKind: DateKind.None, dateStart: 0, dateEnd: 0, hostStart: 0, hostEnd: 0, programStart: 0, programEnd: 0, pidStart: 0, pidEnd: 0, messageStart: 0 };
}

/** Reads the date located by parseHeader into `h.time` (NaN when there is none or it is malformed). */
export function readHeaderDate(line: string, dates: DateParser, h: LogHeader): number {
  h.time = h.dateKind === DateKind.Syslog ? dates.syslogAt(line, h.dateStart)
    : h.dateKind === DateKind.Iso ? dates.isoAt(line, h.dateStart, h.dateEnd) : NaN;
  return h.time;
}

/**
 * Fills `out` with the positions of the header fields and returns true, or returns false for a
 * line that is not syslog-shaped. The date is located, not read: lines of programs no filter
 * reads never pay for date arithmetic (call readHeaderDate, or use parseHeader).
 */
export function locateHeader(line: string, out: LogHeader): boolean {
  let pos = 0;
  if (line.charCodeAt(0) === 60 /* < */) {
    const close = line.indexOf('>');
    if (close < 2 || close > 4) return false;
    pos = close + 1;
    if (line.charCodeAt(pos) === 49 /* 1 */ && line.charCodeAt(pos + 1) === 32) return parse5424(line, pos + 2, out);
  }
  let rest: number;
  const c0 = line.charCodeAt(pos);
  if (c0 >= 48 && c0 <= 57) {
    // ISO date: up to the first space (a "YYYY-MM-DD HH:MM:SS" date has its space at offset 10).
    let end = line.indexOf(' ', pos);
    if (end === pos + 10 && line.charCodeAt(pos + 13) === 58) end = line.indexOf(' ', pos + 11);
    if (end < 0) return false;
    out.dateKind = DateKind.Iso;
    out.dateStart = pos;
    out.dateEnd = end;
    rest = end + 1;
  } else {
    // "Mmm dd hh:mm:ss ": checked for shape here, read later.
    if (line.charCodeAt(pos + 15) !== 32 || line.charCodeAt(pos + 3) !== 32 || line.charCodeAt(pos + 9) !== 58 || line.charCodeAt(pos + 12) !== 58) return false;
    out.dateKind = DateKind.Syslog;
    out.dateStart = pos;
    out.dateEnd = pos + 15;
    rest = pos + 16;
  }
  const hostEnd = line.indexOf(' ', rest);
  if (hostEnd < 0) return false;
  out.hostStart = rest;
  out.hostEnd = hostEnd;
  return parseTag(line, hostEnd + 1, out);
}

/** "prog[123]: message" or "prog: message" starting at `start`. */
function parseTag(line: string, start: number, out: LogHeader): boolean {
  // The tag ends at the first ": "; a space before it means the line has no tag (a colon further
  // on belongs to a message without one). Tags are short: a walk beats two native searches.
  let colon = start;
  const length = line.length;
  for (;;) {
    if (colon >= length) return false;
    const c = line.charCodeAt(colon);
    if (c === 32) return false;
    if (c === 58 /* : */ && line.charCodeAt(colon + 1) === 32) break;
    colon++;
  }
  out.programStart = start;
  out.messageStart = colon + 2;
  if (line.charCodeAt(colon - 1) === 93 /* ] */) {
    const bracket = line.lastIndexOf('[', colon);
    if (bracket > start) {
      out.programEnd = bracket;
      out.pidStart = bracket + 1;
      out.pidEnd = colon - 1;
      return true;
    }
  }
  out.programEnd = colon;
  out.pidStart = out.pidEnd = colon;
  return true;
}

/** RFC 5424: "TIMESTAMP HOST APP PROCID MSGID STRUCTURED-DATA MSG", each "-" when absent. */
function parse5424(line: string, start: number, out: LogHeader): boolean {
  const ends: number[] = [];
  let pos = start;
  for (let i = 0; i < 5; i++) {
    const sp = line.indexOf(' ', pos);
    if (sp < 0) return false;
    ends.push(sp);
    pos = sp + 1;
  }
  // Structured data: "-" or one or more "[...]" blocks (with escaped "]" inside values).
  if (line.charCodeAt(pos) === 45 /* - */) pos += 2;
  else {
    while (line.charCodeAt(pos) === 91 /* [ */) {
      let i = pos + 1;
      while (i < line.length && line.charCodeAt(i) !== 93) i += line.charCodeAt(i) === 92 ? 2 : 1;
      pos = i + 1;
    }
    if (line.charCodeAt(pos) === 32) pos++;
  }
  const [tsEnd, hostEnd, appEnd, pidEnd] = ends as [number, number, number, number];
  const nil = (from: number, to: number): boolean => to - from === 1 && line.charCodeAt(from) === 45;
  out.dateKind = nil(start, tsEnd) ? DateKind.None : DateKind.Iso;
  out.dateStart = start;
  out.dateEnd = tsEnd;
  out.hostStart = tsEnd + 1;
  out.hostEnd = nil(tsEnd + 1, hostEnd) ? tsEnd + 1 : hostEnd;
  out.programStart = hostEnd + 1;
  out.programEnd = nil(hostEnd + 1, appEnd) ? hostEnd + 1 : appEnd;
  out.pidStart = appEnd + 1;
  out.pidEnd = nil(appEnd + 1, pidEnd) ? appEnd + 1 : pidEnd;
  if (line.charCodeAt(pos) === 0xfeff) pos++; // a BOM marks UTF-8 in RFC 5424
  out.messageStart = Math.min(pos, line.length);
  return true;
}

/** locateHeader and readHeaderDate together, for callers that want every line's date. */
export function parseHeader(line: string, dates: DateParser, out: LogHeader): boolean {
  if (!locateHeader(line, out)) return false;
  readHeaderDate(line, dates, out);
  return true;
}
