import { daemonBans, DEFAULT_ALLOW, rangeSet } from '../../investigate/ban-status.js';
import { countByPeer, readTcpTables } from '../../investigate/connections.js';
import { parse, printJson, socketPath, type Command } from '../command.js';
import { renderTable, safeText } from '../table.js';
import { DEFAULT_SOCKET, UsageError } from '../usage.js';

export const connectionsCommand: Command = {
  name: 'connections',
  summary: 'open TCP connections to a local port (default 22) per remote address, with ban status',
  usage: `Usage: warden connections [--port N] [--json] [--socket PATH] [--allow LIST]...

Counts the TCP connections to local port N (default 22) per remote address, from /proc/net/tcp
and /proc/net/tcp6, with their states (ESTABLISHED, SYN_RECV, TIME_WAIT, ...), most first.
IPv4 clients of a dual-stack server (::ffff:a.b.c.d) are counted as IPv4.

  --socket PATH  the daemon's control socket (default ${DEFAULT_SOCKET}, or $WARDEN_SOCKET):
                 when it answers, addresses it bans (exactly or within a banned range) are marked;
                 otherwise the ban status is unknown (null in JSON)
  --allow LIST   addresses/ranges that are allowed, comma-separated, repeatable
                 (default ${DEFAULT_ALLOW.join(', ')})

JSON: an array of { ip, count, states: { STATE: n }, banned: true|false|null, allowed }.
Problems (a missing /proc table, unreadable lines) go to stderr.
`,
  async run(args) {
    const { values } = parse(args, {
      port: { type: 'string' }, json: { type: 'boolean' }, socket: { type: 'string' },
      allow: { type: 'string', multiple: true },
    }, 0);
    const port = parsePort(values['port']);
    const allowRaw: unknown = values['allow'];
    const allowEntries = Array.isArray(allowRaw)
      ? allowRaw.flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean)
      : [...DEFAULT_ALLOW];
    let allow;
    try {
      allow = rangeSet(allowEntries, '--allow');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const tables = readTcpTables();
    const peers = countByPeer(tables.sockets, port);
    const socket = socketPath(values);
    const bans = await daemonBans(socket);
    const rows = peers.map((p) => ({
      ...p,
      banned: 'bans' in bans ? bans.bans.has(p.ip) : null,
      allowed: allow.has(p.ip),
    }));
    const problems = [...tables.problems];
    if ('error' in bans) problems.push(`ban status unknown: ${bans.error}`);

    if (values['json']) {
      printJson(rows);
      for (const p of problems) process.stderr.write(`warden connections: ${safeText(p)}\n`);
    } else {
      const out: string[] = [];
      out.push(rows.length
        ? renderTable(['ip', 'count', 'states', 'banned', 'allowed'], rows.map((r) => [
          r.ip, r.count, Object.entries(r.states).sort((a, b) => b[1] - a[1]).map(([s, n]) => `${s} ${n}`).join(', '),
          r.banned === null ? '?' : r.banned ? 'BANNED' : 'no', r.allowed ? 'allowed' : '',
        ])).trimEnd()
        : `no connections to port ${port}`);
      const banned = rows.filter((r) => r.banned && r.states['ESTABLISHED']);
      if (banned.length) out.push('', `${banned.length} banned address(es) with established connections: their packets should be dropped, so these are sessions the kernel has not timed out yet — or the firewall is not enforcing the ban (see warden status).`);
      if (problems.length) out.push('', ...problems.map((p) => `! ${safeText(p)}`));
      process.stdout.write(out.join('\n') + '\n');
    }
    return tables.readable === 0 ? 1 : 0;
  },
};

function parsePort(raw: unknown): number {
  if (raw === undefined) return 22;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d{1,5}$/.test(raw) || n < 1 || n > 65535) throw new UsageError(`--port: "${String(raw)}" is not a port number (1-65535)`);
  return n;
}
