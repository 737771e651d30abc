import { JobdeckError } from './errors.js';
import type { RunStatus } from './status.js';

export const CANCEL_MODES = ['graceful', 'force'] as const;

/** The run log message the worker running a run writes when a cancel reaches its handler. */
export const CANCEL_DELIVERED = 'cancel delivered';
/** `graceful` (the current step finishes, no new one starts) or `force` (the signal aborts now). */
export type CancelMode = (typeof CANCEL_MODES)[number];

/** Who asked to stop a run, why, when and how. */
export interface CancelRecord {
  mode: CancelMode;
  reason: string | null;
  requestedBy: string;
  requestedAt: Date;
}

/**
 * Why a run's signal was aborted. The executor classifies a run's outcome from this, never from
 * what the handler threw: `cancel` (someone asked), `timeout` (the system's deadline),
 * `shutdown` (the worker is stopping and will release the run for another try). `pause` never
 * aborts the signal: it is what `ctx.checkpoint()` throws once someone asked to pause the run.
 * Nor does `wait`: it is what `ctx.waitFor` throws to suspend the run until its children end.
 */
export type AbortKind = 'cancel' | 'timeout' | 'shutdown' | 'pause' | 'wait';

/** The abort reason of `ctx.signal`, and what `ctx.checkpoint()` throws after a graceful cancel. */
export class RunCancelledError extends JobdeckError {
  readonly kind: AbortKind;
  readonly mode: CancelMode;
  readonly reason: string | null;

  constructor(options: {
    kind: AbortKind;
    mode: CancelMode;
    reason?: string | null;
    code?: 'CANCELLED' | 'TIMEOUT' | 'HEARTBEAT_TIMEOUT' | 'PAUSED' | 'WAITING';
  }) {
    const code =
      options.code ??
      (options.kind === 'timeout'
        ? 'TIMEOUT'
        : options.kind === 'pause'
          ? 'PAUSED'
          : options.kind === 'wait'
            ? 'WAITING'
            : 'CANCELLED');
    const reason = options.reason ?? null;
    super(
      code,
      reason ? `Run ${options.kind}: ${reason}` : `Run ${options.kind} (${options.mode})`,
    );
    this.name = 'RunCancelledError';
    this.kind = options.kind;
    this.mode = options.mode;
    this.reason = reason;
  }
}

/** True for the abort reasons and checkpoint errors Jobdeck raises, across realms (by shape). */
export function isCancellation(err: unknown): err is RunCancelledError {
  if (err instanceof RunCancelledError) return true;
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'RunCancelledError' &&
    typeof (err as { kind?: unknown }).kind === 'string'
  );
}

/**
 * What a cancel request does, by the run's status and the mode asked: SPEC.md's cancellation
 * table as data. Stores apply it atomically; services report it.
 *
 * - `cancel-now`: no handler runs (the run never started, is paused or waits for its children); it ends `cancelled`
 *   at once.
 * - `request`: a graceful stop of a running run; it becomes `cancelling` and the handler stops at
 *   its next checkpoint.
 * - `force`: the run ends `cancelled` (or `partial` when some items succeeded) at once, and its
 *   handler's signal is aborted wherever it runs.
 * - `unchanged`: asked again; nothing changes (idempotent).
 * - `finished`: refused with RUN_FINISHED.
 */
export type CancelAction = 'cancel-now' | 'request' | 'force' | 'unchanged' | 'finished';

export const CANCEL_TABLE = {
  scheduled: { graceful: 'cancel-now', force: 'cancel-now' },
  pending: { graceful: 'cancel-now', force: 'cancel-now' },
  running: { graceful: 'request', force: 'force' },
  cancelling: { graceful: 'unchanged', force: 'force' },
  // No handler runs while paused: nothing to wait for.
  paused: { graceful: 'cancel-now', force: 'cancel-now' },
  // Nor while it waits for its children (they are cancelled with it, in the same mode).
  waiting: { graceful: 'cancel-now', force: 'cancel-now' },
  cancelled: { graceful: 'unchanged', force: 'unchanged' },
  completed: { graceful: 'finished', force: 'finished' },
  partial: { graceful: 'finished', force: 'finished' },
  failed: { graceful: 'finished', force: 'finished' },
} as const satisfies Record<RunStatus, Record<CancelMode, CancelAction>>;

export function cancelAction(status: RunStatus, mode: CancelMode): CancelAction {
  return CANCEL_TABLE[status][mode];
}
