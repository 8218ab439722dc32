/**
 * fail2ban's regular expressions in warden's terms.
 *
 * Two passes, as fail2ban itself does it:
 *  1. `resolveTags`: fail2ban's tags (`<HOST>`, `<ADDR>`, `<F-USER>...</F-USER>`, `<F-NOFAIL>`...)
 *     are replaced textually, giving a Python regular expression. The address slot becomes a
 *     private marker character, so nothing later can mistake it for text.
 *  2. `translatePythonRegex`: Python's `re` syntax becomes JavaScript's, token by token, as V8 must
 *     run it for a user filter — in linear time. What JavaScript (Node 20) or linear time cannot
 *     express is reported, never dropped: back-references, look-arounds, conditional and atomic
 *     groups, possessive quantifiers, multi-line constructs. Python-only spellings are rewritten:
 *     (?P<name>...) -> (?<name>...), \Z -> $, \A -> ^, {,n} -> {0,n}, ']' first in a class,
 *     inline flags: (?i) by spelling letters in both cases, (?s) by [^] for '.', (?x) by dropping
 *     white space and comments.
 * The result is a list of top-level alternatives, each saying whether it is anchored at the start
 * of the message (the syslog header that fail2ban's %(__prefix_line)s matched is parsed by warden
 * itself, so a leading ^%(__prefix_line)s is removed and the rule anchors at the message).
 */

/** Stands for warden's `<HOST>` slot inside the Python text. */
export const HOST_MARK = '\uE000';
/** Stands for fail2ban's %(__prefix_line)s (the syslog header) inside the Python text. */
export const PREFIX_MARK = '\uE001';

export interface TagResult {
  /** The Python regular expression, with HOST_MARK for the address slot. */
  readonly text: string;
  /** The regex marks its line as "not a failure" (<F-NOFAIL>) or as a success (<F-MLFGAINED>). */
  readonly nofail: boolean;
  readonly gained: boolean;
  /** It identifies failures by <F-ID> (not an address). */
  readonly failureId: boolean;
  /** It uses fail2ban's multi-line connection id (<F-MLFID>). */
  readonly mlfid: boolean;
  readonly problems: string[];
  readonly notes: string[];
}

const ADDRESS_TAGS = new Set(['HOST', 'ADDR', 'IP4', 'IP6', 'F-IP4/', 'F-IP6/', 'F-ADDR/']);

/** fail2ban's Regex._resolveHostTag, for warden: tags -> Python text with HOST_MARK. */
export function resolveTags(regex: string): TagResult {
  const problems: string[] = [];
  const notes: string[] = [];
  const open = new Set<string>();
  const hasUser = regex.includes('<F-USER>');
  let userTaken = false;
  let nofail = false, gained = false, failureId = false, mlfid = false;
  const text = regex.replace(/<\/?[\w-]+\/?>/g, (tag) => {
    const tn = tag.slice(1, -1);
    if (ADDRESS_TAGS.has(tn)) {
      if (tn === 'IP4' || tn === 'IP6' || tn.startsWith('F-IP')) notes.push(`<${tn}> becomes warden's <HOST> slot, which takes an address of either family`);
      return HOST_MARK;
    }
    if (tn === 'DNS' || tn === 'F-DNS/') {
      problems.push(`uses <${tn}> (a host name): warden bans addresses only and never resolves names`);
      return '(?:\\S+)';
    }
    if (tn === 'SUBNET' || tn === 'F-SUBNET/' || tn === 'CIDR' || tn === 'F-CIDR/') {
      problems.push(`uses <${tn.replace('F-', '').replace('/', '')}> (a logged subnet): warden bans the address (IPv6 by its ipv6_prefix), not a subnet from the log`);
      return tn.includes('CIDR') ? '(?:\\d+)' : HOST_MARK;
    }
    if (tn === 'SKIPLINES') {
      problems.push('uses <SKIPLINES> (a multi-line match): warden matches one line at a time');
      return '';
    }
    if (tn === 'F-ID/') {
      failureId = true;
      return '(?:\\S+)';
    }
    if (tn === 'F-PORT/') return '(?:\\w+)';
    const m = /^(\/?)F-([A-Z0-9_-]+)$/.exec(tn);
    if (!m) return tag;
    const name = m[2]!;
    if (m[1]) return open.has(name) ? ')' : tag;
    open.add(name);
    switch (name) {
      case 'USER':
        if (userTaken) return '(?:';
        userTaken = true;
        return '(?P<user>';
      case 'NOFAIL': nofail = true; return '(?:';
      case 'MLFGAINED': gained = true; return '(?:';
      case 'MLFID': mlfid = true; return '(?:';
      case 'ID': failureId = true; return '(?:';
      case 'IP4': case 'IP6': case 'ADDR': case 'DNS':
        problems.push(`uses <F-${name}>...</F-${name}> (an address group with its own expression): not translated`);
        return '(?:';
      default:
        if (/^ALT_USER\d*$/.test(name) && !hasUser && !userTaken) {
          userTaken = true;
          return '(?P<user>';
        }
        return '(?:';
    }
  });
  return { text, nofail, gained, failureId, mlfid, problems, notes };
}

export interface Alternative {
  /** JavaScript source of one top-level alternative, anchors removed. */
  readonly source: string;
  /** Anchored at the start of the text fail2ban matched (^ or \A, or ^%(__prefix_line)s). */
  readonly anchored: boolean;
  /** It started with %(__prefix_line)s (the syslog header), now removed. */
  readonly prefixed: boolean;
  /** Number of <HOST> slots in this alternative. */
  readonly hosts: number;
  /**
   * The same alternative as several patterns, tried in order, when an optional group stands right
   * next to <HOST>: fail2ban's <HOST> matches only an address, so Python backtracks into the
   * other choice; warden's slot takes any non-space text and is checked afterwards, so each choice
   * becomes a pattern of its own (a pattern whose slot holds no address lets the next one try).
   */
  readonly variants?: readonly string[];
}

export interface Translation {
  readonly alternatives: readonly Alternative[];
  /** Number of <HOST> slots. */
  readonly hosts: number;
  /** Problems that make the expression untranslatable. */
  readonly problems: string[];
  /** Differences worth knowing that do not prevent the translation. */
  readonly notes: string[];
}

export interface TranslateOptions {
  /**
   * Counted repetitions the linear-time engine cannot run (it unrolls them) are widened to + or *:
   * 0 = none, 1 = bounds above 16, 2 = every bound above 1.
   */
  readonly relax?: 0 | 1 | 2;
}

interface Flags {
  readonly i: boolean;
  readonly s: boolean;
  readonly x: boolean;
}

interface Frame {
  readonly kind: 'root' | 'group' | 'host';
  readonly open: string;
  parts: string[];
  flags: Flags;
  /** The group opened where the match starts (nothing consumed before it). */
  readonly startAtStart: boolean;
}

const JS_SPECIAL = '\\^$.|?*+()[]{}';

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

/** A character as a JavaScript regex literal outside a class. */
function escapeLiteral(ch: string): string {
  if (JS_SPECIAL.includes(ch)) return `\\${ch}`;
  const c = ch.charCodeAt(0);
  if (c < 0x20 || c === 0x7f) return `\\x${hex(c, 2)}`;
  if ((c >= 0x80 && c < 0xa0) || c === 0x2028 || c === 0x2029) return `\\u${hex(c, 4)}`;
  return ch;
}

/** A character inside a JavaScript class. */
function escapeInClass(cp: number): string {
  const ch = String.fromCharCode(cp);
  if ('\\]-^['.includes(ch)) return `\\${ch}`;
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex(cp, 2)}`;
  if (cp >= 0x80) return cp > 0xff ? `\\u${hex(cp, 4)}` : `\\x${hex(cp, 2)}`;
  return ch;
}

function otherCase(ch: string): string | undefined {
  const lo = ch.toLowerCase(), up = ch.toUpperCase();
  if (lo.length !== 1 || up.length !== 1 || lo === up) return undefined;
  return ch === lo ? up : lo;
}

type ClassItem =
  | { readonly kind: 'char'; readonly cp: number }
  | { readonly kind: 'range'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'escape'; readonly text: string };

/**
 * Finds the inline flags that apply to the whole expression: those written anywhere except
 * right after a group's "(" or "(?:" (fail2ban turns "((?i)x)" into "(?i:x)"; Python before 3.11
 * applied a flag written elsewhere to the whole expression).
 */
function globalFlags(py: string): { flags: Flags; late: boolean } {
  let i = false, s = false, x = false, late = false;
  let inClass = false;
  for (let p = 0; p < py.length; p++) {
    const c = py[p]!;
    if (c === '\\') { p++; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') {
      inClass = true;
      if (py[p + 1] === '^') p++;
      if (py[p + 1] === ']') p++;
      continue;
    }
    if (c !== '(') continue;
    const m = /^\(\?([aiLmsux]+)\)/.exec(py.slice(p));
    if (!m) continue;
    const before = py.slice(0, p);
    if (/(?:^|[^\\])\((?:\?:)?$/.test(before) && !/^(?:\(\?[aiLmsux]+\))*$/.test(before)) continue;
    if (!/^(?:\(\?[aiLmsux]+\))*$/.test(before)) late = true;
    i ||= m[1]!.includes('i');
    s ||= m[1]!.includes('s');
    x ||= m[1]!.includes('x');
  }
  return { flags: { i, s, x }, late };
}

/** Python `re` syntax -> JavaScript, for warden's linear-time engine. */
export function translatePythonRegex(py: string, options: TranslateOptions = {}): Translation {
  const relax = options.relax ?? 0;
  const problems: string[] = [];
  const notes: string[] = [];
  const global = globalFlags(py);
  if (global.flags.i) notes.push('(?i) (case-insensitive): Node 20 has no inline flags, so letters are written in both cases ([aA])');
  if (global.late) notes.push('an inline flag group such as (?i) stands after the start; as in Python before 3.11 it applies to the whole expression');
  const root: Frame = { kind: 'root', open: '', parts: [], flags: global.flags, startAtStart: true };
  const frames: Frame[] = [root];
  const alternatives: Alternative[] = [];
  let anchored = false, prefixed = false;
  let atStart = true;
  let quantifiable = false;
  let hosts = 0;
  let altHosts = 0;
  const names = new Set<string>();
  const hostMarkPresent = py.includes(HOST_MARK);
  let pos = 0;

  const top = (): Frame => frames[frames.length - 1]!;
  const inHostGroup = (): boolean => frames.some((f) => f.kind === 'host');
  const problem = (message: string): void => {
    if (!inHostGroup() && !problems.includes(message)) problems.push(message);
  };
  const note = (message: string): void => {
    if (!inHostGroup() && !notes.includes(message)) notes.push(message);
  };
  const emit = (s: string, consumes = true): void => {
    top().parts.push(s);
    if (consumes) atStart = false;
    quantifiable = true;
  };
  const literal = (ch: string): void => {
    const other = top().flags.i ? otherCase(ch) : undefined;
    emit(other === undefined ? escapeLiteral(ch) : `[${escapeInClass(ch.charCodeAt(0))}${escapeInClass(other.charCodeAt(0))}]`);
  };
  const startAnchor = (spelling: string): void => {
    if (atStart) {
      anchored = true;
      quantifiable = false;
      return;
    }
    problem(`uses ${spelling} after other text (an anchor in the middle): not translated`);
  };

  /** One escape outside or inside a class: a character code, a class escape, or undefined (handled). */
  const readEscape = (inClass: boolean): { cp: number } | { cls: string } | undefined => {
    const c = py[pos + 1];
    if (c === undefined) {
      problem('ends with a lone backslash');
      pos += 1;
      return undefined;
    }
    if ('dDwWsS'.includes(c)) { pos += 2; return { cls: `\\${c}` }; }
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, a: 7 };
    if (simple[c] !== undefined) { pos += 2; return { cp: simple[c]! }; }
    if (c === 'b' && inClass) { pos += 2; return { cp: 8 }; }
    if (c === 'x' || c === 'u' || c === 'U') {
      const width = c === 'x' ? 2 : c === 'u' ? 4 : 8;
      const digits = py.slice(pos + 2, pos + 2 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(digits)) {
        problem(`has a malformed escape \\${c}${digits}`);
        pos += 2;
        return undefined;
      }
      pos += 2 + width;
      const cp = parseInt(digits, 16);
      if (cp > 0xffff) {
        problem(`has a character outside the basic plane (\\${c}${digits}): not translated`);
        return undefined;
      }
      return { cp };
    }
    if (c === 'N') {
      problem('uses a named character \\N{...}: not translated');
      const end = py.indexOf('}', pos);
      pos = end < 0 ? py.length : end + 1;
      return undefined;
    }
    if (/[0-7]/.test(c) && (inClass || c === '0' || /^[0-7]{3}/.test(py.slice(pos + 1)))) {
      const m = /^[0-7]{1,3}/.exec(py.slice(pos + 1))!;
      pos += 1 + m[0].length;
      return { cp: parseInt(m[0], 8) };
    }
    if (/[1-9]/.test(c)) {
      const m = /^\d{1,2}/.exec(py.slice(pos + 1))!;
      problem(`uses a back-reference \\${m[0]} (warden's linear-time engine refuses back-references)`);
      pos += 1 + m[0].length;
      return undefined;
    }
    if (/[A-Za-z]/.test(c)) {
      problem(`has an escape Python refuses: \\${c}`);
      pos += 2;
      return undefined;
    }
    pos += 2;
    return { cp: c.charCodeAt(0) };
  };

  const readClass = (): void => {
    pos++; // [
    let negate = false;
    if (py[pos] === '^') { negate = true; pos++; }
    const items: ClassItem[] = [];
    let first = true;
    const readAtom = (): { cp: number } | { cls: string } | undefined => {
      const c = py[pos]!;
      if (c === '\\') return readEscape(true);
      const cp = py.codePointAt(pos)!;
      pos += cp > 0xffff ? 2 : 1;
      if (cp > 0xffff) {
        problem('has a character outside the basic plane in a class: not translated');
        return undefined;
      }
      return { cp };
    };
    for (;;) {
      if (pos >= py.length) {
        problem('has an unterminated character class [...');
        return;
      }
      if (py[pos] === ']' && !first) { pos++; break; }
      first = false;
      const a = readAtom();
      if (a === undefined) continue;
      if ('cls' in a) { items.push({ kind: 'escape', text: a.cls }); continue; }
      if (py[pos] === '-' && py[pos + 1] !== undefined && py[pos + 1] !== ']') {
        pos++;
        const b = readAtom();
        if (b === undefined) continue;
        if ('cls' in b) {
          problem('has a bad character range (a range ending in a class escape)');
          continue;
        }
        if (b.cp < a.cp) {
          problem('has a bad character range (end before start)');
          continue;
        }
        items.push({ kind: 'range', lo: a.cp, hi: b.cp });
        continue;
      }
      items.push({ kind: 'char', cp: a.cp });
    }
    if (top().flags.i) {
      const extra: ClassItem[] = [];
      for (const item of items) {
        if (item.kind === 'char') {
          const o = otherCase(String.fromCharCode(item.cp));
          if (o !== undefined) extra.push({ kind: 'char', cp: o.charCodeAt(0) });
        } else if (item.kind === 'range') {
          for (const [a, b, d] of [[0x61, 0x7a, -32], [0x41, 0x5a, 32]] as const) {
            const lo = Math.max(item.lo, a), hi = Math.min(item.hi, b);
            if (lo <= hi) extra.push({ kind: 'range', lo: lo + d, hi: hi + d });
          }
          if (item.hi > 0x7f) note('(?i) with a character range beyond ASCII: only ASCII letters are matched in both cases');
        }
      }
      items.push(...extra);
    }
    const body = items.map((it) => it.kind === 'escape' ? it.text : it.kind === 'char' ? escapeInClass(it.cp) : `${escapeInClass(it.lo)}-${escapeInClass(it.hi)}`).join('');
    if (!body) emit(negate ? '[^]' : '[]');
    else emit(`[${negate ? '^' : ''}${body}]`);
  };

  const openGroup = (kind: Frame['kind'], open: string, flags: Flags = top().flags): void => {
    frames.push({ kind, open, parts: [], flags, startAtStart: atStart });
    quantifiable = false;
  };

  const readGroupOpen = (): void => {
    const rest = py.slice(pos);
    if (!rest.startsWith('(?')) {
      pos += 1;
      openGroup('group', '(?:');
      return;
    }
    let m: RegExpExecArray | null;
    if ((m = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest)) && !rest.startsWith('(?<=') && !rest.startsWith('(?<!')) {
      pos += m[0].length;
      const name = m[1]!;
      if (name === 'host' || name === 'ip4' || name === 'ip6' || name === 'addr') {
        if (hostMarkPresent) {
          note(`the group (?P<${name}>...) is not captured: the expression already has its <HOST> slot`);
          openGroup('group', '(?:');
        } else {
          note(`the group (?P<${name}>...) becomes warden's <HOST> slot (any non-space text, then checked to be an IP address)`);
          openGroup('host', '');
        }
        return;
      }
      if (name === 'dns') problem('captures a host name (?P<dns>...): warden bans addresses only and never resolves names');
      if (!names.has(name)) {
        names.add(name);
        openGroup('group', `(?<${name}>`);
        return;
      }
      note(`a second (?P<${name}>...) group is not captured (JavaScript refuses duplicate group names)`);
      openGroup('group', '(?:');
      return;
    }
    if ((m = /^\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest))) {
      pos += m[0].length;
      problem(`uses a back-reference (?P=${m[1]}) (warden's linear-time engine refuses back-references)`);
      emit('');
      return;
    }
    if (rest.startsWith('(?:')) { pos += 3; openGroup('group', '(?:'); return; }
    for (const [syntax, what] of [['(?=', 'a look-ahead (?=...)'], ['(?!', 'a negative look-ahead (?!...)'], ['(?<=', 'a look-behind (?<=...)'], ['(?<!', 'a negative look-behind (?<!...)']] as const) {
      if (rest.startsWith(syntax)) {
        pos += syntax.length;
        problem(`uses ${what} (warden's linear-time engine refuses look-arounds)`);
        openGroup('group', syntax);
        return;
      }
    }
    if (rest.startsWith('(?#')) {
      const end = py.indexOf(')', pos);
      pos = end < 0 ? py.length : end + 1;
      return;
    }
    if ((m = /^\(\?\(([^)]*)\)/.exec(rest))) {
      pos += m[0].length;
      problem(`uses a conditional group (?(${m[1]})...) (no JavaScript equivalent)`);
      openGroup('group', '(?:');
      return;
    }
    if (rest.startsWith('(?>')) {
      pos += 3;
      problem('uses an atomic group (?>...) (no equivalent in warden\'s linear-time engine)');
      openGroup('group', '(?:');
      return;
    }
    if ((m = /^\(\?([aiLmsux]*)(?:-([imsx]+))?([:)])/.exec(rest))) {
      pos += m[0].length;
      const on = m[1]!, off = m[2] ?? '';
      if (on.includes('L')) note('(?L) (locale) is ignored');
      if (m[3] === ')') {
        // Flags for the whole expression were applied up front; right after "(" they are local.
        const frame = top();
        if (frame.kind !== 'root' && frame.parts.length === 0) {
          frame.flags = withFlags(frame.flags, on, off);
          if (on.includes('i')) note('(?i) in a group (case-insensitive): letters are written in both cases ([aA])');
        }
        return;
      }
      if (on.includes('i') || off.includes('i')) note('(?i:...) (case-insensitive group): letters are written in both cases ([aA])');
      openGroup('group', '(?:', withFlags(top().flags, on, off));
      return;
    }
    problem(`has a group syntax Python's re does not know: ${rest.slice(0, 6)}`);
    pos += 2;
    openGroup('group', '(?:');
  };

  const closeGroup = (): void => {
    pos++;
    if (frames.length === 1) {
      problem('has an unbalanced ")"');
      return;
    }
    const frame = frames.pop()!;
    const wasAtStart = atStart;
    if (frame.kind === 'host') {
      hosts++;
      altHosts++;
      emit('<HOST>');
      return;
    }
    atStart = wasAtStart && frame.startAtStart;
    if (frame.open === '(?:' && frame.parts.length === 0 && !/^[?*+{]/.test(py.slice(pos))) {
      // An empty group (what is left of <F-MLFID>%(__prefix_line)s</F-MLFID>): nothing to write.
      quantifiable = false;
      return;
    }
    top().parts.push(`${frame.open}${frame.parts.join('')})`);
    quantifiable = !frame.open.startsWith('(?=') && !frame.open.startsWith('(?!') && !frame.open.startsWith('(?<');
  };

  const quantifier = (q: string, min: number, max: number | undefined): void => {
    if (!quantifiable) {
      problem(`has a quantifier "${q}" with nothing to repeat`);
      return;
    }
    let out = q;
    const bound = max ?? min;
    if (q.startsWith('{') && relax > 0 && (relax === 2 ? bound > 1 : bound > 16)) {
      out = min >= 1 ? '+' : '*';
      note(`the counted repetition ${q} is widened to ${out} (warden's linear-time engine cannot run it as written)`);
    }
    if (py[pos] === '?') { out += '?'; pos++; } else if (py[pos] === '+') {
      problem(`uses a possessive quantifier ${q}+ (no equivalent in warden's linear-time engine)`);
      pos++;
    }
    top().parts.push(out);
    quantifiable = false;
  };

  while (pos < py.length) {
    const ch = py[pos]!;
    const flags = top().flags;
    if (flags.x && /\s/.test(ch)) { pos++; continue; }
    if (flags.x && ch === '#') {
      const nl = py.indexOf('\n', pos);
      pos = nl < 0 ? py.length : nl + 1;
      continue;
    }
    switch (ch) {
      case HOST_MARK:
        pos++;
        hosts++;
        altHosts++;
        emit('<HOST>');
        break;
      case PREFIX_MARK:
        pos++;
        if (atStart) {
          prefixed = true;
          quantifiable = false;
        } else problem('uses %(__prefix_line)s after other text: warden parses the syslog header itself and cannot match it in the middle of an expression');
        break;
      case '\\': {
        const next = py[pos + 1];
        if (next === 'A') { pos += 2; startAnchor('\\A'); break; }
        if (next === 'Z') { pos += 2; emit('$'); break; }
        if (next === 'b' || next === 'B') { pos += 2; top().parts.push(`\\${next}`); quantifiable = false; break; }
        const e = readEscape(false);
        if (e === undefined) break;
        if ('cls' in e) emit(e.cls);
        else if (e.cp === 10) {
          problem('matches a line break (\\n): a multi-line match, warden matches one line at a time');
          emit('\\n');
        } else literal(String.fromCharCode(e.cp));
        break;
      }
      case '[':
        readClass();
        break;
      case '(':
        readGroupOpen();
        break;
      case ')':
        closeGroup();
        break;
      case '|':
        pos++;
        if (frames.length === 1) {
          alternatives.push(finish(root.parts, anchored, prefixed, altHosts));
          root.parts = [];
          anchored = false;
          prefixed = false;
          altHosts = 0;
          atStart = true;
        } else {
          top().parts.push('|');
          atStart = top().startAtStart;
        }
        quantifiable = false;
        break;
      case '^':
        pos++;
        startAnchor('^');
        break;
      case '$':
        pos++;
        top().parts.push('$');
        quantifiable = false;
        break;
      case '.':
        pos++;
        emit(flags.s ? '[^]' : '.');
        break;
      case '*': case '+': case '?':
        pos++;
        quantifier(ch, ch === '+' ? 1 : 0, ch === '?' ? 1 : undefined);
        break;
      case '{': {
        const m = /^\{(\d*)(,?)(\d*)\}/.exec(py.slice(pos));
        if (m && (m[1] !== '' || m[2] === ',')) {
          pos += m[0].length;
          const min = m[1] === '' ? 0 : Number(m[1]);
          const max = m[2] === ',' ? (m[3] === '' ? undefined : Number(m[3])) : min;
          if (max !== undefined && max < min) {
            problem(`has a repetition ${m[0]} whose maximum is below its minimum`);
            break;
          }
          const q = m[2] !== ',' ? `{${min}}` : max === undefined ? (min === 0 ? '*' : `{${min},}`) : `{${min},${max}}`;
          quantifier(q, min, max);
        } else {
          pos++;
          literal('{');
        }
        break;
      }
      default: {
        const cp = py.codePointAt(pos)!;
        const text = String.fromCodePoint(cp);
        pos += text.length;
        if (text.length > 1) emit(text);
        else literal(text);
      }
    }
  }
  if (frames.length > 1) problem('has an unclosed "(" (missing ")")');
  while (frames.length > 1) {
    const frame = frames.pop()!;
    top().parts.push(`${frame.open}${frame.parts.join('')})`);
  }
  alternatives.push(finish(root.parts, anchored, prefixed, altHosts));
  return { alternatives, hosts, problems, notes };
}

function finish(parts: readonly string[], anchored: boolean, prefixed: boolean, hosts: number): Alternative {
  const alt: Alternative = { source: parts.join(''), anchored, prefixed, hosts };
  const variants = hostVariants(parts);
  return variants.length > 1 ? { ...alt, variants } : alt;
}

const count = (text: string, what: string): number => text.split(what).length - 1;
const isQuantifier = (part: string | undefined): boolean => part !== undefined && /^(?:[?*+]|\{)/.test(part);

/**
 * The patterns one alternative becomes when its <HOST> needs fail2ban's backtracking:
 *  - a group whose branches each hold an address (`(?:IPv6:<IP6>|<IP4>)`, two groups in Python,
 *    one slot in warden): one pattern per branch;
 *  - an optional group directly before and/or after a top-level <HOST>: both choices, in Python's
 *    order (present first for "?", absent first for the lazy "??").
 */
function hostVariants(parts: readonly string[]): string[] {
  const out = optionalVariants(parts).flatMap(expandHostBranches);
  return out.length > 1 ? out : [];
}

/**
 * For a source with several <HOST>s, the innermost unquantified group whose branches hold one
 * each is replaced by each branch in turn (recursively); a source that cannot be split is kept.
 */
function expandHostBranches(src: string): string[] {
  if (count(src, '<HOST>') <= 1) return [src];
  const groups: { start: number; bodyStart: number; end: number }[] = [];
  const stack: { start: number; bodyStart: number }[] = [];
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') { i++; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') {
      inClass = true;
      if (src[i + 1] === '^') i++;
    } else if (c === '(') {
      const opener = /^\((?:\?:|\?<[A-Za-z_$][\w$]*>)?/.exec(src.slice(i))![0];
      stack.push({ start: i, bodyStart: i + opener.length });
      i += opener.length - 1;
    } else if (c === ')') {
      const open = stack.pop();
      if (open) groups.push({ ...open, end: i });
    }
  }
  groups.sort((a, b) => (a.end - a.start) - (b.end - b.start));
  for (const g of groups) {
    const body = src.slice(g.bodyStart, g.end);
    if (count(body, '<HOST>') < 2 || isQuantifier(src[g.end + 1])) continue;
    const branches = splitJsTopLevel(body);
    if (branches.length < 2 || branches.some((b) => count(b, '<HOST>') > 1)) continue;
    const head = src.slice(0, g.bodyStart), tail = src.slice(g.end);
    return branches.flatMap((b) => expandHostBranches(`${head}${b}${tail}`));
  }
  return [src];
}

function optionalVariants(parts: readonly string[]): string[] {
  const at = parts.indexOf('<HOST>');
  if (at < 0 || parts.indexOf('<HOST>', at + 1) >= 0) return [parts.join('')];
  const optional = (i: number): 'greedy' | 'lazy' | undefined => {
    const group = parts[i], q = parts[i + 1];
    if (!group?.startsWith('(?:') || !group.endsWith(')')) return undefined;
    return q === '?' ? 'greedy' : q === '??' ? 'lazy' : undefined;
  };
  const before = at >= 2 ? optional(at - 2) : undefined;
  const after = optional(at + 1);
  if (!before && !after) return [parts.join('')];
  const choices = (kind: 'greedy' | 'lazy' | undefined, group: string | undefined): string[][] => {
    if (!kind || group === undefined) return [[]];
    return kind === 'greedy' ? [[group], []] : [[], [group]];
  };
  const head = parts.slice(0, before ? at - 2 : at);
  const tail = parts.slice(after ? at + 3 : at + 1);
  const out: string[] = [];
  for (const b of choices(before, before ? parts[at - 2] : undefined)) {
    for (const a of choices(after, after ? parts[at + 1] : undefined)) out.push([...head, ...b, '<HOST>', ...a, ...tail].join(''));
  }
  return out;
}

/** Splits JavaScript regex source at its top-level "|" (outside groups and classes). */
function splitJsTopLevel(src: string): string[] {
  const out: string[] = [];
  let depth = 0, inClass = false, start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') { i++; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') {
      inClass = true;
      if (src[i + 1] === '^') i++;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(src.slice(start, i));
      start = i + 1;
    }
  }
  out.push(src.slice(start));
  return out;
}

function withFlags(flags: Flags, on: string, off: string): Flags {
  return {
    i: (flags.i || on.includes('i')) && !off.includes('i'),
    s: (flags.s || on.includes('s')) && !off.includes('s'),
    x: (flags.x || on.includes('x')) && !off.includes('x'),
  };
}

/**
 * One warden pattern from translated alternatives. Anchored alternatives start at the message;
 * the others search it. With `unbucketed`, the pattern starts with "^(" so the engine tries it in
 * file order with the filter's other rules (its first-word buckets would otherwise run before an
 * ignore rule).
 */
export function assemblePattern(alternatives: readonly Alternative[], options: { unbucketed?: boolean } = {}): string {
  const all = alternatives.every((a) => a.anchored);
  const none = alternatives.every((a) => !a.anchored);
  if (!options.unbucketed && all && alternatives.length === 1) return `^${alternatives[0]!.source}`;
  if (!options.unbucketed && none) return alternatives.map((a) => a.source).join('|');
  return `^(?:${alternatives.map((a) => (a.anchored ? a.source : `[^]*?(?:${a.source})`)).join('|')})`;
}
