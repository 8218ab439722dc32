/**
 * Which lines a filter can possibly act on, decided from a few bytes — so that a scan over a day
 * of a busy server's log runs the filter (a header parse, a date, a regular expression) only on the
 * lines that may count, and decodes nothing else.
 *
 * Exact by construction, derived from the definition, never from knowledge of sshd: the engine
 * only accepts lines of the filter's programs, and every built-in pattern is anchored at the
 * message start with a literal prefix (engine.ts literalPrefix). A line whose message starts with
 * none of the prefixes of the rules that count, succeed or set marks cannot produce anything but
 * "recognized", "unmatched" or "other". rsyslog's "message repeated N times: [...]" wrapper is let
 * through. When any such rule has no literal prefix, or the filter reads a non-syslog format,
 * every line is a candidate. Anything the byte walk is unsure about is a candidate too.
 */
import type { FilterDefinition } from '../filters/definition.js';
import { literalPrefix } from '../filters/engine.js';

/** locate(): the line is certainly not one of the filter's programs. */
export const NOT_OURS = -1;
/** locate(): the byte walk cannot tell; hand the line to the engine. */
export const UNSURE = -2;

const REPEATED = 'message repeated ';

export class FilterPrefilter {
  /** False when every line must go to the engine. */
  readonly selective: boolean;
  private readonly programs: Buffer[];
  private readonly prefixes = new Map<number, string[]>();
  private readonly prefixBytes = new Map<number, Buffer[]>();

  constructor(definition: FilterDefinition, mode: string) {
    const active = definition.rules.filter((r) => (mode === 'aggressive' || r.modes.includes(mode)) && r.action !== 'ignore');
    const prefixes = [REPEATED];
    let selective = definition.format.kind === 'syslog' && definition.programs.length > 0;
    for (const rule of active) {
      for (const pattern of rule.patterns) {
        const p = literalPrefix(pattern);
        if (!p) selective = false;
        else prefixes.push(p);
      }
    }
    this.selective = selective;
    this.programs = definition.programs.map((p) => Buffer.from(p, 'latin1'));
    for (const p of new Set(prefixes)) {
      const c = p.charCodeAt(0);
      this.prefixes.set(c, [...(this.prefixes.get(c) ?? []), p]);
      this.prefixBytes.set(c, [...(this.prefixBytes.get(c) ?? []), Buffer.from(p, 'utf8')]);
    }
  }

  /** For a decoded message at `start` of `text`: may a rule act on it? */
  messageMayAct(text: string, start: number): boolean {
    if (!this.selective) return true;
    const list = this.prefixes.get(text.charCodeAt(start));
    if (!list) return false;
    for (const p of list) if (text.startsWith(p, start)) return true;
    return false;
  }

  /** The same for a message in bytes buf[start, end). */
  bytesMayAct(buf: Buffer, start: number, end: number): boolean {
    if (!this.selective) return true;
    const list = this.prefixBytes.get(buf[start] ?? -1);
    if (!list) return false;
    outer: for (const p of list) {
      if (start + p.length > end) continue;
      for (let i = 1; i < p.length; i++) if (buf[start + i] !== p[i]) continue outer;
      return true;
    }
    return false;
  }

  /**
   * Where the message of a syslog line buf[start, end) begins when its program is one of the
   * filter's; NOT_OURS when the program is certainly another; UNSURE when the line is not in the
   * two common framings ("Mmm dd hh:mm:ss host prog[pid]: " and "ISO-DATE host prog[pid]: ").
   */
  locate(buf: Buffer, start: number, end: number): number {
    if (!this.selective) return UNSURE;
    const c0 = buf[start] ?? 0;
    let hostStart: number;
    if (c0 >= 48 && c0 <= 57) {
      let sp = start + 1;
      while (sp < end && buf[sp] !== 32) sp++;
      if (sp === start + 10 && buf[start + 13] === 58) {
        sp++;
        while (sp < end && buf[sp] !== 32) sp++;
      }
      if (sp >= end) return UNSURE;
      hostStart = sp + 1;
    } else if (c0 >= 65 && c0 <= 90) {
      if (buf[start + 15] !== 32) return UNSURE;
      hostStart = start + 16;
    } else {
      return UNSURE;
    }
    // Host names are short: a loop beats a native call here.
    let hostEnd = hostStart;
    while (hostEnd < end && buf[hostEnd] !== 32) hostEnd++;
    if (hostEnd >= end) return UNSURE;
    const prog = hostEnd + 1;
    for (const p of this.programs) {
      if (prog + p.length >= end) continue;
      let same = true;
      for (let i = 0; i < p.length; i++) if (buf[prog + i] !== p[i]) { same = false; break; }
      if (!same) continue;
      let q = prog + p.length;
      const next = buf[q];
      if (next === 91 /* [ */) {
        q++;
        while (q < end && buf[q] !== 93 /* ] */ && buf[q] !== 32) q++;
        if (buf[q] !== 93) return UNSURE;
        q++;
      } else if (next !== 58 /* : */) {
        continue; // a longer program name that starts the same ("sshd-session" vs "sshd")
      }
      return buf[q] === 58 && buf[q + 1] === 32 ? q + 2 : UNSURE;
    }
    // The tag ends at the first ": "; a program of ours would have been matched right here. A tag
    // holding a space makes the line headerless to the engine: "other" too.
    return NOT_OURS;
  }
}
