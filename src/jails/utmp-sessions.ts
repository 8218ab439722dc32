import { readFileSync } from 'node:fs';
import { parseUtmp, UtmpType } from '../investigate/utmp.js';
import { canonicalAddress } from '../util/ip.js';

/**
 * Remote addresses of the sessions listed in utmp: USER_PROCESS entries whose process is still
 * alive (a crash can leave stale records). The address comes from ut_addr_v6, or from ut_host when
 * that holds an address.
 */
export function utmpSessionAddresses(path: string, procRoot = '/proc'): Set<string> {
  const out = new Set<string>();
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return out; // no utmp (containers): nothing to protect from it
  }
  for (const r of parseUtmp(data).records) {
    if (r.type !== UtmpType.USER_PROCESS || (r.pid > 0 && !alive(procRoot, r.pid))) continue;
    const address = canonicalAddress(r.host)?.text ?? r.address;
    if (address) out.add(address);
  }
  return out;
}

function alive(procRoot: string, pid: number): boolean {
  try {
    readFileSync(`${procRoot}/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
