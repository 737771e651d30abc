import type { CancelMode, CancelRecord } from '../core/cancellation.js';
import type { PauseRecord } from '../core/pause.js';
import { JobdeckError, type RunError } from '../core/errors.js';
import type {
  InstanceInfo,
  InstanceRole,
  InstanceRun,
  InstanceState,
  InstanceStatus,
} from '../core/instance.js';
import type {
  AttemptOutcome,
  ItemStatus,
  LogLevel,
  Run,
  RunAttempt,
  RunItem,
  RunProgress,
  RunTrigger,
  StepStatus,
  StoredStep,
} from '../core/run.js';
import { UNFINISHED_STATUSES, isTerminal, type RunStatus } from '../core/status.js';
import type {
  AlertAttempt,
  AlertDelivery,
  AlertDeliveryStatus,
  AlertDeliveryTask,
  AlertRecord,
  AttemptRef,
  JobState,
  LeaseRenewal,
  RunStats,
  RunInsertManyParams,
  RunStatsBucket,
  StoredEvent,
  UncancelledChild,
} from './store.js';

/** A runs-table row as both backends return it (times as ms or Date, JSON as text or object). */
export interface RunRow {
  id: string;
  job: string;
  input: unknown;
  status: string;
  progress: unknown;
  result: unknown;
  error: unknown;
  last_error: unknown;
  attempt: number;
  max_attempts: number;
  priority: number;
  run_at: TimeValue;
  created_at: TimeValue;
  started_at: TimeValue | null;
  finished_at: TimeValue | null;
  created_by: string;
  trigger: string;
  idempotency_key: string | null;
  worker_id: string | null;
  lease_expires_at: TimeValue | null;
  cancel_mode: string | null;
  cancel_reason: string | null;
  cancel_requested_by: string | null;
  cancel_requested_at: TimeValue | null;
  pause_requested_by: string | null;
  pause_requested_at: TimeValue | null;
  expire_at: TimeValue | null;
  retention_ms: number | string;
  retry_of: string | null;
  parent_id: string | null;
  /** JSON: the recorded attempts, times in ms. */
  attempts: unknown;
  /** The first attempt's start, where a statement reads it without the attempts (the feed). */
  first_started_at?: TimeValue | null;
  stuck_at: TimeValue | null;
  stuck_attempt: number | null;
}

export interface ItemRow {
  run_id: string;
  key: string;
  status: string;
  error: unknown;
}

export interface StepRow {
  name: string;
  status: string;
  result: unknown;
  error: unknown;
  attempt: number;
  started_at: TimeValue;
  ended_at: TimeValue | null;
}

export interface LogRow {
  run_id: string;
  seq: number | string;
  level: string;
  message: string;
  data: unknown;
  time: TimeValue;
}

type TimeValue = number | string | Date;

export function toDate(value: TimeValue): Date {
  return value instanceof Date ? value : new Date(Number(value));
}

function toDateOrNull(value: TimeValue | null): Date | null {
  return value === null ? null : toDate(value);
}

/** JSON stored as text (SQLite) or as jsonb (PostgreSQL). */
export function fromJson<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export function cancelFromRow(row: {
  cancel_mode: string | null;
  cancel_reason: string | null;
  cancel_requested_by: string | null;
  cancel_requested_at: TimeValue | null;
}): CancelRecord | null {
  if (row.cancel_mode === null || row.cancel_requested_at === null) return null;
  return {
    mode: row.cancel_mode as CancelMode,
    reason: row.cancel_reason,
    requestedBy: row.cancel_requested_by ?? 'system',
    requestedAt: toDate(row.cancel_requested_at),
  };
}

export function pauseFromRow(row: {
  pause_requested_by: string | null;
  pause_requested_at: TimeValue | null;
}): PauseRecord | null {
  if (row.pause_requested_at === null || row.pause_requested_at === undefined) return null;
  return {
    requestedBy: row.pause_requested_by ?? 'system',
    requestedAt: toDate(row.pause_requested_at),
  };
}

/** Why a resume changed nothing: the run is missing, finished, or not paused. */
export function resumeRefused(id: string, row: RunRow | undefined): JobdeckError {
  if (!row) return new JobdeckError('RUN_NOT_FOUND', `No run has id ${id}.`);
  if (isTerminal(row.status as RunStatus))
    return new JobdeckError('RUN_FINISHED', `Run ${id} has already finished (${row.status}).`);
  return new JobdeckError('RUN_NOT_PAUSED', `Run ${id} is ${row.status}, not paused.`);
}

export function itemFromRow(row: ItemRow): RunItem {
  const error = fromJson<RunError>(row.error);
  return error
    ? { key: row.key, status: row.status as ItemStatus, error }
    : { key: row.key, status: row.status as ItemStatus };
}

export function stepFromRow(row: StepRow): StoredStep {
  return {
    name: row.name,
    status: row.status as StepStatus,
    attempt: Number(row.attempt),
    startedAt: toDate(row.started_at),
    endedAt: toDateOrNull(row.ended_at),
    error: fromJson<RunError>(row.error),
    result: fromJson(row.result),
  };
}

/** A step's parameters for `stepSave`, the same on both backends. */
export function stepParams(ref: AttemptRef, step: StoredStep) {
  return {
    runId: ref.id,
    name: step.name,
    status: step.status,
    result: toJson(step.result),
    error: toJson(step.error),
    attempt: ref.attempt,
    workerId: ref.workerId,
    startedAt: step.startedAt.getTime(),
    endedAt: step.endedAt?.getTime() ?? null,
  };
}

export function runFromRow(row: RunRow, items: RunItem[]): Run {
  const attempts = (fromJson<AttemptJson[]>(row.attempts) ?? []).map(attemptFromJson);
  const firstStart = row.first_started_at ?? null;
  return {
    id: row.id,
    job: row.job,
    input: fromJson(row.input),
    status: row.status as RunStatus,
    progress: fromJson<RunProgress>(row.progress),
    items,
    result: fromJson(row.result),
    error: fromJson<RunError>(row.error),
    lastError: fromJson<RunError>(row.last_error),
    attempt: Number(row.attempt),
    maxAttempts: Number(row.max_attempts),
    priority: Number(row.priority),
    runAt: toDate(row.run_at),
    createdAt: toDate(row.created_at),
    startedAt: toDateOrNull(row.started_at),
    // The history holds the attempts that ended; while the first runs, it is the current one.
    firstStartedAt:
      attempts[0]?.startedAt ??
      (firstStart !== null ? toDate(firstStart) : toDateOrNull(row.started_at)),
    finishedAt: toDateOrNull(row.finished_at),
    createdBy: row.created_by,
    trigger: row.trigger as RunTrigger,
    idempotencyKey: row.idempotency_key,
    workerId: row.worker_id,
    leaseExpiresAt: toDateOrNull(row.lease_expires_at),
    cancel: cancelFromRow(row),
    pause: pauseFromRow(row),
    expireAt: toDateOrNull(row.expire_at),
    retentionMs: Number(row.retention_ms),
    retryOf: row.retry_of,
    // Absent from statements that read only some columns.
    parentId: row.parent_id ?? null,
    attempts,
    stuckAt:
      // Absent from statements that read only some columns.
      row.stuck_at !== null &&
      row.stuck_at !== undefined &&
      Number(row.stuck_attempt) === Number(row.attempt)
        ? toDate(row.stuck_at)
        : null,
  };
}

/** The identity of a run's idempotency key (job, creator, key), or null without one. */
function idempotencyIdentity(run: {
  job: string;
  createdBy: string;
  idempotencyKey: string | null;
}): string | null {
  return run.idempotencyKey === null
    ? null
    : JSON.stringify([run.job, run.createdBy, run.idempotencyKey]);
}

/**
 * The runs of a bulk insert its statement did not insert: each has a key already stored or given
 * earlier in the call, so its answer is the run found by that key.
 */
export function runsNotInserted<T extends { id: string; idempotencyKey: string | null }>(
  given: T[],
  inserted: RunRow[],
): T[] {
  const ids = new Set(inserted.map((row) => row.id));
  return given.filter((run) => !ids.has(run.id));
}

/**
 * The answers of a bulk insert in the order given: a run the statement inserted is `created`; any
 * other is the run stored under its key (`found`, or one inserted for an earlier run of the call).
 */
export function insertManyAnswers(
  given: RunInsertManyParams['runs'],
  inserted: Run[],
  found: Run[],
): { run: Run; created: boolean }[] {
  const byId = new Map(inserted.map((run) => [run.id, run]));
  const byKey = new Map<string, Run>();
  for (const run of [...found, ...inserted]) {
    const identity = idempotencyIdentity(run);
    if (identity !== null) byKey.set(identity, run);
  }
  return given.map((run) => {
    const created = byId.get(run.id);
    if (created) return { run: created, created: true };
    const identity = idempotencyIdentity(run);
    const existing = identity === null ? undefined : byKey.get(identity);
    // Only a conflict on the key skips a row: anything else failed the statement.
    if (!existing) throw new Error(`run ${run.id} was neither inserted nor found by its key`);
    return { run: existing, created: false };
  });
}

/** A recorded attempt as the runs table holds it. */
interface AttemptJson {
  attempt: number;
  workerId: string;
  startedAt: number;
  endedAt: number;
  outcome: string;
  error: RunError | null;
}

function attemptFromJson(entry: AttemptJson): RunAttempt {
  return {
    attempt: Number(entry.attempt),
    workerId: entry.workerId,
    startedAt: toDate(entry.startedAt),
    endedAt: toDate(entry.endedAt),
    outcome: entry.outcome as AttemptOutcome,
    error: entry.error ?? null,
  };
}

export function logFromRow(row: LogRow) {
  const data = fromJson(row.data);
  return {
    runId: row.run_id,
    seq: Number(row.seq),
    level: row.level as LogLevel,
    message: row.message,
    ...(data === null ? {} : { data }),
    time: toDate(row.time),
  };
}

/**
 * An events-table row (`event_*`) with its run's columns as stored now (null once the run is
 * deleted) and its log line (run.log), as both backends return it.
 */
export interface EventRow extends Omit<RunRow, 'id' | 'input' | 'result' | 'attempts'> {
  id: string | null;
  event_seq: number | string;
  event_at: TimeValue;
  event_name: string;
  event_job: string;
  event_run_id: string | null;
  event_status: string | null;
  /** Absent from events written before the column existed. */
  event_attempt?: number | null;
  event_data: unknown;
  log_seq: number | null;
  log_level: string | null;
  log_message: string | null;
  log_data: unknown;
  log_time: TimeValue | null;
}

export function eventFromRow(row: EventRow): StoredEvent {
  const base = {
    seq: Number(row.event_seq),
    at: toDate(row.event_at),
    job: row.event_job,
    runId: row.event_run_id,
    status: row.event_status as RunStatus | null,
    attempt:
      row.event_attempt === null || row.event_attempt === undefined
        ? null
        : Number(row.event_attempt),
  };
  if (row.event_name === 'run.log') {
    const log =
      row.log_level === null || row.log_seq === null
        ? null
        : logFromRow({
            run_id: row.event_run_id!,
            seq: row.log_seq,
            level: row.log_level,
            message: row.log_message!,
            data: row.log_data,
            time: row.log_time!,
          });
    return { ...base, name: 'run.log', log };
  }
  if (row.event_name === 'run.step') {
    const data = fromJson<Omit<StepRow, 'result'>>(row.event_data)!;
    const { result: _result, ...step } = stepFromRow({ ...data, result: null });
    return { ...base, name: 'run.step', step };
  }
  if (row.event_name === 'job.updated') {
    const data = fromJson<JobRow>(row.event_data)!;
    return { ...base, name: 'job.updated', jobState: jobStateFromRow(data) };
  }
  return {
    ...base,
    name: row.event_name as Exclude<StoredEvent['name'], 'run.log' | 'run.step' | 'job.updated'>,
    run:
      row.id === null
        ? null
        : runFromRow({ ...row, id: row.id, input: null, result: null, attempts: null }, []),
  };
}

/** The cancel columns of a run, as the lease and cancel queries return them. */
export interface CancelRow {
  id: string;
  attempt: number;
  cancel_mode: string | null;
  cancel_reason: string | null;
  cancel_requested_by: string | null;
  cancel_requested_at: TimeValue | null;
}

/** A child a parent's cancel has yet to reach, as both backends return it. */
export interface UncancelledChildRow {
  id: string;
  parent_id: string;
  parent_status: RunStatus;
  mode: CancelMode;
  requested_by: string;
}

export function uncancelledChild(row: UncancelledChildRow): UncancelledChild {
  return {
    id: row.id,
    parentId: row.parent_id,
    parentStatus: row.parent_status,
    mode: row.mode,
    requestedBy: row.requested_by,
  };
}

/** The pause columns of a run, as the lease renewal returns them. */
export interface PauseRow {
  pause_requested_by: string | null;
  pause_requested_at: TimeValue | null;
}

/**
 * A lease the renewal extended: held while the run is running or cancelling; a force-cancelled
 * attempt's lease is renewed while its handler stops, but the run is no longer its to write.
 */
export function renewalFromRow(row: CancelRow & PauseRow & { status: string }): LeaseRenewal {
  const held = row.status === 'running' || row.status === 'cancelling';
  return {
    id: row.id,
    attempt: Number(row.attempt),
    held,
    cancel: cancelFromRow(row),
    // Only a running attempt stops for a pause; a cancel overrides it.
    pause: row.status === 'running' ? pauseFromRow(row) : null,
  };
}

/** A jobs-table row: `enabled` is 0/1 in SQLite and a boolean in PostgreSQL. */
export interface JobRow {
  name: string;
  enabled: number | boolean;
  updated_at: TimeValue;
}

export function jobStateFromRow(row: JobRow): JobState {
  return {
    name: row.name,
    enabled: row.enabled === 1 || row.enabled === true,
    updatedAt: toDate(row.updated_at),
  };
}

/** An instances-table row, with its state as the list query judged it. */
export interface InstanceRow {
  id: string;
  host: string;
  pid: number;
  version: string;
  role: string;
  concurrency: number | null;
  heartbeat_ms: number;
  started_at: TimeValue;
  last_seen_at: TimeValue;
  state: string;
}

/** A run an instance holds, as the held-runs query returns it. */
export interface InstanceRunRow {
  worker_id: string;
  id: string;
  job: string;
  attempt: number;
  status: string;
  started_at: TimeValue | null;
}

/** The named parameters of an instance's beat. */
export function instanceBeatParams(instance: InstanceInfo): Record<string, unknown> {
  const { startedAt, ...fields } = instance;
  return { ...fields, startedAt: startedAt.getTime() };
}

/** Listed instances, each with the runs it holds (rows of any order of instances). */
export function instancesFromRows(
  rows: InstanceRow[],
  runRows: InstanceRunRow[],
): InstanceStatus[] {
  const runs = new Map<string, InstanceRun[]>();
  for (const row of runRows) {
    const list = runs.get(row.worker_id) ?? [];
    list.push({
      id: row.id,
      job: row.job,
      attempt: Number(row.attempt),
      status: row.status as InstanceRun['status'],
      startedAt: toDateOrNull(row.started_at),
    });
    runs.set(row.worker_id, list);
  }
  return rows.map((row) => ({
    id: row.id,
    host: row.host,
    pid: Number(row.pid),
    version: row.version,
    role: row.role as InstanceRole,
    concurrency: row.concurrency === null ? null : Number(row.concurrency),
    heartbeatMs: Number(row.heartbeat_ms),
    startedAt: toDate(row.started_at),
    lastSeenAt: toDate(row.last_seen_at),
    state: row.state as InstanceState,
    runs: runs.get(row.id) ?? [],
  }));
}

/** The refusal of a write of an attempt that no longer holds its run. */
export function leaseLost(ref: AttemptRef): JobdeckError {
  return new JobdeckError(
    'LEASE_LOST',
    `Attempt ${ref.attempt} of run ${ref.id} no longer holds the run.`,
    {
      data: ref,
    },
  );
}

/** The error a rescued run records. */
export function workerLost(workerId: string | null): RunError {
  return { code: 'WORKER_LOST', message: `Worker ${workerId ?? '?'} stopped renewing its lease.` };
}

/** One row of the `runStats` statement: one bucket of one job. Counts may come as text. */
export interface StatsRow {
  bucket: TimeValue;
  job: string;
  created: number | string;
  started: number | string;
  completed: number | string;
  partial: number | string;
  failed: number | string;
  cancelled: number | string;
  duration_p50: number | string | null;
  duration_p95: number | string | null;
  wait_p50: number | string | null;
  wait_p95: number | string | null;
}

export function statsBucketFromRow(row: StatsRow): RunStatsBucket {
  const percentiles = (p50: number | string | null, p95: number | string | null) =>
    p50 === null || p95 === null ? null : { p50: Number(p50), p95: Number(p95) };
  return {
    start: toDate(row.bucket),
    job: row.job,
    created: Number(row.created),
    started: Number(row.started),
    ended: {
      completed: Number(row.completed),
      partial: Number(row.partial),
      failed: Number(row.failed),
      cancelled: Number(row.cancelled),
    },
    durationMs: percentiles(row.duration_p50, row.duration_p95),
    queueWaitMs: percentiles(row.wait_p50, row.wait_p95),
  };
}

/** The `now` part of the statistics from the unfinished counts and the oldest due run's row. */
export function statsNow(
  counts: Partial<Record<RunStatus, number>>,
  oldestDue: { id: string; job: string; due_at: TimeValue } | undefined,
): RunStats['now'] {
  return {
    unfinished: Object.fromEntries(
      UNFINISHED_STATUSES.map((status) => [status, counts[status] ?? 0]),
    ) as RunStats['now']['unfinished'],
    oldestDue: oldestDue
      ? { id: oldestDue.id, job: oldestDue.job, dueAt: toDate(oldestDue.due_at) }
      : null,
  };
}

/**
 * Text that sorts after every run id starting with `prefix` and before the ids that follow them:
 * ids are hex digits and dashes, all below `g`, in byte order and in the usual collations.
 */
export function idPrefixEnd(prefix: string): string {
  return prefix + 'g';
}

/** An alerts-table row as both backends return it. */
export interface AlertRow {
  id: string;
  rule: string;
  key: string;
  event: string;
  job: string;
  run_id: string | null;
  severity: string;
  message: string;
  payload: unknown;
  suppressed: number | boolean;
  created_at: TimeValue;
}

/** A deliveries-table row; `attempts` is a JSON array with times in ms. */
export interface AlertDeliveryRow {
  alert_id: string;
  channel: string;
  status: string;
  attempts: unknown;
  attempt_count: number;
  next_attempt_at: TimeValue;
  finished_at: TimeValue | null;
}

/** A claimed delivery with the columns of its alert. */
export type AlertTaskRow = Pick<AlertDeliveryRow, 'alert_id' | 'channel' | 'attempt_count'> &
  Pick<AlertRow, 'rule' | 'event' | 'job' | 'run_id' | 'severity' | 'message' | 'payload'>;

type StoredAttempt = Omit<AlertAttempt, 'at'> & { at: number };

/** An attempt as the deliveries table keeps it (JSON, time in ms). */
export function attemptJson(attempt: AlertAttempt): string {
  return JSON.stringify({ ...attempt, at: attempt.at.getTime() } satisfies StoredAttempt);
}

export function deliveryFromRow(row: AlertDeliveryRow): AlertDelivery {
  const status = row.status as AlertDeliveryStatus;
  return {
    channel: row.channel,
    status,
    attempts: (fromJson<StoredAttempt[]>(row.attempts) ?? []).map((a) => ({
      ...a,
      at: new Date(a.at),
    })),
    nextAttemptAt: status === 'pending' ? toDate(row.next_attempt_at) : null,
    finishedAt: toDateOrNull(row.finished_at),
  };
}

/** Alerts with their deliveries (rows of any order). */
export function alertsFromRows(rows: AlertRow[], deliveryRows: AlertDeliveryRow[]): AlertRecord[] {
  const byAlert = new Map<string, AlertDelivery[]>();
  for (const row of deliveryRows) {
    const list = byAlert.get(row.alert_id) ?? [];
    list.push(deliveryFromRow(row));
    byAlert.set(row.alert_id, list);
  }
  return rows.map((row) => ({
    id: row.id,
    rule: row.rule,
    key: row.key,
    event: row.event,
    job: row.job,
    runId: row.run_id,
    severity: row.severity,
    message: row.message,
    payload: fromJson(row.payload),
    suppressed: row.suppressed === true || row.suppressed === 1,
    createdAt: toDate(row.created_at),
    deliveries: byAlert.get(row.id) ?? [],
  }));
}

export function alertTaskFromRow(row: AlertTaskRow): AlertDeliveryTask {
  return {
    alertId: row.alert_id,
    channel: row.channel,
    attemptCount: Number(row.attempt_count),
    rule: row.rule,
    event: row.event,
    job: row.job,
    runId: row.run_id,
    severity: row.severity,
    message: row.message,
    payload: fromJson(row.payload),
  };
}
