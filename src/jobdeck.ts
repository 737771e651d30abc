import { AlertService, type AlertServiceOptions } from './alerts/service.js';
import type { AlertsConfig } from './alerts/config.js';
import { CancelService } from './cancel/service.js';
import { OffsetClock, systemClock, type Clock } from './core/clock.js';
import { JobdeckError } from './core/errors.js';
import { newWorkerId } from './core/ids.js';
import { EventBus } from './events/bus.js';
import { EventFeed } from './events/feed.js';
import { InstanceService, type InstanceOptions } from './instances/service.js';
import type { JobDefinition } from './jobs/define.js';
import { JobRegistry } from './jobs/registry.js';
import {
  Maintenance,
  type MaintenanceOptions as RuntimeMaintenanceOptions,
} from './maintenance/maintenance.js';
import { DeckCounters } from './metrics/counters.js';
import { RunService } from './runs/service.js';
import { Worker, type WorkerOptions as RuntimeWorkerOptions } from './runtime/worker.js';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.js';
import type { Store } from './store/store.js';

/**
 * The worker of an instance: how many runs at once, its id, and its timings (defaults and
 * minimums in docs/reference/library.md).
 */
export type WorkerOptions = Omit<
  RuntimeWorkerOptions,
  'store' | 'registry' | 'bus' | 'clock' | 'onError' | 'children'
>;

/**
 * The maintenance of an instance: the rescuer's interval, retention and stuck detection (defaults
 * and minimums in docs/reference/library.md).
 */
export type MaintenanceOptions = Pick<
  RuntimeMaintenanceOptions,
  'intervalMs' | 'retentionIntervalMs' | 'eventRetentionMs' | 'stuckCheckMs' | 'stuckAfterMs'
>;

/** What a {@link Jobdeck} instance is made of; only `store` is required. */
export interface JobdeckOptions {
  /** Where runs live: a `SqliteStore`, a `PostgresStore`, or `openStore(url)`. */
  store: Store;
  /** The jobs this instance knows (made with `defineJob`): it creates and executes only these. */
  jobs?: Iterable<JobDefinition>;
  /** The time it runs on; default the system's (synced to PostgreSQL's). Tests inject a `TestClock`. */
  clock?: Clock;
  /** Execute runs in this instance (default), or not (`false`: an API-only instance). */
  worker?: false | WorkerOptions;
  /** Insert the slots of repeating jobs (default on). */
  scheduler?: false | Pick<SchedulerOptions, 'tickMs'>;
  /** The rescuer of expired leases, expiry, retention and stuck detection (default on). */
  maintenance?: false | MaintenanceOptions;
  /**
   * Alert rules and channels (an alerts file, see `loadAlertsFile`), with delivery tuning. Without
   * it this instance sends no alert, but still lists them.
   */
  alerts?: {
    config: AlertsConfig;
    /** The time of cooldowns and delivery retries; default the instance's (tests inject one). */
    clock?: Clock;
  } & Pick<
    AlertServiceOptions,
    'deliveryPollMs' | 'timeoutMs' | 'maxAttempts' | 'backoff' | 'checkIntervalMs' | 'fetch'
  >;
  /** Where people reach the dashboard, for links in alerts and chat answers. Default http://127.0.0.1:3000. */
  publicUrl?: string;
  /**
   * How this instance registers itself for `GET /api/workers`: its role (default `both` with a
   * worker, `api` without) and heartbeat (default 5 s). Its id is its worker's id.
   */
  instance?: InstanceOptions;
  /** Errors the background loops survive; default: ignored. */
  onError?: (err: unknown, where: string) => void;
}

/**
 * One Jobdeck instance: the registry, the event bus, the services that every surface calls
 * (runs, cancel), and the background parts (worker, scheduler, maintenance).
 */
export class Jobdeck {
  /** The store it was given. */
  readonly store: Store;
  /** The jobs it knows, by name. */
  readonly registry: JobRegistry;
  /** What happens to runs in this process: `on('run.progress', …)`, `waitFor`, `onAny`. */
  readonly events = new EventBus();
  /** What happens on every instance, read from the store (started by its first reader). */
  readonly feed: EventFeed;
  /** The time it runs on. */
  readonly clock: Clock;
  /** Create, read, list, wait for and retry runs; enable and disable jobs. */
  readonly runs: RunService;
  /** Cancel one run or many, gracefully or by force. */
  readonly cancels: CancelService;
  /** This instance's registration and heartbeat, and the list of every instance. */
  readonly instances: InstanceService;
  /**
   * The worker that executes runs (null with `worker: false`). Start and stop it with
   * {@link startWorker} and {@link stopWorker}, which keep the list of instances in step.
   */
  readonly worker: Worker | null;
  /** The scheduler that inserts the slots of repeating jobs (null with `scheduler: false`). */
  readonly scheduler: Scheduler | null;
  /** The rescuer, expiry, retention and stuck detection (null with `maintenance: false`). */
  readonly maintenance: Maintenance | null;
  /** Counters other parts increment (stuck detection, alerts), exposed at /metrics. */
  readonly counters: DeckCounters;
  /** Alerts: the rules of the alerts file, deliveries, and the list of recent alerts. */
  readonly alerts: AlertService;
  /** Where people reach the dashboard (links in alerts and chat answers). */
  readonly publicUrl: string;
  private started = false;
  private clockTimer: NodeJS.Timeout | null = null;
  /** Cancels of failed runs' children under way. */
  private readonly cascades = new Set<Promise<void>>();
  /** Whether the worker should run while the instance does ({@link stopWorker} clears it). */
  private workerWanted: boolean;
  /** Starts and stops of the worker, one after the other. */
  private workerChange: Promise<void> = Promise.resolve();

  constructor(options: JobdeckOptions) {
    this.store = options.store;
    // Instances on many hosts share the store's clock; an injected clock (tests) is used as it is.
    this.clock =
      options.clock ?? (this.store.capabilities.multiHost ? new OffsetClock() : systemClock);
    this.registry = new JobRegistry(options.jobs ?? []);
    this.counters = new DeckCounters(() => this.registry.list().map((job) => job.name));
    // Waits listen to the store's feed while the instance runs.
    this.runs = new RunService(this.store, this.registry, this.events, this.clock, () =>
      this.started ? this.feed : null,
    );
    this.cancels = new CancelService(this.store, this.events, this.clock);
    const onError = options.onError ?? (() => {});
    this.feed = new EventFeed({ store: this.store, bus: this.events, onError });
    // One id for the instance and its worker: the runs it executes carry it as their worker_id.
    const id = (options.worker && options.worker.workerId) || newWorkerId();
    this.worker =
      options.worker === false
        ? null
        : new Worker({
            ...options.worker,
            workerId: id,
            onError,
            store: this.store,
            registry: this.registry,
            bus: this.events,
            clock: this.clock,
            children: this.runs,
          });
    this.workerWanted = this.worker !== null;
    this.scheduler =
      options.scheduler === false
        ? null
        : new Scheduler({
            ...options.scheduler,
            onError,
            registry: this.registry,
            runs: this.runs,
            clock: this.clock,
          });
    this.instances = new InstanceService({
      ...options.instance,
      store: this.store,
      clock: this.clock,
      id,
      concurrency: this.worker?.concurrency ?? null,
      onError,
    });
    this.maintenance =
      options.maintenance === false
        ? null
        : new Maintenance({
            ...options.maintenance,
            onError,
            store: this.store,
            bus: this.events,
            clock: this.clock,
            cancelUncancelledChildren: () => this.cancels.cancelUncancelledChildren(),
            stuckLimits: () =>
              this.registry
                .list()
                .filter((job) => job.stuckAfterMs !== null)
                .map((job) => ({
                  name: job.name,
                  afterMs: job.stuckAfterMs === false ? null : job.stuckAfterMs,
                })),
          });
    this.publicUrl = (options.publicUrl ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
    const { config, ...delivery } = options.alerts ?? { config: null };
    this.alerts = new AlertService({
      clock: this.clock,
      ...delivery,
      config,
      store: this.store,
      feed: this.feed,
      registry: this.registry,
      publicUrl: this.publicUrl,
      instanceId: id,
      onError,
    });
    // A parent that failed leaves no child running on; stop() waits for the cascades under way.
    this.events.on('run.finished', ({ payload: { run } }) => {
      if (run.status !== 'failed' || !this.started) return;
      const cascade = this.cancels
        .cancelChildrenOfFailed(run)
        .catch((err: unknown) => onError(err, 'cancel cascade'))
        .finally(() => this.cascades.delete(cascade));
      this.cascades.add(cascade);
    });
    // The counters of /metrics follow what stuck detection and alert delivery report.
    this.events.on('run.stuck', ({ payload: { run } }) => this.counters.runStuck(run.job));
    if (config) this.counters.alertChannels(Object.keys(config.channels));
    this.alerts.onAttempt((report) => {
      if (report.ok) this.counters.alertSent(report.channel);
      else if (report.gaveUp) this.counters.alertFailed(report.channel);
    });
  }

  /** Migrate the store and start the background parts. */
  async start(): Promise<this> {
    if (this.started) return this;
    await this.store.migrate();
    if (this.clock instanceof OffsetClock) {
      const clock = this.clock;
      const sync = () => clock.sync(() => this.store.timeNow());
      await sync();
      this.clockTimer = setInterval(() => void sync().catch(() => {}), 60_000);
      this.clockTimer.unref();
    }
    this.started = true;
    const worker = this.workerWanted ? this.worker : null;
    // Registered before its worker claims: every run it executes is shown under a known instance.
    await this.instances.workerChanged(worker?.concurrency ?? null);
    await this.instances.start();
    // Reading the feed before the worker starts: this instance's own runs are not missed.
    await this.alerts.start();
    this.maintenance?.start();
    this.scheduler?.start();
    worker?.start();
    return this;
  }

  /**
   * Start this instance's worker again after {@link stopWorker}; the rest of the instance (API,
   * scheduler, maintenance) runs on meanwhile. `GET /api/workers` shows the instance with its role
   * and concurrency again. Before {@link start}, it only undoes a `stopWorker`. Rejects with
   * `INVALID_INPUT` for an instance built with `worker: false`.
   */
  startWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) {
      return Promise.reject(
        new JobdeckError(
          'INVALID_INPUT',
          'This instance was built with worker: false: it has no worker to start. Give it worker options (worker: {} for the defaults).',
        ),
      );
    }
    return this.changeWorker(async () => {
      this.workerWanted = true;
      if (!this.started || worker.isRunning) return;
      worker.start();
      await this.instances.workerChanged(worker.concurrency);
    });
  }

  /**
   * Stop this instance's worker and keep the rest running: it claims nothing more, its runs get
   * `graceMs` (default 10 s) to finish, and the rest are released for other workers, as
   * {@link stop} does. `GET /api/workers` shows the instance as `api` until {@link startWorker}.
   * Before {@link start}, the instance then starts without its worker.
   */
  stopWorker(options: { graceMs?: number } = {}): Promise<void> {
    return this.changeWorker(async () => {
      this.workerWanted = false;
      if (!this.worker) return;
      await this.worker.stop(options);
      await this.instances.workerChanged(null);
    });
  }

  /** Whether this instance's worker claims runs now. */
  get workerRunning(): boolean {
    return this.worker?.isRunning ?? false;
  }

  private changeWorker(change: () => Promise<void>): Promise<void> {
    const next = this.workerChange.then(change);
    // A failed change does not block the next one; its caller sees its error.
    this.workerChange = next.catch(() => {});
    return next;
  }

  /** Stop claiming, let runs finish within `graceMs`, release the rest; the store stays open. */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    await this.scheduler?.stop();
    await this.worker?.stop(options);
    await this.maintenance?.stop();
    await Promise.all(this.cascades);
    await this.alerts.stop();
    await this.feed.stop();
    await this.instances.stop();
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = null;
    this.started = false;
  }

  /** Stop, then close the store. */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    await this.stop(options);
    await this.store.close();
  }
}
