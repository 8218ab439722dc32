import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { execFile } from '../../src/util/exec.js';
import { LineScanner } from '../../src/investigate/log-lines.js';
import { idleCores, Progress, runnableTasks, runnableThreads, selectLogs, textSizeOf } from '../../src/investigate/log-sources.js';
import { runSearch } from '../../src/investigate/search.js';
import { mentionsAddress, parseTarget, TargetError, usersIn } from '../../src/investigate/search-target.js';
import { missing } from '../helpers/require.js';
import { tempDir } from './fixtures.js';
import { findGenerator, generate, runIncident, runIncidentJson, syslogLine } from './incident-helpers.js';

interface SearchJson {
  matches: Array<{ file: string; line: number; time: string | null; text: string }>;
  summary: {
    target: string; kind: string; matches: number; failures: number; successes: number; firstSeen: string | null; lastSeen: string | null;
    addresses: Array<{ address: string; failures: number; successes: number }>;
    users: Array<{ user: string; failures: number; successes: number }>;
    bans: { source: string; active: Array<{ ip: string; jail: string; permanent: boolean }>; history: Array<{ action: string; target: string; jail: string | null }>; error: string | null };
    sources: Array<{ path: string; kind: string; compressed: boolean; lines: number; matches: number; skipped: boolean; problem?: string }>;
    problems: string[];
  };
}

function address(text: string) {
  const t = parseTarget(text);
  assert.equal(t.kind, 'address');
  return t as Extract<ReturnType<typeof parseTarget>, { kind: 'address' }>;
}

test('addresses are matched as whole tokens: no prefix, suffix or embedded matches; mapped IPv4, ports, ranges found', () => {
  const a = address('192.0.2.1');
  const yes = [
    'Failed password for root from 192.0.2.1 port 22 ssh2',
    'Accepted publickey for bob from ::ffff:192.0.2.1 port 22 ssh2',
    'pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root',
    'connect to 192.0.2.1:22 failed',
    'the peer was 192.0.2.1.',
  ];
  const no = [
    'Failed password for root from 192.0.2.10 port 22 ssh2',
    'Failed password for root from 1192.0.2.1 port 22 ssh2',
    'version 192.0.2.1.5 installed',
    'user=x192.0.2.1 here',
    'from 192.0.2.1a',
    'from 10.192.0.2.1 port 5',
  ];
  for (const l of yes) assert.ok(mentionsAddress(l, a), `should match: ${l}`);
  for (const l of no) assert.ok(!mentionsAddress(l, a), `should not match: ${l}`);

  const v6 = address('2001:db8::1');
  assert.equal(v6.text, '2001:db8::1');
  for (const l of ['from 2001:db8:0:0::1 port 22', 'from [2001:db8::1]:22', 'from 2001:DB8::1 port 1', 'ban 2001:db8::/64 in sshd for 10m: x']) assert.ok(mentionsAddress(l, v6), l);
  for (const l of ['from 2001:db8::10 port 22', 'from 2001:db8::1:5 port 22', 'from 2001:db8::1f port 2']) assert.ok(!mentionsAddress(l, v6), l);

  const net = address('203.0.113.0/24');
  assert.equal(net.single, false);
  for (const l of ['from 203.0.113.5 port 1', 'from ::ffff:203.0.113.77 port 1', 'ban 203.0.113.0/25 in sshd for 1h: x']) assert.ok(mentionsAddress(l, net), l);
  for (const l of ['from 203.0.114.5 port 1', 'from 1203.0.113.5 port 1', 'from 203.0.11.3 port 1']) assert.ok(!mentionsAddress(l, net), l);

  assert.equal(address('::ffff:192.0.2.9').text, '192.0.2.9');
  assert.throws(() => parseTarget('192.0.2.300'), TargetError);
  assert.throws(() => parseTarget('10.0.0.0/40'), TargetError);
  assert.deepEqual(parseTarget('bob'), { kind: 'user', text: 'bob', user: 'bob', needles: [Buffer.from('bob')] });
});

test('users are read where messages name them: "bob" is not "bobby", crafted names are not split', () => {
  const cases: Array<[string, string[]]> = [
    ['Failed password for bob from 192.0.2.1 port 22 ssh2', ['bob']],
    ['Failed password for invalid user bobby from 192.0.2.1 port 22 ssh2', ['bobby']],
    ['Accepted publickey for bob from 192.0.2.1 port 22 ssh2: ED25519 SHA256:q3Vd8b0Zp9rKf2mXo1VYJt7x1yqC3n8R2o4kHcP0wEs', ['bob']],
    ['Invalid user bob from 192.0.2.1 port 5', ['bob']],
    ['Connection closed by authenticating user bob 192.0.2.1 port 22 [preauth]', ['bob']],
    ['Disconnected from user bob 192.0.2.1 port 22', ['bob']],
    ['Disconnecting authenticating user root 192.0.2.1 port 2: Too many authentication failures [preauth]', ['root']],
    ['error: maximum authentication attempts exceeded for invalid user bob from 192.0.2.1 port 1 ssh2 [preauth]', ['bob']],
    ['User bob from 192.0.2.1 not allowed because not listed in AllowUsers', ['bob']],
    ['pam_unix(sshd:session): session opened for user bob(uid=1001) by (uid=0)', ['bob']],
    ['pam_unix(sshd:session): session closed for user bob', ['bob']],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=bob', ['bob']],
    ['   bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/id', ['bob', 'root']],
    ['pam_unix(sudo:session): session opened for user root(uid=0) by bob(uid=1001)', ['root', 'bob']],
    ['New session 12 of user bob.', ['bob']],
    ['ROOT LOGIN REFUSED FROM 192.0.2.1 port 22', ['root']],
    ['message repeated 3 times: [ Failed password for bob from 192.0.2.1 port 22 ssh2]', ['bob']],
    ['Failed password for invalid user bob from 198.51.100.99 port 22 ssh2 from 192.0.2.40 port 54101 ssh2', ['bob from 198.51.100.99 port 22 ssh2']],
    ['Received disconnect from 192.0.2.1 port 22:11: bye bob', []],
    ['Accepted key ED25519 SHA256:x found at /home/bob/.ssh/authorized_keys:1', []],
    ['pam_unix(sshd:auth): check pass; user unknown', []],
  ];
  for (const [message, users] of cases) assert.deepEqual(usersIn(message), users, message);
});

test('the line scanner finds needles across chunk boundaries, numbers lines, and cuts nothing', () => {
  const lines = Array.from({ length: 5000 }, (_, i) => (i % 7 === 3 ? `line ${i} has NEEDLE here` : `line ${i} ${'x'.repeat(i % 50)}`));
  const data = Buffer.from(lines.join('\n')); // no final newline
  const expected = lines.map((l, i) => [i + 1, l] as const).filter(([, l]) => l.includes('NEEDLE'));
  for (const size of [1, 7, 64, 1000, data.length]) {
    for (const needles of [[Buffer.from('NEEDLE')], [Buffer.from('NEEDLE'), Buffer.from('has')]]) {
      const got: Array<readonly [number, string]> = [];
      const s = new LineScanner(needles, (b, st, e, n) => got.push([n, b.toString('utf8', st, e)]));
      for (let i = 0; i < data.length; i += size) s.push(data.subarray(i, i + size));
      s.end();
      assert.deepEqual(got, expected, `chunk size ${size}, ${needles.length} needles`);
      assert.equal(s.lines, lines.length);
    }
  }
  const all: string[] = [];
  const s = new LineScanner(null, (b, st, e) => all.push(b.toString('utf8', st, e)));
  for (let i = 0; i < data.length; i += 333) s.push(data.subarray(i, i + 333));
  s.end();
  assert.deepEqual(all, lines);
});

test('a log\'s text size, for sharing the work out: its size, or what a gzip trailer records', () => {
  const tmp = tempDir();
  try {
    const text = Buffer.from('Mar  1 00:00:01 host sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2\n'.repeat(2000));
    const plain = tmp.path('auth.log.1');
    const gz = tmp.path('auth.log.2.gz');
    const cut = tmp.path('auth.log.3.gz');
    writeFileSync(plain, text);
    const packed = gzipSync(text);
    writeFileSync(gz, packed);
    // Damaged: its trailer records fewer bytes than the file has (a multi-member or garbled file).
    writeFileSync(cut, Buffer.concat([packed.subarray(0, 36), Buffer.alloc(4)]));
    assert.deepEqual(textSizeOf(plain, text.length), { compressed: false, text: text.length });
    assert.deepEqual(textSizeOf(gz, packed.length), { compressed: true, text: text.length });
    assert.ok(packed.length * 8 < text.length, 'the test text compresses more than 8 times');
    assert.deepEqual(textSizeOf(cut, 40), { compressed: true, text: 320 });
    assert.deepEqual(textSizeOf(tmp.path('missing.gz'), 100), { compressed: false, text: 100 });
  } finally {
    tmp.remove();
  }
});

test('idle cores come from the tasks runnable now (/proc/stat), not the load average', () => {
  const tmp = tempDir();
  const stat = tmp.path('stat');
  writeFileSync(stat, 'cpu  1 2 3 4\nctxt 99\nprocs_running 3\nprocs_blocked 1\n');
  assert.equal(runnableTasks(stat), 3);
  writeFileSync(stat, 'cpu  1 2 3 4\n');
  assert.equal(runnableTasks(stat), undefined);
  assert.equal(runnableTasks(tmp.path('missing')), undefined);
  // This machine: the reading thread itself is runnable.
  const here = runnableTasks();
  assert.ok(here !== undefined && here >= 1, String(here));
  const idle = idleCores();
  assert.ok(idle >= 1 && idle <= availableParallelism());

  // This process's own runnable threads are not load: counted from /proc/self/task/*/stat.
  const tasks = tmp.path('task');
  const thread = (tid: string, stat: string) => {
    mkdirSync(join(tasks, tid), { recursive: true });
    writeFileSync(join(tasks, tid, 'stat'), stat);
  };
  thread('100', '100 (node) R 1 100 100 0 -1 4194560 0 0\n');
  thread('101', '101 (V8 Worker) S 1 100 100 0 -1\n');
  thread('102', '102 (a) R (b)) R 1 100\n'); // a command name with ") R" in it
  thread('103', '103 (libuv-worker) D 1 100\n');
  mkdirSync(join(tasks, '104')); // a thread that ended while the directory was read
  assert.equal(runnableThreads(tasks), 2);
  thread('102', '102 (a) R (b)) S 1 100\n');
  assert.equal(runnableThreads(tasks), 1);
  assert.equal(runnableThreads(tmp.path('no-such-dir')), 1, 'at least the caller');
  assert.ok(runnableThreads() >= 1, 'this thread is running');
  tmp.remove();
});

test('the progress bar is drawn only on a terminal and erased at the end', () => {
  const written: string[] = [];
  const fake = (isTTY: boolean) => ({ isTTY, write: (s: string) => { written.push(s); return true; } }) as unknown as NodeJS.WriteStream;
  const quiet = new Progress(1000, 'searching', fake(false));
  quiet.add(500);
  quiet.finish();
  assert.deepEqual(written, []);
  const bar = new Progress(1000, 'searching', fake(true));
  bar.setLabel('auth.log.2.gz');
  bar.add(500);
  bar.finish();
  assert.match(written[0] ?? '', /^\r\x1b\[Ksearching +0% \[\.+\] 0\.0\/0\.0 MB auth\.log\.2\.gz$/);
  assert.equal(written[written.length - 1], '\r\x1b[K');
});

/**
 * Oracle: zgrep -n -F over the generations (oldest first), kept when the address stands as a token
 * (a regular expression, independent of the search's own token reader).
 */
async function oracle(addr: string, files: readonly string[]): Promise<Array<{ file: string; line: number; text: string }>> {
  const r = await execFile('zgrep', ['-n', '-F', addr, ...files], { timeoutMs: 60_000 });
  const esc = addr.replace(/[.]/g, '\\.');
  const token = new RegExp(`(^|[^\\w.:]|::ffff:)${esc}($|[^\\w:.]|\\.(?!\\d)|:\\d+(?![\\w.:]))`);
  const out: Array<{ file: string; line: number; text: string }> = [];
  for (const l of r.stdout.split('\n')) {
    const m = /^(.*?):(\d+):(.*)$/.exec(l);
    if (!m || !token.test(m[3]!)) continue;
    out.push({ file: m[1]!, line: Number(m[2]), text: m[3]! });
  }
  return out;
}

test('search over rotated and compressed logs finds what zgrep finds (as tokens), in time order, with the filter\'s counts; a cut gzip is reported and the rest shown', async (t) => {
  const skip = missing(['zgrep', 'gzip'], false);
  if (skip) return t.skip(skip);
  const gen = findGenerator();
  if ('skip' in gen) return t.skip(gen.skip);
  const tmp = tempDir();
  try {
    const all = tmp.path('all.log');
    const g = await generate(gen.path, 40_000, all, ['--start', 'now-span', '--rate', '20', '--seed', '7']);
    const lines = readFileSync(all, 'utf8').split('\n').filter(Boolean);
    // Lines about 192.0.2.1 and its look-alikes, dated after the generated ones.
    const last = Date.parse(g.summary.last_ts);
    const crafted = [
      syslogLine(last + 1000, 'Failed password for root from 192.0.2.1 port 40001 ssh2', 'sshd', 9001),
      syslogLine(last + 2000, 'Failed password for root from 192.0.2.10 port 40002 ssh2', 'sshd', 9002),
      syslogLine(last + 3000, 'Failed password for admin from ::ffff:192.0.2.1 port 40003 ssh2', 'sshd', 9003),
      syslogLine(last + 4000, 'Failed password for root from 1192.0.2.1 port 40004 ssh2', 'sshd', 9004),
      syslogLine(last + 5000, 'Accepted password for bob from 192.0.2.1 port 40005 ssh2', 'sshd', 9005),
      syslogLine(last + 6000, 'Connection to 192.0.2.1:22 refused', 'other', 1),
    ];
    const parts = [0.25, 0.5, 0.75].map((f) => Math.floor(lines.length * f));
    const chunk = (a: number, b: number) => `${lines.slice(a, b).join('\n')}\n`;
    writeFileSync(tmp.path('auth.log.3.gz'), gzipSync(chunk(0, parts[0]!)));
    writeFileSync(tmp.path('auth.log.2.gz'), gzipSync(chunk(parts[0]!, parts[1]!)));
    writeFileSync(tmp.path('auth.log.1'), chunk(parts[1]!, parts[2]!));
    writeFileSync(tmp.path('auth.log'), chunk(parts[2]!, lines.length) + crafted.join('\n') + '\n');
    const files = ['auth.log.3.gz', 'auth.log.2.gz', 'auth.log.1', 'auth.log'].map((n) => tmp.path(n));

    const top = [...g.truth].filter(([a]) => a.includes('.')).sort((x, y) => y[1].f2bAggr - x[1].f2bAggr);
    const targets = [top[0]![0], top[Math.min(30, top.length - 1)]![0], '192.0.2.1'];
    for (const addr of targets) {
      const { json } = await runIncidentJson<SearchJson>('search', [addr, '--log', tmp.path('auth.log')], [0]);
      const expected = await oracle(addr, files);
      assert.deepEqual(json.matches.map((m) => ({ file: m.file, line: m.line, text: m.text })), expected, addr);
      const times = json.matches.map((m) => Date.parse(m.time ?? ''));
      assert.ok(times.every((x, i) => i === 0 || x >= times[i - 1]!), 'in time order');
      if (addr !== '192.0.2.1') {
        assert.equal(json.summary.failures, g.truth.get(addr)!.f2bAggr, `${addr}: failures as the generator's truth (f2b_aggr)`);
        assert.equal(json.summary.successes, g.truth.get(addr)!.success);
      } else {
        assert.equal(json.summary.failures, 2);
        assert.equal(json.summary.successes, 1);
        assert.deepEqual(json.summary.users.map((u) => u.user).sort(), ['admin', 'bob', 'root']);
      }
      assert.equal(json.summary.sources.filter((s) => s.compressed).length, 2);
      assert.deepEqual(json.summary.problems, []);
    }

    // The same search in worker threads gives the same result.
    const sel = selectLogs([tmp.path('auth.log')]);
    const inline = await runSearch({ files: sel.files }, { target: targets[0]!, now: Date.now(), workers: 0 });
    const threaded = await runSearch({ files: sel.files }, { target: targets[0]!, now: Date.now(), workers: 2 });
    assert.deepEqual(threaded.matches, inline.matches);
    assert.equal(threaded.failures, inline.failures);

    // A compressed generation cut short: reported, and every line before the cut still shown.
    const gz = readFileSync(tmp.path('auth.log.3.gz'));
    writeFileSync(tmp.path('auth.log.3.gz'), gz.subarray(0, Math.floor(gz.length * 0.6)));
    const { json } = await runIncidentJson<SearchJson>('search', [targets[0]!, '--log', tmp.path('auth.log')], [0]);
    const expected = await oracle(targets[0]!, files);
    assert.deepEqual(json.matches.map((m) => ({ file: m.file, line: m.line, text: m.text })), expected);
    assert.ok(expected.some((m) => m.file.endsWith('auth.log.3.gz')), 'lines before the cut are found');
    const cut = json.summary.sources.find((s) => s.path.endsWith('auth.log.3.gz'));
    assert.match(cut?.problem ?? '', /ends early/);
    assert.equal(json.summary.problems.length, 1);
    const text = await runIncident('search', [targets[0]!, '--log', tmp.path('auth.log')]);
    assert.match(text.stdout, /problems:\n {2}! .*auth\.log\.3\.gz: the compressed data ends early/);

    // --since skips rotated files written before it, and lines before it.
    const since = new Date(Date.parse(g.summary.last_ts) - 60_000).toISOString();
    const recent = await runIncidentJson<SearchJson>('search', ['192.0.2.1', '--log', tmp.path('auth.log'), '--since', since], [0]);
    assert.equal(recent.json.matches.length, 4);
    assert.equal(statSync(tmp.path('auth.log.1')).isFile(), true);
  } finally {
    tmp.remove();
  }
});

test('user and range searches on a hand-checked log; warden\'s log gives the ban history; the daemon the current bans', async () => {
  const tmp = tempDir();
  const server = createServer((socket) => {
    socket.once('data', () => {
      socket.end(JSON.stringify({
        ok: true,
        result: [
          { ip: '203.0.113.7', jail: 'sshd', since: '2026-01-01T00:00:00.000Z', until: null, permanent: true, remaining: null, reason: 'test', origin: 'auto', evidence: [] },
          { ip: '198.51.100.1', jail: 'sshd', since: '2026-01-01T00:00:00.000Z', until: null, permanent: true, remaining: null, reason: 'other', origin: 'auto', evidence: [] },
        ],
      }) + '\n');
    });
  });
  try {
    const now = Date.now() - 3_600_000;
    const at = (k: number) => now + k * 1000;
    const log = [
      syslogLine(at(1), 'Failed password for bob from 203.0.113.7 port 40001 ssh2', 'sshd', 100), // 1 bob, range
      syslogLine(at(2), 'Failed password for invalid user bobby from 203.0.113.8 port 40002 ssh2', 'sshd', 101), // 2 range
      syslogLine(at(3), 'Accepted publickey for bob from 198.51.100.20 port 40003 ssh2: ED25519 SHA256:q3Vd8b0Zp9rKf2mXo1VYJt7x1yqC3n8R2o4kHcP0wEs', 'sshd', 102), // 3 bob
      syslogLine(at(4), 'pam_unix(sshd:session): session opened for user bob(uid=1001) by (uid=0)', 'sshd', 102), // 4 bob
      syslogLine(at(5), 'pam_unix(cron:session): session opened for user bob(uid=1001) by (uid=0)', 'CRON', 103), // 5 cron: not shown
      syslogLine(at(6), '   bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/id', 'sudo', null), // 6 bob
      syslogLine(at(7), 'Received disconnect from 203.0.113.9 port 40004:11: bob says bye [preauth]', 'sshd', 104), // 7 range only
      syslogLine(at(8), 'Failed password for invalid user bob from 198.51.100.99 port 22 ssh2 from 192.0.2.40 port 5 ssh2', 'sshd', 105), // 8 neither bob nor range
      syslogLine(at(9), 'Connection closed by 1203.0.113.5 port 1 [preauth]', 'sshd', 106), // 9 nothing
      syslogLine(at(10), 'Disconnected from user bob 198.51.100.20 port 40003', 'sshd', 102), // 10 bob
    ];
    writeFileSync(tmp.path('auth.log'), log.join('\n') + '\n');
    const iso = (k: number) => new Date(at(k)).toISOString().replace(/\.\d+Z$/, 'Z');
    writeFileSync(tmp.path('warden.log'), [
      `${new Date(at(1)).toISOString()} WARN  ban 203.0.113.7 in sshd for 10m: 5 failures in 10m (failed-auth); first ban`,
      `${new Date(at(2)).toISOString()} INFO  ban of 203.0.113.7 (sshd) expired`,
      `${new Date(at(3)).toISOString()} WARN  ban 198.51.100.1 in sshd for 10m: 5 failures in 10m (failed-auth); first ban`,
    ].join('\n') + '\n');
    const socket = tmp.path('warden.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));

    const bob = await runIncidentJson<SearchJson>('search', ['bob', '--log', tmp.path('auth.log'), '--socket', socket, '--warden-log', tmp.path('warden.log')]);
    assert.deepEqual(bob.json.matches.map((m) => m.line), [1, 3, 4, 6, 10]);
    assert.equal(bob.json.matches[0]!.time, iso(1));
    assert.equal(bob.json.summary.failures, 1);
    assert.equal(bob.json.summary.successes, 1);
    assert.deepEqual(bob.json.summary.addresses.map((a) => a.address), ['198.51.100.20', '203.0.113.7']);
    // The daemon's bans of the addresses bob came from.
    assert.deepEqual(bob.json.summary.bans.active.map((b) => b.ip), ['203.0.113.7']);
    const withCron = await runIncidentJson<SearchJson>('search', ['bob', '--log', tmp.path('auth.log'), '--cron', '--socket', socket]);
    assert.deepEqual(withCron.json.matches.map((m) => m.line), [1, 3, 4, 5, 6, 10]);

    const range = await runIncidentJson<SearchJson>('search', ['203.0.113.0/24', '--log', tmp.path('auth.log'), '--socket', tmp.path('none.sock'), '--warden-log', tmp.path('warden.log')]);
    assert.deepEqual(range.json.matches.filter((m) => m.file.endsWith('auth.log')).map((m) => m.line), [1, 2, 7]);
    assert.deepEqual(range.json.matches.map((m) => m.file.endsWith('warden.log') ? `w${m.line}` : m.line), [1, 'w1', 2, 'w2', 7]);
    assert.equal(range.json.summary.failures, 2);
    assert.deepEqual(range.json.summary.addresses.map((a) => a.address).sort(), ['203.0.113.7', '203.0.113.8']);
    assert.equal(range.json.summary.bans.source, 'warden-log');
    assert.deepEqual(range.json.summary.bans.history.map((h) => `${h.action} ${h.target}`), ['ban 203.0.113.7', 'expired 203.0.113.7']);
    assert.match(range.json.summary.bans.error ?? '', /cannot reach the daemon/);

    const none = await runIncident('search', ['carol', '--log', tmp.path('auth.log'), '--socket', socket]);
    assert.equal(none.code, 1, 'nothing found: exit 1');
    assert.match(none.stdout, /carol: 0 lines found in 10 lines of 1 source/);
    const bad = await runIncident('search', ['192.0.2.999', '--log', tmp.path('auth.log')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid IP address or CIDR range/);
  } finally {
    server.close();
    tmp.remove();
  }
});

const REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

/** Writes journal entries (export format through systemd-journal-remote). */
function writeJournal(file: string, entries: Array<{ ms: number; message: string; pid: number; ident?: string }>): Promise<void> {
  const text = entries.map((e) => `__REALTIME_TIMESTAMP=${e.ms * 1000}\n__MONOTONIC_TIMESTAMP=${e.ms * 1000}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n`
    + `_HOSTNAME=web01\nSYSLOG_IDENTIFIER=${e.ident ?? 'sshd'}\nSYSLOG_FACILITY=4\n_PID=${e.pid}\nMESSAGE=${e.message}\n\n`).join('');
  return new Promise((resolve, reject) => {
    const child = spawn(REMOTE!, [`--output=${file}`, '--split-mode=none', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`journal-remote exited ${code}: ${err}`))));
    child.stdin.end(text);
  });
}

test('the journal is read too: entries also written to a file are shown once, the others in time order', async (t) => {
  const skip = missing(['journalctl'], false) ?? (REMOTE ? undefined : 'systemd-journal-remote not found');
  if (skip) return t.skip(skip);
  const tmp = tempDir();
  try {
    const base = Math.floor(Date.now() / 1000) * 1000 - 7_200_000;
    const entries = [
      { ms: base + 1000, message: 'Failed password for root from 192.0.2.7 port 1 ssh2', pid: 11 },
      { ms: base + 2000, message: 'Failed password for root from 192.0.2.7 port 2 ssh2', pid: 12 },
      { ms: base + 3000, message: 'Accepted password for root from 192.0.2.7 port 3 ssh2', pid: 13 },
    ];
    await writeJournal(tmp.path('test.journal'), entries);
    // rsyslog wrote the first two to the file as well; the file also has one the journal lacks.
    writeFileSync(tmp.path('auth.log'), [
      syslogLine(entries[0]!.ms, entries[0]!.message, 'sshd', 11),
      syslogLine(base + 1500, 'Invalid user x from 192.0.2.7 port 9', 'sshd', 99),
      syslogLine(entries[1]!.ms, entries[1]!.message, 'sshd', 12),
    ].join('\n') + '\n');
    const { json } = await runIncidentJson<SearchJson>('search', ['192.0.2.7', '--log', tmp.path('auth.log'), '--journal-file', tmp.path('test.journal')]);
    assert.deepEqual(json.matches.map((m) => [m.file.endsWith('auth.log') ? 'file' : m.file, m.text.replace(/^.*?: /, '')]), [
      ['file', entries[0]!.message],
      ['file', 'Invalid user x from 192.0.2.7 port 9'],
      ['file', entries[1]!.message],
      ['journal', entries[2]!.message],
    ]);
    assert.equal(json.summary.failures, 3);
    assert.equal(json.summary.successes, 1);
    assert.equal(json.summary.sources.find((s) => s.kind === 'journal')?.matches, 1);
    // The journal alone.
    const only = await runIncidentJson<SearchJson>('search', ['192.0.2.7', '--journal-file', tmp.path('test.journal'), '--log', tmp.path('missing.log')], [0]);
    assert.equal(only.json.matches.length, 3);
    assert.match(only.json.summary.problems.join(' '), /missing\.log: does not exist/);
  } finally {
    tmp.remove();
  }
});

test('a line longer than the scanner\'s limit is cut, not lost', () => {
  const long = `Failed password for ${'x'.repeat(70_000)} from 192.0.2.1 port 1 ssh2`;
  const got: number[] = [];
  const s = new LineScanner([Buffer.from('Failed')], (_b, st, e) => got.push(e - st));
  s.push(Buffer.from(`${long}\nshort Failed\n`));
  s.end();
  assert.deepEqual(got, [64 * 1024, 'short Failed'.length]);
  assert.equal(s.truncated, 1);
});

test('the render sink writes exactly what the string renderer renders, for plain and awkward lines', async () => {
  const { MatchRenderer, RenderSink, RENDER_SEPARATOR } = await import('../../src/investigate/search-render.js');
  const lines = [
    'Mar  1 00:00:01 web sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2',
    'quote " and backslash \\ here', 'tab\there', 'esc \x1b[31m red', 'del \x7f and C1 \u0085', 'café ünïcode', 'emoji 😀 pair',
    'lone \ud800 surrogate', 'replacement \ufffd char', 'line sep \u2028 here', '', '~ tilde and space ',
  ];
  for (const mode of ['json', 'text'] as const) {
    const renderer = new MatchRenderer(mode);
    const sink = new RenderSink(mode);
    let expected = '';
    lines.forEach((text, i) => {
      const file = i % 5 === 4 ? 'other "file".log' : '/var/log/auth.log';
      const time = i === 3 ? NaN : Date.UTC(2026, 2, 1, 0, 0, i) + (i % 2) * 400;
      const line = i * 98765 + 1;
      expected += `${RENDER_SEPARATOR[mode]}${renderer.render(file, line, time, text)}`;
      sink.add(file, line, time, text);
    });
    // As bytes: a lone surrogate is written as U+FFFD either way.
    assert.deepEqual(Buffer.concat(sink.take()), Buffer.from(expected, 'utf8'), mode);
  }
});

test('search reads a log only if it is still the file that was selected: one rotated in between is reported', async () => {
  const tmp = tempDir();
  try {
    const path = tmp.path('auth.log');
    writeFileSync(path, syslogLine(Date.now() - 60_000, 'Failed password for root from 198.51.100.9 port 1 ssh2') + '\n');
    const sel = selectLogs([path]);
    // logrotate (create mode) between the selection and the read: a new file takes the name.
    renameSync(path, tmp.path('auth.log.1'));
    writeFileSync(path, syslogLine(Date.now(), 'Failed password for root from 198.51.100.9 port 2 ssh2') + '\n');
    const result = await runSearch({ files: sel.files }, { target: '198.51.100.9', now: Date.now(), workers: 0 });
    assert.equal(result.count, 0, 'the new file is not read as the old one');
    assert.match(result.sources[0]?.problem ?? '', /auth\.log: replaced by another file while it was being read \(log rotation\?\); it was not read/);
  } finally {
    tmp.remove();
  }
});
