import { hostname } from 'node:os';
import { storeTime, type Clock } from '../core/clock.js';
import { JobdeckError } from '../core/errors.js';
import type { InstanceInfo, InstanceRole, InstanceStatus } from '../core/instance.js';
import type { Store } from '../store/store.js';
import { JOBDECK_VERSION } from './version.js';

/** How an instance registers itself in the list of instances (`GET /api/workers`). */
export interface InstanceOptions {
  /** What this instance does; default `both` when it has a worker, else `api`. */
  role?: InstanceRole;
  /**
   * How often it tells the store it lives. Default 5 s. Missing 3 beats shows it as lost; missing
   * 10 leaves it out of the list.
   */
  heartbeatMs?: number;
}

export interface InstanceServiceOptions extends InstanceOptions {
  store: Store;
  clock: Clock;
  /** The id its worker claims runs with (so its runs are those whose worker_id is this id). */
  id: string;
  /** Runs at once of its worker; null without one. */
  concurrency: number | null;
  onError?: (err: unknown, where: string) => void;
}

const DEFAULT_HEARTBEAT_MS = 5000;

/**
 * This instance in the store's registry: registered at start, a heartbeat on a timer (a failed
 * beat is reported and the next one tries again), removed on a clean stop. Also the list of every
 * instance, for the surfaces.
 */
export class InstanceService {
  readonly id: string;
  readonly heartbeatMs: number;
  /** The role it was given (or implied by its worker option), shown while its worker runs. */
  private readonly configuredRole: InstanceRole;
  /** Runs at once of its worker while the worker runs; null without one, or while it is stopped. */
  private concurrency: number | null;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly onError: (err: unknown, where: string) => void;
  private startedAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;

  constructor(options: InstanceServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.id = options.id;
    this.concurrency = options.concurrency;
    this.configuredRole = options.role ?? (options.concurrency === null ? 'api' : 'both');
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.onError = options.onError ?? (() => {});
    if (!Number.isInteger(this.heartbeatMs) || this.heartbeatMs < 1) {
      throw new JobdeckError('INVALID_INPUT', 'instance.heartbeatMs must be a positive integer');
    }
    if ((this.configuredRole === 'api') !== (options.concurrency === null)) {
      throw new JobdeckError(
        'INVALID_INPUT',
        this.configuredRole === 'api'
          ? 'instance.role api executes no runs: give worker: false'
          : `instance.role ${this.configuredRole} executes runs: it needs a worker`,
      );
    }
  }

  /** What this instance does now: `api` while it has no worker running, else the role it was given. */
  get role(): InstanceRole {
    return this.concurrency === null ? 'api' : this.configuredRole;
  }

  /**
   * Its worker started (with this concurrency) or stopped (null): the list of instances shows the
   * change at once rather than at the next beat.
   */
  async workerChanged(concurrency: number | null): Promise<void> {
    this.concurrency = concurrency;
    if (!this.timer) return;
    // A beat in flight carries the old details: the next one carries the new.
    await this.beating;
    await this.beat();
  }

  /** This instance as it registers itself; the start time is set by {@link start}. */
  get info(): InstanceInfo {
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      version: JOBDECK_VERSION,
      role: this.role,
      concurrency: this.concurrency,
      heartbeatMs: this.heartbeatMs,
      startedAt: this.startedAt ?? this.clock.now(),
    };
  }

  /** Register (a failure is reported, and the next beat registers), then beat on a timer. */
  async start(): Promise<void> {
    if (this.timer) return;
    this.startedAt = this.clock.now();
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
    await this.beat();
  }

  /** Stop beating and unregister; a failure is reported (the row then ages out as lost). */
  async stop(): Promise<void> {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    // A beat still in flight would register the instance again after its removal.
    await this.beating;
    try {
      await this.store.instanceRemove({ id: this.id });
    } catch (err) {
      this.onError(err, 'instance-remove');
    }
  }

  /** Tell the store this instance lives; one beat at a time, so a slow store never piles them up. */
  beat(): Promise<void> {
    this.beating ??= this.store
      .instanceBeat({ instance: this.info, now: storeTime(this.clock) })
      .catch((err: unknown) => this.onError(err, 'instance-heartbeat'))
      .finally(() => {
        this.beating = null;
      });
    return this.beating;
  }

  /** Every instance the store knows, judged on its clock, with the runs each executes. */
  list(): Promise<InstanceStatus[]> {
    return this.store.instanceList({ now: storeTime(this.clock) });
  }
}
