import { describe } from 'vitest';
import { describeStoreConformance } from '../src/store/conformance/index.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { PG_URL, freshSchema, makePostgresStore, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

describe.skipIf(!reachable)('PostgreSQL store', () => {
  describeStoreConformance(
    'postgres',
    async () => {
      const { store, cleanup } = await makePostgresStore({ notify: false });
      return { store, cleanup };
    },
    async () => {
      const schema = freshSchema();
      const a = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 5, notify: false });
      const b = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 5, notify: false });
      await Promise.all([a.migrate(), b.migrate()]);
      return {
        stores: [a, b],
        cleanup: async () => {
          await a.dropSchema();
          await Promise.all([a.close(), b.close()]);
        },
      };
    },
  );
});
