/**
 * GET /api/stats and the list filters of GET /api/runs over real HTTP, on a real SQLite file and
 * on PostgreSQL: 10,000 runs of six jobs are driven through the store with chosen times to
 * every outcome (completed, failed, partial, cancelled before or while running, retried, still
 * running, cancelling, paused, waiting for a child, pending, scheduled), and every figure the API
 * gives is checked against
 * counts and nearest-rank percentiles worked out here from what was made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile } from '../../bench/lib/stats.js';
import { JobdeckClient } from '../../src/client/client.js';
import { TestClock } from '../../src/core/clock.js';
import { newRunId } from '../../src/core/ids.js';
import type { Run } from '../../src/core/run.js';
import { RUN_STATUSES, type RunStatus, type TerminalStatus } from '../../src/core/status.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { RunFinishOutcome, RunInsertParams, Store } from '../../src/store/store.js';
import { PG_URL, freshSchema, postgresReachable } from '../helpers/postgres.js';
import { seeded } from '../helpers/random.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import { tempDbPath } from '../helpers/temp.js';
import { expectErrorBody, quickJob } from './support.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2030, 0, 1);
/** The test clock's time while the API answers: after every run made has done what it does. */
const NOW = T0 + 12 * HOUR;
const RUNS = 10_000;
const JOBS = ['stats.a', 'stats.b', 'stats.c', 'stats.d', 'stats.e', 'stats.f'];

/** What the test knows of a run it made: the times the store should hold at the end. */
interface Made {
  id: string;
  job: string;
  createdBy: string;
  status: RunStatus;
  createdAt: number;
  /** The due time of its latest attempt (a retry moves it). */
  runAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

type Plan =
  | 'completed'
  | 'failed'
  | 'partial'
  | 'cancelledRunning'
  | 'cancelledWaiting'
  | 'retried'
  | 'running'
  | 'cancelling'
  | 'paused'
  | 'waiting'
  | 'pending'
  | 'scheduled';
const PLANS: [Plan, number][] = [
  ['completed', 0.58],
  ['failed', 0.1],
  ['partial', 0.06],
  ['cancelledRunning', 0.06],
  ['cancelledWaiting', 0.05],
  ['retried', 0.05],
  ['running', 0.03],
  ['cancelling', 0.02],
  ['paused', 0.01],
  ['waiting', 0.01],
  ['pending', 0.02],
  ['scheduled', 0.01],
];

/** A run to make: what happens to it, and its times. */
interface Draft {
  job: string;
  createdBy: string;
  plan: Plan;
  createdAt: number;
  runAt: number;
  wait: number;
  duration: number;
  backoff: number;
  secondWait: number;
}

/**
 * Make the runs through the store, one lane per job (a lane claims only its job, so the run just
 * inserted with priority 1 is the one its claim takes; waiting runs keep priority 0).
 */
async function makeRuns(store: Store): Promise<Made[]> {
  const random = seeded(20300101);
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min));
  // RUNS in all, a waiting run's child included.
  const drafts: Draft[] = [];
  for (let children = 0; drafts.length + children < RUNS; ) {
    let draw = random();
    let plan = PLANS.find(([, share]) => (draw -= share) < 0)?.[0] ?? 'completed';
    if (plan === 'waiting' && drafts.length + children + 2 > RUNS) plan = 'completed';
    if (plan === 'waiting') children++;
    const createdAt = T0 + Math.floor((drafts.length * 10 * HOUR) / RUNS);
    const delayed = random() < 0.1;
    drafts.push({
      job: JOBS[Math.floor(random() * JOBS.length)]!,
      createdBy: random() < 0.7 ? 'alice' : 'bob',
      plan,
      createdAt,
      runAt: delayed ? createdAt + between(30 * SECOND, 5 * MINUTE) : createdAt,
      // Skewed: most waits and durations are short, a few long, so the percentiles differ.
      wait: Math.floor(random() ** 2 * 2 * MINUTE),
      duration: 1 + Math.floor(random() ** 3 * 30 * MINUTE),
      backoff: between(10 * SECOND, 2 * MINUTE),
      secondWait: between(0, 20 * SECOND),
    });
  }
  const lanes = JOBS.map(async (job) => {
    const made: Made[] = [];
    for (const draft of drafts.filter((d) => d.job === job))
      made.push(...(await makeOne(store, draft)));
    return made;
  });
  return (await Promise.all(lanes)).flat();
}

async function makeOne(store: Store, draft: Draft): Promise<Made[]> {
  const { plan, job } = draft;
  const waits = plan === 'pending' || plan === 'cancelledWaiting' || plan === 'scheduled';
  const runAt = plan === 'scheduled' ? NOW + HOUR : draft.runAt;
  const { run } = await store.runInsert(
    insertOf(job, draft.createdBy, draft.createdAt, runAt, waits ? 0 : 1),
  );
  const made: Made = {
    id: run.id,
    job,
    createdBy: draft.createdBy,
    status: run.status,
    createdAt: draft.createdAt,
    runAt,
    startedAt: null,
    finishedAt: null,
  };
  const due = Math.max(draft.runAt, draft.createdAt);
  if (plan === 'pending' || plan === 'scheduled') return [made];
  if (plan === 'cancelledWaiting') {
    const at = due + draft.wait;
    await cancel(store, run.id, 'force', at);
    return [{ ...made, status: 'cancelled', finishedAt: at }];
  }
  // A waiting run is claimed when due and waits at once: a wait moves runAt to its own time (due
  // again from there), so only then does runAt stay the time this attempt's queue wait counts from.
  let startedAt = plan === 'waiting' ? due : due + draft.wait;
  let held = await claim(store, run, startedAt);
  if (plan === 'retried') {
    const retryAt = startedAt + draft.duration + draft.backoff;
    await finish(store, held, startedAt + draft.duration, {
      status: 'scheduled',
      runAt: new Date(retryAt),
      error: { code: 'HANDLER_ERROR', message: 'once more' },
    });
    made.runAt = retryAt;
    startedAt = retryAt + draft.secondWait;
    held = await claim(store, run, startedAt);
  }
  made.startedAt = startedAt;
  const endedAt = startedAt + draft.duration;
  switch (plan) {
    case 'running':
      return [{ ...made, status: 'running' }];
    case 'cancelling':
      await cancel(store, run.id, 'graceful', startedAt + SECOND);
      return [{ ...made, status: 'cancelling' }];
    case 'paused':
      // Stopped at a checkpoint after a pause: started, not finished, holding no worker.
      await store.runPause({ id: run.id, requestedBy: 'alice', now: new Date(startedAt + SECOND) });
      await finish(store, held, endedAt, { status: 'paused' });
      return [{ ...made, status: 'paused' }];
    case 'waiting': {
      // Its handler started a child (pending, priority 0: its lane's claims leave it) and waits.
      const childAt = startedAt;
      const { run: child } = await store.runInsert({
        ...insertOf(job, draft.createdBy, childAt, childAt, 0),
        trigger: 'parent',
        idempotencyKey: `child:${run.id}:1`,
        parentId: run.id,
      });
      await finish(store, held, startedAt, { status: 'waiting', children: [child.id] });
      const pending: Made = {
        id: child.id,
        job,
        createdBy: draft.createdBy,
        status: 'pending',
        createdAt: childAt,
        runAt: childAt,
        startedAt: null,
        finishedAt: null,
      };
      return [{ ...made, status: 'waiting' }, pending];
    }
    case 'cancelledRunning':
      await cancel(store, run.id, 'force', endedAt);
      return [{ ...made, status: 'cancelled', finishedAt: endedAt }];
    case 'failed':
      await finish(store, held, endedAt, {
        status: 'failed',
        error: { code: 'HANDLER_ERROR', message: 'no' },
      });
      return [{ ...made, status: 'failed', finishedAt: endedAt }];
    case 'partial':
      await finish(store, held, endedAt, { status: 'partial', result: null });
      return [{ ...made, status: 'partial', finishedAt: endedAt }];
    default: {
      // The one-statement completion the worker uses for runs without items.
      const ref = { id: held.id, attempt: held.attempt, workerId: held.workerId! };
      const [done] = await store.runCompleteMany({
        now: new Date(endedAt),
        runs: [{ ref, result: null }],
      });
      expect(done?.status).toBe('completed');
      return [{ ...made, status: 'completed', finishedAt: endedAt }];
    }
  }
}

/** The insert of a run of `job` created at `createdAt`, due at `runAt`. */
function insertOf(
  job: string,
  createdBy: string,
  createdAt: number,
  runAt: number,
  priority: number,
): RunInsertParams {
  return {
    id: newRunId(),
    job,
    input: {},
    priority,
    runAt: new Date(runAt),
    maxAttempts: 3,
    createdBy,
    trigger: 'api',
    idempotencyKey: null,
    expireAt: null,
    retentionMs: 30 * 24 * HOUR,
    retryOf: null,
    now: new Date(createdAt),
    exclusive: false,
  };
}

async function claim(store: Store, run: Run, at: number): Promise<Run> {
  const claimed = await store.runClaim({
    workerId: 'stats-test',
    now: new Date(at),
    leaseMs: 30 * SECOND,
    limit: 1,
    jobs: [{ name: run.job, concurrency: null }],
  });
  // Exactly the one asked for: a claim of one that also took a waiting run would start it.
  expect(claimed.map((r) => r.id)).toEqual([run.id]);
  return claimed[0]!;
}

async function finish(store: Store, run: Run, at: number, outcome: RunFinishOutcome) {
  const ref = { id: run.id, attempt: run.attempt, workerId: run.workerId! };
  await store.runFinishIfAttempt({ ref, now: new Date(at), outcome });
}

async function cancel(store: Store, id: string, mode: 'graceful' | 'force', at: number) {
  await store.runCancel({ id, mode, reason: null, requestedBy: 'alice', now: new Date(at) });
}

/** The buckets GET /api/stats should answer for [from, to) in buckets of `bucketMs`. */
function expectedBuckets(made: Made[], from: number, to: number, bucketMs: number) {
  interface Cell {
    created: number;
    started: number;
    ended: Record<TerminalStatus, number>;
    durations: number[];
    waits: number[];
  }
  const cells = new Map<string, Cell & { start: number; job: string }>();
  const cell = (time: number, job: string) => {
    const start = Math.floor(time / bucketMs) * bucketMs;
    const key = `${start} ${job}`;
    let found = cells.get(key);
    if (!found) {
      found = {
        start,
        job,
        created: 0,
        started: 0,
        ended: { completed: 0, partial: 0, failed: 0, cancelled: 0 },
        durations: [],
        waits: [],
      };
      cells.set(key, found);
    }
    return found;
  };
  const inWindow = (time: number | null): time is number =>
    time !== null && time >= from && time < to;
  for (const run of made) {
    if (inWindow(run.createdAt)) cell(run.createdAt, run.job).created++;
    if (inWindow(run.startedAt)) {
      const c = cell(run.startedAt, run.job);
      c.started++;
      c.waits.push(run.startedAt - Math.max(run.runAt, run.createdAt));
    }
    if (inWindow(run.finishedAt)) {
      const c = cell(run.finishedAt, run.job);
      c.ended[run.status as TerminalStatus]++;
      if (run.startedAt !== null) c.durations.push(run.finishedAt - run.startedAt);
    }
  }
  const percentiles = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? { p50: percentile(sorted, 50), p95: percentile(sorted, 95) } : null;
  };
  return [...cells.values()]
    .sort((a, b) => a.start - b.start || (a.job < b.job ? -1 : 1))
    .map((c) => ({
      start: new Date(c.start).toISOString(),
      job: c.job,
      created: c.created,
      started: c.started,
      ended: c.ended,
      durationMs: percentiles(c.durations),
      queueWaitMs: percentiles(c.waits),
    }));
}

/** The `now` part GET /api/stats should answer. */
function expectedNow(made: Made[]) {
  const unfinished = {
    scheduled: 0,
    pending: 0,
    running: 0,
    cancelling: 0,
    paused: 0,
    waiting: 0,
  };
  for (const run of made) if (run.status in unfinished) unfinished[run.status as 'pending']++;
  const waiting = made
    .filter((run) => run.status === 'pending' || run.status === 'scheduled')
    .map((run) => ({ run, dueAt: run.runAt }))
    .filter(({ dueAt }) => dueAt <= NOW)
    .sort((a, b) => a.dueAt - b.dueAt || (a.run.id < b.run.id ? -1 : 1));
  const oldest = waiting[0];
  return {
    at: new Date(NOW).toISOString(),
    unfinished,
    oldestPending: oldest
      ? {
          runId: oldest.run.id,
          job: oldest.run.job,
          dueAt: new Date(oldest.dueAt).toISOString(),
          ageMs: NOW - oldest.dueAt,
        }
      : null,
  };
}

const iso = (time: number) => new Date(time).toISOString();
const reachable = await postgresReachable();

/** A store for the server, and how to remove its data once the server (and store) closed. */
const BACKENDS: {
  name: string;
  skip: boolean;
  open: () => Promise<{ store: Store; remove: () => Promise<void> }>;
}[] = [
  {
    name: 'SQLite',
    skip: false,
    open: async () => {
      const { path, cleanup } = tempDbPath();
      return { store: new SqliteStore({ path }), remove: async () => cleanup() };
    },
  },
  {
    name: 'PostgreSQL',
    skip: !reachable,
    open: async () => {
      const schema = freshSchema();
      const store = new PostgresStore({
        connectionString: PG_URL,
        schema,
        poolSize: 6,
        notify: false,
      });
      const remove = async () => {
        const dropper = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 1 });
        await dropper.dropSchema();
        await dropper.close();
      };
      return { store, remove };
    },
  },
];

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(`statistics and list filters over HTTP on ${backend.name}`, () => {
    let server: TestServer;
    let remove: () => Promise<void> = async () => {};
    let made: Made[];
    let client: JobdeckClient;
    const stats = async (query: string) => {
      const res = await server.request('GET', `/api/stats${query}`, { token: TEST_TOKENS.viewer });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };

    beforeAll(async () => {
      const opened = await backend.open();
      const store = opened.store;
      remove = opened.remove;
      server = await startTestServer(JOBS.map(quickJob), {
        store,
        deck: {
          clock: new TestClock(NOW),
          worker: false,
          scheduler: false,
          maintenance: false,
        },
      });
      client = new JobdeckClient({ url: server.url, token: TEST_TOKENS.viewer });
      const started = performance.now();
      made = await makeRuns(store);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`${backend.name}: ${RUNS} runs made through the store in ${seconds} s`);
    }, 300_000);

    afterAll(async () => {
      await server?.close();
      await remove();
    });

    it('the store holds each run as it was made', async () => {
      const store = server.deck.store;
      const held = new Map<string, Run>();
      let cursor: string | null = null;
      do {
        const page: { runs: Run[]; nextCursor: string | null } = await store.runList({
          limit: 500,
          ...(cursor ? { cursor } : {}),
        });
        for (const run of page.runs) held.set(run.id, run);
        cursor = page.nextCursor;
      } while (cursor);
      const wrong: string[] = [];
      for (const run of made) {
        const stored = held.get(run.id);
        const got = {
          status: stored?.status,
          runAt: stored?.runAt.getTime(),
          startedAt: stored?.startedAt?.getTime() ?? null,
          finishedAt: stored?.finishedAt?.getTime() ?? null,
        };
        const want = {
          status: run.status,
          runAt: run.runAt,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
        };
        if (JSON.stringify(got) !== JSON.stringify(want))
          wrong.push(
            `${run.id} ${run.job}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`,
          );
      }
      expect(wrong).toEqual([]);
    });

    it('made every outcome it is about', () => {
      const statuses = new Set(made.map((run) => run.status));
      expect([...statuses].sort()).toEqual([...RUN_STATUSES].sort());
      expect(
        made.filter((run) => run.runAt > run.createdAt && run.startedAt).length,
      ).toBeGreaterThan(100);
    });

    it('hourly buckets over the 12 h of runs match what was made', async () => {
      const body = await stats(`?from=${iso(T0)}&to=${iso(T0 + 12 * HOUR)}&bucket=1h`);
      const want = expectedBuckets(made, T0, T0 + 12 * HOUR, HOUR);
      expect(body.from).toBe(iso(T0));
      expect(body.to).toBe(iso(T0 + 12 * HOUR));
      expect(body.bucket).toBe('1h');
      expect(body.bucketMs).toBe(HOUR);
      expect(body.buckets).toHaveLength(want.length);
      expect(body.buckets).toEqual(want);
      expect(body.now).toEqual(expectedNow(made));
      // Every run is created once in the window.
      const created = body.buckets.reduce(
        (sum: number, b: { created: number }) => sum + b.created,
        0,
      );
      expect(created).toBe(RUNS);
    });

    it('1-minute, 5-minute and daily buckets match too', async () => {
      const minutes = await stats(`?from=${iso(T0 + HOUR)}&to=${iso(T0 + 3 * HOUR)}&bucket=1m`);
      expect(minutes.buckets).toEqual(expectedBuckets(made, T0 + HOUR, T0 + 3 * HOUR, MINUTE));
      const fives = await stats(`?from=${iso(T0)}&to=${iso(T0 + 12 * HOUR)}&bucket=5m`);
      expect(fives.buckets).toEqual(expectedBuckets(made, T0, T0 + 12 * HOUR, 5 * MINUTE));
      const days = await stats(`?bucket=1d`);
      expect(days.from).toBe(iso(T0 - 24 * HOUR));
      expect(days.to).toBe(iso(T0 + 24 * HOUR));
      expect(days.buckets).toEqual(
        expectedBuckets(made, T0 - 24 * HOUR, T0 + 24 * HOUR, 24 * HOUR),
      );
    });

    it('defaults: the 24 h before now in 1 h buckets; a window is widened to whole buckets', async () => {
      const defaults = await stats('');
      expect([defaults.from, defaults.to, defaults.bucket]).toEqual([
        iso(NOW - 24 * HOUR),
        iso(NOW),
        '1h',
      ]);
      expect(defaults.buckets).toEqual(expectedBuckets(made, NOW - 24 * HOUR, NOW, HOUR));
      const odd = await stats(`?from=${iso(T0 + 30 * MINUTE + 17)}&to=${iso(T0 + 2 * HOUR + 5)}`);
      expect([odd.from, odd.to]).toEqual([iso(T0), iso(T0 + 3 * HOUR)]);
      expect(odd.buckets).toEqual(expectedBuckets(made, T0, T0 + 3 * HOUR, HOUR));
      // The typed client asks the same.
      expect(await client.stats({ from: new Date(T0), to: new Date(T0 + 3 * HOUR) })).toEqual(odd);
    });

    it('GET /api/runs filters, pages and counts the runs made', async () => {
      const from = T0 + 2 * HOUR;
      const to = T0 + 5 * HOUR;
      const want = made
        .filter(
          (run) =>
            run.job === 'stats.b' &&
            run.createdBy === 'bob' &&
            (run.status === 'failed' || run.status === 'partial') &&
            run.createdAt >= from &&
            run.createdAt < to,
        )
        .map((run) => run.id)
        .sort()
        .reverse();
      expect(want.length).toBeGreaterThan(10);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await client.runs({
          job: 'stats.b',
          createdBy: 'bob',
          status: ['failed', 'partial'],
          from: new Date(from),
          to: new Date(to),
          total: true,
          limit: 7,
          ...(cursor ? { cursor } : {}),
        });
        expect(page.total).toBe(want.length);
        expect(page.totalIsCapped).toBe(false);
        seen.push(...page.runs.map((run) => run.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(want);

      const some = made[1234]!;
      const prefix = some.id.slice(0, 13).toUpperCase();
      const byPrefix = await client.runs({ q: prefix, total: true, limit: 500 });
      const wantPrefix = made.filter((run) => run.id.startsWith(prefix.toLowerCase()));
      expect(byPrefix.total).toBe(wantPrefix.length);
      expect(byPrefix.runs.map((run) => run.id).sort()).toEqual(
        wantPrefix.map((run) => run.id).sort(),
      );
      expect((await client.runs({ q: some.id })).runs.map((run) => run.id)).toEqual([some.id]);

      const pending = await client.runs({ status: ['pending', 'scheduled'], total: true });
      expect(pending.total).toBe(
        made.filter((r) => r.status === 'pending' || r.status === 'scheduled').length,
      );
      // Without total=true the answer has no count.
      expect(await client.runs({ limit: 1 })).not.toHaveProperty('total');
    });

    it('the total is exact up to 10,000 runs and says so when capped past it', async () => {
      expect(await client.runs({ limit: 1, total: true })).toMatchObject({
        total: RUNS,
        totalIsCapped: false,
      });
      const extra = await server.request('POST', `/api/jobs/${JOBS[0]}/runs`, {
        token: TEST_TOKENS.alice,
        body: {},
      });
      expect(extra.status).toBe(202);
      made.push({
        id: extra.body.run.id,
        job: JOBS[0]!,
        createdBy: 'alice',
        status: 'pending',
        createdAt: NOW,
        runAt: NOW,
        startedAt: null,
        finishedAt: null,
      });
      expect(await client.runs({ limit: 1, total: true })).toMatchObject({
        total: RUNS,
        totalIsCapped: true,
      });
      expect(await client.runs({ job: JOBS[0], limit: 1, total: true })).toMatchObject({
        total: made.filter((run) => run.job === JOBS[0]).length,
        totalIsCapped: false,
      });
      // The new run is pending since now: it is the newest waiting one, not the oldest.
      expect((await stats('')).now).toEqual(expectedNow(made));
    });
  });
}

describe('bad statistics and list queries are refused with the field named', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer([quickJob('stats.quick')], {
      deck: { clock: new TestClock(NOW), worker: false },
    });
  });
  afterAll(async () => server.close());

  const cases: [path: string, field: string][] = [
    ['/api/stats?bucket=2h', 'bucket'],
    ['/api/stats?from=yesterday', 'from'],
    ['/api/stats?to=2030-01-01', 'to'],
    [`/api/stats?from=${iso(NOW)}&to=${iso(NOW)}`, 'from'],
    [`/api/stats?from=${iso(NOW + HOUR)}`, 'from'],
    ['/api/stats?from=1969-12-31T23:00:00Z&to=1970-01-01T01:00:00Z', 'from'],
    // 2 days of minutes: 2,880 buckets.
    [`/api/stats?from=${iso(NOW - 48 * HOUR)}&bucket=1m`, 'bucket'],
    // 1,001 minutes.
    [`/api/stats?from=${iso(NOW - 1001 * MINUTE)}&to=${iso(NOW)}&bucket=1m`, 'bucket'],
    ['/api/runs?from=soon', 'from'],
    ['/api/runs?to=12', 'to'],
    [`/api/runs?from=${iso(NOW)}&to=${iso(NOW - 1)}`, 'to'],
    ['/api/runs?q=not-hex', 'q'],
    [`/api/runs?q=${'0'.repeat(37)}`, 'q'],
    ['/api/runs?total=maybe', 'total'],
  ];
  for (const [path, field] of cases) {
    it(`${path} → 400 naming ${field}`, async () => {
      const res = await server.request('GET', path, { token: TEST_TOKENS.viewer });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expectErrorBody(res.body, 'INVALID_INPUT');
      const fields = (res.body.details as { path: (string | number)[] }[]).map((d) => d.path[0]);
      expect(fields).toContain(field);
    });
  }

  it('exactly 1,000 buckets are answered', async () => {
    const res = await server.request(
      'GET',
      `/api/stats?from=${iso(NOW - 1000 * MINUTE)}&to=${iso(NOW)}&bucket=1m`,
      { token: TEST_TOKENS.viewer },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(1000 * MINUTE);
    expect(res.body.buckets).toEqual([]);
  });
});
