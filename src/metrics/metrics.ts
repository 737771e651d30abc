import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunStatus } from '../core/status.js';
import type { EventBus } from '../events/bus.js';

export interface MetricsSources {
  bus: EventBus;
  /** Runs per unfinished status across the store (waiting and active). */
  countUnfinished: () => Promise<Partial<Record<RunStatus, number>>>;
  /** Runs executing in this instance. */
  activeHere: () => number;
  /** Event streams (GET /api/events) open on this instance. */
  openEventStreams?: () => number;
  /** Event-loop delay of this instance since the last scrape, if it runs a worker. */
  eventLoopDelay?: () => { meanMs: number; p99Ms: number; maxMs: number };
}

/** Prometheus metrics, fed only by the event bus and two counts. */
export class MetricsRegistry {
  readonly registry = new Registry();
  private readonly off: (() => void)[] = [];

  constructor(sources: MetricsSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: 'jobdeck_process_' });
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
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    });
    const cancelLatency = new Histogram({
      name: 'jobdeck_cancel_delivery_seconds',
      help: 'From a cancel request to its delivery to the handler, in the instance running it',
      labelNames: ['mode'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    new Gauge({
      name: 'jobdeck_runs',
      help: 'Unfinished runs in the store by status (queued: scheduled, pending; active: running, cancelling)',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const counts = await sources.countUnfinished();
        for (const status of ['scheduled', 'pending', 'running', 'cancelling'] as const)
          this.set({ status }, counts[status] ?? 0);
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
