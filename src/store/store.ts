import type { CancelMode, CancelRecord } from '../core/cancellation.js';
import type { PauseAction, PauseRecord } from '../core/pause.js';
import type { RunError } from '../core/errors.js';
import type { InstanceInfo, InstanceStatus } from '../core/instance.js';
import type {
  LogEntry,
  Run,
  RunItem,
  RunProgress,
  RunStep,
  RunTrigger,
  StoredLogEntry,
  StoredStep,
} from '../core/run.js';
import {
  isTerminal,
  type RunStatus,
  type TerminalStatus,
  type UnfinishedStatus,
} from '../core/status.js';

/**
 * The storage seam. One method per operation, entity first, one params object each. Every write
 * that belongs to an attempt takes an {@link AttemptRef} and is refused with LEASE_LOST once that
 * attempt no longer holds the run (fencing). Times are passed in (`now`) so an injected clock
 * reaches the SQL. SQL lives only in the implementations, in `.sql` files.
 */
export interface Store {
  readonly capabilities: StoreCapabilities;
  /**
   * Wake-ups and cancels from other instances: pushed and watched for health when
   * `capabilities.pushNotify` (PostgreSQL), else a best effort on top of polling (SQLite's watch
   * of its file).
   */
  readonly notifications?: StoreNotifications;

  /** Apply pending migrations under a lock; safe when several instances start at once. */
  migrate(): Promise<MigrationReport>;
  /** Reachability, for health checks. */
  ping(): Promise<void>;
  /** The store's own clock, so instances on many hosts share one time base for leases. */
  timeNow(): Promise<Date>;
  close(): Promise<void>;

  /** Insert a run, or return the existing one with the same (job, createdBy, idempotencyKey). */
  runInsert(params: RunInsertParams): Promise<{ run: Run; created: boolean }>;
  /**
   * Insert many runs with one statement, in one transaction: each answer, in the order given, is
   * the new run, or the existing one for a (job, createdBy, idempotencyKey) already stored or given
   * earlier in the same call (`created: false`). One round trip however many runs, so callers
   * chunk large batches (a few hundred runs a call). No run is exclusive: those go through
   * {@link runInsert}, which takes the job's lock.
   */
  runInsertMany(params: RunInsertManyParams): Promise<{ run: Run; created: boolean }[]>;
  runGet(params: { id: string }): Promise<Run | null>;
  /** Newest first; `cursor` is the id of the last run of the previous page. */
  runList(params: RunListParams): Promise<{ runs: Run[]; nextCursor: string | null }>;
  /** How many runs match the filter, counting no further than `limit`. */
  runCount(params: RunCountParams): Promise<number>;
  /**
   * Runs created, started and ended in [from, to), per bucket of `bucketMs` counted from the epoch
   * (so aligned to UTC) and per job; only buckets and jobs with runs are listed. Percentiles are
   * nearest-rank. `now` places the unfinished runs: their counts and the due waiting run that has
   * waited longest.
   */
  runStats(params: RunStatsParams): Promise<RunStats>;
  /**
   * Claim up to `limit` due runs for a worker, honouring priority, runAt, disabled jobs and per-job
   * concurrency. Items of an earlier attempt that did not succeed are cleared: a new attempt
   * skips the succeeded ones and redoes the rest.
   */
  runClaim(params: RunClaimParams): Promise<Run[]>;
  /** Apply the cancellation table atomically. */
  runCancel(params: RunCancelParams): Promise<RunCancelResult>;
  /**
   * Apply the pause table atomically: a waiting run becomes `paused` at once; a running one keeps
   * running with the request recorded, which its worker learns from {@link leaseRenew} (its
   * attempt then ends `paused`, or a rescue of its expired lease pauses it). Refused actions
   * (`refused`, `finished`) change nothing.
   */
  runPause(params: RunPauseParams): Promise<RunPauseResult>;
  /**
   * A paused run becomes `pending` (due at once) and its pause record is cleared: the next attempt
   * skips the steps earlier ones completed. RUN_NOT_PAUSED (RUN_FINISHED once finished) otherwise.
   */
  runResume(params: { id: string; now: Date }): Promise<Run>;
  /**
   * End an attempt (fenced): finish, back off for a retry, release it on shutdown, or pause it
   * (no try used). A run asked to pause that is backed off or released is paused instead.
   */
  runFinishIfAttempt(params: RunFinishParams): Promise<Run>;
  /**
   * Complete many attempts at once (the fast path of runs without items): each run that its
   * attempt still holds becomes `completed` with its result; the answer is the stored run, or
   * null for an attempt that lost its run (fenced), in the order asked.
   */
  runCompleteMany(params: {
    now: Date;
    runs: { ref: AttemptRef; result: unknown }[];
  }): Promise<(Run | null)[]>;
  /** Set progress (fenced; refused once the run is no longer running or cancelling). */
  runProgressSet(params: { ref: AttemptRef; progress: RunProgress; now: Date }): Promise<void>;
  /** Runs held by this worker that someone asked to stop: the polling path of cancel delivery. */
  runListCancelRequested(params: { workerId: string; ids: string[] }): Promise<CancelRequest[]>;

  /**
   * Extend the leases of a worker's runs; reports per run whether it is still held and any cancel.
   * A force-cancelled attempt keeps (and renews) its lease while its handler stops, unheld.
   */
  leaseRenew(params: LeaseRenewParams): Promise<LeaseRenewal[]>;
  /**
   * The handler of this attempt has stopped (fenced): a run that ended without the attempt's own
   * write (a force cancel) keeps the lease, and with it its concurrency slot, until this call or
   * until the lease expires. A run the attempt still holds is left as it is.
   */
  leaseRelease(params: { ref: AttemptRef }): Promise<void>;

  /** The steps of a run (the newest `last` of them), in the order they first started, each with its result. */
  stepList(params: { runId: string; last?: number }): Promise<StoredStep[]>;
  /**
   * Record a step of the attempt (fenced, LEASE_LOST otherwise): started, completed with its
   * result, or failed. A step is keyed by its name within the run and keeps the place it first
   * had; a completed step is final (a later save changes nothing).
   */
  stepSave(params: { ref: AttemptRef; step: StoredStep }): Promise<void>;

  /** Create or update items of a fan-out (fenced). */
  itemsUpsert(params: { ref: AttemptRef; items: RunItem[] }): Promise<void>;

  /**
   * Append log entries; the store numbers them. With `ref`, refused once another attempt or
   * worker holds the run (logs of a cancelled attempt's cleanup are still accepted). The newest
   * `cap` entries of the run are kept.
   */
  logAppend(params: {
    runId: string;
    ref?: AttemptRef;
    entries: LogEntry[];
    cap: number;
  }): Promise<StoredLogEntry[]>;
  logList(params: { runId: string; afterSeq?: number; limit?: number }): Promise<StoredLogEntry[]>;

  /**
   * Runs whose lease expired: back to `scheduled` (attempts left) or `failed`; `cancelling` ones
   * end cancelled; running ones asked to pause become `paused` (no try used).
   */
  runRescueExpired(params: { now: StoreNow }): Promise<Run[]>;
  /** Waiting runs past their `expireAt`: cancelled with reason `expired`. */
  runExpireUnstarted(params: { now: StoreNow }): Promise<Run[]>;
  /** `scheduled` runs whose time has come become `pending`. */
  runPromoteDue(params: { now: StoreNow }): Promise<number>;
  /** Delete finished runs older than their retention (with their items and logs). */
  runDeleteFinished(params: { now: StoreNow; limit: number }): Promise<number>;

  /**
   * Unfinished runs whose parent was asked to cancel, or failed, that the parent's cascade has not
   * reached (an instance stopped in the middle of it, or the parent spawned after it), with the
   * mode to cancel them in: the parent's (a child cancelling gracefully under a forced parent is
   * listed too), graceful by `system` under a failed one. At most `limit`, by id.
   */
  runListUncancelledChildren(params: { limit: number }): Promise<UncancelledChild[]>;
  /** How many runs are in each unfinished status (for metrics and health). */
  runCountUnfinished(): Promise<Partial<Record<RunStatus, number>>>;
  /**
   * Mark the running and cancelling runs whose attempt started longer ago than their job's limit
   * (`jobs`, else `defaultAfterMs`; a null limit: never) as stuck, once per attempt across all
   * instances, and write a `run.stuck` event for each; the runs marked now.
   */
  runMarkStuck(params: RunMarkStuckParams): Promise<Run[]>;
  /** Per job, the waiting run (pending, or scheduled with its time come) due longest before `dueBefore`. */
  runOldestDueByJob(params: {
    dueBefore: Date;
  }): Promise<{ job: string; id: string; dueAt: Date }[]>;

  /**
   * The event feed after `afterSeq`, oldest first, at most `limit`. Contiguous: it stops before a
   * seq that a transaction still open may fill (`waiting`), so a reader that resumes from the last
   * seq it got never skips one.
   */
  eventList(params: { afterSeq: number; limit: number }): Promise<EventPage>;
  /** The newest seq, and the highest seq retention removed (a reader behind it missed events). */
  eventBounds(): Promise<{ last: number; pruned: number }>;
  /**
   * Remove events written more than `retentionMs` ago, oldest first, about `limit` at a time (a
   * backend that stores a statement's events together removes them together); how many were removed.
   */
  eventDeleteExpired(params: {
    now: StoreNow;
    retentionMs: number;
    limit: number;
  }): Promise<number>;
  /**
   * Be told when any instance may have appended events (NOTIFY, a file watch). Absent, or while
   * the watch is not healthy, readers poll.
   */
  eventWatch?(onAppended: () => void): Promise<EventWatch>;

  /**
   * Register an instance, or record that it lives (an upsert): it was last seen at `now` (the
   * store's clock when null, so instances on hosts whose clocks differ are judged alike).
   */
  instanceBeat(params: { instance: InstanceInfo; now: StoreNow }): Promise<void>;
  /**
   * The registered instances, oldest start first, judged at `now` by their own heartbeats: `lost`
   * past INSTANCE_LOST_AFTER_BEATS, left out past INSTANCE_REMOVED_AFTER_BEATS; each with the
   * running and cancelling runs it holds (their worker_id is its id).
   */
  instanceList(params: { now: StoreNow }): Promise<InstanceStatus[]>;
  /** Unregister an instance (a clean stop); whether it was registered. */
  instanceRemove(params: { id: string }): Promise<boolean>;
  /** Delete instances not seen for INSTANCE_REMOVED_AFTER_BEATS of their heartbeats; how many. */
  instanceDeleteLost(params: { now: StoreNow }): Promise<number>;

  /**
   * Record what an alert rule fired on, once across all instances: the first insert of a (rule,
   * key) wins, later ones change nothing (`created: false`). The winner claims the cooldown of the
   * rule and job; within it the alert is recorded `suppressed`, else one pending delivery per
   * channel is added, due now.
   */
  alertInsert(params: AlertInsertParams): Promise<{ created: boolean; alert: AlertRecord | null }>;
  /** Recent alerts, newest first, each with its deliveries and their attempts. */
  alertList(params: { limit: number; before?: string | null }): Promise<AlertRecord[]>;
  /**
   * Take up to `limit` due pending deliveries of these channels for `owner` for `leaseMs`: no other
   * owner gets them until the lease expires.
   */
  alertDeliveryClaim(params: AlertDeliveryClaimParams): Promise<AlertDeliveryTask[]>;
  /**
   * Record one attempt of a claimed delivery and what follows (delivered, retry later, failed);
   * fenced by the lease: false (nothing written) when `owner` no longer holds it.
   */
  alertDeliveryRecord(params: AlertDeliveryRecordParams): Promise<boolean>;
  /** Delete alerts created more than `retentionMs` ago (with their deliveries); how many. */
  alertDeleteExpired(params: {
    now: StoreNow;
    retentionMs: number;
    limit: number;
  }): Promise<number>;

  /** The run-time enabled flag of jobs, shared by all instances. */
  jobStateList(): Promise<JobState[]>;
  jobStateSet(params: { name: string; enabled: boolean; now: Date }): Promise<JobState>;
}

export interface StoreCapabilities {
  /** Other instances are told at once of new runs and cancels (else they poll). */
  pushNotify: boolean;
  /** Concurrent claimers skip each other's rows instead of queueing on one lock. */
  skipLocked: boolean;
  /** Instances on different hosts may share the store. */
  multiHost: boolean;
}

export interface StoreNotifications {
  /**
   * Listen for wake-ups (a run can be claimed; `job` may be empty when unknown) and cancels
   * (the id of a run asked to stop, with the request when the notification carried it; an empty
   * id when any held run may have been asked, e.g. after a reconnect); returns the unsubscribe.
   */
  listen(handlers: {
    runAvailable?: (job: string) => void;
    cancelRequested?: (runId: string, request: CancelRequest | null) => void;
  }): Promise<() => Promise<void>>;
  /** True while notifications are known to arrive; the runtime polls more often otherwise. */
  readonly healthy: boolean;
  /** False while nobody in this instance listens (an API-only instance): nothing to be healthy. */
  readonly listening?: boolean;
}

/** What the feed holds: the lifecycle of runs and jobs, in the order the store wrote it. */
export const FEED_EVENT_NAMES = [
  'run.created',
  'run.started',
  'run.progress',
  'run.log',
  'run.cancelling',
  'run.finished',
  'run.retrying',
  'run.paused',
  'run.resumed',
  'run.waiting',
  'run.stuck',
  'run.step',
  'job.updated',
] as const;
export type FeedEventName = (typeof FEED_EVENT_NAMES)[number];

/** One event of the feed. */
export type StoredEvent = {
  seq: number;
  /** When the store wrote it. */
  at: Date;
  job: string;
  runId: string | null;
  /** The run's status when the event was written (null for job events). */
  status: RunStatus | null;
  /**
   * The run's attempt when a change of its status or progress, or its stuck mark, was written;
   * null for other events.
   */
  attempt: number | null;
} & (
  | {
      name: Exclude<FeedEventName, 'run.log' | 'run.step' | 'job.updated'>;
      /**
       * The run as stored when the event is read (its status may have moved on since: `status`
       * is the one the event recorded), without input, result, items and attempts; null once deleted.
       */
      run: Run | null;
    }
  /** `log` is null once the line is gone (the run's log cap, or the run's retention). */
  | { name: 'run.log'; log: StoredLogEntry | null }
  /** A durable step started or ended: the step as that write stored it (without its result). */
  | { name: 'run.step'; step: RunStep }
  | { name: 'job.updated'; jobState: JobState }
);

export interface EventPage {
  events: StoredEvent[];
  /** Events past a seq that an open transaction may still fill were held back: ask again soon. */
  waiting: boolean;
}

export interface EventWatch {
  /** False while the watch is known to miss appends (the reader then polls often). */
  readonly healthy: boolean;
  close(): Promise<void>;
}

export interface MigrationReport {
  applied: string[];
  /** The highest migration version this code has. */
  current: number;
}

/**
 * The time of a comparison with leases, due times or retention; null: the store's own clock (the
 * database's on PostgreSQL, so that instances on hosts whose clocks differ agree).
 */
export type StoreNow = Date | null;

/** The identity of one attempt: the fence of its writes. */
export interface AttemptRef {
  id: string;
  attempt: number;
  workerId: string;
}

export interface RunInsertParams {
  id: string;
  job: string;
  input: unknown;
  priority: number;
  runAt: Date;
  maxAttempts: number;
  createdBy: string;
  trigger: RunTrigger;
  idempotencyKey: string | null;
  expireAt: Date | null;
  retentionMs: number;
  retryOf: string | null;
  /** The run whose handler starts this one (default none). */
  parentId?: string | null;
  now: Date;
  /** Refuse with ALREADY_RUNNING while a run of this job is pending, running, cancelling or backing off for a retry. */
  exclusive: boolean;
}

/** A run to insert with others ({@link Store.runInsertMany}): the call gives `now`, none is exclusive. */
export type NewRun = Omit<RunInsertParams, 'now' | 'exclusive'>;

export interface RunInsertManyParams {
  /** The creation time of every run. */
  now: Date;
  runs: NewRun[];
}

/** Which runs a list or count is about; every filter given must hold. */
export interface RunFilter {
  /** Any of these statuses. */
  status?: RunStatus[];
  job?: string;
  createdBy?: string;
  /** Any of these ids. */
  ids?: string[];
  /** Created at or after this time. */
  createdFrom?: Date;
  /** Created before this time. */
  createdTo?: Date;
  /** Ids that start with this text (a whole id matches itself). */
  idPrefix?: string;
  /** The children of this run. */
  parentId?: string;
}

export interface RunListParams extends RunFilter {
  limit: number;
  cursor?: string | null;
}

export interface RunCountParams extends RunFilter {
  /** Stop counting here: the answer is at most this. */
  limit: number;
}

export interface RunStatsParams {
  from: Date;
  to: Date;
  bucketMs: number;
  now: Date;
}

/** The 50th and 95th percentiles of some durations, in milliseconds (nearest-rank). */
export interface Percentiles {
  p50: number;
  p95: number;
}

/** What happened to the runs of one job in one bucket of time. */
export interface RunStatsBucket {
  /** The start of the bucket. */
  start: Date;
  job: string;
  /** Runs created in the bucket. */
  created: number;
  /** Runs whose (latest) attempt started in the bucket. */
  started: number;
  /** Runs that ended in the bucket, by final status. */
  ended: Record<TerminalStatus, number>;
  /** finishedAt − startedAt of the runs that ended in the bucket after starting; null if none. */
  durationMs: Percentiles | null;
  /** startedAt − max(runAt, createdAt) of the runs that started in the bucket; null if none. */
  queueWaitMs: Percentiles | null;
}

export interface RunStats {
  buckets: RunStatsBucket[];
  now: {
    /** Runs in each unfinished status. */
    unfinished: Record<UnfinishedStatus, number>;
    /** The due waiting run (pending, or scheduled with its time come) with the earliest runAt. */
    oldestDue: { id: string; job: string; dueAt: Date } | null;
  };
}

export interface RunClaimParams {
  workerId: string;
  now: StoreNow;
  leaseMs: number;
  limit: number;
  /**
   * The jobs this worker can execute; `concurrency` caps active runs of the job across all
   * instances. A force-cancelled run whose handler is still stopping (its lease kept) counts.
   * `rateLimit` allows at most `max` claims of the job in any `perMs`, across all instances
   * (each claim recorded at its `startedAt`); `limit` caps this job's runs in this claim.
   */
  jobs: ClaimJob[];
}

export interface ClaimJob {
  name: string;
  concurrency: number | null;
  rateLimit?: { max: number; perMs: number } | null;
  limit?: number;
}

/**
 * How many more runs of each job a claim may take, for the jobs it must count (absent: any
 * number): the least of the job's per-claim `limit`, its concurrency left (`active` runs) and its
 * rate limit left (`started` in the window). A capped or rate-limited job whose counts could not
 * be taken this round (`counted` false: another claimer holds its lock) gets none.
 */
export function claimRoom(
  jobs: readonly ClaimJob[],
  counts: {
    active: ReadonlyMap<string, number>;
    started: ReadonlyMap<string, number>;
    counted?: (job: string) => boolean;
  },
): Map<string, number> {
  const room = new Map<string, number>();
  for (const job of jobs) {
    let most = job.limit ?? Infinity;
    if (job.concurrency !== null || job.rateLimit) {
      if (counts.counted && !counts.counted(job.name)) most = 0;
      if (job.concurrency !== null)
        most = Math.min(most, job.concurrency - (counts.active.get(job.name) ?? 0));
      if (job.rateLimit)
        most = Math.min(most, job.rateLimit.max - (counts.started.get(job.name) ?? 0));
    }
    if (most !== Infinity) room.set(job.name, most);
  }
  return room;
}

/**
 * The outcome an attempt's end stores, given the run's status: a run asked to stop whose handler
 * suspended it (a wait) has stopped, and ends as a cancel would.
 */
export function finishOutcome(current: RunStatus, outcome: RunFinishOutcome): RunFinishOutcome {
  return outcome.status === 'waiting' && current === 'cancelling'
    ? { status: 'cancelled' }
    : outcome;
}

/**
 * What a parent's wait finds among the children it lists, each as the store's mark left it
 * (`awaited`: listed and not ended): how many it waits for, and whether one of them already ended
 * other than `completed` (then the parent is due again at once: its waitFor throws). Runs that are
 * not listed, or not its children, do not count.
 */
export function waitCounts(
  children: readonly string[],
  marked: readonly { id: string; status: RunStatus; awaited: boolean | number }[],
): { unfinished: number; endedBadly: boolean } {
  const listed = new Set(children);
  let unfinished = 0;
  let endedBadly = false;
  for (const child of marked) {
    if (!listed.has(child.id)) continue;
    if (child.awaited) unfinished++;
    else if (isTerminal(child.status) && child.status !== 'completed') endedBadly = true;
  }
  return { unfinished, endedBadly };
}

/** Whether a claim of `job` needs counting: a concurrency cap, a rate limit or a per-claim limit. */
export function claimIsCapped(job: ClaimJob): boolean {
  return job.concurrency !== null || (job.rateLimit ?? null) !== null || job.limit !== undefined;
}

export interface RunCancelParams {
  id: string;
  mode: CancelMode;
  reason: string | null;
  requestedBy: string;
  now: Date;
}

/** A child run a parent's cancel has yet to reach, and how that parent was cancelled. */
export interface UncancelledChild {
  id: string;
  parentId: string;
  parentStatus: RunStatus;
  mode: CancelMode;
  requestedBy: string;
}

/** What a cancel did (`action`, as the cancellation table says) and the run as it is now. */
export interface RunCancelResult {
  run: Run;
  /** What the cancellation table did; `finished` means refused (the run is unchanged). */
  action: 'cancel-now' | 'request' | 'force' | 'unchanged' | 'finished';
}

export type RunFinishOutcome =
  | { status: 'completed' | 'partial'; result: unknown }
  | { status: 'failed'; error: RunError; result?: unknown }
  /** Stopped by a cancel: the store ends it `partial` when some items succeeded, else `cancelled`. */
  | { status: 'cancelled'; result?: unknown }
  | { status: 'scheduled'; runAt: Date; error: RunError }
  | { status: 'pending' }
  /** Stopped at a checkpoint after a pause request: held until resumed; no try is used. */
  | { status: 'paused' }
  /**
   * Suspended until these children of the run end (no try used): `waiting`, or `pending` at once
   * when none of them is still unfinished or one already ended other than `completed`.
   */
  | { status: 'waiting'; children: string[] };

export interface RunFinishParams {
  ref: AttemptRef;
  now: Date;
  outcome: RunFinishOutcome;
}

export interface RunPauseParams {
  id: string;
  requestedBy: string;
  now: Date;
}

/** What a pause did (`action`, as the pause table says) and the run as it is now. */
export interface RunPauseResult {
  run: Run;
  /** `refused` and `finished` mean nothing changed. */
  action: PauseAction;
}

export interface CancelRequest {
  id: string;
  attempt: number;
  cancel: CancelRecord;
}

export interface LeaseRenewParams {
  workerId: string;
  now: StoreNow;
  leaseMs: number;
  runs: { id: string; attempt: number }[];
}

export interface LeaseRenewal {
  id: string;
  attempt: number;
  held: boolean;
  cancel: CancelRecord | null;
  /** A pause asked of the running attempt: its handler stops at its next checkpoint. */
  pause: PauseRecord | null;
}

export interface RunMarkStuckParams {
  now: StoreNow;
  /** The limit of jobs not listed in `jobs`. */
  defaultAfterMs: number;
  /** Jobs with a limit of their own; null: their runs are never stuck. */
  jobs: { name: string; afterMs: number | null }[];
  /** Runs marked at most per call. */
  limit: number;
}

/** The state of one delivery of an alert to one channel. */
export const ALERT_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type AlertDeliveryStatus = (typeof ALERT_DELIVERY_STATUSES)[number];

/** One try at sending an alert to a channel. */
export interface AlertAttempt {
  at: Date;
  ok: boolean;
  durationMs: number;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it failed (secrets removed). */
  error?: string;
}

export interface AlertDelivery {
  channel: string;
  status: AlertDeliveryStatus;
  attempts: AlertAttempt[];
  /** When the next attempt is due (pending); when it was delivered or given up otherwise. */
  nextAttemptAt: Date | null;
  finishedAt: Date | null;
}

/** An alert as stored: what a rule fired on, and its deliveries. */
export interface AlertRecord {
  id: string;
  rule: string;
  /** What it fired on, unique per rule: `seq:<event seq>`, `backlog:<run id>`. */
  key: string;
  event: string;
  job: string;
  runId: string | null;
  severity: string;
  message: string;
  payload: unknown;
  /** Within the cooldown of its rule and job: never sent. */
  suppressed: boolean;
  createdAt: Date;
  deliveries: AlertDelivery[];
}

export interface AlertInsertParams {
  id: string;
  rule: string;
  key: string;
  event: string;
  job: string;
  runId: string | null;
  severity: string;
  message: string;
  payload: unknown;
  channels: string[];
  /** How long the rule stays quiet for this job once it sends. */
  cooldownMs: number;
  now: StoreNow;
}

export interface AlertDeliveryClaimParams {
  owner: string;
  /** The channels the claimer can send to. */
  channels: string[];
  now: StoreNow;
  leaseMs: number;
  limit: number;
}

/** A claimed delivery with what to send. */
export interface AlertDeliveryTask {
  alertId: string;
  channel: string;
  /** Attempts made before this one. */
  attemptCount: number;
  rule: string;
  event: string;
  job: string;
  runId: string | null;
  severity: string;
  message: string;
  payload: unknown;
}

export interface AlertDeliveryRecordParams {
  alertId: string;
  channel: string;
  owner: string;
  attempt: AlertAttempt;
  /** `retry`: try again `retryInMs` from now (the store's clock). */
  outcome: { status: 'delivered' } | { status: 'failed' } | { status: 'retry'; retryInMs: number };
  now: StoreNow;
}

export interface JobState {
  name: string;
  enabled: boolean;
  updatedAt: Date;
}
