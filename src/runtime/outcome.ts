import { backoffDelay, type BackoffOptions } from '../core/backoff.js';
import { isCancellation, type RunCancelledError } from '../core/cancellation.js';
import { hasErrorCode, toRunError, type RunError } from '../core/errors.js';
import { unstorableJsonReason } from '../core/json.js';
import { outcomeFromItems, type RunItem } from '../core/run.js';
import type { RunFinishOutcome } from '../store/store.js';

/** Why the attempt's signal was aborted, as the runtime knows it (adds lease loss to the public kinds). */
export type AttemptAbort = RunCancelledError | { kind: 'lease-lost' };

export interface AttemptEnd {
  /** The abort reason, when the signal was aborted. */
  abort: AttemptAbort | null;
  /** A stop (graceful or forced) was delivered to this attempt. */
  cancelRequested: boolean;
  /** A pause was delivered to this attempt (a cancel overrides it). */
  pauseRequested?: boolean;
  /** The child runs the handler suspended the attempt for (`ctx.waitFor`), if it did. */
  awaiting?: readonly string[];
  settled: { ok: true; value: unknown } | { ok: false; error: unknown } | { ok: 'pending' };
  items: readonly RunItem[];
  attempt: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  now: Date;
  random?: () => number;
}

/**
 * Whether the handler suspended its attempt at a `ctx.waitFor` (and let that through): it threw
 * the wait and recorded the children it waits for. A new attempt starts once they end.
 */
export function suspendedForChildren(
  error: unknown,
  awaiting: readonly string[] | undefined,
): error is RunCancelledError {
  return (awaiting?.length ?? 0) > 0 && isCancellation(error) && error.kind === 'wait';
}

/**
 * What the store should record when an attempt ends, classified from the abort reason and the
 * delivered cancel, never from the text the handler threw. `null`: nothing to write (the run was
 * force-cancelled in the store already, or this attempt lost its lease).
 */
export function classifyAttemptEnd(end: AttemptEnd): RunFinishOutcome | null {
  const retryOrFail = (error: RunError): RunFinishOutcome =>
    end.attempt < end.maxAttempts && !end.cancelRequested
      ? {
          status: 'scheduled',
          runAt: new Date(end.now.getTime() + backoffDelay(end.attempt, end.backoff, end.random)),
          error,
        }
      : { status: 'failed', error };

  if (end.abort) {
    switch (end.abort.kind) {
      case 'cancel':
      case 'lease-lost':
        return null;
      case 'shutdown':
        return end.cancelRequested ? { status: 'cancelled' } : { status: 'pending' };
      case 'timeout':
        return retryOrFail({ code: end.abort.code, message: end.abort.message });
    }
  }
  const { settled } = end;
  if (settled.ok === 'pending') return null;
  if (settled.ok === false) {
    if (end.cancelRequested && isCancellation(settled.error)) return { status: 'cancelled' };
    // The handler stopped at a checkpoint for the pause (or let its error through).
    if (end.pauseRequested && isCancellation(settled.error) && settled.error.kind === 'pause')
      return { status: 'paused' };
    if (suspendedForChildren(settled.error, end.awaiting))
      return { status: 'waiting', children: [...(end.awaiting ?? [])] };
    const error = toRunError(settled.error);
    // Neither a bad input, nor a result no store keeps (a step's), nor a child that did not
    // complete (another try finds the same child) can succeed on another try.
    if (
      hasErrorCode(settled.error, 'INVALID_INPUT') ||
      hasErrorCode(settled.error, 'RESULT_NOT_STORABLE') ||
      hasErrorCode(settled.error, 'CHILD_RUN_FAILED')
    )
      return { status: 'failed', error };
    return retryOrFail(error);
  }
  const items = outcomeFromItems(end.items);
  if (items === 'none-succeeded')
    return retryOrFail({ code: 'ITEMS_FAILED', message: 'Every item of the fan-out failed.' });
  // Checked before any store sees it, so a result ends the same way on every backend; retrying
  // would only repeat the work and return the same value.
  const notStorable = unstorableJsonReason(settled.value, 'result');
  if (notStorable)
    return { status: 'failed', error: { code: 'RESULT_NOT_STORABLE', message: notStorable } };
  return { status: items === 'mixed' ? 'partial' : 'completed', result: settled.value };
}
