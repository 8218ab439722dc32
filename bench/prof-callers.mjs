// Callers of a function in a .cpuprofile: node bench/prof-callers.mjs FILE NAME [DEPTH]
// Prints, per distinct call path (DEPTH frames up), the time spent in NAME (inclusive).
import fs from 'node:fs';
const [file, name, depthArg] = process.argv.slice(2);
const depth = Number(depthArg ?? 3);
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const incl = new Map();
const inclOf = (n) => {
  if (incl.has(n.id)) return incl.get(n.id);
  let t = dt.get(n.id) ?? 0;
  for (const c of n.children ?? []) t += inclOf(byId.get(c));
  incl.set(n.id, t);
  return t;
};
const label = (n) => `${n.callFrame.functionName || '(anon)'}@${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
const paths = new Map();
for (const n of p.nodes) {
  if (n.callFrame.functionName !== name) continue;
  // skip recursive inner frames
  const chain = [];
  for (let id = parent.get(n.id), k = 0; id !== undefined && k < depth; id = parent.get(id), k++) chain.push(label(byId.get(id)));
  const key = chain.join(' <- ');
  paths.set(key, (paths.get(key) ?? 0) + inclOf(n));
}
for (const [k, t] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${(t / 1000).toFixed(1).padStart(8)} ms  ${name} <- ${k}`);
