/**
 * Many instances against one PostgreSQL, each a real OS process started with the real command
 * line (`node --import tsx bin/jobdeck.js …`, the built dist/ with a .ts `--jobs` module):
 *
 * - one API-only instance (`serve --no-worker`) and two `worker` instances: runs executing on a
 *   worker are cancelled over HTTP through the API instance, by force and gracefully; the worker
 *   logs `cancel delivered`, and the delivery latency (cancel.requestedAt → that log's time) is
 *   printed with LISTEN/NOTIFY and without it (`notify=false`: the heartbeat/poll path);
 * - the workers' LISTEN connections are killed with pg_terminate_backend: the cancel sent meanwhile
 *   is not lost, the listeners reconnect, and later cancels are pushed again (under 1 s while the
 *   poll and heartbeat are 3 s apart);
 * - five instances started at once on an empty schema apply the migrations exactly once and all
 *   serve.
 *
 * Each test has a schema of its own, dropped afterwards; children are always killed. Nothing
 * sleeps to synchronise: waits are on child output, the ledger file, HTTP answers or the database,
 * each with a deadline. Latency figures are printed, not asserted against speed targets (except
 * the < 1 s push after the reconnect, which the 3 s poll cannot meet).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LEDGER_JOB, readLedger } from './helpers/ledger-jobs.js';
import {
  Api,
  InstanceSet,
  LEDGER_JOBS_MODULE,
  dropSchema,
  freePort,
  medianP95,
  schemaUrl,
  serveReady,
  tcpPortsOf,
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
  // Children first (always, even when the test failed), then schemas and folders.
  await instances.killAll();
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});

afterAll(async () => {
  await instances.killAll();
  if (figures.length > 0) console.log(`cancel delivery latency summary:\n${figures.join('\n')}`);
});

/** Worker tuning by environment, as an operator would set it. */
type Tuning = { leaseMs: number; heartbeatMs: number; pollMs: number };

interface Deployment {
  schema: string;
  ledgerPath: string;
  api: Instance;
  http: Api;
  workers: { instance: Instance; id: string }[];
}

/** One `serve --no-worker` and two `worker` processes on a fresh schema, started at once. */
async function deploy(options: { notify: boolean; tuning: Tuning }): Promise<Deployment> {
  const schema = freshSchema();
  cleanups.push(() => dropSchema(PG_URL, schema));
  const { dir, cleanup } = tempDir('jobdeck-mp-pg-');
  cleanups.push(cleanup);
  const ledgerPath = join(dir, 'ledger.jsonl');
  const db = schemaUrl(PG_URL, schema, { notify: options.notify });
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const api = instances.cli(
    'api',
    ['serve', '--no-worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE],
    { JOBDECK_TOKENS: `tester:admin:${token}`, JOBDECK_PORT: String(port) },
  );
  const workerInstances = ['w1', 'w2'].map((name) =>
    instances.cli(name, ['worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE], {
      JOBDECK_LEASE_MS: String(options.tuning.leaseMs),
      JOBDECK_HEARTBEAT_MS: String(options.tuning.heartbeatMs),
      JOBDECK_POLL_MS: String(options.tuning.pollMs),
      JOBDECK_TEST_LEDGER: ledgerPath,
      JOBDECK_TEST_WORKER: name,
    }),
  );
  const [, ...ids] = await Promise.all([serveReady(api), ...workerInstances.map(workerReady)]);
  return {
    schema,
    ledgerPath,
    api,
    http: new Api(`http://127.0.0.1:${port}`, token),
    workers: workerInstances.map((instance, i) => ({ instance, id: ids[i]! })),
  };
}

interface Cancelled {
  runId: string;
  workerId: string;
  latencyMs: number;
}

/** Start a run over HTTP and wait until its handler works on a worker; its id. */
async function startRun(d: Deployment): Promise<string> {
  // 200 steps of 100 ms: long enough to be cancelled, short steps for a graceful stop.
  const created = await d.http.post(`/api/jobs/${LEDGER_JOB}/runs`, {
    input: { steps: 200, stepMs: 100 },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  const runId: string = created.body.run.id;
  await pollUntil(
    () =>
      readLedger(d.ledgerPath).some((line) => line.runId === runId && line.event === 'step-start'),
    { timeoutMs: 15_000, what: `run ${runId} to start working on a worker` },
  );
  return runId;
}

/**
 * Cancel a working run (started by `startRun` unless given) over HTTP with `mode`, and wait for the
 * worker's `cancel delivered` log and the run's end; the delivery latency.
 */
async function cancelOverHttp(
  d: Deployment,
  mode: 'force' | 'graceful',
  options: { runId?: string; deliveryTimeoutMs?: number } = {},
): Promise<Cancelled> {
  const runId = options.runId ?? (await startRun(d));
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 15_000;
  const asked = await d.http.post(`/api/runs/${runId}/cancel`, { mode, reason: `test ${mode}` });
  expect(asked.status, JSON.stringify(asked.body)).toBe(200);
  // Forced: cancelled in the store at once; graceful: cancelling until the next checkpoint.
  expect(asked.body.run.status).toBe(mode === 'force' ? 'cancelled' : 'cancelling');
  expect(asked.body.run.cancel).toMatchObject({
    mode,
    reason: `test ${mode}`,
    requestedBy: 'tester',
  });
  const workerId: string = asked.body.run.workerId;
  expect(d.workers.map((w) => w.id)).toContain(workerId);
  const requestedAt = Date.parse(asked.body.run.cancel.requestedAt);

  const delivered = await pollUntil(
    async () => {
      const answer = await d.http.get(`/api/runs/${runId}/logs`);
      expect(answer.status).toBe(200);
      return (answer.body.logs as { message: string; time: string }[]).find(
        (entry) => entry.message === 'cancel delivered',
      );
    },
    {
      timeoutMs: deliveryTimeoutMs,
      intervalMs: 20,
      what: `the cancel of ${runId} to be delivered`,
    },
  ).catch(async (err: Error) => {
    const run = (await d.http.get(`/api/runs/${runId}`)).body.run;
    const logs = (await d.http.get(`/api/runs/${runId}/logs`)).body.logs;
    throw new Error(
      `${err.message}; ${mode} cancel; run ${JSON.stringify(run)}; logs ${JSON.stringify(logs).slice(-1500)}; workers: ${d.workers.map((w) => `${w.instance.name} ${w.id} alive=${w.instance.alive} ${w.instance.lines.slice(-5).join(' | ')} ${w.instance.stderr.slice(-500)}`).join(' ;; ')}`,
    );
  });
  expect(delivered).toMatchObject({ level: 'info', message: 'cancel delivered', data: { mode } });
  const latencyMs = Date.parse(delivered.time) - requestedAt;
  // Both times come from clocks synced to the database's (OffsetClock): allow a few ms of skew.
  expect(latencyMs).toBeGreaterThan(-50);

  const ended = await pollUntil(
    async () => {
      const answer = await d.http.get(`/api/runs/${runId}`);
      return ['cancelled', 'partial', 'completed', 'failed'].includes(answer.body.run.status)
        ? answer.body.run
        : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 25, what: `run ${runId} to end` },
  );
  expect(ended.status).toBe('cancelled');
  expect(ended.attempt).toBe(1);
  // The handler stopped (never ran to its end) on the worker that held it.
  await pollUntil(
    () => readLedger(d.ledgerPath).find((line) => line.runId === runId && line.event === 'stopped'),
    { timeoutMs: 10_000, what: `the handler of ${runId} to stop` },
  );
  expect(readLedger(d.ledgerPath).some((l) => l.runId === runId && l.event === 'end')).toBe(false);
  return { runId, workerId, latencyMs };
}

function describeLatency(label: string, values: number[]): string {
  const { median, p95, max } = medianP95(values);
  return `  ${label}: n=${values.length}, median ${median} ms, p95 ${p95} ms, max ${max} ms (all: ${values.join(', ')})`;
}

/**
 * A worker process's LISTEN connection, seen from the server. Its last statement is not always
 * the LISTEN (the listener then sends a probe NOTIFY and a `SELECT 1` health check), so it is found
 * among the connections whose client port belongs to that process, by the listener's statements.
 */
async function listenerBackends(
  admin: pg.Client,
  instance: Instance,
): Promise<{ pid: number; query: string }[]> {
  const { rows } = await admin.query<{ pid: number; query: string }>(
    `SELECT pid, query FROM pg_stat_activity
     WHERE datname = current_database() AND client_port = ANY ($1::int[])
       AND (query LIKE 'LISTEN %' OR query IN ('SELECT pg_notify($1, $2)', 'SELECT 1'))`,
    [tcpPortsOf(instance.pid)],
  );
  return rows;
}

describe.skipIf(!reachable)('many instances against one PostgreSQL', () => {
  it('cancels over HTTP reach runs on worker processes by NOTIFY; killed LISTEN connections reconnect and lose no cancel', async () => {
    // Poll and heartbeat 3 s apart: a delivery much under that is a push.
    const tuning = { leaseMs: 10_000, heartbeatMs: 3000, pollMs: 3000 };
    const d = await deploy({ notify: true, tuning });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    cleanups.push(() => admin.end());

    // Each worker process holds one LISTEN connection (this schema's channels: a process serves
    // one schema), found by its client ports and the listener's statements.
    const listeners = await Promise.all(
      d.workers.map((w) =>
        pollUntil(
          async () => {
            const found = await listenerBackends(admin, w.instance);
            return found.length === 1 ? found[0] : undefined;
          },
          { timeoutMs: 10_000, what: `the LISTEN connection of ${w.instance.name}` },
        ),
      ),
    );

    const latencies: number[] = [];
    const byWorker = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const result = await cancelOverHttp(d, i % 2 === 0 ? 'force' : 'graceful');
      latencies.push(result.latencyMs);
      byWorker.set(result.workerId, (byWorker.get(result.workerId) ?? 0) + 1);
    }
    const pushed = describeLatency(
      `NOTIFY (poll and heartbeat every 3 s), runs per worker ${JSON.stringify(Object.fromEntries(byWorker))}`,
      latencies,
    );
    console.log(`cancel delivery latency\n${pushed}`);
    figures.push(pushed);

    // A run works on each worker (so a cancel can be sent the moment the connections die).
    const working: string[] = [];
    while (
      new Set(
        await Promise.all(
          working.map(async (id) => (await d.http.get(`/api/runs/${id}`)).body.run.workerId),
        ),
      ).size < 2
    ) {
      working.push(await startRun(d));
      expect(working.length).toBeLessThan(10);
    }

    // Kill both workers' LISTEN connections on the server.
    const { rows: killed } = await admin.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid',
      [listeners.map((l) => l.pid)],
    );
    expect(killed.map((row) => row.ok)).toEqual([true, true]);
    const terminatedAt = Date.now();

    // Cancels sent right away, while the listeners reconnect, still arrive: their NOTIFY finds no
    // listener, so the heartbeat (3 s here) brings them.
    const during = await Promise.all(
      working.map((runId, i) => cancelOverHttp(d, i % 2 ? 'force' : 'graceful', { runId })),
    );

    // Each listener is back: a new LISTEN connection from the same process.
    const reconnected = await Promise.all(
      d.workers.map((w, i) =>
        pollUntil(
          async () => {
            const found = await listenerBackends(admin, w.instance);
            return found.length === 1 && found[0]!.pid !== listeners[i]!.pid ? found[0] : undefined;
          },
          { timeoutMs: 15_000, what: `the LISTEN connection of ${w.instance.name} to come back` },
        ),
      ),
    );
    const reconnectMs = Date.now() - terminatedAt;
    expect(reconnected.every((backend) => backend !== undefined)).toBe(true);

    // Later cancels are pushed again: well under the 3 s poll and heartbeat.
    const after: Cancelled[] = [];
    for (let i = 0; i < 4; i++) after.push(await cancelOverHttp(d, i % 2 ? 'graceful' : 'force'));
    const line =
      `  after pg_terminate_backend of both LISTEN connections: the ${during.length} cancels sent at once arrived after ${during.map((c) => c.latencyMs).join(', ')} ms (heartbeat every ${tuning.heartbeatMs} ms); ` +
      `both listeners back within ${reconnectMs} ms; next cancels ${after.map((c) => c.latencyMs).join(', ')} ms`;
    console.log(line);
    figures.push(line);
    for (const c of after) expect(c.latencyMs).toBeLessThan(1000);

    // No instance exited or reported a loop error on the way.
    for (const instance of [d.api, ...d.workers.map((w) => w.instance)]) {
      expect(instance.alive, instance.name).toBe(true);
      expect(instance.errorLogs(), instance.name).toEqual([]);
    }
  }, 90_000);

  it('without NOTIFY (notify=false on all three processes) cancels arrive by the heartbeat/poll path', async () => {
    const tuning = { leaseMs: 3000, heartbeatMs: 500, pollMs: 200 };
    const d = await deploy({ notify: false, tuning });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    cleanups.push(() => admin.end());
    // Nobody listens.
    for (const w of d.workers) expect(await listenerBackends(admin, w.instance)).toEqual([]);

    const latencies: number[] = [];
    for (let i = 0; i < 10; i++)
      latencies.push((await cancelOverHttp(d, i % 2 === 0 ? 'force' : 'graceful')).latencyMs);
    const polled = describeLatency(
      `notify=false (cancel poll every ${tuning.pollMs} ms, heartbeat every ${tuning.heartbeatMs} ms)`,
      latencies,
    );
    console.log(`cancel delivery latency\n${polled}`);
    figures.push(polled);
    for (const instance of [d.api, ...d.workers.map((w) => w.instance)]) {
      expect(instance.alive, instance.name).toBe(true);
      expect(instance.errorLogs(), instance.name).toEqual([]);
    }
  }, 90_000);

  it('five instances started at once on an empty schema apply each migration exactly once, and all five serve', async () => {
    const schema = freshSchema();
    cleanups.push(() => dropSchema(PG_URL, schema));
    const { dir, cleanup } = tempDir('jobdeck-five-');
    cleanups.push(cleanup);
    const ledgerPath = join(dir, 'ledger.jsonl');
    const db = schemaUrl(PG_URL, schema);
    const token = randomBytes(16).toString('hex');
    const ports = [await freePort(), await freePort(), await freePort()];
    const started = Date.now();
    const serves = ports.map((port, i) =>
      instances.cli(
        `serve-${i}`,
        ['serve', '--no-worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE],
        {
          JOBDECK_TOKENS: `tester:admin:${token}`,
          JOBDECK_PORT: String(port),
        },
      ),
    );
    const workers = ['wa', 'wb'].map((name) =>
      instances.cli(
        name,
        ['worker', '--db', db, '--jobs', LEDGER_JOBS_MODULE, '--concurrency', '1'],
        { JOBDECK_TEST_LEDGER: ledgerPath, JOBDECK_TEST_WORKER: name, JOBDECK_POLL_MS: '100' },
      ),
    );
    const [, workerIds] = await Promise.all([
      Promise.all(serves.map(serveReady)),
      Promise.all(workers.map(workerReady)),
    ]);
    const allUpMs = Date.now() - started;

    // One row per migration file, each version once.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    cleanups.push(() => admin.end());
    const files = readdirSync(join(import.meta.dirname, '..', 'src/store/postgres/migrations'))
      .filter((name) => name.endsWith('.sql'))
      .sort();
    const { rows } = await admin.query<{ version: number; name: string }>(
      `SELECT version, name FROM ${pg.escapeIdentifier(schema)}.jobdeck_migrations ORDER BY version`,
    );
    expect(rows.map((r) => r.version)).toEqual(files.map((f) => Number(f.slice(0, 4))));
    expect(rows.map((r) => `${String(r.version).padStart(4, '0')}_${r.name}.sql`)).toEqual(files);
    // The schema's objects exist once (a second application would have failed or duplicated them).
    const { rows: tables } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = 'jobdeck_runs'`,
      [schema],
    );
    expect(tables[0]!.n).toBe(1);

    // The three API instances answer /healthz ok (store and notifications).
    for (const port of ports) {
      const health = await new Api(`http://127.0.0.1:${port}`, token).get('/healthz');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: 'ok', store: 'ok' });
    }
    // The two workers each claim a run (one run at a time each, two runs of 3 s: longer than an
    // idle worker's poll, so the second run waits for the other worker, not for the first to end),
    // created through two of the API instances.
    const runIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const http = new Api(`http://127.0.0.1:${ports[i % 3]!}`, token);
      const created = await http.post(`/api/jobs/${LEDGER_JOB}/runs`, {
        input: { steps: 1, stepMs: 3000 },
      });
      expect(created.status).toBe(202);
      runIds.push(created.body.run.id);
    }
    const http = new Api(`http://127.0.0.1:${ports[2]!}`, token);
    const claimers = await pollUntil(
      async () => {
        const runs = await Promise.all(
          runIds.map(async (id) => (await http.get(`/api/runs/${id}`)).body.run),
        );
        return runs.every((run) => run.workerId)
          ? runs.map((run) => run.workerId as string)
          : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 25, what: 'both runs to be claimed' },
    );
    expect(new Set(claimers)).toEqual(new Set(workerIds));
    console.log(
      `five instances started at once: all up in ${allUpMs} ms; migrations ${rows.map((r) => r.version).join(',')} applied once; runs claimed by ${claimers.join(' and ')}`,
    );
    for (const instance of [...serves, ...workers]) {
      expect(instance.alive, instance.name).toBe(true);
      expect(instance.errorLogs(), instance.name).toEqual([]);
    }
  }, 60_000);
});
