import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { StdinSource } from '../../src/sources/stdin.js';
import { Collector, sleep } from './helpers.js';

describe('StdinSource', () => {
  it('splits chunks cut mid-line and mid-character into lines, and finishes at EOF', async () => {
    const input = new PassThrough();
    const c = new Collector(new StdinSource({ input }));
    const text = Buffer.from('first line\nsec\u00f6nd line\nthird');
    // Cut inside "ö" (2 bytes) and inside lines.
    const cuts = [3, 15, 16, 20, text.length];
    let at = 0;
    for (const cut of cuts) {
      input.write(text.subarray(at, cut));
      at = cut;
      await sleep(5);
    }
    await c.waitLines(2);
    assert.deepEqual(c.lines, ['first line', 'sec\u00f6nd line']);
    input.end(' and last, without newline');
    await c.ended();
    assert.deepEqual(c.lines, ['first line', 'sec\u00f6nd line', 'third and last, without newline']);
    assert.equal(c.health().state, 'stopped');
    assert.equal(c.health().linesRead, 3);
  });

  it('accepts string chunks, skips NUL lines and truncates long ones', async () => {
    const c = new Collector(new StdinSource({ input: Readable.from(['a\n', 'b\0\nc', 'x'.repeat(50), '\n'], { objectMode: false }), maxLineBytes: 10 }));
    await c.ended();
    assert.deepEqual(c.lines, ['a', 'cxxxxxxxxx']);
    assert.equal(c.health().linesSkipped, 1);
    assert.equal(c.health().linesTruncated, 1);
  });

  it('batches many lines and ends on stop() while waiting for input', async () => {
    const input = new PassThrough();
    const c = new Collector(new StdinSource({ input, maxBatchLines: 1000 }));
    try {
      // 50 chunks of 100 lines, written at once.
      for (let chunk = 0; chunk < 50; chunk++) {
        let text = '';
        for (let i = chunk * 100; i < chunk * 100 + 100; i++) text += `line ${i}\n`;
        input.write(text);
      }
      await c.waitLines(5000);
      assert.ok(c.batches < 50, `chunks that are already there share a batch: ${c.batches} batches`);
      assert.deepEqual(c.lines, Array.from({ length: 5000 }, (_, i) => `line ${i}`));
    } finally {
      await c.close();
      input.destroy();
    }
    assert.equal(c.finished, true);
  });

  it('reports a stream error in health and finishes', async () => {
    const input = new PassThrough();
    const c = new Collector(new StdinSource({ input, name: 'pipe' }));
    input.write('ok\n');
    await c.waitLines(1);
    input.destroy(new Error('boom'));
    await c.ended();
    assert.equal(c.health().state, 'error');
    assert.match(c.health().error ?? '', /pipe: boom/);
  });
});
