import type { DateParser } from './dates.js';

/**
 * Splits a syslog-style line into its header fields and the message. Written by hand with
 * indexOf rather than a regular expression: this runs on every line and is the hottest code in
 * the daemon. Recognised framings:
 *   "Mar  1 00:00:01 host prog[123]: msg"                    (rsyslog traditional)
 *   "2026-03-01T00:00:01.123456+00:00 host prog[123]: msg"   (RFC 3339, journalctl -o short-iso)
 *   "<38>1 2026-03-01T00:00:01Z host prog 123 - - msg"        (RFC 5424)
 *   "<38>Mar  1 00:00:01 host prog[123]: msg"                 (RFC 3164 with priority)
 */
export interface LogHeader {
  /** Epoch ms, NaN when the line has no recognisable date. */
  time: number;
  host: string;
  program: string;
  /** Process id as text ('' when absent): the key that ties the lines of one session together. */
  pid: string;
  message: string;
}

const MONTH_START = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /;

/** Fills `out` and returns true, or returns false for a line that is not syslog-shaped. */
export function parseHeader(line: string, dates: DateParser, out: LogHeader): boolean {
  let pos = 0;
  let text = line;
  if (text.charCodeAt(0) === 60 /* < */) {
    const close = text.indexOf('>');
    if (close < 2 || close > 4) return false;
    pos = close + 1;
    if (text.charCodeAt(pos) === 49 /* 1 */ && text.charCodeAt(pos + 1) === 32) return parse5424(text, pos + 2, dates, out);
    text = text.slice(pos);
    pos = 0;
  }
  let rest: number;
  const c0 = text.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57) {
    // ISO date: up to the first space (a "YYYY-MM-DD HH:MM:SS" date has its space at index 10).
    let end = text.indexOf(' ');
    if (end === 10 && text.charCodeAt(13) === 58) end = text.indexOf(' ', 11);
    if (end < 0) return false;
    out.time = dates.iso(text.slice(0, end));
    rest = end + 1;
  } else {
    if (text.length < 16 || text.charCodeAt(15) !== 32 || !MONTH_START.test(text.slice(0, 16))) return false;
    out.time = dates.syslog(text.slice(0, 15));
    rest = 16;
  }
  const hostEnd = text.indexOf(' ', rest);
  if (hostEnd < 0) return false;
  out.host = text.slice(rest, hostEnd);
  return parseTag(text, hostEnd + 1, out);
}

/** "prog[123]: message" or "prog: message" starting at `start`. */
function parseTag(text: string, start: number, out: LogHeader): boolean {
  const colon = text.indexOf(': ', start);
  if (colon < 0) return false;
  // A tag has no spaces; a colon further on belongs to a message without a tag.
  const space = text.indexOf(' ', start);
  if (space >= 0 && space < colon) return false;
  const bracket = text.indexOf('[', start);
  if (bracket >= 0 && bracket < colon && text.charCodeAt(colon - 1) === 93 /* ] */) {
    out.program = text.slice(start, bracket);
    out.pid = text.slice(bracket + 1, colon - 1);
  } else {
    out.program = text.slice(start, colon);
    out.pid = '';
  }
  out.message = text.slice(colon + 2);
  return true;
}

/** RFC 5424: "TIMESTAMP HOST APP PROCID MSGID STRUCTURED-DATA MSG", each "-" when absent. */
function parse5424(text: string, start: number, dates: DateParser, out: LogHeader): boolean {
  const fields: string[] = [];
  let pos = start;
  for (let i = 0; i < 5; i++) {
    const sp = text.indexOf(' ', pos);
    if (sp < 0) return false;
    fields.push(text.slice(pos, sp));
    pos = sp + 1;
  }
  // Structured data: "-" or one or more "[...]" blocks (with escaped "]" inside values).
  if (text.charCodeAt(pos) === 45 /* - */) pos += 2;
  else {
    while (text.charCodeAt(pos) === 91 /* [ */) {
      let i = pos + 1;
      while (i < text.length && text.charCodeAt(i) !== 93) i += text.charCodeAt(i) === 92 ? 2 : 1;
      pos = i + 1;
    }
    if (text.charCodeAt(pos) === 32) pos++;
  }
  const [ts, host, app, procid] = fields as [string, string, string, string, string];
  out.time = ts === '-' ? NaN : dates.iso(ts);
  out.host = host === '-' ? '' : host;
  out.program = app === '-' ? '' : app;
  out.pid = procid === '-' ? '' : procid;
  let message = text.slice(pos);
  if (message.charCodeAt(0) === 0xfeff) message = message.slice(1); // BOM marks UTF-8 in RFC 5424
  out.message = message;
  return true;
}
