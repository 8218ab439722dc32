import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { builtinFilterNames, builtinFilterPath, loadFilter } from '../../src/filters/definition.js';
import { CompiledFilter } from '../../src/filters/engine.js';
import { DateParser } from '../../src/filters/dates.js';

/**
 * The generic filter test: every built-in filter runs, in every one of its modes, over its
 * annotated sample log (filters/library/NAME.log). Adding a filter is adding its two files.
 */
interface Expectation {
  readonly kind: 'fail' | 'success';
  readonly host: string;
  readonly rule?: string;
  readonly modes?: readonly string[];
  readonly count: number;
  readonly time?: number;
}

interface SampleLine {
  readonly lineNumber: number;
  readonly text: string;
  readonly expect?: Expectation;
}

const NOW = Date.parse('2026-06-01T00:00:00Z');

export function readSamples(path: string): SampleLine[] {
  const out: SampleLine[] = [];
  let pending: Expectation | undefined;
  readFileSync(path, 'utf8').split('\n').forEach((text, i) => {
    if (text.startsWith('#> ')) {
      const [kind, host, ...opts] = text.slice(3).trim().split(/\s+/);
      assert.ok(kind === 'fail' || kind === 'success', `${path}:${i + 1}: annotation must start with fail or success`);
      assert.ok(host, `${path}:${i + 1}: annotation needs an address`);
      const o = Object.fromEntries(opts.map((kv) => kv.split('=') as [string, string]));
      pending = {
        kind, host, count: o['count'] ? Number(o['count']) : 1,
        ...(o['rule'] ? { rule: o['rule'] } : {}),
        ...(o['modes'] ? { modes: o['modes'].split(',') } : {}),
        ...(o['time'] ? { time: Date.parse(o['time']) } : {}),
      };
      return;
    }
    if (text.startsWith('#') || text === '') return;
    out.push({ lineNumber: i + 1, text, ...(pending ? { expect: pending } : {}) });
    pending = undefined;
  });
  return out;
}

for (const name of builtinFilterNames()) {
  const samplePath = builtinFilterPath(name).replace(/\.yaml$/, '.log');
  const definition = loadFilter(name);
  test(`filter ${name} has an annotated sample log`, () => {
    assert.ok(existsSync(samplePath), `missing ${samplePath}`);
  });
  if (!existsSync(samplePath)) continue;
  const samples = readSamples(samplePath);
  for (const mode of definition.modes) {
    test(`filter ${name}, mode ${mode}: every sample line gives exactly what its annotation says`, () => {
      const filter = new CompiledFilter(definition, { mode, dates: new DateParser({ timezone: 'UTC', now: () => NOW }) });
      const problems: string[] = [];
      let failures = 0;
      for (const s of samples) {
        const outcome = filter.match(s.text, NOW);
        const got = outcome === 'detected' ? filter.last : undefined;
        const e = s.expect;
        const wanted = e && (e.kind === 'success' || !e.modes || e.modes.includes(mode)) ? e : undefined;
        const where = `${samplePath}:${s.lineNumber}`;
        if (!wanted) {
          if (got && (got.action === 'failure' || !e)) problems.push(`${where}: expected nothing, got ${got.action} ${got.address.text} (${got.rule})`);
          continue;
        }
        if (!got) {
          problems.push(`${where}: expected ${wanted.kind} ${wanted.host}, got ${outcome}`);
          continue;
        }
        if (got.action !== (wanted.kind === 'fail' ? 'failure' : 'success')) problems.push(`${where}: expected ${wanted.kind}, got ${got.action}`);
        if (got.address.text !== wanted.host) problems.push(`${where}: expected address ${wanted.host}, got ${got.address.text}`);
        if (wanted.rule && got.rule !== wanted.rule) problems.push(`${where}: expected rule ${wanted.rule}, got ${got.rule}`);
        if (got.count !== wanted.count) problems.push(`${where}: expected count ${wanted.count}, got ${got.count}`);
        if (wanted.time !== undefined && got.time !== wanted.time) {
          problems.push(`${where}: expected time ${new Date(wanted.time).toISOString()}, got ${new Date(got.time).toISOString()}`);
        }
        if (got.action === 'failure') failures++;
      }
      assert.deepEqual(problems, []);
      assert.ok(failures > 0, 'the sample exercises at least one failure in this mode');
    });
  }
}
