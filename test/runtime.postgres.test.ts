import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { deferred } from './helpers/deck.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { describeRuntimeConformance, type RowLock } from './runtime-conformance/index.js';

const reachable = await postgresReachable();
const admin = { name: 'root', role: 'admin' as const };

/** Holds the run's row lock from a session of its own (the application's writes of it wait). */
async function lockRun(schema: string, runId: string): Promise<RowLock> {
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  client.on('error', () => {}); // ended below; a lost session only ends the lock early
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM jobdeck_runs WHERE id = $1 FOR UPDATE', [runId]);
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]!.pid;
  const blocked = `FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`;
  // Inside this open transaction pg_stat_activity is read once and kept: drop that copy first,
  // or a session that connected since is never seen.
  const fresh = () => client.query('SELECT pg_stat_clear_snapshot()');
  return {
    waiting: async () => {
      await fresh();
      return (await client.query<{ n: number }>(`SELECT count(*)::int AS n ${blocked}`, [pid]))
        .rows[0]!.n;
    },
    terminateWaiting: async () => {
      await fresh();
      return (
        await client.query<{ n: number }>(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n ${blocked}`,
          [pid],
        )
      ).rows[0]!.n;
    },
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

describe.skipIf(!reachable)('runtime conformance on PostgreSQL', () => {
  describeRuntimeConformance(
    'postgres (notify on)',
    async () => {
      const schema = freshSchema();
      return {
        openStore: () =>
          new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4, notify: true }),
        lockRun: (runId) => lockRun(schema, runId),
        cleanup: async () => {
          const dropper = new PostgresStore({ connectionString: PG_URL, schema, notify: false });
          await dropper.dropSchema();
          await dropper.close();
        },
      };
    },
    { rowLocks: true },
  );
});

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** Two instances on one schema: `worker` executes runs, `api` has no worker (like `serve --no-worker`). */
async function twoInstances(jobs: ReturnType<typeof defineJob>[], notify = true) {
  const schema = freshSchema();
  const open = (worker: boolean) =>
    new Jobdeck({
      store: new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4, notify }),
      jobs,
      worker: worker ? { pollMs: 50, cancelPollMs: 250, heartbeatMs: 500, leaseMs: 3000 } : false,
      scheduler: false,
    });
  const worker = await open(true).start();
  const api = await open(false).start();
  cleanups.push(async () => {
    await api.close({ graceMs: 500 });
    await worker.close({ graceMs: 500 });
    const dropper = new PostgresStore({ connectionString: PG_URL, schema, notify: false });
    await dropper.dropSchema();
    await dropper.close();
  });
  return { worker, api };
}

describe.skipIf(!reachable)('runtime on PostgreSQL', () => {
  it('the listener reconnects after its backend is terminated and no cancel is lost', async () => {
    const started = deferred();
    const job = defineJob({
      name: 'steps',
      maxAttempts: 1,
      async run(ctx) {
        started.resolve();
        for (let i = 0; ; i++) {
          await ctx.step(`wait ${i}`, () => delay(50, undefined, { signal: ctx.signal }));
        }
      },
    });
    const { worker, api } = await twoInstances([job]);
    const listener = (worker.store as PostgresStore).notifications!.listener;
    expect(await listener.waitHealthy()).toBe(true);
    const { run } = await api.runs.create({ job: 'steps', principal: admin });
    await started.promise;
    const before = listener.reconnects;
    const pid = listener.backendPid;
    expect(pid).not.toBeNull();
    const killer = new pg.Client({ connectionString: PG_URL });
    await killer.connect();
    const { rows } = await killer.query<{ killed: boolean }>(
      'SELECT pg_terminate_backend($1) AS killed',
      [pid],
    );
    await killer.end();
    expect(rows[0]!.killed).toBe(true);
    await api.cancels.cancel(run.id, { mode: 'graceful' }, admin);
    const done = await pollUntil(async () => {
      const current = await api.runs.get(run.id);
      return current.status === 'cancelled' ? current : undefined;
    });
    expect(done.cancel?.mode).toBe('graceful');
    await pollUntil(() => listener.reconnects > before || undefined, { what: 'a reconnect' });
    expect(await listener.waitHealthy()).toBe(true);
  });
});
