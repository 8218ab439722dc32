import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateParser } from '../../src/filters/dates.js';

const utc = (now: string): DateParser => new DateParser({ timezone: 'UTC', now: () => Date.parse(now) });

test('classic syslog dates take the year that puts them just before now', () => {
  const p = utc('2026-06-01T12:00:00Z');
  assert.equal(p.syslog('Mar  1 00:00:01'), Date.parse('2026-03-01T00:00:01Z'));
  assert.equal(p.syslog('Jun  2 11:00:00'), Date.parse('2026-06-02T11:00:00Z'), 'less than a day ahead: clock skew, same year');
  assert.equal(p.syslog('Dec 31 23:59:59'), Date.parse('2025-12-31T23:59:59Z'), 'far ahead: last year');
  const newYear = utc('2027-01-01T00:00:30Z');
  assert.equal(newYear.syslog('Dec 31 23:59:58'), Date.parse('2026-12-31T23:59:58Z'), 'read just after New Year');
  assert.equal(newYear.syslog('Jan  1 00:00:10'), Date.parse('2027-01-01T00:00:10Z'));
});

test('a daemon running across New Year re-infers the year for each new hour of log', () => {
  let now = Date.parse('2026-12-31T23:30:00Z');
  const p = new DateParser({ timezone: 'UTC', now: () => now });
  assert.equal(p.syslog('Dec 31 23:59:59'), Date.parse('2026-12-31T23:59:59Z'));
  now = Date.parse('2027-01-01T00:00:05Z');
  assert.equal(p.syslog('Jan  1 00:00:01'), Date.parse('2027-01-01T00:00:01Z'));
});

test('ISO 8601 / RFC 3339 with fractions and every offset spelling', () => {
  const p = utc('2026-06-01T00:00:00Z');
  assert.equal(p.iso('2026-03-01T00:00:01+0000'), Date.parse('2026-03-01T00:00:01Z'));
  assert.equal(p.iso('2026-03-01T00:00:01.123456+00:00'), Date.parse('2026-03-01T00:00:01.123Z'));
  assert.equal(p.iso('2026-03-01T02:00:01+02:00'), Date.parse('2026-03-01T00:00:01Z'));
  assert.equal(p.iso('2026-02-28T19:00:01-05'), Date.parse('2026-03-01T00:00:01Z'));
  assert.equal(p.iso('2026-03-01T00:00:01Z'), Date.parse('2026-03-01T00:00:01Z'));
  assert.equal(p.iso('2026-03-01 00:00:01'), Date.parse('2026-03-01T00:00:01Z'), 'no zone: the configured one');
  for (const bad of ['2026-13-01T00:00:00Z', '2026-03-01T25:00:00Z', '2026-03-01T00:00:00+2', 'yesterday', '2026-03-01T00:00:00.Z']) {
    assert.ok(Number.isNaN(p.iso(bad)), bad);
  }
});

test('a fixed offset applies to dates without a zone', () => {
  const p = new DateParser({ timezone: '+02:00', now: () => Date.parse('2026-06-01T00:00:00Z') });
  assert.equal(p.syslog('Mar  1 02:00:00'), Date.parse('2026-03-01T00:00:00Z'));
  assert.throws(() => new DateParser({ timezone: 'Mars/Olympus' }), /timezone/);
});

test('malformed syslog dates are rejected, not guessed', () => {
  const p = utc('2026-06-01T00:00:00Z');
  for (const bad of ['Foo  1 00:00:01', 'Mar 32 00:00:01', 'Mar  1 24:00:01', 'Mar  1 00:61:01', 'Mar  1 00-00-01']) {
    assert.ok(Number.isNaN(p.syslog(bad)), bad);
  }
});
