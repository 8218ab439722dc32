// Compiles each WebAssembly text module under src/ (*.wat) to binary (*.wasm) at the same place
// under dist/src/, where the compiled code loads it (see src/investigate/byte-kernel.ts). wabt's
// own parser and validator, with the SIMD feature the kernels use.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import wabtInit from 'wabt';

const wabt = await wabtInit();
const sources = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.wat'));
for (const file of sources) {
  const path = join('src', file);
  const module = wabt.parseWat(path, readFileSync(path, 'utf8'), { simd: true });
  try {
    module.validate();
    const out = join('dist', 'src', file.replace(/\.wat$/, '.wasm'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, module.toBinary({}).buffer);
    process.stdout.write(`${relative('.', out)}\n`);
  } finally {
    module.destroy();
  }
}
