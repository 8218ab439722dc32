import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../helpers/random.js';
import { ByteClass, createKernel, wasmKernelProblem, type ByteKernel } from '../../src/investigate/byte-kernel.js';

/** The plain answers: every offset tried, every byte counted. */
function findSlow(data: Buffer, needle: Buffer, from: number, to: number): number {
  for (let p = from; p + needle.length <= to; p++) if (data.subarray(p, p + needle.length).equals(needle)) return p;
  return -1;
}
function newlinesSlow(data: Buffer, from: number, to: number): number {
  let n = 0;
  for (let p = from; p < to; p++) if (data[p] === 0x0a) n++;
  return n;
}

function classSlow(data: Buffer, from: number, to: number): ByteClass {
  let cls = ByteClass.Plain;
  for (let p = from; p < to; p++) {
    const b = data[p]!;
    if (b < 0x20 || b > 0x7e) return ByteClass.Other;
    if (b === 0x22 || b === 0x5c) cls = ByteClass.Printable;
  }
  return cls;
}

test('the WebAssembly byte kernel runs on this machine (the search falls back to Buffer.indexOf without it)', () => {
  assert.equal(wasmKernelProblem(), undefined);
});

test('both byte kernels find needles and count newlines exactly, at any offset and alignment', () => {
  const random = rng(11);
  // Few distinct bytes, so that partial matches (first and last byte right, middle wrong) are common.
  const alphabet = Buffer.from('ab1.\n');
  const needles = ['a', 'ab', '1.1', 'a.b.1', 'ab1.ab1.ab1.ab1', 'ab1.ab1.ab1.ab1.', 'ab1.ab1.ab1.ab1.a', '1'.repeat(40)].map((t) => Buffer.from(t));
  for (let round = 0; round < 40; round++) {
    const size = Math.floor(random() * 3000);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = alphabet[Math.floor(random() * (round % 2 ? 4 : 5))]!;
    // Plant whole needles now and then.
    for (let k = 0; k < 5 && size > 50; k++) needles[Math.floor(random() * needles.length)]!.copy(data, Math.floor(random() * (size - 45)));
    const kernels: Array<[string, ByteKernel]> = [['wasm', createKernel(needles, 'wasm')], ['native', createKernel(needles, 'native')]];
    for (const [name, kernel] of kernels) {
      const chunkFrom = Math.floor(random() * Math.min(size, 40));
      const at = kernel.load(data, chunkFrom, size);
      const shift = at - chunkFrom;
      for (let q = 0; q < 30; q++) {
        const from = chunkFrom + Math.floor(random() * (size - chunkFrom + 1));
        const to = from + Math.floor(random() * (size - from + 1));
        assert.equal(kernel.countNewlines(from + shift, to + shift), newlinesSlow(data, from, to), `${name}: newlines in [${from}, ${to}) of ${size}`);
        needles.forEach((needle, i) => {
          const want = findSlow(data, needle, from, to);
          const got = kernel.find(i, from + shift, to + shift);
          assert.equal(got < 0 ? -1 : got - shift, want, `${name}: "${needle.toString()}" in [${from}, ${to}) of ${size}, round ${round}`);
        });
      }
    }
  }
});

test('the WebAssembly kernel grows its memory for a large chunk, and keeps its needles', () => {
  const kernel = createKernel([Buffer.from('NEEDLE')], 'wasm');
  for (const size of [100, 3 * 1024 * 1024 + 7, 200]) {
    const data = Buffer.alloc(size, 'x');
    data[17] = 0x0a;
    data[size - 2] = 0x0a;
    Buffer.from('NEEDLE').copy(data, size - 9);
    const at = kernel.load(data, 0, size);
    assert.equal(kernel.buf.subarray(at, at + size).equals(data), true);
    assert.equal(kernel.countNewlines(at, at + size), 2);
    assert.equal(kernel.find(0, at, at + size), at + size - 9);
    assert.equal(kernel.find(0, at, at + size - 4), -1);
  }
});

test('both byte kernels class a line\'s bytes exactly: plain, printable with a quote or backslash, or other', () => {
  const random = rng(5);
  // Mostly plain, with each kind of awkward byte now and then, at every position of a 16-byte step.
  const plain = Buffer.from('a ~!#[]09Zz');
  const awkward = [0x22, 0x5c, 0x1f, 0x00, 0x09, 0x7f, 0x80, 0xc3, 0xff, 0x20, 0x7e];
  const kernels: Array<[string, ByteKernel]> = [['wasm', createKernel([Buffer.from('q')], 'wasm')], ['native', createKernel([Buffer.from('q')], 'native')]];
  for (let round = 0; round < 3000; round++) {
    const length = Math.floor(random() * 70);
    const data = Buffer.alloc(length + 40);
    for (let i = 0; i < data.length; i++) data[i] = plain[Math.floor(random() * plain.length)]!;
    const from = Math.floor(random() * 20);
    for (let k = Math.floor(random() * 3); k > 0 && length > 0; k--) data[from + Math.floor(random() * length)] = awkward[Math.floor(random() * awkward.length)]!;
    const want = classSlow(data, from, from + length);
    for (const [name, kernel] of kernels) {
      const at = kernel.load(data, 0, data.length);
      assert.equal(kernel.classify(at + from, at + from + length), want, `${name}: ${JSON.stringify(data.toString('latin1', from, from + length))}`);
    }
  }
});
