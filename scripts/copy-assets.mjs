// Copies the non-TypeScript assets the compiled code reads at run time (filter definitions and
// their annotated sample logs) next to the compiled modules, so dist/ is self-contained.
import { cpSync, existsSync } from 'node:fs';
const pairs = [['src/filters/library', 'dist/src/filters/library']];
for (const [from, to] of pairs) if (existsSync(from)) cpSync(from, to, { recursive: true });
