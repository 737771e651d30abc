/**
 * One live view of every instance, with real OS processes started by the real command line: an
 * API-only instance (`serve --no-worker`) streams the events of runs that `worker` processes
 * execute — on PostgreSQL (one API, two workers, woken by NOTIFY) and on one SQLite file (one API,
 * one worker, woken by a watch of the file). Then the API instance restarts and a client resumes
 * with its Last-Event-ID: it gets every event of the gap once and in order; an id older than the
 * retention window gets a reset.
 *
 * Latency (store write → received by the client) is printed. It is asserted only against a bound
 * no poll-based delivery could meet reliably, never against the target itself: timing targets
 * belong to `npm run bench`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open.js';
import type { Store, StoredEvent } from '../src/store/store.js';
import { openEvents, type EventStream, type StreamEvent } from './e2e/support.js';
import { LEDGER_JOB } from './helpers/ledger-jobs.js';
import {
  Api,
  InstanceSet,
  LEDGER_JOBS_MODULE,
  dropSchema,
  freePort,
  medianP95,
  schemaUrl,
  serveReady,
  workerReady,
  type Instance,
} from './helpers/pg-instances.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { tempDir } from './helpers/temp.js';

const reachable = await postgresReachable();
const instances = new InstanceSet();
const cleanups: (() => Promise<void> | void)[] = [];
const figures: string[] = [];

afterEach(async () => {
  await instances.killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => {
  if (figures.length > 0)
    console.log(`event feed latency (write → client):\n${figures.join('\n')}`);
});

interface Deployment {
  db: string;
  token: string;
  ledgerPath: string;
  api: Instance;
  http: Api;
  workerIds: string[];
}

async function startApi(db: string, token: string): Promise<{ api: Instance; http: Api }> {
  const port = await freePort();
  const api = instances.cli(
    'api',
    ['serve', '--no-worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE],
    {
      JOBDECK_TOKENS: `tester:admin:${token}`,
      JOBDECK_PORT: String(port),
    },
  );
  await serveReady(api);
  return { api, http: new Api(`http://127.0.0.1:${port}`, token) };
}

async function deploy(db: string, workerNames: string[]): Promise<Deployment> {
  const { dir, cleanup } = tempDir('jobdeck-feed-');
  cleanups.push(cleanup);
  const ledgerPath = join(dir, 'ledger.jsonl');
  const token = randomBytes(16).toString('hex');
  const workers = workerNames.map((name) =>
    instances.cli(name, ['worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE], {
      JOBDECK_TEST_LEDGER: ledgerPath,
      JOBDECK_TEST_WORKER: name,
    }),
  );
  const [{ api, http }, ...workerIds] = await Promise.all([
    startApi(db, token),
    ...workers.map(workerReady),
  ]);
  return { db, token, ledgerPath, api, http, workerIds };
}

function subscribe(d: Deployment, lastEventId?: string): EventStream {
  const stream = openEvents(
    { url: d.http.baseUrl },
    { job: LEDGER_JOB },
    { token: d.token, ...(lastEventId ? { lastEventId } : {}) },
  );
  cleanups.push(() => stream.close());
  return stream;
}

const runIdOf = (e: StreamEvent) => {
  const data = e.data as { run?: { id: string }; runId?: string };
  return data.run?.id ?? data.runId;
};

async function createRun(d: Deployment, input: { steps: number; stepMs: number }) {
  const created = await d.http.post(`/api/jobs/${LEDGER_JOB}/runs`, { input });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  return created.body.run.id as string;
}

async function waitFinished(d: Deployment, runId: string): Promise<void> {
  await pollUntil(
    async () => (await d.http.get(`/api/runs/${runId}`)).body.run?.status === 'completed',
    { timeoutMs: 20_000, what: `run ${runId} to complete` },
  );
}

/** Every event of the store after `afterSeq` of the ledger job, read in pages. */
async function storedEvents(store: Store, afterSeq: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let cursor = afterSeq; ; ) {
    const page = await store.eventList({ afterSeq: cursor, limit: 500 });
    if (page.events.length === 0) return events.filter((e) => e.job === LEDGER_JOB);
    events.push(...page.events);
    cursor = page.events.at(-1)!.seq;
  }
}

/** The whole story on one backend; `label` names it in the printed figures. */
async function liveViewAcrossInstances(label: string, db: string, workerNames: string[]) {
  const d = await deploy(db, workerNames);
  const store = openStore(db);
  cleanups.push(() => store.close());

  // 1. A run executed by a worker, watched on the API-only instance.
  const stream = subscribe(d);
  await stream.opened;
  const runId = await createRun(d, { steps: 8, stepMs: 150 });
  const finished = await stream.waitFor(
    (e) => e.name === 'run.finished' && runIdOf(e) === runId,
    'run.finished of the run on a worker',
  );
  expect((finished.data as { run: { status: string; workerId: string } }).run).toMatchObject({
    status: 'completed',
  });
  expect(d.workerIds).toContain((finished.data as { run: { workerId: string } }).run.workerId);
  const ofRun = stream.events.filter((e) => runIdOf(e) === runId);
  const names = ofRun.map((e) => e.name);
  expect(names[0]).toBe('run.created');
  expect(names[1]).toBe('run.started');
  expect(names.at(-1)).toBe('run.finished');
  expect(names.filter((n) => n === 'run.progress').length).toBeGreaterThanOrEqual(3);
  const seqs = ofRun.map((e) => Number(e.id));
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  // Every log line of the run, in order, as GET /logs has them.
  const logs = (await d.http.get(`/api/runs/${runId}/logs`)).body.logs as { message: string }[];
  const streamedLogs = ofRun
    .filter((e) => e.name === 'run.log')
    .map((e) => (e.data as { entry: { message: string } }).entry.message);
  expect(streamedLogs).toEqual(logs.map((l) => l.message));
  expect(streamedLogs.length).toBeGreaterThanOrEqual(3);
  const latencies = ofRun.map((e) => e.receivedAt - Date.parse((e.data as { at: string }).at));
  const { median, p95, max } = medianP95(latencies);
  figures.push(
    `  ${label}: ${latencies.length} events, median ${median} ms, p95 ${p95} ms, max ${max} ms`,
  );
  // Pushed, not polled: the fallback polls every 250 ms and the safety poll every 2 s.
  expect(p95).toBeLessThan(1000);

  // 2. The client leaves; runs go on; the API instance restarts; the client resumes.
  const lastId = stream.events.at(-1)!.id!;
  await stream.close();
  const missed = [
    await createRun(d, { steps: 2, stepMs: 20 }),
    await createRun(d, { steps: 2, stepMs: 20 }),
  ];
  for (const id of missed) await waitFinished(d, id);
  await d.api.kill('SIGTERM');
  const restarted = await startApi(d.db, d.token);
  d.api = restarted.api;
  d.http = restarted.http;
  const gap = await storedEvents(store, Number(lastId));
  expect(gap.length).toBeGreaterThanOrEqual(missed.length * 3);
  const resumed = subscribe(d, lastId);
  await resumed.opened;
  await resumed.waitFor((e) => e.id === String(gap.at(-1)!.seq), 'the last event of the gap');
  expect(resumed.events.slice(0, gap.length).map((e) => [Number(e.id), e.name])).toEqual(
    gap.map((e) => [e.seq, e.name]),
  );
  expect(resumed.events.every((e) => e.name !== 'reset')).toBe(true);
  expect(new Set(resumed.events.map((e) => e.id)).size).toBe(resumed.events.length);
  await resumed.close();

  // 3. Past the retention window (pruned as an operator's short retention would): a reset.
  await store.eventDeleteExpired({
    now: new Date(Date.now() + 60_000),
    retentionMs: 0,
    limit: 100_000,
  });
  const expired = subscribe(d, lastId);
  await expired.opened;
  const after = await createRun(d, { steps: 1, stepMs: 1 });
  await expired.waitFor((e) => e.name === 'run.created' && runIdOf(e) === after, 'a live event');
  expect(expired.events[0]).toMatchObject({ name: 'reset', data: { reason: 'expired' } });
}

describe('one live view of every instance', () => {
  it.skipIf(!reachable)(
    'PostgreSQL: serve --no-worker streams what two workers do; resumes across its restart',
    async () => {
      const schema = freshSchema();
      cleanups.push(() => dropSchema(PG_URL, schema));
      await liveViewAcrossInstances('PostgreSQL, 3 processes', schemaUrl(PG_URL, schema), [
        'w1',
        'w2',
      ]);
    },
    120_000,
  );

  it('SQLite: two processes on one file; resumes across a restart', async () => {
    const { dir, cleanup } = tempDir('jobdeck-feed-db-');
    cleanups.push(cleanup);
    await liveViewAcrossInstances('SQLite, 2 processes', join(dir, 'jobdeck.db'), ['w1']);
  }, 120_000);
});
