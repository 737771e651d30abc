import Database from 'better-sqlite3';
import { mkdirSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cancelAction } from '../../core/cancellation.js';
import { pauseAction } from '../../core/pause.js';
import { systemClock } from '../../core/clock.js';
import { JobdeckError } from '../../core/errors.js';
import {
  INSTANCE_LOST_AFTER_BEATS,
  INSTANCE_REMOVED_AFTER_BEATS,
  type InstanceInfo,
  type InstanceStatus,
} from '../../core/instance.js';
import type {
  LogEntry,
  Run,
  RunItem,
  RunProgress,
  StoredLogEntry,
  StoredStep,
} from '../../core/run.js';
import { UNFINISHED_STATUSES, canTransition, type RunStatus } from '../../core/status.js';
import { loadMigrations, loadNamedQueries, type Migration } from '../sql-files.js';
import {
  alertTaskFromRow,
  alertsFromRows,
  attemptJson,
  cancelFromRow,
  eventFromRow,
  instanceBeatParams,
  instancesFromRows,
  idPrefixEnd,
  itemFromRow,
  stepFromRow,
  stepParams,
  logFromRow,
  runFromRow,
  runsNotInserted,
  insertManyAnswers,
  jobStateFromRow,
  leaseLost,
  renewalFromRow,
  resumeRefused,
  statsBucketFromRow,
  statsNow,
  toJson,
  workerLost,
  type AlertDeliveryRow,
  type AlertRow,
  type CancelRow,
  type PauseRow,
  type EventRow,
  type InstanceRow,
  type InstanceRunRow,
  type ItemRow,
  type StepRow,
  type JobRow,
  type LogRow,
  type RunRow,
  type StatsRow,
  type UncancelledChildRow,
  uncancelledChild,
} from '../rows.js';
import type {
  AlertDeliveryClaimParams,
  AlertDeliveryRecordParams,
  AlertDeliveryTask,
  AlertInsertParams,
  AlertRecord,
  AttemptRef,
  CancelRequest,
  EventPage,
  EventWatch,
  StoreNotifications,
  JobState,
  LeaseRenewal,
  LeaseRenewParams,
  MigrationReport,
  RunCancelParams,
  RunCancelResult,
  RunPauseParams,
  RunPauseResult,
  RunClaimParams,
  RunCountParams,
  RunFilter,
  RunFinishParams,
  RunInsertManyParams,
  RunInsertParams,
  RunListParams,
  RunMarkStuckParams,
  RunStats,
  RunStatsParams,
  Store,
  StoreCapabilities,
  StoreNow,
  UncancelledChild,
} from '../store.js';
import { claimRoom, finishOutcome, waitCounts } from '../store.js';

const SQL_DIR = fileURLToPath(new URL('./sql/', import.meta.url));
const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** The first line of a migration that must run with foreign keys off (a table rebuild). */
const FOREIGN_KEYS_OFF = /^-- jobdeck: foreign_keys off$/m;
const QUERIES = loadNamedQueries(SQL_DIR);
/** The least time between two wake-ups from the file watch. */
const WAKE_SPACING_MS = 2;
/** A second look after a wake-up, for a commit not yet visible at the first. */
const WAKE_RECHECK_MS = 15;

/** Where the SQLite store keeps its file, and how long a write waits for another process. */
export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created. `:memory:` for a private in-memory store. */
  path: string;
  /** How long a write waits for another process's lock before failing. Default 5 s. */
  busyTimeoutMs?: number;
}

type Params = Record<string, unknown>;

/**
 * The embedded store: one SQLite file, shared safely by several processes on one host (WAL,
 * busy timeout, claims and every read-decide-write inside `BEGIN IMMEDIATE`).
 */
export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = {
    pushNotify: false,
    skipLocked: false,
    multiHost: false,
  };
  /** Wake-ups from the other processes on this host that write the file (none in memory). */
  readonly notifications?: StoreNotifications;
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true });
      this.notifications = {
        listen: async (handlers) => this.listenForWrites(handlers),
        healthy: false,
      };
    }
    this.db = new Database(options.path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
  }

  private stmt(name: string): Database.Statement {
    let statement = this.statements.get(name);
    if (!statement) {
      const sql = QUERIES.get(name);
      if (sql === undefined) throw new Error(`no SQL named ${name}`);
      statement = this.db.prepare(sql);
      this.statements.set(name, statement);
    }
    return statement;
  }

  private get<T>(name: string, params: Params = {}): T | undefined {
    return this.stmt(name).get(params) as T | undefined;
  }

  private all<T>(name: string, params: Params = {}): T[] {
    return this.stmt(name).all(params) as T[];
  }

  private run(name: string, params: Params = {}): number {
    return this.stmt(name).run(params).changes;
  }

  /** Run `fn` as one write transaction that holds the database lock from its start. */
  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw translateSqliteError(err);
    }
  }

  async migrate(): Promise<MigrationReport> {
    const migrations = loadMigrations(MIGRATIONS_DIR);
    // A migration that rebuilds a parent table (SQLite cannot alter a CHECK) is applied with
    // foreign keys off, or dropping the old table would delete its children. The pragma has no
    // effect inside a transaction, so it is set around it; the keys are checked before the commit.
    const applied = this.appliedMigrations();
    const rebuilds = migrations.some(
      (m) => !applied.has(m.version) && FOREIGN_KEYS_OFF.test(m.sql),
    );
    if (rebuilds) this.db.pragma('foreign_keys = OFF');
    try {
      return this.applyMigrations(migrations, rebuilds);
    } finally {
      if (rebuilds) this.db.pragma('foreign_keys = ON');
    }
  }

  /** The versions applied so far, read before the migrating transaction; none on a new file. */
  private appliedMigrations(): Set<number> {
    const table = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobdeck_migrations'")
      .get();
    if (!table) return new Set();
    const rows = this.db.prepare('SELECT version FROM jobdeck_migrations').all() as {
      version: number;
    }[];
    return new Set(rows.map((r) => r.version));
  }

  private applyMigrations(migrations: Migration[], checkForeignKeys: boolean): MigrationReport {
    return this.write(() => {
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS jobdeck_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
      const done = new Set(
        (
          this.db.prepare('SELECT version FROM jobdeck_migrations').all() as { version: number }[]
        ).map((r) => r.version),
      );
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO jobdeck_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
        applied.push(`${String(m.version).padStart(4, '0')}_${m.name}`);
      }
      if (checkForeignKeys && (this.db.pragma('foreign_key_check') as unknown[]).length > 0)
        throw new Error('a migration left rows whose foreign keys point nowhere');
      return { applied, current: migrations.at(-1)?.version ?? 0 };
    });
  }

  async ping(): Promise<void> {
    this.get('ping');
  }

  async timeNow(): Promise<Date> {
    return new Date(hostMs(null));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private itemsOf(ids: string[]): Map<string, RunItem[]> {
    const byRun = new Map<string, RunItem[]>();
    if (ids.length === 0) return byRun;
    for (const row of this.all<ItemRow>('itemList', { ids: JSON.stringify(ids) })) {
      const list = byRun.get(row.run_id) ?? [];
      list.push(itemFromRow(row));
      byRun.set(row.run_id, list);
    }
    return byRun;
  }

  private toRuns(rows: RunRow[]): Run[] {
    const items = this.itemsOf(rows.map((r) => r.id));
    return rows.map((row) => runFromRow(row, items.get(row.id) ?? []));
  }

  private toRun(row: RunRow): Run {
    return this.toRuns([row])[0]!;
  }

  async runInsert(params: RunInsertParams): Promise<{ run: Run; created: boolean }> {
    return this.write(() => {
      if (params.idempotencyKey !== null) {
        const existing = this.get<RunRow>('runFindByIdempotencyKey', {
          job: params.job,
          createdBy: params.createdBy,
          idempotencyKey: params.idempotencyKey,
        });
        if (existing) return { run: this.toRun(existing), created: false };
      }
      if (params.exclusive) {
        const { n } = this.get<{ n: number }>('runCountBlocking', { job: params.job })!;
        if (n > 0)
          throw new JobdeckError('ALREADY_RUNNING', `Job ${params.job} already has an active run.`);
      }
      const row = this.get<RunRow>('runInsert', {
        id: params.id,
        job: params.job,
        input: JSON.stringify(params.input ?? null),
        status: params.runAt.getTime() > params.now.getTime() ? 'scheduled' : 'pending',
        maxAttempts: params.maxAttempts,
        priority: params.priority,
        runAt: params.runAt.getTime(),
        now: params.now.getTime(),
        createdBy: params.createdBy,
        trigger: params.trigger,
        idempotencyKey: params.idempotencyKey,
        expireAt: params.expireAt?.getTime() ?? null,
        retentionMs: params.retentionMs,
        retryOf: params.retryOf,
        parentId: params.parentId ?? null,
      })!;
      return { run: runFromRow(row, []), created: true };
    });
  }

  async runInsertMany(params: RunInsertManyParams): Promise<{ run: Run; created: boolean }[]> {
    const { runs } = params;
    if (runs.length === 0) return [];
    const now = params.now.getTime();
    const given = JSON.stringify(
      runs.map((run) => ({
        id: run.id,
        job: run.job,
        // Text in the JSON, stored as given: the same text runInsert stores.
        input: JSON.stringify(run.input ?? null),
        status: run.runAt.getTime() > now ? 'scheduled' : 'pending',
        maxAttempts: run.maxAttempts,
        priority: run.priority,
        runAt: run.runAt.getTime(),
        createdBy: run.createdBy,
        trigger: run.trigger,
        idempotencyKey: run.idempotencyKey,
        expireAt: run.expireAt?.getTime() ?? null,
        retentionMs: run.retentionMs,
        retryOf: run.retryOf,
        parentId: run.parentId ?? null,
      })),
    );
    return this.write(() => {
      const rows = this.all<RunRow>('runInsertMany', { now, runs: given });
      const missing = runsNotInserted(runs, rows);
      const found = missing.length
        ? this.all<RunRow>('runFindByIdempotencyKeys', {
            keys: JSON.stringify(
              missing.map(({ job, createdBy, idempotencyKey }) => ({
                job,
                createdBy,
                idempotencyKey,
              })),
            ),
          })
        : [];
      return insertManyAnswers(
        runs,
        rows.map((row) => runFromRow(row, [])),
        this.toRuns(found),
      );
    });
  }

  async runGet(params: { id: string }): Promise<Run | null> {
    const row = this.get<RunRow>('runGet', params);
    return row ? this.toRun(row) : null;
  }

  async runList(params: RunListParams): Promise<{ runs: Run[]; nextCursor: string | null }> {
    return this.db.transaction(() => {
      const ids = this.matchingIds(params, params.limit + 1, params.cursor ?? null);
      const page = ids.slice(0, params.limit);
      const rows = page.length ? this.all<RunRow>('runGetMany', { ids: JSON.stringify(page) }) : [];
      return {
        runs: this.toRuns(rows),
        nextCursor: ids.length > params.limit ? page[page.length - 1]! : null,
      };
    })();
  }

  async runCount(params: RunCountParams): Promise<number> {
    return this.db.transaction(() => this.matchingIds(params, params.limit, null).length)();
  }

  /**
   * Up to `limit` ids of runs that match `filter` and sort below `cursor`, newest first. Candidates
   * come from the narrowest index of the filters given (the driver), in growing batches, and are
   * kept when they match every filter.
   */
  private matchingIds(filter: RunFilter, limit: number, cursor: string | null): string[] {
    if (limit <= 0) return [];
    const bounds = {
      before: cursor ?? NO_UPPER_ID,
      idFrom: filter.idPrefix ?? '',
      idTo: filter.idPrefix === undefined ? NO_UPPER_ID : idPrefixEnd(filter.idPrefix),
    };
    const filters = {
      ...bounds,
      idPrefix: filter.idPrefix ?? null,
      job: filter.job ?? null,
      createdBy: filter.createdBy ?? null,
      parentId: filter.parentId ?? null,
      statuses: filter.status?.length ? JSON.stringify(filter.status) : null,
      createdFrom: filter.createdFrom?.getTime() ?? null,
      createdTo: filter.createdTo?.getTime() ?? null,
    };
    const driver = this.narrowestDriver(listDrivers(filter), bounds);
    const found: string[] = [];
    let before = bounds.before;
    let batch = Math.max(limit, MIN_LIST_BATCH);
    for (;;) {
      const candidates = this.all<{ rid: number; id: string }>(driver.name, {
        ...driver.params,
        ...bounds,
        before,
        limit: batch,
      });
      if (candidates.length === 0) break;
      const kept = this.all<{ id: string }>('runIdsMatching', {
        ...filters,
        before,
        rowids: JSON.stringify(candidates.map((row) => row.rid)),
        limit: limit - found.length,
      });
      found.push(...kept.map((row) => row.id));
      if (found.length >= limit || candidates.length < batch) break;
      before = candidates[candidates.length - 1]!.id;
      batch = Math.min(batch * 2, MAX_LIST_BATCH);
    }
    return found;
  }

  /**
   * Of several indexes a list could walk, the one with the fewest runs in its range: SQLite keeps
   * no statistics to tell, so each is counted up to {@link DRIVER_PROBE} ids.
   */
  private narrowestDriver(drivers: ListDriver[], bounds: Params): ListDriver {
    if (drivers.length === 1) return drivers[0]!;
    const sized = drivers.map((driver) => ({
      driver,
      size: this.all(driver.name, { ...driver.params, ...bounds, limit: DRIVER_PROBE }).length,
    }));
    return sized.reduce((best, next) => (next.size < best.size ? next : best)).driver;
  }

  async runStats(params: RunStatsParams): Promise<RunStats> {
    return this.db.transaction(() => ({
      buckets: this.all<StatsRow>('runStats', {
        from: params.from.getTime(),
        to: params.to.getTime(),
        bucketMs: params.bucketMs,
      }).map(statsBucketFromRow),
      now: statsNow(
        this.unfinishedCounts(),
        this.get('runOldestDue', { now: params.now.getTime() }),
      ),
    }))();
  }

  async runClaim(params: RunClaimParams): Promise<Run[]> {
    if (params.limit <= 0 || params.jobs.length === 0) return [];
    // Nothing due: answer from a read, without taking the write lock every other process needs.
    const anyDue = this.all<{ id: string }>('runClaimCandidates', {
      now: hostMs(params.now),
      jobs: JSON.stringify(params.jobs.map((j) => j.name)),
      limit: 1,
    });
    if (anyDue.length === 0) return [];
    return this.write(() => {
      const disabled = new Set(this.all<{ name: string }>('jobDisabledNames').map((r) => r.name));
      const jobs = params.jobs.filter((j) => !disabled.has(j.name));
      const now = hostMs(params.now);
      const capped = jobs.filter((j) => j.concurrency !== null);
      const active = new Map(
        capped.length === 0
          ? []
          : this.all<{ job: string; n: number }>('runCountActiveByJob', {
              jobs: JSON.stringify(capped.map((j) => j.name)),
              now,
            }).map((r) => [r.job, r.n]),
      );
      const started = new Map<string, number>();
      for (const j of jobs) {
        if (!j.rateLimit) continue;
        this.run('jobStartsPrune', { job: j.name, perMs: j.rateLimit.perMs, now });
        started.set(j.name, this.get<{ n: number }>('jobStartsInWindow', { job: j.name })?.n ?? 0);
      }
      const room = claimRoom(jobs, { active, started });
      const claimed: RunRow[] = [];
      let eligible = jobs.filter((j) => (room.get(j.name) ?? 1) > 0).map((j) => j.name);
      // Re-select while a job's cap made us skip candidates that another job could replace.
      while (claimed.length < params.limit && eligible.length > 0) {
        const candidates = this.all<{ id: string; job: string }>('runClaimCandidates', {
          now,
          jobs: JSON.stringify(eligible),
          limit: params.limit - claimed.length,
        });
        let skipped = false;
        for (const candidate of candidates) {
          const left = room.get(candidate.job);
          if (left !== undefined && left <= 0) {
            skipped = true;
            continue;
          }
          const row = this.get<RunRow>('runClaim', {
            id: candidate.id,
            workerId: params.workerId,
            leaseUntil: now + params.leaseMs,
            now,
          });
          if (!row) continue;
          if (row.attempt > 1) this.run('itemClearForAttempt', { id: row.id });
          if (started.has(row.job))
            this.run('jobStartsRecord', { job: row.job, startedAt: row.started_at });
          claimed.push(row);
          if (left !== undefined) room.set(candidate.job, left - 1);
        }
        if (!skipped) break;
        eligible = eligible.filter((name) => (room.get(name) ?? 1) > 0);
      }
      return claimed.map((row) => runFromRow(row, []));
    });
  }

  async runCancel(params: RunCancelParams): Promise<RunCancelResult> {
    return this.write(() => {
      const current = this.get<RunRow>('runGet', { id: params.id });
      if (!current) throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${params.id}.`);
      const action = cancelAction(current.status as RunStatus, params.mode);
      const args = {
        id: params.id,
        expected: current.status,
        mode: params.mode,
        reason: params.reason,
        requestedBy: params.requestedBy,
        now: params.now.getTime(),
      };
      let row: RunRow | undefined = current;
      if (action === 'cancel-now') row = this.get<RunRow>('runCancelNow', args);
      if (action === 'request') row = this.get<RunRow>('runCancelRequest', args);
      if (action === 'force') {
        this.run('itemCancelUnfinished', { runId: params.id });
        row = this.get<RunRow>('runCancelForce', args);
      }
      if (!row) throw new Error(`run ${params.id} changed inside a write transaction`);
      return { run: this.toRun(row), action };
    });
  }

  async runPause(params: RunPauseParams): Promise<RunPauseResult> {
    return this.write(() => {
      const current = this.get<RunRow>('runGet', { id: params.id });
      if (!current) throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${params.id}.`);
      const action = pauseAction(current.status as RunStatus);
      const args = {
        id: params.id,
        expected: current.status,
        requestedBy: params.requestedBy,
        now: params.now.getTime(),
      };
      let row: RunRow | undefined = current;
      if (action === 'hold-now') row = this.get<RunRow>('runPauseNow', args);
      if (action === 'request') row = this.get<RunRow>('runPauseRequest', args);
      if (!row) throw new Error(`run ${params.id} changed inside a write transaction`);
      return { run: this.toRun(row), action };
    });
  }

  async runResume(params: { id: string; now: Date }): Promise<Run> {
    return this.write(() => {
      const row = this.get<RunRow>('runResume', { id: params.id, now: params.now.getTime() });
      if (row) return this.toRun(row);
      throw resumeRefused(params.id, this.get<RunRow>('runGet', { id: params.id }));
    });
  }

  async runFinishIfAttempt(params: RunFinishParams): Promise<Run> {
    const { ref } = params;
    const now = params.now.getTime();
    return this.write(() => {
      const current = this.fenced(ref);
      const outcome = finishOutcome(current, params.outcome);
      const target: RunStatus = outcome.status === 'cancelled' ? 'cancelled' : outcome.status;
      if (!canTransition(current, target)) {
        throw new JobdeckError('INVALID_TRANSITION', `A ${current} run cannot become ${target}.`);
      }
      const key = { id: ref.id, attempt: ref.attempt, workerId: ref.workerId, now };
      let row: RunRow | undefined;
      switch (outcome.status) {
        case 'completed':
        case 'partial':
          this.run('itemCancelUnfinished', { runId: ref.id });
          row = this.get('runFinish', {
            ...key,
            status: outcome.status,
            result: toJson(outcome.result),
            error: null,
          });
          break;
        case 'failed':
          this.run('itemCancelUnfinished', { runId: ref.id });
          row = this.get('runFinish', {
            ...key,
            status: 'failed',
            result: toJson(outcome.result),
            error: toJson(outcome.error),
          });
          break;
        case 'cancelled':
          this.run('itemCancelUnfinished', { runId: ref.id });
          row = this.get('runFinishCancelled', { ...key, result: toJson(outcome.result) });
          break;
        case 'scheduled':
          row = this.get('runRetryLater', {
            ...key,
            runAt: outcome.runAt.getTime(),
            error: toJson(outcome.error),
          });
          break;
        case 'pending':
          row = this.get('runRelease', key);
          break;
        case 'paused':
          row = this.get('runPauseAttempt', key);
          break;
        case 'waiting': {
          const marked = this.all<{ id: string; status: RunStatus; awaited: number }>(
            'runWaitMark',
            { id: ref.id, children: JSON.stringify(outcome.children) },
          );
          const { unfinished, endedBadly } = waitCounts(outcome.children, marked);
          row = this.get('runWaitAttempt', { ...key, unfinished, endedBadly: endedBadly ? 1 : 0 });
          break;
        }
      }
      if (!row) throw leaseLost(ref);
      return this.toRun(row);
    });
  }

  async runCompleteMany(params: {
    now: Date;
    runs: { ref: AttemptRef; result: unknown }[];
  }): Promise<(Run | null)[]> {
    if (params.runs.length === 0) return [];
    const now = params.now.getTime();
    return this.write(() =>
      params.runs.map(({ ref, result }) => {
        const row = this.get<RunRow>('runComplete', { ...ref, now, result: toJson(result) });
        return row ? runFromRow(row, []) : null;
      }),
    );
  }

  /** The status of the run if `ref` still holds it; LEASE_LOST otherwise. */
  private fenced(ref: AttemptRef): RunStatus {
    const row = this.get<{ status: RunStatus }>('runFenceCheck', { ...ref });
    if (!row) throw leaseLost(ref);
    return row.status;
  }

  async runProgressSet(params: {
    ref: AttemptRef;
    progress: RunProgress;
    now: Date;
  }): Promise<void> {
    const changes = this.run('runProgressSet', {
      ...params.ref,
      progress: JSON.stringify(params.progress),
    });
    if (changes === 0) throw leaseLost(params.ref);
  }

  async runListCancelRequested(params: {
    workerId: string;
    ids: string[];
  }): Promise<CancelRequest[]> {
    if (params.ids.length === 0) return [];
    return this.all<CancelRow>('runListCancelRequested', {
      workerId: params.workerId,
      ids: JSON.stringify(params.ids),
    }).map((row) => ({ id: row.id, attempt: row.attempt, cancel: cancelFromRow(row)! }));
  }

  async leaseRenew(params: LeaseRenewParams): Promise<LeaseRenewal[]> {
    if (params.runs.length === 0) return [];
    const leaseUntil = hostMs(params.now) + params.leaseMs;
    return this.write(() =>
      params.runs.map((run) => {
        const renewed = this.get<CancelRow & PauseRow & { status: RunStatus }>('leaseRenew', {
          id: run.id,
          attempt: run.attempt,
          workerId: params.workerId,
          leaseUntil,
        });
        if (renewed) return renewalFromRow(renewed);
        const row = this.get<CancelRow & { worker_id: string | null }>('leaseLookup', {
          id: run.id,
        });
        // A force-cancelled run of this very attempt is no longer held, but its cancel must still reach the handler.
        const sameAttempt =
          row !== undefined && row.attempt === run.attempt && row.worker_id === params.workerId;
        return {
          id: run.id,
          attempt: run.attempt,
          held: false,
          cancel: sameAttempt ? cancelFromRow(row) : null,
          pause: null,
        };
      }),
    );
  }

  async leaseRelease(params: { ref: AttemptRef }): Promise<void> {
    const released = this.write(() => this.get('leaseRelease', { ...params.ref }));
    if (!released) throw leaseLost(params.ref);
  }

  async stepList(params: { runId: string; last?: number }): Promise<StoredStep[]> {
    const rows =
      params.last === undefined
        ? this.all<StepRow>('stepList', { runId: params.runId })
        : this.all<StepRow>('stepListLast', { runId: params.runId, last: params.last });
    return rows.map(stepFromRow);
  }

  async stepSave(params: { ref: AttemptRef; step: StoredStep }): Promise<void> {
    this.write(() => {
      this.fenced(params.ref);
      this.run('stepSave', stepParams(params.ref, params.step));
    });
  }

  async itemsUpsert(params: { ref: AttemptRef; items: RunItem[] }): Promise<void> {
    if (params.items.length === 0) return;
    this.write(() => {
      this.fenced(params.ref);
      for (const item of params.items) {
        this.run('itemUpsert', {
          runId: params.ref.id,
          key: item.key,
          status: item.status,
          error: toJson(item.error),
        });
      }
    });
  }

  async logAppend(params: {
    runId: string;
    ref?: AttemptRef;
    entries: LogEntry[];
    cap: number;
  }): Promise<StoredLogEntry[]> {
    if (params.entries.length === 0) return [];
    return this.write(() => {
      const owner = this.get<{ attempt: number; worker_id: string | null }>('logOwnerCheck', {
        runId: params.runId,
      });
      if (!owner) throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${params.runId}.`);
      if (
        params.ref &&
        (owner.attempt !== params.ref.attempt || owner.worker_id !== params.ref.workerId)
      ) {
        throw leaseLost(params.ref);
      }
      const { log_seq: last } = this.get<{ log_seq: number }>('logReserveSeq', {
        runId: params.runId,
        count: params.entries.length,
      })!;
      const first = last - params.entries.length + 1;
      const stored = params.entries.map((entry, index) => {
        const seq = first + index;
        this.run('logInsert', {
          runId: params.runId,
          seq,
          level: entry.level,
          message: entry.message,
          data: toJson(entry.data),
          time: entry.time.getTime(),
        });
        return { ...entry, runId: params.runId, seq };
      });
      if (last > params.cap)
        this.run('logTrim', { runId: params.runId, keepAfter: last - params.cap });
      return stored.slice(-params.cap);
    });
  }

  async logList(params: {
    runId: string;
    afterSeq?: number;
    limit?: number;
  }): Promise<StoredLogEntry[]> {
    return this.all<LogRow>('logList', {
      runId: params.runId,
      afterSeq: params.afterSeq ?? 0,
      limit: params.limit ?? 1000,
    }).map(logFromRow);
  }

  async runRescueExpired(params: { now: StoreNow }): Promise<Run[]> {
    const now = hostMs(params.now);
    return this.write(() => {
      const rescued: RunRow[] = [];
      for (const row of this.all<RunRow>('runListExpiredLeases', { now })) {
        const key = { id: row.id, attempt: row.attempt, now };
        const error = toJson(workerLost(row.worker_id));
        let updated: RunRow | undefined;
        if (row.status === 'cancelling') {
          this.run('itemCancelUnfinished', { runId: row.id });
          updated = this.get('runRescueCancelled', { ...key, error });
        } else if (row.pause_requested_at !== null) {
          updated = this.get('runRescuePaused', { ...key, error });
        } else if (row.attempt < row.max_attempts) {
          updated = this.get('runRescueRetry', { ...key, error });
        } else {
          this.run('itemCancelUnfinished', { runId: row.id });
          updated = this.get('runRescueFail', { ...key, error });
        }
        if (updated) rescued.push(updated);
      }
      return this.toRuns(rescued);
    });
  }

  async runExpireUnstarted(params: { now: StoreNow }): Promise<Run[]> {
    return this.write(() =>
      this.toRuns(this.all<RunRow>('runExpireUnstarted', { now: hostMs(params.now) })),
    );
  }

  async runPromoteDue(params: { now: StoreNow }): Promise<number> {
    return this.write(() => this.run('runPromoteDue', { now: hostMs(params.now) }));
  }

  async runDeleteFinished(params: { now: StoreNow; limit: number }): Promise<number> {
    return this.write(() =>
      this.run('runDeleteFinished', { now: hostMs(params.now), limit: params.limit }),
    );
  }

  async runListUncancelledChildren(params: { limit: number }): Promise<UncancelledChild[]> {
    return this.all<UncancelledChildRow>('runListUncancelledChildren', params).map(
      uncancelledChild,
    );
  }

  async runCountUnfinished(): Promise<Partial<Record<RunStatus, number>>> {
    return this.unfinishedCounts();
  }

  private unfinishedCounts(): Partial<Record<RunStatus, number>> {
    const counts: Partial<Record<RunStatus, number>> = {};
    for (const row of this.all<{ status: RunStatus; n: number }>('runCountUnfinished'))
      counts[row.status] = row.n;
    return counts;
  }

  async runMarkStuck(params: RunMarkStuckParams): Promise<Run[]> {
    const now = hostMs(params.now);
    return this.write(() => {
      const marked: RunRow[] = [];
      const ids = this.all<{ id: string }>('runListStuck', {
        now,
        defaultAfterMs: params.defaultAfterMs,
        limits: JSON.stringify(params.jobs.map((j) => [j.name, j.afterMs])),
        limit: params.limit,
      });
      for (const { id } of ids) {
        const row = this.get<RunRow>('runMarkStuck', { id, now });
        if (!row) continue;
        this.run('eventInsertRunStuck', {
          id: row.id,
          job: row.job,
          status: row.status,
          attempt: row.attempt,
        });
        marked.push(row);
      }
      return this.toRuns(marked);
    });
  }

  async runOldestDueByJob(params: {
    dueBefore: Date;
  }): Promise<{ job: string; id: string; dueAt: Date }[]> {
    return this.all<{ job: string; id: string; due_at: number }>('runOldestDueByJob', {
      dueBefore: params.dueBefore.getTime(),
    }).map((row) => ({ job: row.job, id: row.id, dueAt: new Date(Number(row.due_at)) }));
  }

  async alertInsert(
    params: AlertInsertParams,
  ): Promise<{ created: boolean; alert: AlertRecord | null }> {
    return this.write(() => {
      const row = this.get<AlertRow>('alertInsert', {
        id: params.id,
        rule: params.rule,
        key: params.key,
        event: params.event,
        job: params.job,
        runId: params.runId,
        severity: params.severity,
        message: params.message,
        payload: JSON.stringify(params.payload ?? null),
        now: hostMs(params.now),
      });
      if (!row) return { created: false, alert: null };
      const at = Number(row.created_at);
      const claimed = this.get('alertCooldownClaim', {
        rule: params.rule,
        job: params.job,
        at,
        cooldownMs: params.cooldownMs,
      });
      if (claimed && params.channels.length > 0)
        this.run('alertDeliveryInsert', {
          id: row.id,
          at,
          channels: JSON.stringify(params.channels),
        });
      else this.run('alertSuppress', { id: row.id });
      return { created: true, alert: this.alertsWithDeliveries([row.id])[0]! };
    });
  }

  private alertsWithDeliveries(ids: string[]): AlertRecord[] {
    const rows = ids
      .map((id) => this.get<AlertRow>('alertGet', { id }))
      .filter((row): row is AlertRow => row !== undefined);
    const deliveries = this.all<AlertDeliveryRow>('alertDeliveryList', {
      ids: JSON.stringify(ids),
    });
    return alertsFromRows(rows, deliveries);
  }

  async alertList(params: { limit: number; before?: string | null }): Promise<AlertRecord[]> {
    return this.db.transaction(() => {
      const rows = this.all<AlertRow>('alertList', {
        before: params.before ?? null,
        limit: params.limit,
      });
      const deliveries = rows.length
        ? this.all<AlertDeliveryRow>('alertDeliveryList', {
            ids: JSON.stringify(rows.map((row) => row.id)),
          })
        : [];
      return alertsFromRows(rows, deliveries);
    })();
  }

  async alertDeliveryClaim(params: AlertDeliveryClaimParams): Promise<AlertDeliveryTask[]> {
    if (params.channels.length === 0 || params.limit <= 0) return [];
    return this.write(() => {
      const claimed = this.all<Pick<AlertDeliveryRow, 'alert_id' | 'channel' | 'attempt_count'>>(
        'alertDeliveryClaim',
        {
          owner: params.owner,
          channels: JSON.stringify(params.channels),
          now: hostMs(params.now),
          leaseMs: params.leaseMs,
          limit: params.limit,
        },
      );
      return claimed.map((row) =>
        alertTaskFromRow({ ...this.get<AlertRow>('alertGet', { id: row.alert_id })!, ...row }),
      );
    });
  }

  async alertDeliveryRecord(params: AlertDeliveryRecordParams): Promise<boolean> {
    const { outcome } = params;
    return this.write(
      () =>
        this.run('alertDeliveryRecord', {
          alertId: params.alertId,
          channel: params.channel,
          owner: params.owner,
          attempt: attemptJson(params.attempt),
          status: outcome.status === 'retry' ? 'pending' : outcome.status,
          retryInMs: outcome.status === 'retry' ? outcome.retryInMs : null,
          now: hostMs(params.now),
        }) > 0,
    );
  }

  async alertDeleteExpired(params: {
    now: StoreNow;
    retentionMs: number;
    limit: number;
  }): Promise<number> {
    return this.write(() =>
      this.run('alertDeleteExpired', {
        cutoff: hostMs(params.now) - params.retentionMs,
        limit: params.limit,
      }),
    );
  }

  async eventList(params: { afterSeq: number; limit: number }): Promise<EventPage> {
    // One writer at a time: every seq below the newest committed one is committed or never was.
    const rows = this.all<EventRow>('eventList', params);
    return { events: rows.map(eventFromRow), waiting: false };
  }

  async eventBounds(): Promise<{ last: number; pruned: number }> {
    const row = this.get<{ last: number; pruned: number }>('eventBounds')!;
    return { last: Number(row.last), pruned: Number(row.pruned) };
  }

  async eventDeleteExpired(params: {
    now: StoreNow;
    retentionMs: number;
    limit: number;
  }): Promise<number> {
    return this.write(() => {
      const deleted = this.all<{ seq: number }>('eventDeleteExpired', {
        cutoff: hostMs(params.now) - params.retentionMs,
        limit: params.limit,
      });
      if (deleted.length > 0)
        this.run('eventPrunedThrough', { seq: Math.max(...deleted.map((r) => r.seq)) });
      return deleted.length;
    });
  }

  /**
   * Other processes on this host write the same file: a watch of its write-ahead log tells of
   * their commits without polling. An in-memory store has no file: readers poll.
   */
  async eventWatch(onAppended: () => void): Promise<EventWatch> {
    return this.watchWrites(onAppended);
  }

  /**
   * Watch the database file and its write-ahead log for writes of any process on this host. A
   * watch that fails (the folder removed, too many watches) reports itself unhealthy.
   */
  private watchWrites(onWrite: () => void): EventWatch {
    const state = { healthy: false };
    if (this.path === ':memory:') return { healthy: false, close: async () => {} };
    const file = resolve(this.path);
    const names = new Set([basename(file), `${basename(file)}-wal`]);
    let watcher: ReturnType<typeof watch> | null = null;
    try {
      watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) onWrite();
      });
      state.healthy = true;
      watcher.on('error', () => {
        state.healthy = false;
        watcher?.close();
      });
    } catch {
      state.healthy = false;
    }
    return {
      get healthy() {
        return state.healthy;
      },
      close: async () => {
        state.healthy = false;
        watcher?.close();
      },
    };
  }

  /**
   * Wake-ups from writes of other processes on this host (new runs, cancels), from the watch of
   * the file: every handler is told "look now" (an empty job, an empty run id), at most once per
   * WAKE_SPACING_MS, and once more WAKE_RECHECK_MS later, since SQLite makes a commit visible
   * only after it wrote the log. Only commits of other connections count (`data_version`): the
   * store's own writes wake no claim and no read of cancels. The watch only speeds things up: it
   * never reports itself healthy, so the runtime keeps polling as often as without it (a watch
   * can miss writes on some file systems).
   */
  private listenForWrites(handlers: Parameters<StoreNotifications['listen']>[0]) {
    let last = 0;
    let timer: NodeJS.Timeout | null = null;
    let recheck: NodeJS.Timeout | null = null;
    const otherCommits = () => this.db.pragma('data_version', { simple: true }) as number;
    let seen = otherCommits();
    const tell = () => {
      last = Date.now();
      const version = otherCommits();
      if (version === seen) return;
      seen = version;
      handlers.runAvailable?.('');
      handlers.cancelRequested?.('', null);
    };
    const onWrite = () => {
      if (timer) return;
      const wait = last + WAKE_SPACING_MS - Date.now();
      timer = setTimeout(
        () => {
          timer = null;
          tell();
          if (recheck) clearTimeout(recheck);
          recheck = setTimeout(tell, WAKE_RECHECK_MS);
          recheck.unref();
        },
        Math.max(0, wait),
      );
      timer.unref();
    };
    const watch = this.watchWrites(onWrite);
    return async () => {
      if (timer) clearTimeout(timer);
      if (recheck) clearTimeout(recheck);
      await watch.close();
    };
  }

  async instanceBeat(params: { instance: InstanceInfo; now: StoreNow }): Promise<void> {
    this.write(() =>
      this.run('instanceBeat', { ...instanceBeatParams(params.instance), now: hostMs(params.now) }),
    );
  }

  async instanceList(params: { now: StoreNow }): Promise<InstanceStatus[]> {
    // One read transaction: the instances and their runs as of one moment.
    return this.db.transaction(() => {
      const rows = this.all<InstanceRow>('instanceList', {
        now: hostMs(params.now),
        lostAfterBeats: INSTANCE_LOST_AFTER_BEATS,
        removedAfterBeats: INSTANCE_REMOVED_AFTER_BEATS,
      });
      const runs = rows.length
        ? this.all<InstanceRunRow>('instanceRunList', {
            ids: JSON.stringify(rows.map((row) => row.id)),
          })
        : [];
      return instancesFromRows(rows, runs);
    })();
  }

  async instanceRemove(params: { id: string }): Promise<boolean> {
    return this.write(() => this.run('instanceRemove', params) > 0);
  }

  async instanceDeleteLost(params: { now: StoreNow }): Promise<number> {
    return this.write(() =>
      this.run('instanceDeleteLost', {
        now: hostMs(params.now),
        removedAfterBeats: INSTANCE_REMOVED_AFTER_BEATS,
      }),
    );
  }

  async jobStateList(): Promise<JobState[]> {
    return this.all<JobRow>('jobStateList').map(jobStateFromRow);
  }

  async jobStateSet(params: { name: string; enabled: boolean; now: Date }): Promise<JobState> {
    return this.write(() =>
      jobStateFromRow(
        this.get<JobRow>('jobStateSet', {
          name: params.name,
          enabled: params.enabled ? 1 : 0,
          now: params.now.getTime(),
        })!,
      ),
    );
  }
}

/** Sorts after every run id: the bound of a walk that has none. */
const NO_UPPER_ID = '~';
const MIN_LIST_BATCH = 100;
const MAX_LIST_BATCH = 20_000;
/** How far each candidate index of a list is counted to find the narrowest. */
const DRIVER_PROBE = 2_000;

/** An index a list may walk: the statement that reads its ids in order, and its parameters. */
interface ListDriver {
  name: string;
  params: Params;
}

/**
 * The indexes a list may walk for `filter`: the ids given; an equality filter's index yields
 * exactly its runs in id order; several unfinished statuses, or a window that ends, are few enough to sort; with none
 * of those, the newest runs first.
 */
function listDrivers(filter: RunFilter): ListDriver[] {
  if (filter.ids) return [{ name: 'runIdsInList', params: { ids: JSON.stringify(filter.ids) } }];
  const drivers: ListDriver[] = [];
  if (filter.parentId !== undefined)
    drivers.push({ name: 'runIdsOfParent', params: { parentId: filter.parentId } });
  if (filter.job !== undefined) drivers.push({ name: 'runIdsOfJob', params: { job: filter.job } });
  if (filter.createdBy !== undefined)
    drivers.push({ name: 'runIdsOfCreator', params: { createdBy: filter.createdBy } });
  const statuses = filter.status ?? [];
  const unfinished: readonly RunStatus[] = UNFINISHED_STATUSES;
  if (statuses.length === 1) {
    drivers.push({ name: 'runIdsInStatus', params: { status: statuses[0] } });
  } else if (statuses.length > 1 && statuses.every((status) => unfinished.includes(status))) {
    drivers.push({ name: 'runIdsInStatuses', params: { statuses: JSON.stringify(statuses) } });
  }
  if (filter.createdTo !== undefined) {
    drivers.push({
      name: 'runIdsCreatedWithin',
      params: {
        createdFrom: filter.createdFrom?.getTime() ?? 0,
        createdTo: filter.createdTo.getTime(),
      },
    });
  }
  return drivers.length > 0 ? drivers : [{ name: 'runIdsNewest', params: {} }];
}

/**
 * The time of a comparison: the caller's, else this host's clock. Every process sharing the file
 * is on this host, so this host's clock is the store's.
 */
function hostMs(now: StoreNow): number {
  return (now ?? systemClock.now()).getTime();
}

/** The database's own refusal of a transition becomes the typed error. */
function translateSqliteError(err: unknown): unknown {
  if (
    err instanceof Error &&
    err.message.includes('INVALID_TRANSITION') &&
    !(err instanceof JobdeckError)
  ) {
    return new JobdeckError(
      'INVALID_TRANSITION',
      'The database refused a status change outside the transition table.',
      {
        cause: err,
      },
    );
  }
  return err;
}
