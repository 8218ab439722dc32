import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../helpers/random.js';
import { LineScanner, MAX_LINE_BYTES } from '../../src/investigate/log-lines.js';
import type { KernelKind } from '../../src/investigate/byte-kernel.js';

/** Both byte kernels: the WebAssembly one (the default where it runs) and Buffer.indexOf. */
const KERNELS: readonly KernelKind[] = ['wasm', 'native'];

/** What the scanner must hand on: every line holding a needle, numbered, cut to MAX_LINE_BYTES. */
function oracle(data: Buffer, needles: readonly Buffer[]): Array<readonly [number, string]> {
  const out: Array<readonly [number, string]> = [];
  const parts: Buffer[] = [];
  for (let s = 0; s < data.length;) {
    const nl = data.indexOf(10, s);
    const e = nl < 0 ? data.length : nl;
    parts.push(data.subarray(s, e));
    s = e + 1;
  }
  parts.forEach((line, i) => {
    if (needles.some((n) => line.includes(n))) out.push([i + 1, line.subarray(0, MAX_LINE_BYTES).toString('latin1')]);
  });
  return out;
}

function scan(data: Buffer, needles: readonly Buffer[], chunkSizes: readonly number[], kernel: KernelKind): { got: Array<readonly [number, string]>; lines: number } {
  const got: Array<readonly [number, string]> = [];
  const s = new LineScanner(needles, (b, st, e, n) => got.push([n, b.toString('latin1', st, e)]), kernel);
  let k = 0;
  for (let i = 0; i < data.length;) {
    const size = chunkSizes[k++ % chunkSizes.length] as number;
    s.push(data.subarray(i, i + size));
    i += size;
  }
  s.end();
  return { got, lines: s.lines };
}

test('several needles: lines with one, both or repeated needles come once, in order, across any chunking', () => {
  const A = Buffer.from('192.0.2.7');
  const B = Buffer.from('kex_exchange_identification');
  const C = Buffer.from('zz');
  const crafted = [
    'kex_exchange_identification: read: Connection reset by peer [preauth]',
    'Connection closed by 192.0.2.7 port 22 [preauth]',
    '192.0.2.7 kex_exchange_identification 192.0.2.7 kex_exchange_identification',
    'nothing here',
    'kex_exchange_identification192.0.2.7',
    '',
    '192.0.2.7',
    'kex_exchange_identification',
    'zz at the start, 192.0.2.7 later, kex_exchange_identification last',
  ];
  // Lines past MAX_LINE_BYTES (cut), only with chunk sizes that do not carry them a byte at a
  // time. Their needles are before the cut: past it, a line carried over from one chunk to the
  // next is no longer searched (it is kept only up to the cut).
  const long = [
    'x'.repeat(MAX_LINE_BYTES - 100) + ' kex_exchange_identification 192.0.2.7 ' + 'x'.repeat(200),
    'y'.repeat(MAX_LINE_BYTES + 5),
    '192.0.2.7 ' + 'z'.repeat(MAX_LINE_BYTES),
  ];
  const random = rng(6);
  const words = ['192.0.2.7', 'kex_exchange_identification', 'zz', 'sshd[1]:', '192.0.2.70', 'kex_', 'a', ' '];
  const lines = [...crafted];
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(random() * 5);
    lines.push(Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(''));
  }
  lines.push(...crafted);
  const withLong = [...long, ...lines.slice(0, 1500), ...long, ...lines.slice(1500)];
  for (const [all, ending] of [[lines, '\n'], [lines, ''], [withLong, '\n'], [withLong, '']] as const) {
    const data = Buffer.from(all.join('\n') + ending, 'latin1');
    const tiny = all === lines ? [[1], [2], [3], [5]] : [];
    for (const needles of [[A, B], [B, A], [A, B, C], [C, A]]) {
      const expected = oracle(data, needles);
      assert.ok(expected.length > 500);
      // Fixed sizes put the needles' bytes on every chunk edge; varied sizes mix carried lines and
      // whole-chunk scans.
      for (const sizes of [...tiny, [26], [27], [28], [100], [4096], [data.length], [1, 70_000, 13, 9, 200_000], [65_537, 31]]) {
        for (const kernel of KERNELS) {
          const { got, lines: counted } = scan(data, needles, sizes, kernel);
          assert.equal(counted, all.length, `line count, chunks ${sizes.join(',')}, ${kernel}`);
          assert.deepEqual(got, expected, `${needles.map(String).join('|')}, chunks ${sizes.join(',')}, ${kernel}`);
        }
      }
    }
  }
});

test('several needles: chunks starting mid-line after a carried line, and a needle split by every chunk edge', () => {
  const A = Buffer.from('NEEDLE');
  const B = Buffer.from('OTHER');
  const text = 'aaNEEDLEbb\nccOTHERdd\nNEEDLEOTHER\nplain\nOTHER\nxNEEDLE';
  const data = Buffer.from(text);
  const expected = oracle(data, [A, B]);
  assert.deepEqual(expected.map(([n]) => n), [1, 2, 3, 5, 6]);
  for (let cut = 1; cut < data.length; cut++) {
    for (let cut2 = cut + 1; cut2 <= data.length; cut2++) {
      for (const kernel of KERNELS) {
        const got: Array<readonly [number, string]> = [];
        const s = new LineScanner([A, B], (b, st, e, n) => got.push([n, b.toString('latin1', st, e)]), kernel);
        s.push(data.subarray(0, cut));
        s.push(data.subarray(cut, cut2));
        s.push(data.subarray(cut2));
        s.end();
        assert.deepEqual(got, expected, `cuts at ${cut}, ${cut2}, ${kernel}`);
        assert.equal(s.lines, 6);
      }
    }
  }
});
