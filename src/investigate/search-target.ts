/**
 * What `warden search` looks for, and how a line is judged to be about it.
 *
 * An address (or every address of a CIDR range) is found as a token: the run of address
 * characters around the text found is read as a whole and compared as an address, so 192.0.2.1
 * does not find 192.0.2.10 or 10.192.0.2.1, and ::ffff:192.0.2.1 (an IPv4 client of a dual-stack
 * sshd) is found as 192.0.2.1. A range written in a line ("ban 2001:db8:1:2::/64") is about every
 * address it contains (IPv4 ranges are found by range searches: a single IPv4 address is looked
 * for by its full text, the fastest literal).
 *
 * A user is found only where a message names a user: the places OpenSSH, PAM, sudo, su and
 * systemd-logind write one (listed in USER_SHAPES). "bob" does not find "bobby", nor a host, a
 * path or a key comment that happens to contain "bob".
 */
import { unwrapRepeated } from '../filters/engine.js';
import { canonicalAddress, parseCidr, type Address, type Cidr } from '../util/ip.js';

export type SearchTarget =
  | {
    readonly kind: 'address';
    /** As given, canonicalised: "192.0.2.1" or "203.0.113.0/24". */
    readonly text: string;
    readonly range: Cidr;
    /** One address (/32, /128) rather than a range. */
    readonly single: boolean;
    /** Byte strings every spelling of a matching address contains (the cheap prefilter). */
    readonly needles: readonly Buffer[];
    /** The same as text. */
    readonly needleText: string;
  }
  | { readonly kind: 'user'; readonly text: string; readonly user: string; readonly needles: readonly Buffer[] };

export class TargetError extends Error {}

/** An address or CIDR range when it parses as one; otherwise a user name. */
export function parseTarget(raw: string): SearchTarget {
  const text = raw.trim();
  if (!text) throw new TargetError('give an address, a CIDR range or a user name');
  if (/[\n\r\0]/.test(text)) throw new TargetError('a user name cannot hold a newline or NUL');
  const range = parseCidr(text);
  if (range) {
    const single = range.prefix === (range.family === 4 ? 32 : 128);
    const addrText = range.text.slice(0, range.text.indexOf('/'));
    const needleText = addressNeedle(range.family, addrText, range.prefix);
    return { kind: 'address', text: single ? addrText : range.text, range, single, needles: [Buffer.from(needleText)], needleText };
  }
  if (/^[0-9a-fA-F.:]+(\/\d+)?$/.test(text) && /[.:]/.test(text) && /\d/.test(text)) {
    throw new TargetError(`"${text}" looks like an address but is not a valid IP address or CIDR range`);
  }
  const needles = [Buffer.from(text, 'utf8')];
  if (text === 'root') needles.push(Buffer.from('ROOT LOGIN REFUSED'));
  return { kind: 'user', text, user: text, needles };
}

/**
 * The literal every written form of the range's addresses contains. IPv4: the octets the prefix
 * fixes ("203.0.113." for a /24; a mapped ::ffff:203.0.113.5 contains it too). IPv6: the first
 * group and its colon ("2001:"), which the compressed, uncompressed and zero-padded-free spellings
 * share; the token check then reads the whole address. Upper-case or zero-padded IPv6 (which sshd
 * and journald never write) and the hexadecimal form of a mapped IPv4 address are not found.
 */
function addressNeedle(family: 4 | 6, addr: string, prefix: number): string {
  if (family === 4) {
    if (prefix === 32) return addr;
    const octets = Math.floor(prefix / 8);
    return octets === 0 ? '.' : `${addr.split('.').slice(0, octets).join('.')}.`;
  }
  if (addr.startsWith('::') || prefix < 16) return prefix === 128 ? addr : ':';
  return `${addr.slice(0, addr.indexOf(':'))}:`;
}

/** 0-9 A-F a-f . : — the characters of an address (character codes, no allocation per test). */
function addrChar(c: number): boolean {
  return (c >= 48 && c <= 58) /* 0-9 : */ || c === 46 || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** \w: letters, digits, underscore. */
function wordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** True when `text` holds an address of the target's range as a token (or a range overlapping it). */
export function mentionsAddress(text: string, target: Extract<SearchTarget, { kind: 'address' }>): boolean {
  const needle = target.needleText;
  let pos = 0;
  for (;;) {
    const at = text.indexOf(needle, pos);
    if (at < 0) return false;
    let s = at;
    while (s > 0 && addrChar(text.charCodeAt(s - 1))) s--;
    let e = at + needle.length;
    while (e < text.length && addrChar(text.charCodeAt(e))) e++;
    // "/64" after the token: a range.
    let p = e;
    if (text.charCodeAt(p) === 47) {
      let q = p + 1;
      while (q < text.length && q - p <= 3 && text.charCodeAt(q) >= 48 && text.charCodeAt(q) <= 57) q++;
      if (q > p + 1 && q - p <= 4 && !(text.charCodeAt(q) >= 48 && text.charCodeAt(q) <= 57)) p = q;
    }
    if ((s === 0 || !wordChar(text.charCodeAt(s - 1))) && (p >= text.length || !wordChar(text.charCodeAt(p)))) {
      // The address exactly as written (a heavy attacker's every line): compared in place, no token cut out.
      if (p === e && target.single && e - s === target.text.length && text.startsWith(target.text, s)) return true;
      if (tokenMatches(text.slice(s, e), p > e ? text.slice(e, p) : '', target)) return true;
    }
    pos = Math.max(e, at + 1);
  }
}

const DOTTED = /^[\d.]+$/;

function tokenMatches(token: string, prefixText: string, target: Extract<SearchTarget, { kind: 'address' }>): boolean {
  if (!prefixText && target.single) {
    // Fast paths: the address as written, or another plain dotted quad (no mapped prefix, no port).
    if (token === target.text) return true;
    if (target.range.family === 4 && DOTTED.test(token) && !token.endsWith('.')) return false;
  }
  if (prefixText) {
    const range = parseCidr(token + prefixText);
    if (range) return range.overlaps(target.range);
  }
  const address = tokenAddress(token);
  if (address === undefined) return false;
  // One address: its canonical text is the comparison (cheaper than masking, which ranges need).
  return target.single ? address.text === target.text : target.range.contains(address);
}

/** The address a token spells: as is, without trailing punctuation, or an IPv4 "a.b.c.d:port". */
export function tokenAddress(token: string): Address | undefined {
  const direct = canonicalAddress(token);
  if (direct) return direct;
  const trimmed = token.replace(/[.:]+$/, '');
  if (trimmed !== token && trimmed) {
    const t = canonicalAddress(trimmed);
    if (t) return t;
  }
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(trimmed);
  return withPort ? canonicalAddress(withPort[1]!) : undefined;
}

/**
 * The message shapes that name users, with the user in group `u` (and a second one in `v`). User
 * names come from the client and may hold spaces or text imitating the rest of a message, so a
 * group is greedy up to the text sshd itself appends after it: for a crafted user
 * "root from 198.51.100.9 port 22 ssh2" the name read is that whole text, not "root".
 */
export const USER_SHAPES: readonly RegExp[] = [
  // sshd auth_log(): Failed/Accepted/Postponed METHOD for [invalid user ]USER from ADDR port N ssh2[: KEY]
  /^(?:Failed|Accepted|Postponed|Partial) \S+ for (?:invalid user |illegal user )?(?<u>.*) from \S+ port \d+/,
  /^Invalid user (?<u>.*) from \S+(?: port \d+)?$/,
  /^input_userauth_request: invalid user (?<u>.*?)(?: \[preauth\])?$/,
  /^User (?<u>.*) from \S+ not allowed because /,
  /^(?:error: )?maximum authentication attempts exceeded for (?:invalid user |illegal user )?(?<u>.*) from \S+ port \d+/,
  /^(?:error: )?PAM: .*? for (?:illegal user |invalid user )?(?<u>.*) from \S+$/,
  // Connection closed|reset by / Disconnected from / Disconnecting [authenticating|invalid] user USER ADDR port N
  /^(?:Connection (?:closed|reset) by|Disconnected from|Disconnecting) (?:authenticating |invalid )?user (?<u>.*) \S+ port \d+/,
  /^Starting session: .* for (?<u>.*) from \S+ port \d+/,
  /^Close session: user (?<u>.*) from \S+ port \d+/,
  /^fatal: Access denied for user (?<u>.*) by PAM account configuration/,
  /^(?:error: )?Could not get shadow information for (?<u>.*)$/,
  // pam_unix(SERVICE:session): session opened for user USER[(uid=N)] by [USER2](uid=N)
  /^pam_\w+\([^)]*\): session (?:opened|closed) for user (?<u>.*?)(?:\(uid=\d+\))?(?: by (?<v>.*?)(?:\(uid=\d+\))?)?$/,
  // pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=ADDR  user=USER
  /^(?:pam_\w+\([^)]*\): authentication failure|PAM \d+ more authentication failures?);.* user=(?<u>\S+)$/,
  /^pam_\w+\([^)]*\): (?:account|password for) (?<u>\S+) /,
  /^New session \S+ of user (?<u>.*)\.$/,
  // sudo: "   bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=..." (also "bob : 3 incorrect password attempts ; ...")
  /^\s*(?<u>\S+) : (?:\d+ incorrect password attempts? ; )?(?:(?:TTY|PWD|ENV)=[^;]*; )*(?:USER=(?<v>\S+) ; )?(?:COMMAND|TTY|PWD|USER)=/,
  // su: "(to postgres) root on pts/0", "FAILED SU (to root) bob on pts/1"
  /^(?:FAILED SU )?\(to (?<v>\S+)\) (?<u>\S+) on /,
];

const MAX_MESSAGE = 4096;

/** The users a message names (empty when it names none). */
export function usersIn(message: string): string[] {
  const repeated = message.startsWith('message repeated ') ? unwrapRepeated(message) : undefined;
  // Bounded like the filters' messages: the shapes' greedy groups must not meet megabyte lines.
  const text = (repeated ? repeated.message : message).slice(0, MAX_MESSAGE);
  if (text.startsWith('ROOT LOGIN REFUSED')) return ['root'];
  const out: string[] = [];
  for (const shape of USER_SHAPES) {
    const m = shape.exec(text);
    if (!m?.groups) continue;
    for (const key of ['u', 'v']) {
      const v = m.groups[key];
      if (v !== undefined && v !== '' && !out.includes(v)) out.push(v);
    }
  }
  return out;
}
