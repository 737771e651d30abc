import type { CancelRecord } from './cancellation.js';
import type { PauseRecord } from './pause.js';
import type { RunError } from './errors.js';
import { TERMINAL_STATUSES, type RunStatus, type TerminalStatus } from './status.js';

export const RUN_TRIGGERS = ['api', 'schedule', 'retry', 'manual', 'parent'] as const;
/**
 * What started a run: the API (or an embedded call), a schedule, a retry, a person by hand, or
 * another run's handler (`ctx.spawn`: a child run).
 */
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/** The most runs one bulk create over HTTP (`POST /api/runs/batch`) takes. */
export const RUN_BATCH_MAX = 1000;

export const ITEM_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
/** The status of one item of a `ctx.forEach` fan-out. */
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** How far a run is, as its handler reported with `ctx.progress`. */
export interface RunProgress {
  processed: number | null;
  total: number | null;
  percent: number | null;
  message: string | null;
}

/** One item of a run's fan-out (`ctx.forEach`), by key, with its status and error. */
export interface RunItem {
  key: string;
  status: ItemStatus;
  error?: RunError;
}

export const STEP_STATUSES = ['running', 'completed', 'failed'] as const;
/** Where a durable step (`ctx.step`) stands: a completed step is never run again for its run. */
export type StepStatus = (typeof STEP_STATUSES)[number];

/** A step of a run, as the API shows it: the attempt that last ran it, and when. */
export interface RunStep {
  name: string;
  status: StepStatus;
  attempt: number;
  startedAt: Date;
  endedAt: Date | null;
  error: RunError | null;
}

/**
 * A step as it stands for its run: one still `running` when its attempt is over (stopped by
 * force, lost with its worker, released) never finished, and is shown failed (`STEP_INTERRUPTED`).
 */
export function stepOfRun(step: RunStep, run: Pick<Run, 'status' | 'attempt'>): RunStep {
  const attemptLive =
    (run.status === 'running' || run.status === 'cancelling') && step.attempt === run.attempt;
  if (step.status !== 'running' || attemptLive) return step;
  return {
    ...step,
    status: 'failed',
    error: {
      code: 'STEP_INTERRUPTED',
      message: `Attempt ${step.attempt} ended before this step did.`,
    },
  };
}

/** A step as the store keeps it: with its result (JSON; null unless completed). */
export interface StoredStep extends RunStep {
  result: unknown;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** The level of a log line: `debug`, `info`, `warn` or `error`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log line of a run, as its handler wrote it. */
export interface LogEntry {
  level: LogLevel;
  message: string;
  data?: unknown;
  time: Date;
}

/** A log line as stored, with its order in the run's log (`seq`). */
export interface StoredLogEntry extends LogEntry {
  runId: string;
  seq: number;
}

/**
 * How an attempt ended without ending its run (`failed`: the handler threw and a retry follows;
 * `released`: its worker shut down and gave the run back; `paused`: its handler stopped at a
 * checkpoint after a pause request; `waiting`: its handler suspended it until the child runs it
 * waits for end) or without its worker saying so (`lost`: the lease expired and the rescuer took
 * the run back).
 */
export const ATTEMPT_OUTCOMES = ['failed', 'lost', 'released', 'paused', 'waiting'] as const;
/** How an attempt ended without ending its run: see {@link ATTEMPT_OUTCOMES}. */
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** An attempt the store recorded as it ended (see {@link Run.attempts}). */
export interface RunAttempt {
  attempt: number;
  workerId: string;
  startedAt: Date;
  endedAt: Date;
  outcome: AttemptOutcome;
  error: RunError | null;
}

/** One entry of a run's whole history: an ended attempt, or the latest one as the run describes it. */
export interface RunAttemptEntry {
  attempt: number;
  workerId: string | null;
  startedAt: Date;
  /** Null while the attempt runs. */
  endedAt: Date | null;
  /** The run's final status for the attempt that ended it; null while the attempt runs. */
  outcome: AttemptOutcome | TerminalStatus | null;
  error: RunError | null;
}

/** One execution of a job, as stored. */
export interface Run {
  id: string;
  job: string;
  input: unknown;
  status: RunStatus;
  progress: RunProgress | null;
  items: RunItem[];
  result: unknown;
  error: RunError | null;
  /** The error of the latest failed attempt, kept while the run waits for a retry. */
  lastError: RunError | null;
  attempt: number;
  maxAttempts: number;
  priority: number;
  runAt: Date;
  createdAt: Date;
  /** When the current (or last) attempt started. */
  startedAt: Date | null;
  /**
   * When the first attempt started: a run that retried, paused or waited for child runs has been
   * under way since then (its duration counts from here).
   */
  firstStartedAt: Date | null;
  finishedAt: Date | null;
  createdBy: string;
  trigger: RunTrigger;
  idempotencyKey: string | null;
  workerId: string | null;
  leaseExpiresAt: Date | null;
  cancel: CancelRecord | null;
  /**
   * The pause asked of the run and not yet undone by a resume: while `running`, its handler stops
   * at its next checkpoint; while `paused`, who paused it.
   */
  pause: PauseRecord | null;
  /** A run not started by then is cancelled with reason `expired`. */
  expireAt: Date | null;
  /** How long the run is kept once finished. */
  retentionMs: number;
  /** The run this one retries, when started by a manual retry. */
  retryOf: string | null;
  /** The run whose handler started this one (`ctx.spawn`); cancelling that run cancels this one. */
  parentId: string | null;
  /**
   * The attempts the store recorded as they ended, oldest first: each one that gave the run back
   * (a retry after an error, a release on shutdown) or that the rescuer found lost. Any other
   * attempt is the latest, described by the run's own fields: {@link runAttemptHistory} gives all.
   */
  attempts: RunAttempt[];
  /**
   * When the current attempt was found still running past the job's `stuckAfter` (a `run.stuck`
   * event was written then); null while it is not, and once a later attempt starts.
   */
  stuckAt: Date | null;
}

/**
 * Every attempt of a run, oldest first: the recorded ones, then the latest from the run's own
 * fields (attempt, workerId, startedAt, finishedAt, status, error) unless it is recorded already.
 * A run waiting for its next attempt has nothing more to add.
 */
export function runAttemptHistory(run: Run): RunAttemptEntry[] {
  const history: RunAttemptEntry[] = [...run.attempts];
  const recorded = run.attempts.some((a) => a.attempt === run.attempt);
  if (run.attempt === 0 || run.startedAt === null || recorded) return history;
  const ended = (TERMINAL_STATUSES as readonly RunStatus[]).includes(run.status);
  if (!ended && run.status !== 'running' && run.status !== 'cancelling') return history;
  history.push({
    attempt: run.attempt,
    workerId: run.workerId,
    startedAt: run.startedAt,
    endedAt: ended ? run.finishedAt : null,
    outcome: ended ? (run.status as TerminalStatus) : null,
    error: ended ? run.error : null,
  });
  return history;
}

/** Percent from processed/total when the handler did not give one. */
export function normaliseProgress(input: {
  processed?: number | null;
  total?: number | null;
  percent?: number | null;
  message?: string | null;
}): RunProgress {
  const processed = input.processed ?? null;
  const total = input.total ?? null;
  let percent = input.percent ?? null;
  if (percent === null && processed !== null && total !== null && total > 0) {
    percent = (processed / total) * 100;
  }
  if (percent !== null) percent = Math.min(100, Math.max(0, Math.round(percent * 100) / 100));
  return { processed, total, percent, message: input.message ?? null };
}

/** The final status of a run whose handler ended, from its items: `partial` when mixed. */
export function outcomeFromItems(
  items: readonly RunItem[],
): 'all-succeeded' | 'mixed' | 'none-succeeded' | 'no-items' {
  if (items.length === 0) return 'no-items';
  const succeeded = items.filter((i) => i.status === 'succeeded').length;
  if (succeeded === items.length) return 'all-succeeded';
  return succeeded > 0 ? 'mixed' : 'none-succeeded';
}
