import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { PositionStore } from '../sources/source.js';
import { EVIDENCE_LINES } from '../jails/window.js';

/**
 * The state database (SQLite in WAL mode under state_dir, readable by root only). It is the
 * source of truth for bans: the kernel sets are rebuilt from it on start. Failure counters and
 * source read positions are written together in one transaction at each checkpoint, so after a
 * crash the positions and the counts always describe the same moment: lines re-read after a
 * restart were not counted yet, and no counted line is read twice.
 */
export interface NewBan {
  readonly target: string;
  readonly family: 4 | 6;
  readonly jail: string;
  /** Epoch ms. */
  readonly since: number;
  /** Epoch ms; null = permanent. */
  readonly until: number | null;
  readonly reason: string;
  readonly evidence: readonly string[];
  /** 'auto' (a jail decided) or 'manual' (warden ban). */
  readonly origin: string;
}

/** A ban as stored: what was asked, plus its row id and who lifted it, if anyone did. */
export interface BanRecord extends NewBan {
  readonly id: number;
  readonly liftedAt: number | null;
  readonly liftedBy: string | null;
}

/**
 * Open bans reduced to what the kernel and the hot paths need, as two lists of targets: loaded on
 * start without building a record per ban (100,000 records cost seconds of garbage collection
 * with the shipped 1 MiB young generation); full records are read on demand.
 *
 * A target is in at most one of the lists: permanent wins over timed, and of several open timed
 * bans of one target only the longest is listed. A permanent target may be listed twice (two open
 * rows; removing such duplicates in SQL costs more than the kernel and the index spend on them).
 */
export interface OpenBanLists {
  /** Permanent targets separated by single spaces ('' when none): no string per ban (OpenBans). */
  readonly permanent: string;
  readonly timed: readonly string[];
  /** End of each timed ban (epoch ms), parallel to `timed`. */
  readonly timedUntil: readonly number[];
}

/** Open bans per jail, for `warden status`. */
export interface OpenBanCounts {
  readonly active: number;
  readonly permanent: number;
  readonly byJail: ReadonlyMap<string, number>;
}

/** What is known about an address that was banned: the evidence `warden review` shows. */
export interface OffenderRecord {
  readonly target: string;
  readonly firstFailure: number;
  readonly lastFailure: number;
  readonly failures: number;
  readonly bans: number;
  readonly attemptsWhileBanned: number;
  /** Last failure seen from it, counted even while banned (epoch ms). */
  readonly lastAttempt: number | null;
}

export interface LoginRecord {
  readonly address: string;
  readonly user: string;
  readonly method: string;
  readonly at: number;
}

export interface EventRecord {
  readonly id: number;
  readonly at: number;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly kind: string;
  readonly address: string | null;
  readonly message: string;
}

/** A failure counter as a checkpoint writes it (see FailureWindow.takeDirty). */
export interface FailureChange {
  readonly times: readonly number[];
  readonly evidence: readonly string[];
  /** Keep the newest EVIDENCE_LINES of the stored lines followed by `evidence` (default: replace them). */
  readonly append?: boolean;
}

interface BanRow {
  id: number; target: string; family: number; jail: string; since: number; until: number | null;
  reason: string; evidence: string; origin: string; lifted_at: number | null; lifted_by: string | null;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bans (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  family INTEGER NOT NULL,
  jail TEXT NOT NULL,
  since INTEGER NOT NULL,
  until INTEGER,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL DEFAULT '[]',
  origin TEXT NOT NULL DEFAULT 'auto',
  lifted_at INTEGER,
  lifted_by TEXT
);
CREATE INDEX IF NOT EXISTS bans_target ON bans (target, since);
CREATE INDEX IF NOT EXISTS bans_open ON bans (until) WHERE lifted_at IS NULL;
CREATE TABLE IF NOT EXISTS failures (
  jail TEXT NOT NULL,
  key TEXT NOT NULL,
  times TEXT NOT NULL,
  evidence TEXT NOT NULL,
  PRIMARY KEY (jail, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS positions (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  severity TEXT NOT NULL,
  kind TEXT NOT NULL,
  address TEXT,
  message TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE TABLE IF NOT EXISTS offenders (
  target TEXT PRIMARY KEY,
  first_failure INTEGER NOT NULL,
  last_failure INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  bans INTEGER NOT NULL,
  attempts_while_banned INTEGER NOT NULL DEFAULT 0,
  last_attempt INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logins (
  address TEXT NOT NULL,
  user TEXT NOT NULL,
  method TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (address, user, method)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS logins_at ON logins (at);
`;

export class StateStore implements PositionStore {
  readonly path: string;
  private readonly db: Database.Database;
  /** Positions reported by sources since the last checkpoint (written with the counters). */
  private readonly pendingPositions = new Map<string, string>();
  private readonly positions = new Map<string, string>();
  private readonly stmts;

  constructor(stateDir: string) {
    if (!existsSync(stateDir)) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700);
    this.path = join(stateDir, 'warden.db');
    this.db = new Database(this.path);
    chmodSync(this.path, 0o600);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode; only a power cut can lose the last
    // transactions, which the next start repairs by reconciling the kernel with the database.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // better-sqlite3 builds SQLite with a 16 MiB page cache per connection; the daemon would grow into
    // all of it once the failure counters of a large attack fill the database. The pages are in the
    // OS page cache anyway, so a miss costs a read() of a cached file, not a disk access: SQLite's own
    // default of 2 MiB is plenty.
    this.db.pragma('cache_size = -2048');
    this.db.exec(SCHEMA);
    const version = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get('schema_version') as string | undefined;
    if (version === undefined) this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    else if (Number(version) > SCHEMA_VERSION) {
      throw new Error(`${this.path}: written by a newer warden (schema ${version} > ${SCHEMA_VERSION}); refusing to touch it`);
    }
    for (const ext of ['-wal', '-shm']) if (existsSync(this.path + ext)) chmodSync(this.path + ext, 0o600);
    // Appending a checkpoint's new evidence lines to the stored ones happens inside the upsert, so a
    // counter whose older lines live only here costs one statement, not a read and a write.
    this.db.function('warden_append_evidence', { deterministic: true }, (stored: unknown, added: unknown) =>
      JSON.stringify([...parseLines(stored), ...parseLines(added)].slice(-EVIDENCE_LINES)));
    this.stmts = {
      insertBan: this.db.prepare(`INSERT INTO bans (target, family, jail, since, until, reason, evidence, origin)
        VALUES (@target, @family, @jail, @since, @until, @reason, @evidence, @origin)`),
      // No ORDER BY: sorting 100k rows costs a temporary B-tree; callers sort what they show.
      openBans: this.db.prepare(`SELECT * FROM bans WHERE lifted_at IS NULL AND (until IS NULL OR until > ?)`),
      // One string per kind instead of one row object per ban (see OpenBanLists). Targets never
      // contain ' ' (the daemon only stores canonical addresses and prefixes; openBanLists checks).
      openPermanentTargets: this.db.prepare(`SELECT group_concat(target, ' ') FROM bans WHERE lifted_at IS NULL AND until IS NULL`).pluck(),
      openTimedTargets: this.db.prepare(`SELECT group_concat(target, ' '), group_concat(until, ' ') FROM
        (SELECT target, MAX(until) AS until FROM bans b WHERE lifted_at IS NULL AND until > ?
          AND NOT EXISTS (SELECT 1 FROM bans p WHERE p.target = b.target AND p.lifted_at IS NULL AND p.until IS NULL)
        GROUP BY target)`).raw(),
      openCounts: this.db.prepare(`SELECT jail, COUNT(*) AS n, SUM(until IS NULL) AS permanent FROM bans
        WHERE lifted_at IS NULL AND (until IS NULL OR until > ?) GROUP BY jail`),
      // Permanent bans whose address was last seen (banned or trying again) before a moment.
      stalePermanent: this.db.prepare(`SELECT b.target, MAX(b.since, COALESCE(o.last_attempt, 0)) AS last_seen
        FROM bans b LEFT JOIN offenders o ON o.target = b.target
        WHERE b.lifted_at IS NULL AND b.until IS NULL AND MAX(b.since, COALESCE(o.last_attempt, 0)) <= ?`),
      latestBan: this.db.prepare('SELECT * FROM bans WHERE target = ? ORDER BY since DESC, id DESC LIMIT 1'),
      // Of several open rows the one in force: permanent first, then the latest end (as openBanLists).
      openBan: this.db.prepare(`SELECT * FROM bans WHERE target = ? AND lifted_at IS NULL AND (until IS NULL OR until > ?)
        ORDER BY until IS NULL DESC, until DESC, since DESC LIMIT 1`),
      lift: this.db.prepare(`UPDATE bans SET lifted_at = ?, lifted_by = ? WHERE target = ? AND lifted_at IS NULL AND (until IS NULL OR until > ?)`),
      extend: this.db.prepare('UPDATE bans SET until = ? WHERE id = ?'),
      // Bans lifted by hand do not count: an admin's unban says "this one was innocent".
      bansSince: this.db.prepare(`SELECT COUNT(*) FROM bans WHERE target = ? AND since >= ?
        AND (lifted_by IS NULL OR lifted_by LIKE 'expiry:%')`).pluck(),
      upsertOffender: this.db.prepare(`INSERT INTO offenders (target, first_failure, last_failure, failures, bans, last_attempt)
        VALUES (@target, @first, @last, @failures, 1, @last)
        ON CONFLICT (target) DO UPDATE SET first_failure = MIN(first_failure, @first), last_failure = MAX(last_failure, @last),
          failures = failures + @failures, bans = bans + 1, last_attempt = MAX(COALESCE(last_attempt, 0), @last)`),
      bannedAttempts: this.db.prepare(`UPDATE offenders SET attempts_while_banned = attempts_while_banned + ?,
        last_attempt = MAX(COALESCE(last_attempt, 0), ?) WHERE target = ?`),
      offender: this.db.prepare('SELECT * FROM offenders WHERE target = ?'),
      upsertLogin: this.db.prepare(`INSERT INTO logins (address, user, method, at) VALUES (?, ?, ?, ?)
        ON CONFLICT (address, user, method) DO UPDATE SET at = MAX(at, excluded.at)`),
      loginsSince: this.db.prepare('SELECT address, user, method, at FROM logins WHERE at >= ? AND method = ?'),
      everBanned: this.db.prepare('SELECT 1 FROM bans WHERE target = ? LIMIT 1').pluck(),
      upsertFailure: this.db.prepare('INSERT OR REPLACE INTO failures (jail, key, times, evidence) VALUES (?, ?, ?, ?)'),
      appendFailure: this.db.prepare(`INSERT INTO failures (jail, key, times, evidence) VALUES (?, ?, ?, ?)
        ON CONFLICT (jail, key) DO UPDATE SET times = excluded.times, evidence = warden_append_evidence(evidence, excluded.evidence)`),
      deleteFailure: this.db.prepare('DELETE FROM failures WHERE jail = ? AND key = ?'),
      failures: this.db.prepare('SELECT key, times FROM failures WHERE jail = ?'),
      failureEvidence: this.db.prepare('SELECT evidence FROM failures WHERE jail = ? AND key = ?').pluck(),
      upsertPosition: this.db.prepare('INSERT OR REPLACE INTO positions (key, value) VALUES (?, ?)'),
      allPositions: this.db.prepare('SELECT key, value FROM positions'),
      insertEvent: this.db.prepare('INSERT INTO events (at, severity, kind, address, message, detail) VALUES (?, ?, ?, ?, ?, ?)'),
      recentEvents: this.db.prepare('SELECT id, at, severity, kind, address, message FROM events ORDER BY id DESC LIMIT ?'),
      criticalSince: this.db.prepare(`SELECT id, at, severity, kind, address, message FROM events
        WHERE severity = 'critical' AND at >= ? ORDER BY id DESC LIMIT 100`),
    };
    for (const row of this.stmts.allPositions.all() as Array<{ key: string; value: string }>) this.positions.set(row.key, row.value);
  }

  // ------------------------------------------------------------------ bans

  addBan(ban: NewBan): BanRecord {
    const info = this.stmts.insertBan.run({ ...ban, evidence: JSON.stringify(ban.evidence) });
    return { ...ban, id: Number(info.lastInsertRowid), liftedAt: null, liftedBy: null };
  }

  /** Inserts many bans in one transaction (manual bulk bans, imports, benchmarks). */
  addBans(bans: readonly NewBan[]): BanRecord[] {
    return this.db.transaction(() => bans.map((b) => this.addBan(b)))();
  }

  /** Bans in force at `now`, oldest first. */
  openBans(now: number): BanRecord[] {
    return (this.stmts.openBans.all(now) as BanRow[]).map(toBan).sort((a, b) => a.since - b.since || a.id - b.id);
  }

  /**
   * Targets of the bans in force at `now` (see OpenBanLists). Two aggregate queries: SQLite joins
   * the targets into one string, so 100,000 permanent bans cost no object per ban here.
   */
  openBanLists(now: number): OpenBanLists {
    const permanent = this.stmts.openPermanentTargets.get() as string | null;
    const [targets, ends] = this.stmts.openTimedTargets.get(now) as [string | null, string | null];
    const timed = targets ? targets.split(' ') : [];
    const timedUntil = ends ? ends.split(' ').map(Number) : [];
    if (timed.length !== timedUntil.length) throw new Error(`${this.path}: a ban target contains a space; refusing to guess which ban is which`);
    return { permanent: permanent ?? '', timed, timedUntil };
  }

  /** How many bans are in force, how many of them permanent, and per jail. */
  openBanCounts(now: number): OpenBanCounts {
    const rows = this.stmts.openCounts.all(now) as Array<{ jail: string; n: number; permanent: number }>;
    return {
      active: rows.reduce((a, r) => a + r.n, 0),
      permanent: rows.reduce((a, r) => a + r.permanent, 0),
      byJail: new Map(rows.map((r) => [r.jail, r.n])),
    };
  }

  /** Permanent bans whose address was last seen at or before `before` (epoch ms), with when that was. */
  stalePermanentBans(before: number): Array<{ target: string; lastSeen: number }> {
    return (this.stmts.stalePermanent.all(before) as Array<{ target: string; last_seen: number }>).map((r) => ({ target: r.target, lastSeen: r.last_seen }));
  }

  /** The newest ban of a target, open or not (e.g. to name the jail of a ban that just expired). */
  latestBan(target: string): BanRecord | undefined {
    const row = this.stmts.latestBan.get(target) as BanRow | undefined;
    return row ? toBan(row) : undefined;
  }

  openBan(target: string, now: number): BanRecord | undefined {
    const row = this.stmts.openBan.get(target, now) as BanRow | undefined;
    return row ? toBan(row) : undefined;
  }

  /** Lifts the open ban(s) of a target; returns how many were lifted. */
  liftBan(target: string, now: number, by: string): number {
    return this.stmts.lift.run(now, by, target, now).changes;
  }

  setBanUntil(id: number, until: number | null): void {
    this.stmts.extend.run(until, id);
  }

  /** How many bans a target received since `since` (escalation). */
  countBansSince(target: string, since: number): number {
    return this.stmts.bansSince.get(target, since) as number;
  }

  // ------------------------------------------------------------------ offenders and logins

  recordOffence(target: string, first: number, last: number, failures: number): void {
    this.stmts.upsertOffender.run({ target, first, last, failures });
  }

  offender(target: string): OffenderRecord | undefined {
    const row = this.stmts.offender.get(target) as
      | { target: string; first_failure: number; last_failure: number; failures: number; bans: number; attempts_while_banned: number; last_attempt: number | null }
      | undefined;
    return row && {
      target: row.target, firstFailure: row.first_failure, lastFailure: row.last_failure, failures: row.failures,
      bans: row.bans, attemptsWhileBanned: row.attempts_while_banned, lastAttempt: row.last_attempt,
    };
  }

  everBanned(target: string): boolean {
    return this.stmts.everBanned.get(target) !== undefined;
  }

  recordLogin(login: LoginRecord): void {
    this.stmts.upsertLogin.run(login.address, login.user, login.method, login.at);
  }

  loginsSince(since: number, method: string): LoginRecord[] {
    return this.stmts.loginsSince.all(since, method) as LoginRecord[];
  }

  // ------------------------------------------------------------------ events

  addEvent(at: number, severity: EventRecord['severity'], kind: string, address: string | null, message: string, detail: object = {}): void {
    this.stmts.insertEvent.run(at, severity, kind, address, message, JSON.stringify(detail));
  }

  recentEvents(limit: number): EventRecord[] {
    return this.stmts.recentEvents.all(limit) as EventRecord[];
  }

  /** Critical events since `since` (newest first, at most 100): they must not scroll out of view. */
  criticalEventsSince(since: number): EventRecord[] {
    return this.stmts.criticalSince.all(since) as EventRecord[];
  }

  // ------------------------------------------------------------------ positions + counters

  loadPosition(key: string): string | undefined {
    return this.pendingPositions.get(key) ?? this.positions.get(key);
  }

  /** Buffered: written by the next checkpoint, in the same transaction as the failure counters. */
  savePosition(key: string, value: string): void {
    this.pendingPositions.set(key, value);
  }

  /** The failure times of every counter of a jail (start-up); their evidence is read on demand. */
  loadFailures(jail: string): Array<[string, number[]]> {
    const rows = this.stmts.failures.all(jail) as Array<{ key: string; times: string }>;
    return rows.map((r) => [r.key, JSON.parse(r.times) as number[]]);
  }

  /** The evidence lines stored with a failure counter (empty when there is none). */
  failureEvidence(jail: string, key: string): string[] {
    return parseLines(this.stmts.failureEvidence.get(jail, key));
  }

  /** Writes changed counters, attempts seen while banned and pending positions atomically. */
  checkpoint(
    changes: ReadonlyArray<{ jail: string; entries: ReadonlyArray<[string, FailureChange | undefined]> }>,
    bannedAttempts: ReadonlyMap<string, { count: number; last: number }> = new Map(),
  ): void {
    if (!this.pendingPositions.size && !bannedAttempts.size && changes.every((c) => c.entries.length === 0)) return;
    this.db.transaction(() => {
      for (const [target, a] of bannedAttempts) this.stmts.bannedAttempts.run(a.count, a.last, target);
      for (const { jail, entries } of changes) {
        for (const [key, entry] of entries) {
          if (entry) {
            const statement = entry.append ? this.stmts.appendFailure : this.stmts.upsertFailure;
            statement.run(jail, key, JSON.stringify(entry.times), JSON.stringify(entry.evidence));
          } else this.stmts.deleteFailure.run(jail, key);
        }
      }
      for (const [key, value] of this.pendingPositions) {
        this.stmts.upsertPosition.run(key, value);
        this.positions.set(key, value);
      }
    })();
    this.pendingPositions.clear();
  }

  /**
   * Runs `work` in one transaction. The daemon processes each batch of log lines inside one, so
   * the bans, offences and events a flood produces cost one commit per batch, not one per row.
   */
  inTransaction<T>(work: () => T): T {
    return this.db.inTransaction ? work() : this.db.transaction(work)();
  }

  close(): void {
    this.db.close();
  }
}

/** A stored JSON array of lines; anything else (no row, damage) reads as no lines. */
function parseLines(json: unknown): string[] {
  if (typeof json !== 'string') return [];
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((l): l is string => typeof l === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * A ban read from the database. The evidence column stays JSON text until someone reads
 * `evidence` (`warden bans --json`, review): most records are read for their target and end only.
 * `evidence` is a getter on the prototype, so a spread copy (`{ ...ban }`) lacks it: copy it by name.
 */
class StoredBan implements BanRecord {
  readonly id: number;
  readonly target: string;
  readonly family: 4 | 6;
  readonly jail: string;
  readonly since: number;
  readonly until: number | null;
  readonly reason: string;
  readonly origin: string;
  readonly liftedAt: number | null;
  readonly liftedBy: string | null;
  #evidenceJson: string;
  #evidence: readonly string[] | undefined;

  constructor(row: BanRow) {
    this.id = row.id;
    this.target = row.target;
    this.family = row.family === 6 ? 6 : 4;
    this.jail = row.jail;
    this.since = row.since;
    this.until = row.until;
    this.reason = row.reason;
    this.origin = row.origin;
    this.liftedAt = row.lifted_at;
    this.liftedBy = row.lifted_by;
    this.#evidenceJson = row.evidence;
  }

  get evidence(): readonly string[] {
    this.#evidence ??= JSON.parse(this.#evidenceJson) as string[];
    return this.#evidence;
  }
}

function toBan(row: BanRow): BanRecord {
  return new StoredBan(row);
}
