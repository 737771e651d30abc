import { RunCancelledError, type CancelRecord } from '../core/cancellation.js';
import { storeTime, systemClock, type Clock } from '../core/clock.js';
import { JobdeckError, hasErrorCode, toRunError } from '../core/errors.js';
import { newWorkerId } from '../core/ids.js';
import { workerTimings } from '../core/tuning.js';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Run } from '../core/run.js';
import { isTerminal } from '../core/status.js';
import type { EventBus } from '../events/bus.js';
import { claimConcurrency } from '../jobs/define.js';
import type { JobRegistry } from '../jobs/registry.js';
import { parseOrThrow } from '../jobs/validate.js';
import type { RunFinishOutcome, Store } from '../store/store.js';
import { retryWhileUnavailable } from '../store/unavailable.js';
import { RunService } from '../runs/service.js';
import { Attempt, type ChildCreator } from './attempt.js';
import {
  InlineHost,
  ProcessHost,
  ThreadHost,
  ThreadPool,
  type HandlerHost,
  type Settled,
} from './isolation/hosts.js';
import { CompletionBatcher } from './completions.js';
import { waitingReason } from './context.js';
import { classifyAttemptEnd, suspendedForChildren, type AttemptAbort } from './outcome.js';

/** What this process is told of an attempt's end: by the status stored (a wait may be due at once). */
function attemptEndEvent(
  ended: RunFinishOutcome,
  stored: Run,
): 'run.finished' | 'run.paused' | 'run.waiting' | 'run.resumed' | 'run.retrying' {
  if (isTerminal(stored.status)) return 'run.finished';
  if (stored.status === 'paused' || stored.status === 'waiting') return `run.${stored.status}`;
  return ended.status === 'waiting' ? 'run.resumed' : 'run.retrying';
}

/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The shortest run time the prefetch reckons with (a no-op handler takes microseconds). */
const MIN_RUN_MS = 0.1;

/** Why a run that waited for a slot goes back to `pending`: not the handler's fault, no try used. */
const HANDED_BACK = (reason: string) =>
  new RunCancelledError({ kind: 'shutdown', mode: 'force', reason });

export interface WorkerOptions {
  store: Store;
  registry: JobRegistry;
  bus: EventBus;
  clock?: Clock;
  workerId?: string;
  /** Runs at once in this instance. Default 10. */
  concurrency?: number;
  /**
   * Runs claimed ahead of a free slot, at most this many, so that a slot that frees starts the next
   * run without a round trip to the store. Default 0 (claim only for free slots). Only as many as
   * recent runs say will start within a quarter of the lease wait here; a waiting run is cancelled
   * at once, is handed back (without using a try) on shutdown or once it has waited half its lease,
   * and shows as running, held by this worker, from its claim.
   */
  prefetch?: number;
  /**
   * A claimed run is this worker's until its lease expires; a crashed worker's runs are taken
   * back about this long after its last renewal. Default 6 s, at least 1 s.
   */
  leaseMs?: number;
  /**
   * How often leases are renewed (and cancels read with them). Default 1 s; at least 10 ms and at
   * most half of `leaseMs`.
   */
  heartbeatMs?: number;
  /** How often an idle worker looks for runs when nothing wakes it. Default 250 ms, at least 10 ms. */
  pollMs?: number;
  /**
   * How often cancels for held runs are read when the store does not push them. Default 250 ms,
   * at least 10 ms.
   */
  cancelPollMs?: number;
  /** Called with errors the loops survive (store unreachable…). */
  onError?: (err: unknown, where: string) => void;
  /** Creates the child runs handlers spawn (an instance passes its run service). Default: one over `store`. */
  children?: ChildCreator;
}

/** How often an idle worker looks for runs while the store pushes wake-ups. */
const PUSHED_POLL_MS = 2000;

/**
 * Claims runs and executes them: the claim loop, lease heartbeats that also carry cancels, the
 * cancel poll, and the executor that classifies each attempt's end from its abort reason.
 */
export class Worker {
  readonly id: string;
  readonly concurrency: number;
  private readonly store: Store;
  private readonly registry: JobRegistry;
  private readonly bus: EventBus;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly cancelPollMs: number;
  private readonly onError: (err: unknown, where: string) => void;
  private readonly children: ChildCreator;
  /** The attempts this worker runs, by run and attempt: one attempt's end never drops another's. */
  private readonly held = new HeldAttempts();
  /** Slots in use: handlers running, or isolates not yet released. */
  private busy = 0;
  readonly prefetch: number;
  /** Runs claimed ahead of a free slot, in claim order, each with the unsubscribe of its watch. */
  private readonly waiting = new Map<Attempt, () => void>();
  /** How long recent handlers held their slot (a moving average, ms); null before the first. */
  private recentRunMs: number | null = null;
  private readonly completions: CompletionBatcher;
  /** Warm threads for `thread` jobs. */
  private readonly threads = new ThreadPool();
  /** Delays of this event loop: what inline handlers cost the heartbeats. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private lastHeartbeatTick = 0;
  private dueTimer: NodeJS.Timeout | null = null;
  private dueAt: number | null = null;
  private readonly running = new Set<Promise<void>>();
  private state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private wakeUp: (() => void) | null = null;
  private wakePending = false;
  private loop: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void)[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private listening: Promise<void> | null = null;

  constructor(options: WorkerOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.bus = options.bus;
    this.clock = options.clock ?? systemClock;
    this.id = options.workerId ?? newWorkerId();
    this.concurrency = options.concurrency ?? 10;
    this.prefetch = options.prefetch ?? 0;
    // Checked before anything starts: a lease that cannot outlive a missed renewal is refused.
    const timings = workerTimings(options);
    this.leaseMs = timings.leaseMs;
    this.heartbeatMs = timings.heartbeatMs;
    this.pollMs = timings.pollMs;
    this.cancelPollMs = timings.cancelPollMs;
    this.onError = options.onError ?? (() => {});
    this.children =
      options.children ?? new RunService(this.store, this.registry, this.bus, this.clock);
    this.completions = new CompletionBatcher(this.store, this.clock, {
      leaseMs: this.leaseMs,
      onRetry: (err) => this.onError(err, 'completion'),
    });
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new JobdeckError('INVALID_INPUT', 'concurrency must be a positive integer');
    }
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) {
      throw new JobdeckError('INVALID_INPUT', 'prefetch must be a whole number, 0 or more');
    }
  }

  /** Runs this worker executes now. */
  get activeCount(): number {
    return this.busy;
  }

  /** Whether this worker runs an attempt of the run. */
  holds(runId: string): boolean {
    return this.held.hasRun(runId);
  }

  /** Whether it claims runs now (started, and not stopping or stopped). */
  get isRunning(): boolean {
    return this.state === 'running';
  }

  /**
   * Start claiming and executing runs; again after a stop. Nothing while it runs or stops (wait for
   * {@link stop} to resolve). Use `deck.startWorker()` on an instance: it keeps the list of
   * instances in step.
   */
  start(): void {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this.state = 'running';
    this.wakePending = false;
    this.loopDelay.enable();
    this.lastHeartbeatTick = Date.now();
    this.unsubscribe.push(
      this.bus.on('run.created', ({ payload }) => this.wakeWhenDue(payload.run.runAt)),
      this.bus.on('run.cancelling', ({ payload }) => this.deliverFromRun(payload.run)),
      this.bus.on('run.finished', ({ payload }) => {
        this.deliverFromRun(payload.run);
        // The parent may be due again: a parent waiting here resumes without waiting for a poll.
        if (payload.run.parentId) this.wake();
      }),
      this.bus.on('run.resumed', () => this.wake()),
    );
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatMs));
    this.timers.push(
      setInterval(() => {
        // Pushed cancels make the poll redundant while they arrive; the heartbeat still carries them.
        if (!this.pushHealthy) void this.pollCancels();
      }, this.cancelPollMs),
    );
    for (const timer of this.timers) timer.unref();
    this.listen();
    this.loop = this.claimLoop();
  }

  private get pushHealthy(): boolean {
    return this.store.notifications?.healthy ?? false;
  }

  /** Subscribe to the store's pushed wake-ups and cancels, where it has them. */
  private listen(): void {
    const notifications = this.store.notifications;
    if (!notifications) return;
    this.listening = notifications
      .listen({
        runAvailable: (job) => {
          if (job === '' || this.registry.get(job)) this.wake();
        },
        cancelRequested: (runId, request) => {
          // An empty id asks to read the cancels of every held run (after a reconnect).
          if (runId === '') return void this.pollCancels();
          if (!this.held.hasRun(runId)) return;
          // The notification carries the request: deliver now; else read it.
          if (request) this.deliverCancel(request.id, request.attempt, request.cancel);
          else void this.pollCancels([runId]);
        },
      })
      .then((off) => {
        this.unlisten = off;
      })
      .catch((err: unknown) => this.onError(err, 'listen'));
  }

  /**
   * A run created in this process: look now, or when it falls due (a delayed run, a schedule's
   * next slot) rather than at the next poll. One timer, for the earliest such time.
   */
  private wakeWhenDue(runAt: Date): void {
    const wait = runAt.getTime() - this.clock.now().getTime();
    if (wait <= 0) return this.wake();
    // A timer waits at most 2^31 - 1 ms (24.8 days; Node warns and fires at once beyond it): a run
    // due later is found by the poll.
    if (wait > MAX_TIMER_MS) return;
    if (this.dueAt !== null && this.dueAt <= runAt.getTime()) return;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueAt = runAt.getTime();
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      const due = this.dueAt;
      this.dueAt = null;
      // Node times a timer from the event loop's cached time, so on a busy loop it can fire before
      // the clock reaches runAt; a claim then would find nothing due and leave the run to the poll.
      if (due !== null && due > this.clock.now().getTime()) return this.wakeWhenDue(new Date(due));
      this.wake();
    }, wait);
    this.dueTimer.unref();
  }

  /** Look for runs now instead of at the next poll. */
  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  /** A cancel reached this process: hand it to the attempt if this worker runs that run. */
  deliverCancel(runId: string, attempt: number, record: CancelRecord): void {
    this.held.get(runId, attempt)?.deliverCancel(record);
  }

  private deliverFromRun(run: Run): void {
    if (run.cancel && (run.status === 'cancelling' || isTerminal(run.status))) {
      this.deliverCancel(run.id, run.attempt, run.cancel);
    }
  }

  /**
   * Stop claiming; let held runs finish within `graceMs`; then abort the rest with a shutdown
   * reason so they are released for another worker instead of waiting for their leases to expire.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'idle') {
      this.state = 'stopped';
      return Promise.resolve();
    }
    // A second stop while the first drains waits for the same end.
    this.stopping ??= this.drain(options).finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async drain(options: { graceMs?: number }): Promise<void> {
    this.state = 'stopping';
    this.wake();
    await this.loop;
    // Runs that wait for a slot go back at once, for another worker, without using a try.
    for (const attempt of [...this.waiting.keys()])
      attempt.abort(HANDED_BACK('worker shutting down'));
    const graceMs = options.graceMs ?? 10_000;
    const drained = await waitAll([...this.running], graceMs);
    if (!drained) {
      for (const attempt of this.held.all()) {
        attempt.abort(
          new RunCancelledError({
            kind: 'shutdown',
            mode: 'force',
            reason: 'worker shutting down',
          }),
        );
      }
      await Promise.allSettled([...this.running]);
    }
    for (const timer of this.timers) clearInterval(timer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    this.dueAt = null;
    this.timers = [];
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    await this.threads.close();
    this.loopDelay.disable();
    await this.listening;
    await this.unlisten?.();
    this.unlisten = null;
    this.state = 'stopped';
  }

  private async claimLoop(): Promise<void> {
    while (this.state === 'running') {
      const free = this.concurrency - this.busy;
      const wanted = free + this.prefetchRoom();
      let claimed = 0;
      if (wanted > 0) {
        this.wakePending = false;
        try {
          const askedAt = performance.now();
          const runs = await this.store.runClaim({
            workerId: this.id,
            now: storeTime(this.clock),
            leaseMs: this.leaseMs,
            limit: wanted,
            jobs: this.registry.list().map((job) => ({
              name: job.name,
              concurrency: claimConcurrency(job),
              rateLimit: job.rateLimit,
              // A rate limit counts claims: claimed only for free slots, so starts keep its pace.
              ...(job.rateLimit && wanted > free ? { limit: Math.max(free, 0) } : {}),
            })),
          });
          claimed = runs.length;
          for (const run of runs) this.admit(run, askedAt + this.leaseMs);
        } catch (err) {
          this.onError(err, 'claim');
        }
      }
      if (this.state !== 'running') break;
      // A full batch may mean more is waiting; otherwise sleep until woken or the next poll.
      if (wanted > 0 && claimed === wanted) continue;
      await this.sleep();
      // Runs that end in the same turn free their slots together: claim for all of them at once.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * How many more runs may wait here for a slot: up to `prefetch`, and no more than this worker
   * would start within a quarter of the lease at the pace of its recent runs (none before it has
   * seen one end), so that long runs are not held back from other workers. Refilled in batches,
   * once half of them have started, rather than one claim per freed slot.
   */
  private prefetchRoom(): number {
    if (this.prefetch === 0 || this.recentRunMs === null) return 0;
    const startable = Math.floor(
      (this.concurrency * this.leaseMs) / 4 / Math.max(this.recentRunMs, MIN_RUN_MS),
    );
    const target = Math.min(this.prefetch, startable);
    return this.waiting.size > target / 2 ? 0 : target - this.waiting.size;
  }

  /** The shortest gap between starts of a rate-limited job here (Infinity with none). */
  private rateLimitPaceMs(): number {
    let pace = Infinity;
    for (const job of this.registry.list())
      if (job.rateLimit) pace = Math.min(pace, job.rateLimit.perMs / job.rateLimit.max);
    return pace;
  }

  private sleep(): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    // While pushed wake-ups arrive, polling is only a safety net. Nothing announces a rate
    // limit's window moving on, though: then poll as often as a limited job may start.
    const pushed = this.pushHealthy ? Math.max(this.pollMs, PUSHED_POLL_MS) : this.pollMs;
    const wait = Math.min(pushed, Math.max(this.pollMs, this.rateLimitPaceMs()));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        this.wakePending = false;
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.wakeUp = done;
    });
  }

  /**
   * How late this event loop has been since the last call (then reset). CPU-bound inline handlers
   * show here first; past the lease they cost a second attempt, so they belong in a thread or process.
   */
  eventLoopDelay(): { meanMs: number; p99Ms: number; maxMs: number } {
    const h = this.loopDelay;
    const result = {
      meanMs: h.mean / 1e6 || 0,
      p99Ms: h.percentile(99) / 1e6 || 0,
      maxMs: h.max / 1e6 || 0,
    };
    h.reset();
    return result;
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    const gap = now - this.lastHeartbeatTick;
    this.lastHeartbeatTick = now;
    if (gap > this.leaseMs / 2) {
      this.onError(
        new Error(
          `the event loop was blocked for ${gap} ms (lease ${this.leaseMs} ms): move CPU-bound handlers to thread or process isolation`,
        ),
        'event-loop',
      );
    }
    if (this.held.isEmpty) return;
    this.stopAttemptsPastTheirLease();
    // Runs waiting for a slot are not renewed: held no longer than one lease without running.
    const attempts = this.held.all().filter((attempt) => !this.waiting.has(attempt));
    if (attempts.length === 0) return;
    const sentAt = performance.now();
    try {
      const renewals = await this.store.leaseRenew({
        workerId: this.id,
        now: storeTime(this.clock),
        leaseMs: this.leaseMs,
        runs: attempts.map((a) => ({ id: a.run.id, attempt: a.run.attempt })),
      });
      for (const renewal of renewals) {
        const attempt = this.held.get(renewal.id, renewal.attempt);
        if (!attempt) continue;
        if (renewal.held) attempt.leaseSureUntil = sentAt + this.leaseMs;
        if (renewal.cancel) attempt.deliverCancel(renewal.cancel);
        else if (!renewal.held) attempt.abort({ kind: 'lease-lost' });
        // Pauses travel only with the heartbeat: they land at a checkpoint, no hurry.
        if (renewal.pause) attempt.deliverPause(renewal.pause);
      }
    } catch (err) {
      this.onError(err, 'heartbeat');
    }
  }

  /**
   * An attempt whose lease could not be renewed (the store unreachable or stalled) is stopped
   * before the lease can run out, so that it never runs beside the attempt another worker starts
   * once the run is rescued. Checked each heartbeat, so stopped at most a heartbeat early. A run
   * still waiting for a slot is handed back once it has waited half its lease.
   */
  private stopAttemptsPastTheirLease(): void {
    const margin = Math.min(this.heartbeatMs, this.leaseMs / 2);
    const now = performance.now();
    for (const attempt of this.held.all()) {
      if (attempt.signal.aborted) continue;
      if (this.waiting.has(attempt)) {
        // After half its lease: well before the rescuer could take it, even from a late heartbeat.
        if (now >= attempt.leaseSureUntil - this.leaseMs / 2)
          attempt.abort(HANDED_BACK('no slot came free within half its lease'));
        continue;
      }
      if (now < attempt.leaseSureUntil - margin) continue;
      this.onError(
        new Error(
          `run ${attempt.run.id} attempt ${attempt.run.attempt}: its lease could not be renewed in time; the handler is stopped before another worker may take the run`,
        ),
        'lease',
      );
      attempt.abort({ kind: 'lease-lost' });
    }
  }

  /** Read the cancel requests of the held runs (or of `ids`) and deliver them. */
  private async pollCancels(ids: string[] = this.held.runIds()): Promise<void> {
    if (ids.length === 0) return;
    try {
      const requests = await this.store.runListCancelRequested({ workerId: this.id, ids });
      for (const request of requests)
        this.deliverCancel(request.id, request.attempt, request.cancel);
    } catch (err) {
      this.onError(err, 'cancel-poll');
    }
  }

  /** Take a claimed run: start it in a free slot, else keep it waiting for one. */
  private admit(run: Run, leaseSureUntil: number): void {
    const job = this.registry.get(run.job);
    if (!job) return;
    const attempt = new Attempt(
      run,
      job,
      { store: this.store, bus: this.bus, clock: this.clock, children: this.children },
      this.id,
    );
    attempt.leaseSureUntil = leaseSureUntil;
    this.held.add(attempt);
    if (this.busy < this.concurrency) return this.execute(attempt);
    // A cancel, or a hand-back, ends a waiting run at once, without its handler.
    const endWaiting = () => this.endWaiting(attempt);
    const offCancel = attempt.onCancelDelivered(endWaiting);
    attempt.signal.addEventListener('abort', endWaiting, { once: true });
    this.waiting.set(attempt, () => {
      offCancel();
      attempt.signal.removeEventListener('abort', endWaiting);
    });
  }

  /** Start waiting runs in the slots that are free (not once stopping: those are handed back). */
  private startWaiting(): void {
    if (this.state !== 'running') return;
    for (const [attempt, unwatch] of this.waiting) {
      if (this.busy >= this.concurrency) return;
      this.waiting.delete(attempt);
      unwatch();
      this.execute(attempt);
    }
  }

  /**
   * A run that waited for a slot ends without its handler: cancelled (a graceful cancel), its
   * lease given back (a force cancel, which the store already wrote), or handed back to `pending`
   * (shutdown, or no slot within its lease).
   */
  private endWaiting(attempt: Attempt): void {
    const unwatch = this.waiting.get(attempt);
    if (!unwatch) return;
    this.waiting.delete(attempt);
    unwatch();
    const stop = attempt.abortReason;
    const settled: Settled = stop
      ? { ok: 'pending' }
      : {
          ok: false,
          error: new RunCancelledError({
            kind: 'cancel',
            mode: 'graceful',
            reason: attempt.cancel?.reason ?? null,
          }),
        };
    this.track(attempt, this.finish(attempt, settled, stop));
  }

  private execute(attempt: Attempt): void {
    this.busy++;
    const startedAt = performance.now();
    let released = false;
    const releaseSlot = () => {
      if (released) return;
      released = true;
      this.busy--;
      const ranMs = performance.now() - startedAt;
      this.recentRunMs = this.recentRunMs === null ? ranMs : this.recentRunMs * 0.8 + ranMs * 0.2;
      this.startWaiting();
      this.wake();
    };
    this.track(attempt, this.executeAttempt(attempt, releaseSlot).finally(releaseSlot));
  }

  /** Hold the attempt until its end is stored (heartbeats go on), even once its slot is free. */
  private track(attempt: Attempt, work: Promise<void>): void {
    const task = work
      .catch((err: unknown) => this.onError(err, 'execute'))
      .finally(() => {
        this.held.delete(attempt);
        this.running.delete(task);
        this.wake();
      });
    this.running.add(task);
  }

  private async executeAttempt(attempt: Attempt, releaseSlot: () => void): Promise<void> {
    const { run, job } = attempt;
    this.bus.emit('run.started', { run });
    // A cancel may have been asked between the claim and now.
    if (run.cancel) attempt.deliverCancel(run.cancel);

    let input: unknown;
    try {
      input = parseOrThrow(job.input, run.input);
    } catch (err) {
      await this.finish(attempt, { ok: false, error: err }, attempt.abortReason);
      return;
    }

    const timers: NodeJS.Timeout[] = [];
    if (job.timeoutMs !== null) {
      timers.push(
        setTimeout(
          () =>
            attempt.abort(
              new RunCancelledError({
                kind: 'timeout',
                mode: 'force',
                reason: `timeout after ${job.timeoutMs} ms`,
              }),
            ),
          job.timeoutMs,
        ),
      );
    }
    if (job.heartbeatTimeoutMs !== null) {
      const limit = job.heartbeatTimeoutMs;
      const check = setInterval(
        () => {
          if (this.clock.now().getTime() - attempt.lastActivity > limit) {
            attempt.abort(
              new RunCancelledError({
                kind: 'timeout',
                mode: 'force',
                code: 'HEARTBEAT_TIMEOUT',
                reason: `no heartbeat for ${limit} ms`,
              }),
            );
          }
        },
        Math.max(50, Math.min(1000, limit / 4)),
      );
      timers.push(check);
    }

    const host = this.hostFor(attempt);
    const box: { settled: Settled } = { settled: { ok: 'pending' } };
    const handler = host.run(input).then((settled) => {
      box.settled = settled;
    });
    const stop = await firstOf(handler, attempt.signal);
    for (const timer of timers) clearTimeout(timer);

    try {
      if (stop) {
        // Forced stop, timeout, shutdown or lost lease: cleanups run shielded within the grace (not
        // for a lost lease: another attempt owns the run now), then the handler gets what is left.
        const started = Date.now();
        if (stop.kind !== 'lease-lost') await host.cleanups(stop, job.forceGraceMs);
        const left = Math.max(0, job.forceGraceMs - (Date.now() - started));
        if (!(await waitAll([handler], left))) {
          await host.terminate();
          attempt.systemLog(
            'warn',
            job.isolation === 'inline'
              ? 'handler did not settle after the stop; its writes are fenced'
              : `handler did not settle after the stop; its ${job.isolation} was terminated`,
            { graceMs: job.forceGraceMs },
          );
        }
      } else if (attempt.cancelRequested && box.settled.ok === false) {
        // A graceful stop reached a checkpoint: cleanups run now that the handler has stopped.
        const cancel = attempt.cancel!;
        await host.cleanups(
          new RunCancelledError({ kind: 'cancel', mode: cancel.mode, reason: cancel.reason }),
          job.forceGraceMs,
        );
      } else if (attempt.pauseRequested && box.settled.ok === false) {
        // A pause reached a checkpoint: what the handler holds is let go, as after a graceful cancel.
        await host.cleanups(
          new RunCancelledError({
            kind: 'pause',
            mode: 'graceful',
            reason: `paused by ${attempt.pause!.requestedBy}`,
          }),
          job.forceGraceMs,
        );
      } else if (
        box.settled.ok === false &&
        suspendedForChildren(box.settled.error, attempt.awaiting)
      ) {
        // So is a waitFor's: the attempt ends here, and a new one starts once the children end.
        await host.cleanups(box.settled.error, job.forceGraceMs);
      }
      // An inline handler that settled no longer uses its slot: the next claim need not wait for
      // this end to be written. An isolate keeps its slot until it is gone (below).
      if (job.isolation === 'inline') releaseSlot();
      await this.finish(attempt, box.settled, stop);
    } finally {
      // The slot is free only once the isolate is gone or back in its pool.
      await host.release();
    }
  }

  private hostFor(attempt: Attempt): HandlerHost {
    switch (attempt.job.isolation) {
      case 'thread':
        return new ThreadHost(attempt, this.threads, attempt.job.concurrency ?? this.concurrency);
      case 'process':
        return new ProcessHost(attempt);
      default:
        return new InlineHost(attempt);
    }
  }

  /** Store how the attempt ended; `stop` is the abort that decided it, if one came first. */
  private async finish(
    attempt: Attempt,
    settled: Settled,
    stop: AttemptAbort | null,
  ): Promise<void> {
    await attempt.close();
    let outcome = classifyAttemptEnd({
      abort: stop,
      cancelRequested: attempt.cancelRequested,
      pauseRequested: attempt.pauseRequested,
      awaiting: attempt.awaiting,
      settled,
      items: attempt.itemList(),
      attempt: attempt.run.attempt,
      maxAttempts: attempt.run.maxAttempts,
      backoff: attempt.job.backoff,
      now: this.clock.now(),
    });
    // Nothing to write: the store already holds the outcome (forced cancel) or another attempt owns the run.
    if (outcome === null) return this.releaseLease(attempt);
    if (outcome.status === 'completed' && attempt.itemList().length === 0) {
      // The common case goes in a batch with the other completions of this turn.
      try {
        const stored = await this.completions.complete(attempt.ref, outcome.result);
        if (stored) this.bus.emit('run.finished', { run: stored });
        else await this.releaseLease(attempt);
        return;
      } catch (err) {
        if (!hasErrorCode(err, 'RESULT_NOT_STORABLE')) throw err;
        outcome = { status: 'failed', error: toRunError(err) };
      }
    }
    const ended = outcome;
    if (ended.status === 'waiting') {
      // Written while the attempt still holds the run: once waiting, no worker does.
      attempt.systemLog('info', waitingReason(ended.children.length), {
        children: ended.children,
      });
      await attempt.flush();
    }
    try {
      const stored = await retryWhileUnavailable(
        () =>
          this.store.runFinishIfAttempt({
            ref: attempt.ref,
            now: this.clock.now(),
            outcome: ended,
          }),
        { forMs: this.leaseMs, onRetry: (err) => this.onError(err, 'finish') },
      );
      this.bus.emit(attemptEndEvent(ended, stored), { run: stored });
    } catch (err) {
      if (hasErrorCode(err, 'LEASE_LOST')) return this.releaseLease(attempt);
      if (hasErrorCode(err, 'INVALID_TRANSITION')) {
        // A cancel landed between the attempt's end and this write (e.g. retry of a cancelling run): end it cancelled.
        const stored = await this.store.runFinishIfAttempt({
          ref: attempt.ref,
          now: this.clock.now(),
          outcome: { status: 'cancelled' },
        });
        this.bus.emit('run.finished', { run: stored });
        return;
      }
      throw err;
    }
  }

  /**
   * The handler has stopped, but the run's end was not this attempt's to write (a force cancel
   * ended it in the store): give back the lease the run kept meanwhile, and with it its slot.
   */
  private async releaseLease(attempt: Attempt): Promise<void> {
    try {
      await this.store.leaseRelease({ ref: attempt.ref });
    } catch (err) {
      // LEASE_LOST: another attempt holds the run, nothing of ours to give back. Otherwise the
      // lease expires on its own.
      if (!hasErrorCode(err, 'LEASE_LOST')) this.onError(err, 'lease-release');
    }
  }
}

/**
 * The attempts a worker runs, keyed by run and attempt. A worker may claim its own run again once
 * the run was rescued from it (a stall past the lease) while the old attempt still winds down.
 */
class HeldAttempts {
  /** Run id → attempt number → attempt: a pushed cancel of any run looks its id up directly. */
  private readonly byRun = new Map<string, Map<number, Attempt>>();

  get isEmpty(): boolean {
    return this.byRun.size === 0;
  }

  add(attempt: Attempt): void {
    const ofRun = this.byRun.get(attempt.run.id) ?? new Map<number, Attempt>();
    ofRun.set(attempt.run.attempt, attempt);
    this.byRun.set(attempt.run.id, ofRun);
  }

  /** Forget this very attempt; an attempt of the same run claimed since stays held. */
  delete(attempt: Attempt): void {
    const ofRun = this.byRun.get(attempt.run.id);
    if (ofRun?.get(attempt.run.attempt) !== attempt) return;
    ofRun.delete(attempt.run.attempt);
    if (ofRun.size === 0) this.byRun.delete(attempt.run.id);
  }

  get(runId: string, attempt: number): Attempt | undefined {
    return this.byRun.get(runId)?.get(attempt);
  }

  hasRun(runId: string): boolean {
    return this.byRun.has(runId);
  }

  all(): Attempt[] {
    return [...this.byRun.values()].flatMap((ofRun) => [...ofRun.values()]);
  }

  runIds(): string[] {
    return [...this.byRun.keys()];
  }
}

/**
 * How the attempt ended, as the executor observes it first: null when the handler settled, else
 * the abort (stop, timeout, shutdown, lost lease) that came before. What comes second changes
 * nothing: a stop after the handler returned does not undo its result, and a result after a stop
 * does not undo the stop.
 */
function firstOf(handler: Promise<void>, signal: AbortSignal): Promise<AttemptAbort | null> {
  if (signal.aborted) return Promise.resolve(signal.reason as AttemptAbort);
  return new Promise((resolve) => {
    const onAbort = () => resolve(signal.reason as AttemptAbort);
    signal.addEventListener('abort', onAbort, { once: true });
    const onSettled = () => {
      signal.removeEventListener('abort', onAbort);
      resolve(null);
    };
    void handler.then(onSettled, onSettled);
  });
}

/** True if all settle within `ms`. */
async function waitAll(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([Promise.allSettled(promises).then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}
