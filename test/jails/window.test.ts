import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureWindow } from '../../src/jails/window.js';

test('maxretry failures within findtime reach the threshold; spread-out ones do not', () => {
  const w = new FailureWindow(3, 60_000);
  assert.equal(w.add('a', 0, 1, 'l1'), undefined);
  assert.equal(w.add('a', 30_000, 1, 'l2'), undefined);
  const hit = w.add('a', 59_000, 1, 'l3');
  assert.ok(hit);
  assert.deepEqual(hit.times, [0, 30_000, 59_000]);
  assert.deepEqual(hit.evidence, ['l1', 'l2', 'l3']);
  const slow = new FailureWindow(3, 60_000);
  slow.add('b', 0, 1, 'x');
  slow.add('b', 40_000, 1, 'x');
  assert.equal(slow.add('b', 70_000, 1, 'x'), undefined, 'the first failure fell out of the window');
  assert.equal(slow.count('b'), 2);
});

test('a repeated line counts N times; out-of-order times are kept sorted', () => {
  const w = new FailureWindow(5, 60_000);
  assert.equal(w.add('a', 10_000, 3, 'repeated'), undefined);
  assert.ok(w.add('a', 5_000, 2, 'earlier line'));
  const v = new FailureWindow(3, 60_000);
  v.add('k', 3000, 1, 'c');
  v.add('k', 1000, 1, 'a');
  assert.deepEqual(v.get('k')?.times, [1000, 3000]);
});

test('memory per key stays bounded by maxretry and the evidence limit', () => {
  const w = new FailureWindow(3, 1e12);
  for (let i = 0; i < 1000; i++) w.add('flood', i, 1, `line ${i}`);
  assert.equal(w.get('flood')?.times.length, 3);
  assert.equal(w.get('flood')?.evidence.length, 3);
});

test('expiry drops idle keys and dirty tracking reports changes and deletions', () => {
  const w = new FailureWindow(5, 60_000);
  w.add('old', 0, 1, 'x');
  w.add('new', 100_000, 1, 'y');
  assert.deepEqual(w.takeDirty().map(([k]) => k).sort(), ['new', 'old']);
  assert.equal(w.expire(120_000), 1);
  assert.equal(w.size, 1);
  assert.deepEqual(w.takeDirty(), [['old', undefined]]);
  assert.deepEqual(w.takeDirty(), []);
});

/** A stand-in for the state store's failures table, fed by takeDirty() the way a checkpoint is. */
function fakeStore(): { lines: Map<string, string[]>; checkpoint(w: FailureWindow): void; source(key: string): string[] } {
  const lines = new Map<string, string[]>();
  return {
    lines,
    checkpoint(w) {
      for (const [key, change] of w.takeDirty()) {
        if (!change) lines.delete(key);
        else lines.set(key, [...(change.append ? lines.get(key) ?? [] : []), ...change.evidence].slice(-3));
      }
    },
    source: (key) => lines.get(key) ?? [],
  };
}

test('evidence handed to the store at a checkpoint is read back at the threshold: the newest 3 lines', () => {
  const store = fakeStore();
  const w = new FailureWindow(5, 60_000, store.source);
  w.add('a', 1000, 1, 'l1');
  w.add('a', 2000, 1, 'l2');
  store.checkpoint(w);
  assert.deepEqual(store.lines.get('a'), ['l1', 'l2']);
  w.add('a', 3000, 1, 'l3');
  store.checkpoint(w);
  w.add('a', 4000, 1, 'l4');
  const hit = w.add('a', 5000, 1, 'l5');
  assert.ok(hit);
  assert.deepEqual(hit.times, [1000, 2000, 3000, 4000, 5000]);
  assert.deepEqual(hit.evidence, ['l3', 'l4', 'l5']);
  // Only one line since the last checkpoint: two come from the store.
  const v = new FailureWindow(3, 60_000, store.source);
  v.add('b', 1, 1, 'b1');
  v.add('b', 2, 1, 'b2');
  store.checkpoint(v);
  assert.deepEqual(v.add('b', 3, 1, 'b3')?.evidence, ['b1', 'b2', 'b3']);
});

test('a cleared key starts over: its old stored or pending lines never reach a new entry', () => {
  const store = fakeStore();
  const w = new FailureWindow(3, 60_000, store.source);
  w.add('a', 1, 1, 'old1');
  store.checkpoint(w);
  w.add('a', 2, 1, 'old2');
  w.clear('a');
  w.add('a', 3, 1, 'new1');
  w.add('a', 4, 1, 'new2');
  assert.deepEqual(w.add('a', 5, 1, 'new3')?.evidence, ['new1', 'new2', 'new3']);
  w.clear('a');
  w.add('a', 6, 1, 'again');
  store.checkpoint(w);
  assert.deepEqual(store.lines.get('a'), ['again'], 'the checkpoint replaces the lines of the earlier entry');
});

test('restored counters keep counting; their evidence comes from the store', () => {
  const store = fakeStore();
  store.lines.set('a', ['s1', 's2']);
  const w = new FailureWindow(3, 60_000, store.source);
  w.restore('a', [2000, 1000]);
  assert.equal(w.count('a'), 2);
  assert.deepEqual(w.takeDirty(), [], 'restoring is not a change');
  assert.deepEqual(w.add('a', 3000, 1, 'l3'), { times: [1000, 2000, 3000], evidence: ['s1', 's2', 'l3'] });
});

test('many keys, expiry giving the memory back, and a reload that changes maxretry', () => {
  const w = new FailureWindow(4, 60_000);
  for (let i = 0; i < 5000; i++) {
    w.add(`k${i}`, i, 1, 'x');
    w.add(`k${i}`, i + 1, 2, 'y');
  }
  assert.equal(w.size, 5000);
  assert.deepEqual(w.get('k4999')?.times, [4999, 5000, 5000]);
  assert.equal(w.expire(60_000 + 4990), 4989, 'keys whose newest failure is older than findtime go');
  assert.equal(w.size, 11);
  assert.deepEqual(w.get('k4999')?.times, [4999, 5000, 5000], 'survivors keep their times after compaction');
  w.configure(2, 60_000);
  assert.deepEqual(w.get('k4999')?.times, [5000, 5000], 'a smaller maxretry keeps the newest times');
  assert.ok(w.add('k4998', 5001, 1, 'z'));
  w.configure(6, 60_000);
  assert.deepEqual(w.get('k4999')?.times, [5000, 5000]);
  assert.equal(w.add('k4999', 5002, 3, 'z'), undefined);
  assert.ok(w.add('k4999', 5003, 1, 'z'));
  for (let i = 0; i < 200; i++) w.add(`n${i}`, 6000, 1, 'x');
  assert.equal(w.size, 211);
  assert.equal(w.count('n199'), 1);
});
