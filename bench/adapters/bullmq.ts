import { Queue, Worker, type Job } from 'bullmq';
import { REDIS_URL } from '../lib/env.js';
import type {
  Adapter,
  AdapterConfig,
  CancelOutcome,
  Payload,
  RunningWorker,
  StartWorkerOptions,
} from './types.js';

const PREFIX = 'jdbench';
const BULK_CHUNK = 5000;

function connection() {
  const url = new URL(REDIS_URL);
  // Workers block on Redis; BullMQ asks for maxRetriesPerRequest null on their connections.
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}

/**
 * BullMQ with its defaults: one Queue to add, one Worker with `concurrency`, the processor's
 * AbortSignal for cancellation (`worker.cancelJob`, in the worker's own process only).
 */
export class BullmqAdapter implements Adapter {
  readonly system = 'bullmq' as const;
  readonly backend = 'Redis' as const;
  readonly bulkNote = `queue.addBulk (at most ${BULK_CHUNK} jobs per call)`;
  readonly batchedMode = null; // batches are a BullMQ Pro feature
  readonly cancelSupport = {
    inProcess: "worker.cancelJob(id): aborts the processor's signal, in the worker's process only",
    crossProcess: null,
  };
  private queue: Queue | null = null;
  private worker: Worker | null = null;
  private readonly name: string;

  constructor(config: AdapterConfig) {
    this.name = `bench-${config.namespace}`;
  }

  settings(): Record<string, unknown> {
    return {
      connection: `ioredis to ${REDIS_URL}, maxRetriesPerRequest null`,
      queue: `a fresh queue per repeat (prefix ${PREFIX}); default job options (attempts 1, completed jobs kept)`,
      worker: `new Worker(queue, processor, { concurrency }); defaults: lockDuration 30000, stalledInterval 30000, maxStalledCount 1, drainDelay 5 s`,
      batched: 'none in the open-source BullMQ (batches are BullMQ Pro)',
    };
  }

  async setup({ fresh }: { fresh: boolean }): Promise<void> {
    this.queue = new Queue(this.name, { connection: connection(), prefix: PREFIX });
    await this.queue.waitUntilReady();
    if (fresh) await this.queue.obliterate({ force: true });
  }

  async enqueue(data: Payload): Promise<string> {
    return (await this.queue!.add('bench', data)).id!;
  }

  async enqueueBulk(data: Payload[]): Promise<string[]> {
    const ids: string[] = [];
    for (let start = 0; start < data.length; start += BULK_CHUNK) {
      const jobs = await this.queue!.addBulk(
        data.slice(start, start + BULK_CHUNK).map((d) => ({ name: 'bench', data: d })),
      );
      ids.push(...jobs.map((j) => j.id!));
    }
    return ids;
  }

  async startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
    const worker = new Worker(
      this.name,
      async (job: Job<Payload>, _token?: string, signal?: AbortSignal) => {
        await options.handler({ id: job.id!, data: job.data, signal: signal ?? null });
      },
      { connection: connection(), prefix: PREFIX, concurrency: options.concurrency },
    );
    worker.on('error', (err) => {
      if (process.env.BENCH_DEBUG) console.error('[bullmq] worker error', err);
    });
    await worker.waitUntilReady();
    this.worker = worker;
    return {
      stop: async () => {
        worker.cancelAllJobs('bench stop');
        await worker.close(true);
        this.worker = null;
      },
    };
  }

  async cancelInProcess(id: string): Promise<CancelOutcome> {
    const found = this.worker?.cancelJob(id, 'bench') ?? false;
    return {
      accepted: found,
      detail: found ? 'worker.cancelJob: true' : 'worker.cancelJob: false',
    };
  }

  /** From another process BullMQ has no cancel: the closest call, queue.remove, refuses a locked job. */
  async cancel(id: string): Promise<CancelOutcome> {
    try {
      const removed = await this.queue!.remove(id);
      return {
        accepted: false,
        detail: `no cross-process cancel; queue.remove(id) of the active job answered ${removed} (${removed === 0 ? 'not removed: the job is locked by its worker' : 'removed from Redis, but the running processor is not told'})`,
      };
    } catch (err) {
      return {
        accepted: false,
        detail: `no cross-process cancel; queue.remove(id) threw: ${(err as Error).message}`,
      };
    }
  }

  async state(id: string): Promise<string> {
    return this.queue!.getJobState(id);
  }

  async unfinished(): Promise<number> {
    const counts = await this.queue!.getJobCounts(
      'wait',
      'active',
      'delayed',
      'prioritized',
      'waiting-children',
    );
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async teardown({ drop }: { drop: boolean }): Promise<void> {
    if (this.worker) await this.worker.close(true);
    this.worker = null;
    if (drop) await this.queue?.obliterate({ force: true }).catch(() => {});
    await this.queue?.close();
    this.queue = null;
  }
}
