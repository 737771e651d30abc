/**
 * PostgreSQL keeps one plan for the claim of runs without a concurrency cap. Planned anew on
 * every call, as a parameter limit made it, the claim cost about a fifth more on the store's hot
 * path (docs/benchmarks.md, "What the event feed costs").
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { claimParams, insertRun } from '../src/store/conformance/fixture.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { makePostgresStore, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

const defer = cleanupAfterEach();

describe.skipIf(!reachable)('claim plan on PostgreSQL', () => {
  it('after its first calls the claim runs one kept (generic) plan, and still takes its limit', async () => {
    // One connection, so every claim runs in the session whose prepared statements are read.
    const { store, cleanup } = await makePostgresStore({ notify: false, poolSize: 1 });
    defer(cleanup);
    for (let i = 0; i < 40; i++) await insertRun(store);
    const taken = new Set<string>();
    for (let call = 0; call < 8; call++) {
      const claimed = await store.runClaim(claimParams({ limit: 4 }));
      expect(claimed).toHaveLength(4);
      for (const run of claimed) taken.add(run.id);
    }
    expect(taken.size).toBe(32);

    const { pool } = store as unknown as { pool: pg.Pool };
    const { rows } = await pool.query<{ name: string; generic: number; custom: number }>(
      `SELECT name, generic_plans::int AS generic, custom_plans::int AS custom
       FROM pg_prepared_statements WHERE name LIKE 'jobdeck_runClaim%'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.name).toBe('jobdeck_runClaimSimple_limit4');
    expect(rows[0]!.generic).toBeGreaterThan(0);
  });
});
