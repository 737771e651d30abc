import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { makePostgresStore, PG_URL, postgresReachable } from './helpers/postgres.js';
import { tempDbPath } from './helpers/temp.js';

// The schema the migrations produce, checked in: a migration that changes it shows in review.
// After an intended change: UPDATE_SNAPSHOTS=1 npx vitest run test/schema.snapshot.test.ts
const snapshot = (backend: string) =>
  new URL(`../src/store/${backend}/schema.snapshot.sql`, import.meta.url);

function compare(backend: string, actual: string): void {
  const file = snapshot(backend);
  if (process.env.UPDATE_SNAPSHOTS || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const reachable = await postgresReachable();

describe('schema snapshots', () => {
  it('sqlite', async () => {
    const { path, cleanup } = tempDbPath();
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    const db = new Database(path, { readonly: true });
    const rows = db
      .prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
      )
      .all() as { type: string; name: string; sql: string }[];
    db.close();
    cleanup();
    compare('sqlite', rows.map((r) => `-- ${r.type} ${r.name}\n${r.sql};\n`).join('\n'));
  });

  it.skipIf(!reachable)('postgres', async () => {
    const { schema, cleanup } = await makePostgresStore({ notify: false });
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const columns = await client.query<{ line: string }>(
        `SELECT table_name || '.' || column_name || ' ' || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END
           || coalesce(' default ' || column_default, '') || CASE WHEN is_generated = 'ALWAYS' THEN ' generated ' || generation_expression ELSE '' END AS line
         FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
        [schema],
      );
      const indexes = await client.query<{ line: string }>(
        `SELECT replace(indexdef, $1 || '.', '') AS line FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`,
        [schema],
      );
      const constraints = await client.query<{ line: string }>(
        `SELECT c.conrelid::regclass::text || ' ' || pg_get_constraintdef(c.oid) AS line
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1
         ORDER BY 1`,
        [schema],
      );
      const triggers = await client.query<{ line: string }>(
        `SELECT event_object_table || ' ' || trigger_name || ' ' || action_timing || ' ' || event_manipulation AS line
         FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY 1`,
        [schema],
      );
      const functions = await client.query<{ line: string }>(
        `SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') ' || pg_get_function_result(p.oid)
           || ' ' || CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS line
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1`,
        [schema],
      );
      const text = [columns, indexes, constraints, triggers, functions]
        .map((result) => result.rows.map((r) => r.line.replaceAll(`${schema}.`, '')).join('\n'))
        .join('\n\n');
      compare('postgres', `${text}\n`);
    } finally {
      await client.end();
      await cleanup();
    }
  });
});
