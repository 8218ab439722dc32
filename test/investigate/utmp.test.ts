import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { execFileChecked } from '../../src/util/exec.js';
import { decodeAddress, encodeAddress, encodeUtmp, parseUtmp, UTMP_RECORD_SIZE, UtmpType, type UtmpInput } from '../../src/investigate/utmp.js';
import { missing } from '../helpers/require.js';
import { tempDir } from './fixtures.js';

const NOW = Date.UTC(2024, 5, 1) / 1000;

test('the record layout: 384 bytes, every field at its glibc offset', () => {
  const b = encodeUtmp({
    type: UtmpType.USER_PROCESS, pid: 0x01020304, line: 'pts/7', id: 'ts/7', user: 'alice', host: 'example.org',
    exit: { termination: 3, status: 4 }, session: 99, sec: 1_700_000_000, usec: 250_000, address: '192.0.2.9',
  });
  assert.equal(b.length, UTMP_RECORD_SIZE);
  assert.equal(b.readInt16LE(0), 7);
  assert.equal(b.readInt32LE(4), 0x01020304);
  assert.equal(b.toString('latin1', 8, 13), 'pts/7');
  assert.equal(b.toString('latin1', 40, 44), 'ts/7');
  assert.equal(b.toString('latin1', 44, 49), 'alice');
  assert.equal(b.toString('latin1', 76, 87), 'example.org');
  assert.equal(b.readInt16LE(332), 3);
  assert.equal(b.readInt16LE(334), 4);
  assert.equal(b.readInt32LE(336), 99);
  assert.equal(b.readUInt32LE(340), 1_700_000_000);
  assert.equal(b.readUInt32LE(344), 250_000);
  assert.deepEqual([...b.subarray(348, 364)], [192, 0, 2, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.ok(b.subarray(364).every((x) => x === 0), 'unused tail is zero');
});

test('addresses: IPv4 in the first word, IPv6, IPv4-mapped folded to IPv4, zero means none', () => {
  const bytes = (...b: number[]) => Uint8Array.from([...b, ...new Array<number>(16 - b.length).fill(0)]);
  assert.equal(decodeAddress(bytes(198, 51, 100, 7)), '198.51.100.7');
  assert.equal(decodeAddress(bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), '2001:db8::1');
  assert.equal(decodeAddress(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1)), '192.0.2.1');
  assert.equal(decodeAddress(bytes()), null);
  assert.equal(decodeAddress(Uint8Array.from([1, 2, 3])), null, 'wrong size: no address, no exception');
  for (const a of ['203.0.113.200', '2001:db8:1:2:3:4:5:6', '2001:db8::1:0']) assert.equal(decodeAddress(encodeAddress(a)), a);
  // The format cannot tell an IPv6 address with 96 zero low bits from IPv4; last(1) reads it as IPv4 too.
  assert.equal(decodeAddress(encodeAddress('2001:db8::')), '32.1.13.184');
  assert.equal(decodeAddress(encodeAddress('::ffff:203.0.113.4')), '203.0.113.4');
  assert.throws(() => encodeAddress('example.org'), /not an IP address/);
});

test('strings end at the first NUL, may fill their field, and keep untrusted bytes visible', () => {
  const b = encodeUtmp({ type: UtmpType.USER_PROCESS, user: 'u'.repeat(40), line: 'pts/1', host: 'h'.repeat(256), sec: NOW });
  b.write('ab\0g', 40, 'latin1'); // ut_id: 4 bytes, "ab", NUL, then a byte that must be ignored
  Buffer.from([0x62, 0x6f, 0x62, 0xff, 0x1b, 0x5b, 0x32, 0x4a]).copy(b, 76); // "bob", invalid UTF-8, ESC [2J
  b[84] = 0;
  const { records, problems } = parseUtmp(b, { now: NOW });
  const r = records[0]!;
  assert.equal(r.user, 'u'.repeat(32), 'a full field has no NUL and is cut at its size');
  assert.equal(r.id, 'ab');
  assert.equal(r.host, 'bob\ufffd\u001b[2J', 'invalid bytes become U+FFFD; control characters are kept for the printer to escape');
  assert.deepEqual(problems, []);
});

test('utmpdump (util-linux) reads the fixtures we write the same way we do', async (t) => {
  const skip = missing(['utmpdump'], false);
  if (skip) return t.skip(skip);
  const inputs: UtmpInput[] = [
    { type: UtmpType.BOOT_TIME, line: '~', id: '~~', user: 'reboot', host: '6.1.0-13-amd64', sec: 1_700_000_000 },
    { type: UtmpType.RUN_LVL, pid: 0x4e35, line: '~', id: '~~', user: 'runlevel', host: '6.1.0-13-amd64', sec: 1_700_000_005, usec: 1 },
    { type: UtmpType.LOGIN_PROCESS, pid: 812, line: 'tty1', id: 'tty1', user: 'LOGIN', sec: 1_700_000_010 },
    { type: UtmpType.USER_PROCESS, pid: 4242, line: 'pts/0', id: 'ts/0', user: 'alice', host: '192.0.2.10', address: '192.0.2.10', sec: 1_700_000_100, usec: 999_999 },
    { type: UtmpType.USER_PROCESS, pid: 4243, line: 'pts/1', id: 'ts/1', user: 'r'.repeat(32), host: 'h'.repeat(256), address: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', sec: 1_700_000_200 },
    { type: UtmpType.DEAD_PROCESS, pid: 4242, line: 'pts/0', id: 'ts/0', sec: 1_700_000_300, exit: { termination: 0, status: 1 } },
    { type: UtmpType.ACCOUNTING, pid: 1, line: 'acct', user: 'x', sec: 1_700_000_400 },
  ];
  const tmp = tempDir();
  try {
    const file = tmp.path('utmp');
    const data = Buffer.concat(inputs.map(encodeUtmp));
    writeFileSync(file, data);
    const dump = (await execFileChecked('utmpdump', [file], { env: { ...process.env, TZ: 'UTC' } })).stdout;
    const lines = dump.split('\n').filter((l) => l.startsWith('['));
    const ours = parseUtmp(data, { now: NOW }).records;
    assert.equal(lines.length, ours.length);
    lines.forEach((line, i) => {
      const m = /^\[(\d+)\] \[(\d+)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(.*?)\] \[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d),(\d{6})\+00:00\]$/.exec(line);
      assert.ok(m, `utmpdump line not understood: ${line}`);
      const r = ours[i]!;
      assert.equal(Number(m[1]), r.type, line);
      assert.equal(Number(m[2]), r.pid, line);
      assert.equal(m[3]!.trimEnd(), r.id, line);
      assert.equal(m[4]!.trimEnd(), r.user, line);
      assert.equal(m[5]!.trimEnd(), r.line, line);
      assert.equal(m[6]!.trimEnd(), r.host, line);
      assert.equal(m[7]!.trimEnd(), r.address ?? '0.0.0.0', line);
      assert.equal(Date.parse(`${m[8]}Z`) / 1000, r.sec, line);
      assert.equal(Number(m[9]), r.usec, line);
    });
  } finally {
    tmp.remove();
  }
});

test('a trailing partial record is reported with its offset; the whole records are still read', () => {
  const recs = [1, 2, 3].map((n) => encodeUtmp({ type: UtmpType.USER_PROCESS, user: `u${n}`, line: `pts/${n}`, sec: NOW - n }));
  const data = Buffer.concat([...recs, recs[0]!.subarray(0, 100)]);
  const { records, problems } = parseUtmp(data, { now: NOW });
  assert.deepEqual(records.map((r) => [r.user, r.offset]), [['u1', 0], ['u2', 384], ['u3', 768]]);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.kind, 'partial-record');
  assert.equal(problems[0]?.offset, 1152);
  assert.match(problems[0]!.message, /size 1252 is not a multiple of 384: 100 bytes .* at the end/);
});

test('a file whose head was cut off is aligned from its end instead', () => {
  const recs = [1, 2, 3].map((n) => encodeUtmp({ type: UtmpType.USER_PROCESS, user: `u${n}`, line: `pts/${n}`, sec: NOW - n }));
  const data = Buffer.concat([recs[0]!.subarray(284), recs[1]!, recs[2]!]);
  const { records, problems } = parseUtmp(data, { now: NOW });
  assert.deepEqual(records.map((r) => [r.user, r.offset]), [['u2', 100], ['u3', 484]]);
  assert.equal(problems[0]?.kind, 'partial-record');
  assert.equal(problems[0]?.offset, 0);
  assert.match(problems[0]!.message, /at the start/);
});

test('unknown types, zeroed records, impossible times and microseconds are problems with offsets', () => {
  const data = Buffer.concat([
    encodeUtmp({ type: UtmpType.USER_PROCESS, user: 'ok', line: 'pts/0', sec: NOW - 10 }),
    Buffer.alloc(384),
    encodeUtmp({ type: 42, user: 'x', line: 'pts/1', sec: NOW - 5 }),
    encodeUtmp({ type: UtmpType.USER_PROCESS, user: 'old', line: 'pts/2', sec: 86_400 }),
    encodeUtmp({ type: UtmpType.USER_PROCESS, user: 'future', line: 'pts/3', sec: NOW + 10 * 86_400 }),
    encodeUtmp({ type: UtmpType.DEAD_PROCESS, line: 'pts/0', sec: NOW - 1, usec: 2_000_000 }),
    encodeUtmp({ type: UtmpType.EMPTY, line: 'pts/9', sec: 0 }), // a freed slot: no time, no problem
  ]);
  const { records, problems } = parseUtmp(data, { now: NOW });
  assert.equal(records.length, 7);
  assert.equal(records[1]?.zeroed, true);
  assert.equal(records[2]?.typeName, 'UNKNOWN');
  assert.deepEqual(problems.map((p) => [p.kind, p.offset]), [
    ['zeroed', 384], ['unknown-type', 768], ['bad-time', 1152], ['bad-time', 1536], ['bad-usec', 1920],
  ]);
  assert.match(problems[2]!.message, /1970-01-02T00:00:00.000Z\) is before 1990/);
  assert.match(problems[3]!.message, /in the future/);
});

test('never throws on garbage, whatever its size', () => {
  let seed = 12345;
  const rand = () => { seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31; return seed / 2 ** 31; };
  assert.deepEqual(parseUtmp(Buffer.alloc(0)), { records: [], problems: [] });
  for (let i = 0; i < 300; i++) {
    const data = Buffer.alloc(Math.floor(rand() * 3000));
    for (let j = 0; j < data.length; j++) data[j] = Math.floor(rand() * 256);
    const { records, problems } = parseUtmp(data);
    assert.equal(records.length, Math.floor(data.length / 384));
    if (data.length % 384) assert.equal(problems[0]?.kind, 'partial-record');
    for (const r of records) {
      assert.equal(typeof r.user, 'string');
      assert.ok(r.address === null || typeof r.address === 'string');
    }
  }
});
