import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetnsLab } from '../helpers/netns.js';
import { missing } from '../helpers/require.js';
import { createFirewall, FirewallError } from '../../src/firewall/index.js';

describe('createFirewall', () => {
  test('none and explicit backends', async () => {
    const logs: string[] = [];
    assert.equal((await createFirewall({ backend: 'none', table: 'warden' }, (m) => logs.push(m))).kind, 'none');
    assert.equal((await createFirewall({ backend: 'nftables', table: 'warden' }, () => undefined)).kind, 'nftables');
    assert.equal((await createFirewall({ backend: 'iptables', table: 'warden' }, () => undefined)).kind, 'iptables');
  });

  describe('auto (in a network namespace)', { skip: missing(['nft', 'ip']) }, () => {
    const lab = new NetnsLab();
    after(async () => {
      await lab.cleanup();
    });

    test('picks nftables when nft works there', { timeout: 30_000 }, async () => {
      const ns = await lab.add('auto');
      const logs: string[] = [];
      const fw = await createFirewall({ backend: 'auto', table: 'warden', netns: ns }, (m) => logs.push(m));
      assert.equal(fw.kind, 'nftables');
      await fw.init();
      await fw.apply({ add: [{ target: '192.0.2.1', family: 4, timeoutSeconds: 60 }], remove: [] });
      assert.equal((await fw.list()).length, 1);
      assert.deepEqual(logs, ['firewall backend: nftables']);
    });

    test('throws one clear error when nothing works', { timeout: 30_000 }, async () => {
      await assert.rejects(
        createFirewall({ backend: 'auto', table: 'warden', netns: 'wdn-no-such-namespace' }, () => undefined),
        (e: unknown) => e instanceof FirewallError && /no usable firewall backend: nftables: .*nft -t list sets.*ipset\+iptables: .*ipset list -n/s.test(e.message),
      );
    });
  });
});
