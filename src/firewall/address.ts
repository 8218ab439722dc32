import { isIP } from 'node:net';
import { FirewallError } from './firewall.js';

/**
 * Strict parsing and canonical formatting of ban targets.
 *
 * Targets end up inside text that `nft -f -` and `ipset restore` parse, and ultimately come from
 * log lines an attacker writes. So a target is never copied through: it is parsed into bytes and
 * the backends only ever write what `formatAddress` produces from those bytes (digits, hex, '.',
 * ':', '/'). Anything that is not exactly an IPv4/IPv6 address or prefix throws.
 *
 * Canonical forms make kernel listings comparable with what the daemon recorded:
 * "2001:DB8:0::1" → "2001:db8::1", "192.0.2.7/32" → "192.0.2.7", "2001:db8:1:2:0:0:0:0/64" →
 * "2001:db8:1:2::/64".
 */

export interface ParsedTarget {
  readonly family: 4 | 6;
  /** Network address bytes (4 or 16), host bits zero. */
  readonly bytes: Uint8Array;
  /** 32 / 128 for a single address. */
  readonly prefixLength: number;
  /** The network address alone, canonical ("2001:db8:1:2::"). */
  readonly address: string;
  /** "address" for a single address, "address/len" for a prefix. */
  readonly canonical: string;
}

/** Longest input considered; the longest valid form ("ffff:…:255.255.255.255/128") is 49 chars. */
const MAX_TARGET_LENGTH = 64;

function invalid(target: string, why: string): FirewallError {
  // JSON.stringify so control characters in a hostile target show up escaped in logs.
  return new FirewallError(`invalid ban target ${JSON.stringify(target.slice(0, 80))}: ${why}`);
}

// The parsers below are hand-written character scanners rather than split/regex chains: a 10k
// ban batch is validated in a few ms instead of ~100 ms, which matters for the batch budget.

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Dotted quad without leading zeros (which some tools read as octal). */
function parseIPv4(text: string, out: Uint8Array = new Uint8Array(4), at = 0): Uint8Array | undefined {
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (text.charCodeAt(i) !== 46 /* . */) return undefined;
      i++;
    }
    const start = i;
    let n = 0;
    while (i < text.length && isDigit(text.charCodeAt(i)) && i - start < 3) n = n * 10 + text.charCodeAt(i++) - 48;
    const digits = i - start;
    if (digits === 0 || n > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return undefined;
    out[at + part] = n;
  }
  return i === text.length ? out : undefined;
}

/** RFC 4291 text forms, including "::" and a trailing embedded IPv4; no zone ids. */
function parseIPv6(text: string, bytes: Uint8Array = new Uint8Array(16), groups: Uint16Array = new Uint16Array(8)): Uint8Array | undefined {
  const len = text.length;
  let n = 0; // groups written
  let gap = -1; // index in groups where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < len) {
    const start = i;
    let v = 0;
    let h: number;
    while (i < len && i - start < 5 && (h = hexValue(text.charCodeAt(i))) >= 0) {
      v = v * 16 + h;
      i++;
    }
    if (i < len && text.charCodeAt(i) === 46 /* . */) {
      // Embedded IPv4: must be the last 32 bits.
      if (n > 6 || !parseIPv4(text.slice(start), bytes, 12)) return undefined;
      groups[n++] = ((bytes[12] ?? 0) << 8) | (bytes[13] ?? 0);
      groups[n++] = ((bytes[14] ?? 0) << 8) | (bytes[15] ?? 0);
      i = len;
      break;
    }
    if (i === start || i - start > 4 || n === 8) return undefined;
    groups[n++] = v;
    if (i === len) break;
    if (text.charCodeAt(i) !== 58) return undefined;
    i++;
    if (text.charCodeAt(i) === 58) {
      if (gap !== -1) return undefined;
      gap = n;
      i++;
    } else if (i === len) {
      return undefined; // trailing single ':'
    }
  }
  if (gap === -1) {
    if (n !== 8) return undefined;
  } else {
    if (n > 7) return undefined;
    const tail = n - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k] ?? 0;
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  for (let k = 0; k < 8; k++) {
    const g = groups[k] ?? 0;
    bytes[2 * k] = g >> 8;
    bytes[2 * k + 1] = g & 0xff;
  }
  return bytes;
}

/** RFC 5952: lowercase, no leading zeros, longest run (>= 2) of zero groups as "::", mapped IPv4 dotted. */
export function formatAddress(bytes: Uint8Array): string {
  const b = (k: number) => bytes[k] ?? 0;
  if (bytes.length === 4) return `${b(0)}.${b(1)}.${b(2)}.${b(3)}`;
  const groups = new Uint16Array(8);
  for (let k = 0; k < 8; k++) groups[k] = (b(2 * k) << 8) | b(2 * k + 1);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${b(12)}.${b(13)}.${b(14)}.${b(15)}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) { k++; continue; }
    let j = k;
    while (j < 8 && groups[j] === 0) j++;
    if (j - k > bestLen) { bestStart = k; bestLen = j - k; }
    k = j;
  }
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      out += '::';
      k += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += (groups[k] ?? 0).toString(16);
  }
  return out;
}

/**
 * `formatAddress(bytes) === text` for 16 bytes, without building the string: the same walk as
 * formatAddress, comparing each character it would write.
 */
function isFormatted6(bytes: Uint8Array, text: string): boolean {
  const g = scratchGroups;
  for (let k = 0; k < 8; k++) g[k] = ((bytes[2 * k] ?? 0) << 8) | (bytes[2 * k + 1] ?? 0);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return formatAddress(bytes) === text;
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) { k++; continue; }
    let j = k;
    while (j < 8 && g[j] === 0) j++;
    if (j - k > bestLen) { bestStart = k; bestLen = j - k; }
    k = j;
  }
  let pos = 0;
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      if (text.charCodeAt(pos) !== 58 || text.charCodeAt(pos + 1) !== 58) return false;
      pos += 2;
      k += bestLen - 1;
      continue;
    }
    if (pos > 0 && text.charCodeAt(pos - 1) !== 58) {
      if (text.charCodeAt(pos) !== 58) return false;
      pos++;
    }
    const v = g[k] ?? 0;
    let shift = 12;
    while (shift > 0 && (v >> shift) === 0) shift -= 4; // no leading zeros; "0" for zero
    for (; shift >= 0; shift -= 4) {
      const n = (v >> shift) & 15;
      if (text.charCodeAt(pos++) !== (n < 10 ? 48 + n : 87 + n)) return false;
    }
  }
  return pos === text.length;
}

/** Zeroes the bits after `prefixLength`; returns whether any were set. */
function maskHostBits(bytes: Uint8Array, prefixLength: number): boolean {
  if (prefixLength === bytes.length * 8) return false;
  let hadHostBits = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - 8 * i));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    const b = bytes[i] ?? 0;
    if ((b & ~mask & 0xff) !== 0) hadHostBits = true;
    bytes[i] = b & mask;
  }
  return hadHostBits;
}

/**
 * Parses "address" or "address/len". Prefix length 0 is refused (it would ban the whole
 * Internet, and hash:net cannot hold it). A prefix with host bits set ("192.0.2.5/24") is refused
 * too: it is ambiguous and would list back under a different name than the daemon recorded.
 */
export function parseTarget(target: string): ParsedTarget {
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET_LENGTH) {
    throw invalid(String(target), 'empty or too long');
  }
  const slash = target.indexOf('/');
  const addrText = slash === -1 ? target : target.slice(0, slash);
  const lenText = slash === -1 ? undefined : target.slice(slash + 1);
  const kind = isIP(addrText);
  let bytes: Uint8Array | undefined;
  if (kind === 4) bytes = parseIPv4(addrText);
  else if (kind === 6) bytes = parseIPv6(addrText);
  if (!bytes) throw invalid(target, 'not an IPv4 or IPv6 address');
  const family: 4 | 6 = bytes.length === 4 ? 4 : 6;
  const maxLen = family === 4 ? 32 : 128;
  let prefixLength = maxLen;
  if (lenText !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(lenText)) throw invalid(target, 'bad prefix length');
    prefixLength = Number(lenText);
    if (prefixLength < 1 || prefixLength > maxLen) throw invalid(target, `prefix length must be 1..${maxLen}`);
  }
  if (maskHostBits(bytes, prefixLength)) {
    throw invalid(target, `host bits set (network is ${formatAddress(bytes)}/${prefixLength})`);
  }
  const address = formatAddress(bytes);
  return { family, bytes, prefixLength, address, canonical: prefixLength === maxLen ? address : `${address}/${prefixLength}` };
}

/** Scratch space for canonicalPrefixLength (single-threaded, never escapes). */
const scratch4 = new Uint8Array(4);
const scratch6 = new Uint8Array(16);
const scratchGroups = new Uint16Array(8);

/**
 * The prefix length of `target` when it is a valid target already in canonical form (exactly
 * what `parseTarget(target).canonical` would return) of the given family; -1 for anything else,
 * which the caller then hands to parseTarget for the full treatment (canonical spelling or the
 * error). The same scanners as parseTarget, without its allocations: restoring 100,000 bans
 * from the database validates every target again before it goes into an nft script, and this
 * keeps that to a few ms.
 */
export function canonicalPrefixLength(target: string, family: 4 | 6): number {
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET_LENGTH) return -1;
  const slash = target.indexOf('/');
  const addrText = slash === -1 ? target : target.slice(0, slash);
  const max = family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash !== -1) {
    // Canonical lengths: no leading zero, 1..max-1 (a full-length prefix is written without it).
    prefixLength = 0;
    for (let i = slash + 1; i < target.length; i++) {
      const c = target.charCodeAt(i);
      if (!isDigit(c) || (i === slash + 1 && c === 48) || i - slash > 3) return -1;
      prefixLength = prefixLength * 10 + c - 48;
    }
    if (prefixLength < 1 || prefixLength >= max) return -1;
  }
  let bytes: Uint8Array | undefined;
  if (family === 4) {
    // Dotted quads without leading zeros have one spelling: parsing is the canonical check.
    bytes = addrText.indexOf(':') === -1 ? parseIPv4(addrText, scratch4, 0) : undefined;
  } else {
    bytes = addrText.indexOf(':') === -1 ? undefined : parseIPv6(addrText, scratch6, scratchGroups);
    if (bytes && !isFormatted6(bytes, addrText)) return -1;
  }
  if (!bytes || maskHostBits(bytes, prefixLength)) return -1;
  return prefixLength;
}

/** The canonical spelling of a target, as `list()` reports it; throws on invalid input. */
export function canonicalTarget(target: string): string {
  return parseTarget(target).canonical;
}

/** Dotted or colon netmask for a prefix length ("255.255.255.0", "ffff:ffff:ffff:ffff::"). */
export function netmask(family: 4 | 6, prefixLength: number): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16).fill(0xff);
  maskHostBits(bytes, prefixLength);
  return formatAddress(bytes);
}
