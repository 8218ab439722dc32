import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { decodeHexAddress } from '../investigate/connections.js';

/**
 * Addresses that hold an authenticated SSH session right now, read from /proc: sshd's
 * per-session process names itself "sshd: USER@pts/0" or "sshd: USER@notty" only after the
 * user has logged in. ("sshd: USER [priv]" is NOT proof: the monitor takes that title as soon as
 * the client names an existing user, before any password is checked — an attacker guessing root's
 * password holds one.) Their TCP sockets, looked up in the process's own /proc/PID/net/tcp (so
 * this works for an sshd in another network namespace too), give the client's address.
 */
const AUTHENTICATED = /^sshd(?:-session)?: (?!\[)[^\s@]+@\S+\s*$/;

export function authenticatedSshAddresses(procRoot = '/proc'): Set<string> {
  const out = new Set<string>();
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`${procRoot}/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      continue; // the process ended, or is not ours to read
    }
    if (!AUTHENTICATED.test(cmdline)) continue;
    const inodes = socketInodes(`${procRoot}/${pid}`);
    if (!inodes.size) continue;
    for (const file of ['tcp', 'tcp6']) {
      let table: string;
      try {
        table = readFileSync(`${procRoot}/${pid}/net/${file}`, 'latin1');
      } catch {
        continue;
      }
      for (const row of table.split('\n').slice(1)) {
        const f = row.trim().split(/\s+/);
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        if (f.length < 10 || f[3] !== '01' /* ESTABLISHED */ || !inodes.has(f[9] as string)) continue;
        const address = decodeHexAddress((f[2] as string).split(':')[0] as string);
        if (address) out.add(address);
      }
    }
  }
  return out;
}

function socketInodes(procDir: string): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`${procDir}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${procDir}/fd/${fd}`));
      if (m) out.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
