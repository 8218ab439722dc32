import { parseTarget } from './address.js';
import { prepareBatch } from './batch.js';
import { FirewallError, openBanElements, type Firewall, type FirewallBatch, type FirewallElement, type KernelElement, type OpenBans } from './firewall.js';
import { CommandRunner, commandFailed, type CommandInfo } from './runner.js';

/**
 * iptables + ipset backend, for hosts without a usable nft.
 *
 *   ipset  <p>4  hash:net family inet  timeout 0 maxelem 1000000
 *   ipset  <p>6  hash:net family inet6 timeout 0 maxelem 1000000
 *   iptables  -N <P>; -A <P> -m set --match-set <p>4 src -j DROP; -I INPUT 1 -j <P>
 *   ip6tables -N <P>; -A <P> -m set --match-set <p>6 src -j DROP; -I INPUT 1 -j <P>
 *
 * `timeout 0` at creation enables per-element timeouts; an element added with `timeout 0` is
 * permanent. hash:net holds addresses and prefixes of any length side by side (lookups try every
 * prefix length present), so overlapping bans coexist — no interval-overlap problem here.
 *
 * A batch is ONE `ipset restore -exist` run: `-exist` turns "already present" into an update of
 * the timeout (exactly the re-ban semantics we want) and "not present" on `del` into a no-op.
 * Unlike nft this is not one atomic transaction: a failing line stops the restore with the lines
 * before it applied; the whole batch is then retried by the daemon, which is safe because every
 * line is idempotent under -exist.
 *
 * ipset caps element timeouts at 2147483 s (~24.8 days); longer bans are clamped and the daemon
 * re-adds them when it reconciles (see `maxTimeoutSeconds`).
 *
 * Start-up (restore): the open bans are loaded into a fresh set `<set>_restore` which is then
 * swapped with the live one (`ipset swap`, atomic: the iptables rule keeps matching, never an empty
 * set) and destroyed; strays go and every timeout is set anew, without listing the old contents.
 */

export interface IpsetOptions {
  /** Names: sets `<prefix>4`/`<prefix>6`, chain `<PREFIX>`. Letters, digits, '_'; max 20. Default 'warden'. */
  readonly prefix?: string;
  readonly netns?: string;
  readonly ipsetPath?: string;
  readonly iptablesPath?: string;
  readonly ip6tablesPath?: string;
  /** Also jump to the chain from FORWARD (containers/VMs behind this host). Default false. */
  readonly hookForward?: boolean;
  readonly maxElements?: number;
  readonly onCommand?: (info: CommandInfo) => void;
  readonly timeoutMs?: number;
}

export const IPSET_MAX_TIMEOUT_SECONDS = 2_147_483;
const PREFIX = /^[A-Za-z][A-Za-z0-9_]{0,19}$/;

interface FamilyHook {
  readonly family: 4 | 6;
  readonly set: string;
  readonly tool: string;
}

export class IpsetFirewall implements Firewall {
  readonly kind = 'iptables';
  readonly maxTimeoutSeconds = IPSET_MAX_TIMEOUT_SECONDS;
  private readonly ipset: string;
  private readonly chain: string;
  private readonly families: readonly FamilyHook[];
  private readonly set4: string;
  private readonly set6: string;
  private readonly runner: CommandRunner;
  private readonly maxElements: number;

  constructor(private readonly options: IpsetOptions = {}) {
    const prefix = options.prefix ?? 'warden';
    if (!PREFIX.test(prefix)) throw new FirewallError(`invalid ipset name prefix ${JSON.stringify(prefix)} (letters, digits, _; max 20)`);
    this.ipset = options.ipsetPath ?? 'ipset';
    this.chain = prefix.toUpperCase();
    this.set4 = `${prefix}4`;
    this.set6 = `${prefix}6`;
    this.families = [
      { family: 4, set: this.set4, tool: options.iptablesPath ?? 'iptables' },
      { family: 6, set: this.set6, tool: options.ip6tablesPath ?? 'ip6tables' },
    ];
    this.maxElements = options.maxElements ?? 1_000_000;
    if (!Number.isInteger(this.maxElements) || this.maxElements < 1) throw new FirewallError('maxElements must be a positive integer');
    this.runner = new CommandRunner({ netns: options.netns, onCommand: options.onCommand, timeoutMs: options.timeoutMs });
  }

  async init(): Promise<void> {
    await this.runner.run([this.ipset, 'restore', '-exist'], this.createLines().join('\n') + '\n');
    const hooks = this.options.hookForward ? ['INPUT', 'FORWARD'] : ['INPUT'];
    for (const f of this.families) {
      if ((await this.iptables(f, ['-S', this.chain])).code !== 0) await this.iptablesChecked(f, ['-N', this.chain]);
      const rule = ['-m', 'set', '--match-set', f.set, 'src', '-j', 'DROP'];
      if ((await this.iptables(f, ['-C', this.chain, ...rule])).code !== 0) await this.iptablesChecked(f, ['-A', this.chain, ...rule]);
      for (const hook of hooks) {
        // First position: an earlier ACCEPT (e.g. "allow ssh") must not let a banned source in.
        if ((await this.iptables(f, ['-C', hook, '-j', this.chain])).code !== 0) await this.iptablesChecked(f, ['-I', hook, '1', '-j', this.chain]);
      }
      if (!this.options.hookForward) await this.removeJumps(f, 'FORWARD');
    }
  }

  async restore(bans: OpenBans): Promise<void> {
    const elements = openBanElements(bans);
    const prepared = prepareBatch({ add: elements, remove: [] }, IPSET_MAX_TIMEOUT_SECONDS); // validate before anything runs
    await this.init();
    const lines = this.createLines();
    for (const f of this.families) {
      const fresh = `${f.set}_restore`;
      lines.push(this.createLine(fresh, f.family), `flush ${fresh}`); // flush: a crashed earlier restore may have left it
      for (const a of prepared.add) if (a.target.family === f.family) lines.push(`add ${fresh} ${a.target.canonical} timeout ${a.timeoutSeconds ?? 0}`);
      lines.push(`swap ${fresh} ${f.set}`, `destroy ${fresh}`);
    }
    await this.runner.run([this.ipset, 'restore', '-exist'], lines.join('\n') + '\n');
  }

  async apply(batch: FirewallBatch): Promise<void> {
    const prepared = prepareBatch(batch, IPSET_MAX_TIMEOUT_SECONDS);
    if (prepared.remove.length === 0 && prepared.add.length === 0) return;
    // The create lines (no-ops under -exist) make a batch succeed even if the sets were lost.
    const lines = this.createLines();
    for (const t of prepared.remove) lines.push(`del ${this.setFor(t.family)} ${t.canonical}`);
    for (const a of prepared.add) lines.push(`add ${this.setFor(a.target.family)} ${a.target.canonical} timeout ${a.timeoutSeconds ?? 0}`);
    await this.runner.run([this.ipset, 'restore', '-exist'], lines.join('\n') + '\n');
  }

  async list(): Promise<KernelElement[]> {
    const out: KernelElement[] = [];
    for (const f of this.families) {
      const argv = [this.ipset, 'list', f.set, '-output', 'save'];
      const result = await this.runner.tryRun(argv);
      if (result.code !== 0) {
        if (isMissingSet(result.stderr)) continue;
        throw commandFailed(argv, this.options.netns, result);
      }
      for (const line of result.stdout.split('\n')) {
        // add warden4 192.0.2.1 timeout 599
        const m = /^add (\S+) (\S+)(?: timeout (\d+))?/.exec(line);
        if (!m || m[1] !== f.set || m[2] === undefined) continue;
        let target: string;
        try {
          target = parseTarget(m[2]).canonical;
        } catch {
          continue;
        }
        const timeout = m[3] === undefined ? 0 : Number(m[3]);
        out.push({ target, family: f.family, expiresInSeconds: timeout === 0 ? null : timeout });
      }
    }
    return out;
  }

  async flush(): Promise<void> {
    for (const f of this.families) {
      const result = await this.runner.tryRun([this.ipset, 'flush', f.set]);
      if (result.code !== 0 && !isMissingSet(result.stderr)) throw commandFailed([this.ipset, 'flush', f.set], this.options.netns, result);
    }
  }

  /** Jumps first (a referenced chain cannot be deleted), then the chain, then the sets it referenced. */
  async destroy(): Promise<void> {
    for (const f of this.families) {
      for (const hook of ['INPUT', 'FORWARD']) await this.removeJumps(f, hook);
      if ((await this.iptables(f, ['-S', this.chain])).code === 0) {
        await this.iptablesChecked(f, ['-F', this.chain]);
        await this.iptablesChecked(f, ['-X', this.chain]);
      }
      const result = await this.runner.tryRun([this.ipset, 'destroy', f.set]);
      if (result.code !== 0 && !isMissingSet(result.stderr)) throw commandFailed([this.ipset, 'destroy', f.set], this.options.netns, result);
    }
  }

  private createLines(): string[] {
    return this.families.map((f) => this.createLine(f.set, f.family));
  }

  private createLine(set: string, family: 4 | 6): string {
    return `create ${set} hash:net family ${family === 4 ? 'inet' : 'inet6'} timeout 0 maxelem ${this.maxElements}`;
  }

  private setFor(family: 4 | 6): string {
    return family === 4 ? this.set4 : this.set6;
  }

  /** Deletes every jump from `hook` to our chain (there may be duplicates from other tools). */
  private async removeJumps(f: FamilyHook, hook: string): Promise<void> {
    for (let i = 0; i < 100 && (await this.iptables(f, ['-C', hook, '-j', this.chain])).code === 0; i++) {
      await this.iptablesChecked(f, ['-D', hook, '-j', this.chain]);
    }
  }

  /** `-w`: wait for the xtables lock instead of failing when another tool holds it. */
  private iptables(f: FamilyHook, args: readonly string[]) {
    return this.runner.tryRun([f.tool, '-w', ...args]);
  }

  private iptablesChecked(f: FamilyHook, args: readonly string[]) {
    return this.runner.run([f.tool, '-w', ...args]);
  }
}

function isMissingSet(stderr: string): boolean {
  return /does not exist/.test(stderr);
}
