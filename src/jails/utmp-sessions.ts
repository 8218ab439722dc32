import { readFileSync } from 'node:fs';
import { canonicalAddress, formatV6 } from '../util/ip.js';

/**
 * Remote addresses of the sessions listed in utmp (glibc layout, 384-byte records, as on Linux
 * x86_64 and aarch64): USER_PROCESS entries whose process is still alive. The address comes from
 * ut_addr_v6, or from ut_host when that holds an address.
 */
const RECORD = 384;
const USER_PROCESS = 7;

export function utmpSessionAddresses(path: string, procRoot = '/proc'): Set<string> {
  const out = new Set<string>();
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return out; // no utmp (containers): nothing to protect from it
  }
  for (let off = 0; off + RECORD <= data.length; off += RECORD) {
    if (data.readInt16LE(off) !== USER_PROCESS) continue;
    const pid = data.readInt32LE(off + 4);
    if (pid > 0 && !alive(procRoot, pid)) continue; // a stale record left by a crash
    const host = cString(data, off + 76, 256);
    const fromHost = canonicalAddress(host);
    if (fromHost) {
      out.add(fromHost.text);
      continue;
    }
    const a = data.subarray(off + 348, off + 364);
    if (a.every((b) => b === 0)) continue;
    const rest = a.subarray(4).every((b) => b === 0);
    const text = rest
      ? `${a[0]}.${a[1]}.${a[2]}.${a[3]}`
      : formatV6(Array.from({ length: 8 }, (_, i) => a.readUInt16BE(i * 2)));
    const parsed = canonicalAddress(text);
    if (parsed) out.add(parsed.text);
  }
  return out;
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('latin1', start, end < 0 || end > start + length ? start + length : end);
}

function alive(procRoot: string, pid: number): boolean {
  try {
    readFileSync(`${procRoot}/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
