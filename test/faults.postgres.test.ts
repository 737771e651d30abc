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
import { TEST_TOKENS, TEST_TOKENS_ENV } from './helpers/server.js';

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

async function startServer(applicationName: string) {
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
    jobs: [work, slow],
    worker: { pollMs: 50, cancelPollMs: 50, heartbeatMs: 200, leaseMs: 5000 },
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
    await pollUntil(async () => (await terminate(killer, name, `wait_event_type = 'Lock'`)) > 0, {
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
