import PgBoss from 'pg-boss';
import pg from 'pg';
import { PG_URL } from '../lib/env.js';
import type {
  Adapter,
  AdapterConfig,
  CancelOutcome,
  Payload,
  RunningWorker,
  StartWorkerOptions,
} from './types.js';

/** pg-boss 10 waits for its polling interval after every fetch; 0.5 s is the smallest it allows. */
const POLLING_INTERVAL_SECONDS = 0.5;
/** Jobs per fetch in the batched mode. */
export const PGBOSS_BATCH_SIZE = 100;
const BULK_CHUNK = 5000;

/**
 * pg-boss 10 (the newest major that supports Node 20): `send` / `insert` to enqueue; `work()` once
 * per unit of concurrency (pg-boss 10 has no concurrency option: each work() call is one polling
 * loop), each with batchSize 1, or batchSize 100 in the batched mode.
 */
export class PgBossAdapter implements Adapter {
  readonly system = 'pg-boss' as const;
  readonly backend = 'PostgreSQL' as const;
  readonly bulkNote = `boss.insert(jobs) (at most ${BULK_CHUNK} jobs per call; returns no ids)`;
  readonly batchedMode = `work({ batchSize: ${PGBOSS_BATCH_SIZE} }): each poll fetches up to ${PGBOSS_BATCH_SIZE} jobs and completes them together`;
  readonly cancelSupport = {
    inProcess: null,
    crossProcess: null,
  };
  private boss: PgBoss | null = null;
  private readonly schema: string;
  private readonly queue = 'bench';

  constructor(config: AdapterConfig) {
    this.schema = `bench_pgboss_${config.namespace}`;
  }

  settings(): Record<string, unknown> {
    return {
      constructor: `{ connectionString, schema } (a fresh schema per repeat) and defaults (pool max 10, supervise on, maintenance every 120 s, expireIn 15 min, retryLimit 2)`,
      queue: `createQueue('${this.queue}') with the standard policy`,
      work: `concurrency c = c work() calls (pg-boss 10 has no concurrency option), each pollingIntervalSeconds ${POLLING_INTERVAL_SECONDS} (the minimum; default 2) and batchSize 1`,
      batched: this.batchedMode,
      notify: 'none: pg-boss 10 workers poll',
    };
  }

  private async dropSchema(): Promise<void> {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(this.schema)} CASCADE`);
    } finally {
      await client.end();
    }
  }

  async setup({ fresh }: { fresh: boolean }): Promise<void> {
    if (fresh) await this.dropSchema();
    const boss = new PgBoss({ connectionString: PG_URL, schema: this.schema });
    boss.on('error', (err) => {
      if (process.env.BENCH_DEBUG) console.error('[pg-boss]', err);
    });
    await boss.start();
    if (fresh) await boss.createQueue(this.queue);
    this.boss = boss;
  }

  async enqueue(data: Payload): Promise<string> {
    const id = await this.boss!.send(this.queue, data);
    if (!id) throw new Error('pg-boss send returned no id');
    return id;
  }

  async enqueueBulk(data: Payload[]): Promise<string[]> {
    for (let start = 0; start < data.length; start += BULK_CHUNK) {
      await this.boss!.insert(
        data.slice(start, start + BULK_CHUNK).map((d) => ({ name: this.queue, data: d })),
      );
    }
    return [];
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const batchSize = options.batched ? PGBOSS_BATCH_SIZE : 1;
    const ids: string[] = [];
    for (let n = 0; n < options.concurrency; n++) {
      ids.push(
        await this.boss!.work<Payload>(
          this.queue,
          { pollingIntervalSeconds: POLLING_INTERVAL_SECONDS, batchSize },
          async (jobs) => {
            for (const job of jobs)
              await options.handler({ id: job.id, data: job.data, signal: null });
          },
        ),
      );
    }
    return {
      stop: async () => {
        await this.boss!.offWork(this.queue);
      },
    };
  }

  /** pg-boss's cancel sets the job's state; a running handler is not told (it has no signal). */
  async cancel(id: string): Promise<CancelOutcome> {
    await this.boss!.cancel(this.queue, id);
    const job = await this.boss!.getJobById(this.queue, id);
    return {
      accepted: true,
      detail: `boss.cancel: state now ${job?.state ?? 'missing'}; the running handler gets no signal`,
    };
  }

  async state(id: string): Promise<string> {
    return (await this.boss!.getJobById(this.queue, id))?.state ?? 'missing';
  }

  async unfinished(): Promise<number> {
    return this.boss!.getQueueSize(this.queue, { before: 'completed' });
  }

  async teardown({ drop }: { drop: boolean }): Promise<void> {
    await this.boss?.stop({ graceful: false, wait: true, timeout: 2000 });
    this.boss = null;
    if (drop) await this.dropSchema().catch(() => {});
  }
}
