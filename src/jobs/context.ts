import type { RunCancelledError } from '../core/cancellation.js';
import type { ChildRun } from '../core/children.js';
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
  /**
   * Start a child run of `job` (a checkpoint first), created by this run's creator; cancelling
   * this run cancels it. Each child has a key within this run, by default `<job>#<n>` for the n-th
   * spawn of that job in call order (or `options.key`: 1 to 200 characters, unique in the
   * attempt): a later attempt that spawns with the same key gets the same child, not a new one.
   */
  spawn(
    job: string,
    input?: unknown,
    options?: { key?: string; priority?: number; runAt?: Date },
  ): Promise<ChildRun>;
  /**
   * The child's result once it completed; a `ChildRunError` if it ended otherwise (catch it to go
   * on without it). While it is unfinished the attempt ends here, without using a try or holding a
   * slot, and a new attempt runs the handler again once it ends: completed steps are skipped and
   * spawn returns the same children, but code outside a `ctx.step` before this call runs again.
   * It suspends by throwing a RunCancelledError (kind `wait`): let it through, never catch it.
   */
  waitFor(child: ChildRun | string): Promise<unknown>;
  /**
   * `waitFor` for several children: their results in order once all completed; a `ChildRunError`
   * for the first (in order) that ended otherwise; else the attempt suspends until they all end.
   */
  waitForAll(children: (ChildRun | string)[]): Promise<unknown[]>;
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
