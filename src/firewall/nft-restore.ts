import { canonicalPrefixLength, parseTarget } from './address.js';
import { FirewallError, targetFamily, type FirewallElement, type OpenBans } from './firewall.js';

/**
 * The element part of the start-up restore transaction: one nft JSON `add element` command per
 * set, written byte by byte into one Buffer.
 *
 * Why not strings: with the shipped 1 MiB young generation, 100,000 element strings (plus the
 * joined script) cost more in garbage collection than everything else the restore does in node;
 * written straight into a Buffer (outside the V8 heap) an element costs no allocation at all.
 *
 * restoreBans writes the start-up's open bans (OpenBans: the permanent ones as one string);
 * restoreElements writes any list of elements (the temporary bans, and whatever restoreBans cannot
 * copy as it is).
 *
 * What is checked: the targets come from the state database, where every write path stores the
 * canonical spelling (parseTarget, util/ip). A single address is checked against the address
 * alphabet as its bytes are copied (digits, a-f, '.', ':'; for IPv4 digits and '.'), which keeps
 * anything else out of the JSON and costs nothing; whether those characters form an address is
 * left to nft, which refuses the whole transaction otherwise (the ban manager then drops the bad
 * row, see BanManager.restore). The full parse of every address cost ~60 ms per 100,000 on the
 * daemon's start-up path. A prefix ("2001:db8:1::/48") is parsed in full: its host bits decide
 * whether the set's masked match can ever hit it, which nft does not check. Anything outside the
 * alphabet (upper-case hex, a stray character) goes through parseTarget like every other input:
 * spelled canonically, or refused before anything runs.
 */

export interface RestoreSet {
  readonly family: 4 | 6;
  readonly prefixLength: number;
  /** A set of permanent bans (elements without timeout) or of timed ones. */
  readonly permanent: boolean;
  readonly name: string;
  /** Elements written for it (a target repeated in the input counts each time). */
  elements: number;
}

/** The set of a target: by family, prefix length and whether the ban is permanent. */
export type SetNamer = (family: 4 | 6, prefixLength: number, permanent: boolean) => string;

export interface RestoreElements {
  /** The sets the elements go to, in the order of their commands. */
  readonly sets: readonly RestoreSet[];
  /** `{"add":{"element":…}}` commands separated by ",\n"; empty when there are no elements. */
  readonly json: Buffer;
}

/** Longest timeout written (nft's limit is higher; see NFT_MAX_TIMEOUT_SECONDS). */
const MAX_DIGITS = 16;

/**
 * The element commands for all open bans. The permanent ones arrive as one string (OpenBans):
 * each single address in the address alphabet is copied from it as it is checked, into one
 * command per family, without a string or an object of its own; any other target (a prefix,
 * another spelling, garbage) goes with the temporary bans through restoreElements. A set may
 * then get two commands (the permanent part, then the rest): one transaction all the same.
 */
export function restoreBans(
  bans: OpenBans,
  table: string,
  setName: SetNamer,
  maxTimeoutSeconds: number,
): RestoreElements {
  const text = bans.permanent;
  const n = text.length;
  // Per family, its plain addresses' part of one command. Room for every target with its quotes
  // and comma: a target has at least 2 characters.
  const plain = ([4, 6] as const).map((family) => ({ family, out: Buffer.allocUnsafe(n * 2 + 16), used: 0, elements: 0 }));
  const rest: FirewallElement[] = [];
  let start = 0;
  while (start < n) {
    let k = text.indexOf(' ', start);
    if (k === -1) k = n;
    const family = addressTextFamily(text, start, k);
    if (family === 0) {
      const target = text.slice(start, k);
      rest.push({ target, family: targetFamily(target), timeoutSeconds: null });
    } else {
      const p = plain[family === 4 ? 0 : 1]!;
      const out = p.out;
      let pos = p.used;
      if (pos > 0) out[pos++] = 44; // ,
      out[pos++] = 34; // "
      for (let c = start; c < k; c++) out[pos++] = text.charCodeAt(c);
      out[pos++] = 34;
      p.used = pos;
      p.elements++;
    }
    start = k + 1;
  }
  const others = restoreElements([...rest, ...bans.timed], table, setName, maxTimeoutSeconds);
  const sets: RestoreSet[] = [];
  const parts: Buffer[] = [];
  for (const { family, out, used, elements } of plain) {
    if (used === 0) continue;
    const prefixLength = family === 4 ? 32 : 128;
    const set: RestoreSet = { family, prefixLength, permanent: true, name: setName(family, prefixLength, true), elements };
    sets.push(set);
    if (parts.length) parts.push(Buffer.from(',\n'));
    parts.push(Buffer.from(elementCommandHead(table, set.name)), out.subarray(0, used), Buffer.from(COMMAND_TAIL));
  }
  if (others.json.length) {
    if (parts.length) parts.push(Buffer.from(',\n'));
    parts.push(others.json);
  }
  for (const set of others.sets) {
    const same = sets.find((s) => s.name === set.name);
    if (same) same.elements += set.elements;
    else sets.push(set);
  }
  return { sets, json: Buffer.concat(parts) };
}

export function restoreElements(
  elements: readonly FirewallElement[],
  table: string,
  setName: SetNamer,
  maxTimeoutSeconds: number,
): RestoreElements {
  const n = elements.length;
  const prefix = new Uint8Array(n);
  // Sets by permanence, family and prefix length (index permanent * 2048 + family * 256 + length):
  // no name built per element.
  const setsByKey: Array<RestoreSet | undefined> = [];
  const sets: RestoreSet[] = [];
  const setOf = new Array<RestoreSet>(n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const e = elements[i] as FirewallElement;
    const len = addressTextFamily(e.target, 0, e.target.length) === e.family ? (e.family === 4 ? 32 : 128) : canonicalPrefixLength(e.target, e.family);
    // Not canonical (or invalid): spell every target canonically, merge duplicates, start again.
    if (len === -1) return restoreElements(canonicalElements(elements), table, setName, maxTimeoutSeconds);
    prefix[i] = len;
    const t = e.timeoutSeconds;
    if (t !== null && !(typeof t === 'number' && Number.isFinite(t) && t > 0)) {
      throw new FirewallError(`ban of ${e.target}: timeout must be a positive number of seconds or null, got ${String(t)}`);
    }
    const permanent = t === null;
    const key = (permanent ? 2048 : 0) + e.family * 256 + len;
    let set = setsByKey[key];
    if (!set) sets.push(setsByKey[key] = set = { family: e.family, prefixLength: len, permanent, name: setName(e.family, len, permanent), elements: 0 });
    set.elements++;
    setOf[i] = set;
    // address, quotes, comma; a timed element adds {"elem":{"val":…,"timeout":N}}.
    bytes += e.target.length + 3 + (t === null ? 0 : 30 + MAX_DIGITS);
  }
  const head = (set: RestoreSet) => elementCommandHead(table, set.name);
  for (const set of sets) bytes += head(set).length + 8;
  const out = Buffer.allocUnsafe(bytes);
  let pos = 0;
  // Byte by byte: Buffer.write per element is a native call each time, slower for strings this short.
  const ascii = (s: string, length = s.length) => {
    for (let k = 0; k < length; k++) out[pos++] = s.charCodeAt(k);
  };
  let firstCommand = true;
  for (const set of sets) {
    if (!firstCommand) ascii(',\n');
    firstCommand = false;
    ascii(head(set));
    let first = true;
    for (let i = 0; i < n; i++) {
      if (setOf[i] !== set) continue;
      const e = elements[i] as FirewallElement;
      // A prefix target's element is its network address (the set name carries the length).
      const addressLength = prefix[i] === (e.family === 4 ? 32 : 128) ? e.target.length : e.target.indexOf('/');
      if (!first) out[pos++] = 44; // ,
      first = false;
      if (e.timeoutSeconds === null) {
        out[pos++] = 34; // "
        ascii(e.target, addressLength);
        out[pos++] = 34;
      } else {
        ascii('{"elem":{"val":"');
        ascii(e.target, addressLength);
        ascii('","timeout":');
        pos = writeDigits(out, pos, Math.min(Math.ceil(e.timeoutSeconds), maxTimeoutSeconds));
        ascii('}}');
      }
    }
    ascii(COMMAND_TAIL);
  }
  return { sets, json: out.subarray(0, pos) };
}

/** An `add element` command up to its first element, and after its last. */
function elementCommandHead(table: string, set: string): string {
  return `{"add":{"element":{"family":"inet","table":"${table}","name":"${set}","elem":[`;
}
const COMMAND_TAIL = ']}}}';

/** Longest address text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255". */
const MAX_ADDRESS_LENGTH = 45;

/**
 * The family of a single address written in the address alphabet, text[start, end): 4 for digits
 * and dots, 6 for lower-case hex digits, dots and at least one ':'; 0 for anything else (a
 * prefix, upper-case hex, any other character, a length no address has).
 */
function addressTextFamily(text: string, start: number, end: number): 0 | 4 | 6 {
  if (end - start < 2 || end - start > MAX_ADDRESS_LENGTH) return 0;
  let colons = 0;
  let letters = 0;
  for (let k = start; k < end; k++) {
    const c = text.charCodeAt(k);
    if ((c >= 48 && c <= 57) || c === 46) continue; // digits, '.'
    if (c === 58) colons++;
    else if (c >= 97 && c <= 102) letters++; // a-f
    else return 0;
  }
  return colons > 0 ? 6 : letters > 0 ? 0 : 4;
}

/** A positive integer in decimal, without a string. */
function writeDigits(out: Buffer, pos: number, value: number): number {
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  let v = value;
  for (let k = digits - 1; k >= 0; k--) {
    out[pos + k] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return pos + digits;
}

/**
 * Targets spelled canonically (parseTarget: throws on anything that is not an address or
 * prefix of the element's family); two spellings of one element become one, the last one's
 * timeout winning, as in apply.
 */
function canonicalElements(elements: readonly FirewallElement[]): FirewallElement[] {
  const byTarget = new Map<string, FirewallElement>();
  for (const e of elements) {
    const parsed = parseTarget(e.target);
    if (parsed.family !== e.family) {
      throw new FirewallError(`ban target ${parsed.canonical} is IPv${parsed.family} but the element says IPv${String(e.family)}`);
    }
    byTarget.delete(parsed.canonical);
    byTarget.set(parsed.canonical, { ...e, target: parsed.canonical });
  }
  return [...byTarget.values()];
}
