/**
 * Jobdeck's PostgreSQL backends ended from outside (`pg_terminate_backend`) at any moment: inside
 * a transaction, while waiting on a row lock, between statements, on the LISTEN connection. No
 * process ends, the request in flight is answered 503 STORE_UNAVAILABLE, and the next requests
 * and /healthz work again.
 */
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenSet } from '../src/api/auth.js';
import { buildApiServer } from '../src/api/server.js';
import { defineJob } from '../src/jobs/define.js';
import { Jobdeck } from '../src/jobdeck.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { z } from 'zod';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { TEST_TOKENS, TEST_TOKENS_ENV, startTestServer } from './helpers/server.js';

const reachable = await postgresReachable();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A connection of the test's own, outside Jobdeck: to lock rows and to end Jobdeck's backends. */
async function admin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_URL });
  client.on('error', () => {});
  await client.connect();
  cleanups.push(() => client.end().catch(() => {}));
  return client;
}

async function terminate(
  client: pg.Client,
  applicationName: string,
  where = 'true',
): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE application_name = $1 AND pid <> pg_backend_pid() AND ${where}`,
    [applicationName],
  );
  return rows[0]!.n;
}

const work = defineJob({
  name: 'faults.work',
  input: z.object({ n: z.number() }),
  async run(ctx, input) {
    ctx.log.info('step', { n: input.n });
    ctx.progress({ processed: 1, total: 1 });
    return { n: input.n };
  },
});

const slow = defineJob({
  name: 'faults.slow',
  async run(ctx) {
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  },
});

const echo = defineJob({
  name: 'faults.echo',
  input: z.unknown(),
  run: (_ctx, input) => input,
});

async function startServer(applicationName: string, leaseMs = 5000) {
  const schema = freshSchema();
  const errors: string[] = [];
  const store = new PostgresStore({
    connectionString: PG_URL,
    schema,
    poolSize: 5,
    applicationName,
    onError: (err, where) => errors.push(`${where}: ${(err as Error).message}`),
  });
  const deck = new Jobdeck({
    store,
    jobs: [work, slow, echo],
    worker: { pollMs: 50, cancelPollMs: 50, heartbeatMs: 200, leaseMs },
    maintenance: { intervalMs: 100 },
    onError: (err, where) => errors.push(`${where}: ${(err as Error).message}`),
  });
  await deck.start();
  const app = await buildApiServer({
    deck,
    tokens: TokenSet.parse(TEST_TOKENS_ENV),
    logger: pino({ level: 'silent' }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    await app.close();
    await deck.close({ graceMs: 1000 });
    const drop = new pg.Client({ connectionString: PG_URL });
    await drop.connect();
    await drop.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await drop.end();
  });
  const request = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${TEST_TOKENS.admin}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: response.status, body: (await response.json()) as any };
  };
  return { deck, store, schema, request, errors };
}

describe.skipIf(!reachable)('PostgreSQL backends terminated from outside', () => {
  it('a cancel whose transaction is waiting on a row lock answers 503 when its backend is ended; the process lives on and /healthz recovers', async () => {
    const name = `jdt-fault-${Math.random().toString(36).slice(2)}`;
    const { request, schema } = await startServer(name);
    const created = await request('POST', '/api/jobs/faults.slow/runs', {});
    expect(created.status).toBe(202);
    const runId: string = created.body.run.id;

    // Hold the run's row so the cancel's transaction waits inside runCancel.
    const locker = await admin();
    await locker.query('BEGIN');
    await locker.query(`SELECT id FROM ${schema}.jobdeck_runs WHERE id = $1 FOR UPDATE`, [runId]);
    const cancel = request('POST', `/api/runs/${runId}/cancel`, { mode: 'force' });

    const killer = await admin();
    // Only the cancel's backend: the worker's lease renewal waits on the same row, and ending it
    // alone would leave the cancel waiting for the lock until the test's time-out.
    const cancelWaiting = `wait_event_type = 'Lock' AND query LIKE '%FROM jobdeck_runs WHERE id = $1 FOR UPDATE%'`;
    await pollUntil(async () => (await terminate(killer, name, cancelWaiting)) > 0, {
      timeoutMs: 20_000,
      what: 'the cancel waiting on the row lock',
    });
    const answered = await cancel;
    expect(answered.status).toBe(503);
    expect(answered.body.error).toBe('STORE_UNAVAILABLE');
    await locker.query('ROLLBACK');

    const health = await pollUntil(
      async () => {
        const h = await request('GET', '/healthz');
        return h.status === 200 ? h : undefined;
      },
      { timeoutMs: 20_000, what: '/healthz answering 200 again' },
    );
    expect(health.body.store).toBe('ok');
    // The same cancel goes through now.
    const again = await request('POST', `/api/runs/${runId}/cancel`, { mode: 'force' });
    expect(again.status).toBe(200);
    expect(again.body.run.status).toBe('cancelled');
  });

  it('every backend ended again and again while runs execute: no unhandled error, every run ends completed', async () => {
    const name = `jdt-fault-${Math.random().toString(36).slice(2)}`;
    const { request } = await startServer(name);
    const killer = await admin();
    const ids: string[] = [];
    let terminated = 0;
    let unavailable = 0;
    for (let round = 0; round < 30; round++) {
      const created = await request('POST', '/api/jobs/faults.work/runs', { input: { n: round } });
      // A create that met a terminated connection is refused as a whole (503), never a 500.
      if (created.status === 503) unavailable++;
      else {
        expect(created.status).toBe(202);
        ids.push(created.body.run.id);
      }
      terminated += await terminate(killer, name);
    }
    expect(terminated).toBeGreaterThan(0);
    const finished = await pollUntil(
      async () => {
        const statuses = await Promise.all(
          ids.map(async (id) => (await request('GET', `/api/runs/${id}`)).body.run?.status),
        );
        return statuses.every((s) => s === 'completed') ? statuses : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'every accepted run completed' },
    );
    expect(finished).toHaveLength(ids.length);
    expect(ids.length + unavailable).toBe(30);
    const health = await request('GET', '/healthz');
    expect(health.status).toBe(200);
  });
});

/** Text PostgreSQL cannot hold (NUL) or that is not Unicode (a lone surrogate), in every field that reaches the store. */
const HOSTILE_TEXT: {
  what: string;
  method: string;
  path: (runId: string) => string;
  body?: unknown;
  field: (string | number)[];
}[] = [
  {
    what: 'NUL in an input string',
    method: 'POST',
    path: () => '/api/jobs/faults.echo/runs',
    body: { input: { note: 'a\u0000b' } },
    field: ['input', 'note'],
  },
  {
    what: 'a lone surrogate in an input key',
    method: 'POST',
    path: () => '/api/jobs/faults.echo/runs',
    body: { input: { list: [{ ['k\ud800']: 1 }] } },
    field: ['input', 'list', 0, 'k\ud800'],
  },
  {
    what: 'NUL in an idempotency key',
    method: 'POST',
    path: () => '/api/jobs/faults.echo/runs',
    body: { input: 1, idempotencyKey: 'key\u0000' },
    field: ['idempotencyKey'],
  },
  {
    what: 'a lone surrogate in a cancel reason',
    method: 'POST',
    path: (id) => `/api/runs/${id}/cancel`,
    body: { mode: 'force', reason: 'stop \udc00' },
    field: ['reason'],
  },
  {
    what: 'NUL in a bulk cancel reason',
    method: 'POST',
    path: () => '/api/runs/cancel',
    body: { job: 'faults.slow', reason: '\u0000' },
    field: ['reason'],
  },
  { what: 'NUL in a job filter', method: 'GET', path: () => '/api/runs?job=a%00', field: ['job'] },
  {
    what: 'NUL in a createdBy filter',
    method: 'GET',
    path: () => '/api/runs?createdBy=%00',
    field: ['createdBy'],
  },
];

describe.skipIf(!reachable)('text no store can hold', () => {
  it('is refused with 400 naming the field, the same on PostgreSQL and SQLite, and nothing is stored', async () => {
    const postgres = await startServer(`jdt-fault-${Math.random().toString(36).slice(2)}`);
    const sqlite = await startTestServer([work, slow, echo]);
    cleanups.push(() => sqlite.close());
    const backends = [
      { name: 'postgres', request: postgres.request },
      {
        name: 'sqlite',
        request: (method: string, path: string, body?: unknown) =>
          sqlite.request(method, path, { token: TEST_TOKENS.admin, body }),
      },
    ];
    for (const backend of backends) {
      const target = await backend.request('POST', '/api/jobs/faults.slow/runs', {});
      expect(target.status).toBe(202);
      for (const hostile of HOSTILE_TEXT) {
        const answer = await backend.request(
          hostile.method,
          hostile.path(target.body.run.id),
          hostile.body,
        );
        expect({ backend: backend.name, what: hostile.what, status: answer.status }).toEqual({
          backend: backend.name,
          what: hostile.what,
          status: 400,
        });
        expect(answer.body.error).toBe('INVALID_INPUT');
        expect(answer.body.details.map((d: { path: unknown }) => d.path)).toContainEqual(
          hostile.field,
        );
      }
      // Only the target run exists, and it is still running: no hostile request changed anything.
      const runs = await backend.request('GET', '/api/runs');
      expect(runs.body.runs.map((r: { id: string }) => r.id)).toEqual([target.body.run.id]);
      expect(runs.body.runs[0].cancel).toBeNull();
    }
  });
});

describe.skipIf(!reachable)('PostgreSQL refusing connections', () => {
  it('too many connections (53300) is STORE_UNAVAILABLE, not an internal error', async () => {
    const client = await admin();
    // A role allowed no connections: PostgreSQL answers 53300 as it does when max_connections is reached.
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'jdt_no_connections') THEN
        CREATE ROLE jdt_no_connections LOGIN CONNECTION LIMIT 0;
      END IF; END $$`);
    const url = new URL(PG_URL);
    url.username = 'jdt_no_connections';
    const store = new PostgresStore({ connectionString: url.toString(), schema: freshSchema() });
    cleanups.push(() => store.close());
    const refused = await store.runGet({ id: '00000000-0000-0000-0000-000000000000' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(((refused as Error).cause as { code?: string }).code).toBe('53300');
  });

  it('a pool with no free connection within its time-out is STORE_UNAVAILABLE', async () => {
    const name = `jdt-fault-${Math.random().toString(36).slice(2)}`;
    // The lock below also holds back the worker's heartbeat: a lease longer than the test keeps
    // the run from being rescued meanwhile, which would make the cancel's answer `cancel-now`.
    const { request, schema } = await startServer(name, 120_000);
    const created = await request('POST', '/api/jobs/faults.slow/runs', {});
    const runId: string = created.body.run.id;
    // Running, so the cancel it waits on is a request (a loaded machine may not have claimed it yet).
    await pollUntil(
      async () => (await request('GET', `/api/runs/${runId}`)).body.run.status === 'running',
      { what: `run ${runId} to be running` },
    );
    const narrow = new PostgresStore({
      connectionString: PG_URL,
      schema,
      poolSize: 1,
      connectionTimeoutMs: 300,
      waitTimeoutMs: 300,
      notify: false,
      applicationName: `${name}-narrow`,
    });
    cleanups.push(() => narrow.close());
    // The only connection waits on a row lock inside a cancel; the next call finds none free.
    const locker = await admin();
    await locker.query('BEGIN');
    await locker.query(`SELECT id FROM ${schema}.jobdeck_runs WHERE id = $1 FOR UPDATE`, [runId]);
    const blocked = narrow.runCancel({
      id: runId,
      mode: 'graceful',
      reason: null,
      requestedBy: 'root',
      now: new Date(),
    });
    // Asked from outside the locking transaction: activity seen inside one is a snapshot.
    const watcher = await admin();
    await pollUntil(
      async () => {
        const { rows } = await watcher.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [`${name}-narrow`],
        );
        return rows.length > 0;
      },
      { timeoutMs: 20_000, what: 'the cancel waiting on the row lock' },
    );
    const starved = await narrow.runGet({ id: runId }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(starved).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await locker.query('ROLLBACK');
    expect((await blocked).action).toBe('request');
  });
});
