import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentMap } from '../../src/util/recent.js';

test('RecentMap holds at most two generations, keeps hot keys through a turnover, and stores only owned keys', () => {
  const stored: string[] = [];
  const m = new RecentMap<string, number>(3, (k) => {
    stored.push(k);
    return `own:${k}`.slice(4);
  });
  for (const k of ['a', 'b', 'c']) m.set(k, k.charCodeAt(0));
  m.set('d', 100); // young {a,b,c} becomes old
  assert.equal(m.size, 4);
  assert.equal(m.get('a'), 97, 'found in the old generation, moved back to the young one');
  m.set('e', 101);
  m.set('f', 102); // young {d,a,e} becomes old, {b,c} are dropped
  assert.equal(m.get('b'), undefined);
  assert.equal(m.get('c'), undefined);
  assert.equal(m.get('a'), 97);
  assert.ok(m.size <= 6);
  // Every key that went in, including the promoted 'a' (twice), went through ownKey.
  assert.deepEqual(stored, ['a', 'b', 'c', 'd', 'a', 'e', 'f', 'a']);
  m.clear();
  assert.equal(m.size, 0);
  assert.equal(m.get('a'), undefined);
});
