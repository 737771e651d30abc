import type { Clock } from '../core/clock.js';
import type { Run } from '../core/run.js';
import type { AttemptRef, Store } from '../store/store.js';

interface Pending {
  ref: AttemptRef;
  result: unknown;
  resolve: (run: Run | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Completions of runs without items, written together: everything that completes within one turn
 * of the event loop (or up to `maxBatch`) is one store call instead of one each.
 */
export class CompletionBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxBatch = 200,
  ) {}

  /** Resolves with the stored run, or null when the attempt no longer held it. */
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
    if (batch.length === 0) return;
    try {
      const stored = await this.store.runCompleteMany({
        now: this.clock.now(),
        runs: batch.map(({ ref, result }) => ({ ref, result })),
      });
      batch.forEach((pending, index) => pending.resolve(stored[index] ?? null));
    } catch (err) {
      for (const pending of batch) pending.reject(err);
    }
  }
}
