import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalAddress } from '../../src/util/ip.js';
import { daemonBans, rangeSet } from '../../src/investigate/ban-status.js';
import { countByPeer, decodeHexAddress, parseTcpTable, readTcpTables } from '../../src/investigate/connections.js';
import { NetnsLab } from '../helpers/netns.js';
import { missing } from '../helpers/require.js';
import { tempDir } from './fixtures.js';
import { RUNNER } from './run-helper.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const TAIL = '00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1';

// What a little-endian kernel prints: 192.0.2.10 is the word 0x0A0200C0, port 22 is 0016.
const TCP = [
  HEADER,
  `   0: 00000000:0016 00000000:0000 0A ${TAIL}`, // the listener: not a connection
  `   1: 010200C0:0016 0A0200C0:D431 01 ${TAIL}`, // 192.0.2.10 ESTABLISHED
  `   2: 010200C0:0016 0A0200C0:D432 06 ${TAIL}`, // 192.0.2.10 TIME_WAIT
  `   3: 010200C0:0016 076433C6:C000 03 ${TAIL}`, // 198.51.100.7 SYN_RECV
  `   4: 010200C0:01BB 076433C6:C001 01 ${TAIL}`, // port 443: not counted
  `   5: 010200C0:D000 0A0200C0:0016 01 ${TAIL}`, // our own outgoing ssh: local port is not 22
  '   6: garbage line',
].join('\n');

const TCP6 = [
  HEADER,
  `   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A ${TAIL}`,
  // 2001:db8::5 -> words 20010db8 0 0 00000005, each printed byte-reversed
  `   1: B80D0120000000000000000001000000:0016 B80D0120000000000000000005000000:E000 01 ${TAIL}`,
  `   2: B80D0120000000000000000001000000:0016 B80D0120000000000000000005000000:E001 01 ${TAIL}`,
  // ::ffff:192.0.2.10 (an IPv4 client of a dual-stack listener) -> folded to IPv4
  `   3: 0000000000000000FFFF0000010200C0:0016 0000000000000000FFFF00000A0200C0:E002 01 ${TAIL}`,
].join('\n');

test('hex addresses of /proc/net/tcp and tcp6 decode to canonical addresses', () => {
  assert.equal(decodeHexAddress('0100007F', true), '127.0.0.1');
  assert.equal(decodeHexAddress('7F000001', false), '127.0.0.1', 'big-endian machines print the bytes in order');
  assert.equal(decodeHexAddress('B80D0120000000000000000005000000', true), '2001:db8::5');
  assert.equal(decodeHexAddress('0000000000000000FFFF00000A0200C0', true), '192.0.2.10');
  assert.equal(decodeHexAddress('00000000000000000000000001000000', true), '::1');
  for (const bad of ['', '0100007', 'XYZ0007F', '0100007F01']) assert.equal(decodeHexAddress(bad, true), undefined, bad);
});

test('connections to the port are counted per remote address, with states, most first', () => {
  const v4 = parseTcpTable(TCP, '/proc/net/tcp', true);
  const v6 = parseTcpTable(TCP6, '/proc/net/tcp6', true);
  assert.deepEqual(v4.problems, ['/proc/net/tcp line 8: cannot read "6: garbage line"']);
  assert.deepEqual(v6.problems, []);
  assert.deepEqual(countByPeer([...v4.sockets, ...v6.sockets], 22), [
    { ip: '192.0.2.10', count: 3, states: { ESTABLISHED: 2, TIME_WAIT: 1 } },
    { ip: '2001:db8::5', count: 2, states: { ESTABLISHED: 2 } },
    { ip: '198.51.100.7', count: 1, states: { SYN_RECV: 1 } },
  ]);
  assert.deepEqual(countByPeer(v4.sockets, 443), [{ ip: '198.51.100.7', count: 1, states: { ESTABLISHED: 1 } }]);
});

test('a missing /proc table is reported by name and the other one is still read', () => {
  const tmp = tempDir();
  try {
    mkdirSync(tmp.path('net'));
    writeFileSync(tmp.path('net/tcp'), TCP);
    const r = readTcpTables(tmp.dir);
    assert.equal(r.readable, 1);
    assert.ok(r.problems.some((p) => p.startsWith(`${tmp.path('net/tcp6')}: does not exist (IPv6 disabled?)`)), r.problems.join('\n'));
    assert.equal(r.sockets.length, 6);
  } finally {
    tmp.remove();
  }
});

/** A stand-in for the daemon's control socket, answering "bans" with the given list. */
async function fakeDaemon(path: string, bans: ReadonlyArray<{ ip: string }>): Promise<Server> {
  const server = createServer((s) => {
    s.on('data', () => s.end(JSON.stringify({ ok: true, result: bans.map((b) => ({ jail: 'sshd', ...b })) }) + '\n'));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

test('ban status: exact addresses and ranges from the daemon; unknown when it does not answer', async () => {
  const tmp = tempDir();
  const server = await fakeDaemon(tmp.path('sock'), [{ ip: '192.0.2.0/24' }, { ip: '2001:db8::5' }, { ip: 'not-an-ip' }]);
  try {
    const got = await daemonBans(tmp.path('sock'));
    assert.ok('bans' in got);
    assert.equal(got.bans.has('192.0.2.77'), true);
    assert.equal(got.bans.has('::ffff:192.0.2.77'), true);
    assert.equal(got.bans.has('2001:db8::5'), true);
    assert.equal(got.bans.has('2001:db8::6'), false);
    assert.equal(got.bans.has('198.51.100.1'), false);
    const none = await daemonBans(tmp.path('absent'));
    assert.ok('error' in none && /cannot reach the daemon/.test(none.error));
    const allow = rangeSet(['127.0.0.0/8', '::1'], '--allow');
    assert.equal(allow.has('127.1.2.3'), true);
    assert.equal(allow.has('::1'), true);
    assert.equal(allow.has('192.0.2.1'), false);
    assert.throws(() => rangeSet(['nonsense'], '--allow'), /--allow: "nonsense" is not an IP address or CIDR range/);
  } finally {
    server.close();
    tmp.remove();
  }
});

const SERVER = `
const net = require('node:net');
const [port, host] = process.argv.slice(1);
// A client that sends "q" is disconnected by the server, which leaves the server side in TIME_WAIT.
const srv = net.createServer((s) => { s.on('data', (d) => { if (String(d).includes('q')) s.end(); }); s.on('error', () => {}); });
srv.listen(Number(port), host, () => console.log('listening'));
`;

const CLIENTS = `
const net = require('node:net');
const specs = JSON.parse(process.argv[1]);
let n = 0;
for (const sp of specs) {
  const s = net.connect({ host: sp.host, port: sp.port, localAddress: sp.from });
  s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
  s.on('connect', () => { if (sp.quit) s.write('q'); if (++n === specs.length) console.log('ready'); });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

interface Child { child: ChildProcessWithoutNullStreams; stop(): Promise<void> }

/** Starts `node -e code` in a namespace and waits for its first line to be `expect`. */
async function startIn(ns: string, code: string, args: readonly string[], expect: string): Promise<Child> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    child.kill('SIGKILL'); // the process we started, by its handle (its pid)
    await closed;
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${expect}" within 10 s`)), 10_000);
      createInterface({ input: child.stdout }).once('line', (l) => { clearTimeout(timer); resolve(l); });
      child.once('close', (c) => { clearTimeout(timer); reject(new Error(`exited ${c}`)); });
    });
    if (line !== expect) throw new Error(`said "${line}", expected "${expect}"`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, stop };
}

interface PeerJson { ip: string; count: number; states: Record<string, number>; banned: boolean | null; allowed: boolean }

describe('warden connections on real sockets in a network namespace', { skip: missing(['ip', 'ss']) }, () => {
  const lab = new NetnsLab();
  const started: Child[] = [];
  const tmp = tempDir();
  let daemon: Server | undefined;

  after(async () => {
    for (const c of started) await c.stop();
    daemon?.close();
    await lab.cleanup();
    tmp.remove();
  });

  /** Counts per peer from `ss` in the namespace: the oracle. */
  async function ssCounts(ns: string, state: string, port: number): Promise<Map<string, number>> {
    const out = (await lab.exec(ns, ['ss', '-Htn', 'state', state, `( sport = :${port} )`])).stdout;
    const counts = new Map<string, number>();
    for (const line of out.split('\n').filter((l) => l.trim())) {
      const peer = line.trim().split(/\s+/).pop()!;
      const ip = canonicalAddress(peer.slice(0, peer.lastIndexOf(':')))?.text;
      assert.ok(ip, `ss peer not understood: ${line}`);
      counts.set(ip, (counts.get(ip) ?? 0) + 1);
    }
    return counts;
  }

  async function runIn(ns: string, args: readonly string[]): Promise<PeerJson[]> {
    const r = await lab.run(ns, [process.execPath, RUNNER, 'connections', '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as PeerJson[];
  }

  test('counts per address and state match ss; dual-stack IPv4 clients count as IPv4; bans and allows marked', { timeout: 60_000 }, async () => {
    const srv = await lab.add('srv');
    const cli = await lab.add('cli');
    await lab.link(srv, ['192.0.2.1/24', '2001:db8::1/64'], cli, ['192.0.2.10/24', '2001:db8::10/64']);
    started.push(await startIn(srv, SERVER, ['22', '::'], 'listening')); // dual-stack: IPv4 peers appear in tcp6 as ::ffff:
    started.push(await startIn(srv, SERVER, ['2222', '0.0.0.0'], 'listening')); // IPv4 only: /proc/net/tcp
    const specs = [
      ...[1, 2, 3].map(() => ({ host: '192.0.2.1', port: 22, from: '192.0.2.10' })),
      { host: '192.0.2.1', port: 22, from: '192.0.2.10', quit: true },
      ...[1, 2].map(() => ({ host: '2001:db8::1', port: 22, from: '2001:db8::10' })),
      { host: '192.0.2.1', port: 2222, from: '192.0.2.10' },
    ];
    started.push(await startIn(cli, CLIENTS, [JSON.stringify(specs)], 'ready'));
    // The server-closed connection passes through FIN_WAIT to TIME_WAIT: wait until ss sees it.
    for (let i = 0; i < 50 && (await ssCounts(srv, 'time-wait', 22)).size === 0; i++) await sleep(100);

    daemon = await fakeDaemon(tmp.path('warden.sock'), [{ ip: '192.0.2.0/24' }]);
    const peers = await runIn(srv, ['--socket', tmp.path('warden.sock')]);
    const established = await ssCounts(srv, 'established', 22);
    const timeWait = await ssCounts(srv, 'time-wait', 22);
    assert.deepEqual(established, new Map([['192.0.2.10', 3], ['2001:db8::10', 2]]), 'the oracle sees what the clients opened');
    assert.deepEqual(new Map(peers.map((p) => [p.ip, p.states['ESTABLISHED'] ?? 0])), established);
    assert.deepEqual(new Map(peers.filter((p) => p.states['TIME_WAIT']).map((p) => [p.ip, p.states['TIME_WAIT']])), timeWait);
    assert.deepEqual(peers, [
      { ip: '192.0.2.10', count: 4, states: { ESTABLISHED: 3, TIME_WAIT: 1 }, banned: true, allowed: false },
      { ip: '2001:db8::10', count: 2, states: { ESTABLISHED: 2 }, banned: false, allowed: false },
    ]);

    const other = await runIn(srv, ['--port', '2222', '--socket', tmp.path('absent.sock'), '--allow', '192.0.2.0/28,::1', '--allow', '10.0.0.0/8']);
    assert.deepEqual(other, [{ ip: '192.0.2.10', count: 1, states: { ESTABLISHED: 1 }, banned: null, allowed: true }]);
    assert.deepEqual(await ssCounts(srv, 'established', 2222), new Map([['192.0.2.10', 1]]));

    const text = await lab.run(srv, [process.execPath, RUNNER, 'connections', '--socket', tmp.path('warden.sock')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^192\.0\.2\.10\s+4\s+ESTABLISHED 3, TIME_WAIT 1\s+BANNED$/m);
    assert.match(text.stdout, /^2001:db8::10\s+2\s+ESTABLISHED 2\s+no$/m);
    assert.match(text.stdout, /1 banned address\(es\) with established connections/);
    const noDaemon = await lab.run(srv, [process.execPath, RUNNER, 'connections', '--json', '--socket', tmp.path('absent.sock')]);
    assert.match(noDaemon.stderr, /ban status unknown: cannot reach the daemon/);
    assert.ok((JSON.parse(noDaemon.stdout) as PeerJson[]).every((p) => p.banned === null));
  });
});
