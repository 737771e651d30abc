import { storeTime, type Clock } from '../core/clock.js';
import { maintenanceInterval } from '../core/tuning.js';
import type { Run } from '../core/run.js';
import { isTerminal } from '../core/status.js';
import type { EventBus } from '../events/bus.js';
import type { Store } from '../store/store.js';

export const DEFAULT_EVENT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** An attempt running longer than this is stuck, unless its job says otherwise. */
export const DEFAULT_STUCK_AFTER_MS = 20 * 60 * 1000;
/** How long alerts (and their delivery records) are kept. */
export const ALERT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface MaintenanceOptions {
  store: Store;
  bus: EventBus;
  clock: Clock;
  /**
   * How often the rescuer takes back runs whose lease expired, unstarted runs expire and due runs
   * are promoted. Default 1 s, at least 10 ms.
   */
  intervalMs?: number;
  /**
   * How often finished runs past their retention, and instances long lost, are deleted. Default
   * 60 s, at least 10 ms.
   */
  retentionIntervalMs?: number;
  /** How long events stay in the feed for readers to resume from. Default 24 h. */
  eventRetentionMs?: number;
  /**
   * How often running attempts are checked for being stuck, and the children that the cascade of
   * a cancelled or failed parent missed are cancelled. Default 60 s, at least 10 ms.
   */
  stuckCheckMs?: number;
  /** When an attempt is stuck, for jobs that do not say. Default 20 min. */
  stuckAfterMs?: number;
  /**
   * Cancels the children a cancelled or failed parent's cascade has not reached (the cancel
   * service's `cancelUncancelledChildren`); called as often as the stuck check.
   */
  cancelUncancelledChildren?: () => Promise<number>;
  /** The jobs with a stuckAfter of their own (null: never stuck). */
  stuckLimits?: () => { name: string; afterMs: number | null }[];
  onError?: (err: unknown, where: string) => void;
}

/**
 * Housekeeping every instance may run at once (each step is one conditional write): the rescuer of
 * runs whose worker died, expiry of runs not started in time, promotion of due runs, retention
 * (of finished runs, and of instances gone without a clean stop).
 */
export class Maintenance {
  private timers: NodeJS.Timeout[] = [];
  private current: Promise<void> | null = null;
  private stuckCheck: Promise<Run[]> | null = null;
  private cascade: Promise<number> | null = null;
  private readonly intervals: { rescue: number; retention: number; stuck: number };

  constructor(private readonly options: MaintenanceOptions) {
    // Checked before anything starts: an interval below the minimum is a busy loop on the store.
    this.intervals = {
      rescue: maintenanceInterval('intervalMs', options.intervalMs),
      retention: maintenanceInterval('retentionIntervalMs', options.retentionIntervalMs),
      stuck: maintenanceInterval('stuckCheckMs', options.stuckCheckMs),
    };
  }

  start(): void {
    if (this.timers.length > 0) return;
    this.timers.push(
      setInterval(() => void this.runOnce(), this.intervals.rescue),
      setInterval(() => void this.retention(), this.intervals.retention),
      setInterval(() => {
        void this.markStuck();
        void this.finishCancelCascades();
      }, this.intervals.stuck),
    );
    for (const timer of this.timers) timer.unref();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await Promise.all([this.current, this.stuckCheck, this.cascade]);
  }

  /**
   * Mark the attempts running past their job's stuckAfter, once each across every instance (the
   * store writes their run.stuck events); the runs marked now.
   */
  markStuck(): Promise<Run[]> {
    this.stuckCheck ??= this.stuckPass().finally(() => {
      this.stuckCheck = null;
    });
    return this.stuckCheck;
  }

  /** Cancel the children of cancelled or failed runs that their cascade missed; how many. */
  finishCancelCascades(): Promise<number> {
    const cancelChildren = this.options.cancelUncancelledChildren;
    if (!cancelChildren) return Promise.resolve(0);
    this.cascade ??= cancelChildren()
      .catch((err: unknown) => {
        this.options.onError?.(err, 'cancel cascade');
        return 0;
      })
      .finally(() => {
        this.cascade = null;
      });
    return this.cascade;
  }

  private async stuckPass(): Promise<Run[]> {
    const { store, bus, clock } = this.options;
    const marked: Run[] = [];
    try {
      for (;;) {
        const runs = await store.runMarkStuck({
          now: storeTime(clock),
          defaultAfterMs: this.options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS,
          jobs: this.options.stuckLimits?.() ?? [],
          limit: 500,
        });
        for (const run of runs) bus.emit('run.stuck', { run });
        marked.push(...runs);
        if (runs.length < 500) break;
      }
    } catch (err) {
      this.options.onError?.(err, 'stuck check');
    }
    return marked;
  }

  /** One pass of rescue, expiry and promotion. */
  runOnce(): Promise<void> {
    this.current ??= this.pass().finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async pass(): Promise<void> {
    const { store, bus, clock } = this.options;
    try {
      // The store's own clock unless a test injects one: a host's clock may be off by seconds.
      const now = storeTime(clock);
      for (const run of await store.runRescueExpired({ now })) {
        bus.emit(isTerminal(run.status) ? 'run.finished' : 'run.retrying', { run });
      }
      for (const run of await store.runExpireUnstarted({ now })) bus.emit('run.finished', { run });
      await store.runPromoteDue({ now });
    } catch (err) {
      this.options.onError?.(err, 'maintenance');
    }
  }

  /**
   * Delete finished runs past their retention, in batches, events past theirs, and instances no
   * longer listed (gone without a clean stop); how many runs were deleted.
   */
  async retention(): Promise<number> {
    const { store, clock } = this.options;
    const eventRetentionMs = this.options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS;
    let total = 0;
    try {
      for (;;) {
        const deleted = await store.runDeleteFinished({ now: storeTime(clock), limit: 500 });
        total += deleted;
        if (deleted < 500) break;
      }
      // Events are stamped with the store's wall time, never an injected clock's.
      while (
        (await store.eventDeleteExpired({
          now: null,
          retentionMs: eventRetentionMs,
          limit: 5000,
        })) >= 5000
      );
    } catch (err) {
      this.options.onError?.(err, 'retention');
    }
    try {
      await store.alertDeleteExpired({
        now: storeTime(clock),
        retentionMs: ALERT_RETENTION_MS,
        limit: 5000,
      });
      await store.instanceDeleteLost({ now: storeTime(clock) });
    } catch (err) {
      this.options.onError?.(err, 'retention');
    }
    return total;
  }
}
