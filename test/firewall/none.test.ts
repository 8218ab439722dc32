import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FirewallError } from '../../src/firewall/firewall.js';
import { NoneFirewall } from '../../src/firewall/none.js';

/** The dry-run backend needs no kernel: a fake clock drives expiry. */
describe('NoneFirewall', () => {
  function setup() {
    const logs: string[] = [];
    let now = 1_000_000;
    const fw = new NoneFirewall((m) => logs.push(m), { now: () => now, detailLimit: 3 });
    return { fw, logs, advance: (ms: number) => { now += ms; } };
  }

  test('records bans with expiry and logs what it would do', async () => {
    const { fw, logs, advance } = setup();
    await fw.init();
    await fw.apply({ add: [{ target: '192.0.2.1', family: 4, timeoutSeconds: 10 }, { target: '2001:DB8:1:2::/64', family: 6, timeoutSeconds: null }], remove: [] });
    assert.deepEqual(await fw.list(), [
      { target: '192.0.2.1', family: 4, expiresInSeconds: 10 },
      { target: '2001:db8:1:2::/64', family: 6, expiresInSeconds: null },
    ]);
    assert.ok(logs.some((l) => l === 'would ban 192.0.2.1 for 10s'));
    assert.ok(logs.some((l) => l === 'would ban 2001:db8:1:2::/64 permanently'));
    advance(4_500);
    assert.equal((await fw.list())[0]?.expiresInSeconds, 6);
    advance(6_000);
    assert.deepEqual((await fw.list()).map((e) => e.target), ['2001:db8:1:2::/64']);
  });

  test('re-adding replaces the timeout; removals (present or not) come first', async () => {
    const { fw } = setup();
    await fw.apply({ add: [{ target: '192.0.2.2', family: 4, timeoutSeconds: 100 }], remove: [] });
    await fw.apply({ add: [{ target: '192.0.2.2', family: 4, timeoutSeconds: 5 }], remove: [{ target: '192.0.2.2', family: 4, timeoutSeconds: null }, { target: '198.51.100.9', family: 4, timeoutSeconds: null }] });
    assert.deepEqual(await fw.list(), [{ target: '192.0.2.2', family: 4, expiresInSeconds: 5 }]);
    await fw.flush();
    assert.deepEqual(await fw.list(), []);
  });

  test('restore replaces everything it held with the given bans', async () => {
    const { fw, logs } = setup();
    await fw.apply({ add: [{ target: '192.0.2.2', family: 4, timeoutSeconds: 100 }, { target: '192.0.2.3', family: 4, timeoutSeconds: null }], remove: [] });
    await fw.restore({ permanent: '2001:db8::9', timed: [{ target: '192.0.2.3', family: 4, timeoutSeconds: 50 }] });
    assert.deepEqual(await fw.list(), [
      { target: '2001:db8::9', family: 6, expiresInSeconds: null },
      { target: '192.0.2.3', family: 4, expiresInSeconds: 50 },
    ]);
    assert.ok(logs.some((l) => /dry run/.test(l)));
    await assert.rejects(fw.restore({ permanent: '192.0.2.9 not-an-address', timed: [] }), FirewallError);
    assert.equal((await fw.list()).length, 2, 'a refused restore drops nothing');
  });

  test('large batches log a summary, not one line per element', async () => {
    const { fw, logs } = setup();
    const add = Array.from({ length: 1000 }, (_, i) => ({ target: `203.0.113.${i % 256}`, family: 4 as const, timeoutSeconds: 60 + Math.floor(i / 256) }));
    await fw.apply({ add, remove: [] });
    assert.equal((await fw.list()).length, 256);
    assert.equal(logs.length, 4);
    assert.match(logs[3] ?? '', /and 253 more \(256 bans, 0 unbans/);
  });

  test('validates like the real backends', async () => {
    const { fw } = setup();
    await assert.rejects(fw.apply({ add: [{ target: '192.0.2.1; rm -rf /', family: 4, timeoutSeconds: 1 }], remove: [] }), FirewallError);
    await assert.rejects(fw.apply({ add: [{ target: '192.0.2.1', family: 4, timeoutSeconds: -1 }], remove: [] }), FirewallError);
    assert.deepEqual(await fw.list(), []);
  });
});
