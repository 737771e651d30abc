import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import { Jobdeck } from '../../src/jobdeck.js';
import { CREATE_MANY_CHUNK } from '../../src/runs/service.js';
import type { Principal } from '../../src/core/glossary.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { newRunId } from '../../src/core/ids.js';
import { compileNamedParams } from '../../src/store/named-params.js';
import { loadNamedQueries } from '../../src/store/sql-files.js';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { PG_URL } from '../lib/env.js';
import type {
  Adapter,
  AdapterConfig,
  CancelOutcome,
  Handler,
  Payload,
  RunningWorker,
  StartWorkerOptions,
} from './types.js';

export const BENCH_JOB = 'bench.noop';
const ADMIN: Principal = { name: 'bench-admin', role: 'admin' };

/** The batched mode's prefetch: as many runs as graphile-worker's recommended local queue. */
const PREFETCH = 500;

/**
 * Jobdeck through its public library API: `deck.runs.create` to enqueue, a `Jobdeck` instance with
 * a worker to execute, `deck.cancels.cancel(id, { mode: 'force' })` to stop. Every option is the
 * default (worker concurrency aside, and `prefetch` in the batched mode).
 */
export class JobdeckAdapter implements Adapter {
  readonly system: 'jobdeck-sqlite' | 'jobdeck-pg';
  readonly backend: 'SQLite' | 'PostgreSQL';
  readonly bulkNote = `deck.runs.createMany (one INSERT and one transaction per ${CREATE_MANY_CHUNK} runs)`;
  readonly batchedMode = `worker prefetch: up to ${PREFETCH} runs claimed ahead of free slots`;
  readonly cancelSupport = {
    inProcess: "deck.cancels.cancel(id, { mode: 'force' }) in the worker's instance (event bus)",
    crossProcess:
      "deck.cancels.cancel(id, { mode: 'force' }) from a second instance (worker: false) on the same database",
  };
  private store: Store | null = null;
  private deck: Jobdeck | null = null;
  private handler: Handler | null = null;
  private readonly path: string;
  private readonly schema: string;
  readonly withoutEventFeed?: () => Promise<void>;

  constructor(private readonly config: AdapterConfig) {
    if (config.system !== 'jobdeck-sqlite' && config.system !== 'jobdeck-pg')
      throw new Error(`not a Jobdeck system: ${config.system}`);
    this.system = config.system;
    this.backend = config.system === 'jobdeck-sqlite' ? 'SQLite' : 'PostgreSQL';
    this.path = join(config.dir, `jobdeck-${config.namespace}.db`);
    this.schema = `bench_jd_${config.namespace}`;
    if (config.system === 'jobdeck-pg') this.withoutEventFeed = () => this.disableEventTriggers();
  }

  settings(): Record<string, unknown> {
    const common = {
      job: `${BENCH_JOB} (zod input schema { i, ms? }, inline isolation, maxAttempts 3)`,
      worker:
        'new Jobdeck({ store, jobs, worker: { concurrency } }); defaults: pollMs 250, leaseMs 6000, heartbeatMs 1000, cancelPollMs 250',
      producer:
        'deck.runs.create (bulk: deck.runs.createMany) with an admin principal; enqueue before a worker starts goes through an instance with worker: false',
      maintenance: 'default (rescue every 1 s)',
    };
    return this.system === 'jobdeck-sqlite'
      ? { ...common, store: 'SqliteStore on a temp file (WAL, synchronous=NORMAL: the defaults)' }
      : {
          ...common,
          store:
            'PostgresStore in a fresh schema per repeat; poolSize 10, notify true (LISTEN/NOTIFY), statement timeout 30 s (defaults)',
          seed: "throughput set-up: the store's runInsert statement per run in one transaction (untimed)",
        };
  }

  private job() {
    return defineJob({
      name: BENCH_JOB,
      input: z.object({ i: z.number(), ms: z.number().optional() }),
      run: async (ctx, input) => {
        const handler = this.handler;
        if (handler) await handler({ id: ctx.run.id, data: input, signal: ctx.signal });
        return null;
      },
    });
  }

  private async openDeck(worker: StartWorkerOptions | null): Promise<Jobdeck> {
    const deck = new Jobdeck({
      store: this.store!,
      jobs: [this.job()],
      worker: worker
        ? { concurrency: worker.concurrency, ...(worker.batched ? { prefetch: PREFETCH } : {}) }
        : false,
      scheduler: false,
      // An instance without a worker here only creates and cancels; the worker's instance rescues.
      ...(worker ? {} : { maintenance: false as const }),
      onError: (err, where) => {
        if (process.env.BENCH_DEBUG) console.error(`[${this.system}] ${where}:`, err);
      },
    });
    return deck.start();
  }

  async setup({ fresh }: { fresh: boolean }): Promise<void> {
    if (this.system === 'jobdeck-sqlite') {
      if (fresh)
        for (const suffix of ['', '-wal', '-shm']) rmSync(this.path + suffix, { force: true });
      this.store = new SqliteStore({ path: this.path });
    } else {
      const store = new PostgresStore({ connectionString: PG_URL, schema: this.schema });
      if (fresh) await store.dropSchema();
      this.store = store;
    }
    this.deck = await this.openDeck(null);
  }

  async enqueue(data: Payload): Promise<string> {
    const { run } = await this.deck!.runs.create({ job: BENCH_JOB, input: data, principal: ADMIN });
    return run.id;
  }

  async enqueueBulk(data: Payload[]): Promise<string[]> {
    const results = await this.deck!.runs.createMany(
      data.map((input) => ({ job: BENCH_JOB, input })),
      { principal: ADMIN },
    );
    return results.map((result) => {
      if ('error' in result) throw new Error(`${result.error.code}: ${result.error.message}`);
      return result.run.id;
    });
  }

  /**
   * The throughput workload's set-up on PostgreSQL: the store's own runInsert statement, for every
   * run, in one transaction (one commit instead of one per run); on SQLite, enqueueBulk.
   */
  async seed(data: Payload[]): Promise<void> {
    if (this.system === 'jobdeck-sqlite') {
      await this.enqueueBulk(data);
      return;
    }
    const sql = loadNamedQueries(
      fileURLToPath(new URL('../../src/store/postgres/sql/', import.meta.url)),
    ).get('runInsert');
    if (!sql) throw new Error('no runInsert statement in the PostgreSQL store');
    const { text, names } = compileNamedParams(sql);
    const client = new pg.Client({
      connectionString: PG_URL,
      options: `-c search_path=${this.schema}`,
    });
    await client.connect();
    try {
      await client.query('BEGIN');
      const now = Date.now();
      const job = this.job();
      for (const input of data) {
        const values: Record<string, unknown> = {
          id: newRunId(),
          job: BENCH_JOB,
          input: JSON.stringify(input),
          status: 'pending',
          maxAttempts: job.maxAttempts,
          priority: job.priority,
          runAt: now,
          now,
          createdBy: ADMIN.name,
          trigger: 'api',
          idempotencyKey: null,
          expireAt: null,
          retentionMs: job.retentionMs,
          retryOf: null,
        };
        await client.query({ name: 'seed', text, values: names.map((n) => values[n] ?? null) });
      }
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }

  /** The event triggers of the runs table off, in this schema only (PostgreSQL). */
  private async disableEventTriggers(): Promise<void> {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const table = `${pg.escapeIdentifier(this.schema)}.jobdeck_runs`;
      for (const trigger of ['jobdeck_runs_changed', 'jobdeck_runs_created'])
        await client.query(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
    } finally {
      await client.end();
    }
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    this.handler = options.handler;
    await this.deck!.stop();
    this.deck = await this.openDeck(options);
    return {
      stop: async () => {
        await this.deck!.stop({ graceMs: 1000 });
        this.handler = null;
        this.deck = await this.openDeck(null);
      },
    };
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const { action, run } = await this.deck!.cancels.cancel(
      id,
      { mode: 'force', reason: 'bench' },
      ADMIN,
    );
    return { accepted: true, detail: `${action}; run ${run.status}` };
  }

  async state(id: string): Promise<string> {
    return (await this.store!.runGet({ id }))?.status ?? 'missing';
  }

  async unfinished(): Promise<number> {
    const counts = await this.store!.runCountUnfinished();
    return Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  }

  async teardown({ drop }: { drop: boolean }): Promise<void> {
    await this.deck?.stop({ graceMs: 1000 });
    if (drop && this.store instanceof PostgresStore) await this.store.dropSchema().catch(() => {});
    await this.store?.close();
    if (drop && this.system === 'jobdeck-sqlite')
      for (const suffix of ['', '-wal', '-shm']) rmSync(this.path + suffix, { force: true });
    this.deck = null;
    this.store = null;
  }
}
