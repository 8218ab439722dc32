// Copies the non-TypeScript assets the compiled code reads at run time (filter definitions and
// their annotated sample logs) next to the compiled modules, so dist/ is self-contained, and stores
// each built-in filter's YAML as parsed JSON beside it (see builtinFilterDataPath in
// src/filters/definition.ts: the CLI then starts without loading the YAML parser).
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

const pairs = [['src/filters/library', 'dist/src/filters/library']];
for (const [from, to] of pairs) if (existsSync(from)) cpSync(from, to, { recursive: true });

const library = 'dist/src/filters/library';
for (const file of readdirSync(library).filter((f) => f.endsWith('.yaml'))) {
  const path = join(library, file);
  const doc = parseDocument(readFileSync(path, 'utf8'), { prettyErrors: true });
  // A broken YAML gets no JSON: loading it at run time then reports the YAML error itself.
  if (doc.errors.length) continue;
  writeFileSync(path.replace(/\.yaml$/, '.json'), `${JSON.stringify(doc.toJS())}\n`);
}
