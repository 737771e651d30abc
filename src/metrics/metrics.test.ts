import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../core/status.js';
import { EventBus } from '../events/bus.js';
import { DeckCounters } from './counters.js';
import { MetricsRegistry } from './metrics.js';

type Counts = Partial<Record<RunStatus, number>>;

/** A registry over a count source the test controls, on a clock it advances by hand. */
function registryWith(read: () => Promise<Counts>, counters?: DeckCounters) {
  let now = 0;
  const metrics = new MetricsRegistry(
    {
      bus: new EventBus(),
      countUnfinished: read,
      activeHere: () => 0,
      jobs: () => ['a', 'b'],
      ...(counters ? { counters } : {}),
    },
    { storeCountsTtlMs: 5000, now: () => now },
  );
  return {
    metrics,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const line = (text: string, series: string) =>
  text.split('\n').find((l) => l.startsWith(`${series} `));

describe('MetricsRegistry', () => {
  it('reads the store counts at most once per TTL, one read for concurrent scrapes', async () => {
    let reads = 0;
    let pending = 1;
    const { metrics, advance } = registryWith(async () => {
      reads++;
      return { pending };
    });
    const [first] = await Promise.all([metrics.text(), metrics.text(), metrics.text()]);
    expect(reads).toBe(1);
    expect(line(first, 'jobdeck_runs{status="pending"}')).toBe('jobdeck_runs{status="pending"} 1');

    pending = 7;
    advance(4999);
    expect(line(await metrics.text(), 'jobdeck_runs{status="pending"}')).toMatch(/ 1$/);
    expect(reads).toBe(1);

    advance(1);
    expect(line(await metrics.text(), 'jobdeck_runs{status="pending"}')).toMatch(/ 7$/);
    expect(line(await metrics.text(), 'jobdeck_runs{status="running"}')).toMatch(/ 0$/);
    expect(reads).toBe(2);
    metrics.close();
  });

  it('leaves the store gauge out while the store fails, keeps the rest, and reads again next scrape', async () => {
    let fail = false;
    const { metrics, advance } = registryWith(async () => {
      if (fail) throw Object.assign(new Error('down'), { code: 'STORE_UNAVAILABLE' });
      return { running: 2 };
    });
    expect(line(await metrics.text(), 'jobdeck_runs{status="running"}')).toMatch(/ 2$/);

    fail = true;
    advance(5000);
    const during = await metrics.text();
    expect(during).not.toMatch(/^jobdeck_runs\{/m);
    expect(during).toMatch(/^process_cpu_seconds_total /m);

    fail = false;
    expect(line(await metrics.text(), 'jobdeck_runs{status="running"}')).toMatch(/ 2$/);
    metrics.close();
  });

  it("exposes the deck's counters, at 0 for known jobs and declared channels", async () => {
    const counters = new DeckCounters(() => ['a']);
    const { metrics } = registryWith(async () => ({}), counters);
    counters.alertChannels(['slack']);
    counters.runStuck('b');
    counters.alertFailed('slack');
    const text = await metrics.text();
    expect(line(text, 'jobdeck_runs_stuck_total{job="a"}')).toMatch(/ 0$/);
    expect(line(text, 'jobdeck_runs_stuck_total{job="b"}')).toMatch(/ 1$/);
    expect(line(text, 'jobdeck_alerts_sent_total{channel="slack"}')).toMatch(/ 0$/);
    expect(line(text, 'jobdeck_alerts_failed_total{channel="slack"}')).toMatch(/ 1$/);
    // Every registered job starts with a zero count of each final status.
    expect(line(text, 'jobdeck_runs_finished_total{job="b",status="failed"}')).toMatch(/ 0$/);
    metrics.close();
  });

  it("names Node.js's and the process's metrics as standard dashboards expect, or with a prefix", async () => {
    const plain = registryWith(async () => ({})).metrics;
    const text = await plain.text();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    // Gauges named like counters are left out; Prometheus's lint refuses them.
    expect(text).not.toMatch(/^nodejs_active_handles_total /m);
    expect(text).toMatch(/^nodejs_active_handles\{/m);
    plain.close();

    const prefixed = new MetricsRegistry(
      { bus: new EventBus(), countUnfinished: async () => ({}), activeHere: () => 0 },
      { processPrefix: 'app_' },
    );
    const names = (await prefixed.text())
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2]!);
    expect(names).toContain('app_process_cpu_seconds_total');
    expect(names).toContain('app_nodejs_eventloop_lag_seconds');
    expect(names).not.toContain('app_nodejs_active_handles_total');
    expect(names.filter((n) => !n.startsWith('app_') && !n.startsWith('jobdeck_'))).toEqual([]);
    prefixed.close();
  });
});
