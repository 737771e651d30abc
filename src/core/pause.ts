import type { RunStatus } from './status.js';

/** Who asked to pause a run, and when. Cleared when the run resumes. */
export interface PauseRecord {
  requestedBy: string;
  requestedAt: Date;
}

/** The run log message the worker running a run writes when a pause request reaches its handler. */
export const PAUSE_DELIVERED = 'pause delivered';

/**
 * What a pause request does, by the run's status: data, like the cancellation table. Stores apply
 * it atomically; services report it.
 *
 * - `hold-now`: no handler runs (scheduled, pending, waiting for its children); the run becomes
 *   `paused` at once (a waiting one waits again for its children once resumed).
 * - `request`: the run keeps running; its handler stops at its next checkpoint (or before its next
 *   step), and the attempt ends `paused` without using up a try. Asked again: the first request stays.
 * - `unchanged`: already paused (idempotent).
 * - `refused`: a cancelling run is stopping for good; it cannot be paused (INVALID_TRANSITION).
 * - `finished`: refused with RUN_FINISHED.
 */
export type PauseAction = 'hold-now' | 'request' | 'unchanged' | 'refused' | 'finished';

export const PAUSE_TABLE = {
  scheduled: 'hold-now',
  pending: 'hold-now',
  running: 'request',
  cancelling: 'refused',
  paused: 'unchanged',
  waiting: 'hold-now',
  completed: 'finished',
  partial: 'finished',
  failed: 'finished',
  cancelled: 'finished',
} as const satisfies Record<RunStatus, PauseAction>;

export function pauseAction(status: RunStatus): PauseAction {
  return PAUSE_TABLE[status];
}
