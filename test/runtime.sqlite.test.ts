import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { deferred } from './helpers/deck.js';
import { pollUntil } from './helpers/poll.js';
import { tempDbPath } from './helpers/temp.js';
import { describeRuntimeConformance } from './runtime-conformance/index.js';
import { QUIET_WORKER, admin } from './runtime-conformance/fixture.js';

describeRuntimeConformance(
  'sqlite',
  async () => {
    const { path, cleanup } = tempDbPath();
    return {
      // Each instance opens the file on its own connection, as processes on one host would.
      openStore: () => new SqliteStore({ path }),
      cleanup: async () => cleanup(),
    };
  },
  // A SQLite lock held elsewhere blocks the waiting writer's event loop.
  { rowLocks: false },
);

describe('runtime on SQLite', () => {
  it('a completion write refused with SQLITE_BUSY is retried; the run completes in its attempt', async () => {
    const { path, cleanup } = tempDbPath();
    const started = deferred();
    const go = deferred();
    const refused = deferred();
    const job = defineJob({
      name: 'quick',
      async run() {
        started.resolve();
        await go.promise;
        return 'ok';
      },
    });
    const deck = new Jobdeck({
      // Another process's lock makes a write wait 20 ms, then fail with SQLITE_BUSY.
      store: new SqliteStore({ path, busyTimeoutMs: 20 }),
      jobs: [job],
      worker: { ...QUIET_WORKER, concurrency: 1 },
      maintenance: false,
      scheduler: false,
      onError: (err, where) => {
        const busy = (err as { code?: unknown }).code === 'SQLITE_BUSY';
        if (busy && (where === 'completion' || where === 'execute')) refused.resolve();
      },
    });
    const locker = new Database(path);
    try {
      await deck.start();
      const { run } = await deck.runs.create({ job: 'quick', principal: admin });
      await started.promise;
      locker.exec('BEGIN IMMEDIATE');
      go.resolve();
      await refused.promise;
      locker.exec('COMMIT');
      const done = await pollUntil(async () => {
        const current = await deck.runs.get(run.id);
        return current.status === 'running' ? undefined : current;
      });
      expect(done).toMatchObject({ status: 'completed', attempt: 1, result: 'ok' });
    } finally {
      locker.close();
      await deck.close({ graceMs: 1000 });
      cleanup();
    }
  });
});

describe('SQLite wake-ups across processes on one host', () => {
  // Polls and heartbeats far beyond the test's deadlines: only the watch of the file can act.
  const NO_POLLING = {
    concurrency: 1,
    pollMs: 120_000,
    cancelPollMs: 120_000,
    heartbeatMs: 60_000,
    leaseMs: 180_000,
  };

  it('a run created by another instance starts, and its cancel reaches the handler, without polling', async () => {
    const { path, cleanup } = tempDbPath();
    const started = deferred();
    const aborted = deferred<unknown>();
    const job = defineJob({
      name: 'waits',
      async run(ctx) {
        started.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        aborted.resolve(ctx.signal.reason);
        throw ctx.signal.reason;
      },
    });
    // Each instance on its own connection, as processes on this host would be.
    const instance = (worker: typeof NO_POLLING | false) =>
      new Jobdeck({
        store: new SqliteStore({ path }),
        jobs: [job],
        worker,
        maintenance: false,
        scheduler: false,
      });
    const worker = instance(NO_POLLING);
    const api = instance(false);
    try {
      await worker.start();
      await api.start();
      const { run } = await api.runs.create({ job: 'waits', principal: admin });
      await started.promise;
      await api.cancels.cancel(run.id, { mode: 'force', reason: 'watch test' }, admin);
      expect(await aborted.promise).toMatchObject({ mode: 'force', reason: 'watch test' });
      const ended = await pollUntil(async () => {
        const current = await api.runs.get(run.id);
        return current.status === 'cancelled' ? current : undefined;
      });
      expect(ended.status).toBe('cancelled');
    } finally {
      await worker.close({ graceMs: 1000 });
      await api.close();
      cleanup();
    }
  }, 30_000);
});
