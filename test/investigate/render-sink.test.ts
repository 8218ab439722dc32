import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteClass, createKernel } from '../../src/investigate/byte-kernel.js';
import { MatchRenderer, RENDER_SEPARATOR, RenderSink } from '../../src/investigate/search-render.js';

/**
 * RenderSink.addBytes copies a line from the log's bytes when the byte kernel classed them as
 * rendering as themselves, and renders the text otherwise: the output must be what the string
 * renderer renders, whichever byte is the awkward one and wherever it is (each kernel's classify,
 * and the always-safe ByteClass.Other), across chunk boundaries, with several files and times.
 */
test('the render sink writes from the line bytes exactly what the string renderer renders', () => {
  const awkward = ['"', '\\', '\t', '\x1b', '\x7f', '\u0085', 'é', '😀', '\u2028', '\ufffd', '\n'];
  const lines: string[] = [
    'Mar  1 00:00:01 web sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2', '', ' ', '~ tilde',
  ];
  for (const a of awkward) lines.push(`${a}at the start`, `at the end${a}`, `in ${a} the middle`, a);
  // Each awkward character in every byte lane of the words the sink reads, in lines of every
  // length around a word.
  for (const a of [...awkward, '\0', '\x1f', '\x7e', '\x20', '!', '#', '[', ']']) {
    for (let length = 0; length < 11; length++) {
      for (let at = 0; at <= length; at++) lines.push(`${'abcdefghijk'.slice(0, at)}${a}${'abcdefghijk'.slice(at, length)}`);
    }
  }
  // Enough long plain lines between them to cross the sink's chunk size several times.
  const long = 'Mar  1 00:00:02 web sshd[2]: Connection closed by 192.0.2.1 port 22 [preauth] '.repeat(100);
  const all: string[] = [];
  for (let i = 0; i < 3 * lines.length; i++) all.push(i % 3 === 0 ? long : (lines[Math.floor(i / 3)] as string));
  all.push(...lines);
  for (const mode of ['json', 'text'] as const) {
    const renderer = new MatchRenderer(mode);
    const sink = new RenderSink(mode);
    const parts: string[] = [];
    const kernels = [createKernel([Buffer.from('x')], 'wasm'), createKernel([Buffer.from('x')], 'native')];
    all.forEach((line, i) => {
      const kernel = kernels[i % 2]!;
      const bytes = Buffer.from(`xx${line}yy`, 'utf8');
      const at = kernel.load(bytes, 0, bytes.length);
      const text = bytes.toString('utf8', 2, bytes.length - 2);
      const file = Math.floor(i / 100) % 3 === 2 ? 'other "file".log' : `/var/log/auth.log.${Math.floor(i / 100)}`;
      const time = i % 17 === 3 ? NaN : Date.UTC(2026, 2, 1, 0, 0, Math.floor(i / 4)) + (i % 2) * 400;
      const lineNo = i * 98765 + 1;
      parts.push(`${RENDER_SEPARATOR[mode]}${renderer.render(file, lineNo, time, text)}`);
      if (i % 5 === 0) sink.add(file, lineNo, time, text);
      else {
        const cls = i % 7 === 1 ? ByteClass.Other : kernel.classify(at + 2, at + bytes.length - 2);
        sink.addBytes(file, lineNo, time, text, kernel.buf, at + 2, at + bytes.length - 2, cls);
      }
    });
    const chunks = sink.take();
    assert.ok(chunks.length > 2, 'the output spans several chunks');
    assert.deepEqual(Buffer.concat(chunks).toString('utf8'), parts.join(''), mode);
  }
});
