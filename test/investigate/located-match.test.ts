import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DateParser } from '../../src/filters/dates.js';
import { builtinFilterPath, loadFilter } from '../../src/filters/definition.js';
import { CompiledFilter } from '../../src/filters/engine.js';
import { newHeader, parseHeader } from '../../src/filters/header.js';
import { FilterPrefilter } from '../../src/investigate/filter-prefilter.js';
import { LineClock } from '../../src/investigate/auth-window.js';

/** The sshd filter, a clock fixed at 2026-03-01 12:00 UTC, and the filter's annotated sample lines. */
function sshdFixture() {
  const now = Date.parse('2026-03-01T12:00:00Z');
  return {
    def: loadFilter('sshd'),
    now,
    dates: new DateParser({ now: () => now, timezone: 'UTC' }),
    sample: readFileSync(builtinFilterPath('sshd').replace(/\.yaml$/, '.log'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')),
  };
}

/**
 * The report's scan skips the engine's header parsing when the bytes already told where the
 * message starts and when the line was written (CompiledFilter.matchLocated). It must decide every
 * line exactly as match() does: checked on the sshd filter's annotated sample, with pids, marks
 * ("kex_exchange_identification" then "Connection closed by"), "message repeated N times" and
 * crafted lines, plus lines built here in every framing the prefilter locates.
 */
test('matchLocated decides every located line exactly as match()', () => {
  const { def, now, dates, sample } = sshdFixture();
  const full = new CompiledFilter(def, { mode: 'aggressive', dates });
  const located = new CompiledFilter(def, { mode: 'aggressive', dates });
  const prefilter = new FilterPrefilter(def, 'aggressive');
  const extra = [
    'Mar  1 10:00:00 host sshd[7]: Failed password for root from 203.0.113.9 port 22 ssh2',
    'Mar  1 10:00:01 host sshd: Failed password for invalid user x from 2001:db8::5 port 22 ssh2',
    'Mar  1 10:00:02 host sshd[8]: message repeated 3 times: [ Failed password for root from 198.51.100.4 port 22 ssh2]',
    'Mar  1 10:00:03 host sshd[9]: error: kex_exchange_identification: Connection closed by remote host',
    'Mar  1 10:00:04 host sshd[9]: Connection closed by 203.0.113.77 port 40000',
    'Mar  1 10:00:05 host sshd[10]: Accepted publickey for admin from 192.0.2.10 port 50000 ssh2: ED25519 SHA256:abc',
    'Mar  1 10:00:06 host sshd-session[11]: Failed password for root from 203.0.113.12 port 22 ssh2',
  ];
  let checked = 0;
  for (const line of [...sample, ...extra]) {
    const buf = Buffer.from(line, 'utf8');
    const msg = prefilter.locate(buf, 0, buf.length);
    // Only what the scan hands to matchLocated: a located classic syslog line, one byte per character.
    if (msg < 0 || buf.length !== line.length || !/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /.test(line)) {
      located.match(line, now);
      full.match(line, now);
      continue;
    }
    const time = dates.syslog(line.slice(0, 15));
    const want = full.match(line, now);
    const wantLast = full.last;
    const got = located.matchLocated(line, msg, time);
    assert.equal(got, want, line);
    if (want === 'detected') assert.deepEqual(located.last, wantLast, line);
    checked++;
  }
  assert.ok(checked >= sample.length / 2, `only ${checked} located lines checked`);
  assert.deepEqual(located.counts.detected, full.counts.detected);

  // The scan's warm-up reads the lines before a piece with match(), and the piece goes on with
  // matchLocated(): a mark set by one is seen by the other (the same pid).
  const mixed = new CompiledFilter(def, { mode: 'aggressive', dates });
  const kex = 'Mar  1 10:01:00 host sshd[4242]: error: kex_exchange_identification: Connection closed by remote host';
  const closed = 'Mar  1 10:01:01 host sshd[4242]: Connection closed by 203.0.113.88 port 40001';
  assert.equal(mixed.match(kex, now), 'recognized');
  const at = Buffer.from(closed);
  assert.equal(mixed.matchLocated(closed, prefilter.locate(at, 0, at.length), dates.syslog(closed.slice(0, 15))), 'detected');
  assert.equal(mixed.last?.address.text, '203.0.113.88');
});

test('matchParsed (a header read by the caller with parseHeader) decides every line exactly as match()', () => {
  const { def, now, dates, sample } = sshdFixture();
  const full = new CompiledFilter(def, { mode: 'aggressive', dates });
  const parsedFilter = new CompiledFilter(def, { mode: 'aggressive', dates });
  const extra = [
    '<38>1 2026-03-01T10:00:00Z host sshd 77 - - Failed password for root from 203.0.113.21 port 22 ssh2',
    '2026-03-01T10:00:01.250+01:00 host sshd[78]: Invalid user bob from 2001:db8::21 port 22',
    'Foo 99 10:00:02 host sshd[79]: Failed password for root from 203.0.113.22 port 22 ssh2',
    'Mar  1 10:00:03 host CRON[80]: Failed password for root from 203.0.113.23 port 22 ssh2',
    'Mar  1 10:00:04 host sshd[81]: error: kex_exchange_identification: Connection closed by remote host',
    '<38>1 2026-03-01T10:00:05Z host sshd 81 - - Connection closed by 203.0.113.24 port 40000',
  ];
  const header = newHeader();
  let parsed = 0;
  for (const line of [...sample, ...extra]) {
    const want = full.match(line, now);
    const wantLast = full.last;
    if (!parseHeader(line, dates, header)) {
      assert.equal(want, 'other', line);
      continue;
    }
    assert.equal(parsedFilter.matchParsed(line, header, now), want, line);
    if (want === 'detected') assert.deepEqual(parsedFilter.last, wantLast, line);
    parsed++;
  }
  assert.ok(parsed >= sample.length, `only ${parsed} lines had a header`);
  assert.deepEqual(parsedFilter.counts.detected, full.counts.detected);
});

test('LineClock.syslogTimeOf gives the classic line’s exact time from the minute it read, NaN otherwise', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const dates = new DateParser({ now: () => now, timezone: 'UTC' });
  const clock = new LineClock(dates);
  const at = (line: string): number => {
    const b = Buffer.from(line);
    clock.timeOf(b, 0, b.length);
    return clock.syslogTimeOf(b, 0);
  };
  for (const line of ['Mar  1 10:00:00 h sshd[1]: x', 'Mar  1 10:00:59 h sshd[1]: x', 'Mar  1 10:00:60 h sshd[1]: x', 'Feb 28 23:59:07 h sshd[1]: x']) {
    assert.equal(at(line), dates.syslog(line.slice(0, 15)), line);
  }
  assert.ok(Number.isNaN(at('Mar  1 10:00:61 h sshd[1]: x')));
  assert.ok(Number.isNaN(at('Mar  1 10:00:7x h sshd[1]: x')));
  assert.ok(Number.isNaN(at('Foo 99 10:00:07 h sshd[1]: x')));
  assert.ok(Number.isNaN(at('2026-03-01T10:00:07Z h sshd[1]: x')));
});
