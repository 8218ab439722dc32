import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netmask, parseTarget, type ParsedTarget } from './address.js';
import { chunk, prepareBatch, type PreparedAdd } from './batch.js';
import { FirewallError, type Firewall, type FirewallBatch, type FirewallElement, type KernelElement, type OpenBans } from './firewall.js';
import { nftSets, parseNftDocument, parseNftElement, type NftElement, type NftSetInfo } from './nft-json.js';
import { restoreBans } from './nft-restore.js';
import { CommandRunner, commandFailed, type CommandInfo } from './runner.js';

/**
 * nftables backend: one `table inet <name>` that warden owns completely.
 *
 * Layout
 *   set banned4      { type ipv4_addr; flags timeout; }   temporary bans of single IPv4 addresses
 *   set banned6      { type ipv6_addr; flags timeout; }   temporary bans of single IPv6 addresses
 *   set permanent4   { type ipv4_addr; size N; }          permanent bans of single IPv4 addresses
 *   set permanent6   { type ipv6_addr; size N; }          permanent bans of single IPv6 addresses
 *   set banned4_<n>, permanent6_<n>, ...                  network addresses of /n prefixes, made on demand
 *   chain input { type filter hook input priority -10; policy accept;
 *     ip saddr @banned4 drop
 *     ip6 saddr & ffff:ffff:ffff:ffff:: @permanent6_64 drop  ... one rule per set }
 *   chain forward (optional, same rules) for containers/VMs routed through the host.
 *
 * Why permanent bans have sets of their own: a set without the timeout flag and with a declared
 * size is a fixed-size hash in the kernel, which takes 100,000 elements in about 60% of the time a
 * timeout set (a resizable hash) needs (nft alone, measured here: 0.22 vs 0.38 s), and the start-up
 * restore of 100,000 permanent bans is mostly that. The size is a hard limit in the kernel, so each
 * permanent set is declared with room for twice what it holds (permanentSetSize), and a change that
 * could overflow it first rebuilds the set larger in one transaction (grow). A timed addition never
 * touches the permanent sets: lowering a permanent ban to a temporary one is a removal plus an
 * addition in the same batch (see Firewall.apply).
 *
 * Why hash sets per prefix length instead of one `flags interval, timeout` set per family:
 * measured with nft 1.0.6, interval sets refuse any element that overlaps an existing one
 * ("interval overlaps with an existing one") — banning 2001:db8::1 and later escalating to
 * 2001:db8::/64, or banning 192.0.2.5 while 192.0.2.0/24 is listed, fails the WHOLE transaction.
 * `auto-merge` hides the error but is worse (also measured): 192.0.2.1 (100 s) and 192.0.2.2
 * (500 s) become ONE range 192.0.2.1-192.0.2.2 with the 100 s timeout, so a ban ends 400 s early;
 * a /24 added over them swallows their timeouts; and `delete element 192.0.2.1` then fails because
 * that element no longer exists. With one hash set per prefix length (the source address is
 * masked before the lookup) overlapping bans simply coexist, each with its own timeout, and hash
 * sets are also the fastest for both lookups and batch updates. The price is one rule per prefix
 * length in use — in practice two to four.
 *
 * There is no `ct state established` exemption: a banned source loses established connections
 * too (an attacker's open SSH session dies), which is the point of banning it.
 *
 * Transactions: every apply() is one `nft -f -` run, i.e. one atomic kernel transaction. It starts
 * with the idempotent structure (`add table/chain/set`, `flush chain` + the rules), so a ruleset
 * wiped by `nft flush ruleset` (which the stock /etc/nftables.conf runs on every reload) is
 * rebuilt by the next batch instead of leaving sets that nothing matches. Sets are never flushed by init/apply: restarting the
 * daemon keeps the kernel's bans.
 *
 * Element semantics in one transaction:
 *   remove X : `add element X` then `delete element X` — `delete` of a missing element fails the
 *              whole transaction and nft 1.0.6 has no `destroy` (checked: syntax error); the add makes it present.
 *   add X, T : the timeout must become T even if X exists. Recent kernels (this host's
 *              6.18 does; detected once, see probeInPlaceUpdate) update the timeout on a plain
 *              `add element`; older kernels silently keep the old one, so there we write
 *              add / delete / add-with-timeout in the same transaction, which costs ~2.5x the
 *              nft time (10k elements: ~70 ms vs ~180 ms measured here).
 *
 * Start-up (restore): ONE transaction (`nft -j -f FILE`, JSON input) that replaces our table
 * (add table, delete table, structure) and adds every open ban. Listing the kernel's 100,000
 * elements to compare (`nft -j list table`) costs more than re-adding them all (measured: ~0.9 s
 * for the listing alone vs ~0.5 s for replace + add); the replacement drops strays and sets every
 * timeout anew on any kernel, and being one transaction, packets see the old contents or the
 * new, never an empty set in between.
 */

export interface NftablesOptions {
  /** Table name; letters, digits, '_' (nft 1.0.6 cannot quote names). Default 'warden'. */
  readonly table?: string;
  readonly family?: 'inet';
  readonly nftPath?: string;
  /** Run every command in this network namespace (tests, benchmark). Production leaves it unset. */
  readonly netns?: string;
  /** Also drop banned sources in the forward hook (containers/VMs behind this host). Default false. */
  readonly hookForward?: boolean;
  /**
   * How additions update an existing element's timeout: 'in-place' (plain add; needs a kernel
   * that updates timeouts), 'replace' (add/delete/add; works everywhere), 'auto' (probe once).
   */
  readonly timeoutUpdate?: 'auto' | 'in-place' | 'replace';
  readonly onCommand?: (info: CommandInfo) => void;
  readonly timeoutMs?: number;
}

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const OUR_SET = /^(banned|permanent)([46])(?:_([1-9]\d{0,2}))?$/;
/** Elements per `add element` line: keeps lines short, nft error echoes readable. */
const ELEMENTS_PER_LINE = 1000;
/** ~100 years. nft rejects far larger values ("value too large"/ERANGE); no ban needs more. */
export const NFT_MAX_TIMEOUT_SECONDS = 36_500 * 86_400;
/** Chain priority: before the usual filter chains (0), so their accepts cannot let a banned source in. */
const PRIORITY = -10;

interface SetKey {
  readonly family: 4 | 6;
  readonly prefixLength: number;
  /** A set of permanent bans (no timeout flag, declared size) or of temporary ones. */
  readonly permanent: boolean;
}

/** The sets every table has (their rules come first). */
const BASE_SETS: readonly SetKey[] = [
  { family: 4, prefixLength: 32, permanent: false }, { family: 6, prefixLength: 128, permanent: false },
  { family: 4, prefixLength: 32, permanent: true }, { family: 6, prefixLength: 128, permanent: true },
];

/** A permanent set's declared size and at most how many elements it holds (removals are not subtracted). */
interface Room {
  size: number;
  used: number;
}

/** The smallest size a permanent set is declared with (its kernel hash table: 64 KiB). */
export const MIN_PERMANENT_SET_SIZE = 4096;

/** The size to declare for a permanent set of `elements`: room for as many again, a power of two. */
export function permanentSetSize(elements: number): number {
  let size = MIN_PERMANENT_SET_SIZE;
  while (size < elements * 2) size *= 2;
  return size;
}

export class NftablesFirewall implements Firewall {
  readonly kind = 'nftables';
  readonly maxTimeoutSeconds = NFT_MAX_TIMEOUT_SECONDS;
  private readonly table: string;
  private readonly nft: string;
  private readonly hookForward: boolean;
  private readonly runner: CommandRunner;
  /** Sets beyond BASE_SETS known to exist (or about to): drives which rules the chains get. */
  private readonly extraSets = new Map<string, SetKey>();
  /** The room of each permanent set, by name. */
  private readonly rooms = new Map<string, Room>();
  private inPlace: boolean | undefined;
  /** The running probe of the kernel's timeout behaviour (one at a time). */
  private probing: Promise<boolean> | undefined;

  constructor(private readonly options: NftablesOptions = {}) {
    this.table = options.table ?? 'warden';
    if (!TABLE_NAME.test(this.table)) throw new FirewallError(`invalid nftables table name ${JSON.stringify(this.table)} (letters, digits, _; max 32)`);
    if ((options.family ?? 'inet') !== 'inet') throw new FirewallError('only the inet family is supported');
    this.nft = options.nftPath ?? 'nft';
    this.hookForward = options.hookForward ?? false;
    this.runner = new CommandRunner({ netns: options.netns, onCommand: options.onCommand, timeoutMs: options.timeoutMs });
    if (options.timeoutUpdate === 'in-place') this.inPlace = true;
    if (options.timeoutUpdate === 'replace') this.inPlace = false;
  }

  /** Whether additions rely on the kernel updating timeouts in place (undefined until probed). */
  get timeoutUpdateMode(): 'in-place' | 'replace' | undefined {
    return this.inPlace === undefined ? undefined : this.inPlace ? 'in-place' : 'replace';
  }

  async init(): Promise<void> {
    await this.loadSets();
    const lines = this.structure();
    if (!this.hookForward) {
      // Remove a forward chain left by an earlier configuration; add-first makes it idempotent.
      lines.push(`add chain inet ${this.table} forward { ${this.hookSpec('forward')} }`, `flush chain inet ${this.table} forward`, `delete chain inet ${this.table} forward`);
    }
    await this.nftScript(lines);
    await this.timeoutUpdateInPlace();
  }

  /**
   * Everything up to the start of `nft` happens before the first await (BanManager.start builds
   * its index while nft works): no listing of the kernel first. The table is replaced whole — the
   * "add table; delete table; table { … }" idiom, in one transaction — so sets left by an earlier
   * run (a prefix length no ban uses any more, a forward chain no longer wanted) go with it
   * without being listed, and packets see the old table or the new one, never an empty set.
   */
  async restore(bans: OpenBans): Promise<void> {
    const written = restoreBans(bans, this.table, (family, prefixLength, permanent) => setName({ family, prefixLength, permanent }), NFT_MAX_TIMEOUT_SECONDS);
    this.extraSets.clear();
    this.rooms.clear();
    for (const set of written.sets) {
      if (isPrefixSet(set)) this.extraSets.set(set.name, { family: set.family, prefixLength: set.prefixLength, permanent: set.permanent });
      if (set.permanent) this.rooms.set(set.name, { size: permanentSetSize(set.elements), used: set.elements });
    }
    const table = { family: 'inet', name: this.table };
    const commands = [{ add: { table } }, { delete: { table } }, ...this.structureJson()].map((c) => JSON.stringify(c));
    // JSON input: nft parses it ~30% faster than the same elements as text (100,000 elements:
    // ~0.12 s of nft user time instead of ~0.19 s, measured with nft 1.0.6). In JSON mode nft opens
    // "/dev/stdin" by name, which fails on the socket node gives a child as stdin (ENXIO), so the
    // document goes through a file of our own: a fresh 0700 directory, removed once nft is done.
    const dir = mkdtempSync(join(tmpdir(), 'warden-nft-'));
    try {
      const file = join(dir, 'restore.json');
      const fd = openSync(file, 'wx', 0o600);
      try {
        // writeFileSync on a descriptor writes everything at the current position (writeSync may write less).
        writeFileSync(fd, `{"nftables":[\n${commands.join(',\n')}${written.json.length ? ',\n' : ''}`);
        writeFileSync(fd, written.json);
        writeFileSync(fd, '\n]}\n');
      } finally {
        closeSync(fd);
      }
      await this.runner.run([this.nft, '-j', '-f', file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Later batches need to know how the kernel updates timeouts; learn it now, off the start path.
    this.timeoutUpdateInPlace().catch(() => undefined);
  }

  async apply(batch: FirewallBatch): Promise<void> {
    const prepared = prepareBatch(batch, NFT_MAX_TIMEOUT_SECONDS);
    if (prepared.remove.length === 0 && prepared.add.length === 0) return;
    await this.timeoutUpdateInPlace();
    // A removal goes to every set of its prefix length that exists (the caller does not say whether
    // the ban was temporary or permanent); an addition to the set its timeout chooses.
    const removals = new Map<string, ParsedTarget[]>();
    for (const t of prepared.remove) {
      for (const permanent of [false, true]) {
        const key = { family: t.family, prefixLength: t.prefixLength, permanent };
        if (this.exists(key)) append(removals, setName(key), t); // nothing of ours is in a set never made
      }
    }
    const additions = new Map<string, PreparedAdd[]>();
    for (const a of prepared.add) {
      const key = { family: a.target.family, prefixLength: a.target.prefixLength, permanent: a.timeoutSeconds === null };
      this.noteSet(key);
      append(additions, setName(key), a);
    }
    // A permanent set must have room for its additions, and for the removals too: `add` then
    // `delete` (the idempotent removal) holds a slot until the transaction ends.
    for (const name of new Set([...removals.keys(), ...additions.keys()])) {
      const room = this.rooms.get(name);
      const extra = (removals.get(name)?.length ?? 0) + (additions.get(name)?.length ?? 0);
      if (room && room.used + extra > room.size) await this.grow(name, extra);
    }

    const lines = this.structure();
    for (const [set, targets] of removals) {
      for (const part of chunk(targets, ELEMENTS_PER_LINE)) {
        const list = part.map((t) => t.address).join(', ');
        lines.push(`add element inet ${this.table} ${set} { ${list} }`, `delete element inet ${this.table} ${set} { ${list} }`);
      }
    }
    for (const [set, adds] of additions) {
      const permanent = this.rooms.has(set);
      for (const part of chunk(adds, ELEMENTS_PER_LINE)) {
        if (!permanent && !this.inPlace) {
          const list = part.map((a) => a.target.address).join(', ');
          lines.push(`add element inet ${this.table} ${set} { ${list} }`, `delete element inet ${this.table} ${set} { ${list} }`);
        }
        lines.push(`add element inet ${this.table} ${set} { ${part.map(elementText).join(', ')} }`);
      }
    }
    await this.nftScript(lines);
    for (const [set, adds] of additions) {
      const room = this.rooms.get(set);
      if (room) room.used += adds.length;
    }
  }

  /**
   * Makes room in a permanent set for `extra` more elements than it holds. What it holds is listed
   * (the count kept here only grows: removals are not subtracted); when that leaves too little
   * room, the set is rebuilt larger in one transaction (packets see the old set or the new one):
   * deleted, declared again with permanentSetSize, and its elements put back. Rare: a rebuild at
   * least doubles the size.
   */
  private async grow(name: string, extra: number): Promise<void> {
    const key = ourSetKey(name);
    const room = this.rooms.get(name);
    if (!key || !room) return;
    const held = await this.listSet(name);
    if (held.length + extra <= room.size) {
      room.used = held.length;
      return;
    }
    const t = this.table;
    const { chains } = this.layout();
    // The rules refer to the set, which cannot be deleted while they do: the chains are emptied
    // first (structure() below fills them again). `add set` first: delete fails on a missing set.
    const lines = [`add table inet ${t}`];
    for (const c of chains) lines.push(`add chain inet ${t} ${c} { ${this.hookSpec(c)} }`, `flush chain inet ${t} ${c}`);
    lines.push(`add set inet ${t} ${name} { ${this.setSpec(key)} }`, `delete set inet ${t} ${name}`);
    const old = room.size;
    room.size = permanentSetSize(held.length + extra);
    try {
      lines.push(...this.structure());
      for (const part of chunk(held, ELEMENTS_PER_LINE)) lines.push(`add element inet ${t} ${name} { ${part.join(', ')} }`);
      await this.nftScript(lines);
    } catch (e) {
      room.size = old;
      throw e;
    }
    room.used = held.length;
  }

  /** The addresses a set holds, as written to it (network addresses for a prefix set). */
  private async listSet(name: string): Promise<string[]> {
    // Only what can go back into the same set: an element of the other family cannot.
    return ourElements((await this.listing(['set', 'inet', this.table, name])) ?? [])
      .filter((e) => e.target.family === e.set.family).map((e) => e.target.address);
  }

  async list(): Promise<KernelElement[]> {
    const out = new Map<string, KernelElement>();
    for (const { target, element } of ourElements((await this.listing(['table', 'inet', this.table])) ?? [])) {
      const listed: KernelElement = { target: target.canonical, family: target.family, expiresInSeconds: element.timeout === undefined ? null : (element.expires ?? element.timeout) };
      // A temporary ban later made permanent is in both kinds of set until its timeout: permanent.
      if (out.get(listed.target)?.expiresInSeconds !== null) out.set(listed.target, listed);
    }
    return [...out.values()];
  }

  /**
   * `nft -j list WHAT` (`-t`: terse, no elements): the sets of our table it shows, or undefined
   * when the table or set does not exist.
   */
  private async listing(what: readonly string[], terse = false): Promise<NftSetInfo[] | undefined> {
    const argv = [this.nft, '-j', ...(terse ? ['-t'] : []), 'list', ...what];
    const result = await this.runner.tryRun(argv);
    if (result.code !== 0) {
      if (isNoSuchObject(result.stderr)) return undefined;
      throw commandFailed(argv, this.options.netns, result);
    }
    return nftSets(parseNftDocument(result.stdout)).filter((s) => s.table === this.table);
  }

  async flush(): Promise<void> {
    const sets = await this.existingSets();
    if (sets === undefined) return;
    const lines = sets.filter((s) => ourSetKey(s.name)).map((s) => `flush set inet ${this.table} ${s.name}`);
    if (lines.length) await this.nftScript(lines);
    for (const room of this.rooms.values()) room.used = 0;
  }

  async destroy(): Promise<void> {
    await this.probing?.catch(() => undefined); // a probe finishing later would re-create the table
    // `add` first so the delete cannot fail on a missing table (no `destroy table` in nft 1.0.6).
    await this.nftScript([`add table inet ${this.table}`, `delete table inet ${this.table}`]);
    this.extraSets.clear();
    this.rooms.clear();
  }

  /** Runs a script through ONE `nft -f -` (one atomic transaction). */
  private async nftScript(lines: readonly string[]): Promise<void> {
    await this.runner.run([this.nft, '-f', '-'], `${lines.join('\n')}\n`);
  }

  private hookSpec(hook: 'input' | 'forward'): string {
    return `type filter hook ${hook} priority ${PRIORITY}; policy accept;`;
  }

  /** Our chains, and our sets in rule order. */
  private layout(): { chains: Array<'input' | 'forward'>; sets: SetKey[] } {
    return {
      chains: this.hookForward ? ['input', 'forward'] : ['input'],
      sets: [...BASE_SETS, ...[...this.extraSets.values()].sort((a, b) => a.family - b.family || b.prefixLength - a.prefixLength || Number(a.permanent) - Number(b.permanent))],
    };
  }

  /** Idempotent declarations plus a rebuilt rule list, for the start of every transaction. */
  private structure(): string[] {
    const t = this.table;
    const { chains, sets } = this.layout();
    const lines = [`add table inet ${t}`];
    for (const c of chains) lines.push(`add chain inet ${t} ${c} { ${this.hookSpec(c)} }`);
    for (const s of sets) lines.push(`add set inet ${t} ${setName(s)} { ${this.setSpec(s)} }`);
    for (const c of chains) {
      lines.push(`flush chain inet ${t} ${c}`);
      for (const s of sets) lines.push(`add rule inet ${t} ${c} ${matchExpr(s)} @${setName(s)} drop`);
    }
    return lines;
  }

  /** structure() as nft JSON commands (restore's input format); a test checks both give the same ruleset. */
  private structureJson(): object[] {
    const table = { family: 'inet', table: this.table };
    const { chains, sets } = this.layout();
    const out: object[] = [{ add: { table: { family: 'inet', name: this.table } } }];
    for (const c of chains) out.push({ add: { chain: { ...table, name: c, ...hookJson(c) } } });
    for (const s of sets) {
      const type = s.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
      out.push({ add: { set: { ...table, name: setName(s), type, ...(s.permanent ? { size: this.roomOf(setName(s)).size } : { flags: ['timeout'] }) } } });
    }
    for (const c of chains) {
      out.push({ flush: { chain: { ...table, name: c } } });
      for (const s of sets) out.push({ add: { rule: { ...table, chain: c, expr: [{ match: { op: '==', left: matchJson(s), right: `@${setName(s)}` } }, { drop: null }] } } });
    }
    return out;
  }

  /** A set's declaration: a timeout set, or a permanent set with its size. */
  private setSpec(key: SetKey): string {
    const type = key.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
    return key.permanent ? `type ${type}; size ${this.roomOf(setName(key)).size};` : `type ${type}; flags timeout;`;
  }

  /** A permanent set's room; a set not made yet gets the smallest size. */
  private roomOf(name: string): Room {
    let room = this.rooms.get(name);
    if (!room) this.rooms.set(name, (room = { size: MIN_PERMANENT_SET_SIZE, used: 0 }));
    return room;
  }

  /** Makes sure a set is declared by the next transaction (base sets always are). */
  private noteSet(key: SetKey): void {
    const name = setName(key);
    if (key.permanent) this.roomOf(name);
    if (isPrefixSet(key)) this.extraSets.set(name, key);
  }

  /** Whether a set is known to exist (or to be declared by the next transaction). */
  private exists(key: SetKey): boolean {
    return !isPrefixSet(key) || this.extraSets.has(setName(key));
  }

  /** Our table's sets with their declared sizes, or undefined when the table does not exist. Cheap: no elements. */
  private existingSets(): Promise<NftSetInfo[] | undefined> {
    return this.listing(['sets', 'table', 'inet', this.table], true);
  }

  /**
   * Learns which sets a previous run created, so their rules are kept, and the size of each
   * permanent set. How full one is the listing does not say: it counts as full, so its first
   * change lists it (grow) instead of risking the kernel's limit.
   */
  private async loadSets(): Promise<void> {
    for (const { name, size } of (await this.existingSets()) ?? []) {
      const key = ourSetKey(name);
      if (!key) continue;
      if (isPrefixSet(key)) this.extraSets.set(name, key);
      if (!key.permanent) continue;
      const known = this.rooms.get(name);
      const declared = size ?? MIN_PERMANENT_SET_SIZE;
      if (!known || known.size !== declared) this.rooms.set(name, { size: declared, used: declared });
    }
  }

  /** Whether a plain add updates timeouts (probed once; concurrent callers share the probe). */
  private async timeoutUpdateInPlace(): Promise<boolean> {
    if (this.inPlace !== undefined) return this.inPlace;
    this.probing ??= this.probeInPlaceUpdate().finally(() => { this.probing = undefined; });
    this.inPlace = await this.probing;
    return this.inPlace;
  }

  /**
   * Does a plain `add element` update the timeout of an element that already exists, in every
   * direction (permanent → timed, timed → permanent, timed → other timeout)? Linux 6.18 does;
   * older kernels silently keep the old state. Tried on a private set nothing refers to.
   */
  private async probeInPlaceUpdate(): Promise<boolean> {
    const t = this.table;
    const set = 'warden_probe';
    const drop = [`add table inet ${t}`, `add set inet ${t} ${set} { type ipv4_addr; flags timeout; }`, `delete set inet ${t} ${set}`];
    let supported: boolean;
    try {
      await this.nftScript([...drop.slice(0, 2), `flush set inet ${t} ${set}`, `add element inet ${t} ${set} { 0.0.0.1, 0.0.0.2 timeout 1h, 0.0.0.3 timeout 1h }`]);
      await this.nftScript([`add element inet ${t} ${set} { 0.0.0.1 timeout 2h, 0.0.0.2, 0.0.0.3 timeout 3h }`]);
      const listed = await this.runner.run([this.nft, '-j', 'list', 'set', 'inet', t, set]);
      const got = new Map<string, number | undefined>();
      for (const s of nftSets(parseNftDocument(listed.stdout))) {
        for (const raw of s.elem) {
          const e = parseNftElement(raw);
          if (e) got.set(e.value, e.timeout);
        }
      }
      supported = got.get('0.0.0.1') === 7200 && got.has('0.0.0.2') && got.get('0.0.0.2') === undefined && got.get('0.0.0.3') === 10800;
    } catch (e) {
      await this.nftScript(drop).catch(() => undefined); // the first error is the one to report
      throw e;
    }
    await this.nftScript(drop);
    return supported;
  }
}

function ourSetKey(name: string): SetKey | undefined {
  const m = OUR_SET.exec(name);
  if (!m) return undefined;
  const permanent = m[1] === 'permanent';
  const family: 4 | 6 = m[2] === '4' ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  if (m[3] === undefined) return { family, prefixLength: max, permanent };
  const prefixLength = Number(m[3]);
  return prefixLength < max ? { family, prefixLength, permanent } : undefined;
}

function isPrefixSet(key: SetKey): boolean {
  return key.prefixLength !== (key.family === 4 ? 32 : 128);
}

function setName(key: SetKey): string {
  const max = key.family === 4 ? 32 : 128;
  const base = `${key.permanent ? 'permanent' : 'banned'}${key.family}`;
  return key.prefixLength === max ? base : `${base}_${key.prefixLength}`;
}

function matchExpr(key: SetKey): string {
  const field = key.family === 4 ? 'ip saddr' : 'ip6 saddr';
  const max = key.family === 4 ? 32 : 128;
  return key.prefixLength === max ? field : `${field} & ${netmask(key.family, key.prefixLength)}`;
}

/** hookSpec() as the properties of a JSON chain. */
function hookJson(hook: 'input' | 'forward'): object {
  return { type: 'filter', hook, prio: PRIORITY, policy: 'accept' };
}

/** matchExpr() as a JSON expression. */
function matchJson(key: SetKey): object {
  const payload = { payload: { protocol: key.family === 4 ? 'ip' : 'ip6', field: 'saddr' } };
  const max = key.family === 4 ? 32 : 128;
  return key.prefixLength === max ? payload : { '&': [payload, netmask(key.family, key.prefixLength)] };
}

function elementText(a: PreparedAdd): string {
  return a.timeoutSeconds === null ? a.target.address : `${a.target.address} timeout ${nftDuration(a.timeoutSeconds)}`;
}

/**
 * "1d2h3m4s". nft 1.0.6 rejects plain seconds above 99,999,999 ("value too large") but accepts the
 * same duration spelled with larger units.
 */
export function nftDuration(seconds: number): string {
  let rest = Math.max(1, Math.ceil(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.join('');
}

/**
 * The elements of our sets among `sets`, each with the target it stands for (a prefix set's
 * network address with the set's length). An element that is not an address (warden could not
 * have written it) is left out.
 */
function ourElements(sets: readonly NftSetInfo[]): Array<{ set: SetKey; target: ParsedTarget; element: NftElement }> {
  const out: Array<{ set: SetKey; target: ParsedTarget; element: NftElement }> = [];
  for (const set of sets) {
    const key = ourSetKey(set.name);
    if (!key) continue;
    for (const raw of set.elem) {
      const element = parseNftElement(raw);
      if (!element) continue;
      const text = element.value.includes('/') || !isPrefixSet(key) ? element.value : `${element.value}/${key.prefixLength}`;
      try {
        out.push({ set: key, target: parseTarget(text), element });
      } catch {
        continue;
      }
    }
  }
  return out;
}

/** Appends `item` to the list under `key`. */
function append<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list) list.push(item);
  else map.set(key, [item]);
}

/** nft's wording when the table/set named in a command does not exist. */
function isNoSuchObject(stderr: string): boolean {
  return /No such file or directory/.test(stderr);
}
