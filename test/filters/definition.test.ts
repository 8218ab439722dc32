import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  builtinFilterDataPath, builtinFilterNames, builtinFilterPath, filterDefinitionFromData, loadFilter, parseFilterDefinition,
} from '../../src/filters/definition.js';

test('every built-in filter has prebuilt JSON that loads to the same definition as its YAML', () => {
  const names = builtinFilterNames();
  assert.ok(names.includes('sshd'));
  for (const name of names) {
    const json = builtinFilterDataPath(name);
    assert.ok(existsSync(json), `${json} is made by the build`);
    const fromYaml = parseFilterDefinition(readFileSync(builtinFilterPath(name), 'utf8'), builtinFilterPath(name), true);
    const fromJson = filterDefinitionFromData(JSON.parse(readFileSync(json, 'utf8')), builtinFilterPath(name), true);
    assert.deepEqual(fromJson, fromYaml, name);
    assert.deepEqual(loadFilter(name), fromYaml, `loadFilter(${name})`);
  }
});

test('prebuilt data goes through the same validation as YAML', () => {
  assert.throws(() => filterDefinitionFromData({ name: 'x', rules: [{ id: 'r', pattern: 'no host slot' }] }, 'x.json', true), /x\.json: rules\[0\]\.pattern: a failure rule needs a <HOST> slot/);
  assert.throws(() => filterDefinitionFromData(['not', 'a', 'mapping'], 'y.json', true), /y\.json: a filter file is a mapping/);
});

test('a filter file given by path is read as YAML, whatever JSON lies beside it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-def-'));
  try {
    const yaml = join(dir, 'mine.yaml');
    writeFileSync(yaml, "name: mine\nprograms: [web]\nrules:\n  - id: r\n    pattern: '^Bad login from <HOST>$'\n");
    // Stale or foreign JSON next to a user's file is never taken instead of the YAML.
    copyFileSync(builtinFilterDataPath('sshd'), join(dir, 'mine.json'));
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'mine.json'), future, future);
    const def = loadFilter(yaml);
    assert.equal(def.name, 'mine');
    assert.equal(def.builtin, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
