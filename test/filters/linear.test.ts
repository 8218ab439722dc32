import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFilter } from '../../src/filters/definition.js';
import { CompiledFilter } from '../../src/filters/engine.js';

/** User filters run in linear time: a pathological pattern and a 64 KiB line cannot stall matching. */
function userFilter(pattern: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-userfilter-'));
  const path = join(dir, 'mine.yaml');
  writeFileSync(path, `name: mine\nprograms: [app]\nrules:\n  - id: evil\n    pattern: '${pattern}'\n`);
  return path;
}

test('a catastrophic pattern in a user filter runs in linear time on a 64 KiB attacker line', () => {
  const path = userFilter('^(a+)+ from <HOST>$');
  try {
    const filter = new CompiledFilter(loadFilter(path));
    const line = `Mar  1 00:00:01 host app[1]: ${'a'.repeat(64 * 1024)}!`;
    const started = performance.now();
    for (let i = 0; i < 20; i++) assert.equal(filter.match(line, 0), 'unmatched');
    const ms = performance.now() - started;
    // Backtracking would need ~2^65536 steps; linear matching is milliseconds. The bound is loose on purpose.
    assert.ok(ms < 5000, `20 matches took ${ms.toFixed(0)} ms`);
    assert.equal(filter.match('Mar  1 00:00:01 host app[1]: aaaa from 192.0.2.7', 0), 'detected');
    assert.equal(filter.last?.address.text, '192.0.2.7');
  } finally {
    rmSync(path.replace(/\/mine\.yaml$/, ''), { recursive: true, force: true });
  }
});

test('constructs that need backtracking are refused in user filters, naming the file and the rule', () => {
  for (const pattern of ['^(\\w+) \\1 <HOST>$', '^(?=.*x) <HOST>$', '^(?<!y)x <HOST>$']) {
    const path = userFilter(pattern);
    try {
      assert.throws(() => new CompiledFilter(loadFilter(path)), /mine\.yaml: rule evil: pattern cannot run in linear time/);
    } finally {
      rmSync(path.replace(/\/mine\.yaml$/, ''), { recursive: true, force: true });
    }
  }
});

test('messages are cut to the filter\'s maximum length before matching, and the cut is counted', () => {
  const filter = new CompiledFilter(loadFilter('sshd'));
  const long = `Mar  1 00:00:01 web01 sshd[1]: Failed password for ${'x'.repeat(100_000)} from 192.0.2.1 port 1 ssh2`;
  assert.notEqual(filter.match(long, 0), 'detected', 'the address beyond the limit is not reached');
  assert.equal(filter.counts.truncated, 1);
});
