import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime, parseSince, span } from '../../src/investigate/time.js';

test('--since takes dates (local unless zoned) and durations back from now', () => {
  const now = Date.UTC(2024, 5, 10, 12) / 1000;
  assert.equal(parseSince('7d', now), now - 7 * 86_400);
  assert.equal(parseSince('1h30m', now), now - 5400);
  assert.equal(parseSince('2024-06-01T10:00:00Z', now), Date.UTC(2024, 5, 1, 10) / 1000);
  assert.equal(parseSince('2024-06-01T10:00+02:00', now), Date.UTC(2024, 5, 1, 8) / 1000);
  assert.equal(parseSince('2024-06-01', now), new Date(2024, 5, 1).getTime() / 1000, 'a date is local midnight');
  assert.equal(parseSince('2024-06-01 10:00', now), new Date(2024, 5, 1, 10).getTime() / 1000);
  for (const bad of ['', 'yesterday', '2024-02-30', '2024-13-01', '12', '7 days', '2024-06-01T25:00']) {
    assert.throws(() => parseSince(bad, now), /is neither a date .* nor a duration/, bad);
  }
});

test('spans to the second and ISO times', () => {
  assert.equal(span(0), '0:00:00');
  assert.equal(span(3 * 3600 + 65), '3:01:05');
  assert.equal(span(86_400 * 2 + 7), '2d 0:00:07');
  assert.equal(span(-90), '-0:01:30');
  assert.equal(isoTime(1_700_000_000.9), '2023-11-14T22:13:20Z');
  assert.equal(isoTime(null), null);
});
