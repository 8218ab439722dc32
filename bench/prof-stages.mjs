#!/usr/bin/env node
/**
 * Splits a daemon .cpuprofile (node --cpu-prof; `node bench/run.mjs --profile` makes them in
 * bench/out/prof/) into pipeline stages. Each sample goes to the innermost stack frame that
 * matches a stage rule, walking from the leaf up.
 *
 *   node bench/prof-stages.mjs FILE.cpuprofile
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Ordered: at each frame (leaf first), the first rule that matches names the stage. */
export const STAGE_RULES = [
  ['ban: lockout guard (loginsSince query + scan)', /^reason@.*guard\.js/],
  ['ban: SQLite writes (addBan, recordOffence, countBansSince)', /^(addBan|recordOffence|countBansSince)@.*store\.js/],
  ['success: SQLite writes (recordLogin, addEvent, everBanned)', /^(recordLogin|addEvent|everBanned)@.*store\.js/],
  ['log lines (stderr writes)', /^emit@.*log\.js/],
  ['ban: rest of Enforcer.onBanRequest / BanManager', /^onBanRequest@.*enforcer\.js/],
  ['success: rest of CompromiseWatch.onSuccess', /^onSuccess@.*compromise\.js/],
  ['allow-list check per failure (Cidr.contains → v4ToInt)', /^reason@.*allow\.js/],
  ['filter: CompiledFilter.match', /^match@.*engine\.js/],
  ['jail: window, isBanned, rest of Jail.process', /^process@.*jail\.js/],
  ['checkpoint (failure windows + positions → SQLite)', /^checkpoint@.*daemon\.js/],
  ['control socket: status requests (bench polling)', /^status@.*daemon\.js/],
  ['file source: read + split lines', /^(drain|readAvailable|reconcile|commit)@.*(file|lines)\.js/],
  ['firewall: apply + batching', /^(apply|applyPending)@.*(none|nftables|manager)\.js/],
  ['start-up (module loading, config, filter compile)', /^(run@.*run\.js|\(anon\)@.*main\.js|loadAndTranslate|getModuleJobForImport|evaluate|compileSourceTextModule)@/],
  ['shutdown (stop, final checkpoint, close)', /^stop@.*daemon\.js/],
  ['garbage collector', /^\(garbage collector\)@/],
  ['idle', /^\(idle\)@/],
];

/** @returns {{ totalMs: number, busyMs: number, stages: Array<[string, number]> }} */
export function profileStages(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const label = (n) => `${n.callFrame.functionName || '(anon)'}@${n.callFrame.url.split('/').pop()}`;
  const totals = new Map();
  let total = 0, busy = 0;
  for (const [id, t] of dt) {
    let stage;
    for (let cur = id; cur !== undefined && !stage; cur = parent.get(cur)) {
      const l = label(byId.get(cur));
      for (const [name, re] of STAGE_RULES) if (re.test(l)) { stage = name; break; }
    }
    stage ??= 'other (event loop, timers, node internals)';
    totals.set(stage, (totals.get(stage) ?? 0) + t);
    total += t;
    if (stage !== 'idle') busy += t;
  }
  return { totalMs: total / 1000, busyMs: busy / 1000, stages: [...totals].map(([k, t]) => [k, t / 1000]).sort((a, b) => b[1] - a[1]) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const r = profileStages(JSON.parse(fs.readFileSync(process.argv[2], 'utf8')));
  console.log(`profile ${(r.totalMs / 1000).toFixed(2)} s sampled, ${(r.busyMs / 1000).toFixed(2)} s busy`);
  for (const [k, t] of r.stages) console.log(`${t.toFixed(0).padStart(7)} ms ${k === 'idle' ? '      ' : `${(t / r.busyMs * 100).toFixed(1).padStart(5)}%`}  ${k}`);
}
