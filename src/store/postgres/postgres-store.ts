import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { cancelAction } from '../../core/cancellation.js';
import { pauseAction } from '../../core/pause.js';
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
import { canTransition, type RunStatus } from '../../core/status.js';
import { compileNamedParams } from '../named-params.js';
import { loadMigrations, loadNamedQueries } from '../sql-files.js';
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
  logFromRow,
  runFromRow,
  runsNotInserted,
  insertManyAnswers,
  stepFromRow,
  stepParams,
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
  type AlertTaskRow,
  type CancelRow,
  type PauseRow,
  type EventRow,
  type InstanceRow,
  type InstanceRunRow,
  type ItemRow,
  type JobRow,
  type LogRow,
  type RunRow,
  type StatsRow,
  type UncancelledChildRow,
  uncancelledChild,
  type StepRow,
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
  StoreNotifications,
  StoreNow,
  UncancelledChild,
} from '../store.js';
import { claimIsCapped, claimRoom, finishOutcome, waitCounts } from '../store.js';
import { PoolGate } from './pool-gate.js';
import { PgListener, cancelPayload } from './listener.js';

const SQL_DIR = fileURLToPath(new URL('./sql/', import.meta.url));
const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/**
 * Statements planned for the values of each call instead of prepared once: which filters a list
 * gives changes which index serves it, and a plan made for absent filters would scan the table.
 */
const PLANNED_PER_CALL = new Set(['runListIds']);
/**
 * Statements that touch runs without changing a status or progress, so write no feed event: lease
 * renewals run on every heartbeat and must not wake every reader.
 */
const WRITES_NO_EVENTS = new Set(['leaseRenew', 'leaseRelease']);
const SQL = loadNamedQueries(SQL_DIR);
const compileQuery = (name: string, sql: string) => ({
  name: PLANNED_PER_CALL.has(name) ? undefined : `jobdeck_${name}`,
  /** It may write feed events (itself, or through triggers): readers are told once it commits. */
  writesEvents:
    !WRITES_NO_EVENTS.has(name) &&
    /\b(INSERT\s+INTO|UPDATE)\s+jobdeck_(runs|run_logs|jobs|events)\b/i.test(sql),
  ...compileNamedParams(sql),
});
const QUERIES = new Map([...SQL].map(([name, sql]) => [name, compileQuery(name, sql)]));

/**
 * The name of `name` with its `@limit` written in as a constant, prepared on first use. A prepared
 * statement's generic plan guesses a parameter limit at a tenth of the table, so PostgreSQL plans
 * such a statement anew on every call; with the limit known, it keeps one plan.
 */
function withLimit(name: string, limit: number): string {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`limit ${limit} is not a count`);
  const variant = `${name}_limit${limit}`;
  if (!QUERIES.has(variant))
    QUERIES.set(variant, compileQuery(variant, SQL.get(name)!.replaceAll('@limit', String(limit))));
  return variant;
}
/** The least time between two NOTIFYs of new events from one instance. */
const EVENTS_NOTIFY_SPACING_MS = 5;
/** More jobs due at once than this wake every worker with one empty payload. */
const MAX_WAKE_JOBS = 32;

/** Whom to wake after a commit: workers of these jobs, and feed readers when `events`. */
interface WakeUp {
  jobs?: string[];
  events?: boolean;
}

const OID = { int8: 20, json: 114, jsonb: 3802 } as const;

/** bigint (times in ms, counts) as numbers; json/jsonb as text, parsed by the row mapper like SQLite's. */
const TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) => {
    if (oid === OID.int8) return (value: string) => Number(value);
    if (oid === OID.json || oid === OID.jsonb) return (value: string) => value;
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};

/** How the PostgreSQL store connects: the server, its schema, the pool and its limits, notifications. */
export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db` */
  connectionString: string;
  /** A schema of its own (created by migrate); default `public`. Channels are named after it. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Push new runs and cancels with LISTEN/NOTIFY (default true). False: everyone polls. */
  notify?: boolean;
  /** How long opening a connection may take before failing (the API then answers 503). Default 3 s. */
  connectionTimeoutMs?: number;
  /**
   * Requests beyond the pool wait in order for a connection, at most this many (more are refused
   * at once with STORE_UNAVAILABLE, 503). Default 10,000.
   */
  maxWaiting?: number;
  /** How long a request may wait for a free connection before STORE_UNAVAILABLE. Default 10 s. */
  waitTimeoutMs?: number;
  /** Any one statement is cut after this long. Default 30 s. */
  statementTimeoutMs?: number;
  /** Shown as `application_name` in pg_stat_activity, so operators can tell Jobdeck's backends. Default `jobdeck`. */
  applicationName?: string;
  onError?: (err: unknown, where: string) => void;
}

type Params = Record<string, unknown>;
type Queryable = pg.Pool | pg.PoolClient;

const ADVISORY_MIGRATE = 0x6a6f6264; // 'jobd'
/** Idle time before TCP keepalive probes start on every connection. */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;
/** A claim slower than this suggests a plan without statistics. */
const SLOW_CLAIM_MS = 10;
const ANALYZE_EVERY_MS = 60_000;
/**
 * A missing seq that stays missing this long is taken as never written, even while an older
 * transaction (anyone's, on any database of the server) keeps the snapshot horizon from proving it.
 */
const STALE_GAP_MS = 5000;
/** Events per feed row at most: an event's number is its row's seq * this + its place in the row. */
const EVENTS_PER_ROW = 1024;
const rowOfEvent = (seq: number): number => Math.floor(seq / EVENTS_PER_ROW);

/**
 * The PostgreSQL store: many instances on many hosts. Claims with FOR UPDATE SKIP LOCKED, every
 * attempt write fenced by a conditional UPDATE, LISTEN/NOTIFY for new runs and cancels (with the
 * polling paths of the runtime as fallback), migrations under an advisory lock.
 */
export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly notifications?: StoreNotifications & { listener: PgListener };
  private readonly pool: pg.Pool;
  private readonly gate: PoolGate;
  /** Creates between their statement and its answer: a create alone wakes workers inline. */
  private insertsInFlight = 0;
  private readonly schema: string;
  private readonly runChannel: string;
  private readonly cancelChannel: string;
  private readonly eventsChannel: string;
  /** Wake-ups asked for by open transactions: sent after their commit, forgotten on rollback. */
  private readonly wakesAfterCommit = new WeakMap<pg.PoolClient, WakeUp>();
  /** Wake-ups waiting for the one in flight (see `wakeUp`). */
  private readonly wakes: {
    jobs: Set<string>;
    events: boolean;
    eventsAt: number;
    sending: boolean;
    timer: NodeJS.Timeout | null;
  } = { jobs: new Set(), events: false, eventsAt: 0, sending: false, timer: null };
  private closed = false;
  /** Every feed row up to this seq is either visible or known never to be. */
  private settledRow = 0;
  /** Missing feed rows being waited for: the first missing seq → the snapshot horizon when first seen. */
  private readonly gaps = new Map<number, { xmax: number; since: number }>();
  private readonly connection: pg.ClientConfig;
  private lastAnalyze = 0;

  constructor(private readonly options: PostgresStoreOptions) {
    this.schema = options.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema))
      throw new JobdeckError('INVALID_INPUT', `schema ${options.schema} is not a plain identifier`);
    const base = this.schema === 'public' ? 'jobdeck' : `jobdeck_${this.schema}`;
    this.runChannel = `${base}_run`;
    this.cancelChannel = `${base}_cancel`;
    this.eventsChannel = `${base}_events`;
    this.connection = {
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      options: `-c search_path=${this.schema}`,
      types: TYPES,
      // A peer gone without a word (half-open connection) is found in seconds, not the OS's 2 h.
      keepAlive: true,
      application_name: options.applicationName ?? 'jobdeck',
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
    };
    this.gate = new PoolGate({
      size: options.poolSize ?? 10,
      maxWaiting: options.maxWaiting ?? 10_000,
      waitMs: options.waitTimeoutMs ?? 10_000,
    });
    this.pool = new pg.Pool({
      ...this.connection,
      max: options.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
      // Idle connections do not keep the process alive: a script that stopped its instance exits.
      allowExitOnIdle: true,
    });
    // An idle client losing its connection must never take the process down.
    this.pool.on('error', (err) => options.onError?.(err, 'pool'));
    const push = options.notify ?? true;
    this.capabilities = { pushNotify: push, skipLocked: true, multiHost: true };
    if (push) {
      const listener = new PgListener({
        connection: this.connection,
        runChannel: this.runChannel,
        cancelChannel: this.cancelChannel,
        eventsChannel: this.eventsChannel,
        onError: (err) => options.onError?.(err, 'listener'),
      });
      this.notifications = {
        listener,
        listen: (handlers) => listener.subscribe(handlers),
        get healthy() {
          return listener.healthy;
        },
        get listening() {
          return listener.listening;
        },
      };
    }
  }

  private async execute<T>(
    name: string,
    params: Params,
    on: Queryable,
  ): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
    const query = QUERIES.get(name);
    if (!query) throw new Error(`no SQL named ${name}`);
    const release = on === this.pool ? await this.gate.acquire() : null;
    try {
      const result = await on.query<T & pg.QueryResultRow>({
        name: query.name,
        text: query.text,
        values: query.names.map((n) => params[n] ?? null),
      });
      if (query.writesEvents) this.wakeAfter(on, { events: true });
      return result;
    } catch (err) {
      throw this.failed(err);
    } finally {
      release?.();
    }
  }

  /** The error to throw for a driver failure; a database out of reach also fails the waiters. */
  private failed(err: unknown): unknown {
    const translated = translatePgError(err);
    if (isConnectFailure(err)) this.gate.refuseWaiting(asError(translated));
    return translated;
  }

  private async query<T>(
    name: string,
    params: Params = {},
    on: Queryable = this.pool,
  ): Promise<T[]> {
    return (await this.execute<T>(name, params, on)).rows;
  }

  /** Run a statement; the number of rows it changed. */
  private async run(name: string, params: Params = {}, on: Queryable = this.pool): Promise<number> {
    return (await this.execute(name, params, on)).rowCount ?? 0;
  }

  private async one<T>(
    name: string,
    params: Params = {},
    on: Queryable = this.pool,
  ): Promise<T | undefined> {
    return (await this.query<T>(name, params, on))[0];
  }

  /**
   * Borrow a pool client for several statements. While a client is borrowed the pool does not
   * listen for its errors, so this does, from the very callback that hands it over: a server
   * message ending the connection can arrive in the same socket read as the previous statement's
   * end, before any promise continuation could attach a listener. `release` destroys a client that
   * failed instead of returning it to the pool.
   */
  private async borrow(): Promise<{
    client: pg.PoolClient;
    broken: () => boolean;
    release: (failure?: unknown) => void;
  }> {
    const admitted = await this.gate.acquire();
    return new Promise((resolve, reject) => {
      this.pool.connect((err, client, done) => {
        if (err || !client) {
          admitted();
          return reject(asError(this.failed(err)));
        }
        let broken: Error | undefined;
        const onError = (error: Error) => {
          broken = error;
          this.options.onError?.(error, 'transaction');
        };
        client.on('error', onError);
        resolve({
          client,
          broken: () => broken !== undefined,
          release: (failure?: unknown) => {
            client.off('error', onError);
            done(broken ?? (failure === undefined ? undefined : asError(failure)));
            admitted();
          },
        });
      });
    });
  }

  /** Run `fn` in one transaction; retried on serialisation failures and deadlocks. */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const { client, broken, release } = await this.borrow();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        const wake = this.wakesAfterCommit.get(client);
        this.wakesAfterCommit.delete(client);
        if (wake) this.wakeUp(wake);
        release();
        return result;
      } catch (err) {
        this.wakesAfterCommit.delete(client);
        let rollbackFailure: unknown;
        if (!broken()) await client.query('ROLLBACK').catch((e: unknown) => (rollbackFailure = e));
        release(rollbackFailure);
        const code = (err as { code?: string }).code;
        if ((code === '40001' || code === '40P01') && attempt < 5) continue;
        throw translatePgError(err);
      }
    }
  }

  async migrate(): Promise<MigrationReport> {
    const migrations = loadMigrations(MIGRATIONS_DIR);
    const client = new pg.Client({ ...this.connection, options: undefined });
    // A connection lost while migrating fails the migration, never the process.
    client.on('error', (err) => this.options.onError?.(err, 'migrate'));
    try {
      await client.connect();
    } catch (err) {
      throw translatePgError(err);
    }
    try {
      // Several instances may start at once: one applies, the others wait, then find nothing to do.
      await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_MIGRATE]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.schema)}`);
      await client.query(`SET search_path TO ${pg.escapeIdentifier(this.schema)}`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS jobdeck_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const done = new Set(
        (
          await client.query<{ version: number }>('SELECT version FROM jobdeck_migrations')
        ).rows.map((r) => r.version),
      );
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO jobdeck_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied.push(`${String(m.version).padStart(4, '0')}_${m.name}`);
      }
      return { applied, current: migrations.at(-1)?.version ?? 0 };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_MIGRATE]).catch(() => {});
      await client.end();
    }
  }

  async ping(): Promise<void> {
    await this.one('ping');
  }

  async timeNow(): Promise<Date> {
    const row = await this.one<{ now: number }>('timeNow');
    return new Date(row!.now);
  }

  /** Wake others once what `on` wrote is committed: now on the pool, else at its commit. */
  private wakeAfter(on: Queryable, wake: WakeUp): void {
    if (on === this.pool) return this.wakeUp(wake);
    const client = on as pg.PoolClient;
    const pending = this.wakesAfterCommit.get(client) ?? { jobs: [] };
    pending.events ||= wake.events;
    pending.jobs!.push(...(wake.jobs ?? []));
    this.wakesAfterCommit.set(client, pending);
  }

  /**
   * Tell every instance that runs of these jobs are due (workers claim) or that events were
   * appended (feed readers read), after the writes committed. One statement is in flight at a
   * time and carries every wake-up asked for meanwhile; events alone go at least 5 ms apart. A
   * NOTIFY inside each writing transaction would queue their commits on the lock of the server's
   * notification queue: concurrent creates were barely faster than one at a time.
   */
  private wakeUp(wake: WakeUp): void {
    if (!this.capabilities.pushNotify || this.closed) return;
    const state = this.wakes;
    for (const job of wake.jobs ?? []) state.jobs.add(job);
    state.events ||= wake.events === true;
    this.sendWakeUps();
  }

  private sendWakeUps(): void {
    const state = this.wakes;
    if (state.sending || this.closed) return;
    if (state.jobs.size === 0) {
      if (!state.events || state.timer) return;
      const wait = state.eventsAt + EVENTS_NOTIFY_SPACING_MS - Date.now();
      if (wait > 0) {
        state.timer = setTimeout(() => {
          state.timer = null;
          this.sendWakeUps();
        }, wait);
        state.timer.unref();
        return;
      }
    }
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    // Many jobs at once: the empty payload wakes every worker.
    const jobs = state.jobs.size > MAX_WAKE_JOBS ? [''] : [...state.jobs];
    const events = state.events;
    state.jobs.clear();
    state.events = false;
    if (events) state.eventsAt = Date.now();
    state.sending = true;
    this.query('wakeUp', {
      runChannel: this.runChannel,
      jobs,
      eventsChannel: this.eventsChannel,
      events,
    })
      .catch((err: unknown) => {
        if (!this.closed) this.options.onError?.(err, 'notify');
      })
      .finally(() => {
        state.sending = false;
        this.sendWakeUps();
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.wakes.timer) clearTimeout(this.wakes.timer);
    await this.notifications?.listener.stop();
    await this.pool.end();
  }

  /** Drop the store's schema with everything in it; for tests. */
  async dropSchema(): Promise<void> {
    if (this.schema === 'public') throw new Error('refusing to drop the public schema');
    const release = await this.gate.acquire();
    try {
      await this.pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(this.schema)} CASCADE`);
    } finally {
      release();
    }
  }

  private async itemsOf(ids: string[], on: Queryable = this.pool): Promise<Map<string, RunItem[]>> {
    const byRun = new Map<string, RunItem[]>();
    if (ids.length === 0) return byRun;
    for (const row of await this.query<ItemRow>('itemList', { ids }, on)) {
      const list = byRun.get(row.run_id) ?? [];
      list.push(itemFromRow(row));
      byRun.set(row.run_id, list);
    }
    return byRun;
  }

  private async toRuns(rows: RunRow[], on: Queryable = this.pool): Promise<Run[]> {
    const items = await this.itemsOf(
      rows.map((r) => r.id),
      on,
    );
    return rows.map((row) => runFromRow(row, items.get(row.id) ?? []));
  }

  private async toRun(row: RunRow, on: Queryable = this.pool): Promise<Run> {
    return (await this.toRuns([row], on))[0]!;
  }

  async runInsert(params: RunInsertParams): Promise<{ run: Run; created: boolean }> {
    const values = {
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
    };
    const findByKey = async (on: Queryable) => {
      if (params.idempotencyKey === null) return null;
      const existing = await this.one<RunRow>('runFindByIdempotencyKey', values, on);
      return existing ? { run: await this.toRun(existing, on), created: false } : null;
    };
    const insert = async (on: Queryable) => {
      const known = await findByKey(on);
      if (known) return known;
      if (params.exclusive) {
        await this.query('runLockExclusive', values, on);
        // The run of a create that held the lock before us may carry our key: it is our answer.
        const knownAfterLock = await findByKey(on);
        if (knownAfterLock) return knownAfterLock;
        const counted = await this.one<{ n: number }>('runCountBlocking', values, on);
        if (counted!.n > 0)
          throw new JobdeckError('ALREADY_RUNNING', `Job ${params.job} already has an active run.`);
      }
      // Alone, a create wakes the workers in its own statement (one round trip, the quickest
      // pickup); among others it leaves that to the coalesced wake-up after its commit.
      const due = values.status === 'pending';
      const inline = due && on === this.pool && this.insertsInFlight === 0;
      this.insertsInFlight++;
      let row: RunRow | undefined;
      try {
        row = await this.one<RunRow>(
          inline ? 'runInsertNotify' : 'runInsert',
          { ...values, channel: this.runChannel },
          on,
        );
      } finally {
        this.insertsInFlight--;
      }
      if (row && due && !inline) this.wakeAfter(on, { jobs: [params.job] });
      if (!row) {
        // Another insert with the same key won the race: return its run.
        const existing = await this.one<RunRow>('runFindByIdempotencyKey', values, on);
        return { run: await this.toRun(existing!, on), created: false };
      }
      return { run: runFromRow(row, []), created: true };
    };
    return params.exclusive ? this.tx(insert) : insert(this.pool);
  }

  async runInsertMany(params: RunInsertManyParams): Promise<{ run: Run; created: boolean }[]> {
    const { runs } = params;
    if (runs.length === 0) return [];
    const now = params.now.getTime();
    const statuses = runs.map((run) => (run.runAt.getTime() > now ? 'scheduled' : 'pending'));
    let rows: RunRow[];
    // A create in flight: a single create meanwhile leaves its wake-up to the coalesced one.
    this.insertsInFlight++;
    try {
      rows = await this.query<RunRow>('runInsertMany', {
        now,
        ids: runs.map((run) => run.id),
        jobs: runs.map((run) => run.job),
        inputs: runs.map((run) => JSON.stringify(run.input ?? null)),
        statuses,
        maxAttempts: runs.map((run) => run.maxAttempts),
        priorities: runs.map((run) => run.priority),
        runAts: runs.map((run) => run.runAt.getTime()),
        createdBys: runs.map((run) => run.createdBy),
        triggers: runs.map((run) => run.trigger),
        idempotencyKeys: runs.map((run) => run.idempotencyKey),
        expireAts: runs.map((run) => run.expireAt?.getTime() ?? null),
        retentionMs: runs.map((run) => run.retentionMs),
        retryOfs: runs.map((run) => run.retryOf),
        parentIds: runs.map((run) => run.parentId ?? null),
      });
    } finally {
      this.insertsInFlight--;
    }
    // One wake-up for the call, after its commit, for the jobs with runs due now.
    const due = new Set(rows.filter((row) => row.status === 'pending').map((row) => row.job));
    if (due.size > 0) this.wakeAfter(this.pool, { jobs: [...due] });
    const missing = runsNotInserted(runs, rows);
    const found = missing.length
      ? await this.query<RunRow>('runFindByIdempotencyKeys', {
          jobs: missing.map((run) => run.job),
          createdBys: missing.map((run) => run.createdBy),
          idempotencyKeys: missing.map((run) => run.idempotencyKey),
        })
      : [];
    return insertManyAnswers(
      runs,
      rows.map((row) => runFromRow(row, [])),
      await this.toRuns(found),
    );
  }

  async runGet(params: { id: string }): Promise<Run | null> {
    const row = await this.one<RunRow>('runGet', params);
    return row ? this.toRun(row) : null;
  }

  async runList(params: RunListParams): Promise<{ runs: Run[]; nextCursor: string | null }> {
    const ids = await this.matchingIds(params, params.limit + 1, params.cursor ?? null);
    const page = ids.slice(0, params.limit);
    const rows = page.length ? await this.query<RunRow>('runGetMany', { ids: page }) : [];
    return {
      runs: await this.toRuns(rows),
      nextCursor: ids.length > params.limit ? page[page.length - 1]! : null,
    };
  }

  async runCount(params: RunCountParams): Promise<number> {
    return (await this.matchingIds(params, params.limit, null)).length;
  }

  /** Up to `limit` ids of runs that match `filter` and sort below `cursor`, newest first. */
  private async matchingIds(
    filter: RunFilter,
    limit: number,
    cursor: string | null,
  ): Promise<string[]> {
    if (limit <= 0) return [];
    const rows = await this.query<{ id: string }>('runListIds', {
      before: cursor,
      idPrefix: filter.idPrefix ?? null,
      idPrefixEnd: filter.idPrefix === undefined ? null : idPrefixEnd(filter.idPrefix),
      ids: filter.ids ?? null,
      job: filter.job ?? null,
      createdBy: filter.createdBy ?? null,
      parentId: filter.parentId ?? null,
      status: filter.status?.length === 1 ? filter.status[0] : null,
      statuses: filter.status && filter.status.length > 1 ? filter.status : null,
      createdFrom: filter.createdFrom?.getTime() ?? null,
      createdTo: filter.createdTo?.getTime() ?? null,
      limit,
    });
    return rows.map((row) => row.id);
  }

  async runStats(params: RunStatsParams): Promise<RunStats> {
    return this.tx(async (client) => {
      await this.query('runStatsSnapshot', {}, client);
      await this.query('runStatsWithoutJit', {}, client);
      const rows = await this.query<StatsRow>(
        'runStats',
        { from: params.from.getTime(), to: params.to.getTime(), bucketMs: params.bucketMs },
        client,
      );
      const oldestDue = await this.one<{ id: string; job: string; due_at: number }>(
        'runOldestDue',
        { now: params.now.getTime() },
        client,
      );
      return {
        buckets: rows.map(statsBucketFromRow),
        now: statsNow(await this.unfinishedCounts(client), oldestDue),
      };
    });
  }

  async runClaim(params: RunClaimParams): Promise<Run[]> {
    if (params.limit <= 0 || params.jobs.length === 0) return [];
    const now = databaseTime(params.now);
    if (!params.jobs.some(claimIsCapped)) {
      // No caps to count: one statement selects, locks and takes the runs.
      const started = Date.now();
      const claimed = await this.query<RunRow>(withLimit('runClaimSimple', params.limit), {
        workerId: params.workerId,
        leaseMs: params.leaseMs,
        now,
        jobs: params.jobs.map((j) => j.name),
      });
      this.refreshStatisticsIfSlow(Date.now() - started);
      return sortClaimed(claimed);
    }
    const rows = await this.tx(async (client) => {
      const disabled = new Set(
        (await this.query<{ name: string }>('jobDisabledNames', {}, client)).map((r) => r.name),
      );
      const jobs = params.jobs.filter((j) => !disabled.has(j.name));
      // Capped and rate-limited jobs are counted under the job's lock, so instances take turns.
      const locked = new Set<string>();
      for (const job of jobs
        .filter((j) => j.concurrency !== null || j.rateLimit)
        .sort((a, b) => a.name.localeCompare(b.name))) {
        const lock = await this.one<{ locked: boolean }>('jobTryLock', { job: job.name }, client);
        if (lock?.locked) locked.add(job.name);
      }
      const capped = jobs.filter((j) => j.concurrency !== null && locked.has(j.name));
      const active = new Map<string, number>();
      if (capped.length > 0) {
        const counts = await this.query<{ job: string; n: number }>(
          'runCountActiveByJob',
          { jobs: capped.map((j) => j.name), now },
          client,
        );
        for (const { job, n } of counts) active.set(job, n);
      }
      const started = new Map<string, number>();
      for (const j of jobs) {
        if (!j.rateLimit || !locked.has(j.name)) continue;
        const window = await this.one<{ n: number }>(
          'jobStartsInWindow',
          { job: j.name, perMs: j.rateLimit.perMs, now },
          client,
        );
        started.set(j.name, window?.n ?? 0);
      }
      const room = claimRoom(jobs, { active, started, counted: (job) => locked.has(job) });
      const chosen: string[] = [];
      let eligible = jobs.filter((j) => (room.get(j.name) ?? 1) > 0).map((j) => j.name);
      const seen = new Set<string>();
      while (chosen.length < params.limit && eligible.length > 0) {
        const candidates = await this.query<{ id: string; job: string }>(
          'runClaimCandidates',
          { now, jobs: eligible, limit: params.limit - chosen.length + seen.size },
          client,
        );
        let skipped = false;
        let fresh = 0;
        for (const candidate of candidates) {
          if (seen.has(candidate.id)) continue;
          seen.add(candidate.id);
          fresh++;
          const left = room.get(candidate.job);
          if (left !== undefined && left <= 0) {
            skipped = true;
            continue;
          }
          if (chosen.length >= params.limit) break;
          chosen.push(candidate.id);
          if (left !== undefined) room.set(candidate.job, left - 1);
        }
        if (!skipped || fresh === 0) break;
        eligible = eligible.filter((name) => (room.get(name) ?? 1) > 0);
      }
      if (chosen.length === 0) return [];
      const claimed = await this.query<RunRow>(
        'runClaim',
        { ids: chosen, workerId: params.workerId, leaseMs: params.leaseMs, now },
        client,
      );
      const retried = claimed.filter((r) => r.attempt > 1).map((r) => r.id);
      if (retried.length > 0) await this.query('itemClearForAttempt', { ids: retried }, client);
      const starts = claimed.filter((r) => started.has(r.job)).map((r) => r.id);
      if (starts.length > 0) await this.query('jobStartsRecord', { ids: starts }, client);
      return claimed;
    });
    return sortClaimed(rows);
  }

  /**
   * A claim reads a few rows in index order. Before the table's first ANALYZE (a new database that
   * just received many runs) the planner may sort every waiting run instead, on every claim: a slow
   * claim has the statistics refreshed at once rather than at autovacuum's next round.
   */
  private refreshStatisticsIfSlow(elapsedMs: number): void {
    if (elapsedMs < SLOW_CLAIM_MS || Date.now() - this.lastAnalyze < ANALYZE_EVERY_MS) return;
    this.lastAnalyze = Date.now();
    this.gate
      .acquire()
      .then((release) => this.pool.query('ANALYZE jobdeck_runs').finally(release))
      .catch((err: unknown) => this.options.onError?.(err, 'analyze'));
  }

  async runCancel(params: RunCancelParams): Promise<RunCancelResult> {
    return this.tx(async (client) => {
      const current = await this.one<RunRow>('runGetForUpdate', { id: params.id }, client);
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
      if (action === 'cancel-now') row = await this.one<RunRow>('runCancelNow', args, client);
      if (action === 'request') row = await this.one<RunRow>('runCancelRequest', args, client);
      if (action === 'force') {
        await this.query('itemCancelUnfinished', { runId: params.id }, client);
        row = await this.one<RunRow>('runCancelForce', args, client);
      }
      if (!row) throw new Error(`run ${params.id} changed under its row lock`);
      // Delivered at commit to the instance holding the run.
      if (action === 'request' || action === 'force') {
        const cancel = cancelFromRow(row);
        const payload = cancel
          ? cancelPayload({ id: row.id, attempt: row.attempt, cancel })
          : row.id;
        await this.query('runNotifyCancel', { channel: this.cancelChannel, payload }, client);
      }
      return { run: await this.toRun(row, client), action };
    });
  }

  async runPause(params: RunPauseParams): Promise<RunPauseResult> {
    return this.tx(async (client) => {
      const current = await this.one<RunRow>('runGetForUpdate', { id: params.id }, client);
      if (!current) throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${params.id}.`);
      const action = pauseAction(current.status as RunStatus);
      const args = {
        id: params.id,
        expected: current.status,
        requestedBy: params.requestedBy,
        now: params.now.getTime(),
      };
      let row: RunRow | undefined = current;
      if (action === 'hold-now') row = await this.one<RunRow>('runPauseNow', args, client);
      if (action === 'request') row = await this.one<RunRow>('runPauseRequest', args, client);
      if (!row) throw new Error(`run ${params.id} changed under its row lock`);
      return { run: await this.toRun(row, client), action };
    });
  }

  async runResume(params: { id: string; now: Date }): Promise<Run> {
    const row = await this.one<RunRow>('runResume', { id: params.id, now: params.now.getTime() });
    if (!row) throw resumeRefused(params.id, await this.one<RunRow>('runGet', { id: params.id }));
    // A wake-up: the resumed run is due now.
    await this.query('runNotifyAvailable', { channel: this.runChannel, job: row.job });
    return this.toRun(row);
  }

  async runFinishIfAttempt(params: RunFinishParams): Promise<Run> {
    const { ref } = params;
    const now = params.now.getTime();
    return this.tx(async (client) => {
      const fence = await this.one<{ status: RunStatus }>('runFenceCheck', { ...ref }, client);
      if (!fence) throw leaseLost(ref);
      const outcome = finishOutcome(fence.status, params.outcome);
      const target: RunStatus = outcome.status;
      if (!canTransition(fence.status, target)) {
        throw new JobdeckError(
          'INVALID_TRANSITION',
          `A ${fence.status} run cannot become ${target}.`,
        );
      }
      const key = { id: ref.id, attempt: ref.attempt, workerId: ref.workerId, now };
      let row: RunRow | undefined;
      switch (outcome.status) {
        case 'completed':
        case 'partial':
          await this.query('itemCancelUnfinished', { runId: ref.id }, client);
          row = await this.one(
            'runFinish',
            { ...key, status: outcome.status, result: toJson(outcome.result), error: null },
            client,
          );
          break;
        case 'failed':
          await this.query('itemCancelUnfinished', { runId: ref.id }, client);
          row = await this.one(
            'runFinish',
            {
              ...key,
              status: 'failed',
              result: toJson(outcome.result),
              error: toJson(outcome.error),
            },
            client,
          );
          break;
        case 'cancelled':
          await this.query('itemCancelUnfinished', { runId: ref.id }, client);
          row = await this.one(
            'runFinishCancelled',
            { ...key, result: toJson(outcome.result) },
            client,
          );
          break;
        case 'scheduled':
          row = await this.one(
            'runRetryLater',
            { ...key, runAt: outcome.runAt.getTime(), error: toJson(outcome.error) },
            client,
          );
          break;
        case 'pending':
          row = await this.one('runRelease', key, client);
          break;
        case 'paused':
          row = await this.one('runPauseAttempt', key, client);
          break;
        case 'waiting': {
          const marked = await this.query<{ id: string; status: RunStatus; awaited: boolean }>(
            'runWaitMark',
            { id: ref.id, children: outcome.children },
            client,
          );
          const wait = waitCounts(outcome.children, marked);
          row = await this.one('runWaitAttempt', { ...key, ...wait }, client);
          break;
        }
      }
      if (!row) throw leaseLost(ref);
      // Given back (a release, a wait already over): due now, so the workers are woken.
      if (row.status === 'pending')
        await this.query('runNotifyAvailable', { channel: this.runChannel, job: row.job }, client);
      return this.toRun(row, client);
    });
  }

  async runCompleteMany(params: {
    now: Date;
    runs: { ref: AttemptRef; result: unknown }[];
  }): Promise<(Run | null)[]> {
    if (params.runs.length === 0) return [];
    const rows = await this.query<RunRow>('runCompleteMany', {
      now: params.now.getTime(),
      ids: params.runs.map((r) => r.ref.id),
      attempts: params.runs.map((r) => r.ref.attempt),
      workers: params.runs.map((r) => r.ref.workerId),
      results: params.runs.map((r) => toJson(r.result)),
    });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return params.runs.map(({ ref }) => {
      const row = byId.get(ref.id);
      return row ? runFromRow(row, []) : null;
    });
  }

  async runProgressSet(params: {
    ref: AttemptRef;
    progress: RunProgress;
    now: Date;
  }): Promise<void> {
    const changed = await this.run('runProgressSet', {
      ...params.ref,
      progress: JSON.stringify(params.progress),
    });
    if (changed === 0) throw leaseLost(params.ref);
  }

  async runListCancelRequested(params: {
    workerId: string;
    ids: string[];
  }): Promise<CancelRequest[]> {
    if (params.ids.length === 0) return [];
    const rows = await this.query<CancelRow>('runListCancelRequested', params);
    return rows.map((row) => ({ id: row.id, attempt: row.attempt, cancel: cancelFromRow(row)! }));
  }

  async leaseRenew(params: LeaseRenewParams): Promise<LeaseRenewal[]> {
    if (params.runs.length === 0) return [];
    const renewed = await this.query<CancelRow & PauseRow & { status: RunStatus }>('leaseRenew', {
      ids: params.runs.map((r) => r.id),
      attempts: params.runs.map((r) => r.attempt),
      workerId: params.workerId,
      leaseMs: params.leaseMs,
      now: databaseTime(params.now),
    });
    const held = new Map(renewed.map((r) => [r.id, r]));
    const missing = params.runs.filter((r) => !held.has(r.id));
    const lookedUp = missing.length
      ? new Map(
          (
            await this.query<CancelRow & { worker_id: string | null }>('leaseLookup', {
              ids: missing.map((r) => r.id),
            })
          ).map((r) => [r.id, r]),
        )
      : new Map<string, CancelRow & { worker_id: string | null }>();
    return params.runs.map((run) => {
      const row = held.get(run.id);
      if (row && row.attempt === run.attempt) return renewalFromRow(row);
      const other = lookedUp.get(run.id);
      // A force-cancelled run of this very attempt is no longer held, but its cancel must still reach the handler.
      const sameAttempt =
        other !== undefined && other.attempt === run.attempt && other.worker_id === params.workerId;
      return {
        id: run.id,
        attempt: run.attempt,
        held: false,
        cancel: sameAttempt ? cancelFromRow(other) : null,
        pause: null,
      };
    });
  }

  async leaseRelease(params: { ref: AttemptRef }): Promise<void> {
    if ((await this.run('leaseRelease', { ...params.ref })) === 0) throw leaseLost(params.ref);
  }

  async stepList(params: { runId: string; last?: number }): Promise<StoredStep[]> {
    const rows =
      params.last === undefined
        ? await this.query<StepRow>('stepList', { runId: params.runId })
        : await this.query<StepRow>('stepListLast', { runId: params.runId, last: params.last });
    return rows.map(stepFromRow);
  }

  async stepSave(params: { ref: AttemptRef; step: StoredStep }): Promise<void> {
    const row = await this.one<{ held: number }>('stepSave', stepParams(params.ref, params.step));
    if (!row?.held) throw leaseLost(params.ref);
  }

  async itemsUpsert(params: { ref: AttemptRef; items: RunItem[] }): Promise<void> {
    if (params.items.length === 0) return;
    const row = await this.one<{ held: number }>('itemUpsert', {
      runId: params.ref.id,
      attempt: params.ref.attempt,
      workerId: params.ref.workerId,
      keys: params.items.map((i) => i.key),
      statuses: params.items.map((i) => i.status),
      errors: params.items.map((i) => toJson(i.error)),
    });
    if (!row?.held) throw leaseLost(params.ref);
  }

  async logAppend(params: {
    runId: string;
    ref?: AttemptRef;
    entries: LogEntry[];
    cap: number;
  }): Promise<StoredLogEntry[]> {
    if (params.entries.length === 0) return [];
    const row = await this.one<{ log_seq: number }>('logAppend', {
      runId: params.runId,
      attempt: params.ref?.attempt ?? null,
      workerId: params.ref?.workerId ?? null,
      count: params.entries.length,
      cap: params.cap,
      levels: params.entries.map((e) => e.level),
      messages: params.entries.map((e) => e.message),
      datas: params.entries.map((e) => toJson(e.data)),
      times: params.entries.map((e) => e.time.getTime()),
    });
    if (!row) {
      if (params.ref && (await this.one('runExists', { runId: params.runId })))
        throw leaseLost(params.ref);
      throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${params.runId}.`);
    }
    if (params.entries.length > params.cap)
      await this.query('logTrim', { runId: params.runId, keepAfter: row.log_seq - params.cap });
    const first = row.log_seq - params.entries.length + 1;
    const stored = params.entries.map((entry, index) => ({
      ...entry,
      runId: params.runId,
      seq: first + index,
    }));
    return stored.slice(-params.cap);
  }

  async logList(params: {
    runId: string;
    afterSeq?: number;
    limit?: number;
  }): Promise<StoredLogEntry[]> {
    const rows = await this.query<LogRow>('logList', {
      runId: params.runId,
      afterSeq: params.afterSeq ?? 0,
      limit: params.limit ?? 1000,
    });
    return rows.map(logFromRow);
  }

  async runRescueExpired(params: { now: StoreNow }): Promise<Run[]> {
    const now = databaseTime(params.now);
    return this.tx(async (client) => {
      const rescued: RunRow[] = [];
      for (const row of await this.query<RunRow>('runListExpiredLeases', { now }, client)) {
        const key = { id: row.id, attempt: row.attempt, now };
        const error = toJson(workerLost(row.worker_id));
        let updated: RunRow | undefined;
        if (row.status === 'cancelling') {
          await this.query('itemCancelUnfinished', { runId: row.id }, client);
          updated = await this.one('runRescueCancelled', { ...key, error }, client);
        } else if (row.pause_requested_at !== null) {
          updated = await this.one('runRescuePaused', { ...key, error }, client);
        } else if (row.attempt < row.max_attempts) {
          updated = await this.one('runRescueRetry', { ...key, error }, client);
        } else {
          await this.query('itemCancelUnfinished', { runId: row.id }, client);
          updated = await this.one('runRescueFail', { ...key, error }, client);
        }
        if (updated) rescued.push(updated);
      }
      return this.toRuns(rescued, client);
    });
  }

  async runExpireUnstarted(params: { now: StoreNow }): Promise<Run[]> {
    return this.toRuns(
      await this.query<RunRow>('runExpireUnstarted', { now: databaseTime(params.now) }),
    );
  }

  async runPromoteDue(params: { now: StoreNow }): Promise<number> {
    const promoted = await this.run('runPromoteDue', { now: databaseTime(params.now) });
    if (promoted > 0) await this.query('runNotifyAvailable', { channel: this.runChannel, job: '' });
    return promoted;
  }

  async runDeleteFinished(params: { now: StoreNow; limit: number }): Promise<number> {
    return this.run('runDeleteFinished', { now: databaseTime(params.now), limit: params.limit });
  }

  async runListUncancelledChildren(params: { limit: number }): Promise<UncancelledChild[]> {
    const rows = await this.query<UncancelledChildRow>('runListUncancelledChildren', params);
    return rows.map(uncancelledChild);
  }

  async runCountUnfinished(): Promise<Partial<Record<RunStatus, number>>> {
    return this.unfinishedCounts();
  }

  private async unfinishedCounts(
    on: Queryable = this.pool,
  ): Promise<Partial<Record<RunStatus, number>>> {
    const counts: Partial<Record<RunStatus, number>> = {};
    for (const row of await this.query<{ status: RunStatus; n: number }>(
      'runCountUnfinished',
      {},
      on,
    ))
      counts[row.status] = row.n;
    return counts;
  }

  async runMarkStuck(params: RunMarkStuckParams): Promise<Run[]> {
    const rows = await this.query<RunRow>('runMarkStuck', {
      now: databaseTime(params.now),
      defaultAfterMs: params.defaultAfterMs,
      jobs: params.jobs.map((j) => j.name),
      afterMs: params.jobs.map((j) => j.afterMs),
      limit: params.limit,
    });
    return this.toRuns(rows);
  }

  async runOldestDueByJob(params: {
    dueBefore: Date;
  }): Promise<{ job: string; id: string; dueAt: Date }[]> {
    const rows = await this.query<{ job: string; id: string; due_at: number }>(
      'runOldestDueByJob',
      { dueBefore: params.dueBefore.getTime() },
    );
    return rows.map((row) => ({ job: row.job, id: row.id, dueAt: new Date(Number(row.due_at)) }));
  }

  async alertInsert(
    params: AlertInsertParams,
  ): Promise<{ created: boolean; alert: AlertRecord | null }> {
    return this.tx(async (client) => {
      const row = await this.one<AlertRow>(
        'alertInsert',
        {
          id: params.id,
          rule: params.rule,
          key: params.key,
          event: params.event,
          job: params.job,
          runId: params.runId,
          severity: params.severity,
          message: params.message,
          payload: JSON.stringify(params.payload ?? null),
          now: databaseTime(params.now),
        },
        client,
      );
      if (!row) return { created: false, alert: null };
      const at = Number(row.created_at);
      const claimed = await this.one(
        'alertCooldownClaim',
        { rule: params.rule, job: params.job, at, cooldownMs: params.cooldownMs },
        client,
      );
      if (claimed && params.channels.length > 0)
        await this.run(
          'alertDeliveryInsert',
          { id: row.id, at, channels: params.channels },
          client,
        );
      else await this.run('alertSuppress', { id: row.id }, client);
      const deliveries = await this.query<AlertDeliveryRow>(
        'alertDeliveryList',
        { ids: [row.id] },
        client,
      );
      const suppressed = !(claimed && params.channels.length > 0);
      return { created: true, alert: alertsFromRows([{ ...row, suppressed }], deliveries)[0]! };
    });
  }

  async alertList(params: { limit: number; before?: string | null }): Promise<AlertRecord[]> {
    const rows = await this.query<AlertRow>('alertList', {
      before: params.before ?? null,
      limit: params.limit,
    });
    const deliveries = rows.length
      ? await this.query<AlertDeliveryRow>('alertDeliveryList', { ids: rows.map((row) => row.id) })
      : [];
    return alertsFromRows(rows, deliveries);
  }

  async alertDeliveryClaim(params: AlertDeliveryClaimParams): Promise<AlertDeliveryTask[]> {
    if (params.channels.length === 0 || params.limit <= 0) return [];
    const rows = await this.query<AlertTaskRow>('alertDeliveryClaim', {
      owner: params.owner,
      channels: params.channels,
      now: databaseTime(params.now),
      leaseMs: params.leaseMs,
      limit: params.limit,
    });
    return rows.map(alertTaskFromRow);
  }

  async alertDeliveryRecord(params: AlertDeliveryRecordParams): Promise<boolean> {
    const { outcome } = params;
    const changed = await this.run('alertDeliveryRecord', {
      alertId: params.alertId,
      channel: params.channel,
      owner: params.owner,
      attempt: attemptJson(params.attempt),
      status: outcome.status === 'retry' ? 'pending' : outcome.status,
      retryInMs: outcome.status === 'retry' ? outcome.retryInMs : null,
      now: databaseTime(params.now),
    });
    return changed > 0;
  }

  async alertDeleteExpired(params: {
    now: StoreNow;
    retentionMs: number;
    limit: number;
  }): Promise<number> {
    return this.run('alertDeleteExpired', {
      now: databaseTime(params.now),
      retentionMs: params.retentionMs,
      limit: params.limit,
    });
  }

  /**
   * The feed stores a statement's events in one row (see migration 0009): row seqs are taken
   * before commit, so a transaction may commit row 9 after another's row 10 is visible. A missing
   * row is waited for until every transaction that was open when it was first seen has ended (the
   * snapshot's xmin passed the xmax seen then): by then it is visible, or it was rolled back and
   * never will be. Events past a missing row are held back meanwhile.
   */
  async eventList(params: { afterSeq: number; limit: number }): Promise<EventPage> {
    const rows = await this.query<
      EventRow & {
        row_seq: number;
        snapshot_xmin: number;
        snapshot_xmax: number;
        pruned_seq: number;
      }
    >('eventList', params);
    const events = [];
    // The row holding afterSeq has been read whole or in part: it is visible.
    const afterRow = rowOfEvent(params.afterSeq);
    let expected = afterRow + 1;
    let waiting = false;
    for (const row of rows) {
      const rowSeq = Number(row.row_seq);
      // Rows retention removed are gone for good: no wait for them.
      const firstMissing = Math.max(
        expected,
        this.settledRow + 1,
        rowOfEvent(Number(row.pruned_seq)) + 1,
      );
      if (rowSeq > firstMissing) {
        const now = Date.now();
        const gap = this.gaps.get(firstMissing);
        if (!gap) {
          this.gaps.set(firstMissing, { xmax: row.snapshot_xmax, since: now });
          waiting = true;
          break;
        }
        if (row.snapshot_xmin < gap.xmax && now - gap.since < STALE_GAP_MS) {
          waiting = true;
          break;
        }
        this.gaps.delete(firstMissing);
      }
      events.push(eventFromRow(row));
      // The events of one row come together: the next row expected is the one after this.
      expected = Math.max(expected, rowSeq + 1);
    }
    if (afterRow <= this.settledRow && expected - 1 > this.settledRow)
      this.settledRow = expected - 1;
    // Passed: visible now, or given up on.
    for (const first of this.gaps.keys()) if (first < expected) this.gaps.delete(first);
    return { events, waiting };
  }

  async eventBounds(): Promise<{ last: number; pruned: number }> {
    const row = await this.one<{ last: number; pruned: number }>('eventBounds');
    return { last: Number(row!.last), pruned: Number(row!.pruned) };
  }

  async eventDeleteExpired(params: {
    now: StoreNow;
    retentionMs: number;
    limit: number;
  }): Promise<number> {
    const row = await this.one<{ n: number }>('eventDeleteExpired', {
      now: databaseTime(params.now),
      retentionMs: params.retentionMs,
      limit: params.limit,
    });
    return row!.n;
  }

  async eventWatch(onAppended: () => void): Promise<EventWatch> {
    const listener = this.notifications?.listener;
    if (!listener) return { healthy: false, close: async () => {} };
    const unsubscribe = await listener.subscribe({ eventsAppended: onAppended });
    return {
      get healthy() {
        return listener.healthy;
      },
      close: unsubscribe,
    };
  }

  async instanceBeat(params: { instance: InstanceInfo; now: StoreNow }): Promise<void> {
    await this.run('instanceBeat', {
      ...instanceBeatParams(params.instance),
      now: databaseTime(params.now),
    });
  }

  async instanceList(params: { now: StoreNow }): Promise<InstanceStatus[]> {
    const rows = await this.query<InstanceRow>('instanceList', {
      now: databaseTime(params.now),
      lostAfterBeats: INSTANCE_LOST_AFTER_BEATS,
      removedAfterBeats: INSTANCE_REMOVED_AFTER_BEATS,
    });
    const runs = rows.length
      ? await this.query<InstanceRunRow>('instanceRunList', { ids: rows.map((row) => row.id) })
      : [];
    return instancesFromRows(rows, runs);
  }

  async instanceRemove(params: { id: string }): Promise<boolean> {
    return (await this.run('instanceRemove', params)) > 0;
  }

  async instanceDeleteLost(params: { now: StoreNow }): Promise<number> {
    return this.run('instanceDeleteLost', {
      now: databaseTime(params.now),
      removedAfterBeats: INSTANCE_REMOVED_AFTER_BEATS,
    });
  }

  async jobStateList(): Promise<JobState[]> {
    return (await this.query<JobRow>('jobStateList')).map(jobStateFromRow);
  }

  async jobStateSet(params: { name: string; enabled: boolean; now: Date }): Promise<JobState> {
    return jobStateFromRow(
      (await this.one<JobRow>('jobStateSet', {
        name: params.name,
        enabled: params.enabled,
        now: params.now.getTime(),
      }))!,
    );
  }
}

/**
 * The time of a comparison as the SQL takes it (`jobdeck_now_ms(@now)`): the caller's, or null
 * for the database's own clock, so instances on hosts whose clocks differ agree.
 */
function databaseTime(now: StoreNow): number | null {
  return now?.getTime() ?? null;
}

/** Claimed runs in the order of the claim: priority, runAt, id. */
function sortClaimed(rows: RunRow[]): Run[] {
  return rows
    .sort(
      (a, b) =>
        b.priority - a.priority || Number(a.run_at) - Number(b.run_at) || a.id.localeCompare(b.id),
    )
    .map((row) => runFromRow(row, []));
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** SQLSTATE classes and socket codes that mean the database cannot be reached or used right now. */
const UNAVAILABLE_CODES = new Set([
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '57P01', // admin_shutdown (pg_terminate_backend, server stopping)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '57014', // query_canceled (statement timeout)
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** pg's own errors for a lost or unobtainable connection carry no code, only these messages. */
/** Failures to open a connection (not of a statement on an open one): the database is out of reach. */
function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string')
    return ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', '57P03'].includes(code);
  return /timeout exceeded when trying to connect|due to connection timeout/i.test(
    err instanceof Error ? err.message : String(err),
  );
}

const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|Connection ended unexpectedly/i;

/**
 * Driver errors become the typed errors of the seam: a lost or refused connection is
 * STORE_UNAVAILABLE (503); a value the database cannot hold (a NUL character, an unpaired
 * surrogate, an invalid escape) is INVALID_INPUT (400); the database's refusal of a transition is
 * INVALID_TRANSITION. Anything else passes through as a bug.
 */
function translatePgError(err: unknown): unknown {
  if (err instanceof JobdeckError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'JD001') {
    return new JobdeckError(
      'INVALID_TRANSITION',
      'The database refused a status change outside the transition table.',
      { cause: err },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  if (
    (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) ||
    (code === undefined && UNAVAILABLE_MESSAGES.test(message))
  ) {
    // The driver's text stays in `cause` for the logs; callers learn only that the store is down.
    return new JobdeckError('STORE_UNAVAILABLE', undefined, { cause: err });
  }
  if (typeof code === 'string' && code.startsWith('22')) {
    return new JobdeckError(
      'INVALID_INPUT',
      'A value cannot be stored: text may not contain U+0000 or unpaired surrogates.',
      { cause: err },
    );
  }
  return err;
}
