import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../src/bans/store.js';
import { BanManager } from '../../src/bans/manager.js';
import { openBanElements, type Firewall, type FirewallBatch, type FirewallElement, type KernelElement, type OpenBans } from '../../src/firewall/firewall.js';
import { silentLogger, type Logger } from '../../src/util/log.js';
import { until } from '../helpers/wait.js';
import { canonicalTarget } from '../../src/firewall/address.js';

/**
 * The ban manager against a recording firewall: the kernel side is faked here because the
 * contract under test is the manager's (batching, retry, reconcile); the real backends have their
 * own namespace tests and the end-to-end test runs both together.
 */
class RecordingFirewall implements Firewall {
  readonly kind = 'recording';
  readonly batches: FirewallBatch[] = [];
  readonly kernel = new Map<string, KernelElement>();
  failing = false;
  async init(): Promise<void> {
    if (this.failing) throw new Error('nft: Operation not permitted');
  }
  async apply(batch: FirewallBatch): Promise<void> {
    if (this.failing) throw new Error('nft: Operation not permitted');
    this.batches.push(batch);
    for (const r of batch.remove) this.kernel.delete(r.target);
    for (const a of batch.add) this.kernel.set(a.target, { target: a.target, family: a.family, expiresInSeconds: a.timeoutSeconds });
  }
  async list(): Promise<KernelElement[]> {
    if (this.failing) throw new Error('nft: Operation not permitted');
    return [...this.kernel.values()];
  }
  async flush(): Promise<void> { this.kernel.clear(); }
  async destroy(): Promise<void> { this.kernel.clear(); }
}

/** A fresh state directory and a ban manager over `firewall` (default: a RecordingFirewall). */
function setup<F extends RecordingFirewall = RecordingFirewall>(
  options: { now?: () => number; firewall?: F; log?: Logger } = {},
): { dir: string; store: StateStore; fw: F; bans: BanManager } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bans-'));
  const store = new StateStore(join(dir, 'state'));
  const fw = options.firewall ?? (new RecordingFirewall() as F);
  const bans = new BanManager({ store, firewall: fw, log: options.log ?? silentLogger, batchWindowMs: 5, ...(options.now ? { now: options.now } : {}) });
  return { dir, store, fw, bans };
}

const ban = (target: string, until: number | null, since = Date.now()) => ({
  target, family: (target.includes(':') ? 6 : 4) as 4 | 6, jail: 'sshd', since, until, reason: 'test', evidence: ['line'], origin: 'auto',
});

test('bans arriving together reach the kernel as one batch with their remaining time', async () => {
  const { dir, store, fw, bans } = setup();
  try {
    await bans.start();
    const now = Date.now();
    for (let i = 1; i <= 50; i++) bans.ban(ban(`192.0.2.${i}`, now + 600_000));
    bans.ban(ban('2001:db8::/64', null));
    await bans.flush();
    assert.equal(fw.batches.length, 1);
    assert.equal(fw.batches[0]!.add.length, 51);
    const timed = fw.kernel.get('192.0.2.1')!;
    assert.ok(timed.expiresInSeconds! > 590 && timed.expiresInSeconds! <= 600);
    assert.equal(fw.kernel.get('2001:db8::/64')!.expiresInSeconds, null);
    assert.equal(statSync(store.path).mode & 0o777, 0o600, 'the database is root-only');
    assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ban of an already banned address extends it, never shortens it', async () => {
  const { dir, store, bans } = setup();
  try {
    await bans.start();
    const now = Date.now();
    const first = bans.ban(ban('192.0.2.9', now + 600_000));
    assert.equal(bans.ban(ban('192.0.2.9', now + 60_000)).until, first.until);
    assert.equal(bans.ban(ban('192.0.2.9', now + 3_600_000)).until, now + 3_600_000);
    assert.equal(bans.list().length, 1);
    assert.equal(store.openBans(Date.now()).length, 1);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('when the firewall fails, bans stay recorded, the error is visible, and a retry reconciles', async () => {
  const { dir, store, fw, bans } = setup();
  try {
    await bans.start();
    fw.failing = true;
    bans.ban(ban('192.0.2.20', Date.now() + 600_000));
    await bans.flush();
    assert.match(bans.firewallHealth().lastError ?? '', /Operation not permitted/);
    assert.equal(store.openBans(Date.now()).length, 1, 'recorded despite the failure');
    fw.failing = false;
    await until('192.0.2.20 in the kernel after the retry', () => fw.kernel.has('192.0.2.20'));
    await bans.flush();
    assert.ok(fw.kernel.has('192.0.2.20'), 'the retry put the ban in the kernel');
    assert.equal(bans.firewallHealth().lastError, null);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start reconciles: open bans are restored, strays and expired ones are dropped', async () => {
  const { dir, store, fw, bans } = setup();
  try {
    const now = Date.now();
    store.addBan(ban('192.0.2.30', now + 600_000, now - 1000));
    store.addBan(ban('192.0.2.31', now - 1000, now - 700_000));
    store.addBan(ban('192.0.2.32', null, now - 5000));
    fw.kernel.set('198.51.100.1', { target: '198.51.100.1', family: 4, expiresInSeconds: 100 });
    await bans.start();
    assert.deepEqual([...fw.kernel.keys()].sort(), ['192.0.2.30', '192.0.2.32']);
    assert.equal(fw.kernel.get('192.0.2.32')!.expiresInSeconds, null);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A backend with Firewall.restore, held at a gate so the test can act while it runs. */
class RestoringFirewall extends RecordingFirewall {
  readonly restores: FirewallElement[][] = [];
  inits = 0;
  gate: Promise<void> = Promise.resolve();
  override async init(): Promise<void> {
    this.inits++;
    await super.init();
  }
  async restore(bans: OpenBans): Promise<void> {
    const elements = openBanElements(bans);
    this.restores.push(elements);
    await this.gate;
    if (this.failing) throw new Error('nft: Operation not permitted');
    this.kernel.clear();
    for (const a of elements) this.kernel.set(a.target, { target: a.target, family: a.family, expiresInSeconds: a.timeoutSeconds });
  }
}

test('start with a backend that restores: one call with exactly the open bans; changes made meanwhile follow it', async () => {
  const { dir, store, fw, bans } = setup({ firewall: new RestoringFirewall() });
  try {
    const now = Date.now();
    store.addBan(ban('192.0.2.80', now + 600_000, now - 1000));
    store.addBan(ban('192.0.2.81', now - 1000, now - 700_000)); // expired
    store.addBan(ban('192.0.2.82', null, now - 5000));
    store.addBan(ban('192.0.2.83', null, now - 5000));
    store.liftBan('192.0.2.83', now - 100, 'alice'); // lifted
    store.addBan(ban('2001:db8:5::/64', now + 60_000, now - 10));
    fw.kernel.set('198.51.100.1', { target: '198.51.100.1', family: 4, expiresInSeconds: 100 }); // stray
    let open!: () => void;
    fw.gate = new Promise((r) => { open = r; });
    const started = bans.start();
    // The database is read synchronously: the jails see every open ban before the kernel does.
    assert.equal(bans.isRestoring, true);
    assert.equal(bans.isBanned('192.0.2.82'), true);
    assert.equal(bans.isBanned('192.0.2.81'), false);
    assert.equal(bans.count(), 3);
    assert.deepEqual(bans.counts(), { active: 3, permanent: 1, byJail: new Map([['sshd', 3]]) });
    await new Promise((r) => setTimeout(r, 10));
    bans.ban(ban('192.0.2.84', now + 600_000));
    assert.equal(bans.unban('192.0.2.82', 'bob'), true);
    await new Promise((r) => setTimeout(r, 30)); // past the batch window: the batch waits for the restore
    assert.equal(fw.batches.length, 0);
    open();
    await started;
    assert.equal(bans.isRestoring, false);
    await bans.flush();
    assert.equal(fw.inits, 0, 'restore replaces init + list + compare');
    assert.equal(fw.restores.length, 1);
    const restored = new Map(fw.restores[0]!.map((e) => [e.target, e]));
    assert.deepEqual([...restored.keys()].sort(), ['192.0.2.80', '192.0.2.82', '2001:db8:5::/64']);
    assert.equal(restored.get('192.0.2.82')!.timeoutSeconds, null);
    const t = restored.get('192.0.2.80')!.timeoutSeconds!;
    assert.ok(t > 590 && t <= 600, `remaining time, not the original: ${t}`);
    assert.equal(restored.get('2001:db8:5::/64')!.family, 6);
    assert.deepEqual([...fw.kernel.keys()].sort(), ['192.0.2.80', '192.0.2.84', '2001:db8:5::/64']);
    assert.deepEqual(bans.list().map((b) => b.target), ['192.0.2.80', '2001:db8:5::/64', '192.0.2.84'], 'oldest first');
    assert.deepEqual(bans.counts(), { active: 3, permanent: 0, byJail: new Map([['sshd', 3]]) });
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed restore is recorded and retried with init + reconcile', async () => {
  const { dir, store, fw, bans } = setup({ firewall: new RestoringFirewall() });
  try {
    store.addBan(ban('192.0.2.90', null));
    fw.failing = true;
    await bans.start();
    assert.equal(bans.isRestoring, false);
    assert.match(bans.firewallHealth().lastError ?? '', /Operation not permitted/);
    fw.failing = false;
    await until('192.0.2.90 in the kernel after the retry', () => fw.kernel.has('192.0.2.90'));
    assert.ok(fw.kernel.has('192.0.2.90'));
    assert.equal(bans.firewallHealth().lastError, null);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a row that is not an address makes the kernel refuse the restore: it is dropped with an error naming it, the rest restored', async () => {
  /** Refuses a whole transaction with an invalid target, as nft does. */
  class StrictFirewall extends RestoringFirewall {
    override async restore(bans: OpenBans): Promise<void> {
      for (const e of openBanElements(bans)) canonicalTarget(e.target);
      await super.restore(bans);
    }
    override async apply(batch: FirewallBatch): Promise<void> {
      for (const e of [...batch.add, ...batch.remove]) canonicalTarget(e.target);
      await super.apply(batch);
    }
  }
  const errors: string[] = [];
  const { dir, store, fw, bans } = setup({ firewall: new StrictFirewall(), log: { ...silentLogger, error: (m: string) => errors.push(m) } });
  try {
    store.addBan(ban('192.0.2.91', null));
    store.addBan(ban('192.0.2.999', null)); // written in the address alphabet, yet no address
    await bans.start();
    assert.ok(errors.some((m) => m.includes('"192.0.2.999"') && m.includes('not enforced')), errors.join('\n'));
    await until('192.0.2.91 in the kernel after the retry', () => fw.kernel.has('192.0.2.91'));
    assert.deepEqual([...fw.kernel.keys()], ['192.0.2.91']);
    assert.equal(bans.firewallHealth().lastError, null);
    assert.equal(bans.isBanned('192.0.2.999'), false);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the store: open-ban lists and counts without records, evidence read on demand, stale permanent bans', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  const store = new StateStore(dir);
  try {
    const now = Date.now();
    store.addBan({ ...ban('192.0.2.1', null, now - 10 * 86_400_000), evidence: ['first line', 'second line'] });
    store.addBan({ ...ban('192.0.2.2', now + 1000, now), jail: 'postfix' });
    store.addBan(ban('192.0.2.3', now - 1, now - 1000)); // expired
    store.addBan(ban('192.0.2.4', now + 5000, now)); // twice open: the longer end wins
    store.addBan(ban('192.0.2.4', now + 9000, now));
    store.addBan(ban('192.0.2.5', null, now - 86_400_000));
    store.recordOffence('192.0.2.5', now - 2 * 86_400_000, now - 3600_000, 5); // tried again an hour ago
    assert.deepEqual(store.openBanLists(now), { permanent: '192.0.2.1 192.0.2.5', timed: ['192.0.2.2', '192.0.2.4'], timedUntil: [now + 1000, now + 9000] });
    const counts = store.openBanCounts(now);
    assert.equal(counts.active, 5);
    assert.equal(counts.permanent, 2);
    assert.deepEqual(counts.byJail, new Map([['sshd', 4], ['postfix', 1]]));
    const first = store.openBans(now)[0]!;
    assert.equal(first.target, '192.0.2.1');
    assert.deepEqual(first.evidence, ['first line', 'second line']);
    assert.deepEqual(JSON.parse(JSON.stringify({ ...first, evidence: first.evidence })).evidence, ['first line', 'second line']);
    // permanent_expiry: only 192.0.2.1 (banned 10 days ago, never seen since) is stale after 2 days.
    assert.deepEqual(store.stalePermanentBans(now - 2 * 86_400_000).map((b) => b.target), ['192.0.2.1']);
    assert.equal(store.latestBan('192.0.2.3')?.until, now - 1);
    assert.deepEqual(store.openBanLists(now + 10_000), { permanent: '192.0.2.1 192.0.2.5', timed: [], timedUntil: [] });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('open-ban lists: a target is in one list only (permanent wins, the longest timed ban), and the manager indexes them so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  const store = new StateStore(dir);
  try {
    const now = Date.now();
    store.addBan(ban('192.0.2.5', null, now - 1000));
    store.addBan(ban('192.0.2.5', now + 60_000, now)); // also timed: only the permanent ban counts
    store.addBan(ban('192.0.2.6', now + 9_000, now));
    store.addBan(ban('192.0.2.6', now + 90_000, now)); // the longer of two timed bans
    store.addBan(ban('192.0.2.6', now + 30_000, now));
    store.addBan(ban('192.0.2.7', null, now - 2000));
    store.addBan(ban('192.0.2.7', null, now - 1000)); // two open permanent rows: listed twice, harmless
    const lists = store.openBanLists(now);
    assert.deepEqual(lists, { permanent: '192.0.2.5 192.0.2.7 192.0.2.7', timed: ['192.0.2.6'], timedUntil: [now + 90_000] });
    const fw = new RestoringFirewall();
    const manager = new BanManager({ store, firewall: fw, log: silentLogger, batchWindowMs: 5, now: () => now });
    await manager.start();
    assert.equal(manager.isBanned('192.0.2.5'), true);
    assert.equal(manager.get('192.0.2.5')?.until, null);
    const restored = fw.restores[0]!;
    assert.deepEqual(restored.filter((e) => e.target === '192.0.2.5').map((e) => e.timeoutSeconds), [null], 'never a timeout on a permanent ban');
    assert.deepEqual(restored.filter((e) => e.target === '192.0.2.6').map((e) => e.timeoutSeconds), [90]);
    assert.equal(manager.count(), 3);
    manager.stop();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unban lifts a ban in the database and the kernel, and records who', async () => {
  const { dir, store, fw, bans } = setup();
  try {
    await bans.start();
    bans.ban(ban('192.0.2.40', null));
    await bans.flush();
    assert.equal(bans.unban('192.0.2.40', 'alice'), true);
    await bans.flush();
    assert.equal(fw.kernel.has('192.0.2.40'), false);
    assert.equal(bans.unban('192.0.2.40', 'alice'), false);
    assert.equal(store.openBans(Date.now()).length, 0);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('counters and read positions are checkpointed together and survive reopening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  try {
    const a = new StateStore(dir);
    a.savePosition('file:/var/log/auth.log', '{"offset":42}');
    a.checkpoint([{ jail: 'sshd', entries: [['192.0.2.1', { times: [1, 2], evidence: ['x'] }], ['192.0.2.2', undefined]] }]);
    a.close();
    const b = new StateStore(dir);
    assert.equal(b.loadPosition('file:/var/log/auth.log'), '{"offset":42}');
    assert.deepEqual(b.loadFailures('sshd'), [['192.0.2.1', [1, 2]]]);
    assert.deepEqual(b.failureEvidence('sshd', '192.0.2.1'), ['x']);
    b.checkpoint([{ jail: 'sshd', entries: [['192.0.2.1', undefined]] }]);
    assert.deepEqual(b.loadFailures('sshd'), []);
    assert.deepEqual(b.failureEvidence('sshd', '192.0.2.1'), []);
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint appends new evidence lines to the stored ones (newest 3 kept) or replaces them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  try {
    const store = new StateStore(dir);
    store.checkpoint([{ jail: 'sshd', entries: [['192.0.2.1', { times: [1], evidence: ['l1'] }]] }]);
    store.checkpoint([{ jail: 'sshd', entries: [['192.0.2.1', { times: [1, 2], evidence: ['l2'], append: true }]] }]);
    assert.deepEqual(store.failureEvidence('sshd', '192.0.2.1'), ['l1', 'l2']);
    store.checkpoint([{ jail: 'sshd', entries: [['192.0.2.1', { times: [1, 2, 3, 4], evidence: ['l3', 'l4'], append: true }]] }]);
    assert.deepEqual(store.failureEvidence('sshd', '192.0.2.1'), ['l2', 'l3', 'l4']);
    assert.deepEqual(store.loadFailures('sshd'), [['192.0.2.1', [1, 2, 3, 4]]]);
    // A new entry for the same key (the old one led to a ban): its lines replace the old ones.
    store.checkpoint([{ jail: 'sshd', entries: [['192.0.2.1', { times: [9], evidence: ['n1'], append: false }]] }]);
    assert.deepEqual(store.failureEvidence('sshd', '192.0.2.1'), ['n1']);
    // Appending to a key with no row stores the new lines.
    store.checkpoint([{ jail: 'sshd', entries: [['192.0.2.2', { times: [5], evidence: ['m1'], append: true }]] }]);
    assert.deepEqual(store.failureEvidence('sshd', '192.0.2.2'), ['m1']);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clock jump moves a ban by at most the jump, in either direction, and breaks nothing', async () => {
  let now = Date.parse('2026-06-01T12:00:00Z');
  const { dir, store, fw, bans } = setup({ now: () => now });
  try {
    await bans.start();
    bans.ban(ban('192.0.2.70', now + 600_000, now));
    await bans.flush();
    assert.equal(fw.kernel.get('192.0.2.70')!.expiresInSeconds, 600);
    // Backwards by an hour: the database end is absolute, so the remaining time grows by the jump at most.
    now -= 3_600_000;
    await bans.verify();
    const back = fw.kernel.get('192.0.2.70')!.expiresInSeconds!;
    assert.ok(back >= 600 && back <= 600 + 3600, `after a jump back: ${back}s`);
    assert.equal(bans.isBanned('192.0.2.70'), true);
    // Forwards past the end: the ban is over (shortened by no more than the jump) and leaves the kernel.
    now += 3_600_000 + 700_000;
    assert.deepEqual(bans.sweep().map((b) => b.target), ['192.0.2.70']);
    await bans.verify();
    assert.equal(fw.kernel.has('192.0.2.70'), false);
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** As nftables: a timed addition leaves a permanent element as it is (Firewall.apply). */
class KeepsPermanentFirewall extends RecordingFirewall {
  override async apply(batch: FirewallBatch): Promise<void> {
    const permanent = [...this.kernel.values()].filter((k) => k.expiresInSeconds === null).map((k) => k.target);
    await super.apply(batch);
    const removed = new Set(batch.remove.map((r) => r.target));
    for (const target of permanent) {
      if (!removed.has(target) && this.kernel.has(target)) this.kernel.set(target, { ...this.kernel.get(target)!, expiresInSeconds: null });
    }
  }
}

test('a permanent ban made temporary (shorten, reconcile) is removed and added in one batch: a timed addition alone may not lower it', async () => {
  const { dir, store, fw, bans } = setup({ firewall: new KeepsPermanentFirewall() });
  try {
    await bans.start();
    const now = Date.now();
    bans.ban(ban('192.0.2.1', null));
    await bans.flush();
    assert.equal(fw.kernel.get('192.0.2.1')?.expiresInSeconds, null);
    assert.equal(bans.shorten('192.0.2.1', now + 600_000), true);
    await bans.flush();
    const batch = fw.batches.at(-1)!;
    assert.deepEqual([batch.remove.map((r) => r.target), batch.add.map((a) => a.target)], [['192.0.2.1'], ['192.0.2.1']]);
    const k = fw.kernel.get('192.0.2.1');
    assert.ok(k && k.expiresInSeconds !== null && k.expiresInSeconds > 590, JSON.stringify(k));

    // The kernel holds a timed ban as permanent (a stale element): reconcile lowers it the same way.
    bans.ban(ban('192.0.2.2', now + 600_000));
    await bans.flush();
    fw.kernel.set('192.0.2.2', { target: '192.0.2.2', family: 4, expiresInSeconds: null });
    await bans.verify();
    const r = fw.kernel.get('192.0.2.2');
    assert.ok(r && r.expiresInSeconds !== null && r.expiresInSeconds > 590, JSON.stringify(r));
  } finally {
    bans.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
