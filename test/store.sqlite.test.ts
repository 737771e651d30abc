import { readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { describeStoreConformance } from '../src/store/conformance/index.js';
import { tempDbPath } from './helpers/temp.js';

/** Every migration file, in order: a new one must be applied by a new file's first migrate(). */
const MIGRATIONS = readdirSync(new URL('../src/store/sqlite/migrations/', import.meta.url))
  .filter((name) => name.endsWith('.sql'))
  .sort()
  .map((name) => name.replace(/\.sql$/, ''));

/** A migrated store over a new SQLite file in its own temp folder. */
async function openFresh(): Promise<{
  store: SqliteStore;
  path: string;
  cleanup: () => Promise<void>;
}> {
  const { path, cleanup } = tempDbPath();
  const store = new SqliteStore({ path });
  await store.migrate();
  return {
    store,
    path,
    cleanup: async () => {
      await store.close();
      cleanup();
    },
  };
}

describeStoreConformance(
  'sqlite',
  async () => {
    const { store, cleanup } = await openFresh();
    return { store, cleanup };
  },
  async () => {
    // Two connections to one file, as two processes on one host share it.
    const first = await openFresh();
    const second = new SqliteStore({ path: first.path });
    return {
      stores: [first.store, second],
      cleanup: async () => {
        await second.close();
        await first.cleanup();
      },
    };
  },
);

describe('SqliteStore specifics', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function fresh(): string {
    const { path, cleanup } = tempDbPath();
    cleanups.push(cleanup);
    return path;
  }

  function open(path: string): SqliteStore {
    const store = new SqliteStore({ path });
    cleanups.push(() => store.close());
    return store;
  }

  it('the pause migration rebuilds jobdeck_runs keeping every run with its items, logs and steps', async () => {
    const path = fresh();
    // A file as the release before pause left it: migrations up to 0011, with a run that has
    // children in every table that points at it.
    const dir = new URL('../src/store/sqlite/migrations/', import.meta.url);
    const before = new Database(path);
    before.pragma('foreign_keys = ON');
    before.exec(
      'CREATE TABLE jobdeck_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const name of MIGRATIONS.filter((m) => Number(m.slice(0, 4)) <= 11)) {
      before.exec(readFileSync(new URL(`${name}.sql`, dir), 'utf8'));
      before
        .prepare('INSERT INTO jobdeck_migrations VALUES (?, ?, 0)')
        .run(Number(name.slice(0, 4)), name.slice(5));
    }
    before.exec(`
      INSERT INTO jobdeck_runs (id, job, input, status, attempt, max_attempts, run_at, created_at,
        started_at, created_by, trigger, worker_id, lease_expires_at, retention_ms)
      VALUES ('r1', 'j', '{}', 'running', 1, 3, 0, 0, 0, 'alice', 'api', 'w', 99, 1000);
      INSERT INTO jobdeck_run_items (run_id, key, position, status) VALUES ('r1', 'a', 0, 'succeeded');
      INSERT INTO jobdeck_run_logs (run_id, seq, level, message, time) VALUES ('r1', 1, 'info', 'hi', 0);
      INSERT INTO jobdeck_run_steps (run_id, name, position, status, attempt, started_at)
      VALUES ('r1', 's', 0, 'running', 1, 0);
    `);
    before.close();

    const store = open(path);
    expect((await store.migrate()).applied).toEqual(
      MIGRATIONS.filter((m) => Number(m.slice(0, 4)) > 11),
    );
    const run = await store.runGet({ id: 'r1' });
    expect(run).toMatchObject({ status: 'running', items: [{ key: 'a', status: 'succeeded' }] });
    expect(await store.logList({ runId: 'r1' })).toHaveLength(1);
    expect(await store.stepList({ runId: 'r1' })).toHaveLength(1);
    expect((await store.runPause({ id: 'r1', requestedBy: 'bob', now: new Date(1) })).action).toBe(
      'request',
    );
    await store.close();

    const after = new Database(path);
    try {
      expect(after.pragma('foreign_key_check')).toEqual([]);
      // The children still point at the rebuilt table: deleting the run removes them.
      after.pragma('foreign_keys = ON');
      after.exec("UPDATE jobdeck_runs SET status = 'failed', finished_at = 1 WHERE id = 'r1'");
      after.exec("DELETE FROM jobdeck_runs WHERE id = 'r1'");
      for (const table of ['jobdeck_run_items', 'jobdeck_run_logs', 'jobdeck_run_steps'])
        expect(after.prepare(`SELECT count(*) AS n FROM ${table}`).get()).toEqual({ n: 0 });
    } finally {
      after.close();
    }
  });

  it('migrate() on a new file applies every migration, then nothing', async () => {
    const store = open(fresh());
    const first = await store.migrate();
    expect(first.applied).toEqual(MIGRATIONS);
    // Numbers may have gaps (work merged in another order): current is the highest.
    const current = Number(MIGRATIONS.at(-1)!.slice(0, 4));
    expect(first.current).toBe(current);
    expect(await store.migrate()).toEqual({ applied: [], current });
  });

  it('two instances migrating one new file at once apply each migration once', async () => {
    const path = fresh();
    const [a, b] = [open(path), open(path)];
    const reports = await Promise.all([a.migrate(), b.migrate()]);
    expect(reports.flatMap((r) => r.applied)).toEqual(MIGRATIONS);
    await expect(b.jobStateList()).resolves.toEqual([]);
  });

  it('runs survive closing and reopening the file', async () => {
    const path = fresh();
    const before = open(path);
    await before.migrate();
    const { run } = await before.runInsert({
      id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      job: 'email',
      input: { to: 'x' },
      priority: 0,
      runAt: new Date('2030-01-01T00:00:00Z'),
      maxAttempts: 1,
      createdBy: 'alice',
      trigger: 'api',
      idempotencyKey: null,
      expireAt: null,
      retentionMs: 1000,
      retryOf: null,
      now: new Date('2030-01-01T00:00:00Z'),
      exclusive: false,
    });
    await before.close();
    const after = open(path);
    expect((await after.migrate()).applied).toEqual([]);
    expect(await after.runGet({ id: run.id })).toEqual(run);
  });
});
