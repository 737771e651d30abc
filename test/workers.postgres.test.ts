/**
 * The registry of instances across real OS processes on one PostgreSQL: A (`serve --no-worker`),
 * B and C (`worker`), started with the real command line and beating every 300 ms
 * (`JOBDECK_INSTANCE_HEARTBEAT_MS`). `GET /api/workers` on A lists all three with their roles and
 * the run a worker executes; after a SIGKILL of C it shows C lost, then no more. The times from
 * the kill are printed, not asserted. Waits poll with a deadline; children are always killed and
 * the schema dropped.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerInfo } from '../src/client/client.js';
import { LEDGER_JOB, readLedger } from './helpers/ledger-jobs.js';
import {
  Api,
  InstanceSet,
  LEDGER_JOBS_MODULE,
  dropSchema,
  freePort,
  schemaUrl,
  serveReady,
  workerReady,
} from './helpers/pg-instances.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { tempDir } from './helpers/temp.js';

const reachable = await postgresReachable();

const HEARTBEAT_MS = 300;
const instances = new InstanceSet();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await instances.killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!reachable)('GET /api/workers across processes on PostgreSQL', () => {
  it('shows the API instance and two workers with their roles; a SIGKILLed worker turns lost, then is gone', async () => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(PG_URL, schema));
    const { dir, cleanup } = tempDir('jobdeck-workers-pg-');
    cleanups.push(cleanup);
    const ledgerPath = join(dir, 'ledger.jsonl');
    const db = schemaUrl(PG_URL, schema);
    const port = await freePort();
    const viewerToken = randomBytes(16).toString('hex');
    const operatorToken = randomBytes(16).toString('hex');
    const beat = { JOBDECK_INSTANCE_HEARTBEAT_MS: String(HEARTBEAT_MS) };
    const a = instances.cli(
      'A',
      ['serve', '--no-worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE],
      {
        ...beat,
        JOBDECK_TOKENS: `watcher:viewer:${viewerToken},ops:operator:${operatorToken}`,
        JOBDECK_PORT: String(port),
      },
    );
    const [b, c] = ['B', 'C'].map((name) =>
      instances.cli(
        name,
        ['worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE, '--concurrency', '2'],
        {
          ...beat,
          JOBDECK_TEST_LEDGER: ledgerPath,
          JOBDECK_TEST_WORKER: name,
        },
      ),
    );
    const [, bId, cId] = await Promise.all([serveReady(a), workerReady(b!), workerReady(c!)]);
    const http = new Api(`http://127.0.0.1:${port}`, viewerToken);
    const operator = new Api(http.baseUrl, operatorToken);
    const list = async (): Promise<WorkerInfo[]> => {
      const answer = await http.get('/api/workers');
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body.workers;
    };

    // Each registers before it says it is ready; the three started at once, in any order.
    const listed = await list();
    const byPid = new Map(listed.map((w) => [w.pid, w]));
    expect(listed).toHaveLength(3);
    expect(
      [a, b!, c!].map((p) => {
        const w = byPid.get(p.pid);
        return [p.name, w?.role, w?.concurrency, w?.heartbeatMs, w?.state];
      }),
    ).toEqual([
      ['A', 'api', null, HEARTBEAT_MS, 'alive'],
      ['B', 'worker', 2, HEARTBEAT_MS, 'alive'],
      ['C', 'worker', 2, HEARTBEAT_MS, 'alive'],
    ]);
    expect([byPid.get(b!.pid)!.id, byPid.get(c!.pid)!.id]).toEqual([bId, cId]);
    expect(new Set(listed.map((w) => w.host))).toEqual(new Set([hostname()]));

    // A run shows under the worker that executes it, and carries that worker's id.
    const created = await operator.post(`/api/jobs/${LEDGER_JOB}/runs`, {
      input: { steps: 200, stepMs: 100 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const runId: string = created.body.run.id;
    const runner = await pollUntil(
      async () => (await list()).find((w) => w.runs.some((r) => r.id === runId)),
      { timeoutMs: EVENT_DEADLINE_MS, what: `run ${runId} to show under a worker` },
    );
    expect([bId, cId]).toContain(runner.id);
    expect(runner.runs).toEqual([
      expect.objectContaining({ id: runId, job: LEDGER_JOB, attempt: 1, status: 'running' }),
    ]);
    expect((await http.get(`/api/runs/${runId}`)).body.run.workerId).toBe(runner.id);
    const ledgerWorker = readLedger(ledgerPath).find((line) => line.runId === runId)?.workerId;
    expect(ledgerWorker).toBe(runner.id === bId ? 'B' : 'C');

    // SIGKILL: C never unregisters; its row ages out on its own heartbeat.
    await c!.kill('SIGKILL');
    const killedAt = Date.now();
    const lost = await pollUntil(
      async () => (await list()).find((w) => w.id === cId && w.state === 'lost'),
      { timeoutMs: EVENT_DEADLINE_MS, intervalMs: 25, what: 'C to be shown lost' },
    );
    const lostAfterMs = Date.now() - killedAt;
    // Until it is gone, nothing beats for it: its last-seen time stays where the kill left it.
    const seenWhileLost = new Set<string>();
    await pollUntil(
      async () => {
        const still = (await list()).find((w) => w.id === cId);
        if (still) seenWhileLost.add(`${still.state} ${still.lastSeenAt}`);
        return !still;
      },
      { timeoutMs: EVENT_DEADLINE_MS, intervalMs: 25, what: 'C to be gone from the list' },
    );
    const goneAfterMs = Date.now() - killedAt;
    console.log(
      `heartbeat ${HEARTBEAT_MS} ms: C shown lost ${lostAfterMs} ms after its SIGKILL (${(lostAfterMs / HEARTBEAT_MS).toFixed(1)} heartbeats; lost after 3 missed), gone after ${goneAfterMs} ms (${(goneAfterMs / HEARTBEAT_MS).toFixed(1)} heartbeats; gone after 10 missed)`,
    );
    expect([...seenWhileLost]).toEqual([`lost ${lost.lastSeenAt}`]);
    const remaining = await list();
    // A and B started at once: their order (oldest start first) is either.
    const remainingStates = remaining.map((w) => `${w.id === bId ? 'B' : w.role} ${w.state}`);
    expect(remainingStates.sort()).toEqual(['B alive', 'api alive']);
    for (const instance of [a, b!]) expect(instance.errorLogs()).toEqual([]);
  });
});
