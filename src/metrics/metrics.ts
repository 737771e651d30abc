import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TERMINAL_STATUSES, UNFINISHED_STATUSES, type RunStatus } from '../core/status.js';
import type { EventBus } from '../events/bus.js';
import type { DeckCounters } from './counters.js';

export interface MetricsSources {
  bus: EventBus;
  /** Runs per unfinished status across the store (waiting and active). */
  countUnfinished: () => Promise<Partial<Record<RunStatus, number>>>;
  /** Runs executing in this instance. */
  activeHere: () => number;
  /** The jobs registered here: their counts of finished runs start at 0. */
  jobs?: () => Iterable<string>;
  /** Counters the deck's other parts increment (stuck runs, alerts). */
  counters?: DeckCounters;
  /** Event streams (GET /api/events) open on this instance. */
  openEventStreams?: () => number;
  /** Event-loop delay of this instance since the last scrape, if it runs a worker. */
  eventLoopDelay?: () => { meanMs: number; p99Ms: number; maxMs: number };
}

export interface MetricsOptions {
  /**
   * Prefix of Node.js's and the process's own metrics (`process_cpu_seconds_total`,
   * `nodejs_eventloop_lag_seconds`…); none by default, the names standard dashboards expect.
   */
  processPrefix?: string;
  /** How long one read of the store's counts serves the scrapes that follow. Default 5 s. */
  storeCountsTtlMs?: number;
  /** Milliseconds of a monotonic clock (tests). */
  now?: () => number;
}

/** Run durations and queue waits: 10 ms to 1 h. */
export const RUN_SECONDS_BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];

/** Cancel delivery: at once in the same process, a poll or heartbeat away in another. */
export const CANCEL_DELIVERY_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export const DEFAULT_STORE_COUNTS_TTL_MS = 5000;

/** prom-client's totals of `nodejs_active_handles`, `_requests` and `_resources` by type. */
const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * Prometheus metrics: Node.js's and the process's own, the deck's counters, what the event bus
 * reports, and the store's counts (read at most once per few seconds).
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  private readonly off: (() => void)[] = [];

  constructor(sources: MetricsSources, options: MetricsOptions = {}) {
    const registry = this.registry;
    const processPrefix = options.processPrefix ?? '';
    collectDefaultMetrics({ register: registry, prefix: processPrefix });
    // Gauges named like counters, which Prometheus's lint rejects; sum the per-type gauge instead.
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(processPrefix + name);
    for (const metric of sources.counters?.metrics() ?? []) registry.registerMetric(metric);
    const jobs = sources.jobs ?? (() => []);
    const created = new Counter({
      name: 'jobdeck_runs_created_total',
      help: 'Runs created',
      labelNames: ['job', 'trigger'],
      registers: [registry],
    });
    const finished = new Counter({
      name: 'jobdeck_runs_finished_total',
      help: 'Runs that reached a final status',
      labelNames: ['job', 'status'],
      registers: [registry],
      collect() {
        // At 0 from the start, so a job's first failure shows as an increase.
        for (const job of jobs())
          for (const status of TERMINAL_STATUSES) this.inc({ job, status }, 0);
      },
    });
    const retried = new Counter({
      name: 'jobdeck_runs_retried_total',
      help: 'Attempts that ended in a retry',
      labelNames: ['job'],
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'jobdeck_run_duration_seconds',
      help: 'Duration of the last attempt of finished runs',
      labelNames: ['job', 'status'],
      buckets: RUN_SECONDS_BUCKETS,
      registers: [registry],
    });
    const queueWait = new Histogram({
      name: 'jobdeck_run_queue_wait_seconds',
      help: 'From when a run was due (created, or its run time or retry time) until this instance started it',
      labelNames: ['job'],
      buckets: RUN_SECONDS_BUCKETS,
      registers: [registry],
    });
    const cancelLatency = new Histogram({
      name: 'jobdeck_cancel_delivery_seconds',
      help: 'From a cancel request to its delivery to the handler, in the instance running it',
      labelNames: ['mode'],
      buckets: CANCEL_DELIVERY_BUCKETS,
      registers: [registry],
    });
    const counts = new CachedCounts(
      sources.countUnfinished,
      options.storeCountsTtlMs ?? DEFAULT_STORE_COUNTS_TTL_MS,
      options.now ?? (() => performance.now()),
    );
    new Gauge({
      name: 'jobdeck_runs',
      help: 'Unfinished runs in the store by status (waiting: scheduled, pending; active: running, cancelling; held: paused; suspended until their child runs end: waiting); absent while the store does not answer',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        let now: Partial<Record<RunStatus, number>>;
        try {
          now = await counts.get();
        } catch {
          // The rest of the scrape is worth more than this gauge: leave it out, keep no stale value.
          this.reset();
          return;
        }
        for (const status of UNFINISHED_STATUSES) this.set({ status }, now[status] ?? 0);
      },
    });
    new Gauge({
      name: 'jobdeck_worker_active_runs',
      help: 'Runs executing in this instance',
      registers: [registry],
      collect() {
        this.set(sources.activeHere());
      },
    });
    new Gauge({
      name: 'jobdeck_event_streams',
      help: 'Event streams (GET /api/events) open on this instance',
      registers: [registry],
      collect() {
        this.set(sources.openEventStreams?.() ?? 0);
      },
    });
    new Gauge({
      name: 'jobdeck_event_loop_delay_seconds',
      help: 'Event-loop delay of this instance since the last scrape (p99 and max); inline handlers that block it delay heartbeats',
      labelNames: ['stat'],
      registers: [registry],
      collect() {
        const delay = sources.eventLoopDelay?.();
        if (!delay) return;
        this.set({ stat: 'p99' }, delay.p99Ms / 1000);
        this.set({ stat: 'max' }, delay.maxMs / 1000);
      },
    });
    const { bus } = sources;
    this.off.push(
      bus.on('run.created', ({ payload: { run } }) =>
        created.inc({ job: run.job, trigger: run.trigger }),
      ),
      bus.on('run.started', ({ payload: { run } }) => {
        if (!run.startedAt) return;
        const due = Math.max(run.runAt.getTime(), run.createdAt.getTime());
        queueWait.observe({ job: run.job }, Math.max(0, run.startedAt.getTime() - due) / 1000);
      }),
      bus.on('run.retrying', ({ payload: { run } }) => retried.inc({ job: run.job })),
      bus.on('run.finished', ({ payload: { run } }) => {
        finished.inc({ job: run.job, status: run.status });
        if (run.startedAt && run.finishedAt) {
          duration.observe(
            { job: run.job, status: run.status },
            (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000,
          );
        }
      }),
      bus.on('run.cancel_delivered', ({ payload }) => {
        cancelLatency.observe(
          { mode: payload.mode },
          Math.max(0, payload.at.getTime() - payload.requestedAt.getTime()) / 1000,
        );
      }),
    );
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const off of this.off) off();
  }
}

/** The store's counts of unfinished runs, read at most once per `ttlMs`; concurrent scrapes share a read. */
class CachedCounts {
  private value: { at: number; counts: Partial<Record<RunStatus, number>> } | null = null;
  private reading: Promise<Partial<Record<RunStatus, number>>> | null = null;

  constructor(
    private readonly read: () => Promise<Partial<Record<RunStatus, number>>>,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(): Promise<Partial<Record<RunStatus, number>>> {
    if (this.value && this.now() - this.value.at < this.ttlMs)
      return Promise.resolve(this.value.counts);
    this.reading ??= this.read()
      .then((counts) => {
        this.value = { at: this.now(), counts };
        return counts;
      })
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }
}
