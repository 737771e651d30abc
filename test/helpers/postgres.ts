import pg from 'pg';
import { randomBytes } from 'node:crypto';
import {
  PostgresStore,
  type PostgresStoreOptions,
} from '../../src/store/postgres/postgres-store.js';

/** The PostgreSQL server tests use: JOBDECK_TEST_PG, else the CI machine's. */
export const PG_URL = process.env.JOBDECK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether PostgreSQL answers. In CI (`CI` set) an unreachable server fails the run loudly; locally
 * the PostgreSQL tests are skipped with a warning that says so.
 */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    if (process.env.CI) {
      throw new Error(
        `PostgreSQL at ${PG_URL} is unreachable and CI is set: ${(err as Error).message}`,
      );
    }
    console.warn(
      `\n!!! PostgreSQL at ${PG_URL} is unreachable: SKIPPING the PostgreSQL tests (set CI=1 to fail instead).\n`,
    );
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A schema name of its own for one test. */
export function freshSchema(): string {
  return `jdt_${randomBytes(6).toString('hex')}`;
}

/** A migrated PostgreSQL store in a schema of its own; `cleanup` drops the schema. */
export async function makePostgresStore(
  options: Partial<PostgresStoreOptions> = {},
): Promise<{ store: PostgresStore; schema: string; cleanup: () => Promise<void> }> {
  const schema = options.schema ?? freshSchema();
  const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 5, ...options });
  await store.migrate();
  return {
    store,
    schema,
    cleanup: async () => {
      await store.dropSchema().catch(() => {});
      await store.close();
    },
  };
}
