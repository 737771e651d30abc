import { readdirSync } from 'node:fs';
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
