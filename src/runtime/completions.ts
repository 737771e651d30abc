import type { Clock } from '../core/clock.js';
import { JobdeckError, toRunError } from '../core/errors.js';
import type { Run } from '../core/run.js';
import type { AttemptRef, Store } from '../store/store.js';
import { isStoreUnavailable, retryWhileUnavailable } from '../store/unavailable.js';

interface Pending {
  ref: AttemptRef;
  result: unknown;
  resolve: (run: Run | null) => void;
  reject: (err: unknown) => void;
}

export interface CompletionBatcherOptions {
  /** How long a write the store cannot take now is retried: the lease of the attempts. */
  leaseMs: number;
  /** A batch this large is written at once. Default 200. */
  maxBatch?: number;
  /** Told of each write retried because the store was unavailable. */
  onRetry?: (err: unknown) => void;
}

/**
 * Completions of runs without items, written together: everything that completes within one turn
 * of the event loop (or up to `maxBatch`) is one store call instead of one each. The store accepts
 * or refuses each run on its own: a batch it refuses is written again run by run, so one run it
 * cannot write (RESULT_NOT_STORABLE) sinks none of the others.
 */
export class CompletionBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly maxBatch: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: CompletionBatcherOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 200;
  }

  /**
   * Resolves with the stored run, or null when the attempt no longer held it. Rejects with
   * RESULT_NOT_STORABLE when the store refuses this run's result, or with the store's error when
   * it stayed unavailable for the whole lease.
   */
  complete(ref: AttemptRef, result: unknown): Promise<Run | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ref, result, resolve, reject });
      if (this.queue.length >= this.maxBatch) void this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) await this.write(batch);
  }

  /** Write the batch; never rejects (each completion is settled instead). */
  private async write(batch: Pending[]): Promise<void> {
    let stored: (Run | null)[];
    try {
      stored = await retryWhileUnavailable(
        () =>
          this.store.runCompleteMany({
            now: this.clock.now(),
            runs: batch.map(({ ref, result }) => ({ ref, result })),
          }),
        { forMs: this.options.leaseMs, onRetry: this.options.onRetry },
      );
    } catch (err) {
      if (isStoreUnavailable(err)) {
        // Away for the whole lease: the rescuer gives these runs another attempt.
        for (const pending of batch) pending.reject(err);
      } else if (batch.length > 1) {
        await Promise.all(batch.map((pending) => this.write([pending])));
      } else {
        const { message } = toRunError(err);
        batch[0]!.reject(
          new JobdeckError('RESULT_NOT_STORABLE', `The store refused the result: ${message}`, {
            cause: err,
          }),
        );
      }
      return;
    }
    batch.forEach((pending, index) => pending.resolve(stored[index] ?? null));
  }
}
