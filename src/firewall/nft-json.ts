import { parseTarget } from './address.js';
import { FirewallError } from './firewall.js';

/**
 * Reading `nft -j list ...` output without trusting its shape. Everything arrives as `unknown`
 * and is narrowed by guards; an element in a form we do not understand is skipped rather than
 * guessed at.
 */

export interface NftSetInfo {
  readonly table: string;
  readonly name: string;
  readonly type: string;
  readonly flags: readonly string[];
  /** Declared maximum number of elements; undefined = none declared. */
  readonly size: number | undefined;
  /** Raw `elem` array (absent in terse listings and for empty sets). */
  readonly elem: readonly unknown[];
}

export interface NftChainInfo {
  readonly table: string;
  readonly name: string;
}

/** One set element as nft reports it: the address or prefix text and the timeout state. */
export interface NftElement {
  /** "192.0.2.1", or "2001:db8::/64" when the element itself is a prefix or an exact CIDR range. */
  readonly value: string;
  /** Configured timeout in seconds; undefined = none. */
  readonly timeout: number | undefined;
  /** Seconds left (nft rounds down); undefined = no timeout. */
  readonly expires: number | undefined;
}

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Parses the top-level document and returns its command objects (`{set: ...}`, `{chain: ...}`, ...). */
export function parseNftDocument(text: string): Obj[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FirewallError(`cannot parse nft JSON output: ${e instanceof Error ? e.message : String(e)}`, text.slice(0, 2000));
  }
  if (!isObj(doc) || !Array.isArray(doc['nftables'])) throw new FirewallError('unexpected nft JSON output (no "nftables" array)', text.slice(0, 2000));
  return (doc['nftables'] as unknown[]).filter(isObj);
}

export function nftSets(objects: readonly Obj[]): NftSetInfo[] {
  const out: NftSetInfo[] = [];
  for (const o of objects) {
    const s = o['set'];
    if (!isObj(s)) continue;
    const name = str(s['name']);
    const table = str(s['table']);
    if (name === undefined || table === undefined) continue;
    const flags = Array.isArray(s['flags']) ? s['flags'].filter((f): f is string => typeof f === 'string') : typeof s['flags'] === 'string' ? [s['flags']] : [];
    const size = num(s['size']);
    out.push({ table, name, type: str(s['type']) ?? '', flags, size: size !== undefined && size > 0 ? size : undefined, elem: Array.isArray(s['elem']) ? s['elem'] : [] });
  }
  return out;
}

export function nftChains(objects: readonly Obj[]): NftChainInfo[] {
  const out: NftChainInfo[] = [];
  for (const o of objects) {
    const c = o['chain'];
    if (!isObj(c)) continue;
    const name = str(c['name']);
    const table = str(c['table']);
    if (name !== undefined && table !== undefined) out.push({ table, name });
  }
  return out;
}

/** A value: "addr", {prefix: {addr, len}} or {range: [lo, hi]} (the latter only if it is one exact CIDR). */
function valueText(v: unknown): string | undefined {
  const plain = str(v);
  if (plain !== undefined) return plain;
  if (!isObj(v)) return undefined;
  const prefix = v['prefix'];
  if (isObj(prefix)) {
    const addr = str(prefix['addr']);
    const len = num(prefix['len']);
    return addr !== undefined && len !== undefined ? `${addr}/${len}` : undefined;
  }
  const range = v['range'];
  if (Array.isArray(range) && range.length === 2) {
    const lo = str(range[0]);
    const hi = str(range[1]);
    return lo !== undefined && hi !== undefined ? rangeToCidr(lo, hi) : undefined;
  }
  return undefined;
}

export function parseNftElement(raw: unknown): NftElement | undefined {
  if (isObj(raw) && isObj(raw['elem'])) {
    const e = raw['elem'];
    const value = valueText(e['val']);
    if (value === undefined) return undefined;
    return { value, timeout: num(e['timeout']), expires: num(e['expires']) ?? num(e['timeout']) };
  }
  const value = valueText(raw);
  return value === undefined ? undefined : { value, timeout: undefined, expires: undefined };
}

/**
 * "192.0.2.0"-"192.0.2.255" → "192.0.2.0/24". Interval sets report prefixes that do not fall on
 * the nft prefix notation as ranges; only exact CIDR blocks can be named as a target.
 */
export function rangeToCidr(lo: string, hi: string): string | undefined {
  let a;
  let b;
  try {
    a = parseTarget(lo);
    b = parseTarget(hi);
  } catch {
    return undefined;
  }
  if (a.family !== b.family || a.prefixLength !== b.bytes.length * 8 || b.prefixLength !== b.bytes.length * 8) return undefined;
  const bits = a.bytes.length * 8;
  // The prefix length is the number of leading bits where lo and hi agree; after it lo must be
  // all zeros and hi all ones.
  let len = 0;
  while (len < bits && bitAt(a.bytes, len) === bitAt(b.bytes, len)) len++;
  for (let i = len; i < bits; i++) {
    if (bitAt(a.bytes, i) !== 0 || bitAt(b.bytes, i) !== 1) return undefined;
  }
  if (len === 0) return undefined;
  return len === bits ? a.address : `${a.address}/${len}`;
}

function bitAt(bytes: Uint8Array, i: number): number {
  return ((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
}
