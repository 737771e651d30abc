import { RunCancelledError, type AbortKind, type CancelMode } from '../../core/cancellation.js';
import type { ItemStatus, LogLevel, RunProgress } from '../../core/run.js';
import type { ChildRun } from '../../core/children.js';
import { JobdeckError, isErrorCode, type RunError } from '../../core/errors.js';
import type { ChildSpec } from '../../runs/service.js';
import type { ChildEnd, RunInfo, StepOutcome } from '../context.js';

/**
 * The attempt a message belongs to. Every message across the boundary carries it: a thread serves
 * many runs one after another, and what an earlier handler left running must not reach a later one.
 */
export interface AttemptTag {
  runId: string;
  attempt: number;
}

/** Messages between a worker and a thread or process isolate. Plain JSON, so both transports carry them. */
export type ToIsolate = AttemptTag &
  (
    | {
        type: 'start';
        moduleUrl: string;
        job: string;
        run: RunInfo;
        input: unknown;
        cancel: { mode: CancelMode; reason: string | null } | null;
        pause: { requestedBy: string } | null;
      }
    /** A delivered cancel: graceful sets the flag checkpoints read; force also aborts the signal. */
    | { type: 'cancel'; mode: CancelMode; reason: string | null }
    /** A delivered pause: sets the flag checkpoints read. */
    | { type: 'pause'; requestedBy: string }
    /** The system stops the attempt (timeout, shutdown, lost lease). */
    | {
        type: 'abort';
        kind: AbortKind;
        reason: string | null;
        code: 'CANCELLED' | 'TIMEOUT' | 'HEARTBEAT_TIMEOUT';
      }
    /** Run the onCancel cleanups now. */
    | { type: 'cleanup'; kind: AbortKind; mode: CancelMode; reason: string | null }
    /**
     * The answer to a `step` request: a stored result (lookup), that the step is stored (end), or
     * the keys of the items earlier attempts completed (items).
     */
    | {
        type: 'step-reply';
        seq: number;
        found?: boolean;
        result?: unknown;
        keys?: string[];
        error?: SerializedError;
      }
    /** The answer to a `child` request: the child (spawn), how the children stand (ends), or done (await). */
    | {
        type: 'child-reply';
        seq: number;
        child?: ChildRun;
        ends?: ChildEnd[];
        error?: SerializedError;
      }
    /** The attempt is over: a process exits; a thread waits for the next run. */
    | { type: 'exit' }
  );

export type FromIsolate = AttemptTag &
  (
    | { type: 'log'; level: LogLevel; message: string; data?: unknown }
    | { type: 'progress'; progress: RunProgress }
    | { type: 'item'; key: string; status: ItemStatus; error?: RunError }
    | { type: 'touch' }
    /**
     * A durable step: look up a result an earlier attempt stored, record its start, or store its
     * end; `seq` (0 for a start, which gets no answer) matches the `step-reply`. `items` asks for
     * the forEach items earlier attempts completed.
     */
    | { type: 'step'; seq: number; op: 'lookup' | 'start'; name: string }
    | { type: 'step'; seq: number; op: 'items' }
    | { type: 'step'; seq: number; op: 'end'; name: string; outcome: StepOutcome }
    /**
     * Child runs, done by the attempt in the parent: start one (`runAt` as ISO text: a process
     * carries JSON), read how some stand, or record those the attempt suspends for. `seq` matches
     * the `child-reply`.
     */
    | {
        type: 'child';
        seq: number;
        op: 'spawn';
        spec: Omit<ChildSpec, 'runAt'> & { runAt?: string };
      }
    | { type: 'child'; seq: number; op: 'ends' | 'await'; ids: string[] }
    | { type: 'done'; ok: true; value: unknown }
    | { type: 'done'; ok: false; error: SerializedError }
    | { type: 'cleanup-done' }
  );

/** A message as its sender writes it, before the attempt's tag is added. */
export type Untagged<M> = M extends unknown ? Omit<M, keyof AttemptTag> : never;

/** Whether a message belongs to the attempt `tag` names. */
export function isForAttempt(message: AttemptTag, tag: AttemptTag): boolean {
  return message.runId === tag.runId && message.attempt === tag.attempt;
}

/** An error as it crosses the boundary: matched by `code`, rebuilt as a RunCancelledError when it was one. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  kind?: AbortKind;
  mode?: CancelMode;
  reason?: string | null;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const e = err as Error & {
      code?: unknown;
      kind?: AbortKind;
      mode?: CancelMode;
      reason?: string | null;
    };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(e.name === 'RunCancelledError'
        ? { kind: e.kind, mode: e.mode, reason: e.reason ?? null }
        : {}),
    };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : String(err) };
}

export function deserializeError(error: SerializedError): Error {
  if (error.name === 'RunCancelledError' && error.kind && error.mode) {
    const code =
      error.code === 'TIMEOUT' ||
      error.code === 'HEARTBEAT_TIMEOUT' ||
      error.code === 'PAUSED' ||
      error.code === 'WAITING'
        ? error.code
        : 'CANCELLED';
    return new RunCancelledError({
      kind: error.kind,
      mode: error.mode,
      reason: error.reason ?? null,
      code,
    });
  }
  // The parent's refusals (a spawn of an unknown job…) reach the handler as what they were.
  if (error.name === 'JobdeckError' && isErrorCode(error.code))
    return new JobdeckError(error.code, error.message);
  return Object.assign(new Error(error.message), {
    name: error.name,
    ...(error.code ? { code: error.code } : {}),
  });
}
