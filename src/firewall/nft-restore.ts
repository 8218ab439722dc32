import { canonicalPrefixLength, parseTarget } from './address.js';
import { FirewallError, type FirewallElement } from './firewall.js';

/**
 * The element part of the start-up restore transaction: one nft JSON `add element` command per
 * set, written byte by byte into one Buffer.
 *
 * Why not strings: with the shipped 1 MiB young generation, 100,000 element strings (plus the
 * joined script) cost more in garbage collection than everything else the restore does in node;
 * written straight into a Buffer (outside the V8 heap) an element costs no allocation at all.
 * Every target is checked by canonicalPrefixLength (parseTarget's scanners) before a byte of it is
 * written, so only digits, a-f, '.' and ':' reach the document: nothing needs JSON escaping.
 */

export interface RestoreSet {
  readonly family: 4 | 6;
  readonly prefixLength: number;
  readonly name: string;
}

export interface RestoreElements {
  /** The sets the elements go to, in the order of their commands. */
  readonly sets: readonly RestoreSet[];
  /** `{"add":{"element":…}}` commands separated by ",\n"; empty when there are no elements. */
  readonly json: Buffer;
}

/** Longest timeout written (nft's limit is higher; see NFT_MAX_TIMEOUT_SECONDS). */
const MAX_DIGITS = 16;

export function restoreElements(
  elements: readonly FirewallElement[],
  table: string,
  setName: (family: 4 | 6, prefixLength: number) => string,
  maxTimeoutSeconds: number,
): RestoreElements {
  const n = elements.length;
  const prefix = new Uint8Array(n);
  const sets = new Map<string, RestoreSet>();
  const setOf = new Array<RestoreSet>(n);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const e = elements[i] as FirewallElement;
    const len = canonicalPrefixLength(e.target, e.family);
    // Not canonical (or invalid): spell every target canonically, merge duplicates, start again.
    if (len === -1) return restoreElements(canonicalElements(elements), table, setName, maxTimeoutSeconds);
    prefix[i] = len;
    const t = e.timeoutSeconds;
    if (t !== null && !(typeof t === 'number' && Number.isFinite(t) && t > 0)) {
      throw new FirewallError(`ban of ${e.target}: timeout must be a positive number of seconds or null, got ${String(t)}`);
    }
    const name = setName(e.family, len);
    let set = sets.get(name);
    if (!set) sets.set(name, (set = { family: e.family, prefixLength: len, name }));
    setOf[i] = set;
    // address, quotes, comma; a timed element adds {"elem":{"val":…,"timeout":N}}.
    bytes += e.target.length + 3 + (t === null ? 0 : 30 + MAX_DIGITS);
  }
  const head = (set: RestoreSet) => `{"add":{"element":{"family":"inet","table":"${table}","name":"${set.name}","elem":[`;
  for (const set of sets.values()) bytes += head(set).length + 8;
  const out = Buffer.allocUnsafe(bytes);
  let pos = 0;
  // Byte by byte: Buffer.write per element is a native call each time, slower for strings this short.
  const ascii = (s: string, length = s.length) => {
    for (let k = 0; k < length; k++) out[pos++] = s.charCodeAt(k);
  };
  let firstCommand = true;
  for (const set of sets.values()) {
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
    ascii(']}}}');
  }
  return { sets: [...sets.values()], json: out.subarray(0, pos) };
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
