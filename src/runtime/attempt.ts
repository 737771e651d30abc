import {
  CANCEL_DELIVERED,
  RunCancelledError,
  type CancelMode,
  type CancelRecord,
} from '../core/cancellation.js';
import type { Clock } from '../core/clock.js';
import { PAUSE_DELIVERED, type PauseRecord } from '../core/pause.js';
import { JobdeckError, hasErrorCode, toRunError, type RunError } from '../core/errors.js';
import {
  type ItemStatus,
  type LogEntry,
  type LogLevel,
  type Run,
  type RunItem,
  type RunProgress,
  type StoredStep,
} from '../core/run.js';
import type { EventBus } from '../events/bus.js';
import type { JobContext } from '../jobs/context.js';
import type { JobDefinition } from '../jobs/define.js';
import type { ChildRun } from '../core/children.js';
import type { ChildSpec } from '../runs/service.js';
import type { AttemptRef, Store } from '../store/store.js';
import { buildContext, type ChildEnd, type ContextPort, type StepOutcome } from './context.js';
import type { AttemptAbort } from './outcome.js';
import { storableJson } from '../core/json.js';
import { storableText } from '../core/text.js';

/** How often buffered progress, items and logs are written. */
const FLUSH_INTERVAL_MS = 50;
/** A buffer this large is written at once. */
const FLUSH_BATCH = 200;
/** Progress is written (and becomes a feed event) at most this often; the last value always. */
const PROGRESS_INTERVAL_MS = 250;

/** Starts the child runs handlers ask for (`ctx.spawn`): the instance's run service. */
export interface ChildCreator {
  createChild(parent: Run, spec: ChildSpec): Promise<Run>;
}

export interface AttemptDeps {
  store: Store;
  bus: EventBus;
  clock: Clock;
  children: ChildCreator;
}

/**
 * One try of a run on this worker: its abort controller, the cancel delivered to it, and the
 * fenced, batched writer behind `ctx`. Writes refused by the store (LEASE_LOST) stop the attempt.
 */
export class Attempt implements ContextPort {
  readonly ref: AttemptRef;
  readonly controller = new AbortController();
  /** The strongest cancel delivered so far. */
  cancel: CancelRecord | null = null;
  /** The pause delivered to this attempt: its handler stops at its next checkpoint. */
  pause: PauseRecord | null = null;
  lastActivity: number;
  /**
   * Until when (performance.now()) this worker surely holds the lease: the time a claim or renewal
   * that succeeded was sent, plus the lease. The store sets the lease from a moment no earlier.
   */
  leaseSureUntil = Number.POSITIVE_INFINITY;
  private readonly cleanups: ((reason: RunCancelledError) => Promise<void> | void)[] = [];
  private cleanupsRun: Promise<void> | null = null;
  private cancelListeners: ((record: CancelRecord) => void)[] = [];
  private pauseListeners: ((record: PauseRecord) => void)[] = [];
  private readonly items = new Map<string, RunItem>();
  private readonly dirtyItems = new Map<string, RunItem>();
  private pendingLogs: LogEntry[] = [];
  private pendingProgress: RunProgress | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private progressWrittenAt = 0;
  /** Set by close(): the last progress is written whatever the interval. */
  private closing = false;
  private flushChain: Promise<void> = Promise.resolve();
  /** After the attempt ended, a zombie handler's writes are dropped here before reaching the store. */
  private closed = false;
  private completedSteps: Promise<Map<string, unknown>> | null = null;
  private succeededItemKeys: Promise<ReadonlySet<string>> | null = null;
  /** When each step of this attempt started. */
  private readonly stepStarts = new Map<string, Date>();
  /** The children the handler suspended the attempt for (`ctx.waitFor`). */
  private readonly awaitedChildren = new Set<string>();

  constructor(
    readonly run: Run,
    readonly job: JobDefinition,
    private readonly deps: AttemptDeps,
    workerId: string,
  ) {
    this.ref = { id: run.id, attempt: run.attempt, workerId };
    this.lastActivity = deps.clock.now().getTime();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cancelRequested(): boolean {
    return this.cancel !== null;
  }

  get pauseRequested(): boolean {
    return this.pause !== null;
  }

  get abortReason(): AttemptAbort | null {
    return this.signal.aborted ? (this.signal.reason as AttemptAbort) : null;
  }

  /** The child runs the handler suspended this attempt for: its end is `waiting` for them. */
  get awaiting(): string[] {
    return [...this.awaitedChildren];
  }

  itemList(): RunItem[] {
    return [...this.items.values()];
  }

  abort(reason: AttemptAbort): void {
    if (!this.signal.aborted) this.controller.abort(reason);
  }

  /** Record a delivered cancel. Returns true when it changed what the handler sees. */
  deliverCancel(record: CancelRecord): boolean {
    if (this.cancel?.mode === 'force' || (this.cancel && record.mode === 'graceful')) return false;
    this.cancel = record;
    const at = this.deps.clock.now();
    this.systemLog('info', CANCEL_DELIVERED, { mode: record.mode }, at);
    this.deps.bus.emit('run.cancel_delivered', {
      runId: this.run.id,
      job: this.run.job,
      mode: record.mode,
      requestedAt: record.requestedAt,
      at,
    });
    for (const listener of this.cancelListeners) listener(record);
    if (record.mode === 'force') {
      this.abort(new RunCancelledError({ kind: 'cancel', mode: 'force', reason: record.reason }));
    }
    return true;
  }

  /**
   * Record a delivered pause (once): the handler's next checkpoint throws, and the attempt ends
   * `paused`. Returns true when it changed what the handler sees.
   */
  deliverPause(record: PauseRecord): boolean {
    if (this.pause) return false;
    this.pause = record;
    this.systemLog('info', PAUSE_DELIVERED, { requestedBy: record.requestedBy });
    for (const listener of this.pauseListeners) listener(record);
    return true;
  }

  /** Be told of the pause delivered to this attempt (isolates forward it); returns the unsubscribe. */
  onPauseDelivered(listener: (record: PauseRecord) => void): () => void {
    this.pauseListeners.push(listener);
    return () => {
      this.pauseListeners = this.pauseListeners.filter((l) => l !== listener);
    };
  }

  /** Be told of each cancel delivered to this attempt (isolates forward them); returns the unsubscribe. */
  onCancelDelivered(listener: (record: CancelRecord) => void): () => void {
    this.cancelListeners.push(listener);
    return () => {
      this.cancelListeners = this.cancelListeners.filter((l) => l !== listener);
    };
  }

  /** Run the `onCancel` cleanups once, each shielded, all within `deadlineMs`. */
  runCleanups(reason: RunCancelledError, deadlineMs: number): Promise<void> {
    this.cleanupsRun ??= (async () => {
      const all = Promise.allSettled(
        this.cleanups.map(async (cleanup) => {
          try {
            await cleanup(reason);
          } catch (err) {
            this.systemLog('warn', 'cleanup failed', { error: toRunError(err) });
          }
        }),
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), deadlineMs);
      });
      const result = await Promise.race([all.then(() => 'done' as const), deadline]);
      clearTimeout(timer);
      if (result === 'late') this.systemLog('warn', 'cleanup cut at its deadline', { deadlineMs });
    })();
    return this.cleanupsRun;
  }

  /** The handler's view of this attempt (inline isolation). */
  context(input: unknown): JobContext {
    return buildContext(this, this.run, input);
  }

  cancelState(): { mode: CancelMode; reason: string | null } | null {
    return this.cancel ? { mode: this.cancel.mode, reason: this.cancel.reason } : null;
  }

  pauseState(): { requestedBy: string } | null {
    return this.pause ? { requestedBy: this.pause.requestedBy } : null;
  }

  touch(): void {
    this.lastActivity = this.deps.clock.now().getTime();
  }

  onCancel(cleanup: (reason: RunCancelledError) => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  progress(progress: RunProgress): void {
    this.touch();
    if (this.closed) return;
    this.pendingProgress =
      progress.message === null
        ? progress
        : { ...progress, message: storableText(progress.message) };
    this.scheduleFlush();
  }

  item(rawKey: string, status: ItemStatus, error?: RunError): void {
    if (this.closed) return;
    const key = storableText(rawKey);
    const item: RunItem = error
      ? {
          key,
          status,
          error: { code: storableText(error.code), message: storableText(error.message) },
        }
      : { key, status };
    this.items.set(key, item);
    this.dirtyItems.set(key, item);
    this.scheduleFlush();
  }

  log(level: LogLevel, rawMessage: string, rawData?: unknown): void {
    this.touch();
    if (this.closed) return;
    // What a handler reports is kept on every backend, with unstorable text replaced.
    const message = storableText(rawMessage);
    const data = rawData === undefined ? undefined : storableJson(rawData);
    this.pendingLogs.push(
      data === undefined
        ? { level, message, time: this.deps.clock.now() }
        : { level, message, data, time: this.deps.clock.now() },
    );
    if (level === 'error' || this.pendingLogs.length >= FLUSH_BATCH) void this.flush();
    else this.scheduleFlush();
  }

  /** A log line written by the runtime about this attempt (cancel delivery, cleanup), sent at once. */
  systemLog(level: LogLevel, message: string, data?: unknown, at?: Date): void {
    const time = at ?? this.deps.clock.now();
    this.pendingLogs.push(
      data === undefined ? { level, message, time } : { level, message, data, time },
    );
    void this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, FLUSH_INTERVAL_MS);
  }

  /** Write what is buffered; one flush at a time, in order. Never rejects. */
  flush(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    this.flushChain = this.flushChain.then(() => this.writeBuffered());
    return this.flushChain;
  }

  private async writeBuffered(): Promise<void> {
    const { store, bus, clock } = this.deps;
    const items = [...this.dirtyItems.values()];
    this.dirtyItems.clear();
    let progress = this.pendingProgress;
    if (
      progress !== null &&
      !this.closing &&
      Date.now() - this.progressWrittenAt < PROGRESS_INTERVAL_MS
    ) {
      progress = null;
      this.scheduleFlush();
    } else this.pendingProgress = null;
    const logs = this.pendingLogs;
    this.pendingLogs = [];
    // Logs are fenced by ownership only, so a cancelled attempt's cleanup lines still land.
    try {
      if (logs.length > 0) {
        const stored = await store.logAppend({
          runId: this.run.id,
          ref: this.ref,
          entries: logs,
          cap: this.job.logCap,
        });
        for (const entry of stored)
          bus.emit('run.log', { runId: this.run.id, job: this.run.job, entry });
      }
    } catch (err) {
      await this.onWriteRefused(err);
    }
    if (items.length === 0 && progress === null) return;
    try {
      if (items.length > 0) await store.itemsUpsert({ ref: this.ref, items });
      if (progress !== null) {
        this.progressWrittenAt = Date.now();
        await store.runProgressSet({ ref: this.ref, progress, now: clock.now() });
      }
      bus.emit('run.progress', {
        run: {
          id: this.run.id,
          job: this.run.job,
          progress: progress ?? this.run.progress,
          items: this.itemList(),
        },
      });
      if (progress !== null) this.run.progress = progress;
    } catch (err) {
      await this.onWriteRefused(err);
    }
  }

  private async onWriteRefused(err: unknown): Promise<void> {
    if (hasErrorCode(err, 'LEASE_LOST') || hasErrorCode(err, 'RUN_NOT_FOUND')) {
      // A force-cancelled run refuses state writes by design; anything else means the lease is gone.
      if (this.cancel?.mode === 'force') return;
      // The force cancel may be in the store before its push or poll reached this worker: deliver
      // it (log, cleanups) instead of taking the refusal for a lost lease.
      const forced = await this.recordedForceCancel();
      if (forced) this.deliverCancel(forced);
      else this.abort({ kind: 'lease-lost' });
      return;
    }
    // The store is unreachable: keep going; the lease decides whether this attempt survives.
  }

  /** The force cancel the store holds for this very attempt, if any. */
  private async recordedForceCancel(): Promise<CancelRecord | null> {
    try {
      const requests = await this.deps.store.runListCancelRequested({
        workerId: this.ref.workerId,
        ids: [this.ref.id],
      });
      const mine = requests.find(
        (r) => r.attempt === this.ref.attempt && r.cancel.mode === 'force',
      );
      return mine?.cancel ?? null;
    } catch {
      return null;
    }
  }

  /**
   * The results of the steps earlier attempts of the run completed: read once, at the first step
   * (a first attempt has none to read).
   */
  completedStep(name: string): Promise<{ result: unknown } | null> {
    this.completedSteps ??=
      this.run.attempt <= 1
        ? Promise.resolve(new Map())
        : this.deps.store
            .stepList({ runId: this.run.id })
            .then(
              (steps) =>
                new Map(
                  steps.filter((s) => s.status === 'completed').map((s) => [s.name, s.result]),
                ),
            );
    return this.completedSteps.then((done) => {
      const key = storableText(name);
      return done.has(key) ? { result: done.get(key) } : null;
    });
  }

  /**
   * The keys of the items earlier attempts completed (the store keeps them across attempts): read
   * once, at the first forEach, and counted with this attempt's items when it ends.
   */
  succeededItems(): Promise<ReadonlySet<string>> {
    this.succeededItemKeys ??=
      this.run.attempt <= 1
        ? Promise.resolve(new Set())
        : this.deps.store.runGet({ id: this.run.id }).then((run) => {
            const keys = new Set<string>();
            for (const item of run?.items ?? []) {
              if (item.status !== 'succeeded') continue;
              keys.add(item.key);
              if (!this.items.has(item.key)) this.items.set(item.key, item);
            }
            return keys;
          });
    return this.succeededItemKeys;
  }

  stepStarted(name: string): void {
    this.touch();
    if (this.closed) return;
    const startedAt = this.deps.clock.now();
    this.stepStarts.set(name, startedAt);
    void this.writeStep({
      name: storableText(name),
      status: 'running',
      attempt: this.run.attempt,
      startedAt,
      endedAt: null,
      error: null,
      result: null,
    }).catch(() => {});
  }

  async stepEnded(name: string, outcome: StepOutcome): Promise<void> {
    this.touch();
    this.refuseOnceOver();
    const endedAt = this.deps.clock.now();
    const step: StoredStep = {
      name: storableText(name),
      status: outcome.ok ? 'completed' : 'failed',
      attempt: this.run.attempt,
      startedAt: this.stepStarts.get(name) ?? endedAt,
      endedAt,
      error: outcome.ok ? null : outcome.error,
      result: outcome.ok ? outcome.result : null,
    };
    const written = this.writeStep(step);
    // A failed step is only recorded; a completed one must be stored before the handler goes on.
    if (outcome.ok) await written;
    else written.catch(() => {});
  }

  /** Write a step after what is buffered (its logs, the step's start), in order; refusals as for every write. */
  private writeStep(step: StoredStep): Promise<void> {
    const write = this.flushChain.then(() =>
      this.deps.store.stepSave({ ref: this.ref, step }).catch(async (err: unknown) => {
        await this.onWriteRefused(err);
        throw err;
      }),
    );
    this.flushChain = write.catch(() => {});
    return write;
  }

  async spawnChild(spec: ChildSpec): Promise<ChildRun> {
    this.touch();
    this.refuseOnceOver();
    const child = await this.deps.children.createChild(this.run, spec);
    return { id: child.id, job: child.job };
  }

  async childEnds(ids: readonly string[]): Promise<ChildEnd[]> {
    this.touch();
    this.refuseOnceOver();
    if (ids.length === 0) return [];
    const unique = [...new Set(ids)];
    const { runs } = await this.deps.store.runList({ ids: unique, limit: unique.length });
    const found = new Map(runs.map((run) => [run.id, run]));
    return unique.map((id) => {
      const child = found.get(id);
      if (child?.parentId !== this.run.id)
        throw new JobdeckError(
          'INVALID_INPUT',
          `Run ${id} is not a child of run ${this.run.id}: a run waits only for the runs it spawned.`,
        );
      return {
        id,
        job: child.job,
        status: child.status,
        result: child.result ?? null,
        error: child.error,
      };
    });
  }

  async awaitChildren(ids: readonly string[]): Promise<void> {
    this.refuseOnceOver();
    for (const id of ids) this.awaitedChildren.add(id);
  }

  /** A handler still running after its attempt ended (or an isolate's late request) changes nothing. */
  private refuseOnceOver(): void {
    if (this.closed) throw new JobdeckError('LEASE_LOST', 'The attempt is over.');
  }

  /** Stop accepting writes from the handler; what is buffered is written first. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.closed = true;
  }
}
