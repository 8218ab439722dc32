import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NetnsLab } from '../helpers/netns.js';

/**
 * Packet-level probes for firewall tests: a TCP echo server and clients, each a `node -e` child
 * run inside a namespace with `ip netns exec`, so the tests see what an attacker would see.
 */

const SERVER = `
const net = require('node:net');
const srv = net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
srv.listen(Number(process.argv[1]), '::', () => console.log('listening'));
`;

/** Exit 0 and prints "ok" when an echo comes back; "timeout"/"error" otherwise. */
const CONNECT = `
const net = require('node:net');
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
setTimeout(() => { console.log('timeout'); process.exit(2); }, Number(ms));
s.on('connect', () => s.write('hi'));
s.on('data', () => { console.log('ok'); process.exit(0); });
s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
`;

/**
 * Long-lived client: connects and reports "connected" after a first echo; then each "ping" line on
 * stdin sends a byte and reports "echo" or, after `ms` without an answer, "silent".
 */
const SESSION = `
const net = require('node:net');
const rl = require('node:readline').createInterface({ input: process.stdin });
const [host, port, ms] = process.argv.slice(1);
let waiting = null;
const s = net.connect({ host, port: Number(port) });
s.on('connect', () => s.write('hi'));
s.on('error', () => {});
let first = true;
s.on('data', () => {
  if (first) { first = false; console.log('connected'); return; }
  if (waiting) { clearTimeout(waiting); waiting = null; console.log('echo'); }
});
rl.on('line', (l) => {
  if (l !== 'ping') { s.destroy(); process.exit(0); }
  s.write('x');
  waiting = setTimeout(() => { waiting = null; console.log('silent'); }, Number(ms));
});
`;

function spawnIn(ns: string, code: string, args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Reads the next stdout line of a child (rejects after `ms`). */
function lineReader(child: ChildProcessWithoutNullStreams): (ms: number) => Promise<string> {
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  return (ms) => new Promise((resolve, reject) => {
    const l = lines.shift();
    if (l !== undefined) return resolve(l);
    const timer = setTimeout(() => reject(new Error(`no output within ${ms} ms`)), ms);
    waiters.push((line) => { clearTimeout(timer); resolve(line); });
  });
}

export interface Stoppable {
  stop(): Promise<void>;
}

function stopper(child: ChildProcessWithoutNullStreams): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((r) => child.once('close', () => r()));
    child.kill('SIGKILL'); // the process we started, by its handle
    await closed;
  };
}

export async function startEchoServer(ns: string, port: number): Promise<Stoppable> {
  const child = spawnIn(ns, SERVER, [String(port)]);
  const next = lineReader(child);
  const stop = stopper(child);
  try {
    const line = await next(10_000);
    if (line !== 'listening') throw new Error(`echo server said ${line}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}

/** True when a TCP connection from `ns` to host:port gets its echo within `ms`. */
export async function canConnect(lab: NetnsLab, ns: string, host: string, port: number, ms = 1_000): Promise<boolean> {
  const r = await lab.run(ns, [process.execPath, '-e', CONNECT, host, String(port), String(ms)], { timeoutMs: ms + 10_000 });
  return r.code === 0 && r.stdout.trim() === 'ok';
}

export interface Session extends Stoppable {
  /** Sends one byte: true if echoed within the session's `ms`. */
  ping(): Promise<boolean>;
}

/** An established TCP connection that stays open across ban/unban. */
export async function openSession(ns: string, host: string, port: number, ms = 1_000): Promise<Session> {
  const child = spawnIn(ns, SESSION, [host, String(port), String(ms)]);
  const next = lineReader(child);
  const stop = stopper(child);
  try {
    const line = await next(10_000);
    if (line !== 'connected') throw new Error(`session said ${line}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    stop,
    async ping() {
      child.stdin.write('ping\n');
      return (await next(ms + 5_000)) === 'echo';
    },
  };
}
