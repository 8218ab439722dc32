import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineDecoder } from '../../src/investigate/line-decoder.js';
import { LineScanner } from '../../src/investigate/log-lines.js';

test('lines come out as UTF-8 text, whether their chunk is pure ASCII or not', () => {
  const got: string[] = [];
  const scanner: LineScanner = new LineScanner(null, (buf, start, end) => got.push(decoder.line(buf, start, end)));
  const decoder = new LineDecoder(scanner);
  const ascii = Array.from({ length: 5000 }, (_, i) => `Mar  1 00:00:01 h sshd[${i}]: Failed password for user${i} from 192.0.2.${i % 250} port 22`);
  const mixed = ['Mar  1 00:00:01 h sshd[1]: Invalid user jürgen from 192.0.2.1', 'plain ascii line', 'ユーザー'];
  const text = [...ascii, ...mixed, ...ascii.slice(0, 10)].join('\n') + '\n';
  const bytes = Buffer.from(text, 'utf8');
  // Odd chunk sizes: lines cross chunks, and the same buffer object is reused for new content.
  const chunk = Buffer.alloc(7001);
  for (let at = 0; at < bytes.length; at += chunk.length) {
    const n = bytes.copy(chunk, 0, at, Math.min(bytes.length, at + chunk.length));
    scanner.push(n === chunk.length ? chunk : chunk.subarray(0, n));
  }
  scanner.end();
  assert.deepEqual(got, text.split('\n').slice(0, -1));
});

test('keep() returns an equal string, the same one for repeats', () => {
  const decoder = new LineDecoder(new LineScanner(null, () => undefined));
  const long = 'Mar  1 00:00:01 h sshd[1]: a-rather-long-user-name'.slice(27);
  const a = decoder.keep(long);
  assert.equal(a, long);
  assert.equal(decoder.keep(`${long}`), a);
  assert.equal(decoder.keep('root'), 'root');
});
