import { SYSTEM_PRINCIPAL, roleAtLeast, type Principal, type Role } from '../core/glossary.js';
import type { Clock } from '../core/clock.js';
import {
  ERROR_CODES,
  JobdeckError,
  invalidField,
  type ErrorCode,
  type FieldIssue,
} from '../core/errors.js';
import { newRunId } from '../core/ids.js';
import {
  stepOfRun,
  type Run,
  type RunStep,
  type RunTrigger,
  type StoredLogEntry,
} from '../core/run.js';
import { isRetryable, isTerminal, type RunStatus } from '../core/status.js';
import type { EventBus } from '../events/bus.js';
import type { EventFeed } from '../events/feed.js';
import type { JobDefinition } from '../jobs/define.js';
import type { JobRegistry } from '../jobs/registry.js';
import { assertStorable, parseOrThrow } from '../jobs/validate.js';
import type {
  JobState,
  NewRun,
  RunFilter,
  RunInsertParams,
  RunStats,
  RunStatsBucket,
  Store,
  RunPauseResult,
} from '../store/store.js';
import { isStoreUnavailable } from '../store/unavailable.js';
import { statsWindow, type StatsBucket, type StatsWindow } from './stats-window.js';

/** What `deck.runs.create` takes: the job's name, its input, and when and how to run it. */
export interface CreateRunParams {
  job: string;
  input?: unknown;
  /** Start no earlier than this. */
  runAt?: Date;
  priority?: number;
  /** A second create with the same key (for this job) returns the first run. */
  idempotencyKey?: string | null;
  trigger?: RunTrigger;
  principal?: Principal;
}

/** A child run as a handler asks for it (`ctx.spawn`): its key tells it apart within its parent. */
export interface ChildSpec {
  job: string;
  input?: unknown;
  key: string;
  priority?: number;
  runAt?: Date;
}

/** The idempotency key of a parent's child: one child per key and parent. */
export function childKey(parentId: string, key: string): string {
  return `child:${parentId}:${key}`;
}

/** One run of a bulk create ({@link RunService.createMany}): what a single create takes. */
export type CreateManyItem = Omit<CreateRunParams, 'trigger' | 'principal'>;

/** Why one run of a bulk create was refused: the error a single create would have thrown. */
export interface RunRefusal {
  code: ErrorCode;
  message: string;
  /** The fields at fault (INVALID_INPUT), with paths from the run: `['input', 'steps']`. */
  details?: FieldIssue[];
}

/** The answer for one run of a bulk create: the run, or why it was refused. */
export type CreateManyResult = { run: Run; created: boolean } | { error: RunRefusal };

/** Runs a bulk create inserts per statement (and transaction). */
export const CREATE_MANY_CHUNK = 500;

/** What a create decides about its run; the job decides the rest (see {@link newRun}). */
type RunFields = Pick<
  NewRun,
  | 'input'
  | 'priority'
  | 'runAt'
  | 'createdBy'
  | 'trigger'
  | 'idempotencyKey'
  | 'retryOf'
  | 'parentId'
>;

/**
 * A new run of `job`: its fields, and what the job decides (attempts, expiry, retention). One
 * literal, not a spread of `fields` plus more: V8 builds that shape slowly, and a bulk create
 * builds thousands.
 */
function newRun(job: JobDefinition, fields: RunFields): NewRun {
  return {
    id: newRunId(),
    job: job.name,
    input: fields.input,
    priority: fields.priority,
    runAt: fields.runAt,
    maxAttempts: job.maxAttempts,
    createdBy: fields.createdBy,
    trigger: fields.trigger,
    idempotencyKey: fields.idempotencyKey,
    expireAt:
      job.expireAfterMs === null ? null : new Date(fields.runAt.getTime() + job.expireAfterMs),
    retentionMs: job.retentionMs,
    retryOf: fields.retryOf,
    parentId: fields.parentId ?? null,
  };
}

/** The single insert of a new run at `now`: exclusive when its job allows no concurrent run. */
function insertOf(job: JobDefinition, run: NewRun, now: Date): RunInsertParams {
  return { ...run, now, exclusive: !job.allowConcurrent };
}

/** Which runs to list or count; every filter given must hold. */
export interface RunListFilter {
  /** Any of these statuses. */
  status?: RunStatus[];
  job?: string;
  createdBy?: string;
  /** Created at or after this time. */
  createdFrom?: Date;
  /** Created before this time. */
  createdTo?: Date;
  /** A run id, or the start of one (case does not matter). */
  idPrefix?: string;
  /** Only the children of this run (`ctx.spawn`). */
  parentId?: string;
}

/** What `deck.runs.list` takes: a filter, a page size (default 50, at most 500) and the cursor of the next page. */
export interface ListRunsParams extends RunListFilter {
  limit?: number;
  cursor?: string | null;
}

/** Up to this many matching runs are counted exactly; past it the total says so. */
export const RUN_TOTAL_CAP = 10_000;

/** The statistics of a window: what the store counted, the window it covers, and its `now`. */
export interface RunStatsView extends StatsWindow {
  buckets: RunStatsBucket[];
  now: {
    at: Date;
    unfinished: RunStats['now']['unfinished'];
    /** The due waiting run that has waited longest, and for how long. */
    oldestPending: { runId: string; job: string; dueAt: Date; ageMs: number } | null;
  };
}

/** A job as callers see it: its definition and its run-time enabled flag. */
export interface JobView {
  definition: JobDefinition;
  enabled: boolean;
}

/** The store's form of a filter: the creation window checked, an id prefix in lower case. */
function storeFilter(filter: RunListFilter): RunFilter {
  const { createdFrom, createdTo } = filter;
  if (createdFrom && createdTo && createdFrom.getTime() >= createdTo.getTime())
    throw invalidField('to', 'must be after from');
  return {
    ...(filter.status?.length ? { status: filter.status } : {}),
    ...(filter.job ? { job: filter.job } : {}),
    ...(filter.createdBy ? { createdBy: filter.createdBy } : {}),
    ...(createdFrom ? { createdFrom } : {}),
    ...(createdTo ? { createdTo } : {}),
    ...(filter.idPrefix ? { idPrefix: filter.idPrefix.toLowerCase() } : {}),
    ...(filter.parentId ? { parentId: filter.parentId } : {}),
  };
}

/**
 * What a bulk create answers for a run whose checks or insert failed: a coded error (a store out of
 * reach is STORE_UNAVAILABLE). Anything else is a fault of ours, thrown for the whole call.
 */
function refusal(err: unknown): { error: RunRefusal } {
  if (err instanceof JobdeckError) {
    return {
      error: {
        code: err.code,
        message: err.message,
        ...(err.details ? { details: err.details } : {}),
      },
    };
  }
  if (isStoreUnavailable(err))
    return { error: { code: 'STORE_UNAVAILABLE', message: ERROR_CODES.STORE_UNAVAILABLE.message } };
  throw err;
}

/** Refuse with FORBIDDEN unless the principal has at least `role`. */
export function requireRole(principal: Principal, role: Role): void {
  if (!roleAtLeast(principal.role, role)) {
    throw new JobdeckError(
      'FORBIDDEN',
      `This needs the ${role} role; ${principal.name} is ${principal.role}.`,
    );
  }
}

/** Operators act on their own runs only; admins on any. */
export function requireOwnerOrAdmin(principal: Principal, run: Run, action: string): void {
  requireRole(principal, 'operator');
  if (principal.role !== 'admin' && run.createdBy !== principal.name) {
    throw new JobdeckError(
      'FORBIDDEN',
      `Only ${run.createdBy} or an admin may ${action} run ${run.id}.`,
    );
  }
}

/** How to wait for a run to finish ({@link RunService.wait}). */
export interface WaitOptions {
  /** Stop waiting when it aborts: the wait rejects with the signal's reason (an `AbortError`). */
  signal?: AbortSignal;
  /** Give up after this many milliseconds: the wait rejects with `WAIT_TIMEOUT`. Default: no limit. */
  timeoutMs?: number;
}

/** How long the enabled flags of jobs are reused before they are read again. */
const JOB_STATE_TTL_MS = 1000;

/**
 * How often a wait reads its run should no event reach it: the instance stopped (no feed), or the
 * store's watch down (the feed then polls too).
 */
const WAIT_POLL_MS = 1000;

/** Creating, reading and retrying runs, and the jobs' run-time state. Surfaces call this, never the store. */
export class RunService {
  private stateCache: { at: number; states: Promise<Map<string, JobState>> } | null = null;

  constructor(
    private readonly store: Store,
    private readonly registry: JobRegistry,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    /** The store's event feed while the instance runs (null when stopped): what wait listens to. */
    private readonly feed: () => EventFeed | null = () => null,
  ) {}

  /**
   * Create a run of a registered job. Without a principal, the run is created by the system
   * principal (an embedded caller is trusted); the HTTP API always passes the caller's.
   */
  async create(params: CreateRunParams): Promise<{ run: Run; created: boolean }> {
    const now = this.clock.now();
    const { job, run } = this.prepare(
      params,
      params.principal ?? SYSTEM_PRINCIPAL,
      params.trigger ?? 'api',
      now,
      await this.jobStates(),
    );
    return this.announce(await this.store.runInsert(insertOf(job, run, now)));
  }

  /**
   * Create many runs, each checked on its own as {@link create} checks one: the answers come in
   * the order given, each the run (`created: false` when its idempotency key names an earlier run,
   * also one earlier in the same call) or why that one was refused, so a bad run never sinks the
   * others. Runs are inserted {@link CREATE_MANY_CHUNK} at a time, one statement and transaction
   * each; the runs of a chunk the store could not take are refused with its error. A job that
   * allows no concurrent runs has its runs created one by one, as `create` does. Needs operator.
   */
  async createMany(
    items: CreateManyItem[],
    options: { principal?: Principal } = {},
  ): Promise<CreateManyResult[]> {
    const principal = options.principal ?? SYSTEM_PRINCIPAL;
    requireRole(principal, 'operator');
    // Called from JavaScript, the list may be anything: say so rather than fail on it.
    if (!Array.isArray(items)) throw invalidField('items', 'must be an array of runs');
    const now = this.clock.now();
    const states = await this.jobStates();
    const results = new Array<CreateManyResult>(items.length);
    const together: { index: number; run: NewRun }[] = [];
    const alone: { index: number; params: RunInsertParams }[] = [];
    for (let index = 0; index < items.length; index++) {
      try {
        const { job, run } = this.prepare(items[index]!, principal, 'api', now, states);
        if (job.allowConcurrent) together.push({ index, run });
        else alone.push({ index, params: insertOf(job, run, now) });
      } catch (err) {
        results[index] = refusal(err);
      }
    }
    for (let start = 0; start < together.length; start += CREATE_MANY_CHUNK) {
      const chunk = together.slice(start, start + CREATE_MANY_CHUNK);
      try {
        const answers = await this.store.runInsertMany({ now, runs: chunk.map((c) => c.run) });
        answers.forEach((answer, i) => (results[chunk[i]!.index] = this.announce(answer)));
      } catch (err) {
        const refused = refusal(err);
        for (const { index } of chunk) results[index] = refused;
      }
    }
    for (const { index, params } of alone) {
      try {
        results[index] = this.announce(await this.store.runInsert(params));
      } catch (err) {
        results[index] = refusal(err);
      }
    }
    return results;
  }

  /**
   * Start a child of `parent` for its handler (`ctx.spawn`): created by the parent's creator (who
   * may then cancel it), checked as any create is, except that a job nobody may start by hand may
   * still be a child. The same `key` within one parent gives the same child: a parent's later
   * attempt that spawns again finds the child its earlier one started.
   */
  async createChild(parent: Run, spec: ChildSpec): Promise<Run> {
    const now = this.clock.now();
    const { job, run } = this.prepare(
      { ...spec, idempotencyKey: childKey(parent.id, spec.key) },
      { name: parent.createdBy, role: 'operator' },
      'parent',
      now,
      await this.jobStates(),
    );
    return this.announce(
      await this.store.runInsert(insertOf(job, { ...run, parentId: parent.id }, now)),
    ).run;
  }

  /** Tell this process of a run that an insert created. */
  private announce(answer: { run: Run; created: boolean }): { run: Run; created: boolean } {
    if (answer.created) this.bus.emit('run.created', { run: answer.run });
    return answer;
  }

  /**
   * Check a create, as `principal` and at `now`, and work out the run to insert: the job exists and
   * may be started this way, is enabled (in `states`), and the input fits its schema.
   */
  private prepare(
    params: CreateManyItem,
    principal: Principal,
    trigger: RunTrigger,
    now: Date,
    states: Map<string, JobState>,
  ): { job: JobDefinition; run: NewRun } {
    const job = this.registry.require(params.job);
    if (!job.canTrigger && (trigger === 'api' || trigger === 'manual')) {
      throw new JobdeckError('FORBIDDEN', `Job ${job.name} cannot be started by hand.`);
    }
    if (!(states.get(job.name)?.enabled ?? job.enabled))
      throw new JobdeckError('JOB_DISABLED', `Job ${job.name} is disabled.`);
    const input = parseOrThrow(
      job.input,
      params.input ?? (job.schedule ? job.schedule.input : undefined),
    );
    assertStorable(input);
    // A schedule slot's run is due at its slot even when inserted late: its runAt stays on the grid.
    const runAt =
      params.runAt && (trigger === 'schedule' || params.runAt > now) ? params.runAt : now;
    return {
      job,
      run: newRun(job, {
        input,
        priority: params.priority ?? job.priority,
        runAt,
        createdBy: principal.name,
        trigger,
        idempotencyKey: params.idempotencyKey ?? null,
        retryOf: null,
      }),
    };
  }

  /** Start a failed or cancelled run again, as a new run that points back to it. */
  async retry(id: string, principal: Principal): Promise<Run> {
    const previous = await this.get(id);
    requireOwnerOrAdmin(principal, previous, 'retry');
    if (!isRetryable(previous.status)) {
      throw new JobdeckError(
        'RUN_NOT_RETRYABLE',
        `Run ${id} is ${previous.status}; only failed or cancelled runs can be retried.`,
        {
          data: previous,
        },
      );
    }
    const job = this.registry.require(previous.job);
    if (!(await this.isEnabled(job)))
      throw new JobdeckError('JOB_DISABLED', `Job ${job.name} is disabled.`);
    const now = this.clock.now();
    const run = newRun(job, {
      input: previous.input,
      priority: previous.priority,
      runAt: now,
      createdBy: principal.name,
      trigger: 'retry',
      idempotencyKey: null,
      retryOf: previous.id,
    });
    const { run: created } = await this.store.runInsert(insertOf(job, run, now));
    this.bus.emit('run.created', { run: created });
    return created;
  }

  /**
   * Pause a run, as the pause table says for its status: a waiting run is held at once (`paused`);
   * a running one finishes its current step and stops at its handler's next checkpoint, its
   * worker told with the next heartbeat (about a second). Without a principal the system
   * pauses; otherwise the owner or an admin. RUN_FINISHED once ended; INVALID_TRANSITION while
   * cancelling (it is stopping for good).
   */
  async pause(id: string, principal: Principal = SYSTEM_PRINCIPAL): Promise<RunPauseResult> {
    requireOwnerOrAdmin(principal, await this.get(id), 'pause');
    const result = await this.store.runPause({
      id,
      requestedBy: principal.name,
      now: this.clock.now(),
    });
    if (result.action === 'finished')
      throw new JobdeckError('RUN_FINISHED', `Run ${id} has already ended: ${result.run.status}.`, {
        data: result.run,
      });
    if (result.action === 'refused')
      throw new JobdeckError(
        'INVALID_TRANSITION',
        `Run ${id} is ${result.run.status}: a run being cancelled cannot be paused.`,
        { data: result.run },
      );
    if (result.action === 'hold-now') this.bus.emit('run.paused', { run: result.run });
    return result;
  }

  /**
   * Resume a paused run: it becomes `pending` and a worker claims it as a new attempt, which skips
   * the steps earlier attempts completed. Owner or admin, as {@link pause}; RUN_NOT_PAUSED when
   * the run is not paused.
   */
  async resume(id: string, principal: Principal = SYSTEM_PRINCIPAL): Promise<Run> {
    requireOwnerOrAdmin(principal, await this.get(id), 'resume');
    const run = await this.store.runResume({ id, now: this.clock.now() });
    this.bus.emit('run.resumed', { run });
    return run;
  }

  async get(id: string): Promise<Run> {
    const run = await this.store.runGet({ id });
    if (!run) throw new JobdeckError('RUN_NOT_FOUND', `No run has id ${id}.`);
    return run;
  }

  /**
   * The durable steps of a run (`ctx.step`), in the order they first started: each with its
   * status and the attempt that last ran it (results stay in the store). `last`: only the newest
   * that many.
   */
  async steps(id: string, options: { last?: number } = {}): Promise<RunStep[]> {
    return (await this.detail(id, { steps: options.last })).steps;
  }

  /**
   * The child runs of a run (`ctx.spawn`), oldest first: the newest `last` of them (default 1,000).
   * RUN_NOT_FOUND when no run has this id.
   */
  async children(id: string, options: { last?: number } = {}): Promise<Run[]> {
    const runs = await this.newestChildren(id, options.last ?? 1000);
    if (runs.length === 0) await this.get(id);
    return runs;
  }

  /**
   * A run with its newest `steps` steps (all without a number) and, when asked, its newest
   * `children`, as GET /api/runs/:id shows them. RUN_NOT_FOUND when no run has this id.
   */
  async detail(
    id: string,
    limits: { steps?: number; children?: number },
  ): Promise<{ run: Run; steps: RunStep[]; children: Run[] }> {
    const [stored, children] = await Promise.all([
      this.store.stepList({ runId: id, ...(limits.steps ? { last: limits.steps } : {}) }),
      limits.children ? this.newestChildren(id, limits.children) : [],
    ]);
    // Read after the steps: a step of an attempt newer than the run read would look interrupted.
    const run = await this.get(id);
    const steps = stored.map(({ result: _result, ...step }) => stepOfRun(step, run));
    return { run, steps, children };
  }

  /** The newest `last` children of a run, oldest first. */
  private async newestChildren(id: string, last: number): Promise<Run[]> {
    const { runs } = await this.store.runList({ parentId: id, limit: last, cursor: null });
    return runs.reverse();
  }

  /**
   * Resolve with the run once it has finished (`completed`, `partial`, `failed` or `cancelled`),
   * at once when it already has. Woken by this process's events and by the store's event feed
   * (other processes' workers), with a read every second as the fallback. Rejects with
   * `RUN_NOT_FOUND`, with `WAIT_TIMEOUT` after `timeoutMs` (its `data` is the run as last read),
   * or with the signal's reason when it aborts; the run itself is never touched.
   */
  wait(id: string, options: WaitOptions = {}): Promise<Run> {
    const { signal, timeoutMs } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0))
      return Promise.reject(
        invalidField('timeoutMs', 'must be a number of milliseconds, 0 or more'),
      );
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<Run>((resolve, reject) => {
      // Rejects with what was thrown or given as it is (an abort's reason need not be an Error).
      const fail: (reason: unknown) => void = reject;
      const offs: (() => void)[] = [];
      let done = false;
      let last: Run | null = null;
      let reading = false;
      let again = false;
      const settle = (end: () => void) => {
        if (done) return;
        done = true;
        for (const off of offs) off();
        end();
      };
      // One read at a time; a wake-up during a read reads once more after it.
      const check = async (): Promise<void> => {
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        try {
          do {
            again = false;
            const run = await this.get(id);
            last = run;
            if (isTerminal(run.status)) return settle(() => resolve(run));
          } while (again && !done);
        } catch (err) {
          // The store busy or unreachable for a moment: the next wake-up or poll reads again.
          if (last === null || !isStoreUnavailable(err)) settle(() => fail(err));
        } finally {
          reading = false;
        }
      };
      const wake = () => void check();
      offs.push(
        this.bus.on('run.finished', ({ payload }) => {
          if (payload.run.id === id) wake();
        }),
      );
      const feed = this.feed();
      if (feed) {
        offs.push(
          feed.subscribe((events) => {
            if (events.some((e) => e.runId === id && e.status !== null && isTerminal(e.status)))
              wake();
          }),
        );
        // The feed's start is shared by its readers; if the store cannot start it, the poll remains.
        feed.start().catch(() => {});
      }
      const poll = setInterval(wake, WAIT_POLL_MS);
      offs.push(() => clearInterval(poll));
      if (timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          settle(() =>
            reject(
              new JobdeckError(
                'WAIT_TIMEOUT',
                `Run ${id} did not finish within ${timeoutMs} ms${last ? `; it is ${last.status}` : ''}.`,
                { data: last },
              ),
            ),
          );
        }, timeoutMs);
        offs.push(() => clearTimeout(timer));
      }
      if (signal) {
        const onAbort = () => settle(() => fail(signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        offs.push(() => signal.removeEventListener('abort', onAbort));
      }
      wake();
    });
  }

  list(params: ListRunsParams = {}): Promise<{ runs: Run[]; nextCursor: string | null }> {
    return this.store.runList({
      ...storeFilter(params),
      limit: Math.min(Math.max(params.limit ?? 50, 1), 500),
      cursor: params.cursor ?? null,
    });
  }

  /** How many runs match: exact up to {@link RUN_TOTAL_CAP}; past it `capped` and the cap. */
  async count(filter: RunListFilter = {}): Promise<{ total: number; capped: boolean }> {
    const counted = await this.store.runCount({ ...storeFilter(filter), limit: RUN_TOTAL_CAP + 1 });
    return counted > RUN_TOTAL_CAP
      ? { total: RUN_TOTAL_CAP, capped: true }
      : { total: counted, capped: false };
  }

  /**
   * Runs created, started and ended per bucket and job over a window (see {@link statsWindow} for
   * its defaults and limits), and the unfinished runs now.
   */
  async stats(
    request: { from?: Date; to?: Date; bucket?: StatsBucket } = {},
  ): Promise<RunStatsView> {
    const now = this.clock.now();
    const window = statsWindow(request, now);
    const stats = await this.store.runStats({
      from: window.from,
      to: window.to,
      bucketMs: window.bucketMs,
      now,
    });
    const due = stats.now.oldestDue;
    return {
      ...window,
      buckets: stats.buckets,
      now: {
        at: now,
        unfinished: stats.now.unfinished,
        oldestPending: due
          ? {
              runId: due.id,
              job: due.job,
              dueAt: due.dueAt,
              ageMs: now.getTime() - due.dueAt.getTime(),
            }
          : null,
      },
    };
  }

  async logs(id: string, afterSeq = 0, limit = 1000): Promise<StoredLogEntry[]> {
    await this.get(id);
    return this.store.logList({ runId: id, afterSeq, limit });
  }

  /** Every registered job with its run-time enabled flag. */
  async jobs(): Promise<JobView[]> {
    const states = await this.jobStates();
    return this.registry.list().map((definition) => ({
      definition,
      enabled: states.get(definition.name)?.enabled ?? definition.enabled,
    }));
  }

  async setEnabled(name: string, enabled: boolean, principal: Principal): Promise<JobView> {
    requireRole(principal, 'admin');
    const definition = this.registry.require(name);
    await this.store.jobStateSet({ name, enabled, now: this.clock.now() });
    this.stateCache = null;
    return { definition, enabled };
  }

  /** Unfinished runs by status, across the store. */
  countUnfinished(): Promise<Partial<Record<RunStatus, number>>> {
    return this.store.runCountUnfinished();
  }

  /** Resolves when the store answers. */
  ping(): Promise<void> {
    return this.store.ping();
  }

  /**
   * Whether pushed notifications arrive: `ok`, `down` (the runtime polls meanwhile), or `none` (the
   * store has none, or nothing in this instance listens — e.g. `serve --no-worker`).
   */
  notificationState(): 'ok' | 'down' | 'none' {
    const notifications = this.store.notifications;
    // SQLite's watch of its file only speeds things up: there is nothing to be down.
    if (!this.store.capabilities.pushNotify || !notifications) return 'none';
    if (notifications.listening === false) return 'none';
    return notifications.healthy ? 'ok' : 'down';
  }

  async isEnabled(job: JobDefinition): Promise<boolean> {
    return (await this.jobStates()).get(job.name)?.enabled ?? job.enabled;
  }

  /**
   * The run-time enabled flags, read at most once a second: a trigger should not cost a query more.
   * A change made through this instance is seen at once; one made elsewhere within a second.
   */
  private async jobStates(): Promise<Map<string, JobState>> {
    const now = Date.now();
    if (!this.stateCache || now - this.stateCache.at > JOB_STATE_TTL_MS) {
      const states = this.store
        .jobStateList()
        .then((list) => new Map(list.map((s) => [s.name, s])));
      this.stateCache = { at: now, states };
      states.catch(() => {
        this.stateCache = null;
      });
    }
    return this.stateCache.states;
  }
}
