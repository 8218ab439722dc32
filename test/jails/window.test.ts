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
