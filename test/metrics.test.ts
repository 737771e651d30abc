/**
 * Prometheus metrics over real HTTP: a real server on a real SQLite file runs jobs that complete,
 * fail and are cancelled (delivered to their handlers, and before they started), then one scrape
 * of GET /metrics is linted by promtool and checked series by series against the runs the API
 * reports. The monitoring guide's alert rules pass `promtool check rules` and their unit tests,
 * and the Grafana dashboard and the guide name only metrics the scrape has.
 *
 * promtool is Debian's package `prometheus` (.ci/run installs it). Without it, and without CI
 * set, the promtool checks are skipped with a warning; with CI set they fail.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TERMINAL_STATUSES } from '../src/core/status.js';
import { CANCEL_DELIVERY_BUCKETS, RUN_SECONDS_BUCKETS } from '../src/metrics/metrics.js';
import { TEST_TOKENS, startTestServer, type TestServer } from './helpers/server.js';
import { pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/temp.js';
import {
  Gates,
  createRun,
  failingJob,
  gateJob,
  getLogs,
  getRun,
  quickJob,
  waitForLog,
  waitForStatus,
} from './e2e/support.js';

const ROOT = join(import.meta.dirname, '..');
const RULES = join(ROOT, 'docs/prometheus/jobdeck-rules.yml');
const RULE_TESTS = join(ROOT, 'test/fixtures/prometheus/jobdeck-rules.test.yml');
const GUIDE = join(ROOT, 'docs/guides/monitoring.md');
const DASHBOARD = join(ROOT, 'docs/grafana/jobdeck.json');

const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const HAS_PROMTOOL = !probe.error && probe.status === 0;
const IN_CI = Boolean(process.env.CI);
if (!HAS_PROMTOOL && !IN_CI) {
  console.warn(
    'promtool is not installed (Debian package prometheus): the promtool checks of test/metrics.test.ts are skipped; with CI set they fail',
  );
}
/** Runs where promtool is, fails where CI is set and promtool is not, skips elsewhere. */
const withPromtool = it.skipIf(!HAS_PROMTOOL && !IN_CI);

function promtool(args: string[], input?: string) {
  const result = spawnSync('promtool', args, { encoding: 'utf8', input, cwd: ROOT });
  if (result.error) {
    throw new Error(
      `promtool could not run (${result.error.message}): install the Debian package prometheus`,
    );
  }
  return { status: result.status, output: (result.stdout + result.stderr).trim() };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
        labels[key!] = value!;
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

const QUICK = 'metrics.quick';
const FAILING = 'metrics.failing';
const GATE = 'metrics.gate';
/** One run at a time: while one is held, the next stays `pending`. */
const SINGLE = 'metrics.single';
const JOBS = [QUICK, FAILING, GATE, SINGLE];

const gates = new Gates();
let server: TestServer;
let scrape: string;
let samples: Sample[];
// The runs as the API reports them at the scrape, by role in the scenario.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const runs: Record<string, any> = {};
/** When each delivered cancel reached its handler (its `cancel delivered` log entry). */
const deliveredAt: Record<string, Date> = {};

/** The value of the one series with exactly these labels, or undefined. */
function value(name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(found.length, `${name}${JSON.stringify(labels)} at most once`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

const ms = (iso: string) => new Date(iso).getTime();
/** Seconds from when a run was due to when it started (the queue wait). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const waitOf = (run: any) =>
  (ms(run.startedAt) - Math.max(ms(run.runAt), ms(run.createdAt))) / 1000;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const durationOf = (run: any) => (ms(run.finishedAt) - ms(run.startedAt)) / 1000;

function cancel(id: string, mode: 'graceful' | 'force') {
  return server.request('POST', `/api/runs/${id}/cancel`, {
    token: TEST_TOKENS.alice,
    body: { mode, reason: `metrics test (${mode})` },
  });
}

async function heldRun(job: string) {
  const key = gates.key();
  const run = await createRun(server, job, { input: { key } });
  await gates.get(key).entered.promise;
  return { run, gate: gates.get(key) };
}

async function cancelDeliveredAt(id: string): Promise<Date> {
  await waitForLog(server, id, 'cancel delivered');
  const entry = (await getLogs(server, id)).find((e) => e.message === 'cancel delivered');
  return new Date((entry as unknown as { time: string }).time);
}

beforeAll(async () => {
  server = await startTestServer([
    quickJob(QUICK),
    failingJob(FAILING),
    gateJob(gates, { name: GATE }),
    gateJob(gates, { name: SINGLE, concurrency: 1 }),
  ]);

  for (const name of ['quick1', 'quick2']) {
    const run = await createRun(server, QUICK, {});
    await waitForStatus(server, run.id, 'completed');
    runs[name] = run;
  }
  runs.failed = await createRun(server, FAILING, {});
  await waitForStatus(server, runs.failed.id, 'failed');

  // Forced while running: cancelled at once; the handler is told and stops.
  const forced = await heldRun(GATE);
  runs.forced = forced.run;
  expect((await cancel(forced.run.id, 'force')).body.run.status).toBe('cancelled');
  deliveredAt.forced = await cancelDeliveredAt(forced.run.id);
  await forced.gate.settled.promise;

  // Asked to stop gracefully and held in its step: cancelling at the scrape.
  const graceful = await heldRun(GATE);
  runs.graceful = graceful.run;
  expect((await cancel(graceful.run.id, 'graceful')).body.run.status).toBe('cancelling');
  deliveredAt.graceful = await cancelDeliveredAt(graceful.run.id);

  // SINGLE runs one at a time: the next two wait; one is cancelled before it starts.
  runs.single = (await heldRun(SINGLE)).run;
  const unstarted = await createRun(server, SINGLE, { input: { key: gates.key() } });
  expect(unstarted.status).toBe('pending');
  expect((await cancel(unstarted.id, 'graceful')).body.action).toBe('cancel-now');
  runs.pending = await createRun(server, SINGLE, { input: { key: gates.key() } });
  runs.scheduled = await createRun(server, QUICK, {
    runAt: new Date(Date.now() + 3600_000).toISOString(),
  });

  // What stuck detection and the alerts module report through the deck.
  server.deck.counters.runStuck(GATE);
  server.deck.counters.alertChannels(['webhook', 'slack']);
  server.deck.counters.alertSent('slack');
  server.deck.counters.alertSent('slack');
  server.deck.counters.alertFailed('webhook');

  // The forced run's slot is free once its end is stored; the two held runs remain.
  await pollUntil(() => server.deck.worker!.activeCount === 2, { what: 'two runs executing' });
  for (const [name, run] of Object.entries(runs)) runs[name] = await getRun(server, run.id);
  expect(runs.pending.status).toBe('pending');

  const res = await server.request('GET', '/metrics', { token: TEST_TOKENS.viewer });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  scrape = res.body as string;
  samples = parseSamples(scrape);
});

afterAll(async () => {
  gates.releaseAll();
  await server?.close();
});

describe('GET /metrics of a server that ran jobs', () => {
  withPromtool('passes promtool check metrics without a lint problem', () => {
    const { status, output } = promtool(['check', 'metrics'], scrape);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it("names Node.js's and the process's metrics without a prefix", () => {
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
    const names = new Set(samples.map((s) => s.name));
    expect([...names].filter((n) => n.startsWith('jobdeck_process_'))).toEqual([]);
    // Every series is Node.js's, the process's, or ours.
    expect([...names].filter((n) => !/^(process|nodejs|jobdeck)_/.test(n))).toEqual([]);
  });

  it('counts runs finished by job and final status, every pair from 0', () => {
    const expected: Record<string, number> = {
      [`${QUICK} completed`]: 2,
      [`${FAILING} failed`]: 1,
      [`${GATE} cancelled`]: 1,
      [`${SINGLE} cancelled`]: 1,
    };
    for (const job of JOBS) {
      for (const status of TERMINAL_STATUSES) {
        expect(value('jobdeck_runs_finished_total', { job, status }), `${job} ${status}`).toBe(
          expected[`${job} ${status}`] ?? 0,
        );
      }
    }
    expect(samples.filter((s) => s.name === 'jobdeck_runs_finished_total')).toHaveLength(
      JOBS.length * TERMINAL_STATUSES.length,
    );
    expect(value('jobdeck_runs_created_total', { job: QUICK, trigger: 'api' })).toBe(3);
    expect(value('jobdeck_runs_created_total', { job: SINGLE, trigger: 'api' })).toBe(3);
  });

  it('observes the duration of each run that started and finished', () => {
    const histogram = 'jobdeck_run_duration_seconds';
    const cases = [
      { job: QUICK, status: 'completed', of: [runs.quick1, runs.quick2] },
      { job: FAILING, status: 'failed', of: [runs.failed] },
      { job: GATE, status: 'cancelled', of: [runs.forced] },
    ];
    for (const { job, status, of } of cases) {
      expect(value(`${histogram}_count`, { job, status })).toBe(of.length);
      const total = of.reduce((sum, run) => sum + durationOf(run), 0);
      expect(value(`${histogram}_sum`, { job, status })).toBeCloseTo(total, 6);
      expect(value(`${histogram}_bucket`, { job, status, le: '+Inf' })).toBe(of.length);
    }
    // The run cancelled before it started has no duration.
    expect(value(`${histogram}_count`, { job: SINGLE, status: 'cancelled' })).toBeUndefined();
    const les = samples
      .filter((s) => s.name === `${histogram}_bucket` && s.labels.job === QUICK)
      .map((s) => s.labels.le);
    expect(les).toEqual([...RUN_SECONDS_BUCKETS.map(String), '+Inf']);
    expect(RUN_SECONDS_BUCKETS[0]).toBe(0.01);
    expect(RUN_SECONDS_BUCKETS.at(-1)).toBe(3600);
  });

  it('observes the queue wait of each run started, by job', () => {
    const cases = [
      { job: QUICK, of: [runs.quick1, runs.quick2] },
      { job: FAILING, of: [runs.failed] },
      { job: GATE, of: [runs.forced, runs.graceful] },
      { job: SINGLE, of: [runs.single] },
    ];
    for (const { job, of } of cases) {
      expect(value('jobdeck_run_queue_wait_seconds_count', { job })).toBe(of.length);
      const total = of.reduce((sum, run) => sum + waitOf(run), 0);
      expect(value('jobdeck_run_queue_wait_seconds_sum', { job })).toBeCloseTo(total, 6);
    }
  });

  it('reports the store gauges by status and the runs this instance executes', () => {
    expect(runs.graceful.status).toBe('cancelling');
    expect(runs.single.status).toBe('running');
    expect(runs.scheduled.status).toBe('scheduled');
    for (const status of ['scheduled', 'pending', 'running', 'cancelling'])
      expect(value('jobdeck_runs', { status }), status).toBe(1);
    expect(value('jobdeck_worker_active_runs')).toBe(2);
  });

  it('observes cancel delivery from the request to the handler, per mode', () => {
    for (const mode of ['graceful', 'force'] as const) {
      const run = mode === 'force' ? runs.forced : runs.graceful;
      const at = mode === 'force' ? deliveredAt.forced! : deliveredAt.graceful!;
      expect(run.cancel.mode).toBe(mode);
      expect(value('jobdeck_cancel_delivery_seconds_count', { mode })).toBe(1);
      expect(value('jobdeck_cancel_delivery_seconds_sum', { mode })).toBeCloseTo(
        (at.getTime() - ms(run.cancel.requestedAt)) / 1000,
        6,
      );
    }
    const les = samples
      .filter(
        (s) => s.name === 'jobdeck_cancel_delivery_seconds_bucket' && s.labels.mode === 'force',
      )
      .map((s) => s.labels.le);
    expect(les).toEqual([...CANCEL_DELIVERY_BUCKETS.map(String), '+Inf']);
  });

  it("exposes the deck's stuck and alert counters", () => {
    expect(value('jobdeck_runs_stuck_total', { job: GATE })).toBe(1);
    expect(value('jobdeck_runs_stuck_total', { job: QUICK })).toBe(0);
    expect(value('jobdeck_alerts_sent_total', { channel: 'slack' })).toBe(2);
    expect(value('jobdeck_alerts_sent_total', { channel: 'webhook' })).toBe(0);
    expect(value('jobdeck_alerts_failed_total', { channel: 'webhook' })).toBe(1);
    expect(value('jobdeck_alerts_failed_total', { channel: 'slack' })).toBe(0);
  });
});

/** Metric names a PromQL expression reads (ours, Node.js's, the process's, and `up`). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:jobdeck|process|nodejs)_[a-z0-9_]+|\bup\b(?=\{)/g)].map(
    (m) => m[0],
  );
}

/** The metric families of the scrape (a histogram's `_bucket`, `_sum` and `_count` are its family). */
const families = () =>
  new Set(
    scrape
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .map((line) => line.split(' ')[2]!),
  );
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

/** Whether the scrape has this metric (`up` is Prometheus's own). */
function scraped(name: string): boolean {
  const known = families();
  return name === 'up' || known.has(name) || known.has(family(name));
}

describe('the monitoring guide, its alert rules and the Grafana dashboard', () => {
  withPromtool('the alert rules pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(output).toMatch(/SUCCESS: 6 rules found/);
    expect(status).toBe(0);
  });

  withPromtool('the alert rules fire on the series of their unit tests, and only there', () => {
    const { status, output } = promtool(['test', 'rules', RULE_TESTS]);
    expect(output).toMatch(/SUCCESS/);
    expect(status).toBe(0);
  });

  it('the guide shows the rules file as it is', () => {
    const block =
      /<!-- rules: docs\/prometheus\/jobdeck-rules\.yml -->\n+```yaml\n([\s\S]*?)```/.exec(
        readFileSync(GUIDE, 'utf8'),
      );
    expect(block, 'the rules block in monitoring.md').not.toBeNull();
    expect(block![1]).toBe(readFileSync(RULES, 'utf8'));
  });

  it('the rules read only metrics the scrape has', () => {
    const names = metricNames(readFileSync(RULES, 'utf8'));
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(scraped(name), name).toBe(true);
  });

  it('the guide documents every metric of ours the scrape has', () => {
    const guide = readFileSync(GUIDE, 'utf8');
    const ours = [...families()].filter((name) => name.startsWith('jobdeck_'));
    expect(ours.length).toBeGreaterThan(10);
    for (const name of ours) expect(guide, name).toContain(`\`${name}\``);
  });

  it('the dashboard is JSON whose panels read only metrics the scrape has', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('jobdeck');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const read = new Set<string>();
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!)
        for (const name of metricNames(target.expr)) read.add(name);
    }
    for (const name of read) expect(scraped(name), name).toBe(true);
    // Every metric of ours is on the dashboard somewhere.
    const shown = new Set([...read].map(family));
    for (const name of families())
      if (name.startsWith('jobdeck_')) expect(shown.has(name), name).toBe(true);
  });

  withPromtool("the dashboard's queries are valid PromQL", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    // Grafana's variables as Prometheus would see them once Grafana filled them in.
    const exprs = dashboard.panels
      .flatMap((p) => p.targets ?? [])
      .map((t) =>
        t.expr
          .replaceAll('$__rate_interval', '5m')
          .replaceAll('$__range', '6h')
          .replaceAll('$instance', '.*')
          .replaceAll('$job', '.*'),
      );
    const { dir, cleanup } = tempDir('jobdeck-dashboard-rules-');
    try {
      const file = join(dir, 'dashboard.rules.yml');
      const rules = exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { status, output } = promtool(['check', 'rules', file]);
      expect(output).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(status).toBe(0);
    } finally {
      cleanup();
    }
  });
});
