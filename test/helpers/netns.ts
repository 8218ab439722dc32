import { randomBytes } from 'node:crypto';
import { execFileChecked, execFile, type ExecResult, type ExecOptions } from '../../src/util/exec.js';

/**
 * Network namespaces for firewall and network tests. Every namespace a test makes has a unique
 * name and is deleted in `cleanup()`, which tests call from `finally`/`after` hooks, so the host's
 * own network and firewall are never touched — even when an assertion fails halfway.
 */
export class NetnsLab {
  private readonly namespaces: string[] = [];
  private readonly prefix = `wdn${randomBytes(3).toString('hex')}`;

  /** Creates a namespace with loopback up; returns its name. */
  async add(role: string): Promise<string> {
    const name = `${this.prefix}-${role}`.slice(0, 30);
    await execFileChecked('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    return name;
  }

  /**
   * Connects two namespaces with a veth pair and assigns addresses (CIDR notation, documentation
   * ranges only). Both IPv4 and IPv6 addresses may be given per side.
   */
  async link(a: string, aAddrs: readonly string[], b: string, bAddrs: readonly string[]): Promise<void> {
    const tag = randomBytes(3).toString('hex');
    const ifA = `va${tag}`;
    const ifB = `vb${tag}`;
    await execFileChecked('ip', ['link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b]);
    for (const [ns, ifname, addrs] of [[a, ifA, aAddrs], [b, ifB, bAddrs]] as const) {
      for (const addr of addrs) {
        const args = ['ip', 'addr', 'add', addr, 'dev', ifname];
        if (addr.includes(':')) args.push('nodad'); // IPv6 usable at once, no duplicate-address wait
        await this.exec(ns, args);
      }
      await this.exec(ns, ['ip', 'link', 'set', ifname, 'up']);
    }
  }

  /** Runs a program inside a namespace; throws on non-zero exit. */
  exec(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const [program, ...args] = argv;
    if (!program) throw new Error('empty argv');
    return execFileChecked('ip', ['netns', 'exec', ns, program, ...args], options);
  }

  /** Runs a program inside a namespace and returns its result whatever the exit status. */
  run(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return execFile('ip', ['netns', 'exec', ns, ...argv], options);
  }

  /** Deletes every namespace this lab created. Safe to call twice. */
  async cleanup(): Promise<void> {
    while (this.namespaces.length) {
      const ns = this.namespaces.pop();
      if (ns) await execFile('ip', ['netns', 'delete', ns]).catch(() => undefined);
    }
  }
}
