import { JobdeckError, type RunError } from './errors.js';
import type { RunStatus } from './status.js';

/** A child run a handler started (`ctx.spawn`): pass it to `ctx.waitFor`. */
export interface ChildRun {
  id: string;
  job: string;
}

/**
 * What `ctx.waitFor` throws when a child run it waits for ended other than `completed` (failed,
 * partial or cancelled). Left uncaught, it fails the parent without a retry: a retry would find
 * the same child. Caught, the handler decides what the parent does without that child's result.
 */
export class ChildRunError extends JobdeckError {
  readonly childId: string;
  readonly job: string;
  readonly status: RunStatus;
  /** The child's stored error, if it has one. */
  readonly error: RunError | null;
  /** The child's stored result (a partial run's, or null). */
  readonly result: unknown;

  constructor(child: {
    id: string;
    job: string;
    status: RunStatus;
    error: RunError | null;
    result: unknown;
  }) {
    super(
      'CHILD_RUN_FAILED',
      `Child run ${child.id} (${child.job}) ended ${child.status}${child.error ? `: ${child.error.message}` : ''}.`,
    );
    this.name = 'ChildRunError';
    this.childId = child.id;
    this.job = child.job;
    this.status = child.status;
    this.error = child.error;
    this.result = child.result;
  }
}
