import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';
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

const BULK_CHUNK = 5000;
/** The batching settings of graphile-worker's performance guide. */
export const GRAPHILE_LOCAL_QUEUE = 500;

/** Errors only (and warnings with BENCH_DEBUG): the default logger prints a line per job. */
const quietLogger = new Logger(() => (level, message) => {
  const name = String(level);
  if (name === 'error' || (name === 'warning' && process.env.BENCH_DEBUG))
    console.error(`[graphile-worker] ${message}`);
});

/**
 * graphile-worker with its defaults (LISTEN/NOTIFY for new jobs, pollInterval 2000 ms), and a batched
 * mode with the options of its performance guide (localQueue, completeJobBatchDelay 0).
 */
export class GraphileAdapter implements Adapter {
  readonly system = 'graphile-worker' as const;
  readonly backend = 'PostgreSQL' as const;
  readonly bulkNote = `workerUtils.addJobs(specs) (at most ${BULK_CHUNK} jobs per call)`;
  readonly batchedMode = `localQueue { size: ${GRAPHILE_LOCAL_QUEUE} }, completeJobBatchDelay 0, failJobBatchDelay 0 (its performance guide)`;
  readonly cancelSupport = { inProcess: null, crossProcess: null };
  private utils: WorkerUtils | null = null;
  private runner: Runner | null = null;
  private readonly schema: string;

  constructor(config: AdapterConfig) {
    this.schema = `bench_gw_${config.namespace}`;
  }

  settings(): Record<string, unknown> {
    return {
      schema: 'a fresh schema per repeat (migrated by workerUtils.migrate)',
      runner: `run({ taskList, concurrency, maxPoolSize max(10, concurrency + 2), noHandleSignals }), pollInterval 2000 (default), LISTEN/NOTIFY (always on), logger: errors only`,
      batched: this.batchedMode,
      jobs: 'maxAttempts 25 (default); locked jobs are released after 4 h (default)',
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
    this.utils = await makeWorkerUtils({
      connectionString: PG_URL,
      schema: this.schema,
      logger: quietLogger,
    });
    if (fresh) await this.utils.migrate();
  }

  async enqueue(data: Payload): Promise<string> {
    return (await this.utils!.addJob('bench', data)).id;
  }

  async enqueueBulk(data: Payload[]): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < data.length; start += BULK_CHUNK) {
      const jobs = await this.utils!.addJobs(
        data.slice(start, start + BULK_CHUNK).map((payload) => ({ identifier: 'bench', payload })),
      );
      ids.push(...jobs.map((j) => j.id));
    }
    return ids;
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const c = options.concurrency;
    const runner = await run({
      connectionString: PG_URL,
      schema: this.schema,
      concurrency: c,
      maxPoolSize: Math.max(10, c + 2),
      noHandleSignals: true,
      logger: quietLogger,
      taskList: {
        bench: async (payload, helpers) => {
          await options.handler({
            id: helpers.job.id,
            data: payload as Payload,
            signal: helpers.abortSignal,
          });
        },
      },
      ...(options.batched
        ? {
            preset: {
              worker: {
                localQueue: { size: GRAPHILE_LOCAL_QUEUE },
                completeJobBatchDelay: 0,
                failJobBatchDelay: 0,
              },
            },
          }
        : {}),
    });
    this.runner = runner;
    return {
      stop: async () => {
        await runner.stop();
        this.runner = null;
      },
    };
  }

  /** graphile-worker has no cancel. The nearest admin call, permanentlyFailJobs, skips locked jobs. */
  async cancel(id: string): Promise<CancelOutcome> {
    const failed = await this.utils!.permanentlyFailJobs([id], 'cancelled by bench');
    return {
      accepted: false,
      detail: `no cancel API; workerUtils.permanentlyFailJobs([id]) changed ${failed.length} job(s) (a running job is locked and skipped)`,
    };
  }

  async state(id: string): Promise<string> {
    const { rows } = await this.utils!.withPgClient((client) =>
      client.query<{ attempts: number; max_attempts: number; locked_at: Date | null }>(
        `SELECT attempts, max_attempts, locked_at FROM ${pg.escapeIdentifier(this.schema)}.jobs WHERE id = $1`,
        [id],
      ),
    );
    const row = rows[0];
    if (!row) return 'completed (row deleted)';
    if (row.locked_at) return `locked (running, attempt ${row.attempts})`;
    return row.attempts >= row.max_attempts ? 'failed' : `queued (attempts ${row.attempts})`;
  }

  async unfinished(): Promise<number> {
    const { rows } = await this.utils!.withPgClient((client) =>
      client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${pg.escapeIdentifier(this.schema)}.jobs WHERE attempts < max_attempts`,
      ),
    );
    return Number(rows[0]?.n ?? 0);
  }

  async teardown({ drop }: { drop: boolean }): Promise<void> {
    if (this.runner) await this.runner.stop().catch(() => {});
    this.runner = null;
    await this.utils?.release();
    this.utils = null;
    if (drop) await this.dropSchema().catch(() => {});
  }
}
