import { AlertService, type AlertServiceOptions } from './alerts/service.js';
import type { AlertsConfig } from './alerts/config.js';
import { CancelService } from './cancel/service.js';
import { OffsetClock, systemClock, type Clock } from './core/clock.js';
import { newWorkerId } from './core/ids.js';
import { EventBus } from './events/bus.js';
import { EventFeed } from './events/feed.js';
import { InstanceService, type InstanceOptions } from './instances/service.js';
import type { JobDefinition } from './jobs/define.js';
import { JobRegistry } from './jobs/registry.js';
import { Maintenance, type MaintenanceOptions } from './maintenance/maintenance.js';
import { DeckCounters } from './metrics/counters.js';
import { RunService } from './runs/service.js';
import { Worker, type WorkerOptions } from './runtime/worker.js';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.js';
import type { Store } from './store/store.js';

export interface JobdeckOptions {
  store: Store;
  jobs?: Iterable<JobDefinition>;
  clock?: Clock;
  /** Execute runs in this instance (default), or not (`false`: an API-only instance). */
  worker?: false | Omit<WorkerOptions, 'store' | 'registry' | 'bus' | 'clock'>;
  /** Insert the slots of repeating jobs (default on). */
  scheduler?: false | Pick<SchedulerOptions, 'tickMs'>;
  /** Rescue, expiry and retention (default on). */
  maintenance?:
    | false
    | Pick<
        MaintenanceOptions,
        'intervalMs' | 'retentionIntervalMs' | 'eventRetentionMs' | 'stuckCheckMs' | 'stuckAfterMs'
      >;
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
  readonly store: Store;
  readonly registry: JobRegistry;
  readonly events = new EventBus();
  /** What happens on every instance, read from the store (started by its first reader). */
  readonly feed: EventFeed;
  readonly clock: Clock;
  readonly runs: RunService;
  readonly cancels: CancelService;
  /** This instance's registration and heartbeat, and the list of every instance. */
  readonly instances: InstanceService;
  readonly worker: Worker | null;
  readonly scheduler: Scheduler | null;
  readonly maintenance: Maintenance | null;
  /** Counters other parts increment (stuck detection, alerts), exposed at /metrics. */
  readonly counters: DeckCounters;
  /** Alerts: the rules of the alerts file, deliveries, and the list of recent alerts. */
  readonly alerts: AlertService;
  /** Where people reach the dashboard (links in alerts and chat answers). */
  readonly publicUrl: string;
  private started = false;
  private clockTimer: NodeJS.Timeout | null = null;

  constructor(options: JobdeckOptions) {
    this.store = options.store;
    // Instances on many hosts share the store's clock; an injected clock (tests) is used as it is.
    this.clock =
      options.clock ?? (this.store.capabilities.multiHost ? new OffsetClock() : systemClock);
    this.registry = new JobRegistry(options.jobs ?? []);
    this.counters = new DeckCounters(() => this.registry.list().map((job) => job.name));
    this.runs = new RunService(this.store, this.registry, this.events, this.clock);
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
          });
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
    // Registered before its worker claims: every run it executes is shown under a known instance.
    await this.instances.start();
    // Reading the feed before the worker starts: this instance's own runs are not missed.
    await this.alerts.start();
    this.maintenance?.start();
    this.scheduler?.start();
    this.worker?.start();
    return this;
  }

  /** Stop claiming, let runs finish within `graceMs`, release the rest; the store stays open. */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    await this.scheduler?.stop();
    await this.worker?.stop(options);
    await this.maintenance?.stop();
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
