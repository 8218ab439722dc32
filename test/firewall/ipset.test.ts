import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetnsLab } from '../helpers/netns.js';
import { missing } from '../helpers/require.js';
import { asOpenBans } from '../helpers/open-bans.js';
import { FirewallError, type FirewallElement, type KernelElement } from '../../src/firewall/firewall.js';
import { IPSET_MAX_TIMEOUT_SECONDS, IpsetFirewall, type IpsetOptions } from '../../src/firewall/ipset.js';
import type { CommandInfo } from '../../src/firewall/runner.js';
import { canConnect, openSession, startEchoServer } from './tcp.js';

/** Real ipset + iptables/ip6tables inside throw-away network namespaces (never the host's). */

const skip = missing(['ipset', 'iptables', 'ip6tables', 'ip']);
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

describe('IpsetFirewall (in network namespaces)', { skip }, () => {
  const lab = new NetnsLab();
  let n = 0;
  async function setup(options: IpsetOptions = {}) {
    const ns = await lab.add(`ips${n++}`);
    const commands: CommandInfo[] = [];
    const fw = new IpsetFirewall({ netns: ns, onCommand: (c) => commands.push(c), ...options });
    const sh = async (...argv: string[]) => (await lab.exec(ns, argv)).stdout;
    return { ns, fw, commands, sh };
  }

  after(async () => {
    await lab.cleanup();
  });

  test('init creates sets, chain and a single jump per family; twice is fine', T, async () => {
    const { fw, sh } = await setup();
    await sh('iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT'); // someone else's rule
    await fw.init();
    await fw.init();
    assert.match(await sh('ipset', 'list', '-t', 'warden4'), /Type: hash:net[\s\S]*Header: family inet .*timeout 0/);
    assert.match(await sh('ipset', 'list', '-t', 'warden6'), /Header: family inet6 .*timeout 0/);
    for (const tool of ['iptables', 'ip6tables']) {
      const rules = await sh(tool, '-S');
      const set = tool === 'iptables' ? 'warden4' : 'warden6';
      assert.equal((rules.match(/-A INPUT -j WARDEN/g) ?? []).length, 1, rules);
      assert.equal((rules.match(new RegExp(`-A WARDEN -m set --match-set ${set} src -j DROP`, 'g')) ?? []).length, 1, rules);
      assert.doesNotMatch(rules, /-A FORWARD -j WARDEN/);
    }
    const input = await sh('iptables', '-S', 'INPUT');
    assert.ok(input.indexOf('-j WARDEN') < input.indexOf('--dport 22'), 'our jump comes first');
    await fw.destroy();
    await fw.destroy();
    assert.doesNotMatch(await sh('iptables', '-S'), /WARDEN/);
    assert.doesNotMatch(await sh('ip6tables', '-S'), /WARDEN/);
    assert.match(await sh('iptables', '-S', 'INPUT'), /--dport 22 -j ACCEPT/, 'other rules untouched');
    assert.equal((await sh('ipset', 'list', '-n')).trim(), '');
  });

  test('elements appear with timeouts; permanent ones have none; one restore per batch', T, async () => {
    const { fw, commands } = await setup();
    await fw.init();
    commands.length = 0;
    await fw.apply({ add: [v4('192.0.2.1', 600), v4('198.51.100.0/24'), v6('2001:db8:1:2::/64', 3600), v6('2001:DB8::0:7', 90)], remove: [v4('192.0.2.99')] });
    assert.equal(commands.length, 1);
    assert.deepEqual(commands[0]?.argv.slice(1), ['restore', '-exist']);
    const listed = byTarget(await fw.list());
    assert.equal(listed.size, 4);
    const a = listed.get('192.0.2.1');
    assert.ok(a && a.expiresInSeconds !== null && a.expiresInSeconds > 590 && a.expiresInSeconds <= 600, JSON.stringify(a));
    assert.deepEqual(listed.get('198.51.100.0/24'), { target: '198.51.100.0/24', family: 4, expiresInSeconds: null });
    assert.ok((listed.get('2001:db8:1:2::/64')?.expiresInSeconds ?? 0) > 3590);
    assert.ok(listed.get('2001:db8::7'));
  });

  test('timeouts expire; re-adding updates timeouts both ways; overlaps coexist; absent removals are fine', T, async () => {
    const { fw } = await setup();
    await fw.init();
    const get = async (t: string) => byTarget(await fw.list()).get(t)?.expiresInSeconds;
    await fw.apply({ add: [v4('192.0.2.10', 1), v6('2001:db8::10', 2), v4('192.0.2.11'), v4('203.0.113.1', 1000)], remove: [] });
    await fw.apply({ add: [v4('203.0.113.1', 50)], remove: [] });
    const shorter = await get('203.0.113.1');
    assert.ok(shorter !== undefined && shorter !== null && shorter <= 50, String(shorter));
    await fw.apply({ add: [v4('203.0.113.1', null)], remove: [] });
    assert.equal(await get('203.0.113.1'), null);
    await fw.apply({ add: [v4('203.0.113.1', 300)], remove: [] });
    assert.ok(((await get('203.0.113.1')) ?? 0) > 290);
    await fw.apply({ add: [v4('203.0.113.0/24', 300), v6('2001:db8::/64'), v6('2001:db8::/48')], remove: [v4('198.51.100.1'), v6('2001:db8:9::/64')] });
    await sleep(3_000);
    assert.deepEqual((await fw.list()).map((e) => e.target).sort(), ['192.0.2.11', '2001:db8::/48', '2001:db8::/64', '203.0.113.0/24', '203.0.113.1']);
    await fw.apply({ add: [], remove: [v4('203.0.113.1'), v6('2001:db8::/48')] });
    assert.deepEqual((await fw.list()).map((e) => e.target).sort(), ['192.0.2.11', '2001:db8::/64', '203.0.113.0/24']);
  });

  test('timeouts beyond ipset\'s limit are clamped, not refused', T, async () => {
    const { fw } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.12', 90 * 86_400)], remove: [] });
    const e = (await fw.list())[0];
    assert.ok(e && e.expiresInSeconds !== null && e.expiresInSeconds <= IPSET_MAX_TIMEOUT_SECONDS && e.expiresInSeconds > IPSET_MAX_TIMEOUT_SECONDS - 10);
  });

  test('restart keeps elements; flush empties; hookForward adds and later removes FORWARD jumps', T, async () => {
    const { ns, fw, sh } = await setup({ hookForward: true });
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.13', 600), v6('2001:db8::13')], remove: [] });
    assert.match(await sh('ip6tables', '-S', 'FORWARD'), /-A FORWARD -j WARDEN/);
    const restarted = new IpsetFirewall({ netns: ns });
    await restarted.init();
    assert.equal((await restarted.list()).length, 2);
    assert.doesNotMatch(await sh('iptables', '-S', 'FORWARD'), /WARDEN/);
    await restarted.flush();
    assert.deepEqual(await restarted.list(), []);
  });

  test('restore swaps in exactly the given bans (strays gone, timeouts set anew), atomically, and leaves no temporary set', T, async () => {
    const { ns, fw, sh } = await setup();
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.50'), v4('192.0.2.51', 600), v6('2001:db8:9::/64'), v4('192.0.2.52', 100)], remove: [] });
    const restarted = new IpsetFirewall({ netns: ns });
    await assert.rejects(restarted.restore(asOpenBans([v4('192.0.2.1 timeout 5')])), FirewallError);
    await restarted.restore(asOpenBans([v4('192.0.2.50', 3600), v4('192.0.2.52'), v6('2001:db8::53', 900), v4('198.51.100.0/24'), v6('2001:DB8:0:0::54')]));
    const listed = byTarget(await restarted.list());
    assert.deepEqual([...listed.keys()].sort(), ['192.0.2.50', '192.0.2.52', '198.51.100.0/24', '2001:db8::53', '2001:db8::54']);
    const a = listed.get('192.0.2.50');
    assert.ok(a && a.expiresInSeconds !== null && a.expiresInSeconds > 3590, `permanent → 1 h: ${JSON.stringify(a)}`);
    assert.equal(listed.get('192.0.2.52')?.expiresInSeconds, null, '100 s → permanent');
    assert.doesNotMatch(await sh('ipset', 'list', '-n'), /_restore/);
    // The rules still point at the (swapped) sets: exactly one jump and one match per family.
    assert.match(await sh('iptables', '-S', 'WARDEN'), /--match-set warden4 src -j DROP/);
    assert.match(await sh('ip6tables', '-S', 'WARDEN'), /--match-set warden6 src -j DROP/);
    assert.equal((await sh('iptables', '-S', 'INPUT')).split('\n').filter((l) => l.includes('-j WARDEN')).length, 1);
  });

  test('custom prefix names everything after it', T, async () => {
    const { ns, sh } = await setup();
    const fw = new IpsetFirewall({ netns: ns, prefix: 'wtest' });
    await fw.init();
    await fw.apply({ add: [v4('192.0.2.14')], remove: [] });
    assert.match(await sh('ipset', 'list', 'wtest4', '-output', 'save'), /add wtest4 192\.0\.2\.14 timeout 0/);
    assert.match(await sh('iptables', '-S'), /-A INPUT -j WTEST/);
    await fw.destroy();
    assert.throws(() => new IpsetFirewall({ prefix: 'a b' }), FirewallError);
    assert.throws(() => new IpsetFirewall({ prefix: 'waytoolongprefixforipsetnames' }), FirewallError);
  });

  test('invalid targets throw before any command runs; missing program names itself', T, async () => {
    const { fw, commands } = await setup();
    await fw.init();
    commands.length = 0;
    for (const target of ['192.0.2.1\ndestroy', '192.0.2.1 timeout 0', '2001:db8::1%eth0', '192.0.2.0/0', '198.51.100.7/24', '-exist']) {
      await assert.rejects(fw.apply({ add: [v4('192.0.2.80'), { target, family: target.includes(':') ? 6 : 4, timeoutSeconds: 5 }], remove: [] }), FirewallError, target);
    }
    assert.equal(commands.length, 0);
    assert.deepEqual(await fw.list(), []);
    const noProgram = new IpsetFirewall({ ipsetPath: '/nonexistent/ipset' });
    await assert.rejects(noProgram.init(), (e: unknown) => e instanceof FirewallError && /\/nonexistent\/ipset/.test(e.message));
  });

  test('10,000 elements apply in one call; 100,000 work', T, async () => {
    const { fw, commands } = await setup();
    await fw.init();
    const make = (count: number, offset: number): FirewallElement[] => Array.from({ length: count }, (_, i) => {
      const k = i + offset;
      return i % 2 === 0
        ? v4(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, 600)
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
    for (const e of [tenK[0], tenK[1], tenK[9_999]]) {
      assert.ok(e);
      assert.equal(listed.get(e.target)?.expiresInSeconds === null, e.timeoutSeconds === null, e.target);
    }
    const hundredK = make(100_000, 10_000);
    t0 = performance.now();
    await fw.apply({ add: hundredK, remove: [] });
    const ms100k = performance.now() - t0;
    t0 = performance.now();
    assert.equal((await fw.list()).length, 110_000);
    const msList = performance.now() - t0;
    console.log(`    ipset: 10k add ${ms10k.toFixed(0)} ms, 100k add ${ms100k.toFixed(0)} ms, list 110k ${msList.toFixed(0)} ms`);
  });

  describe('packets', () => {
    let fwNs = '';
    let client = '';
    let fw: IpsetFirewall;
    const port = 2223;
    let server: { stop(): Promise<void> } | undefined;

    before(async () => {
      fwNs = await lab.add('ipspk-fw');
      client = await lab.add('ipspk-cl');
      await lab.link(client, ['198.51.100.7/24', '2001:db8::7/64'], fwNs, ['198.51.100.1/24', '2001:db8::1/64']);
      server = await startEchoServer(fwNs, port);
      fw = new IpsetFirewall({ netns: fwNs });
      await fw.init();
    });
    after(async () => {
      await server?.stop();
    });

    test('a banned address cannot connect, unbanned it can; IPv6 /64 covers a neighbour', T, async () => {
      assert.equal(await canConnect(lab, client, '198.51.100.1', port), true, 'baseline');
      await fw.apply({ add: [v4('198.51.100.7', 600), v6('2001:db8::/64', 600)], remove: [] });
      assert.equal(await canConnect(lab, client, '198.51.100.1', port), false, 'IPv4 banned');
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), false, 'IPv6 /64 banned');
      await fw.apply({ add: [], remove: [v4('198.51.100.7'), v6('2001:db8::/64')] });
      assert.equal(await canConnect(lab, client, '198.51.100.1', port), true, 'IPv4 unbanned');
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), true, 'IPv6 unbanned');
    });

    test('after a restore (a swapped-in set) the rule matches the new contents', T, async () => {
      await fw.restore(asOpenBans([v4('198.51.100.7', 600)]));
      assert.equal(await canConnect(lab, client, '198.51.100.1', port), false, 'restored ban drops');
      assert.equal(await canConnect(lab, client, '2001:db8::1', port), true, 'IPv6 not banned');
      await fw.restore(asOpenBans([]));
      assert.equal(await canConnect(lab, client, '198.51.100.1', port), true, 'an empty restore lifts it');
    });

    test('a ban cuts an established connection', T, async () => {
      const session = await openSession(client, '198.51.100.1', port, 800);
      try {
        assert.equal(await session.ping(), true);
        await fw.apply({ add: [v4('198.51.100.0/24', 600)], remove: [] });
        assert.equal(await session.ping(), false);
      } finally {
        await session.stop();
        await fw.apply({ add: [], remove: [v4('198.51.100.0/24')] });
      }
    });
  });
});
