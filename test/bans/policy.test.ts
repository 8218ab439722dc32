import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, escalatedSeconds } from '../../src/bans/policy.js';

const esc = { factor: 2, max: 604_800, permanentAfter: 3, lookback: 30 * 86_400 };
const noRecidive = { enabled: false, bans: 3, window: 86_400, bantime: null };

test('the ladder doubles each ban, caps at max, and turns permanent at permanent_after', () => {
  assert.equal(escalatedSeconds(600, esc, 1), 600);
  assert.equal(escalatedSeconds(600, esc, 2), 1200);
  assert.equal(escalatedSeconds(600, esc, 3), null);
  const noPerm = { ...esc, permanentAfter: null, max: 3600 };
  assert.equal(escalatedSeconds(600, noPerm, 3), 2400);
  assert.equal(escalatedSeconds(600, noPerm, 4), 3600, 'capped at max');
  assert.equal(escalatedSeconds(600, noPerm, 60), 3600, 'no overflow far up the ladder');
  assert.equal(escalatedSeconds(600, { ...noPerm, factor: 1 }, 9), 600, 'factor 1: no escalation');
});

test('the ordinal counts earlier bans in the lookback', () => {
  const d = decide({ bantime: 600, escalation: { ...esc, permanentAfter: null }, recidive: noRecidive, earlierInLookback: 2, earlierInRecidiveWindow: 0 });
  assert.deepEqual([d.ordinal, d.seconds, d.recidive], [3, 2400, false]);
});

test('recidive gives the long ban when an address keeps coming back, never a shorter one', () => {
  const recidive = { enabled: true, bans: 3, window: 86_400, bantime: 604_800 };
  const noPerm = { ...esc, permanentAfter: null };
  assert.equal(decide({ bantime: 600, escalation: noPerm, recidive, earlierInLookback: 1, earlierInRecidiveWindow: 1 }).recidive, false);
  const third = decide({ bantime: 600, escalation: noPerm, recidive, earlierInLookback: 2, earlierInRecidiveWindow: 2 });
  assert.deepEqual([third.seconds, third.recidive], [604_800, true]);
  const permanent = decide({ bantime: 600, escalation: noPerm, recidive: { ...recidive, bantime: null }, earlierInLookback: 2, earlierInRecidiveWindow: 2 });
  assert.equal(permanent.seconds, null);
  const alreadyPermanent = decide({ bantime: 600, escalation: esc, recidive, earlierInLookback: 2, earlierInRecidiveWindow: 2 });
  assert.deepEqual([alreadyPermanent.seconds, alreadyPermanent.recidive], [null, false], 'the ladder was already permanent');
});
