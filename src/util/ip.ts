import { isIPv4, isIPv6 } from 'node:net';
import { RecentMap } from './recent.js';
import { copyString } from './strings.js';

/**
 * Address handling. Everything that reaches a counter, the database or the kernel goes through
 * `canonicalAddress`, so one host has exactly one spelling: IPv4 dotted quad, IPv6 in RFC 5952
 * form, and IPv4-mapped IPv6 (::ffff:192.0.2.1) folded to plain IPv4 — the kernel sees a mapped
 * client as IPv4 on a dual-stack socket, and counting it twice would halve the ban threshold.
 */
export type Family = 4 | 6;

export interface Address {
  readonly text: string;
  readonly family: Family;
  /**
   * IPv6 only, when known: the eight 16-bit words, parsed once by canonicalAddress so that range
   * tests and the /64 ban target do not parse the text again.
   */
  readonly words?: readonly number[];
}

/**
 * Recently seen addresses. Attackers repeat themselves, so most look-ups are a hit that costs one
 * hash look-up instead of validating and copying again. Bounded (~150 bytes per entry): 100,000
 * distinct attackers cost a parse each, which is what a cache that size would save, and no memory.
 */
const recent = new RecentMap<string, Address>(4096, copyString);

/** Returns the canonical form of an IP address, or undefined when `raw` is not one. */
export function canonicalAddress(raw: string): Address | undefined {
  // Consecutive lines are often about one client ("Invalid user x from A", "Failed password for
  // invalid user x from A"): comparing with the last one skips hashing the fresh text.
  if (last !== undefined && raw === last.text) return last;
  const hit = recent.get(raw);
  if (hit) return (last = hit);
  const address = parseAddress(raw);
  // The text is usually cut from a log line, and V8 keeps a cut of 13+ characters as a view into
  // the whole read chunk: a key kept for minutes would pin that chunk. The cache stores a copy.
  if (address) recent.set(raw, address);
  return address;
}

/**
 * The last address found in the cache. Its text is canonical, so a raw text equal to it reads as
 * this very address; and it is the cache's copy, never a cut of a line.
 */
let last: Address | undefined;


function parseAddress(raw: string): Address | undefined {
  // node's isIPv4 accepts only the canonical dotted quad (no leading zeros, no short forms).
  if (isIPv4(raw)) return { text: copyString(raw), family: 4 };
  let s = raw;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone); // link-local zone ids are not part of the address
  if (!isIPv6(s)) return undefined;
  const words = v6Words(s);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return { text: `${words[6]! >> 8}.${words[6]! & 255}.${words[7]! >> 8}.${words[7]! & 255}`, family: 4 };
  }
  return { text: formatV6(words), family: 6, words };
}

/** Parses a valid IPv6 text (with optional embedded IPv4 tail) into eight 16-bit words. */
export function v6Words(s: string): number[] {
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const tailPart = text.slice(lastColon + 1);
  if (tailPart.includes('.')) {
    const q = tailPart.split('.').map(Number);
    tail.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const parse = (part: string): number[] => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  const headWords = parse(head);
  const words = rest === undefined ? headWords : [...headWords, ...new Array<number>(8 - headWords.length - parse(rest).length).fill(0), ...parse(rest)];
  if (tail.length) { words[6] = tail[0]!; words[7] = tail[1]!; }
  return words;
}

/** RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero words as "::". */
export function formatV6(words: readonly number[]): string {
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** A CIDR range or single address, with a fast membership test. */
export interface Cidr {
  readonly family: Family;
  readonly prefix: number;
  /** Network address in canonical text with /prefix. */
  readonly text: string;
  contains(address: Address): boolean;
  /** True when the two ranges share at least one address. */
  overlaps(other: Cidr): boolean;
}

export function parseCidr(raw: string): Cidr | undefined {
  const slash = raw.indexOf('/');
  const addrText = slash >= 0 ? raw.slice(0, slash) : raw;
  const address = canonicalAddress(addrText);
  if (!address) return undefined;
  // A mapped IPv6 range written as ::ffff:a.b.c.d/120 folds to IPv4 with prefix - 96.
  const mapped = address.family === 4 && !isIPv4(addrText);
  const maxLen = address.family === 4 ? 32 : 128;
  let prefix = maxLen;
  if (slash >= 0) {
    const p = raw.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > maxLen) return undefined;
  }
  if (address.family === 4) {
    const net = maskV4(v4ToInt(address.text), prefix);
    const text = `${intToV4(net)}/${prefix}`;
    const contains = (a: Address): boolean => a.family === 4 && maskV4(v4ToInt(a.text), prefix) === net;
    return { family: 4, prefix, text, contains, overlaps: (o) => overlap({ family: 4, prefix, text, contains }, o) };
  }
  const net = maskV6(address.words ?? v6Words(address.text), prefix);
  const text = `${formatV6(net)}/${prefix}`;
  const masks = maskV6(Array<number>(8).fill(0xffff), prefix);
  const contains = (a: Address): boolean => {
    if (a.family !== 6) return false;
    const words = a.words ?? v6Words(a.text);
    for (let i = 0; i < 8; i++) if (((words[i] as number) & (masks[i] as number)) !== net[i]) return false;
    return true;
  };
  return { family: 6, prefix, text, contains, overlaps: (o) => overlap({ family: 6, prefix, text, contains }, o) };
}

/** Two ranges overlap exactly when the wider one contains the other's network address. */
function overlap(a: Pick<Cidr, 'family' | 'prefix' | 'text' | 'contains'>, b: Pick<Cidr, 'family' | 'prefix' | 'text' | 'contains'>): boolean {
  if (a.family !== b.family) return false;
  const [wide, narrow] = a.prefix <= b.prefix ? [a, b] : [b, a];
  const network = canonicalAddress(narrow.text.slice(0, narrow.text.indexOf('/')));
  return network !== undefined && wide.contains(network);
}

export function v4ToInt(s: string): number {
  const q = s.split('.');
  return ((Number(q[0]) << 24) | (Number(q[1]) << 16) | (Number(q[2]) << 8) | Number(q[3])) >>> 0;
}

function intToV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function maskV4(n: number, prefix: number): number {
  return prefix === 0 ? 0 : (n & (~0 << (32 - prefix))) >>> 0;
}

function maskV6(words: readonly number[], prefix: number): number[] {
  return words.map((w, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : w & ((0xffff << (16 - bits)) & 0xffff);
  });
}

/**
 * The ban target for an address: itself, or for IPv6 with a prefix < 128 the enclosing network
 * ("2001:db8:1:2::/64"), since one IPv6 host usually owns a whole /64 and rotates within it.
 */
export function banTarget(address: Address, ipv6Prefix: number): string {
  if (address.family === 4 || ipv6Prefix >= 128) return address.text;
  // One flat string (not a concatenation): it becomes a long-lived key of the failure window.
  return [formatV6(maskV6(address.words ?? v6Words(address.text), ipv6Prefix)), ipv6Prefix].join('/');
}
