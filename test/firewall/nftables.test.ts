import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetnsLab } from '../helpers/netns.js';
import { missing } from '../helpers/require.js';
import { asOpenBans } from '../helpers/open-bans.js';
import { FirewallError, type FirewallElement, type KernelElement } from '../../src/firewall/firewall.js';
import { NftablesFirewall, type NftablesOptions } from '../../src/firewall/nftables.js';
import type { CommandInfo } from '../../src/firewall/runner.js';
import { canConnect, openSession, startEchoServer } from './tcp.js';

/**
 * Real nft inside throw-away network namespaces: every test gets its own namespace, so nothing
 * here can touch the host's ruleset, and `after` deletes them all even when an assertion fails.
 */

const skip = missing(['nft', 'ip']);
const T = { timeout: 60_000 };

function v4(target: string, timeoutSeconds: number | null = null): FirewallElement {
  return { target, family: 4, timeoutSeconds };
}
function v6(target: string, timeoutSeconds: number | null = null): FirewallElement {
  return { target, family: 6, timeoutSeconds };
}
function byTarget(list: readonly KernelElement[]): Map<string, KernelElement> {
  return new Map(list.map((e) => [e.target, e]));
}

describe('NftablesFirewall (in network namespaces)', { skip }, () => {
  const lab = new NetnsLab();
  let n = 0;
  /** A fresh namespace and a firewall confined to it, with every command it runs recorded. */
  async function setup(options: NftablesOptions = {}) {
    const ns = await lab.add(`nft${n++}`);
    const commands: CommandInfo[] = [];
    const fw = new NftablesFirewall({ netns: ns, onCommand: (c) => commands.push(c), ...options });
    const nft = async (...args: string[]) => (await lab.exec(ns, ['nft', ...args])).stdout;
    return { ns, fw, commands, nft };
  }

  after(async () => {
    await lab.cleanup();
  });

  test('init creates the table, sets and input hook; twice is fine; other tables untouched', T, async () => {
    const { ns, fw, nft } = await setup();
    const other = 'table ip other {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 22 accept\n\t}\n}\n';
    await lab.exec(ns, ['nft', '-f', '-'], { input: other });
    const otherBefore = await nft('list', 'table', 'ip', 'other');
    await fw.init();
    await fw.init();
    const table = await nft('list', 'table', 'inet', 'warden');
    assert.match(table, /set banned4 \{\s+type ipv4_addr\s+flags timeout/);
    assert.match(table, /set banned6 \{\s+type ipv6_addr\s+flags timeout/);
    assert.match(table, /chain input \{\s+type filter hook input priority filter - 10; policy accept;/);
    assert.match(table, /ip saddr @banned4 drop/);
    assert.match(table, /ip6 saddr @banned6 drop/);
    assert.equal((table.match(/ip saddr @banned4 drop/g) ?? []).length, 1, 'init twice must not duplicate rules');
    assert.doesNotMatch(table, /chain forward/);
    assert.equal(await nft('list', 'table', 'ip', 'other'), otherBefore);
    await fw.destroy();
    assert.equal(await nft('list', 'table', 'ip', 'other'), otherBefore);
    assert.doesNotMatch(await nft('list', 'tables'), /warden/);
  });

  test('elements appear with timeouts; permanent ones have none; prefixes keep their length', T, async () => {
    const { fw, nft, commands } = await setup();
    await fw.init();
    commands.length = 0;
    await fw.apply({ add: [v4('192.0.2.1', 600), v4('198.51.100.0/24'), v6('2001:db8:1:2::/64', 3600), v6('2001:DB8::0:7', 90)], remove: [] });
    assert.equal(commands.length, 1, 'one nft invocation per batch');
    assert.deepEqual(commands[0]?.argv.slice(1), ['-f', '-']);
    const listed = byTarget(await fw.list());
    assert.equal(listed.size, 4);
    const a = listed.get('192.0.2.1');
    assert.ok(a && a.expiresInSeconds !== null && a.expiresInSeconds > 590 && a.expiresInSeconds <= 600, JSON.stringify(a));
    assert.deepEqual(listed.get('198.51.100.0/24'), { target: '198.51.100.0/24', family: 4, expiresInSeconds: null });
    const p = listed.get('2001:db8:1:2::/64');
    assert.ok(p && p.family === 6 && p.expiresInSeconds !== null && p.expiresInSeconds > 3590, JSON.stringify(p));
    assert.ok(listed.get('2001:db8::7'), 'canonical IPv6 spelling');
    const text = await nft('list', 'table', 'inet', 'warden');
    assert.match(text, /192\.0\.2\.1 timeout 10m expires/);
    // Permanent bans have sets of their own: no timeout flag, a declared size.
    assert.match(text, /set permanent4_24 \{\s+type ipv4_addr\s+size 4096\s+elements = \{ 198\.51\.100\.0 \}/);
    assert.match(text, /set permanent4 \{\s+type ipv4_addr\s+size 4096\s+\}/);
    assert.match(text, /2001:db8:1:2:: timeout 1h expires/);
    assert.match(text, /ip saddr & 255\.255\.255\.0 == @permanent4_24 drop/);
    assert.match(text, /ip6 saddr & ffff:ffff:ffff:ffff:: == @banned6_64 drop/);
    assert.match(text, /ip saddr @permanent4 drop/);
    assert.match(text, /ip6 saddr @permanent6 drop/);
  });

  test('timeouts expire in the kernel; permanent elements stay', T, async () => {
    const { fw } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.10', 1), v6('2001:db8::10', 2), v4('192.0.2.11')], remove: [] });
    assert.equal((await fw.list()).length, 3);
    await sleep(3_000);
    assert.deepEqual(await fw.list(), [{ target: '192.0.2.11', family: 4, expiresInSeconds: null }]);
  });

  for (const mode of ['auto', 'replace'] as const) {
    test(`re-adding updates the timeout in both directions (timeoutUpdate=${mode})`, T, async () => {
      const { fw, commands } = await setup({ timeoutUpdate: mode });
      await fw.init();
      if (mode === 'replace') assert.equal(fw.timeoutUpdateMode, 'replace');
      else console.log(`    kernel timeout update probe: ${fw.timeoutUpdateMode ?? '?'}`);
      const get = async (t: string) => byTarget(await fw.list()).get(t)?.expiresInSeconds;
      await fw.apply({ add: [v4('203.0.113.1', 1000)], remove: [] });
      assert.ok(((await get('203.0.113.1')) ?? 0) > 990);
      await fw.apply({ add: [v4('203.0.113.1', 50)], remove: [] }); // shorter
      const shorter = await get('203.0.113.1');
      assert.ok(shorter !== undefined && shorter !== null && shorter <= 50 && shorter > 40, String(shorter));
      await fw.apply({ add: [v4('203.0.113.1', 5000)], remove: [] }); // longer
      assert.ok(((await get('203.0.113.1')) ?? 0) > 4990);
      await fw.apply({ add: [v4('203.0.113.1', null)], remove: [] }); // timed -> permanent
      assert.equal(await get('203.0.113.1'), null);
      assert.equal((await fw.list()).length, 1, 'one element per target, although the timed one is still in its set');
      await fw.apply({ add: [v4('203.0.113.1', 300)], remove: [] });
      assert.equal(await get('203.0.113.1'), null, 'a timed addition alone does not lower a permanent ban');
      commands.length = 0;
      await fw.apply({ add: [v4('203.0.113.1', 300)], remove: [v4('203.0.113.1')] }); // permanent -> timed
      const again = await get('203.0.113.1');
      assert.ok(again !== undefined && again !== null && again <= 300 && again > 290, String(again));
      assert.equal(commands.length, 2, 'one apply + one list');
      // Duplicates in one batch: the last one wins and the transaction does not fail.
      await fw.apply({ add: [v4('203.0.113.1', 10), v4('203.0.113.1', 20)], remove: [v4('203.0.113.1'), v4('203.0.113.1')] });
      const dup = await get('203.0.113.1');
      assert.ok(dup !== undefined && dup !== null && dup <= 20 && dup > 10, String(dup));
    });
  }

  test('removing absent elements does not fail the batch; present ones go; removals precede additions', T, async () => {
    const { fw } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.20'), v4('192.0.2.21', 600), v6('2001:db8:5::/48')], remove: [] });
    await fw.apply({
      remove: [v4('192.0.2.20'), v4('192.0.2.99'), v6('2001:db8::99'), v6('2001:db8:5::/48'), v6('2001:db8:6::/56'), v4('192.0.2.21')],
      add: [v4('192.0.2.21', 60)],
    });
    const listed = await fw.list();
    assert.deepEqual(listed.map((e) => e.target), ['192.0.2.21']);
    assert.ok((listed[0]?.expiresInSeconds ?? 0) <= 60);
  });

  test('overlapping bans coexist (address inside a banned prefix, nested prefixes)', T, async () => {
    const { fw } = await setup();
    await fw.init();
    await fw.apply({ add: [v6('2001:db8:1:2::5', 60), v4('192.0.2.5', 60)], remove: [] });
    await fw.apply({ add: [v6('2001:db8:1:2::/64', 600), v6('2001:db8:1::/48'), v4('192.0.2.0/24', 600), v4('192.0.2.0/25')], remove: [] });
    const targets = (await fw.list()).map((e) => e.target).sort();
    assert.deepEqual(targets, ['192.0.2.0/24', '192.0.2.0/25', '192.0.2.5', '2001:db8:1:2::/64', '2001:db8:1:2::5', '2001:db8:1::/48']);
    await fw.apply({ add: [], remove: [v6('2001:db8:1::/48')] });
    assert.equal((await fw.list()).length, 5);
  });

  test('a restart (new instance, init again) keeps elements, prefix sets and their rules', T, async () => {
    const { ns, fw, nft } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.30', 600), v6('2001:db8:7::/64')], remove: [] });
    const restarted = new NftablesFirewall({ netns: ns });
    await restarted.init();
    await restarted.init();
    assert.deepEqual((await restarted.list()).map((e) => e.target).sort(), ['192.0.2.30', '2001:db8:7::/64']);
    await restarted.apply({ add: [v4('192.0.2.31')], remove: [] });
    assert.match(await nft('list', 'chain', 'inet', 'warden', 'input'), /ip6 saddr & ffff:ffff:ffff:ffff:: == @permanent6_64 drop/);
    assert.deepEqual((await restarted.list()).map((e) => e.target).sort(), ['192.0.2.30', '192.0.2.31', '2001:db8:7::/64']);
  });

  test('restore: one transaction leaves exactly the given bans (strays, stale prefix sets, old timeouts gone); other tables untouched', T, async () => {
    const { ns, fw, nft } = await setup();
    const other = 'table ip other {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.51 }\n\t}\n}\n';
    await lab.exec(ns, ['nft', '-f', '-'], { input: other });
    const otherBefore = await nft('list', 'table', 'ip', 'other');
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.50'), v4('192.0.2.51', 600), v6('2001:db8:9::/64'), v4('192.0.2.52', 100)], remove: [] });

    // A new process: it knows nothing of the prefix sets the previous one made.
    const commands: CommandInfo[] = [];
    const restarted = new NftablesFirewall({ netns: ns, timeoutUpdate: 'in-place', onCommand: (c) => commands.push(c) });
    await restarted.restore(asOpenBans([v4('192.0.2.50', 3600), v4('192.0.2.52'), v6('2001:db8::53', 900), v4('198.51.100.0/24'), v6('2001:DB8:0:0::54')]));
    assert.equal(commands.filter((c) => c.argv.includes('-f')).length, 1, 'one nft transaction');
    assert.ok(!commands.some((c) => c.argv.includes('table') && c.argv.includes('list') && !c.argv.includes('-t')), 'no listing of the elements');
    const listed = byTarget(await restarted.list());
    assert.deepEqual([...listed.keys()].sort(), ['192.0.2.50', '192.0.2.52', '198.51.100.0/24', '2001:db8::53', '2001:db8::54']);
    const a = listed.get('192.0.2.50');
    assert.ok(a && a.expiresInSeconds !== null && a.expiresInSeconds > 3590, `permanent → 1 h: ${JSON.stringify(a)}`);
    assert.equal(listed.get('192.0.2.52')?.expiresInSeconds, null, '100 s → permanent');
    const b = listed.get('2001:db8::53');
    assert.ok(b && b.expiresInSeconds !== null && b.expiresInSeconds > 890 && b.expiresInSeconds <= 900, JSON.stringify(b));
    const table = await nft('list', 'table', 'inet', 'warden');
    assert.doesNotMatch(table, /6_64/, 'the table is replaced whole: the stale /64 set and its rule are gone');
    assert.match(table, /ip saddr & 255\.255\.255\.0 == @permanent4_24 drop/);
    assert.equal(await nft('list', 'table', 'ip', 'other'), otherBefore);
    // Restore writes its structure as JSON, init/apply as text: both must give the same table.
    for (const hookForward of [false, true]) {
      await new NftablesFirewall({ netns: ns, hookForward, timeoutUpdate: 'in-place' }).restore(asOpenBans([v4('198.51.100.0/24'), v6('2001:db8:9::/64')]));
      const viaJson = await nft('-t', 'list', 'table', 'inet', 'warden');
      await new NftablesFirewall({ netns: ns, hookForward, timeoutUpdate: 'in-place' }).init();
      assert.equal(await nft('-t', 'list', 'table', 'inet', 'warden'), viaJson, `hookForward ${hookForward}`);
      assert.equal((viaJson.match(/chain forward/g) ?? []).length, hookForward ? 1 : 0);
    }

    // Batches after a restore work as before (here: the timeout update mode is probed on demand).
    const later = new NftablesFirewall({ netns: ns });
    await later.restore(asOpenBans([v4('192.0.2.60', 600)]));
    await later.apply({ add: [v4('192.0.2.61', 600)], remove: [v4('192.0.2.60')] });
    assert.deepEqual((await later.list()).map((e) => e.target).sort(), ['192.0.2.61']);
    // destroy right after a restore: the probe restore started in the background must not re-create the table.
    const quick = new NftablesFirewall({ netns: ns });
    await quick.restore(asOpenBans([]));
    await quick.destroy();
    await sleep(200);
    assert.doesNotMatch(await nft('list', 'tables'), /warden/);
  });

  test('restore refuses a target outside the address alphabet before anything runs, takes a non-canonical spelling as parseTarget does, and is refused whole by nft for a malformed address', T, async () => {
    const { fw, commands, nft } = await setup({ timeoutUpdate: 'in-place' });
    await assert.rejects(fw.restore(asOpenBans([v4('192.0.2.1'), v4('192.0.2.1 } ; flush ruleset ; add element inet warden banned4 { 192.0.2.2')])), FirewallError);
    await assert.rejects(fw.restore({ permanent: '', timed: [v6('192.0.2.1', 60)] }), /IPv4 but the element says IPv6/);
    await assert.rejects(fw.restore(asOpenBans([v4('192.0.2.1', 0)])), /timeout must be a positive number/);
    assert.equal(commands.filter((c) => c.argv.includes('-f')).length, 0);
    await fw.restore(asOpenBans([v6('2001:DB8::7', 60), v6('2001:db8::7', 120), v6('2001:db8:1:2:0:0:0:0/64')]));
    const listed = byTarget(await fw.list());
    assert.deepEqual([...listed.keys()].sort(), ['2001:db8:1:2::/64', '2001:db8::7']);
    assert.ok((listed.get('2001:db8::7')?.expiresInSeconds ?? 0) > 60, 'the later spelling wins, as in apply');

    // In the address alphabet but no address: nft refuses the transaction, and the kernel keeps
    // what it had (the ban manager then drops the row: see its tests).
    const table = async () => (await nft('list', 'table', 'inet', 'warden')).replace(/ expires \S+/g, '');
    const before = await table();
    await assert.rejects(fw.restore(asOpenBans([v4('192.0.2.8'), v4('192.0.2.999')])), FirewallError);
    await assert.rejects(fw.restore(asOpenBans([v6('2001:db8:::1')])), FirewallError);
    assert.equal(await table(), before);
  });

  test('flush empties the sets but keeps the structure; destroy is idempotent', T, async () => {
    const { fw, nft } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.40'), v6('2001:db8::40', 600), v4('198.51.100.0/24')], remove: [] });
    await fw.flush();
    assert.deepEqual(await fw.list(), []);
    assert.match(await nft('list', 'table', 'inet', 'warden'), /ip saddr & 255\.255\.255\.0 == @permanent4_24 drop/);
    await fw.destroy();
    await fw.destroy();
    assert.deepEqual(await fw.list(), []);
    await fw.flush(); // no table: nothing to do
  });

  test('a wiped ruleset (nft flush ruleset) is rebuilt by the next batch', T, async () => {
    const { fw, nft } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.50')], remove: [] });
    await nft('flush', 'ruleset');
    await fw.apply({ add: [v4('192.0.2.51')], remove: [v4('192.0.2.50')] });
    assert.deepEqual((await fw.list()).map((e) => e.target), ['192.0.2.51']);
    assert.match(await nft('list', 'chain', 'inet', 'warden', 'input'), /ip saddr @banned4 drop/);
  });

  test('hookForward adds a forward chain; re-init without it removes the chain', T, async () => {
    const { ns, fw, nft } = await setup({ hookForward: true });
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.60')], remove: [] });
    assert.match(await nft('list', 'chain', 'inet', 'warden', 'forward'), /type filter hook forward priority filter - 10;[\s\S]*ip saddr @banned4 drop/);
    await new NftablesFirewall({ netns: ns }).init();
    assert.doesNotMatch(await nft('list', 'table', 'inet', 'warden'), /chain forward/);
    assert.deepEqual((await fw.list()).map((e) => e.target), ['192.0.2.60']);
  });

  test('invalid targets throw before any command runs', T, async () => {
    const { fw, commands } = await setup();
    await fw.init();
    commands.length = 0;
    const hostile = [
      '192.0.2.1 } ; flush ruleset ; add element inet warden banned4 { 192.0.2.2',
      '192.0.2.1\nflush ruleset',
      '2001:db8::1%eth0',
      '192.0.2.256',
      '192.0.2.01',
      '192.0.2.0/33',
      '192.0.2.0/0',
      '192.0.2.5/24',
      '2001:db8::/129',
      '::ffff:192.0.2.1 timeout 1s',
      '',
    ];
    for (const target of hostile) {
      const family = target.includes(':') ? 6 : 4;
      await assert.rejects(fw.apply({ add: [v4('192.0.2.70'), { target, family, timeoutSeconds: 60 }], remove: [] }), FirewallError, target);
      await assert.rejects(fw.apply({ add: [], remove: [{ target, family, timeoutSeconds: null }] }), FirewallError, target);
    }
    await assert.rejects(fw.apply({ add: [{ target: '192.0.2.1', family: 6, timeoutSeconds: 1 }], remove: [] }), /IPv4 but the element says IPv6/);
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(fw.apply({ add: [v4('192.0.2.1', bad)], remove: [] }), /timeout must be a positive number/);
    }
    assert.equal(commands.length, 0, 'nothing may run for an invalid batch');
    assert.deepEqual(await fw.list(), [], 'valid elements of a rejected batch are not applied either');
  });

  test('a missing nft program or a failing command gives a FirewallError naming the command', T, async () => {
    const noProgram = new NftablesFirewall({ nftPath: '/nonexistent/nft' });
    await assert.rejects(noProgram.init(), (e: unknown) => e instanceof FirewallError && /\/nonexistent\/nft/.test(e.message));
    const { ns } = await setup();
    const badTable = new NftablesFirewall({ netns: ns, table: 'set' }); // an nft keyword: nft itself refuses it
    await assert.rejects(badTable.init(), (e: unknown) => e instanceof FirewallError && /nft .* failed \(exit 1\): .*syntax error/s.test(e.message));
    assert.throws(() => new NftablesFirewall({ table: 'x; flush ruleset' }), FirewallError);
    assert.throws(() => new NftablesFirewall({ netns: '../etc' }), FirewallError);
  });

  test('a permanent set is made larger before it could overflow, in one transaction, nothing lost; a restarted instance counts before it trusts', T, async () => {
    const { ns, fw, nft, commands } = await setup();
    await fw.init();
    const ips = (count: number, offset: number) => Array.from({ length: count }, (_, i) => v4(`10.1.${((i + offset) >> 8) & 255}.${(i + offset) & 255}`));
    const size = async () => Number(/size (\d+)/.exec(await nft('-t', 'list', 'set', 'inet', 'warden', 'permanent4'))?.[1]);
    await fw.apply({ add: [...ips(4_000, 0), v4('192.0.2.1', 600)], remove: [] });
    assert.equal(await size(), 4096);
    commands.length = 0;
    await fw.apply({ add: ips(200, 4_000), remove: [v4('10.1.0.0')] });
    assert.deepEqual(commands.map((c) => c.argv.slice(1, 3).join(' ')), ['-j list', '-f -', '-f -'], 'list, rebuild, then the batch');
    assert.equal(await size(), 16_384, 'room for twice what it holds, a power of two');
    const listed = byTarget(await fw.list());
    assert.equal(listed.size, 4_200, '4,200 permanent (one removed) and the timed one');
    assert.equal(listed.get('192.0.2.1')?.expiresInSeconds !== null, true);
    assert.equal(listed.get('10.1.0.0'), undefined);
    assert.match(await nft('list', 'chain', 'inet', 'warden', 'input'), /ip saddr @permanent4 drop/);
    assert.equal((await nft('list', 'chain', 'inet', 'warden', 'input')).match(/@permanent4 drop/g)?.length, 1);

    // A new process learns the size but not how full the set is: its first change lists it, and
    // rebuilds nothing when there is room.
    const restartedCommands: CommandInfo[] = [];
    const restarted = new NftablesFirewall({ netns: ns, onCommand: (c) => restartedCommands.push(c) });
    await restarted.init();
    restartedCommands.length = 0;
    await restarted.apply({ add: [v4('198.51.100.1')], remove: [] });
    assert.deepEqual(restartedCommands.map((c) => c.argv.slice(1, 3).join(' ')), ['-j list', '-f -']);
    restartedCommands.length = 0;
    await restarted.apply({ add: [v4('198.51.100.2')], remove: [] });
    assert.equal(restartedCommands.length, 1, 'counted now: no listing');
    assert.equal(await size(), 16_384);
    assert.equal((await restarted.list()).length, 4_202);

    // A restore declares each permanent set with room for twice its bans, and knows how full it is.
    restartedCommands.length = 0;
    await restarted.restore(asOpenBans(ips(5_000, 0)));
    await restarted.apply({ add: [v4('198.51.100.3')], remove: [] });
    assert.deepEqual(restartedCommands.map((c) => c.argv.slice(1, 3).join(' ')), ['-j -f', '-f -'], 'no listing after a restore');
    assert.equal(await size(), 16_384);
  });

  test('10,000 elements apply in one call; 100,000 work', T, async () => {
    const { fw, commands } = await setup();
    await fw.init();
    const make = (count: number, offset: number): FirewallElement[] => Array.from({ length: count }, (_, i) => {
      const k = i + offset;
      return i % 2 === 0
        ? v4(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, 600 + (i % 100))
        : v6(`2001:db8:${(k >> 16).toString(16)}:${(k & 0xffff).toString(16)}::1`, i % 10 === 1 ? null : 900);
    });
    const tenK = make(10_000, 0);
    commands.length = 0;
    let t0 = performance.now();
    await fw.apply({ add: tenK, remove: [] });
    const ms10k = performance.now() - t0;
    assert.equal(commands.length, 1);
    const listed = byTarget(await fw.list());
    assert.equal(listed.size, 10_000);
    for (const e of [tenK[0], tenK[1], tenK[4_999], tenK[9_999]]) {
      assert.ok(e);
      const got = listed.get(e.target);
      assert.ok(got, e.target);
      assert.equal(got.expiresInSeconds === null, e.timeoutSeconds === null, e.target);
    }
    // Re-apply the same 10k (all present: the update path) and time it too.
    t0 = performance.now();
    await fw.apply({ add: tenK, remove: [] });
    const ms10kAgain = performance.now() - t0;

    const hundredK = make(100_000, 10_000);
    commands.length = 0;
    t0 = performance.now();
    await fw.apply({ add: hundredK, remove: [] });
    const ms100k = performance.now() - t0;
    // One transaction for the batch, after permanent6 grew (its 10,000 new elements outnumber its
    // declared 4,096: a listing and one rebuild).
    assert.deepEqual(commands.map((c) => c.argv.slice(1, 3).join(' ')), ['-j list', '-f -', '-f -']);
    t0 = performance.now();
    const all = await fw.list();
    const msList = performance.now() - t0;
    assert.equal(all.length, 110_000);
    t0 = performance.now();
    await fw.apply({ add: [], remove: hundredK });
    const ms100kRemove = performance.now() - t0;
    assert.equal((await fw.list()).length, 10_000);
    console.log(`    nft (${fw.timeoutUpdateMode ?? '?'}): 10k add ${ms10k.toFixed(0)} ms, 10k re-add ${ms10kAgain.toFixed(0)} ms, ` +
      `100k add ${ms100k.toFixed(0)} ms, list 110k ${msList.toFixed(0)} ms, 100k remove ${ms100kRemove.toFixed(0)} ms`);
  });

  describe('packets', () => {
    let fwNs = '';
    let client = '';
    let fw: NftablesFirewall;
    const port = 2222;
    let server: { stop(): Promise<void> } | undefined;

    before(async () => {
      fwNs = await lab.add('nftpk-fw');
      client = await lab.add('nftpk-cl');
      await lab.link(client, ['192.0.2.7/24', '2001:db8::7/64'], fwNs, ['192.0.2.1/24', '2001:db8::1/64']);
      server = await startEchoServer(fwNs, port);
      fw = new NftablesFirewall({ netns: fwNs });
      await fw.init();
    });
    after(async () => {
      await server?.stop();
    });

    test('a banned IPv4 address cannot connect; unbanned it can', T, async () => {
      assert.equal(await canConnect(lab, client, '192.0.2.1', port), true, 'baseline');
      await fw.apply({ add: [v4('192.0.2.7', 600)], remove: [] });
      assert.equal(await canConnect(lab, client, '192.0.2.1', port), false, 'banned');
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), true, 'IPv6 of the same host is another element');
      await fw.apply({ add: [], remove: [v4('192.0.2.7')] });
      assert.equal(await canConnect(lab, client, '192.0.2.1', port), true, 'unbanned');
    });

    test('an IPv6 /64 ban covers a neighbour address; another /64 does not', T, async () => {
      await fw.apply({ add: [v6('2001:db8:0:1::/64', 600)], remove: [] });
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), true, 'other /64');
      await fw.apply({ add: [v6('2001:db8::/64', 600)], remove: [] });
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), false, '/64 covers 2001:db8::7');
      await fw.apply({ add: [], remove: [v6('2001:db8::/64'), v6('2001:db8:0:1::/64')] });
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), true);
    });

    test('a ban cuts an already established connection; an expired ban lets it through again', T, async () => {
      const session = await openSession(client, '192.0.2.1', port, 800);
      try {
        assert.equal(await session.ping(), true, 'established');
        await fw.apply({ add: [v4('192.0.2.0/24', 2)], remove: [] });
        assert.equal(await session.ping(), false, 'established connection no longer answered');
      } finally {
        await session.stop();
      }
      await sleep(2_500);
      assert.equal(await canConnect(lab, client, '192.0.2.1', port), true, 'ban expired in the kernel');
    });
  });
});
