import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, type LineCounters } from '../../src/sources/lines.js';

function feed(splitter: LineSplitter, data: Buffer, out: string[]): void {
  const n = Math.min(data.length, splitter.writeSpace);
  data.copy(splitter.buffer, splitter.writeOffset, 0, n);
  splitter.commit(n, out);
}

describe('LineSplitter', () => {
  it('tracks the bytes of the incomplete line, so the safe offset is exact', () => {
    const counters: LineCounters = { skipped: 0, truncated: 0 };
    const s = new LineSplitter(counters, 8, 4096);
    const out: string[] = [];
    feed(s, Buffer.from('ab\ncd'), out);
    assert.deepEqual(out, ['ab']);
    assert.equal(s.pendingBytes, 2);
    feed(s, Buffer.from('efghijklmnop'), out); // "cdefghijklmnop": over 8 bytes, no newline yet
    assert.equal(s.pendingBytes, 14);
    feed(s, Buffer.from('q\nr\n'), out);
    assert.deepEqual(out, ['ab', 'cdefghij', 'r']);
    assert.equal(s.pendingBytes, 0);
    assert.equal(counters.truncated, 1);
  });

  it('truncates by bytes, not characters, and never splits input at a wrong place', () => {
    const counters: LineCounters = { skipped: 0, truncated: 0 };
    const s = new LineSplitter(counters, 6, 4096);
    const out: string[] = [];
    s.push(Buffer.from('\u00e9\u00e9\u00e9\u00e9\n\u00e9\u00e9\u00e9\n'), out); // 8 bytes, then 6 bytes
    assert.deepEqual(out, ['\u00e9\u00e9\u00e9', '\u00e9\u00e9\u00e9']);
    assert.equal(counters.truncated, 1);
  });

  it('flush emits the incomplete line once, reset forgets it', () => {
    const counters: LineCounters = { skipped: 0, truncated: 0 };
    const s = new LineSplitter(counters);
    const out: string[] = [];
    s.push(Buffer.from('x\ny'), out);
    s.flush(out);
    s.flush(out);
    assert.deepEqual(out, ['x', 'y']);
    s.push(Buffer.from('partial'), out);
    s.reset();
    s.push(Buffer.from('z\n'), out);
    assert.deepEqual(out, ['x', 'y', 'z']);
  });

  it('handles a chunk larger than its buffer', () => {
    const counters: LineCounters = { skipped: 0, truncated: 0 };
    const s = new LineSplitter(counters, 100, 4096);
    const out: string[] = [];
    let text = '';
    for (let i = 0; i < 10_000; i++) text += `${i}\n`;
    s.push(Buffer.from(text), out);
    assert.equal(out.length, 10_000);
    assert.equal(out[9999], '9999');
  });
});
