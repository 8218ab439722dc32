/**
 * Open TCP connections to a local port, per remote address, from the kernel's socket tables
 * /proc/net/tcp and /proc/net/tcp6 (what `ss` and `netstat` read too, without needing either).
 *
 * Addresses there are hex dumps of the in-kernel (network order) bytes printed as host-order
 * 32-bit words: on little-endian machines each word's bytes come out reversed, so 127.0.0.1 is
 * "0100007F". IPv6 is four such words. A dual-stack listener sees IPv4 clients as
 * ::ffff:a.b.c.d in tcp6: those are folded to IPv4 so one client is counted under one address.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { canonicalAddress } from '../util/ip.js';

/** include/net/tcp_states.h */
export const TCP_STATES: Readonly<Record<number, string>> = {
  1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT',
  7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING', 12: 'NEW_SYN_RECV',
};

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export interface TcpSocket {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly state: string;
}

export interface TableParse {
  readonly sockets: TcpSocket[];
  readonly problems: string[];
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Decodes an address field ("0100007F" or 32 hex digits); undefined when malformed. */
export function decodeHexAddress(hex: string, littleEndian = LITTLE_ENDIAN): string | undefined {
  if (!/^([0-9A-Fa-f]{8}){1,4}$/.test(hex) || (hex.length !== 8 && hex.length !== 32)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const word = parseInt(hex.slice(i, i + 8), 16);
    const b = [word >>> 24, (word >>> 16) & 255, (word >>> 8) & 255, word & 255];
    bytes.push(...(littleEndian ? b.reverse() : b));
  }
  if (bytes.length === 4) return bytes.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalAddress(words.join(':'))?.text;
}

function decodeEndpoint(field: string | undefined, littleEndian: boolean): Endpoint | undefined {
  const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(field ?? '');
  if (!m) return undefined;
  const ip = decodeHexAddress(m[1]!, littleEndian);
  return ip === undefined ? undefined : { ip, port: parseInt(m[2]!, 16) };
}

/**
 * Parses the text of /proc/net/tcp or tcp6. Malformed lines are reported (with the source name
 * and line number) and skipped.
 */
export function parseTcpTable(text: string, source: string, littleEndian = LITTLE_ENDIAN): TableParse {
  const sockets: TcpSocket[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (i === 0 || !line.trim()) return; // header
    // "  sl  local_address rem_address   st tx_queue:rx_queue ..."
    const f = line.trim().split(/\s+/);
    const local = decodeEndpoint(f[1], littleEndian);
    const remote = decodeEndpoint(f[2], littleEndian);
    const st = /^[0-9A-Fa-f]{2}$/.test(f[3] ?? '') ? parseInt(f[3]!, 16) : NaN;
    if (!local || !remote || Number.isNaN(st)) {
      problems.push(`${source} line ${i + 1}: cannot read "${line.trim().slice(0, 80)}"`);
      return;
    }
    sockets.push({ local, remote, state: TCP_STATES[st] ?? `STATE_${f[3]!.toUpperCase()}` });
  });
  return { sockets, problems };
}

export interface PeerCount {
  readonly ip: string;
  readonly count: number;
  /** Connections per TCP state, e.g. { ESTABLISHED: 3, TIME_WAIT: 1 }. */
  readonly states: Record<string, number>;
}

/**
 * Connections whose local port is `port`, per remote address, most connections first (then by
 * address). Listening sockets are not connections and are left out.
 */
export function countByPeer(sockets: readonly TcpSocket[], port: number): PeerCount[] {
  const byIp = new Map<string, { count: number; states: Record<string, number> }>();
  for (const s of sockets) {
    if (s.local.port !== port || s.state === 'LISTEN') continue;
    const entry = byIp.get(s.remote.ip) ?? { count: 0, states: {} };
    entry.count++;
    entry.states[s.state] = (entry.states[s.state] ?? 0) + 1;
    byIp.set(s.remote.ip, entry);
  }
  return [...byIp].map(([ip, e]) => ({ ip, ...e })).sort((a, b) => b.count - a.count || a.ip.localeCompare(b.ip));
}

/**
 * Reads /proc/net/tcp and /proc/net/tcp6 (under `procDir`, default /proc). A missing or unreadable
 * table is reported — IPv6 may be disabled, or /proc not mounted — and the other is still used.
 */
export function readTcpTables(procDir = '/proc'): TableParse & { readable: number } {
  const sockets: TcpSocket[] = [];
  const problems: string[] = [];
  let readable = 0;
  for (const name of ['tcp', 'tcp6']) {
    const path = join(procDir, 'net', name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? `does not exist${name === 'tcp6' ? ' (IPv6 disabled?)' : ' (is /proc mounted?)'}` : err.message;
      problems.push(`${path}: ${why}; its connections are not counted`);
      continue;
    }
    readable++;
    const parsed = parseTcpTable(text, path);
    sockets.push(...parsed.sockets);
    problems.push(...parsed.problems);
  }
  return { sockets, problems, readable };
}
