import type { RunCancelledError } from '../core/cancellation.js';
import type { ItemStatus } from '../core/run.js';

/** What a handler gets: the run, its signal, and the ways to report and to stop cleanly. */
export interface JobContext<Input = unknown> {
  readonly run: {
    readonly id: string;
    readonly job: string;
    readonly attempt: number;
    readonly maxAttempts: number;
    readonly input: Input;
  };
  /** Aborted on force cancel, timeout, lease loss and shutdown; its `reason` is a RunCancelledError. */
  readonly signal: AbortSignal;
  /** True once a graceful (or forced) stop was asked. */
  readonly cancelRequested: boolean;
  /** Throws the cancel error if a stop was asked; call it between units of work. */
  checkpoint(): void;
  /**
   * A named, durable unit of work: a checkpoint before it; once it starts, a graceful stop lets it
   * finish. Its result is stored with the run (as JSON, at most 1 MiB): a later attempt (a retry, a
   * rescue after a crash) gets it back without running `fn` again. Each step of a run needs a name
   * of its own (STEP_NAME_REUSED otherwise); results come back in their JSON form.
   */
  step<T>(name: string, fn: (signal: AbortSignal) => Promise<T> | T): Promise<T>;
  /**
   * A fan-out with one item per element and a status per item. A failing item does not stop the
   * others; a graceful stop starts no new item and marks the rest cancelled, then throws.
   */
  forEach<T>(
    items: Iterable<T>,
    fn: (item: T, info: { index: number; key: string; signal: AbortSignal }) => unknown,
    options?: { concurrency?: number; key?: (item: T, index: number) => string },
  ): Promise<ForEachSummary>;
  /** Report progress; percent is derived from processed/total when not given. */
  progress(update: {
    processed?: number;
    total?: number;
    percent?: number;
    message?: string;
  }): void;
  readonly log: RunLogger;
  /** Register a cleanup that runs when the run is cancelled or timed out, with its own deadline. */
  onCancel(cleanup: (reason: RunCancelledError) => Promise<void> | void): void;
  /** Tell the runtime the handler is alive (for `heartbeatTimeout`) without logging. */
  heartbeat(): void;
}

/** `ctx.log`: lines stored with the run, streamed live, and shown by the dashboard and `jobdeck logs`. */
export interface RunLogger {
  debug(message: string, data?: unknown): void;
  info(message: string, data?: unknown): void;
  warn(message: string, data?: unknown): void;
  error(message: string, data?: unknown): void;
}

/** What `ctx.forEach` resolves with: how many items ended each way, and each item's status by key. */
export interface ForEachSummary {
  succeeded: number;
  failed: number;
  cancelled: number;
  statuses: Record<string, ItemStatus>;
}
